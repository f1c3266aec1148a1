package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

func flashImage(img []byte, version string, counter uint64) Image {
	sum := sha256.Sum256(img)
	return Image{Version: version, Counter: counter, Length: int64(len(img)), SHA256: sum[:]}
}

// TestFileABFlash: a device's first firmware, recorded by Flash on an
// empty journal, becomes the committed image that Boot names and VerifyBoot
// checks; a rebuild with the same counter replaces it; a lower counter, a
// rejected image, a trial in progress and bytes that do not match are
// refused with the state unchanged.
func TestFileABFlash(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	cfg := FileABConfig{FS: fsys, Dir: abDir, VerifyBoot: true}
	ab, err := NewFileAB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v1 := randomImage(t, 3*MinChunkSize+11)
	if err := ab.Flash(ctx, flashImage(v1, "1.0.0", 1), bytes.NewReader(v1)); err != nil {
		t.Fatal(err)
	}
	ab.Close()
	if ab, err = NewFileAB(cfg); err != nil { // the record survives a restart
		t.Fatal(err)
	}
	defer func() { ab.Close() }()
	d, err := ab.Boot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Trial || d.Image.Version != "1.0.0" || d.Image.Counter != 1 {
		t.Fatalf("boot after flash = %+v", d)
	}
	if b, _ := durable.ReadFile(fsys, d.Path, 0); !bytes.Equal(b, v1) {
		t.Fatal("the committed slot does not hold the flashed image")
	}
	if ab.InstalledCounter() != 1 {
		t.Fatalf("installed counter %d", ab.InstalledCounter())
	}

	// A rebuild of the same release (same counter): replaces it, in the
	// other slot.
	v1b := randomImage(t, 2*MinChunkSize)
	if err := ab.Flash(ctx, flashImage(v1b, "1.0.0", 1), bytes.NewReader(v1b)); err != nil {
		t.Fatal(err)
	}
	d2, err := ab.Boot(ctx)
	if err != nil || d2.Slot == d.Slot || !bytes.Equal(d2.Image.SHA256, flashImage(v1b, "", 0).SHA256) {
		t.Fatalf("boot after re-flash = %+v, %v", d2, err)
	}
	ops := fsys.Ops()
	if err := ab.Flash(ctx, flashImage(v1b, "1.0.0", 1), bytes.NewReader(v1b)); err != nil || fsys.Ops() != ops {
		t.Fatalf("flashing the committed image again: %v, %d writes", err, fsys.Ops()-ops)
	}

	refused := func(what string, im Image, content []byte, want error) {
		t.Helper()
		before := ab.Status()
		err := ab.Flash(ctx, im, bytes.NewReader(content))
		if !errors.Is(err, want) {
			t.Errorf("%s: Flash = %v; want %v", what, err, want)
		}
		after := ab.Status()
		if after.Slot != before.Slot || !bytes.Equal(after.Installed.SHA256, before.Installed.SHA256) || after.Installed.Counter != before.Installed.Counter {
			t.Errorf("%s: the committed image changed: %+v → %+v", what, before.Installed, after.Installed)
		}
		if before.Pending != nil {
			return // Boot would start the trial
		}
		if d, err := ab.Boot(ctx); err != nil || d.Slot != before.Slot {
			t.Errorf("%s: boot after the refusal = %+v, %v", what, d, err)
		}
	}
	old := randomImage(t, MinChunkSize)
	// Anti-rollback: a lower counter is refused (first raise it to 2).
	v2 := randomImage(t, MinChunkSize+5)
	if err := ab.Flash(ctx, flashImage(v2, "1.1.0", 2), bytes.NewReader(v2)); err != nil {
		t.Fatal(err)
	}
	refused("lower counter", flashImage(old, "0.9.0", 1), old, ErrRollback)
	bad := flashImage(old, "1.2.0", 3)
	refused("bytes not matching", bad, append(bytes.Clone(old), 'x'), ErrImageCorrupt)
	refused("no hash", Image{Version: "1.2.0", Counter: 3}, old, ErrConfig)

	// A release on trial blocks Flash; once it failed, its image can
	// never be flashed as committed either.
	v3 := randomImage(t, 3*MinChunkSize)
	r3 := testRelease(t, v3, 3)
	cycle(t, ab, r3, v3)
	refused("trial pending", flashImage(old, "1.2.0", 3), old, ErrTrialPending)
	if err := ab.Rollback(ctx, "health check failed"); err != nil {
		t.Fatal(err)
	}
	refused("rejected image", flashImage(v3, "3", 3), v3, ErrRejected)
}

// TestFileABFlashCrash: power lost at any write/fsync boundary of a Flash
// leaves either the previous committed image or the flashed one in force,
// and the committed slot always holds exactly its recorded image.
func TestFileABFlashCrash(t *testing.T) {
	ctx := context.Background()
	v1 := randomImage(t, 2*MinChunkSize+3)
	v2 := randomImage(t, 3*MinChunkSize+1)
	var acked bool
	cfg := func(fsys durable.FS) FileABConfig { return FileABConfig{FS: fsys, Dir: abDir, VerifyBoot: true} }
	setup := func(fsys *durable.CrashFS) {
		ab, err := NewFileAB(cfg(fsys))
		if err != nil {
			t.Fatal(err)
		}
		defer ab.Close()
		if err := ab.Flash(ctx, flashImage(v1, "1.0.0", 1), bytes.NewReader(v1)); err != nil {
			t.Fatal(err)
		}
		// A second image in the other slot, so the flash must empty it first.
		if err := ab.Flash(ctx, flashImage(v2, "1.0.0", 1), bytes.NewReader(v2)); err != nil {
			t.Fatal(err)
		}
	}
	v3 := randomImage(t, MinChunkSize+9)
	run := func(fsys *durable.CrashFS) error {
		acked = false
		ab, err := NewFileAB(cfg(fsys))
		if err != nil {
			return err
		}
		defer ab.Close()
		if err := ab.Flash(ctx, flashImage(v3, "1.1.0", 2), bytes.NewReader(v3)); err != nil {
			return err
		}
		acked = true
		return nil
	}
	n := durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		ab, err := NewFileAB(cfg(fsys))
		if err != nil {
			t.Fatalf("crash at %d (%v): reopen: %v", point, mode, err)
		}
		defer ab.Close()
		d, err := ab.Boot(ctx)
		if err != nil {
			t.Fatalf("crash at %d (%v): boot: %v", point, mode, err)
		}
		want := v2
		if d.Image.Counter == 2 {
			want = v3
		} else if acked {
			t.Fatalf("crash at %d (%v): an acknowledged flash was lost", point, mode)
		}
		if b, _ := durable.ReadFile(fsys, d.Path, 0); !bytes.Equal(b, want) {
			t.Fatalf("crash at %d (%v): slot %s does not hold the image recorded for it", point, mode, d.Slot)
		}
	})
	if n < 4 {
		t.Fatalf("only %d boundaries", n)
	}
}
