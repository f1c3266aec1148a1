package update_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

type memSlot struct{ bytes.Buffer }

func (s *memSlot) WriteAt(p []byte, off int64) (int, error) {
	if int(off) != s.Len() {
		return 0, errors.New("non-sequential write")
	}
	return s.Write(p)
}
func (s *memSlot) Sync() error { return nil }

// TestReleaseRepositoryAccepted: a repository written by package release
// (what `baseline release` runs) with ML-DSA co-signatures and a rotated
// targets key is accepted by the client, which installs the newest release.
func TestReleaseRepositoryAccepted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pub, priv, err := mldsa65.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	res, err := releasetest.Build(ctx, dir, releasetest.Options{Targets: 3, ImageSize: 3*update.MinChunkSize + 1, CoSigner: priv, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Repo.Rotate(ctx, release.Targets, []crypto.Signer{releasetest.Key(9, release.Targets)}, 1); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	c, err := update.New(update.Config{TrustedRoot: res.TrustedRoot, RepositoryURL: srv.URL, HardwareID: "test-hw",
		CoSignKey: pub, FS: durable.NewCrashFS(), Dir: "s", HTTPClient: srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := c.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rel == nil || rel.Path != res.Paths[2] {
		t.Fatalf("Check = %+v", rel)
	}
	slot := &memSlot{}
	if _, err := c.Download(ctx, rel, slot); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(slot.Bytes(), releasetest.Image(2, 3*update.MinChunkSize+1)) {
		t.Fatal("slot differs from the released image")
	}
}
