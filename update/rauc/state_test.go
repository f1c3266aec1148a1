package rauc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/rauc"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// fakeSetup is one adapter over a CrashFS and a model of rauc, with a
// release of bundle published in a TUF repository.
type fakeSetup struct {
	fsys *durable.CrashFS
	fake *fakeRAUC
	sys  *rauc.System
	repo *tufRepo
	c    *update.Client
	rel  *update.Release
}

func newFakeSetup(t *testing.T) *fakeSetup {
	t.Helper()
	bundle := make([]byte, 3*update.MinChunkSize+7)
	rand.Read(bundle)
	s := &fakeSetup{fsys: durable.NewCrashFS(), fake: newFake(), repo: newRepo(t)}
	s.fake.want = [][]byte{bundle}
	s.repo.add("rootfs-1.4.0.raucb", bundle, 8)
	var err error
	s.sys, err = openFake(t, s.fsys, s.fake)
	must(t, err)
	s.c = s.repo.client(s.sys)
	s.rel, err = s.c.Check(context.Background())
	if err != nil || s.rel == nil {
		t.Fatalf("check: %v %v", s.rel, err)
	}
	return s
}

// download runs Begin and the verified download, as Apply does, and
// returns the *update.Verified without installing it.
func (s *fakeSetup) download(t *testing.T) *update.Verified {
	t.Helper()
	ctx := context.Background()
	slot, err := s.sys.Begin(ctx, s.rel)
	must(t, err)
	v, err := s.c.Download(ctx, s.rel, slot)
	must(t, err)
	return v
}

// TestInstallRefusesChangedStaging: the staged bundle is changed on disk
// after its verified download; Install reads it back, refuses it, and rauc
// is never asked to install anything.
func TestInstallRefusesChangedStaging(t *testing.T) {
	s := newFakeSetup(t)
	v := s.download(t)
	f, err := s.fsys.OpenFile(crashDir+"/bundle.raucb", os.O_RDWR, 0)
	must(t, err)
	_, err = f.Seek(update.MinChunkSize+1, io.SeekStart)
	must(t, err)
	_, err = f.Write([]byte("X"))
	must(t, err)
	must(t, f.Close())
	if err := s.sys.Install(context.Background(), v); err == nil || !errors.Is(err, update.ErrTarget) {
		t.Fatalf("Install of a changed bundle: %v", err)
	}
	if s.fake.installs != 0 || len(s.fake.bad) != 0 {
		t.Fatalf("rauc installed %d, %v", s.fake.installs, s.fake.bad)
	}
	if s.fake.primary != 0 || !s.fake.good[1] {
		t.Fatal("boot order or slot marks changed")
	}
}

// TestInstallRefusesRejected: a release rejected between its download and
// Install (a Verified in hand) is refused by Install with
// update.ErrRejected, and rauc installs nothing.
func TestInstallRefusesRejected(t *testing.T) {
	s := newFakeSetup(t)
	v := s.download(t)
	must(t, rauc.Reject(s.sys, s.rel, "failed elsewhere"))
	if err := s.sys.Install(context.Background(), v); !errors.Is(err, update.ErrRejected) {
		t.Fatalf("Install of a rejected release: %v", err)
	}
	if s.fake.installs != 0 {
		t.Fatal("rauc installed a rejected release")
	}
}

// TestInterruptedRAUCInstall: power fails while rauc writes the slot
// (rauc has marked the target bad; the boot order is unchanged) and
// before the adapter can clear its record. At the next start the record is
// settled as "rauc never finished": the release is not rejected (it never
// ran) and installs again.
func TestInterruptedRAUCInstall(t *testing.T) {
	s := newFakeSetup(t)
	s.fake.failInstall = true
	s.fake.crash = true
	if err := s.c.Apply(context.Background(), s.rel); err == nil {
		t.Fatal("Apply succeeded through a power loss")
	}
	fsys := s.fsys.Reboot(durable.KeepUnsynced)
	s.fake.reboot()
	sys, err := openFake(t, fsys, s.fake)
	must(t, err)
	if rj, err := sys.Reconcile(context.Background()); err != nil || rj != nil {
		t.Fatalf("Reconcile: %+v %v", rj, err)
	}
	if sys.Rejected(s.rel) {
		t.Fatal("a release that never ran was rejected")
	}
	c := s.repo.client(sys)
	if _, err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(context.Background(), s.rel); err != nil || s.fake.installs != 1 {
		t.Fatalf("install after the interrupted one: %v", err)
	}
}

