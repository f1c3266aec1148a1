package release_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

// BenchmarkAddTargets1000 builds a 1,000-target repository (Init plus one
// AddTargets call) on the real file system, with every fsync.
func BenchmarkAddTargets1000(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		if _, err := releasetest.Build(context.Background(), dir, releasetest.Options{Targets: 1000}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddTargets1000Mem is the same on the in-memory FS: the cost of
// hashing, descriptors and signing without the disk.
func BenchmarkAddTargets1000Mem(b *testing.B) {
	for b.Loop() {
		fsys := durable.NewCrashFS()
		fsys.MkdirAll("repo", 0o755)
		if _, err := releasetest.Build(context.Background(), "repo", releasetest.Options{Targets: 1000, FS: fsys}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResignTimestamp is the daily cron job's work.
func BenchmarkResignTimestamp(b *testing.B) {
	dir := b.TempDir()
	r, err := releasetest.Build(context.Background(), dir, releasetest.Options{Targets: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := r.Repo.Resign(context.Background(), release.Timestamp); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBuild1000TargetsClientAccepts(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2,000 files")
	}
	fsys := durable.NewCrashFS()
	fsys.MkdirAll("repo", 0o755)
	r, err := releasetest.Build(context.Background(), "repo", releasetest.Options{Targets: 1000, FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := client(t, fsys, "repo", r.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	got := tm.Targets["targets"].Signed.Targets
	if len(got) != 1000 {
		t.Fatalf("%d targets", len(got))
	}
	tf := got[r.Paths[999]]
	tf.Path = r.Paths[999]
	if !bytes.Equal(fetchTarget(t, fsys, "repo", tf), releasetest.Image(999, 4096)) {
		t.Fatal("image content differs")
	}
}

// zeroReader yields n zero bytes without holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// BenchmarkAddTarget64MiB publishes one 64 MiB image: B/op shows the image
// is streamed (about one chunk buffer plus copy buffers, not 64 MiB).
func BenchmarkAddTarget64MiB(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	r, err := releasetest.Build(context.Background(), dir, releasetest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		i++
		err := r.Repo.AddTarget(context.Background(), release.Target{
			Path:  fmt.Sprintf("big/%d.bin", i),
			Image: &zeroReader{n: size},
			Descriptor: update.Descriptor{HardwareID: "big-hw", ReleaseCounter: uint64(i), Version: "1",
				ChunkSize: release.DefaultChunkSize},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
