package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const abDir = "dev"

// abEnv is a device: a repository on loopback with releases 2 and 3, a
// factory image (counter 1) in slot a, a FileAB and a client wired to it,
// all on one CrashFS.
type abEnv struct {
	t        *testing.T
	fx       *fixture
	factory  []byte
	img      map[uint64][]byte // release counter → image
	ab       *FileAB
	c        *Client
	abConfig func(*FileABConfig)
}

func relPath(counter uint64) string {
	return "plug/" + string(rune('0'+counter)) + ".bin"
}

func newABEnv(t *testing.T, mod func(*FileABConfig)) *abEnv {
	t.Helper()
	return newABEnvWith(t, mod, 2, 3)
}

// newABEnvWith publishes releases with the given counters.
func newABEnvWith(t *testing.T, mod func(*FileABConfig), counters ...uint64) *abEnv {
	t.Helper()
	e := &abEnv{t: t, fx: newFixture(t, false), img: map[uint64][]byte{}, abConfig: mod}
	for _, n := range counters {
		img := randomImage(t, 3*MinChunkSize+int(n)*100)
		e.fx.addRelease(relPath(n), img, func(d *Descriptor) { d.ReleaseCounter = n; d.Version = string(rune('0'+n)) + ".0.0" })
		e.img[n] = img
	}
	e.factory = randomImage(t, 4*MinChunkSize+7) // longer than the releases: Install must cut the file
	writeFactory(t, e.fx.fs, e.factory)
	e.reboot()
	return e
}

