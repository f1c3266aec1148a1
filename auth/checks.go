package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

// Checks returns the service's self-checks:
//
//   - auth.no-default-credential (5.1-1, 5.1-2), measured: well-known
//     default passwords are tried against the stored credential through the
//     real password check (not counted by the throttle, not logged), and
//     once set up, a second setup is refused by the real setup path.
//   - auth.hash-params (5.1-3), measured: the parameters in force and of
//     the stored hash are read, then a random probe password is hashed the
//     way new passwords are, its output parsed for the parameters, and it
//     is verified while a wrong password is refused.
//   - auth.throttle (5.1-5), measured: a live probe of the throttle from a
//     reserved source, replayed from flash.
func (s *Service) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "auth.no-default-credential", Method: conformance.Measured, Provisions: []string{"5.1-1", "5.1-2"},
			Title: "No default password works: only a per-device setup secret or the owner's own password", Run: s.checkProvisioned},
		{ID: "auth.hash-params", Method: conformance.Measured, Provisions: []string{"5.1-3"},
			Title: "Passwords are stored as peppered Argon2id hashes at or above the OWASP floor", Run: s.checkHash},
		{ID: "auth.throttle", Method: conformance.Measured, Provisions: []string{"5.1-5"},
			Title: "Repeated failed logins are throttled, and the counters survive a power cut", Run: s.checkThrottle},
	}
}

// defaultPasswords are what an attacker tries first on a consumer device;
// the account name is tried too.
var defaultPasswords = []string{"", "admin", "password", "1234"}

// probeDefaults tries each default password against the stored credential
// through checkPassword, the function logins use, and reports whether one
// works. It charges no throttle counter and logs nothing.
func (s *Service) probeDefaults(ctx context.Context, owner ownerRecord) (bool, error) {
	account := owner.Account
	if account == "" {
		account = "admin"
	}
	for _, pw := range append(append([]string(nil), defaultPasswords...), account) {
		ok, _, err := s.checkPassword(ctx, owner, account, pw)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) checkProvisioned(ctx context.Context) conformance.Result {
	s.mu.Lock()
	st, owner, verifier := s.stateLocked(), s.owner, s.verifier
	s.mu.Unlock()
	vinfo := "none"
	if verifier != "" {
		if h, err := ParseHash(verifier); err == nil {
			vinfo = "argon2id verifier (" + h.Params.String() + ")"
		} else {
			return conformance.Result{Verdict: conformance.Fail, Observed: "setup verifier unreadable", Detail: err.Error()}
		}
	}
	tried := fmt.Sprintf("%d default passwords and the account name", len(defaultPasswords))
	if st == Unprovisioned {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "state=unprovisioned; no credential works",
			Detail: "no setup-secret verifier installed: the factory provisioning step (baseline provision) has not run on this device"}
	}
	works, err := s.probeDefaults(ctx, owner)
	if err != nil {
		return conformance.Result{Verdict: conformance.NotRun, Detail: "probe interrupted: " + err.Error()}
	}
	if works {
		// Which one is not said: it would be the owner's password.
		return conformance.Result{Verdict: conformance.Fail, Observed: "state=" + st.String(),
			Detail: "the stored credential accepts a well-known default password (" + tried + " tried); change the password"}
	}
	switch st {
	case Ready:
		// A second setup must be refused by the setup path itself, before
		// any secret is looked at.
		if _, err := s.Setup(ctx, SetupRequest{Source: probeSource, SetupSecret: "probe", Account: "probe", NewPassword: "probe"}); !errors.Is(err, ErrAlreadySetUp) {
			return conformance.Result{Verdict: conformance.Fail, Observed: "state=ready", Detail: fmt.Sprintf("a second setup was not refused as already set up (%v)", err)}
		}
		return conformance.Result{Verdict: conformance.Pass,
			Observed: fmt.Sprintf("state=ready; owner %q's credential refused %s; a second setup refused; owner passwords need >= %d characters and pass the blocklist; setup secret: %s", owner.Account, tried, s.cfg.Policy.MinLength, vinfo)}
	}
	return conformance.Result{Verdict: conformance.Pass,
		Observed: "state=awaiting-setup; no password login accepted (" + tried + " refused); only the per-device setup secret (" + vinfo + ") opens the setup flow"}
}

