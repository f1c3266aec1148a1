package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

// hooks records what VerifyRunning asked the device to do, in order.
type hooks struct {
	calls      []string
	alerted    error
	restrictTo error // what Restrict returns
}

func (h *hooks) integrity() BootIntegrity {
	return BootIntegrity{
		Restrict: func(context.Context) error { h.calls = append(h.calls, "restrict"); return h.restrictTo },
		Alert:    func(_ context.Context, err error) { h.calls = append(h.calls, "alert"); h.alerted = err },
	}
}

// committedEnv installs release 2 through the client (from the signed
// repository) and commits it: slot b runs, recorded from a verified target.
func committedEnv(t *testing.T) *abEnv {
	t.Helper()
	e := newABEnv(t, nil)
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(2)); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	e.boot()
	if err := e.ab.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	if d := e.boot(); d.Slot != "b" || d.Trial {
		t.Fatalf("boot after commit: %+v", d)
	}
	return e
}

// TestVerifyRunningDetectsAChangedSlot: whatever changes the committed
// running slot — a flipped first, middle or last byte, a byte cut off or
// one added — the start-up verification restricts the network, then
// alerts, each exactly once; the self-check fails; and nothing is written.
func TestVerifyRunningDetectsAChangedSlot(t *testing.T) {
	slot := abDir + "/slot-b"
	tampers := map[string]func([]byte) []byte{
		"first byte":  func(b []byte) []byte { b[0] ^= 1; return b },
		"middle byte": func(b []byte) []byte { b[len(b)/2] ^= 0x80; return b },
		"last byte":   func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"truncated":   func(b []byte) []byte { return b[:len(b)-1] },
		"extended":    func(b []byte) []byte { return append(b, 0) },
	}
	for name, tamper := range tampers {
		t.Run(name, func(t *testing.T) {
			e := committedEnv(t)
			writeAll(t, e, slot, tamper(e.slotContent(slot)))
			e.reboot()
			ops := e.fx.fs.Ops()
			var h hooks
			err := e.ab.VerifyRunning(context.Background(), h.integrity())
			if !errors.Is(err, ErrImageCorrupt) {
				t.Fatalf("VerifyRunning = %v, want ErrImageCorrupt", err)
			}
			if strings.Join(h.calls, ",") != "restrict,alert" {
				t.Fatalf("hooks called %v, want restrict then alert, once each", h.calls)
			}
			if !errors.Is(h.alerted, ErrImageCorrupt) {
				t.Fatalf("alert got %v", h.alerted)
			}
			r := runABCheck(t, e.ab, "update.boot-integrity")
			if r.Verdict != conformance.Fail || !strings.Contains(r.Observed, "does not match") || !strings.Contains(r.Observed, "Restrict returned nil") {
				t.Fatalf("check: %s %q %q", r.Verdict, r.Observed, r.Detail)
			}
			if got := e.fx.fs.Ops(); got != ops {
				t.Fatalf("verification and check wrote to storage (%d operations)", got-ops)
			}
		})
	}
}

// TestVerifyRunningIntact: an unchanged slot passes, no hook is called,
// and the check reports what was read.
func TestVerifyRunningIntact(t *testing.T) {
	e := committedEnv(t)
	ops := e.fx.fs.Ops()
	var h hooks
	if err := e.ab.VerifyRunning(context.Background(), h.integrity()); err != nil {
		t.Fatal(err)
	}
	if len(h.calls) != 0 {
		t.Fatalf("hooks called on an intact slot: %v", h.calls)
	}
	r := runABCheck(t, e.ab, "update.boot-integrity")
	want := "slot b (plug/2.bin 2.0.0, release counter 2) was read: " + strconv.Itoa(len(e.img[2])) + " bytes, SHA-256 matches"
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, want) {
		t.Fatalf("check: %s %q %q", r.Verdict, r.Observed, r.Detail)
	}
	if got := e.fx.fs.Ops(); got != ops {
		t.Fatalf("verification and check wrote to storage (%d operations)", got-ops)
	}
}

// TestVerifyRunningChecksTheSlotOnTrial: during a trial the running image
// is the new one; a change to it is found, a change to the committed slot
// (not running) is left to update.installed-image.
func TestVerifyRunningChecksTheSlotOnTrial(t *testing.T) {
	e := newABEnv(t, nil)
	ctx := context.Background()
	if err := e.c.Apply(ctx, e.release(2)); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	if d := e.boot(); !d.Trial || d.Slot != "b" {
		t.Fatalf("trial boot: %+v", d)
	}
	corrupt(t, e.fx.fs, abDir+"/slot-a", 5)
	var h hooks
	if err := e.ab.VerifyRunning(ctx, h.integrity()); err != nil || len(h.calls) != 0 {
		t.Fatalf("trial image intact: %v, hooks %v", err, h.calls)
	}
	if r := runABCheck(t, e.ab, "update.boot-integrity"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "on trial") {
		t.Fatalf("check: %s %q", r.Verdict, r.Observed)
	}
	corrupt(t, e.fx.fs, abDir+"/slot-b", 5)
	if err := e.ab.VerifyRunning(ctx, h.integrity()); !errors.Is(err, ErrImageCorrupt) || len(h.calls) != 2 {
		t.Fatalf("trial image changed: %v, hooks %v", err, h.calls)
	}
}