func writeFactory(t testing.TB, fsys durable.FS, img []byte) {
	t.Helper()
	if err := fsys.MkdirAll(abDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := durable.WriteFile(fsys, abDir+"/slot-a", img, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *abEnv) config() FileABConfig {
	sum := sha256.Sum256(e.factory)
	cfg := FileABConfig{FS: e.fx.fs, Dir: abDir, Factory: Image{Version: "1.0.0", Counter: 1, Length: int64(len(e.factory)), SHA256: sum[:]}}
	if e.abConfig != nil {
		e.abConfig(&cfg)
	}
	return cfg
}

// reboot opens the installer and the client again, as after a restart.
func (e *abEnv) reboot() {
	e.t.Helper()
	if e.ab != nil {
		e.ab.Close()
	}
	ab, err := NewFileAB(e.config())
	if err != nil {
		e.t.Fatal(err)
	}
	e.ab = ab
	e.c = e.fx.client(func(c *Config) { c.Installer = ab })
}

func (e *abEnv) release(counter uint64) *Release {
	e.t.Helper()
	if err := e.c.Refresh(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	r, err := e.c.Lookup(relPath(counter))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *abEnv) boot() BootDecision {
	e.t.Helper()
	d, err := e.ab.Boot(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *abEnv) slotContent(path string) []byte {
	e.t.Helper()
	b, err := durable.ReadFile(e.fx.fs, path, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// TestFileABInstallBootCommit walks the whole cycle: the release offered is
// installed into slot b, the counter does not move until commit, the trial
// boot starts slot b holding exactly the image, commit makes it the
// installed release and the device is then up to date.
func TestFileABInstallBootCommit(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	if d := e.boot(); d.Slot != "a" || d.Trial || d.Image.Counter != 1 {
		t.Fatalf("factory boot: %+v", d)
	}
	rel, err := e.c.Check(ctx)
	if err != nil || rel == nil || rel.Descriptor.ReleaseCounter != 3 {
		t.Fatalf("Check = %v, %v; want release 3", rel, err)
	}
	if err := e.c.Apply(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if st := e.ab.Status(); st.Phase != PhasePendingReboot || st.Pending == nil || st.Pending.Counter != 3 || st.Installed.Counter != 1 {
		t.Fatalf("after Apply: %+v", st)
	}
	if got := e.ab.InstalledCounter(); got != 1 {
		t.Fatalf("counter rose at install: %d", got)
	}
	if err := e.ab.Commit(ctx); !errors.Is(err, ErrNoTrial) {
		t.Fatalf("Commit before the trial boot = %v, want ErrNoTrial", err)
	}
	e.reboot()
	d := e.boot()
	if d.Slot != "b" || !d.Trial || d.Attempt != 1 || d.MaxAttempts != defaultMaxAttempts || d.Image.Counter != 3 {
		t.Fatalf("trial boot: %+v", d)
	}
	if got := e.slotContent(d.Path); !bytes.Equal(got, e.img[3]) {
		t.Fatalf("slot b holds %d bytes, not the image", len(got))
	}
	if got := e.ab.InstalledCounter(); got != 1 {
		t.Fatalf("counter rose at trial boot: %d", got)
	}
	if err := e.ab.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.ab.InstalledCounter(); got != 3 {
		t.Fatalf("counter after commit = %d, want 3", got)
	}
	e.reboot()
	if st := e.ab.Status(); st.Phase != PhaseIdle || st.Slot != "b" || st.Installed.Counter != 3 || st.Installed.Version != "3.0.0" {
		t.Fatalf("after commit and reboot: %+v", st)
	}
	if d := e.boot(); d.Slot != "b" || d.Trial {
		t.Fatalf("boot after commit: %+v", d)
	}
	if rel, err := e.c.Check(ctx); err != nil || rel != nil {
		t.Fatalf("Check after commit = %v, %v; want up to date", rel, err)
	}
	if _, err := e.c.Lookup(relPath(2)); !errors.Is(err, ErrRollback) {
		t.Fatalf("Lookup(release 2) after 3 was committed = %v, want ErrRollback", err)
	}
}

// TestFileABHealthCheckFailsRollsBackAndNeverReinstalls is the issue's
// "done when": a release that verifies but fails its health check rolls
// back, is recorded with its reason, is not offered by Check again and is
// refused by Begin; a newer release is still offered.
func TestFileABHealthCheckFailsRollsBackAndNeverReinstalls(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	r2 := e.release(2)
	if err := e.c.Apply(ctx, r2); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	if d := e.boot(); !d.Trial || d.Slot != "b" {
		t.Fatalf("trial boot: %+v", d)
	}
	if err := e.ab.Rollback(ctx, "web UI did not come up"); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	d := e.boot()
	if d.Slot != "a" || d.Trial || !bytes.Equal(e.slotContent(d.Path), e.factory) {
		t.Fatalf("after rollback the device boots %+v", d)
	}
	st := e.ab.Status()
	if st.Phase != PhaseRolledBack || len(st.Rejected) != 1 || st.Rejected[0].Reason != "web UI did not come up" ||
		st.Rejected[0].Image.Counter != 2 || st.Rejected[0].Automatic || e.ab.InstalledCounter() != 1 {
		t.Fatalf("status after rollback: %+v", st)
	}
	if !e.ab.Rejected(r2) {
		t.Fatal("Rejected(release 2) = false")
	}
	if _, err := e.ab.Begin(ctx, r2); !errors.Is(err, ErrRejected) {
		t.Fatalf("Begin(rejected release) = %v, want ErrRejected", err)
	}
	if err := e.c.Apply(ctx, r2); !errors.Is(err, ErrRejected) {
		t.Fatalf("Apply(rejected release) = %v, want ErrRejected", err)
	}
	// Check skips the rejected release; 3 is newer and still offered.
	rel, err := e.c.Check(ctx)
	if err != nil || rel == nil || rel.Descriptor.ReleaseCounter != 3 {
		t.Fatalf("Check = %v, %v; want release 3", rel, err)
	}
	// With only release 2 published, nothing is offered at all.
	e2 := newABEnvWith(t, nil, 2)
	r2 = e2.release(2)
	if err := e2.c.Apply(ctx, r2); err != nil {
		t.Fatal(err)
	}
	e2.reboot()
	e2.boot()
	if err := e2.ab.Rollback(ctx, "health check failed"); err != nil {
		t.Fatal(err)
	}
	e2.reboot()
	if rel, err := e2.c.Check(ctx); err != nil || rel != nil {
		t.Fatalf("Check offers %v, %v after the only newer release failed", rel, err)
	}
}

// TestFileABRebootLoopRollsBack: a release that never commits (the device
// resets during every trial boot) is rolled back by Boot after MaxAttempts
// trial boots, and recorded as rejected.
func TestFileABRebootLoopRollsBack(t *testing.T) {
	e := newABEnv(t, func(c *FileABConfig) { c.MaxAttempts = 2 })
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		e.reboot()
		if d := e.boot(); !d.Trial || d.Attempt != i || d.Slot != "b" {
			t.Fatalf("trial boot %d: %+v", i, d)
		}
	}
	e.reboot()
	d := e.boot()
	if d.Slot != "a" || d.Trial || d.RolledBack == nil || !d.RolledBack.Automatic || d.RolledBack.Image.Counter != 3 {
		t.Fatalf("third boot: %+v", d)
	}
	if !strings.Contains(d.RolledBack.Reason, "2 trial boots") {
		t.Fatalf("reason %q", d.RolledBack.Reason)
	}
	if e.ab.InstalledCounter() != 1 {
		t.Fatal("counter moved")
	}
	if rel, _ := e.c.Check(ctx); rel == nil || rel.Descriptor.ReleaseCounter != 2 {
		t.Fatalf("Check after the loop offers %v, want release 2 (3 failed here)", rel)
	}
	if err := e.ab.Commit(ctx); !errors.Is(err, ErrNoTrial) {
		t.Fatalf("Commit after rollback = %v", err)
	}
}

// TestFileABCommittedBootsWriteNothing: brown-outs on a committed slot
// cannot drain anything because Boot does not write at all then (the
// anchors' RAUC #346 failure).
func TestFileABCommittedBootsWriteNothing(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	ops := e.fx.fs.Ops()
	for range 50 {
		e.reboot()
		if d := e.boot(); d.Slot != "a" || d.Trial {
			t.Fatalf("factory boot: %+v", d)
		}
	}
	if got := e.fx.fs.Ops() - ops; got != 0 {
		t.Fatalf("50 restarts and boots of the factory slot wrote %d times", got)
	}
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	e.boot()
	if err := e.ab.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ops = e.fx.fs.Ops()
	for range 50 {
		d, err := e.ab.Boot(ctx)
		if err != nil || d.Slot != "b" || d.Trial {
			t.Fatalf("boot after commit: %+v, %v", d, err)
		}
	}
	if got := e.fx.fs.Ops() - ops; got != 0 {
		t.Fatalf("50 boots of the committed slot wrote %d times", got)
	}
}

// TestFileABInstallRefusesWhatVerificationDidNotProduce: a zero Verified,
// nil, and a genuinely verified image written into another slot are all
// refused, and nothing is recorded.
func TestFileABInstallRefusesWhatVerificationDidNotProduce(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	r := e.release(3)
	if _, err := e.ab.Begin(ctx, r); err != nil {
		t.Fatal(err)
	}
	other, err := OpenFileSlot(e.fx.fs, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.c.Download(ctx, r, other)
	if err != nil {
		t.Fatal(err)
	}
	ops := e.fx.fs.Ops()
	for name, bad := range map[string]*Verified{"nil": nil, "zero": {}, "other slot": v} {
		if err := e.ab.Install(ctx, bad); !errors.Is(err, ErrUnverified) {
			t.Errorf("Install(%s) = %v, want ErrUnverified", name, err)
		}
	}
	if got := e.fx.fs.Ops() - ops; got != 0 {
		t.Fatalf("refused installs wrote %d times", got)
	}
	if st := e.ab.Status(); st.Phase != PhaseDownloading {
		t.Fatalf("phase %s after refused installs", st.Phase)
	}
	e.reboot()
	if d := e.boot(); d.Slot != "a" || d.Trial {
		t.Fatalf("boot after refused installs: %+v", d)
	}
}

// TestFileABInstallRereadsTheSlot: a slot changed after the download (flash
// lost bits, or someone wrote to it) is caught by Install's read-back and
// no trial is recorded.
func TestFileABInstallRereadsTheSlot(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	r := e.release(3)
	slot, err := e.ab.Begin(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.c.Download(ctx, r, slot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slot.WriteAt([]byte{0xff, 0xfe}, 5000); err != nil {
		t.Fatal(err)
	}
	if err := e.ab.Install(ctx, v); !errors.Is(err, ErrTarget) {
		t.Fatalf("Install of a changed slot = %v, want ErrTarget", err)
	}
	e.reboot()
	if d := e.boot(); d.Slot != "a" || d.Trial {
		t.Fatalf("boot: %+v", d)
	}
	// Applying again downloads afresh and installs.
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	if st := e.ab.Status(); st.Phase != PhasePendingReboot {
		t.Fatalf("phase %s", st.Phase)
	}
}

func TestFileABRefusals(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	r2, r3 := e.release(2), e.release(3)
	if err := e.ab.Rollback(ctx, "x"); !errors.Is(err, ErrNoTrial) {
		t.Errorf("Rollback with nothing on trial = %v", err)
	}
	if err := e.ab.Commit(ctx); !errors.Is(err, ErrNoTrial) {
		t.Errorf("Commit with nothing on trial = %v", err)
	}
	noDesc := *r3
	noDesc.Descriptor = nil
	if _, err := e.ab.Begin(ctx, &noDesc); !errors.Is(err, ErrNoDescriptor) {
		t.Errorf("Begin without descriptor = %v", err)
	}
	if err := e.c.Apply(ctx, r3); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ab.Begin(ctx, r2); !errors.Is(err, ErrTrialPending) {
		t.Errorf("Begin while a trial is pending = %v", err)
	}
	e.reboot()
	e.boot()
	if err := e.ab.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ab.Begin(ctx, r2); !errors.Is(err, ErrRollback) {
		t.Errorf("Begin of an older release = %v, want ErrRollback", err)
	}
	if _, err := e.ab.Begin(ctx, r3); !errors.Is(err, ErrRollback) {
		t.Errorf("Begin of the installed release = %v, want ErrRollback", err)
	}
	e.ab.Close()
	if _, err := e.ab.Boot(ctx); !errors.Is(err, ErrInstallerClosed) {
		t.Errorf("Boot after Close = %v", err)
	}
}

func TestFileABSupersededSlotRefusesWrites(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	r := e.release(3)
	s1, err := e.ab.Begin(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	ops := e.fx.fs.Ops()
	s2, err := e.ab.Begin(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if e.fx.fs.Ops() != ops {
		t.Error("beginning the same release again wrote the journal")
	}
	if _, err := s1.WriteAt([]byte("x"), 0); !errors.Is(err, ErrSlotClosed) {
		t.Fatalf("write to superseded slot = %v", err)
	}
	if s1.(SlotIdentifier).SlotID() != s2.(SlotIdentifier).SlotID() {
		t.Fatal("same release, different slot: the download could not resume")
	}
	v, err := e.c.Download(ctx, r, s2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ab.Install(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.WriteAt([]byte("x"), 0); !errors.Is(err, ErrSlotClosed) {
		t.Fatalf("write to an installed slot = %v", err)
	}
}

// TestFileABBeginOtherReleaseSupersedes: two installs of different
// releases overlap at the installer (two clients, or a client and a
// bundle): the later Begin wins. The first slot refuses writes, a
// *Verified produced into it before is refused by Install, and only the
// second release is installed.
func TestFileABBeginOtherReleaseSupersedes(t *testing.T) {
	e := newABEnvWith(t, nil, 2, 3, 4)
	ctx := context.Background()
	r3, r4 := e.release(3), e.release(4)
	s3, err := e.ab.Begin(ctx, r3)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := e.c.Download(ctx, r3, s3)
	if err != nil {
		t.Fatal(err)
	}
	s4, err := e.ab.Begin(ctx, r4)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ab.Install(ctx, v3); !errors.Is(err, ErrUnverified) {
		t.Fatalf("Install of the superseded download = %v, want ErrUnverified", err)
	}
	if _, err := s3.WriteAt([]byte("x"), 0); !errors.Is(err, ErrSlotClosed) {
		t.Fatalf("write to the superseded slot = %v", err)
	}
	if st := e.ab.Status(); st.Phase != PhaseDownloading {
		t.Fatalf("after the refused Install: %+v", st)
	}
	v4, err := e.c.Download(ctx, r4, s4)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ab.Install(ctx, v4); err != nil {
		t.Fatal(err)
	}
	if st := e.ab.Status(); st.Phase != PhasePendingReboot || st.Pending.Counter != 4 {
		t.Fatalf("after installing 4: %+v", st)
	}
	e.reboot()
	if d := e.boot(); !d.Trial || d.Slot != "b" || !bytes.Equal(e.slotContent(abDir+"/slot-b"), e.img[4]) {
		t.Fatalf("boot after the overlapping installs: %+v", d)
	}
}

// TestApplyBusy: two installs at once: the second is refused at once and
// the first completes.
func TestApplyBusy(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	r := e.release(3)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	files := http.FileServer(http.Dir(e.fx.repo.Dir))
	e.fx.serve(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/targets/") {
			once.Do(func() { close(started) })
			<-release
		}
		files.ServeHTTP(w, req)
	})
	errc := make(chan error, 1)
	go func() { errc <- e.c.Apply(ctx, r) }()
	<-started
	if err := e.c.Apply(ctx, r); !errors.Is(err, ErrBusy) {
		t.Errorf("second Apply = %v, want ErrBusy", err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if st := e.ab.Status(); st.Phase != PhasePendingReboot || st.Pending.Counter != 3 {
		t.Fatalf("after the first Apply: %+v", st)
	}
}

// TestFileABVerifyBoot: with VerifyBoot, a trial image changed after
// install is rolled back at boot, and a changed committed image is
// reported.
func TestFileABVerifyBoot(t *testing.T) {
	e := newABEnv(t, func(c *FileABConfig) { c.VerifyBoot = true })
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	corrupt(t, e.fx.fs, abDir+"/slot-b", 100)
	e.reboot()
	d := e.boot()
	if d.Slot != "a" || d.RolledBack == nil || !strings.Contains(d.RolledBack.Reason, "hash") {
		t.Fatalf("boot of a changed trial image: %+v", d)
	}
	corrupt(t, e.fx.fs, abDir+"/slot-a", 0)
	if _, err := e.ab.Boot(ctx); !errors.Is(err, ErrImageCorrupt) {
		t.Fatalf("boot of a changed committed image = %v, want ErrImageCorrupt", err)
	}
}

func corrupt(t *testing.T, fsys durable.FS, name string, off int64) {
	t.Helper()
	b, err := durable.ReadFile(fsys, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := durable.WriteFile(fsys, name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFileABEvents: a UI that reads every event sees the update from
// download to commit; a subscriber that never reads does not hold it up.
func TestFileABEvents(t *testing.T) {
	ch := make(chan Event, 1024)
	e := newABEnv(t, func(c *FileABConfig) { c.Notify = ch })
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	e.boot()
	if err := e.ab.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	close(ch)
	var kinds []string
	var last Downloading
	for ev := range ch {
		switch ev := ev.(type) {
		case Downloading:
			last = ev
			if len(kinds) == 0 || kinds[len(kinds)-1] != "downloading" {
				kinds = append(kinds, "downloading")
			}
		case Installed:
			if ev.Slot != "b" || ev.Image.Counter != 3 || !ev.Reboot {
				t.Errorf("Installed %+v", ev)
			}
			kinds = append(kinds, "installed")
		case TrialBoot:
			kinds = append(kinds, "trial")
		case Committed:
			kinds = append(kinds, "committed")
		case RolledBack:
			kinds = append(kinds, "rolled back")
		}
	}
	if got := strings.Join(kinds, ","); got != "downloading,installed,trial,committed" {
		t.Fatalf("events %s", got)
	}
	if last.Done != last.Total || last.Total != int64(len(e.img[3])) {
		t.Fatalf("last progress %+v", last)
	}

	blocked := make(chan Event) // nobody reads
	e2 := newABEnv(t, func(c *FileABConfig) { c.Notify = blocked })
	if err := e2.c.Apply(ctx, e2.release(3)); err != nil {
		t.Fatal(err)
	}
	e2.reboot()
	e2.boot()
	if err := e2.ab.Rollback(ctx, "no"); err != nil {
		t.Fatal(err)
	}

	// RolledBack: by the firmware (its health check failed) and by Boot
	// (the trial boots ran out).
	rolledBack := func(ch chan Event) []RolledBack {
		var out []RolledBack
		for len(ch) > 0 {
			if rb, ok := (<-ch).(RolledBack); ok {
				out = append(out, rb)
			}
		}
		return out
	}
	ch3 := make(chan Event, 1024)
	e3 := newABEnv(t, func(c *FileABConfig) { c.Notify = ch3 })
	if err := e3.c.Apply(ctx, e3.release(3)); err != nil {
		t.Fatal(err)
	}
	e3.reboot()
	e3.boot()
	if err := e3.ab.Rollback(ctx, "health check failed"); err != nil {
		t.Fatal(err)
	}
	if rb := rolledBack(ch3); len(rb) != 1 || rb[0].Automatic || rb[0].Reason != "health check failed" || rb[0].Image.Counter != 3 {
		t.Fatalf("RolledBack events after Rollback: %+v", rb)
	}
	ch4 := make(chan Event, 1024)
	e4 := newABEnv(t, func(c *FileABConfig) { c.Notify = ch4; c.MaxAttempts = 1 })
	if err := e4.c.Apply(ctx, e4.release(3)); err != nil {
		t.Fatal(err)
	}
	e4.reboot()
	e4.boot() // the one trial boot; the firmware never commits
	e4.reboot()
	if d := e4.boot(); d.RolledBack == nil {
		t.Fatalf("second boot did not roll back: %+v", d)
	}
	if rb := rolledBack(ch4); len(rb) != 1 || !rb[0].Automatic || rb[0].Image.Counter != 3 || !strings.Contains(rb[0].Reason, "trial boot") {
		t.Fatalf("RolledBack events after the trial boots ran out: %+v", rb)
	}
}

// TestFileABJournalStaysSmall: many update cycles keep the journal bounded
// (Begin compacts it) and the state survives reopening.
func TestFileABJournalStaysSmall(t *testing.T) {
	fsys := durable.NewCrashFS()
	factory := randomImage(t, 5000)
	writeFactory(t, fsys, factory)
	ab, err := NewFileAB(FileABConfig{FS: fsys, Dir: abDir, Factory: Image{Counter: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img := randomImage(t, 2*MinChunkSize)
	for n := uint64(2); n < 60; n++ {
		r := testRelease(t, img, n)
		cycle(t, ab, r, img)
		if n%3 == 0 { // some releases fail
			if _, err := ab.Boot(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ab.Rollback(ctx, "bad"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := ab.Boot(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ab.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := ab.Status()
	if ab.journal.Len() > abCompactAfter+4 {
		t.Fatalf("journal holds %d records", ab.journal.Len())
	}
	ab.Close()
	ab2, err := NewFileAB(FileABConfig{FS: fsys, Dir: abDir, Factory: Image{Counter: 1}})
	if err != nil {
		t.Fatal(err)
	}
	got := ab2.Status()
	if got.Installed.Counter != want.Installed.Counter || got.Slot != want.Slot || len(got.Rejected) != len(want.Rejected) {
		t.Fatalf("after reopen %+v, before %+v", got, want)
	}
	if got.Installed.Counter != 59 || len(got.Rejected) != 0 {
		// Rejected releases at or below the installed counter are pruned.
		t.Fatalf("installed %d, %d rejected", got.Installed.Counter, len(got.Rejected))
	}
}

// testRelease builds a release for img with counter n, as the repository
// would list it (for tests that drive the installer without a client).
func testRelease(t testing.TB, img []byte, n uint64) *Release {
	chunks, _, err := HashChunks(bytes.NewReader(img), MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(img)
	return &Release{Path: "fw.bin", Length: int64(len(img)), Hashes: metadata.Hashes{"sha256": sum[:]},
		Descriptor: &Descriptor{HardwareID: testHW, ReleaseCounter: n, Version: "v", ChunkSize: MinChunkSize, Chunks: chunks}}
}

// cycle begins r, writes img into the slot as Download would, and
// installs a Verified for it (in-package: the client is not under test).
func cycle(t testing.TB, ab *FileAB, r *Release, img []byte) {
	t.Helper()
	ctx := context.Background()
	slot, err := ab.Begin(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slot.WriteAt(img, 0); err != nil {
		t.Fatal(err)
	}
	if err := slot.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := ab.Install(ctx, &Verified{release: r.clone(), slot: slot, sealed: true}); err != nil {
		t.Fatal(err)
	}
}

func TestNewFileABConfig(t *testing.T) {
	fsys := durable.NewCrashFS()
	for name, cfg := range map[string]FileABConfig{
		"no dir":        {FS: fsys},
		"same slots":    {FS: fsys, Dir: "d", SlotA: "d/x", SlotB: "d/./x"},
		"attempts":      {FS: fsys, Dir: "d", MaxAttempts: MaxTrialBoots + 1},
		"negative":      {FS: fsys, Dir: "d", MaxAttempts: -1},
		"short hash":    {FS: fsys, Dir: "d", Factory: Image{SHA256: []byte{1}, Length: 1}},
		"hash, no size": {FS: fsys, Dir: "d", Factory: Image{SHA256: make([]byte, 32)}},
	} {
		if _, err := NewFileAB(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestFileABRefusesInvalidJournal: a record that passes its CRC but breaks
// the state's invariants is refused, not guessed around.
func TestFileABRefusesInvalidJournal(t *testing.T) {
	fsys := durable.NewCrashFS()
	if err := fsys.MkdirAll(abDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := durable.OpenLog(fsys, abDir+"/"+abJournal, durable.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Trial on a release not newer than the committed one.
	bad := `{"format":1,"seq":1,"op":"install","current":"a","images":[{"counter":5},{"counter":5,"length":1,"sha256":"` + strings.Repeat("ab", 32) + `"}],"trial":true}`
	if err := l.Append([]byte(bad)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := NewFileAB(FileABConfig{FS: fsys, Dir: abDir}); !errors.Is(err, errJournal) {
		t.Fatalf("NewFileAB over an invalid record = %v", err)
	}
}
