package rauc_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/rauc"
)

func TestParseChecksum(t *testing.T) {
	b, err := os.ReadFile("testdata/status-1.8-detailed.json")
	must(t, err)
	c, ok, err := rauc.ParseChecksum(b, "rootfs.1")
	if err != nil || !ok || c.Size != 300000 || hex.EncodeToString(c.SHA256) != "f3afdddd523158a038ba3e277225e32167084c977703815e2d1cbf544909ab36" {
		t.Fatalf("rootfs.1: %+v %v %v", c, ok, err)
	}
	if _, ok, err := rauc.ParseChecksum(b, "rootfs.0"); ok || err != nil {
		t.Fatalf("rootfs.0 (never installed): %v %v", ok, err)
	}
	if _, _, err := rauc.ParseChecksum(b, "rootfs.9"); !errors.Is(err, rauc.ErrStatus) {
		t.Fatalf("unknown slot: %v", err)
	}
	for name, doc := range map[string]string{
		"short hash": strings.Replace(string(b), "f3afdddd", "f3af", 1),
		"zero size":  strings.Replace(string(b), `"size":300000`, `"size":0`, 1),
		"no size":    strings.Replace(string(b), `,"size":300000`, ``, 1),
		"text size":  strings.Replace(string(b), `"size":300000`, `"size":"300000"`, 1),
	} {
		if _, _, err := rauc.ParseChecksum([]byte(doc), "rootfs.1"); !errors.Is(err, rauc.ErrStatus) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseChecksum(f *testing.F) {
	b, err := os.ReadFile("testdata/status-1.8-detailed.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, "rootfs.1")
	f.Add(b, "rootfs.0")
	f.Add([]byte(`{"booted":"A","slots":[{"a":{"state":"booted","slot_status":{"checksum":{"sha256":"00","size":-1}}}}]}`), "a")
	f.Fuzz(func(t *testing.T, b []byte, slot string) {
		c, ok, err := rauc.ParseChecksum(b, slot)
		if err != nil || !ok {
			return
		}
		if len(c.SHA256) != sha256.Size || c.Size <= 0 {
			t.Fatalf("accepted %+v", c)
		}
	})
}

type raucHooks struct{ calls []string }

func (h *raucHooks) integrity() update.BootIntegrity {
	return update.BootIntegrity{
		Restrict: func(context.Context) error { h.calls = append(h.calls, "restrict"); return nil },
		Alert:    func(_ context.Context, err error) { h.calls = append(h.calls, "alert") },
	}
}

// TestVerifyRunningRAUC: on a real RAUC, the factory slot (no checksum
// recorded) is not compared; the slot RAUC installed from a signed bundle
// matches after the reboot into it; once a byte of it changes, the network
// is restricted, the alert raised and the check fails.
func TestVerifyRunningRAUC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sys := e.system(t.TempDir())
	var h raucHooks
	if err := sys.VerifyRunning(ctx, h.integrity()); err != nil || len(h.calls) != 0 {
		t.Fatalf("factory slot: %v, hooks %v", err, h.calls)
	}
	if r := runCheck(t, sys, "update.boot-integrity"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Detail, "no checksum") {
		t.Fatalf("factory slot: %+v", r)
	}

	img := image("1.4.0")
	must(t, sys.InstallBundle(ctx, e.bundle("good", img, "1.4.0", e.cert, e.key)))
	e.reboot("B")
	if err := sys.VerifyRunning(ctx, h.integrity()); err != nil || len(h.calls) != 0 {
		t.Fatalf("installed slot: %v, hooks %v", err, h.calls)
	}
	if r := runCheck(t, sys, "update.boot-integrity"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "rootfs.1") {
		t.Fatalf("installed slot: %+v", r)
	}

	for _, off := range []int64{0, int64(len(img)) - 1} {
		f, err := os.OpenFile(e.slotB, os.O_RDWR, 0)
		must(t, err)
		var one [1]byte
		_, err = f.ReadAt(one[:], off)
		must(t, err)
		one[0] ^= 1
		_, err = f.WriteAt(one[:], off)
		must(t, err)
		must(t, f.Close())
		var h raucHooks
		if err := sys.VerifyRunning(ctx, h.integrity()); !errors.Is(err, update.ErrImageCorrupt) || strings.Join(h.calls, ",") != "restrict,alert" {
			t.Fatalf("byte %d changed: %v, hooks %v", off, err, h.calls)
		}
		if r := runCheck(t, sys, "update.boot-integrity"); r.Verdict != conformance.Fail || !strings.Contains(r.Observed, "does not match") {
			t.Fatalf("byte %d changed: %+v", off, r)
		}
		one[0] ^= 1 // restore for the next offset
		f, err = os.OpenFile(e.slotB, os.O_RDWR, 0)
		must(t, err)
		_, err = f.WriteAt(one[:], off)
		must(t, err)
		must(t, f.Close())
	}
}

// TestRAUCBootCheckNoticesABrokenComparison runs no rauc: the probe alone
// must fail when the comparison accepts anything.
func TestRAUCBootCheckNoticesABrokenComparison(t *testing.T) {
	sys, err := rauc.New(rauc.Config{Binary: "/nonexistent/rauc", Dir: t.TempDir()})
	must(t, err)
	if r := runCheck(t, sys, "update.boot-integrity"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Detail, "VerifyRunning") {
		t.Fatalf("not run yet: %+v", r)
	}
	rauc.SetVerify(sys, func(ctx context.Context, r io.Reader, length int64, want []byte) error { return nil })
	if r := runCheck(t, sys, "update.boot-integrity"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "broken") {
		t.Fatalf("broken comparison: %+v", r)
	}
	if err := sys.VerifyRunning(context.Background(), update.BootIntegrity{}); !errors.Is(err, rauc.ErrConfig) {
		t.Fatalf("no hooks: %v", err)
	}
}
