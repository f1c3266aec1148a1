package auth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

// checkMethod returns the Method the service declares for a check.
func checkMethod(t *testing.T, s *Service, id string) conformance.Method {
	t.Helper()
	for _, c := range s.Checks() {
		if c.ID == id {
			return c.Method
		}
	}
	t.Fatalf("no check %s", id)
	return ""
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLog sends the service's log, at every level, to buf.
func withLog(buf *lockedBuffer) func(*Config) {
	return func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// deviceState is everything a self-check must leave as it found it.
type deviceState struct {
	owner    ownerRecord
	verifier string
	state    State
	vault    map[string][]byte
	flash    map[string][]byte
	counters [5]uint32
	debt     float64
	log      string
}

func snapshotState(f *fixture, log *lockedBuffer) deviceState {
	f.t.Helper()
	f.s.mu.Lock()
	d := deviceState{owner: f.s.owner, verifier: f.s.verifier, state: f.s.stateLocked()}
	f.s.mu.Unlock()
	d.vault, d.flash = f.vault.snapshot(), f.fs.Contents()
	n1, _ := f.s.thr.sourceState(SourceKey(probeSource)) // the key a probe request through the public API gets
	n2, _ := f.s.thr.sourceState(probeSource)
	d.counters = [5]uint32{n1, n2, f.s.thr.accountState(ownerAcct), f.s.thr.accountState(setupAccount), f.s.thr.accountState("admin")}
	d.debt = f.s.thr.debt(f.clock.Now().UnixNano())
	d.log = log.String()
	return d
}

// diff names what changed from d to e, or returns "".
func (d deviceState) diff(e deviceState) string {
	switch {
	case d.owner != e.owner:
		return "owner record"
	case d.verifier != e.verifier || d.state != e.state:
		return "setup verifier or state"
	case !maps.EqualFunc(d.vault, e.vault, bytes.Equal):
		return "vault"
	case !maps.EqualFunc(d.flash, e.flash, bytes.Equal):
		return "flash (throttle log)"
	case d.counters != e.counters || d.debt != e.debt:
		return fmt.Sprintf("throttle counters %v/%v -> %v/%v", d.counters, d.debt, e.counters, e.debt)
	case d.log != e.log:
		return "log: " + strings.TrimPrefix(e.log, d.log)
	}
	return ""
}

// setOwnerPassword stores a hash of pw for the owner, around the policy (as
// a legacy migration might).
func setOwnerPassword(t *testing.T, f *fixture, pw string) {
	t.Helper()
	phc, err := f.s.hashPassword(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	f.s.mu.Lock()
	rec := f.s.owner
	rec.Hash = phc
	err = f.s.putOwner(context.Background(), rec)
	f.s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoDefaultCredentialReady: once set up, the check tries default
// passwords against the stored hash through the real password check and a
// second setup through the real setup path. Healthy, it passes and changes
// nothing: no throttle counter, no flash write, no owner or verifier
// change, no log line. An owner whose stored password is a default one
// fails it, and the result never names the password.
func TestNoDefaultCredentialReady(t *testing.T) {
	var log lockedBuffer
	f := newFixture(t, withLog(&log))
	f.setUp()
	if m := checkMethod(t, f.s, "auth.no-default-credential"); m != conformance.Measured {
		t.Fatalf("method %q", m)
	}
	before := snapshotState(f, &log)
	hashes := f.s.hashes.get()
	r := runCheck(f.s, "auth.no-default-credential")
	if r.Verdict != conformance.Pass || r.Method != conformance.Measured ||
		!strings.Contains(r.Observed, "7 Argon2id verifications") || !strings.Contains(r.Observed, "second setup with a random setup secret refused") {
		t.Fatalf("healthy owner: %+v", r)
	}
	if d := before.diff(snapshotState(f, &log)); d != "" {
		t.Fatalf("the check changed the device: %s", d)
	}
	if n := f.s.hashes.get() - hashes; n != 7 {
		t.Fatalf("%d hashes, want 7 (six defaults and the account name; the setup probe hashes nothing)", n)
	}
	if strings.Contains(r.Observed, ownerPW) {
		t.Fatal("the owner's password in the result")
	}
	for _, weak := range []string{"admin", "12345678", "", ownerAcct} {
		setOwnerPassword(t, f, weak)
		r := runCheck(f.s, "auth.no-default-credential")
		if r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "accepts a well-known default password") {
			t.Errorf("owner password %q: %+v", weak, r)
		}
		if weak != "" && strings.Contains(r.Detail+r.Observed, `"`+weak+`"`) {
			t.Errorf("owner password %q named in the result: %+v", weak, r)
		}
	}
}

// TestNoDefaultCredentialSecondSetup: a device whose setup flow still runs
// after setup (its state check broken) fails the check, although the
// probe's random setup secret is wrong and the owner keeps the account.
func TestNoDefaultCredentialSecondSetup(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	f.s.setupGate = func(State) error { return nil }
	r := runCheck(f.s, "auth.no-default-credential")
	if r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "not refused as already set up") {
		t.Fatalf("setup flow open after setup: %+v", r)
	}
	if _, err := f.login("192.0.2.9", ownerAcct, ownerPW); err != nil {
		t.Fatalf("owner after the probe: %v", err)
	}
}

// TestNoDefaultCredentialAwaitingSetup: before setup, logins with default
// accounts and passwords go through Authenticate and must be refused by
// its state check, without a hash, a throttle charge or a log line. A
// device whose login path is open before setup fails.
func TestNoDefaultCredentialAwaitingSetup(t *testing.T) {
	var log lockedBuffer
	f := newFixture(t, withLog(&log))
	f.provision()
	before := snapshotState(f, &log)
	hashes := f.s.hashes.get()
	r := runCheck(f.s, "auth.no-default-credential")
	if r.Verdict != conformance.Pass || r.Method != conformance.Measured ||
		!strings.Contains(r.Observed, "state=awaiting-setup; 13 password logins") || !strings.Contains(r.Observed, "nothing hashed") {
		t.Fatalf("awaiting setup: %+v", r)
	}
	if d := before.diff(snapshotState(f, &log)); d != "" {
		t.Fatalf("the check changed the device: %s", d)
	}
	if f.s.hashes.get() != hashes {
		t.Fatal("the probe hashed")
	}
	f.s.loginGate = func(State) error { return nil }
	r = runCheck(f.s, "auth.no-default-credential")
	if r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "not refused outright") {
		t.Fatalf("login open before setup: %+v", r)
	}
}

// TestHashParamsMeasured: at the floor, the check hashes a probe password
// through the service's own path and passes, changing nothing; a stored
// hash below the floor fails it.
func TestHashParamsMeasured(t *testing.T) {
	var log lockedBuffer
	f := newFixture(t, withLog(&log), func(c *Config) { c.Hash = Params{}; c.InsecureWeakHash = false })
	if m := checkMethod(t, f.s, "auth.hash-params"); m != conformance.Measured {
		t.Fatalf("method %q", m)
	}
	before := snapshotState(f, &log)
	hashes := f.s.hashes.get()
	r := runCheck(f.s, "auth.hash-params")
	if r.Verdict != conformance.Pass || r.Method != conformance.Measured ||
		!strings.Contains(r.Observed, "argon2id m=19456 t=2 p=1, 16-byte salt, 32-byte key") ||
		!strings.Contains(r.Observed, "the unpeppered password were refused (4 Argon2id operations") {
		t.Fatalf("%+v", r)
	}
	if d := before.diff(snapshotState(f, &log)); d != "" {
		t.Fatalf("the check changed the device: %s", d)
	}
	if n := f.s.hashes.get() - hashes; n != 4 {
		t.Fatalf("%d hashes, want 4", n)
	}
	// An owner hash stored below the floor (before an upgrade) fails.
	weak := newHash([]byte("x"), testParams).String()
	f.s.mu.Lock()
	err := f.s.putOwner(context.Background(), ownerRecord{Account: ownerAcct, Hash: weak, Generation: 1})
	f.s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if r := runCheck(f.s, "auth.hash-params"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "stored hash is below the floor") {
		t.Fatalf("weak stored hash: %+v", r)
	}
}

// TestHashParamsBrokenPaths: a hash path that drops the pepper, makes a
// hash that does not verify, verifies anything, or is not Argon2id fails
// the check. (Test parameters are below the floor; each of these is
// caught before the floor is looked at.)
func TestHashParamsBrokenPaths(t *testing.T) {
	f := newFixture(t)
	good := f.s.hashPath()
	for name, c := range map[string]struct {
		hp   hashPath
		want string
	}{
		// Consistently without the pepper: hashes verify, but a dump of
		// the flash alone could be attacked offline.
		"unpeppered": {hashPath{hash: func(ctx context.Context, pw string) (string, error) {
			n, _ := normalize(pw, DefaultMaxBytes)
			return newHash(n, f.s.cfg.Hash).String(), nil
		}, verify: func(ctx context.Context, phc, pw string) (bool, error) {
			h, err := parseHash(phc)
			n, _ := normalize(pw, DefaultMaxBytes)
			return err == nil && h.Verify(n), nil
		}}, "not peppered"},
		"never verifies": {hashPath{hash: good.hash, verify: func(context.Context, string, string) (bool, error) { return false, nil }},
			"does not verify its own password"},
		"verifies anything": {hashPath{hash: good.hash, verify: func(context.Context, string, string) (bool, error) { return true, nil }},
			"verifies a different password"},
		"other parameters": {hashPath{hash: func(ctx context.Context, pw string) (string, error) {
			p := f.s.cfg.Hash
			p.Time++
			n, _ := normalize(pw, DefaultMaxBytes)
			return newHash(pepperInput(f.s.pepper, n), p).String(), nil
		}, verify: good.verify}, "does not carry the configured parameters"},
		"bcrypt": {hashPath{hash: func(context.Context, string) (string, error) {
			return "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", nil
		}, verify: good.verify}, "not an argon2id"},
	} {
		r := f.s.measureHash(context.Background(), c.hp)
		if r.Verdict != conformance.Fail || !strings.Contains(r.Detail+r.Observed, c.want) {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// The service's own path passes everything but the floor.
	if r := f.s.measureHash(context.Background(), good); r.Verdict != conformance.Fail ||
		!strings.Contains(r.Detail, "below the floor") || !strings.Contains(r.Detail, "InsecureWeakHash") ||
		!strings.Contains(r.Observed, "m=64") || !strings.Contains(r.Observed, "unpeppered password were refused") {
		t.Fatalf("weak parameters: %+v", r)
	}
}

// BenchmarkCheckHashParams measures one run of auth.hash-params at the
// floor parameters: four Argon2id operations in the service's hash slots.
func BenchmarkCheckHashParams(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Hash = Params{}; c.InsecureWeakHash = false })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := f.s.checkHash(ctx); r.Verdict != conformance.Pass {
			b.Fatalf("%+v", r)
		}
	}
}

// BenchmarkCheckNoDefaultCredential measures one run of
// auth.no-default-credential once set up at the floor parameters: seven
// Argon2id verifications and a refused setup.
func BenchmarkCheckNoDefaultCredential(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Hash = Params{}; c.InsecureWeakHash = false })
	phc, err := f.s.hashPassword(context.Background(), ownerPW)
	if err != nil {
		b.Fatal(err)
	}
	f.s.mu.Lock()
	err = f.s.putOwner(context.Background(), ownerRecord{Account: ownerAcct, Hash: phc, Generation: 1})
	f.s.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := f.s.checkProvisioned(ctx); r.Verdict != conformance.Pass {
			b.Fatalf("%+v", r)
		}
	}
}
