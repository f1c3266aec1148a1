package rauc_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/internal/tuftest"
	"github.com/iotbaseline/baseline/update/rauc"
	"github.com/iotbaseline/baseline/update/release"
)

func image(version string) []byte {
	return bytes.Repeat([]byte("rootfs "+version+"\n"), 20000)
}

// slotHolds reports whether the slot file starts with img.
func slotHolds(t *testing.T, path string, img []byte) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.HasPrefix(b, img)
}

func TestStatusOfRealRAUC(t *testing.T) {
	e := newEnv(t)
	st, err := e.system(t.TempDir()).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Compatible != "baseline-test" || st.Booted != "A" || st.Primary != "rootfs.0" || len(st.Slots) != 2 {
		t.Fatalf("status %+v", st)
	}
	b := st.BootedSlot()
	if b == nil || b.Name != "rootfs.0" || b.Bootname != "A" || b.BootStatus != "good" || b.Device != e.slotA || b.Type != "raw" {
		t.Fatalf("booted slot %+v", b)
	}
	if o := st.Slot("rootfs.1"); o == nil || o.State != "inactive" || o.Bootname != "B" {
		t.Fatalf("other slot %+v", o)
	}
	if st.PendingReboot() {
		t.Fatal("pending reboot before any install")
	}
}

// TestInstallBundleTrialCommit: rauc writes slot B and makes it primary; after
// the "reboot" into B, Commit marks B good through the bootloader script.
func TestInstallBundleTrialCommit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sys := e.system(t.TempDir())
	img := image("1.4.0")
	if err := sys.InstallBundle(ctx, e.bundle("good", img, "1.4.0", e.cert, e.key)); err != nil {
		t.Fatal(err)
	}
	if !slotHolds(t, e.slotB, img) {
		t.Fatal("slot B does not hold the image")
	}
	if !slotHolds(t, e.slotA, bytes.Repeat([]byte("A"), 1<<20)) {
		t.Fatal("slot A changed")
	}
	if got := e.state("primary"); got != "B" {
		t.Fatalf("bootloader primary %q, want B", got)
	}
	st, err := sys.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Primary != "rootfs.1" || !st.PendingReboot() {
		t.Fatalf("after install: primary %q pending %v", st.Primary, st.PendingReboot())
	}

	e.reboot("B")
	st, err = sys.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Booted != "B" || st.PendingReboot() {
		t.Fatalf("after reboot: booted %q pending %v", st.Booted, st.PendingReboot())
	}
	must(t, os.WriteFile(filepath.Join(e.boot, "state.B"), []byte("bad\n"), 0o600)) // as a bootloader counting the trial would leave it
	if err := sys.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.state("state.B"); got != "good" {
		t.Fatalf("state of B after Commit: %q", got)
	}
	if !strings.Contains(e.state("calls.log"), "set-state B good") {
		t.Fatalf("bootloader calls: %s", e.state("calls.log"))
	}
}

// TestRollback: the trial slot is marked bad and the other slot becomes the
// primary again.
func TestRollback(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sys := e.system(t.TempDir())
	if err := sys.InstallBundle(ctx, e.bundle("good", image("1.4.0"), "1.4.0", e.cert, e.key)); err != nil {
		t.Fatal(err)
	}
	e.reboot("B")
	if err := sys.Rollback(ctx, "health check failed"); err != nil {
		t.Fatal(err)
	}
	if got := e.state("state.B"); got != "bad" {
		t.Fatalf("state of B after Rollback: %q", got)
	}
	if got := e.state("primary"); got != "A" {
		t.Fatalf("primary after Rollback: %q", got)
	}
	st, err := sys.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Primary != "rootfs.0" || st.Slot("rootfs.1").BootStatus != "bad" {
		t.Fatalf("status after rollback: %+v", st)
	}
}

func TestMarkBad(t *testing.T) {
	e := newEnv(t)
	if err := e.system(t.TempDir()).MarkBad(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.state("state.A"); got != "bad" {
		t.Fatalf("state of A after MarkBad: %q", got)
	}
}

// TestForeignSignatureRefused: a bundle signed by a key RAUC's keyring does
// not trust is refused, rauc's reason reaches the error, and neither slot
// nor boot order changes.
func TestForeignSignatureRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sys := e.system(t.TempDir())
	cert, key := e.makeCert("intruder")
	err := sys.InstallBundle(ctx, e.bundle("evil", image("6.6.6"), "6.6.6", cert, key))
	var ce *rauc.CommandError
	if !errors.As(err, &ce) || !errors.Is(err, rauc.ErrCommand) {
		t.Fatalf("install of a foreign bundle: %v", err)
	}
	if ce.ExitCode == 0 || !strings.Contains(ce.Reason, "signature verification failed") {
		t.Fatalf("error does not carry rauc's reason: %+v", ce)
	}
	e.assertUnchanged()
}

func (e *raucEnv) assertUnchanged() {
	t := e.t
	t.Helper()
	if !slotHolds(t, e.slotB, bytes.Repeat([]byte("b"), 1<<20)) {
		t.Fatal("slot B was written")
	}
	if got := e.state("primary"); got != "A" {
		t.Fatalf("primary changed to %q", got)
	}
	if got := e.state("state.B"); got != "good" {
		t.Fatalf("state of B changed to %q", got)
	}
	if log, _ := os.ReadFile(filepath.Join(e.boot, "calls.log")); bytes.Contains(log, []byte("set-")) {
		t.Fatalf("bootloader was changed: %s", log)
	}
}

