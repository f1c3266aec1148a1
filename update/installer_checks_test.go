package update

import (
	"context"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

func runABCheck(t *testing.T, ab *FileAB, id string) conformance.Result {
	t.Helper()
	for _, c := range ab.Checks() {
		if c.ID == id {
			return c.Run(context.Background())
		}
	}
	t.Fatalf("no check %s", id)
	return conformance.Result{}
}

func TestFileABChecksPassOnAHealthyDevice(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	for _, id := range []string{"update.install-gate", "update.installed-image", "update.trial-boot"} {
		if r := runABCheck(t, e.ab, id); r.Verdict != conformance.Pass {
			t.Errorf("factory: %s = %s: %s", id, r.Verdict, r.Detail)
		}
	}
	if err := e.c.Apply(ctx, e.release(2)); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	e.boot()
	r := runABCheck(t, e.ab, "update.installed-image")
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "on trial") {
		t.Fatalf("during trial: %s %s %s", r.Verdict, r.Observed, r.Detail)
	}
	if r := runABCheck(t, e.ab, "update.install-gate"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "while one is on trial") {
		t.Fatalf("gate during trial: %s %s %s", r.Verdict, r.Observed, r.Detail)
	}
	if err := e.ab.Rollback(ctx, "no"); err != nil {
		t.Fatal(err)
	}
	r = runABCheck(t, e.ab, "update.install-gate")
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "rejected release 2 refused") {
		t.Fatalf("gate after rollback: %s %s %s", r.Verdict, r.Observed, r.Detail)
	}
	if r := runABCheck(t, e.ab, "update.trial-boot"); !strings.Contains(r.Observed, "after 3 trial boots") || !strings.Contains(r.Observed, "1 release(s) refused") {
		t.Fatalf("trial-boot observed %q", r.Observed)
	}
	for _, c := range e.ab.Checks() {
		if c.Method != conformance.Measured && c.ID != "update.trial-boot" {
			t.Errorf("%s is not measured", c.ID)
		}
	}
}

// TestFileABGateCheckFailsWhenTheGateIsBroken: the install-gate check
// goes through the gates Install and Begin use, so a broken gate fails it.
func TestFileABGateCheckFailsWhenTheGateIsBroken(t *testing.T) {
	e := newABEnv(t, nil)
	e.ab.accept = func(*Verified) error { return nil }
	if r := runABCheck(t, e.ab, "update.install-gate"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "unverified image accepted") {
		t.Fatalf("accepting gate: %s %s", r.Verdict, r.Detail)
	}
	e = newABEnv(t, nil)
	e.ab.admit = func(st *abState, r *Release) (imageRec, error) { return imageOf(r), nil }
	if r := runABCheck(t, e.ab, "update.install-gate"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "release counter 1 admitted") {
		t.Fatalf("admitting gate: %s %s", r.Verdict, r.Detail)
	}
	// A gate that forgets rejected releases.
	e = newABEnv(t, nil)
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(2)); err != nil {
		t.Fatal(err)
	}
	e.boot()
	if err := e.ab.Rollback(ctx, "no"); err != nil {
		t.Fatal(err)
	}
	e.ab.admit = func(st *abState, r *Release) (imageRec, error) {
		st = st.next("probe")
		st.Rejected = nil
		return admitRelease(st, r)
	}
	if r := runABCheck(t, e.ab, "update.install-gate"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "rejected release 2 admitted") {
		t.Fatalf("gate without rejections: %s %s", r.Verdict, r.Detail)
	}
}

func TestFileABImageCheckFailsOnAChangedSlot(t *testing.T) {
	e := newABEnv(t, nil)
	corrupt(t, e.fx.fs, abDir+"/slot-a", 1234)
	if r := runABCheck(t, e.ab, "update.installed-image"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "committed slot a") {
		t.Fatalf("changed factory slot: %s %s", r.Verdict, r.Detail)
	}

	e = newABEnv(t, nil)
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	e.boot()
	if err := e.ab.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := e.slotContent(abDir + "/slot-b")
	writeAll(t, e, abDir+"/slot-b", b[:len(b)-1])
	if r := runABCheck(t, e.ab, "update.installed-image"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "holds") {
		t.Fatalf("truncated committed slot: %s %s", r.Verdict, r.Detail)
	}
	writeAll(t, e, abDir+"/slot-b", append(b, 0))
	if r := runABCheck(t, e.ab, "update.installed-image"); r.Verdict != conformance.Fail {
		t.Fatalf("committed slot with trailing bytes: %s %s", r.Verdict, r.Detail)
	}
	writeAll(t, e, abDir+"/slot-b", b)
	if r := runABCheck(t, e.ab, "update.installed-image"); r.Verdict != conformance.Pass {
		t.Fatalf("restored slot: %s %s", r.Verdict, r.Detail)
	}
}

// TestFileABImageCheckFailsWhenThePointerMoved: a transition written by
// another process (the journal on storage no longer what this installer
// runs on) fails the check.
func TestFileABImageCheckFailsWhenThePointerMoved(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(3)); err != nil {
		t.Fatal(err)
	}
	other, err := NewFileAB(e.config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if r := runABCheck(t, e.ab, "update.installed-image"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "not the state in force") {
		t.Fatalf("moved pointer: %s %s", r.Verdict, r.Detail)
	}
}

func TestFileABImageCheckInconclusiveWithoutFactoryHash(t *testing.T) {
	e := newABEnv(t, func(c *FileABConfig) { c.Factory.SHA256, c.Factory.Length = nil, 0 })
	if r := runABCheck(t, e.ab, "update.installed-image"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Detail, "Factory.SHA256") {
		t.Fatalf("factory without hash: %s %s", r.Verdict, r.Detail)
	}
}

func writeAll(t *testing.T, e *abEnv, name string, b []byte) {
	t.Helper()
	if err := durable.WriteFile(e.fx.fs, name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
