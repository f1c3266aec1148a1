package rauc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/internal/tuftest"
	"github.com/iotbaseline/baseline/update/rauc"
	"github.com/iotbaseline/baseline/update/release"
)

// tufRepo is a TUF repository served on loopback, to which releases are
// added one by one.
type tufRepo struct {
	t    *testing.T
	repo *tuftest.Repo
	url  string
	now  time.Time
	// served counts the bytes of targets served.
	served atomic.Int64
}

func newRepo(t *testing.T) *tufRepo {
	t.Helper()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	repo, err := tuftest.New(dir, now.AddDate(1, 0, 0), true)
	must(t, err)
	r := &tufRepo{t: t, repo: repo, now: now}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/targets/") {
			w = countingWriter{w, &r.served}
		}
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

// Write counts before writing: the client may have the bytes (and the
// test go on) before the server's Write returns.
func (w countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

// add publishes bundle (its bytes) as target name with release counter
// counter.
func (r *tufRepo) add(name string, bundle []byte, counter uint64) {
	t := r.t
	t.Helper()
	chunks, _, err := release.HashChunks(bytes.NewReader(bundle), update.MinChunkSize)
	must(t, err)
	custom, err := release.EncodeDescriptor(&update.Descriptor{HardwareID: "baseline-test", ReleaseCounter: counter,
		Version: name, Reboot: true, ChunkSize: update.MinChunkSize, Chunks: chunks})
	must(t, err)
	_, err = r.repo.AddTarget(name, bundle, custom)
	must(t, err)
	must(t, r.repo.Publish())
}

// client returns an update.Client of the repository installing through
// inst, with its state in a fresh directory.
func (r *tufRepo) client(inst update.Installer) *update.Client {
	r.t.Helper()
	c, err := update.New(update.Config{TrustedRoot: r.repo.RootBytes(), RepositoryURL: r.url, HardwareID: "baseline-test", CheckpointBytes: update.MinChunkSize,
		Installer: inst, Dir: r.t.TempDir(), Now: func() time.Time { return r.now }})
	must(r.t, err)
	return c
}

// clientOn is client with its state in dir of fsys (the device's one
// flash, shared with the adapter, in the power-loss tests).
func (r *tufRepo) clientOn(inst update.Installer, fsys durable.FS, dir string) *update.Client {
	r.t.Helper()
	c, err := update.New(update.Config{TrustedRoot: r.repo.RootBytes(), RepositoryURL: r.url, HardwareID: "baseline-test", CheckpointBytes: update.MinChunkSize,
		Installer: inst, FS: fsys, Dir: dir, Now: func() time.Time { return r.now }})
	must(r.t, err)
	return c
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// TestRejectedAfterRollbackRealRAUC: a release installed through
// update.Client.Apply into a real RAUC fails its health check after the
// reboot; Rollback records it. After the reboot into the old slot (and a
// restart of the adapter, which reads its state file again), Check does not
// offer it, Begin refuses it with update.ErrRejected, and a newer release
// is offered and installs.
func TestRejectedAfterRollbackRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	if err := c.Apply(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if sys.Rejected(rel) {
		t.Fatal("rejected before its trial")
	}
	e.reboot("B")
	sys = e.system(stage) // the new firmware starts the adapter again
	if err := sys.Rollback(ctx, "health check failed: no network"); err != nil {
		t.Fatal(err)
	}
	if e.state("state.B") != "bad" || e.state("primary") != "A" {
		t.Fatalf("after Rollback: B %s, primary %s", e.state("state.B"), e.state("primary"))
	}
	e.reboot("A")
	sys = e.system(stage)
	assertRejected(t, sys, repo.client(sys), rel, "health check failed: no network", false)

	// A newer release is still offered, and installs.
	img := image("1.5.0")
	repo.add("rootfs-1.5.0.raucb", readFile(t, e.bundle("r9", img, "1.5.0", e.cert, e.key)), 9)
	c = repo.client(sys)
	next, err := c.Check(ctx)
	if err != nil || next == nil || next.Descriptor.ReleaseCounter != 9 {
		t.Fatalf("newer release not offered: %v %v", next, err)
	}
	if err := c.Apply(ctx, next); err != nil {
		t.Fatal(err)
	}
	if !slotHolds(t, e.slotB, img) || e.state("primary") != "B" {
		t.Fatal("the newer release was not installed")
	}
}

// assertRejected checks every way the adapter refuses rel once it failed
// its trial.
func assertRejected(t *testing.T, sys *rauc.System, c *update.Client, rel *update.Release, reason string, auto bool) {
	t.Helper()
	ctx := context.Background()
	if !sys.Rejected(rel) {
		t.Fatal("Rejected: false for the release that failed its trial")
	}
	if got, err := c.Check(ctx); err != nil || got != nil {
		t.Fatalf("Check offers %v (err %v) after the rollback", got, err)
	}
	if _, err := sys.Begin(ctx, rel); !errors.Is(err, update.ErrRejected) {
		t.Fatalf("Begin of the rejected release: %v", err)
	}
	if err := c.Apply(ctx, rel); !errors.Is(err, update.ErrRejected) {
		t.Fatalf("Apply of the rejected release: %v", err)
	}
	rj := sys.RejectedReleases()
	if len(rj) != 1 || rj[0].Image.Counter != rel.Descriptor.ReleaseCounter || rj[0].Automatic != auto ||
		!bytes.Equal(rj[0].Image.SHA256, rel.Hashes["sha256"]) || rj[0].Image.Path != rel.Path {
		t.Fatalf("RejectedReleases: %+v", rj)
	}
	if reason != "" && rj[0].Reason != reason {
		t.Fatalf("reason %q, want %q", rj[0].Reason, reason)
	}
}

// TestBootloaderFallbackRealRAUC: the new slot never commits and the
// bootloader gives up on it (marks it bad and starts the old slot again):
// Reconcile at the next start records the release as rejected.
func TestBootloaderFallbackRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	must(t, c.Apply(ctx, rel))
	if err := sys.Commit(ctx); !errors.Is(err, update.ErrNoTrial) {
		t.Fatalf("Commit before the reboot: %v", err)
	}
	if e.state("state.A") != "good" {
		t.Fatal("Commit before the reboot changed the running slot's mark")
	}
	e.reboot("B")
	// The trial firmware hangs; the bootloader counts the attempts out,
	// marks B bad and starts A.
	must(t, os.WriteFile(e.boot+"/state.B", []byte("bad\n"), 0o600))
	must(t, os.WriteFile(e.boot+"/primary", []byte("A\n"), 0o600))
	e.reboot("A")
	events := make(chan update.Event, 8)
	sys = e.systemNotify(stage, events)
	rj, err := sys.Reconcile(ctx)
	if err != nil || rj == nil || !rj.Automatic || rj.Image.Counter != 8 {
		t.Fatalf("Reconcile: %+v %v", rj, err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events from Reconcile, want one RolledBack", len(events))
	}
	if ev, ok := (<-events).(update.RolledBack); !ok || !ev.Automatic || ev.Image.Counter != 8 || ev.Reason != rj.Reason {
		t.Fatalf("Reconcile's event: %#v", ev)
	}
	assertRejected(t, sys, repo.client(sys), rel, "", true)
	if rj, err := sys.Reconcile(ctx); err != nil || rj != nil {
		t.Fatalf("second Reconcile: %+v %v", rj, err)
	}
}

// TestCommitOnTrialRealRAUC: after the reboot into the new slot, Commit
// marks it good, closes the install record and records the release
// counter; the release is not rejected, and Rollback with nothing on trial
// leaves the committed slot alone.
func TestCommitOnTrialRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	must(t, c.Apply(ctx, rel))
	e.reboot("B")
	sys = e.system(stage)
	must(t, sys.Commit(ctx))
	if e.state("state.B") != "good" || sys.Rejected(rel) || len(sys.RejectedReleases()) != 0 {
		t.Fatal("commit did not keep B, or rejected the release")
	}

	// The commit recorded the release counter: after a restart of the
	// adapter it is the anti-rollback floor, for Begin and for the client
	// (which reads it from the adapter), and the gate check measures it.
	sys = e.system(stage)
	if n := sys.InstalledCounter(); n != 8 {
		t.Fatalf("InstalledCounter after the commit = %d, want 8", n)
	}
	if _, err := sys.Begin(ctx, rel); !errors.Is(err, update.ErrRollback) {
		t.Fatalf("Begin of the committed release again: %v", err)
	}
	if got, err := repo.client(sys).Check(ctx); err != nil || got != nil {
		t.Fatalf("Check offers %v (err %v) though it is installed", got, err)
	}
	if r := runCheck(t, sys, "update.rauc-install-gate"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "counter 8") {
		t.Fatalf("gate check after a commit: %+v", r)
	}

	// Nothing is on trial: Rollback refuses to abandon the committed slot,
	// as update.FileAB does, and changes nothing.
	if err := sys.Rollback(ctx, "late health check"); !errors.Is(err, update.ErrNoTrial) {
		t.Fatalf("Rollback of the committed slot: %v", err)
	}
	if e.state("state.B") != "good" || e.state("primary") != "B" || len(sys.RejectedReleases()) != 0 {
		t.Fatalf("refused Rollback changed state: B %s, primary %s", e.state("state.B"), e.state("primary"))
	}

	// A bundle installed by hand: the adapter no longer vouches for a
	// slot, so Rollback in it abandons it as before; the floor stays.
	must(t, sys.InstallBundle(ctx, e.bundle("hand", image("1.4.1"), "1.4.1", e.cert, e.key)))
	e.reboot("A")
	sys = e.system(stage)
	if _, err := sys.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, sys.Rollback(ctx, "hand-installed image fails"))
	if e.state("state.A") != "bad" || e.state("primary") != "B" {
		t.Fatalf("Rollback of a hand-installed slot: A %s, primary %s", e.state("state.A"), e.state("primary"))
	}
	if n := sys.InstalledCounter(); n != 8 {
		t.Fatalf("InstalledCounter after a hand install = %d, want 8", n)
	}
}

