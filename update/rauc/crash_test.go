package rauc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/rauc"
)

// fakeRAUC models rauc and its bootloader for the power-loss tests, where
// the adapter's files live in a durable.CrashFS that the real rauc cannot
// read. Its state stands for the bootloader's own storage: it survives the
// adapter's power loss as it was (each command is atomic here).
type fakeRAUC struct {
	fs      *durable.CrashFS // the adapter's file system, for reading bundles
	want    [][]byte         // the only bundles that may reach rauc
	booted  int              // slot index 0 (A) or 1 (B)
	primary int
	good    [2]bool
	holds   [2][]byte // what each slot was written from
	// installs counts bundles rauc wrote; bad lists what must never
	// happen (an unverified bundle handed to rauc, a command not known).
	installs int
	bad      []string
	// failInstall makes the next install stop half-way, as power loss
	// inside rauc would: the target is marked bad, the boot order kept.
	failInstall bool
	// crash, with failInstall, also cuts the adapter's power there.
	crash bool
}

var slotNames = [2]string{"rootfs.0", "rootfs.1"}

func newFake() *fakeRAUC { return &fakeRAUC{good: [2]bool{true, true}} }

func (f *fakeRAUC) slot(arg string) (int, bool) {
	switch arg {
	case "booted":
		return f.booted, true
	case "other":
		return 1 - f.booted, true
	}
	i := slices.Index(slotNames[:], arg)
	return i, i >= 0
}