// TestVerifyRunningMissingSlotFailsClosed: a slot that cannot be read is
// treated as a changed one.
func TestVerifyRunningMissingSlotFailsClosed(t *testing.T) {
	e := committedEnv(t)
	if err := e.fx.fs.Remove(abDir + "/slot-b"); err != nil {
		t.Fatal(err)
	}
	var h hooks
	if err := e.ab.VerifyRunning(context.Background(), h.integrity()); !errors.Is(err, ErrImageCorrupt) || len(h.calls) != 2 {
		t.Fatalf("missing slot: %v, hooks %v", err, h.calls)
	}
	if r := runABCheck(t, e.ab, "update.boot-integrity"); r.Verdict != conformance.Fail {
		t.Fatalf("check: %s", r.Verdict)
	}
}

// TestVerifyRunningRestrictFails: a restriction that did not take effect
// is returned, passed to the alert and named by the failing check.
func TestVerifyRunningRestrictFails(t *testing.T) {
	e := committedEnv(t)
	corrupt(t, e.fx.fs, abDir+"/slot-b", 0)
	fw := errors.New("nft: permission denied")
	h := hooks{restrictTo: fw}
	err := e.ab.VerifyRunning(context.Background(), h.integrity())
	if !errors.Is(err, ErrImageCorrupt) || !errors.Is(err, fw) || !errors.Is(h.alerted, fw) {
		t.Fatalf("VerifyRunning = %v; alert got %v", err, h.alerted)
	}
	if r := runABCheck(t, e.ab, "update.boot-integrity"); r.Verdict != conformance.Fail || !strings.Contains(r.Observed, "restriction FAILED (nft: permission denied)") {
		t.Fatalf("check: %s %q", r.Verdict, r.Observed)
	}
}

// TestBootIntegrityCheckInconclusive: before VerifyRunning ran, with a
// factory image that has no hash, and when the read was interrupted, the
// check vouches for nothing and no hook is called.
func TestBootIntegrityCheckInconclusive(t *testing.T) {
	e := newABEnv(t, nil)
	if r := runABCheck(t, e.ab, "update.boot-integrity"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Detail, "VerifyRunning") {
		t.Fatalf("not run: %s %q", r.Verdict, r.Detail)
	}
	corrupt(t, e.fx.fs, abDir+"/slot-a", 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var h hooks
	if err := e.ab.VerifyRunning(ctx, h.integrity()); !errors.Is(err, context.Canceled) || len(h.calls) != 0 {
		t.Fatalf("cancelled: %v, hooks %v", err, h.calls)
	}
	if r := runABCheck(t, e.ab, "update.boot-integrity"); r.Verdict != conformance.Inconclusive {
		t.Fatalf("after a cancelled read: %s", r.Verdict)
	}

	nohash := newABEnv(t, func(c *FileABConfig) { c.Factory.SHA256, c.Factory.Length = nil, 0 })
	if err := nohash.ab.VerifyRunning(context.Background(), h.integrity()); err != nil || len(h.calls) != 0 {
		t.Fatalf("factory without hash: %v, hooks %v", err, h.calls)
	}
	if r := runABCheck(t, nohash.ab, "update.boot-integrity"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Detail, "Factory.SHA256") {
		t.Fatalf("factory without hash: %s %q", r.Verdict, r.Detail)
	}
}

func TestVerifyRunningNeedsBothHooks(t *testing.T) {
	e := newABEnv(t, nil)
	var h hooks
	for _, bi := range []BootIntegrity{{}, {Alert: h.integrity().Alert}, {Restrict: h.integrity().Restrict}} {
		if err := e.ab.VerifyRunning(context.Background(), bi); !errors.Is(err, ErrConfig) {
			t.Fatalf("VerifyRunning(%+v) = %v, want ErrConfig", bi, err)
		}
	}
	if r := runABCheck(t, e.ab, "update.boot-integrity"); r.Verdict != conformance.Inconclusive {
		t.Fatalf("refused call left a finding: %s", r.Verdict)
	}
}

// TestBootIntegrityCheckFailsWhenTheComparisonIsBroken: a comparison that
// accepts anything lets a changed slot through VerifyRunning; the check's
// probe catches it.
func TestBootIntegrityCheckFailsWhenTheComparisonIsBroken(t *testing.T) {
	e := committedEnv(t)
	e.ab.verifyStream = func(ctx context.Context, r io.Reader, length int64, want []byte, exact bool) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	corrupt(t, e.fx.fs, abDir+"/slot-b", 0)
	var h hooks
	if err := e.ab.VerifyRunning(context.Background(), h.integrity()); err != nil {
		t.Fatalf("broken comparison: %v", err) // the breakage the check must expose
	}
	r := runABCheck(t, e.ab, "update.boot-integrity")
	if r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "comparison used at start is broken") {
		t.Fatalf("check with a broken comparison: %s %q", r.Verdict, r.Detail)
	}
}

// TestVerifyStream covers the comparison on its own, including a reader
// shorter than the image and a wrong-sized digest.
func TestVerifyStream(t *testing.T) {
	ctx := context.Background()
	img := randomImage(t, verifyBufSize*2+3)
	digest := sha256.Sum256(img)
	sum := digest[:]
	if err := verifyStream(ctx, bytes.NewReader(img), int64(len(img)), sum, true); err != nil {
		t.Fatal(err)
	}
	// Not exact (a block device): bytes past the image are not compared.
	if err := verifyStream(ctx, bytes.NewReader(append(img, 1, 2)), int64(len(img)), sum, false); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		r    []byte
		want []byte
	}{
		"short":      {img[:len(img)-1], sum},
		"long":       {append(append([]byte(nil), img...), 0), sum},
		"bad digest": {img, sum[:31]},
	} {
		if err := verifyStream(ctx, bytes.NewReader(c.r), int64(len(img)), c.want, true); !errors.Is(err, ErrImageCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