func (s *Service) checkHash(ctx context.Context) conformance.Result {
	s.mu.Lock()
	owner := s.owner
	s.mu.Unlock()
	cur := s.cfg.Hash
	obs := fmt.Sprintf("new hashes: %s; pepper: held in the vault; at most %d hashes in flight", cur, s.cfg.MaxConcurrentHashes)
	floorOK := func(p Params) bool {
		return p.Memory >= FloorParams.Memory && p.Time >= FloorParams.Time && p.Threads >= FloorParams.Threads
	}
	if !floorOK(cur) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "parameters below the floor m=19456 t=2 p=1 (Config.InsecureWeakHash is set)"}
	}
	if owner.Account != "" {
		h, err := ParseHash(owner.Hash)
		if err != nil {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "stored hash unreadable"}
		}
		obs += "; stored: " + h.Params.String()
		if !floorOK(h.Params) {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the stored hash is below the floor; it is upgraded at the owner's next login"}
		}
	}
	// Hash a random probe password the way a new password is hashed (same
	// pepper, same limiter), then read back what was produced: the
	// parameters in the output, a verify of the probe, a refusal of
	// another password.
	probe := rand.Text()
	phc, err := s.hashPassword(ctx, probe)
	if err != nil {
		return conformance.Result{Verdict: conformance.NotRun, Observed: obs, Detail: "probe hash not made: " + err.Error()}
	}
	h, err := ParseHash(phc)
	if err != nil || !floorOK(h.Params) || h.Params != cur {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: fmt.Sprintf("a new hash does not carry the configured parameters (%v)", err)}
	}
	rec := ownerRecord{Account: "\x00probe", Hash: phc}
	okProbe, _, err1 := s.checkPassword(ctx, rec, rec.Account, probe)
	okOther, _, err2 := s.checkPassword(ctx, rec, rec.Account, probe+"x")
	if err := errors.Join(err1, err2); err != nil {
		return conformance.Result{Verdict: conformance.NotRun, Observed: obs, Detail: "probe verify interrupted: " + err.Error()}
	}
	if !okProbe || okOther {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: fmt.Sprintf("a probe hash did not verify as it should (right password accepted: %t, wrong one accepted: %t)", okProbe, okOther)}
	}
	obs += "; tested: a probe password hashed as argon2id " + h.Params.String() + ", verified, and a wrong one refused"
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// checkThrottle makes failed attempts from a reserved probe source (which
// no real request can map to and which touches neither the account nor the
// global counters), checks that the next is refused, replays the log from
// flash to check the refusal survives a reboot, then forgets the probe.
// Nothing is hashed.
func (s *Service) checkThrottle(ctx context.Context) conformance.Result {
	t := s.thr
	c := t.cfg
	obs := fmt.Sprintf("per source: %d free, then %s doubling to %s (IPv6 by /64, table of %d, penalised entries never evicted); per account: %d free; global: %d per %s",
		c.SourceFree, c.BaseDelay, c.MaxDelay, c.MaxSources, c.AccountFree, c.GlobalBudget, c.GlobalWindow)
	if err := t.forget(probeSource); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "throttle state cannot be written: " + err.Error()}
	}
	defer t.forget(probeSource)
	for i := 0; i < c.SourceFree; i++ {
		if err := ctx.Err(); err != nil {
			return conformance.Result{Verdict: conformance.NotRun, Detail: err.Error()}
		}
		if _, err := t.admitKey(probeSource, "", flagProbe); err != nil {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: fmt.Sprintf("probe attempt %d refused early: %v", i+1, err)}
		}
	}
	_, err := t.admitKey(probeSource, "", flagProbe)
	var th ErrThrottled
	if !errors.As(err, &th) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: fmt.Sprintf("attempt %d after %d failures was not throttled (%v)", c.SourceFree+1, c.SourceFree, err)}
	}
	w, err := t.replayWait(probeSource)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "replaying the throttle log: " + err.Error()}
	}
	if w <= 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the refusal did not survive a replay of the log: a power cut would reset it"}
	}
	obs = fmt.Sprintf("%d failures from a test source, attempt %d refused for %s, still refused after replay from flash; %s",
		c.SourceFree, c.SourceFree+1, th.RetryAfter.Round(1e6), obs)
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// replayWait rebuilds the throttle from its log on flash, as after a
// reboot, and returns the wait it would impose on src.
func (t *throttle) replayWait(src string) (w time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// No append is in flight while t.mu is held, so the file is whole and
	// opening it again cuts nothing.
	l, err := durable.OpenLog(t.fsys, t.name, durable.LogOptions{MaxRecord: throttleMaxRecord})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	r := &throttle{cfg: t.cfg, now: t.now, bootAt: t.bootAt, base: t.base}
	r.reset()
	if err := l.Scan(func(_ int64, rec []byte) error { return r.apply(rec) }); err != nil {
		return 0, err
	}
	now := t.clock()
	_, e := r.lookup(&r.src, src, r.cfg.SourceFree, now, false)
	return r.wait(e, r.cfg.SourceFree, now), nil
}
