package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/auth/internal/argon2"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

// Checks returns the service's self-checks. All three measure: each sends
// probes through the code the device itself runs and fails when that code
// lets through what it guards against. On a healthy device none charges a
// real source's, an account's or the global throttle counter, logs an
// attack, or changes the owner's credential. None reads only
// configuration; what a check also reads (the policy, the stored hash's
// parameters) its result says it read.
//
//   - auth.no-default-credential (5.1-1, 5.1-2), measured. Once set up:
//     well-known default passwords and the account name are tried against
//     the owner's stored hash through the password check logins use (not
//     throttled, not logged), and a second setup with a random, well-formed
//     setup secret must be refused by the setup flow's state check before
//     any hash. Awaiting setup: logins with default accounts and passwords
//     must be refused by Authenticate's state check, before any hash.
//     Unprovisioned: no verdict (the factory step is missing).
//   - auth.hash-params (5.1-3), measured: a random probe password is hashed
//     exactly as new passwords are (pepper, hash slots), the PHC string it
//     produces is parsed and its parameters held against the floor, and it
//     must verify through the login check, refuse a wrong password, and
//     refuse the probe password without the pepper. The stored owner
//     hash's parameters are read too.
//   - auth.throttle (5.1-5), measured: a live probe of the throttle from a
//     reserved source, replayed from flash.
//
// The gate's check, auth.routes-declared, comes from the Gate itself ([Gate.Checks]).
//
// Cost: the two hash checks take one hash slot (Config.Hash.Memory, 19 MiB
// at the floor) while they run, one Argon2id computation at a time, so
// logins wait for them at most one hash. auth.no-default-credential makes up to 7
// verifications at the stored hash's cost, auth.hash-params 4 at
// Config.Hash: about 40 ms each at the floor on a server core, and TuneParams'
// budget each on a tuned device. A check that overruns
// conformance.DefaultCheckTimeout reports NOT_RUN, never PASS.
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
// the account name is tried too. Each one tried against the owner's hash
// costs an Argon2id verification at the stored parameters (19 MiB and tens
// of milliseconds at the floor), so the list stays short.
var defaultPasswords = []string{"", "admin", "password", "1234", "12345678", "default"}

// defaultAccounts are the account names tried while no owner exists.
var defaultAccounts = []string{"admin", "root"}

// candidates returns the default passwords and the account name, once each.
func candidates(account string) []string {
	c := append([]string(nil), defaultPasswords...)
	if !slices.Contains(c, account) {
		c = append(c, account)
	}
	return c
}

// triedText names the candidates for a report. They are public knowledge
// (this source file), never the owner's password: a report names them only
// after all were refused.
func triedText() string {
	q := make([]string, len(defaultPasswords))
	for i, p := range defaultPasswords {
		q[i] = strconv.Quote(p)
	}
	return strings.Join(q, ", ") + " and the account name"
}

// probeText returns n bytes of crypto/rand as hex: a probe secret no one
// knows, which cannot be a stored password or setup secret.
func probeText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) checkProvisioned(ctx context.Context) conformance.Result {
	s.mu.Lock()
	st, owner, verifier := s.stateLocked(), s.owner, s.verifier
	s.mu.Unlock()
	vinfo := "none"
	if verifier != "" {
		if h, err := parseHash(verifier); err == nil {
			vinfo = "argon2id verifier (" + h.Params.String() + ")"
		} else {
			return conformance.Result{Verdict: conformance.Fail, Observed: "setup verifier unreadable", Detail: err.Error()}
		}
	}
	switch st {
	case Unprovisioned:
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "state=unprovisioned; no credential works",
			Detail: "no setup-secret verifier installed: the factory provisioning step (baseline provision) has not run on this device"}
	case AwaitingSetup:
		return s.probeAwaitingSetup(ctx, vinfo)
	}
	return s.probeReady(ctx, owner, vinfo)
}