// TestRollbackBeforeRestartRealRAUC: the device decides against the
// installed release before restarting into it: Rollback marks its slot bad,
// keeps the running slot primary, and records the release as rejected.
func TestRollbackBeforeRestartRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	must(t, c.Apply(ctx, rel))
	must(t, sys.Rollback(ctx, "user cancelled"))
	if e.state("state.B") != "bad" || e.state("primary") != "A" || e.state("state.A") != "good" {
		t.Fatalf("after Rollback: A %s, B %s, primary %s", e.state("state.A"), e.state("state.B"), e.state("primary"))
	}
	e.reboot("A")
	sys = e.system(stage)
	assertRejected(t, sys, repo.client(sys), rel, "user cancelled", false)
}

// TestResumeAcrossRestartRealRAUC: a download into the staging file is
// interrupted; the adapter and the client start again (as after a
// reboot), Apply resumes instead of fetching the bundle again, and the real
// rauc installs the whole bundle.
func TestResumeAcrossRestartRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage, state := t.TempDir(), t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	img := make([]byte, 256<<10) // random, so that the bundle's squashfs stays large
	rand.Read(img)
	b := readFile(t, e.bundle("r8", img, "1.4.0", e.cert, e.key))
	repo.add("rootfs-1.4.0.raucb", b, 8)
	c := repo.clientOn(sys, durable.OS, state)
	rel, err := c.Check(ctx)
	if err != nil || rel == nil {
		t.Fatalf("check: %v %v", rel, err)
	}
	slot, err := sys.Begin(ctx, rel)
	must(t, err)
	half := int64(len(b)/2) / update.MinChunkSize * update.MinChunkSize
	if _, err := c.Download(ctx, rel, failingSlot{slot, half}); err == nil {
		t.Fatal("interrupted download succeeded")
	}
	// The process ends (its descriptors close; rauc's lease needs that).
	must(t, slot.(io.Closer).Close())
	sys = e.system(stage)
	c = repo.clientOn(sys, durable.OS, state)
	_, err = c.Check(ctx)
	must(t, err)
	before := repo.served.Load()
	must(t, c.Apply(ctx, rel))
	if half < 16*update.MinChunkSize {
		t.Fatalf("bundle of %d bytes too small to interrupt", len(b))
	}
	if got := repo.served.Load() - before; got > int64(len(b))-half {
		t.Fatalf("fetched %d bytes after the restart; %d were already staged", got, half)
	}
	if !slotHolds(t, e.slotB, img) || e.state("primary") != "B" {
		t.Fatal("slot B not written or not primary")
	}
}