func (f *fakeRAUC) run(_ context.Context, args ...string) ([]byte, error) {
	fail := func() ([]byte, error) {
		return nil, &rauc.CommandError{Command: args, ExitCode: 1, Err: errors.New("fake")}
	}
	switch {
	case len(args) == 2 && args[0] == "status" && args[1] == "--output-format=json":
		var b strings.Builder
		fmt.Fprintf(&b, `{"compatible":"baseline-test","variant":"","booted":%q,"boot_primary":%q,"slots":[`, "AB"[f.booted:f.booted+1], slotNames[f.primary])
		for i, name := range slotNames {
			st, bs := "inactive", "bad"
			if i == f.booted {
				st = "booted"
			}
			if f.good[i] {
				bs = "good"
			}
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{%q:{"class":"rootfs","device":"/dev/slot%d","type":"raw","bootname":%q,"state":%q,"boot_status":%q}}`, name, i, "AB"[i:i+1], st, bs)
		}
		b.WriteString("]}")
		return []byte(b.String()), nil
	case len(args) == 2 && args[0] == "install":
		got, err := durable.ReadFile(f.fs, args[1], 0)
		if err != nil || !slices.ContainsFunc(f.want, func(w []byte) bool { return bytes.Equal(got, w) }) {
			f.bad = append(f.bad, fmt.Sprintf("rauc was handed %s holding %d bytes that are not the verified bundle (%v)", args[1], len(got), err))
			return fail()
		}
		t := 1 - f.booted
		f.good[t] = false // rauc marks the target bad before writing it
		if f.failInstall {
			f.failInstall = false
			if f.crash {
				f.fs.CrashAt(1)
			}
			return fail()
		}
		f.holds[t] = got
		f.installs++
		f.primary, f.good[t] = t, true
		return nil, nil
	case len(args) == 3 && args[0] == "status":
		i, ok := f.slot(args[2])
		if !ok {
			break
		}
		switch args[1] {
		case "mark-good":
			f.good[i] = true
			return nil, nil
		case "mark-bad":
			f.good[i] = false
			return nil, nil
		case "mark-active":
			f.primary, f.good[i] = i, true
			return nil, nil
		}
	}
	f.bad = append(f.bad, fmt.Sprintf("unexpected rauc command %q", args))
	return fail()
}

// reboot starts the primary slot, or the other one when the primary is
// marked bad (the bootloader's fallback).
func (f *fakeRAUC) reboot() {
	f.booted = f.primary
	if !f.good[f.booted] {
		f.booted = 1 - f.booted
		f.primary = f.booted
	}
}

const (
	crashDir  = "/data/rauc"
	clientDir = "/data/client"
)

func openFake(t *testing.T, fsys *durable.CrashFS, f *fakeRAUC) (*rauc.System, error) {
	t.Helper()
	f.fs = fsys
	return rauc.NewWithRunner(rauc.Config{Dir: crashDir}, fsys, f.run)
}

// TestCrashInstallAndRollback cuts power at every write/fsync boundary of
// the adapter's files from Begin through the download into the staging
// file, Install's records around `rauc install`, the reboot into the new
// slot and Rollback's record of the rejected release, in both crash modes.
// After each crash the adapter must reopen (its state file never corrupt),
// hold no staged bundle, and have handed rauc nothing but the verified
// bundle; and finishing the story from there (reboot, health check fails
// again, Rollback) must end with the release rejected whenever rauc wrote
// it, or with it installable again when rauc never did (and, when a
// staged download survived, resuming it). The second case rolls back
// before the restart (the release never booted); the third starts with
// an interrupted download of an older release in the staging file, which
// must install correctly afterwards (never resumed over what the newer
// release's Begin emptied).
func TestCrashInstallAndRollback(t *testing.T) {
	t.Run("on-trial", func(t *testing.T) { crashInstallAndRollback(t, true, false) })
	t.Run("before-restart", func(t *testing.T) { crashInstallAndRollback(t, false, false) })
	t.Run("over-other-staging", func(t *testing.T) { crashInstallAndRollback(t, true, true) })
}

// failingSlot fails writes past limit bytes, to interrupt a download.
type failingSlot struct {
	update.Slot
	limit int64
}

func (s failingSlot) SlotID() string { return s.Slot.(update.SlotIdentifier).SlotID() }

func (s failingSlot) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.limit {
		return 0, errors.New("interrupted")
	}
	return s.Slot.WriteAt(p, off)
}

func crashInstallAndRollback(t *testing.T, restart, other bool) {
	bundle := make([]byte, 5*update.MinChunkSize+123)
	rand.Read(bundle)
	older := make([]byte, 4*update.MinChunkSize+5)
	rand.Read(older)
	repo := newRepo(t)
	var rel, rel7 *update.Release
	check := func() *update.Release {
		sys, err := rauc.NewWithRunner(rauc.Config{Dir: crashDir}, durable.NewCrashFS(), newFake().run)
		must(t, err)
		r, err := repo.client(sys).Check(context.Background())
		if err != nil || r == nil {
			t.Fatalf("check: %v %v", r, err)
		}
		return r
	}
	if other {
		repo.add("rootfs-1.3.0.raucb", older, 7)
		rel7 = check()
	}
	repo.add("rootfs-1.4.0.raucb", bundle, 8)
	rel = check()

	var fake *fakeRAUC
	var rolledBack bool // Rollback returned nil: the rejection was acknowledged
	resumed := 0
	ctx := context.Background()
	points := durable.CrashTest(t, func(fsys *durable.CrashFS) {
		fake = newFake()
		fake.want = [][]byte{bundle, older}
		rolledBack = false
		if !other {
			return
		}
		// A download of the older release, interrupted after two chunks.
		sys, err := openFake(t, fsys, fake)
		must(t, err)
		c := repo.clientOn(sys, fsys, clientDir)
		_, err = c.Check(ctx)
		must(t, err)
		slot, err := sys.Begin(ctx, rel7)
		must(t, err)
		if _, err := c.Download(ctx, rel7, failingSlot{slot, 2 * update.MinChunkSize}); err == nil {
			t.Fatal("interrupted download succeeded")
		}
	}, func(fsys *durable.CrashFS) error {
		sys, err := openFake(t, fsys, fake)
		if err != nil {
			return err
		}
		c := repo.clientOn(sys, fsys, clientDir)
		if _, err := c.Check(ctx); err != nil {
			return err
		}
		if err := c.Apply(ctx, rel); err != nil {
			return err
		}
		if restart {
			fake.reboot()
			if sys, err = openFake(t, fsys, fake); err != nil {
				return err
			}
		}
		if err := sys.Rollback(ctx, "health check failed"); err != nil {
			return err
		}
		rolledBack = true
		fake.reboot()
		return nil
	}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		where := fmt.Sprintf("crash at %d (%v), run error %v", point, mode, runErr)
		if runErr != nil && !durable.IsCrash(runErr) {
			t.Fatalf("%s: not a crash", where)
		}
		if len(fake.bad) > 0 {
			t.Fatalf("%s: %s", where, strings.Join(fake.bad, "; "))
		}
		sys, err := openFake(t, fsys, fake)
		if err != nil {
			t.Fatalf("%s: adapter does not reopen: %v", where, err)
		}
		staged := slices.Contains(fsys.Files(), crashDir+"/bundle.raucb")
		if rolledBack && !sys.Rejected(rel) {
			t.Fatalf("%s: acknowledged rejection lost", where)
		}
		// Finish the story: the device restarts (power came back); while
		// the new release runs, its health check fails again.
		fake.reboot()
		if sys, err = openFake(t, fsys, fake); err != nil {
			t.Fatal(err)
		}
		if _, err := sys.Reconcile(ctx); err != nil {
			t.Fatalf("%s: Reconcile: %v", where, err)
		}
		if fake.booted == 1 {
			if err := sys.Rollback(ctx, "health check failed again"); err != nil {
				t.Fatalf("%s: Rollback: %v", where, err)
			}
			fake.reboot()
			if sys, err = openFake(t, fsys, fake); err != nil {
				t.Fatal(err)
			}
		}
		if fake.booted != 0 || !fake.good[0] {
			t.Fatalf("%s: device runs slot %d (A good %v)", where, fake.booted, fake.good[0])
		}
		if fake.installs > 0 {
			if !sys.Rejected(rel) {
				t.Fatalf("%s: rauc installed the release, it failed, and it is not remembered", where)
			}
			if _, err := sys.Begin(ctx, rel); !errors.Is(err, update.ErrRejected) {
				t.Fatalf("%s: Begin of the rejected release: %v", where, err)
			}
			if other {
				// The older release still installs, whole.
				c := repo.clientOn(sys, fsys, clientDir)
				if _, err := c.Check(ctx); err != nil {
					t.Fatal(err)
				}
				if err := c.Apply(ctx, rel7); err != nil || !bytes.Equal(fake.holds[1], older) || len(fake.bad) > 0 {
					t.Fatalf("%s: older release after the crash: %v, %v", where, err, fake.bad)
				}
			}
			return
		}
		// rauc never wrote it: it must install now.
		if sys.Rejected(rel) {
			t.Fatalf("%s: rejected although rauc never installed it", where)
		}
		c := repo.clientOn(sys, fsys, clientDir)
		if _, err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
		target, content := rel, bundle
		if other {
			// The older release, whose download the newer one's Begin
			// may have cut short, must install whole.
			target, content = rel7, older
		}
		before := repo.served.Load()
		if err := c.Apply(ctx, target); err != nil || fake.installs != 1 || !bytes.Equal(fake.holds[1], content) || len(fake.bad) > 0 {
			t.Fatalf("%s: install after the crash: %v (installs %d, %v)", where, err, fake.installs, fake.bad)
		}
		if got := repo.served.Load() - before; got < int64(len(content)) {
			resumed++
			if !staged {
				t.Fatalf("%s: resumed (%d bytes fetched) without a staged file", where, got)
			}
		}
	})
	if resumed == 0 {
		t.Fatal("no crash point left a download to resume")
	}
	t.Logf("%d crash points resumed the download", resumed)
	t.Logf("%d write/fsync boundaries, each crashed in 2 modes", points)
}

// TestCrashReconcileFallback cuts power at every boundary of Reconcile's
// record of a release the bootloader gave up on: after each crash, the
// next start's Reconcile records it (or it already is), never both lost.
func TestCrashReconcileFallback(t *testing.T) {
	bundle := make([]byte, 2*update.MinChunkSize)
	rand.Read(bundle)
	repo := newRepo(t)
	repo.add("rootfs-1.4.0.raucb", bundle, 8)
	ctx := context.Background()
	var fake *fakeRAUC
	var rel *update.Release
	var acked bool
	points := durable.CrashTest(t, func(fsys *durable.CrashFS) {
		fake, acked = newFake(), false
		fake.want = [][]byte{bundle}
		sys, err := openFake(t, fsys, fake)
		must(t, err)
		c := repo.client(sys)
		if rel, err = c.Check(ctx); err != nil || rel == nil {
			t.Fatalf("check: %v %v", rel, err)
		}
		must(t, c.Apply(ctx, rel))
		fake.reboot() // the trial boot, which hangs
		fake.good[1] = false
		fake.reboot() // the bootloader falls back to A
	}, func(fsys *durable.CrashFS) error {
		sys, err := openFake(t, fsys, fake)
		if err != nil {
			return err
		}
		rj, err := sys.Reconcile(ctx)
		if err != nil {
			return err
		}
		if rj == nil || !rj.Automatic {
			t.Fatalf("Reconcile: %+v", rj)
		}
		acked = true
		return nil
	}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		where := fmt.Sprintf("crash at %d (%v), run error %v", point, mode, runErr)
		sys, err := openFake(t, fsys, fake)
		if err != nil {
			t.Fatalf("%s: adapter does not reopen: %v", where, err)
		}
		if acked && !sys.Rejected(rel) {
			t.Fatalf("%s: acknowledged rejection lost", where)
		}
		if _, err := sys.Reconcile(ctx); err != nil || !sys.Rejected(rel) {
			t.Fatalf("%s: after the next Reconcile: rejected %v, %v", where, sys.Rejected(rel), err)
		}
	})
	if points == 0 {
		t.Fatal("Reconcile wrote nothing")
	}
}

// TestCrashCommit cuts power at every write/fsync boundary of Commit's
// record of the committed release (its counter becomes the anti-rollback
// floor). After each crash the device boots the new slot; the health check
// passes again and Commit runs again: then the counter is recorded, the
// slot is left alone by Rollback, and the release is not offered again.
// A Commit that returned nil is never lost.
func TestCrashCommit(t *testing.T) {
	bundle := make([]byte, 3*update.MinChunkSize+7)
	rand.Read(bundle)
	repo := newRepo(t)
	repo.add("rootfs-1.4.0.raucb", bundle, 8)
	var rel *update.Release
	{
		sys, err := rauc.NewWithRunner(rauc.Config{Dir: crashDir}, durable.NewCrashFS(), newFake().run)
		must(t, err)
		if rel, err = repo.client(sys).Check(context.Background()); err != nil || rel == nil {
			t.Fatalf("check: %v %v", rel, err)
		}
	}
	ctx := context.Background()
	var fake *fakeRAUC
	var committed bool
	points := durable.CrashTest(t, func(fsys *durable.CrashFS) {
		fake = newFake()
		fake.want = [][]byte{bundle}
		committed = false
		sys, err := openFake(t, fsys, fake)
		must(t, err)
		c := repo.clientOn(sys, fsys, clientDir)
		_, err = c.Check(ctx)
		must(t, err)
		must(t, c.Apply(ctx, rel))
		fake.reboot() // into the new slot, on trial
	}, func(fsys *durable.CrashFS) error {
		sys, err := openFake(t, fsys, fake)
		if err != nil {
			return err
		}
		if err := sys.Commit(ctx); err != nil {
			return err
		}
		committed = true
		return nil
	}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		where := fmt.Sprintf("crash at %d (%v), run error %v", point, mode, runErr)
		if runErr != nil && !durable.IsCrash(runErr) {
			t.Fatalf("%s: not a crash", where)
		}
		sys, err := openFake(t, fsys, fake)
		if err != nil {
			t.Fatalf("%s: adapter does not reopen: %v", where, err)
		}
		if committed && sys.InstalledCounter() != 8 {
			t.Fatalf("%s: acknowledged commit lost (counter %d)", where, sys.InstalledCounter())
		}
		fake.reboot()
		if fake.booted != 1 || !fake.good[1] {
			t.Fatalf("%s: device runs slot %d (B good %v)", where, fake.booted, fake.good[1])
		}
		if sys, err = openFake(t, fsys, fake); err != nil {
			t.Fatal(err)
		}
		if _, err := sys.Reconcile(ctx); err != nil {
			t.Fatalf("%s: Reconcile: %v", where, err)
		}
		if err := sys.Commit(ctx); err != nil {
			t.Fatalf("%s: Commit after the crash: %v", where, err)
		}
		if sys.InstalledCounter() != 8 || sys.Rejected(rel) {
			t.Fatalf("%s: counter %d, rejected %v after the second Commit", where, sys.InstalledCounter(), sys.Rejected(rel))
		}
		if err := sys.Rollback(ctx, "late"); !errors.Is(err, update.ErrNoTrial) || fake.booted != 1 || fake.primary != 1 || !fake.good[1] {
			t.Fatalf("%s: Rollback of the committed slot: %v", where, err)
		}
		if _, err := sys.Begin(ctx, rel); !errors.Is(err, update.ErrRollback) {
			t.Fatalf("%s: Begin of the committed release: %v", where, err)
		}
		if len(fake.bad) > 0 {
			t.Fatalf("%s: %s", where, strings.Join(fake.bad, "; "))
		}
	})
	t.Logf("%d write/fsync boundaries, each crashed in 2 modes", points)
}

// TestCommitAfterManualSwitchBack: the installed release's slot is
// switched back by hand before it ever runs. The old image's health check
// passes and it calls Commit: that must not raise the anti-rollback floor
// to the release that never ran, nor report it committed; the release can
// be installed again.
func TestCommitAfterManualSwitchBack(t *testing.T) {
	bundle := make([]byte, 3*update.MinChunkSize+7)
	rand.Read(bundle)
	repo := newRepo(t)
	repo.add("rootfs-1.4.0.raucb", bundle, 8)
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	fake := newFake()
	fake.want = [][]byte{bundle}
	sys, err := openFake(t, fsys, fake)
	must(t, err)
	c := repo.clientOn(sys, fsys, clientDir)
	rel, err := c.Check(ctx)
	must(t, err)
	must(t, c.Apply(ctx, rel))
	_, err = fake.run(ctx, "status", "mark-active", "booted") // by hand
	must(t, err)
	fake.reboot()
	events := make(chan update.Event, 8)
	sys, err = rauc.NewWithRunner(rauc.Config{Dir: crashDir, Notify: events}, fsys, fake.run)
	must(t, err)
	if _, err := sys.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, sys.Commit(ctx))
	if n := sys.InstalledCounter(); n != 0 {
		t.Fatalf("floor %d after committing the old image, want 0", n)
	}
	if len(events) != 0 {
		t.Fatalf("event %#v for a release that never ran", <-events)
	}
	if sys.Rejected(rel) {
		t.Fatal("the release that never ran is rejected")
	}
	must(t, c.Apply(ctx, rel))
	if fake.installs != 2 || fake.primary != 1 {
		t.Fatalf("reinstall: installs %d, primary %d", fake.installs, fake.primary)
	}
}

// TestRollbackThenReconcileKeepsCommittedSlot: R8 is committed in B; R9
// fails its trial in A and is rolled back; something reconciles before the
// restart. Back in B, a later Rollback must not abandon the committed
// slot, and in no case may the device boot the rejected R9 again.
func TestRollbackThenReconcileKeepsCommittedSlot(t *testing.T) {
	b8 := make([]byte, 3*update.MinChunkSize+7)
	b9 := make([]byte, 3*update.MinChunkSize+9)
	rand.Read(b8)
	rand.Read(b9)
	repo := newRepo(t)
	repo.add("r8.raucb", b8, 8)
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	fake := newFake()
	fake.want = [][]byte{b8, b9}
	sys, err := openFake(t, fsys, fake)
	must(t, err)
	c := repo.clientOn(sys, fsys, clientDir)
	rel, err := c.Check(ctx)
	must(t, err)
	must(t, c.Apply(ctx, rel))
	fake.reboot()
	sys, err = openFake(t, fsys, fake)
	must(t, err)
	must(t, sys.Commit(ctx))
	repo.add("r9.raucb", b9, 9)
	c = repo.clientOn(sys, fsys, clientDir)
	rel9, err := c.Check(ctx)
	must(t, err)
	must(t, c.Apply(ctx, rel9))
	fake.reboot()
	sys, err = openFake(t, fsys, fake)
	must(t, err)
	must(t, sys.Rollback(ctx, "health check failed"))
	_, err = sys.Reconcile(ctx) // before the restart
	must(t, err)
	fake.reboot()
	sys, err = openFake(t, fsys, fake)
	must(t, err)
	_, err = sys.Reconcile(ctx)
	must(t, err)
	if fake.booted != 1 {
		t.Fatalf("back on slot %d, want B", fake.booted)
	}
	if err := sys.Rollback(ctx, "late"); !errors.Is(err, update.ErrNoTrial) || !strings.Contains(err.Error(), "committed here") {
		t.Fatalf("Rollback of the committed slot = %v, want ErrNoTrial for the slot committed here", err)
	}
	fake.reboot()
	if fake.booted != 1 || !bytes.Equal(fake.holds[1], b8) {
		t.Fatalf("the device runs slot %d", fake.booted)
	}
}

// TestRollbackRefusesBadOtherSlot: with no record of the booted slot (a
// bundle installed by hand) and the other slot marked bad, Rollback does
// not switch: `mark-active other` would mark that slot good and boot
// what failed there.
func TestRollbackRefusesBadOtherSlot(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	fake := newFake()
	fake.good[1] = false // B failed earlier
	sys, err := openFake(t, fsys, fake)
	must(t, err)
	if err := sys.Rollback(ctx, "x"); !errors.Is(err, update.ErrNoTrial) {
		t.Fatalf("Rollback towards a bad slot = %v, want ErrNoTrial", err)
	}
	if fake.primary != 0 || !fake.good[0] || fake.good[1] {
		t.Fatalf("Rollback changed the boot state: primary %d good %v", fake.primary, fake.good)
	}
}
