package update

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// syncFS counts fsyncs (File.Sync and SyncDir) on the way to another FS.
type syncFS struct {
	durable.FS
	syncs atomic.Int64
}

func (c *syncFS) OpenFile(name string, flag int, perm fs.FileMode) (durable.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return syncFile{File: f, c: c}, nil
}

func (c *syncFS) SyncDir(name string) error {
	c.syncs.Add(1)
	return c.FS.SyncDir(name)
}

type syncFile struct {
	durable.File
	c *syncFS
}

func (f syncFile) Sync() error {
	f.c.syncs.Add(1)
	return f.File.Sync()
}

// TestFileABSwitchCommitFsyncs measures the fsyncs of switching slots and
// committing: Install (the switch), the trial Boot that counts the attempt,
// and Commit, for a first update (into an empty slot b) and a second one
// (into slot a, over a longer factory image). The budget is 3 for
// switch plus commit; here the trial boot's count is inside the 3 as well.
// A boot of the committed slot costs none.
func TestFileABSwitchCommitFsyncs(t *testing.T) {
	for _, name := range []string{"os", "crashfs"} {
		t.Run(name, func(t *testing.T) {
			var base durable.FS = durable.OS
			dir := t.TempDir()
			if name == "crashfs" {
				base, dir = durable.NewCrashFS(), abDir
			}
			fsys := &syncFS{FS: base}
			if err := fsys.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := durable.WriteFile(fsys, filepath.Join(dir, "slot-a"), randomImage(t, 5*MinChunkSize), 0o600); err != nil {
				t.Fatal(err)
			}
			ab, err := NewFileAB(FileABConfig{FS: fsys, Dir: dir, Factory: Image{Counter: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer ab.Close()
			ctx := context.Background()
			img := randomImage(t, 2*MinChunkSize)
			for n := uint64(2); n <= 3; n++ {
				r := testRelease(t, img, n)
				slot, err := ab.Begin(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				slot.WriteAt(img, 0)
				slot.Sync()
				v := &Verified{release: r.clone(), slot: slot, sealed: true}

				step := func(what string, fn func() error) int64 {
					before := fsys.syncs.Load()
					if err := fn(); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					return fsys.syncs.Load() - before
				}
				install := step("install", func() error { return ab.Install(ctx, v) })
				boot := step("trial boot", func() error { _, err := ab.Boot(ctx); return err })
				commit := step("commit", func() error { return ab.Commit(ctx) })
				idle := step("committed boot", func() error { _, err := ab.Boot(ctx); return err })
				t.Logf("update %d (slot %s): fsyncs: switch (Install) %d, trial boot %d, commit %d; committed boot %d", n-1, ab.Status().Slot, install, boot, commit, idle)
				if install != 1 || boot != 1 || commit != 1 || idle != 0 {
					t.Fatalf("fsyncs: switch %d, trial boot %d, commit %d, committed boot %d; want 1, 1, 1, 0", install, boot, commit, idle)
				}
				if b, _ := durable.ReadFile(fsys, filepath.Join(dir, "slot-"+ab.Status().Slot), 0); !bytes.Equal(b, img) {
					t.Fatalf("committed slot holds %d bytes, not the image", len(b))
				}
			}
		})
	}
}

// BenchmarkFileABSwitchCommit times Install (read-back of a 64 KiB image
// through the verifier and the switch), the trial Boot and Commit on the
// real file system, and reports the fsyncs they cost.
func BenchmarkFileABSwitchCommit(b *testing.B) {
	fsys := &syncFS{FS: durable.OS}
	dir := b.TempDir()
	ab, err := NewFileAB(FileABConfig{FS: fsys, Dir: dir, Factory: Image{Counter: 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer ab.Close()
	ctx := context.Background()
	img := randomImage(b, 16*MinChunkSize)
	var syncs int64
	n := uint64(2)
	for range b.N {
		b.StopTimer()
		r := testRelease(b, img, n)
		n++
		slot, err := ab.Begin(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		slot.WriteAt(img, 0)
		slot.Sync()
		v := &Verified{release: r.clone(), slot: slot, sealed: true}
		before := fsys.syncs.Load()
		b.StartTimer()
		if err := ab.Install(ctx, v); err != nil {
			b.Fatal(err)
		}
		if _, err := ab.Boot(ctx); err != nil {
			b.Fatal(err)
		}
		if err := ab.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		syncs += fsys.syncs.Load() - before
	}
	b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/op")
}