// probeAwaitingSetup sends password logins with default accounts and
// passwords through Authenticate, from the reserved probe source. Each must
// be refused by the state check at its entry, before the throttle, the log
// or the hasher is reached. Were that check broken, the first login that
// gets further is charged and logged like any other, and the check stops.
func (s *Service) probeAwaitingSetup(ctx context.Context, vinfo string) conformance.Result {
	const obs = "state=awaiting-setup"
	wctx, hashed := watchHashes(ctx)
	n := 0
	for _, acct := range defaultAccounts {
		for _, pw := range candidates(acct) {
			if err := ctx.Err(); err != nil {
				return conformance.Result{Verdict: conformance.NotRun, Detail: "probe interrupted: " + err.Error()}
			}
			n++
			_, err := s.Authenticate(wctx, Attempt{Source: probeSource, Account: acct, Password: Password(pw)})
			switch {
			case err == nil:
				return conformance.Result{Verdict: conformance.Fail, Observed: obs,
					Detail: fmt.Sprintf("a password login as %q with a well-known default password was accepted before the owner set a password", acct)}
			case !errors.Is(err, ErrNotProvisioned):
				return conformance.Result{Verdict: conformance.Fail, Observed: obs,
					Detail: fmt.Sprintf("a password login before setup was not refused outright: it reached the throttle or the password check (%v)", err)}
			}
		}
	}
	if k := hashed.n.Load(); k != 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs,
			Detail: fmt.Sprintf("password logins before setup were refused only after %d password hashes: the refusal does not come from the device's state", k)}
	}
	return conformance.Result{Verdict: conformance.Pass,
		Observed: fmt.Sprintf("%s; %d password logins (accounts %s with %s) refused before setup by the login state check, nothing hashed; only the per-device setup secret (%s) opens the setup flow",
			obs, n, strings.Join(defaultAccounts, ", "), triedText(), vinfo)}
}

// probeReady tries the default passwords against the owner's stored hash
// through checkPassword, the check Authenticate and ChangePassword make
// (which charges no throttle counter and logs nothing), then asks Setup
// for a second setup with a random, well-formed setup secret: the setup
// flow's state check must refuse it before anything is hashed, so the
// verifier (kept for a factory reset) is not consulted. Were that check
// broken, the probe goes on like any setup attempt (charged to the
// throttle, its wrong secret logged) and the check fails.
func (s *Service) probeReady(ctx context.Context, owner ownerRecord, vinfo string) conformance.Result {
	const obs = "state=ready"
	wctx, hashed := watchHashes(ctx)
	cands := candidates(owner.Account)
	for i, pw := range cands {
		ok, _, err := s.checkPassword(wctx, owner, owner.Account, pw)
		if err != nil {
			return conformance.Result{Verdict: conformance.NotRun,
				Detail: fmt.Sprintf("probe interrupted after %d of %d candidates: %v", i, len(cands), err)}
		}
		if ok {
			// Which one is not said: it is the owner's password.
			return conformance.Result{Verdict: conformance.Fail, Observed: obs,
				Detail: fmt.Sprintf("the stored credential accepts a well-known default password (%d candidates tried); change the password", len(cands))}
		}
	}
	verifications := hashed.n.Load()

	secret, err := NewSetupSecret()
	if err != nil {
		return conformance.Result{Verdict: conformance.NotRun, Detail: "no probe setup secret: " + err.Error()}
	}
	pwLen := max(32, s.cfg.Policy.MinLength)
	sctx, setupHashed := watchHashes(ctx)
	_, err = s.Setup(sctx, SetupRequest{Source: probeSource, SetupSecret: Password(secret.Reveal()), Account: "setup-probe", NewPassword: Password(probeText(pwLen))})
	switch {
	case err == nil:
		return conformance.Result{Verdict: conformance.Fail, Observed: obs,
			Detail: "a second setup with a random setup secret was accepted and replaced the owner account: reset the device"}
	case !errors.Is(err, ErrAlreadySetUp):
		return conformance.Result{Verdict: conformance.Fail, Observed: obs,
			Detail: fmt.Sprintf("a second setup was not refused as already set up: the setup flow still runs after setup (%v)", err)}
	case setupHashed.n.Load() != 0:
		return conformance.Result{Verdict: conformance.Fail, Observed: obs,
			Detail: "a second setup was refused only after the setup secret was checked against the verifier"}
	}
	return conformance.Result{Verdict: conformance.Pass,
		Observed: fmt.Sprintf("%s; owner %q's stored hash refused %s through the login password check (%d Argon2id verifications, not throttled, not logged); a second setup with a random setup secret refused by the setup state check with nothing hashed (setup verifier: %s, kept for a factory reset, not consulted); new passwords need >= %d characters and pass the blocklist (configured)",
			obs, owner.Account, triedText(), verifications, vinfo, s.cfg.Policy.MinLength)}
}

