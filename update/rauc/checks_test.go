package rauc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/update/rauc"
)

func runCheck(t *testing.T, s *rauc.System, id string) conformance.Result {
	t.Helper()
	for _, c := range s.Checks() {
		if c.ID == id {
			if c.Method != conformance.Measured {
				t.Fatalf("%s is %s", id, c.Method)
			}
			return c.Run(context.Background())
		}
	}
	t.Fatalf("no check %s", id)
	return conformance.Result{}
}

// TestCheckBoot: PASS on a running RAUC with the booted slot good; FAIL once
// the booted slot is marked bad, and FAIL when the service is gone.
func TestCheckBoot(t *testing.T) {
	e := newEnv(t)
	sys := e.system(t.TempDir())
	if r := runCheck(t, sys, "update.rauc-boot"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "rootfs.0") {
		t.Fatalf("healthy system: %+v", r)
	}
	if err := sys.MarkBad(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := runCheck(t, sys, "update.rauc-boot"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "marked bad") {
		t.Fatalf("booted slot marked bad: %+v", r)
	}
	e.stopService()
	if r := runCheck(t, sys, "update.rauc-boot"); r.Verdict != conformance.Fail {
		t.Fatalf("rauc service stopped: %+v", r)
	}
}

func TestCheckGate(t *testing.T) {
	sys, err := rauc.New(rauc.Config{Binary: "/nonexistent/rauc", Dir: t.TempDir(), InstalledCounter: func() uint64 { return 7 }})
	must(t, err)
	if r := runCheck(t, sys, "update.rauc-install-gate"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "counter 7") {
		t.Fatalf("%+v", r)
	}
	// Without an installed counter the adapter cannot refuse an older
	// release: the check must not pass.
	sys, err = rauc.New(rauc.Config{Binary: "/nonexistent/rauc", Dir: t.TempDir()})
	must(t, err)
	if r := runCheck(t, sys, "update.rauc-install-gate"); r.Verdict != conformance.Inconclusive {
		t.Fatalf("no installed counter: %+v", r)
	}
	// A gate that admits the installed counter: the counter source reads
	// 10 for the probe and 0 when Begin's gate asks, so the check must
	// catch the admission.
	calls := 0
	sys, err = rauc.New(rauc.Config{Binary: "/nonexistent/rauc", Dir: t.TempDir(), InstalledCounter: func() uint64 {
		calls++
		if calls == 1 {
			return 10
		}
		return 0
	}})
	must(t, err)
	if r := runCheck(t, sys, "update.rauc-install-gate"); r.Verdict != conformance.Fail {
		t.Fatalf("gate admitting the installed counter: %+v", r)
	}
}
