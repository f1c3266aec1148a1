package release_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/iotbaseline/baseline/update/release/releasetest"
)

// TestGoTUFUpdaterAcceptsRepository checks interoperability with the
// reference Go implementation: go-tuf's own updater refreshes a repository
// written by this package (consistent snapshots, metadata under /metadata/)
// and downloads a target by its plain name (PrefixTargetsWithHash false:
// go-tuf picks whichever hash a map iteration yields first, and only the
// SHA-256-prefixed name is written).
func TestGoTUFUpdaterAcceptsRepository(t *testing.T) {
	dir := t.TempDir()
	r, err := releasetest.Build(context.Background(), dir, releasetest.Options{Targets: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	cfg, err := config.New(srv.URL+"/metadata", r.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RemoteTargetsURL = srv.URL + "/targets"
	cfg.PrefixTargetsWithHash = false
	cfg.LocalMetadataDir = filepath.Join(t.TempDir(), "metadata")
	cfg.LocalTargetsDir = filepath.Join(t.TempDir(), "targets")
	if err := cfg.EnsurePathsExist(); err != nil {
		t.Fatal(err)
	}
	up, err := updater.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Refresh(); err != nil {
		t.Fatalf("go-tuf Refresh: %v", err)
	}
	tf, err := up.GetTargetInfo(r.Paths[2])
	if err != nil {
		t.Fatal(err)
	}
	_, data, err := up.DownloadTarget(tf, filepath.Join(t.TempDir(), "fw.bin"), "")
	if err != nil {
		t.Fatalf("go-tuf DownloadTarget: %v", err)
	}
	if !bytes.Equal(data, releasetest.Image(2, 4096)) {
		t.Fatal("downloaded image differs")
	}
}
