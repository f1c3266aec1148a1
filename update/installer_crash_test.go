package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// lateInstaller lets the client made in CrashTest's setup install through
// the FileAB that run opens (and reopens, at every simulated restart) on
// the same crashing FS.
type lateInstaller struct {
	ab      *FileAB
	factory uint64
}

func (l *lateInstaller) Begin(ctx context.Context, r *Release) (Slot, error) {
	return l.ab.Begin(ctx, r)
}
func (l *lateInstaller) Install(ctx context.Context, v *Verified) error { return l.ab.Install(ctx, v) }
func (l *lateInstaller) InstalledCounter() uint64 {
	if l.ab == nil {
		return l.factory
	}
	return l.ab.InstalledCounter()
}

// crashDevice is one simulated device for a crash test.
type crashDevice struct {
	t       *testing.T
	e       *abEnv // repository, images, installer config
	fsys    *durable.CrashFS
	late    *lateInstaller
	c       *Client
	prior   bool // a first update (release 2 into slot b) was committed in setup
	maxBoot int
}

// crashAck is what run had been told before the power failed.
type crashAck struct {
	applied      bool // Apply returned nil: a trial is recorded
	commitCalled bool // Commit was about to be called
	committed    bool // Commit returned nil
	rollbackAsk  bool // Rollback was about to be called
	rolledBack   bool // Rollback returned nil, or Boot reported a rollback
}

func (d *crashDevice) cfg(fsys durable.FS) FileABConfig {
	cfg := d.e.config()
	cfg.FS = fsys
	cfg.MaxAttempts = d.maxBoot
	return cfg
}

// old and new: what is committed before run, and what run installs.
func (d *crashDevice) oldImage() (img []byte, counter uint64, slot string) {
	if d.prior {
		return d.e.img[2], 2, "b"
	}
	return d.e.factory, 1, "a"
}

func (d *crashDevice) newImage() (img []byte, counter uint64, slot string) {
	if d.prior {
		return d.e.img[3], 3, "a"
	}
	return d.e.img[2], 2, "b"
}