// TestRunningAnotherSlotDropsCommittedRecord: after a commit in B the
// device runs A without the adapter having installed it (a `rauc install`
// by hand, or the bootloader's fallback). Reconcile stops vouching for B,
// since rauc may rewrite it next; a later Rollback in B abandons it.
func TestRunningAnotherSlotDropsCommittedRecord(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	must(t, c.Apply(ctx, rel))
	e.reboot("B")
	sys = e.system(stage)
	must(t, sys.Commit(ctx))
	must(t, os.WriteFile(e.boot+"/primary", []byte("A\n"), 0o600))
	e.reboot("A")
	sys = e.system(stage)
	if _, err := sys.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(e.boot+"/primary", []byte("B\n"), 0o600))
	e.reboot("B")
	sys = e.system(stage)
	must(t, sys.Rollback(ctx, "health check failed"))
	if e.state("state.B") != "bad" || e.state("primary") != "A" {
		t.Fatalf("after Rollback: B %s, primary %s", e.state("state.B"), e.state("primary"))
	}
	if n := sys.InstalledCounter(); n != 8 {
		t.Fatalf("InstalledCounter = %d, want 8 (the floor never falls)", n)
	}
}

// TestEventsRealRAUC: the adapter reports the stages of an update on its
// Notify channel (Downloading up to the whole bundle, Installed with the
// slot, Committed; RolledBack for a release that failed its trial), and
// an unread channel holds up nothing.
func TestEventsRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	events := make(chan update.Event, 1024)
	sys := e.systemNotify(stage, events)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	must(t, c.Apply(ctx, rel))
	var last update.Downloading
	var inst *update.Installed
	for len(events) > 0 {
		switch ev := (<-events).(type) {
		case update.Downloading:
			last = ev
		case update.Installed:
			inst = &ev
		default:
			t.Fatalf("unexpected event %#v during the install", ev)
		}
	}
	if last.Total != rel.Length || last.Done != rel.Length || last.Path != rel.Path {
		t.Fatalf("last Downloading %+v, want %d of %d", last, rel.Length, rel.Length)
	}
	if inst == nil || inst.Slot != "rootfs.1" || inst.Image.Counter != 8 || !bytes.Equal(inst.Image.SHA256, rel.Hashes["sha256"]) {
		t.Fatalf("Installed %+v", inst)
	}
	e.reboot("B")
	sys = e.systemNotify(stage, events)
	must(t, sys.Commit(ctx))
	if ev, ok := (<-events).(update.Committed); !ok || ev.Image.Counter != 8 {
		t.Fatalf("after Commit: %#v", ev)
	}

	// The next release fails its trial; an unread, unbuffered channel
	// does not hold the rollback up.
	repo.add("rootfs-1.5.0.raucb", readFile(t, e.bundle("r9", image("1.5.0"), "1.5.0", e.cert, e.key)), 9)
	sys = e.systemNotify(stage, make(chan update.Event))
	c = repo.client(sys)
	rel9, err := c.Check(ctx)
	if err != nil || rel9 == nil {
		t.Fatalf("check: %v %v", rel9, err)
	}
	must(t, c.Apply(ctx, rel9))
	e.reboot("A")
	sys = e.systemNotify(stage, events)
	must(t, sys.Rollback(ctx, "health check failed"))
	if ev, ok := (<-events).(update.RolledBack); !ok || ev.Image.Counter != 9 || ev.Reason != "health check failed" || ev.Automatic {
		t.Fatalf("after Rollback: %#v", ev)
	}
	if len(events) != 0 {
		t.Fatalf("%d more events", len(events))
	}
}

