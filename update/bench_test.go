package update_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

func benchRepo(b *testing.B, targets, size int) (*releasetest.Result, *httptest.Server) {
	dir := b.TempDir()
	res, err := releasetest.Build(context.Background(), dir, releasetest.Options{Targets: targets, ImageSize: size, ChunkSize: update.DefaultChunkSize})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	b.Cleanup(srv.Close)
	return res, srv
}

func benchClient(b *testing.B, res *releasetest.Result, srv *httptest.Server, fsys durable.FS, dir string) *update.Client {
	c, err := update.New(update.Config{TrustedRoot: res.TrustedRoot, RepositoryURL: srv.URL, HardwareID: "test-hw",
		FS: fsys, Dir: dir, HTTPClient: srv.Client(), Now: func() time.Time { return time.Now() }})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkRefresh100 measures a fresh client's first refresh of a
// 100-target repository (in-memory FS, loopback HTTP).
func BenchmarkRefresh100(b *testing.B) {
	res, srv := benchRepo(b, 100, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c := benchClient(b, res, srv, durable.NewCrashFS(), "s")
		if err := c.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// discardSlot accepts writes and keeps nothing, so the benchmark shows the
// client's own cost and allocations.
type discardSlot struct{}

func (discardSlot) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
func (discardSlot) Sync() error                              { return nil }

// BenchmarkDownload8MiB measures Download of an 8 MiB image (1 MiB chunks,
// journal in memory) into a slot that discards.
func BenchmarkDownload8MiB(b *testing.B) {
	res, srv := benchRepo(b, 1, 8<<20)
	c := benchClient(b, res, srv, durable.NewCrashFS(), "s")
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	rel, err := c.Lookup(res.Paths[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rel.Length)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Download(ctx, rel, discardSlot{}); err != nil {
			b.Fatal(err)
		}
	}
}