func (d *crashDevice) setup(fsys *durable.CrashFS) {
	t := d.t
	d.fsys = fsys
	writeFactory(t, fsys, d.e.factory)
	d.late = &lateInstaller{factory: 1}
	cfg := d.e.fx.config()
	cfg.FS = fsys
	cfg.Installer = d.late
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	d.c = c
	if d.prior {
		ab, err := NewFileAB(d.cfg(fsys))
		if err != nil {
			t.Fatal(err)
		}
		d.late.ab = ab
		r, err := c.Lookup(relPath(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := ab.Boot(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ab.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		ab.Close()
		d.late.ab = nil
	}
}

// restart closes the installer (if open) and opens it again, as the
// launcher does after a restart.
func (d *crashDevice) restart() error {
	if d.late.ab != nil {
		d.late.ab.Close()
	}
	ab, err := NewFileAB(d.cfg(d.fsys))
	if err != nil {
		return err
	}
	d.late.ab = ab
	return nil
}

// counterStays fails the test if the installed counter moved before commit.
func (d *crashDevice) counterStays(ack *crashAck) {
	d.t.Helper()
	_, old, _ := d.oldImage()
	if got := d.late.ab.InstalledCounter(); got != old && !ack.commitCalled {
		d.t.Fatalf("installed counter is %d before commit (was %d)", got, old)
	}
}

// install: Apply the new release, restart, boot it on trial.
func (d *crashDevice) installAndTrialBoot(ctx context.Context, ack *crashAck) (BootDecision, error) {
	if err := d.restart(); err != nil {
		return BootDecision{}, err
	}
	_, n, _ := d.newImage()
	r, err := d.c.Lookup(relPath(n))
	if err != nil {
		return BootDecision{}, err
	}
	if err := d.c.Apply(ctx, r); err != nil {
		return BootDecision{}, err
	}
	ack.applied = true
	d.counterStays(ack)
	if err := d.restart(); err != nil {
		return BootDecision{}, err
	}
	dec, err := d.late.ab.Boot(ctx)
	if err != nil {
		return dec, err
	}
	if !dec.Trial {
		return dec, fmt.Errorf("boot after install is not a trial boot: %+v", dec)
	}
	d.counterStays(ack)
	return dec, nil
}

var crashScenarios = []struct {
	name  string
	prior bool
	// run after the device is set up; the last Boot's decision is checked
	// against the scenario's end state.
	run func(ctx context.Context, d *crashDevice, ack *crashAck) error
	// commits: the scenario ends with the new release committed (else
	// rolled back and rejected).
	commits bool
}{
	{name: "install-boot-commit", commits: true, run: runCommit},
	{name: "second-update-overwrites-old-slot", prior: true, commits: true, run: runCommit},
	{name: "health-check-fails-rollback", run: func(ctx context.Context, d *crashDevice, ack *crashAck) error {
		if _, err := d.installAndTrialBoot(ctx, ack); err != nil {
			return err
		}
		ack.rollbackAsk = true
		if err := d.late.ab.Rollback(ctx, "health check failed"); err != nil {
			return err
		}
		ack.rolledBack = true
		return d.bootOld(ctx)
	}},
	{name: "reboot-loop-automatic-rollback", run: func(ctx context.Context, d *crashDevice, ack *crashAck) error {
		if _, err := d.installAndTrialBoot(ctx, ack); err != nil {
			return err
		}
		for {
			if err := d.restart(); err != nil {
				return err
			}
			dec, err := d.late.ab.Boot(ctx)
			if err != nil {
				return err
			}
			d.counterStays(ack)
			if dec.RolledBack != nil {
				ack.rolledBack = true
				return nil
			}
			if !dec.Trial {
				return fmt.Errorf("boot neither trial nor rollback: %+v", dec)
			}
		}
	}},
}

func runCommit(ctx context.Context, d *crashDevice, ack *crashAck) error {
	if _, err := d.installAndTrialBoot(ctx, ack); err != nil {
		return err
	}
	ack.commitCalled = true
	if err := d.late.ab.Commit(ctx); err != nil {
		return err
	}
	ack.committed = true
	if err := d.restart(); err != nil {
		return err
	}
	dec, err := d.late.ab.Boot(ctx)
	if err != nil {
		return err
	}
	if _, _, slot := d.newImage(); dec.Slot != slot || dec.Trial {
		return fmt.Errorf("boot after commit: %+v", dec)
	}
	return nil
}

func (d *crashDevice) bootOld(ctx context.Context) error {
	if err := d.restart(); err != nil {
		return err
	}
	dec, err := d.late.ab.Boot(ctx)
	if err != nil {
		return err
	}
	if _, _, slot := d.oldImage(); dec.Slot != slot || dec.Trial {
		return fmt.Errorf("boot after rollback: %+v", dec)
	}
	return nil
}

// TestFileABPowerLoss crashes install → restart → trial boot →
// commit/rollback at every write and fsync boundary (of the download, the
// installer's journal and the slot), in both crash modes, and checks after
// each crash that the device boots a complete image whose SHA-256 matches
// what was recorded for it — the old one or the new one, never a
// half-written slot; that the installed counter rose only if Commit had
// been called, and is never lost once Commit returned; that an
// acknowledged install is still on trial or was rolled back; and that the
// device then reaches the scenario's end state (the new release committed,
// or rolled back and refused).
func TestFileABPowerLoss(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newABEnv(t, nil)
			d := &crashDevice{t: t, e: e, prior: sc.prior, maxBoot: 2}
			var ack crashAck
			ctx := context.Background()
			n := durable.CrashTest(t,
				func(fsys *durable.CrashFS) {
					ack = crashAck{}
					d.setup(fsys)
				},
				func(fsys *durable.CrashFS) error { return sc.run(ctx, d, &ack) },
				func(after *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
					if point > 0 && !durable.IsCrash(runErr) {
						t.Fatalf("crash at %d (%s): run failed with a non-crash error: %v", point, mode, runErr)
					}
					d.checkAfterCrash(ctx, after, fmt.Sprintf("crash at %d (%s)", point, mode), ack, sc.commits)
				})
			t.Logf("%s: %d write/fsync boundaries, each crashed in both modes", sc.name, n)
		})
	}
}

