package update_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

// TestChecksReleaseRepository: against a repository written by package
// release (what `baseline release` runs), the measured checks pass; its
// snapshot lists the hash of targets.json, and the targets probes are
// refused by it before the signature check, which is probed on its own.
func TestChecksReleaseRepository(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	res, err := releasetest.Build(ctx, dir, releasetest.Options{Targets: 3, ImageSize: 3*update.MinChunkSize + 1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	c, err := update.New(update.Config{TrustedRoot: res.TrustedRoot, RepositoryURL: srv.URL, HardwareID: "test-hw",
		FS: durable.NewCrashFS(), Dir: "s", HTTPClient: srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"update.trust-root": {"refused by the root-update step: a root v2 signed by a freshly generated key, the root in use (v1) replayed as the next root"},
		"update.verification": {
			"refused by the targets-update step (the snapshot's hash of targets.json)",
			"refused by the targets signature check: the same three",
			"random bytes as chunk 1 of 4 (4096 bytes) of release 0.3.0",
			"random bytes as chunk 4 of 4 (1 bytes) of release 0.3.0",
		},
	}
	for _, chk := range c.Checks() {
		if chk.Method != conformance.Measured {
			continue
		}
		r := chk.Run(ctx)
		t.Logf("%s (%s): %s: %s [%s]", chk.ID, chk.Method, r.Verdict, r.Observed, r.Detail)
		if r.Verdict != conformance.Pass {
			t.Errorf("%s: %s: %s", chk.ID, r.Verdict, r.Detail)
		}
		for _, s := range want[chk.ID] {
			if !strings.Contains(r.Observed, s) {
				t.Errorf("%s: %q not observed", chk.ID, s)
			}
		}
	}
}

// BenchmarkMeasuredChecks runs update.trust-root and update.verification
// after a refresh of a 3 MiB release in 1 MiB chunks (the default), so
// the chunk probe hashes two full chunks.
func BenchmarkMeasuredChecks(b *testing.B) {
	res, srv := benchRepo(b, 1, 3<<20)
	c := benchClient(b, res, srv, durable.NewCrashFS(), "s")
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	for _, chk := range c.Checks() {
		if chk.Method != conformance.Measured {
			continue
		}
		b.Run(strings.TrimPrefix(chk.ID, "update."), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := chk.Run(ctx); r.Verdict != conformance.Pass {
					b.Fatalf("%s: %s", r.Verdict, r.Detail)
				}
			}
		})
	}
}