// hashPath is the path a password takes: hashed as Setup and
// ChangePassword hash a new one, checked as Authenticate checks one.
// checkHash measures the service's own (Service.hashPath); tests hand it
// broken ones.
type hashPath struct {
	hash   func(ctx context.Context, password string) (string, error)
	verify func(ctx context.Context, phc, password string) (bool, error)
}

func (s *Service) hashPath() hashPath {
	return hashPath{
		hash: s.hashPassword,
		verify: func(ctx context.Context, phc, password string) (bool, error) {
			// The probe record's account is not a valid account name, so it
			// can never be mistaken for the owner's.
			ok, _, err := s.checkPassword(ctx, ownerRecord{Account: "\x00hash-probe", Hash: phc}, "\x00hash-probe", password)
			return ok, err
		},
	}
}

func (s *Service) checkHash(ctx context.Context) conformance.Result {
	return s.measureHash(ctx, s.hashPath())
}

// measureHash hashes a random probe password along hp, reads the algorithm
// and parameters from the PHC string produced, and checks that it verifies,
// refuses a wrong password, and refuses the probe password without the
// pepper. Four Argon2id operations at Config.Hash, in the service's hash
// slots; no state is written.
func (s *Service) measureHash(ctx context.Context, hp hashPath) conformance.Result {
	s.mu.Lock()
	owner := s.owner
	s.mu.Unlock()
	floorOK := func(p Params) bool {
		return p.Memory >= FloorParams.Memory && p.Time >= FloorParams.Time && p.Threads >= FloorParams.Threads
	}
	notRun := func(err error) conformance.Result {
		return conformance.Result{Verdict: conformance.NotRun, Detail: "probe interrupted: " + err.Error()}
	}
	wctx, hashed := watchHashes(ctx)
	probe, wrong := "probe "+probeText(16), "probe "+probeText(16)
	phc, err := hp.hash(wctx, probe)
	if err != nil {
		if ctx.Err() != nil {
			return notRun(err)
		}
		return conformance.Result{Verdict: conformance.Fail, Observed: "hashing a probe password failed", Detail: err.Error()}
	}
	h, err := parseHash(phc)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: "a new password hash is not an argon2id v=19 PHC string", Detail: err.Error()}
	}
	obs := fmt.Sprintf("a random probe password hashed as new passwords are: %s, %d-byte salt, %d-byte key", h.Params, len(h.Salt), len(h.Key))
	for _, c := range []struct {
		pw, bad string
		want    bool
	}{
		{probe, "the probe hash does not verify its own password: new passwords could not log in", true},
		{wrong, "the probe hash verifies a different password", false},
	} {
		ok, err := hp.verify(wctx, phc, c.pw)
		if err != nil {
			return notRun(err)
		}
		if ok != c.want {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: c.bad}
		}
	}
	// Without the pepper, the same password must not verify: a hash that
	// does could be attacked offline from a dump of the flash alone.
	pw, _ := normalize(probe, s.cfg.Policy.MaxBytes)
	var bare bool
	if err := s.hasher.do(wctx, func(a *argon2.Arena) { bare = h.verifyIn(a, pw) }); err != nil {
		return notRun(err)
	}
	if bare {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the hash verifies the password without the pepper: it is not peppered"}
	}
	obs += fmt.Sprintf("; it verified, a wrong password and the unpeppered password were refused (%d Argon2id operations in the service's %d hash slots); new hashes are configured at %s",
		hashed.n.Load(), s.cfg.MaxConcurrentHashes, s.cfg.Hash)
	if h.Params != s.cfg.Hash {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs,
			Detail: fmt.Sprintf("a new hash does not carry the configured parameters (%s, %d-byte salt, %d-byte key)", s.cfg.Hash, s.cfg.Hash.SaltLen, s.cfg.Hash.KeyLen)}
	}
	if !floorOK(h.Params) {
		detail := "new hashes are below the floor m=19456 t=2 p=1"
		if s.cfg.InsecureWeakHash {
			detail += " (Config.InsecureWeakHash is set)"
		}
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: detail}
	}
	if owner.Account != "" {
		sh, err := parseHash(owner.Hash)
		if err != nil {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "stored hash unreadable"}
		}
		obs += "; stored owner hash read: " + sh.Params.String()
		if !floorOK(sh.Params) {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the stored hash is below the floor; it is upgraded at the owner's next login"}
		}
	}
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