func (d *crashDevice) checkAfterCrash(ctx context.Context, fsys *durable.CrashFS, where string, ack crashAck, commits bool) {
	t := d.t
	t.Helper()
	oldImg, oldN, oldSlot := d.oldImage()
	newImg, newN, newSlot := d.newImage()
	ab, err := NewFileAB(d.cfg(fsys))
	if err != nil {
		t.Fatalf("%s: installer does not open: %v", where, err)
	}
	defer ab.Close()
	dec, err := ab.Boot(ctx)
	if err != nil {
		t.Fatalf("%s: Boot: %v", where, err)
	}
	content, err := durable.ReadFile(fsys, dec.Path, 0)
	if err != nil {
		t.Fatalf("%s: slot %s unreadable: %v", where, dec.Slot, err)
	}
	sum := sha256.Sum256(content)
	if !bytes.Equal(sum[:], dec.Image.SHA256) || int64(len(content)) != dec.Image.Length {
		t.Fatalf("%s: slot %s does not match its recorded image (%d bytes)", where, dec.Slot, len(content))
	}
	switch {
	case dec.Slot == oldSlot && bytes.Equal(content, oldImg):
	case dec.Slot == newSlot && bytes.Equal(content, newImg):
	default:
		t.Fatalf("%s: boots slot %s holding neither the old nor the new image", where, dec.Slot)
	}
	counter := ab.InstalledCounter()
	switch counter {
	case oldN:
	case newN:
		if !ack.commitCalled {
			t.Fatalf("%s: counter rose to %d before Commit was called", where, counter)
		}
		if dec.Slot != newSlot || dec.Trial {
			t.Fatalf("%s: counter %d but the device boots %+v", where, counter, dec)
		}
	default:
		t.Fatalf("%s: counter %d", where, counter)
	}
	if ack.committed && counter != newN {
		t.Fatalf("%s: acknowledged commit lost (counter %d)", where, counter)
	}
	rel := d.release(fsys, ab)
	rejected := ab.Rejected(rel)
	if rejected && !ack.rollbackAsk && dec.RolledBack == nil && ab.Status().Phase != PhaseRolledBack {
		t.Fatalf("%s: release rejected without a rollback", where)
	}
	if rejected && commits {
		t.Fatalf("%s: a release that commits in this scenario was rejected", where)
	}
	if ack.rolledBack && (!rejected || counter != oldN || dec.Slot != oldSlot) {
		t.Fatalf("%s: acknowledged rollback lost: rejected %v, counter %d, boots %s", where, rejected, counter, dec.Slot)
	}
	if ack.applied && counter == oldN && !dec.Trial && !rejected {
		t.Fatalf("%s: acknowledged install lost: boots %+v", where, dec)
	}

	// The device carries on from here and reaches the scenario's end.
	if !dec.Trial && counter == oldN && !rejected {
		c := d.client(fsys, ab)
		if err := c.Apply(ctx, rel); err != nil {
			t.Fatalf("%s: Apply after the crash: %v", where, err)
		}
		if dec, err = ab.Boot(ctx); err != nil || !dec.Trial {
			t.Fatalf("%s: trial boot after the crash: %+v, %v", where, dec, err)
		}
	}
	if dec.Trial {
		if commits {
			err = ab.Commit(ctx)
		} else {
			err = ab.Rollback(ctx, "health check failed")
		}
		if err != nil {
			t.Fatalf("%s: finishing the trial: %v", where, err)
		}
	}
	dec, err = ab.Boot(ctx)
	if err != nil {
		t.Fatalf("%s: final boot: %v", where, err)
	}
	content, _ = durable.ReadFile(fsys, dec.Path, 0)
	if commits {
		if ab.InstalledCounter() != newN || dec.Slot != newSlot || !bytes.Equal(content, newImg) {
			t.Fatalf("%s: did not end with the new release committed: %+v", where, dec)
		}
	} else {
		if ab.InstalledCounter() != oldN || dec.Slot != oldSlot || !bytes.Equal(content, oldImg) || !ab.Rejected(rel) {
			t.Fatalf("%s: did not end rolled back: %+v", where, dec)
		}
		if err := d.client(fsys, ab).Apply(ctx, rel); !errors.Is(err, ErrRejected) {
			t.Fatalf("%s: the rolled-back release installs again: %v", where, err)
		}
	}
}

// client is a fresh client on the rebooted FS, installing through ab.
func (d *crashDevice) client(fsys durable.FS, ab *FileAB) *Client {
	cfg := d.e.fx.config()
	cfg.FS = fsys
	cfg.Installer = ab
	c, err := New(cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	return c
}

// release is the new release as a client on fsys sees it (without the
// counter check, which would refuse it once committed).
func (d *crashDevice) release(fsys durable.FS, ab *FileAB) *Release {
	cfg := d.e.fx.config()
	cfg.FS = fsys
	cfg.InstalledCounter = func() uint64 { return 0 }
	c, err := New(cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	_, n, _ := d.newImage()
	r, err := c.Lookup(relPath(n))
	if err != nil {
		d.t.Fatal(err)
	}
	return r
}