// publish puts bundle into a TUF repository served on loopback and returns
// an update.Client that installs through sys.
func publish(t *testing.T, bundle string, counter uint64, sys *rauc.System) (*update.Client, *update.Release) {
	t.Helper()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	repoDir := t.TempDir()
	repo, err := tuftest.New(repoDir, now.AddDate(1, 0, 0), true)
	must(t, err)
	b, err := os.ReadFile(bundle)
	must(t, err)
	chunks, _, err := release.HashChunks(bytes.NewReader(b), update.MinChunkSize)
	must(t, err)
	custom, err := release.EncodeDescriptor(&update.Descriptor{HardwareID: "baseline-test", ReleaseCounter: counter,
		Version: "1.4.0", Reboot: true, ChunkSize: update.MinChunkSize, Chunks: chunks})
	must(t, err)
	_, err = repo.AddTarget("rootfs/1.4.0.raucb", b, custom)
	must(t, err)
	must(t, repo.Publish())
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	t.Cleanup(srv.Close)
	c, err := update.New(update.Config{TrustedRoot: repo.RootBytes(), RepositoryURL: srv.URL, HardwareID: "baseline-test",
		Installer: sys, Dir: t.TempDir(), Now: func() time.Time { return now }})
	must(t, err)
	rel, err := c.Check(context.Background())
	if err != nil || rel == nil {
		t.Fatalf("check: %v %v", rel, err)
	}
	return c, rel
}

// TestApplyThroughUpdateClient: the TUF-verified bundle goes through
// update.Client.Apply into RAUC; slot B holds the image, B is primary, the
// staged bundle is gone, and a second Begin is refused until the reboot.
func TestApplyThroughUpdateClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := t.TempDir()
	sys := e.system(stage)
	img := image("1.4.0")
	c, rel := publish(t, e.bundle("good", img, "1.4.0", e.cert, e.key), 8, sys)
	if err := c.Apply(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if !slotHolds(t, e.slotB, img) || e.state("primary") != "B" {
		t.Fatal("slot B not written or not primary")
	}
	if _, err := os.Stat(filepath.Join(stage, "bundle.raucb")); !os.IsNotExist(err) {
		t.Fatalf("staged bundle left behind: %v", err)
	}
	if _, err := sys.Begin(ctx, rel); !errors.Is(err, update.ErrTrialPending) {
		t.Fatalf("Begin while the new slot awaits its reboot: %v", err)
	}
}

// TestApplyForeignBundleRefused: TUF vouches for the bundle, but RAUC's
// keyring does not trust its signer: Apply fails and nothing changes.
func TestApplyForeignBundleRefused(t *testing.T) {
	e := newEnv(t)
	sys := e.system(t.TempDir())
	cert, key := e.makeCert("intruder")
	c, rel := publish(t, e.bundle("evil", image("6.6.6"), "6.6.6", cert, key), 8, sys)
	if err := c.Apply(context.Background(), rel); !errors.Is(err, rauc.ErrCommand) {
		t.Fatalf("Apply of a foreign-signed bundle: %v", err)
	}
	e.assertUnchanged()
}

// TestBeginRefusesOldRelease: anti-rollback by Config.InstalledCounter,
// before anything is staged.
func TestBeginRefusesOldRelease(t *testing.T) {
	dir := t.TempDir()
	sys, err := rauc.New(rauc.Config{Binary: "/nonexistent/rauc", Dir: dir, InstalledCounter: func() uint64 { return 8 }})
	must(t, err)
	r := &update.Release{Path: "x.raucb", Length: 10, Descriptor: &update.Descriptor{ReleaseCounter: 8}}
	if _, err := sys.Begin(context.Background(), r); !errors.Is(err, update.ErrRollback) {
		t.Fatalf("Begin of counter 8 over 8: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("staged %v", ents)
	}
}

// TestInstallRefusesUnverified: nothing but a *update.Verified that
// verification produced reaches rauc (the binary does not even exist).
func TestInstallRefusesUnverified(t *testing.T) {
	sys, err := rauc.New(rauc.Config{Binary: "/nonexistent/rauc", Dir: t.TempDir()})
	must(t, err)
	for _, v := range []*update.Verified{nil, {}} {
		if err := sys.Install(context.Background(), v); !errors.Is(err, update.ErrUnverified) {
			t.Fatalf("Install(%v): %v", v, err)
		}
	}
}

func TestCommandErrorBounded(t *testing.T) {
	sh := "/bin/sh"
	script := filepath.Join(t.TempDir(), "fake-rauc")
	must(t, os.WriteFile(script, []byte("#!"+sh+"\nhead -c 100000 /dev/zero | tr '\\0' 'x' >&2\nprintf 'END\\033[31m' >&2\nexit 3\n"), 0o700))
	sys, err := rauc.New(rauc.Config{Binary: script, Dir: t.TempDir()})
	must(t, err)
	err = sys.MarkGood(context.Background())
	var ce *rauc.CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 3 {
		t.Fatalf("%v", err)
	}
	if len(ce.Stderr) > rauc.MaxStderr || !strings.HasSuffix(ce.Stderr, "END?[31m") {
		t.Fatalf("stderr kept %d bytes, ends %q", len(ce.Stderr), ce.Stderr[max(0, len(ce.Stderr)-20):])
	}
}