// TestNoInstallDuringTrialRealRAUC: while the release the adapter
// installed runs on trial (rebooted into, not yet committed), a newer
// release is refused with ErrTrialPending: installing it would overwrite
// the other slot, the last image known to work. After Commit it installs.
func TestNoInstallDuringTrialRealRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	repo := newRepo(t)
	c, rel := e.publish(repo, sys, "r8", "1.4.0", 8)
	must(t, c.Apply(ctx, rel))
	e.reboot("B")
	sys = e.system(stage)
	c, next := e.publish(repo, sys, "r9", "1.5.0", 9)
	if _, err := sys.Begin(ctx, next); !errors.Is(err, update.ErrTrialPending) {
		t.Fatalf("Begin during the trial: %v", err)
	}
	if err := c.Apply(ctx, next); !errors.Is(err, update.ErrTrialPending) {
		t.Fatalf("Apply during the trial: %v", err)
	}
	if !slotHolds(t, e.slotA, bytes.Repeat([]byte("A"), 1<<20)) || e.state("primary") != "B" {
		t.Fatal("the install during the trial touched slot A or the boot order")
	}
	must(t, sys.Commit(ctx))
	must(t, c.Apply(ctx, next))
	if !slotHolds(t, e.slotA, image("1.5.0")) || e.state("primary") != "A" {
		t.Fatal("the newer release did not install after the commit")
	}
}

// publish adds a bundle of version (named name, with an image of that
// version) to repo as release counter, and returns a client of sys on repo
// and the release it offers, which must be that one.
func (e *raucEnv) publish(repo *tufRepo, sys *rauc.System, name, version string, counter uint64) (*update.Client, *update.Release) {
	e.t.Helper()
	repo.add("rootfs-"+version+".raucb", readFile(e.t, e.bundle(name, image(version), version, e.cert, e.key)), counter)
	c := repo.client(sys)
	rel, err := c.Check(context.Background())
	if err != nil || rel == nil || rel.Descriptor.ReleaseCounter != counter {
		e.t.Fatalf("check: %v %v, want release %d", rel, err, counter)
	}
	return c, rel
}
