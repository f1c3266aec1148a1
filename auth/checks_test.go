package auth

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/internal/testenv"
)

// runCheck runs only the check with the given ID.
func runCheck(s *Service, id string) conformance.CheckResult {
	only := conformance.CheckerFunc(func() []conformance.Check {
		for _, c := range s.Checks() {
			if c.ID == id {
				return []conformance.Check{c}
			}
		}
		return nil
	})
	return conformance.RunChecks(context.Background(), only)[0]
}

func runChecks(s *Service) map[string]conformance.CheckResult {
	out := map[string]conformance.CheckResult{}
	for _, r := range conformance.RunChecks(context.Background(), s) {
		out[r.ID] = r
	}
	return out
}

func TestChecksReflectState(t *testing.T) {
	f := newFixture(t)
	res := runChecks(f.s)
	if v := res["auth.no-default-credential"].Verdict; v != conformance.Inconclusive {
		t.Fatalf("unprovisioned: %v", v)
	}
	// Test parameters are below the floor: the 5.1-3 check says so.
	if r := res["auth.hash-params"]; r.Verdict != conformance.Fail || !strings.Contains(r.Observed, "m=64") {
		t.Fatalf("weak params: %+v", r)
	}
	f.provision()
	if v := runChecks(f.s)["auth.no-default-credential"].Verdict; v != conformance.Pass {
		t.Fatalf("awaiting setup: %v", v)
	}
	f.setUp2()
	r := runChecks(f.s)["auth.no-default-credential"]
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "state=ready") {
		t.Fatalf("ready: %+v", r)
	}
}

// setUp2 completes setup on an already provisioned fixture.
func (f *fixture) setUp2() {
	f.t.Helper()
	if _, err := f.s.Setup(context.Background(), SetupRequest{Source: "192.0.2.1", SetupSecret: Password(f.secret.Reveal()), Account: ownerAcct, NewPassword: ownerPW}); err != nil {
		f.t.Fatal(err)
	}
}

// TestThrottleProbe: the live probe passes, hashes nothing, and leaves the
// real counters as they were — an attacker's penalty stays, and the owner's
// account and the global budget are not charged.
func TestThrottleProbe(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	for range 7 {
		f.login("203.0.113.5", ownerAcct, "attacker's guess 1")
	}
	attN, attW := f.s.thr.sourceState("203.0.113.5")
	acct := f.s.thr.accountState(ownerAcct)
	debt := f.s.thr.debt(f.clock.Now().UnixNano())
	hashes := f.s.hashes.get()
	for range 3 {
		r := runCheck(f.s, "auth.throttle")
		if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "still refused after replay") {
			t.Fatalf("probe: %+v", r)
		}
	}
	if n, w := f.s.thr.sourceState("203.0.113.5"); n != attN || w != attW {
		t.Fatal("probe changed an attacker's penalty")
	}
	if f.s.thr.accountState(ownerAcct) != acct || f.s.thr.debt(f.clock.Now().UnixNano()) != debt || f.s.hashes.get() != hashes {
		t.Fatal("probe charged the account, the global budget or hashed")
	}
	if n, _ := f.s.thr.sourceState(probeSource); n != 0 {
		t.Fatal("probe entry left behind")
	}
	if _, err := f.login("192.0.2.200", ownerAcct, ownerPW); err != nil {
		t.Fatalf("owner locked out after probes: %v", err)
	}
	// The probe's records survive a reboot harmlessly.
	f.reboot()
	if n, _ := f.s.thr.sourceState(probeSource); n != 0 {
		t.Fatal("probe entry back after reboot")
	}
}

func TestThrottleProbeFailsWithoutStorage(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	f.fs.FailWrites = func(string) error { return context.DeadlineExceeded }
	if r := runChecks(f.s)["auth.throttle"]; r.Verdict != conformance.Fail {
		t.Fatalf("probe with unwritable state: %+v", r)
	}
}

// TestNoHeavyDependencies: auth links none of the heavy dependencies
// (ARCHITECTURE.md rule 2) and no other SDK package.
func TestNoHeavyDependencies(t *testing.T) {
	gobin := testenv.LookPath(t, "go")
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"sigstore", "theupdateframework", "go-tuf", "tink", "go-tpm", "crypto11", "pkcs11",
			"baseline/secrets", "baseline/update", "baseline/iface", "baseline/privacy", "baseline/erase", "baseline/resilience"} {
			if strings.Contains(dep, bad) {
				t.Errorf("auth depends on %s", dep)
			}
		}
	}
}