// TestRejectedBounded: at most update.MaxRejected releases are remembered,
// the oldest forgotten first, and the list survives a restart.
func TestRejectedBounded(t *testing.T) {
	fsys := durable.NewCrashFS()
	fake := newFake()
	sys, err := openFake(t, fsys, fake)
	must(t, err)
	rel := func(i int) *update.Release {
		h := sha256.Sum256(fmt.Appendf(nil, "release %d", i))
		return &update.Release{Path: fmt.Sprintf("r%d.raucb", i), Length: 100, Hashes: metadata.Hashes{"sha256": h[:]},
			Descriptor: &update.Descriptor{ReleaseCounter: uint64(i + 1)}}
	}
	n := update.MaxRejected + 5
	for i := range n {
		must(t, rauc.Reject(sys, rel(i), "bad"))
	}
	sys, err = openFake(t, fsys.Reboot(durable.DropUnsynced), fake)
	must(t, err)
	if got := len(sys.RejectedReleases()); got != update.MaxRejected {
		t.Fatalf("%d rejected kept", got)
	}
	if sys.Rejected(rel(4)) || !sys.Rejected(rel(5)) || !sys.Rejected(rel(n-1)) {
		t.Fatal("not the newest MaxRejected kept")
	}
	// Same counter, another image: a different release.
	other := rel(n - 1)
	other.Hashes = metadata.Hashes{"sha256": bytes.Repeat([]byte{1}, 32)}
	if sys.Rejected(other) {
		t.Fatal("a different image with the same counter counts as rejected")
	}
}

// TestStateFileRefused: a state file the adapter did not write stops New
// (ErrState) instead of being guessed around.
func TestStateFileRefused(t *testing.T) {
	for name, b := range map[string]string{
		"garbage":       "not json",
		"format":        `{"format":2}`,
		"unknown field": `{"format":1,"extra":1}`,
		"trailing":      `{"format":1}{}`,
		"staging":       `{"format":1,"staging":{"path":"x","counter":1,"length":0,"sha256":"` + fmt.Sprintf("%064x", 0) + `"}}`,
		"bad hash":      `{"format":1,"rejected":[{"release":{"path":"x","counter":1,"length":1,"sha256":"AB"},"reason":""}]}`,
		"trial":         `{"format":1,"trial":{"release":{"path":"x","counter":1,"length":1,"sha256":"` + fmt.Sprintf("%064x", 0) + `"},"from":"a","done":true}}`,
	} {
		fsys := durable.NewCrashFS()
		must(t, fsys.MkdirAll(crashDir, 0o700))
		must(t, durable.WriteFile(fsys, crashDir+"/state.json", []byte(b), 0o600))
		if _, err := openFake(t, fsys, newFake()); !errors.Is(err, rauc.ErrState) {
			t.Errorf("%s: New: %v", name, err)
		}
	}
}

func FuzzState(f *testing.F) {
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":1,"trial":{"release":{"path":"x","counter":1,"length":1,"sha256":"` + fmt.Sprintf("%064x", 0) + `"},"from":"rootfs.0","done":true,"slot":"rootfs.1"},"rejected":[{"release":{"path":"y","counter":2,"length":5,"sha256":"` + fmt.Sprintf("%064x", 1) + `"},"reason":"r","auto":true}]}`))
	f.Add([]byte(`{"format":1,"rejected":[]}`))
	f.Add([]byte(`{"format":1,"epoch":3,"staging":{"path":"x","counter":1,"length":9,"sha256":"` + fmt.Sprintf("%064x", 2) + `"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys := durable.NewCrashFS()
		must(t, fsys.MkdirAll(crashDir, 0o700))
		must(t, durable.WriteFile(fsys, crashDir+"/state.json", b, 0o600))
		sys, err := openFake(t, fsys, newFake())
		if err != nil {
			if !errors.Is(err, rauc.ErrState) {
				t.Fatalf("not ErrState: %v", err)
			}
			return
		}
		if len(sys.RejectedReleases()) > update.MaxRejected {
			t.Fatal("unbounded")
		}
		// What was accepted survives being written back by a change.
		if _, err := sys.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := openFake(t, fsys, newFake()); err != nil {
			t.Fatalf("state written back is refused: %v", err)
		}
	})
}

// TestCheckGateRejected: with a release remembered as rejected, the gate
// check probes that Begin refuses it, and FAILs when the gate admits it.
func TestCheckGateRejected(t *testing.T) {
	s := newFakeSetup(t)
	must(t, rauc.Reject(s.sys, s.rel, "bad"))
	// No installed counter is configured here, so the best it can say is
	// INCONCLUSIVE; the rejected release is still probed.
	if r := runCheck(t, s.sys, "update.rauc-install-gate"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Observed, "failed its trial here") {
		t.Fatalf("%+v", r)
	}
	rauc.SetAdmit(s.sys, func(*update.Release) error { return nil })
	if r := runCheck(t, s.sys, "update.rauc-install-gate"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "admitted") {
		t.Fatalf("gate admitting a rejected release: %+v", r)
	}
}
