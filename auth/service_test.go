package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNoLoginBeforeProvisioning(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if f.s.State() != Unprovisioned {
		t.Fatal(f.s.State())
	}
	boot := f.s.hashes.get() // the dummy hash made at start-up
	for _, pw := range []string{"", "admin", "password", "1234", ownerPW} {
		for _, acct := range []string{"", "admin", "root", ownerAcct} {
			if _, err := f.login("192.0.2.1:1", acct, pw); !errors.Is(err, ErrNotProvisioned) {
				t.Fatalf("login %q/%q before provisioning: %v", acct, pw, err)
			}
		}
	}
	if _, err := f.s.Setup(ctx, SetupRequest{Source: "192.0.2.1", SetupSecret: "0000-0000-0000-0000-0", Account: "owner", NewPassword: ownerPW}); !errors.Is(err, ErrNoSetupVerifier) {
		t.Fatalf("setup without verifier: %v", err)
	}
	f.provision()
	if f.s.State() != AwaitingSetup {
		t.Fatal(f.s.State())
	}
	for _, pw := range []string{"", "admin", f.secret.Reveal(), ownerPW} {
		if _, err := f.login("192.0.2.1:1", "admin", pw); !errors.Is(err, ErrNotProvisioned) {
			t.Fatalf("login with %q while awaiting setup: %v", pw, err)
		}
	}
	if n := f.s.hashes.get() - boot; n != 0 {
		t.Fatalf("%d hashes computed before setup", n)
	}
	if _, err := f.s.ChangePassword(ctx, ChangeRequest{Account: "admin", Presence: true, NewPassword: ownerPW}); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("change before setup: %v", err)
	}
}

func TestSetupFlow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.provision()
	before := f.vault.snapshot()
	req := SetupRequest{Source: "192.0.2.1:1", SetupSecret: Password(f.secret.Reveal()), Account: ownerAcct, NewPassword: ownerPW}

	wrong, _ := NewSetupSecret()
	bad := req
	bad.SetupSecret = Password(wrong.Reveal())
	if _, err := f.s.Setup(ctx, bad); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong secret: %v", err)
	}
	bad.SetupSecret = Password(f.secret.Reveal()[:19] + "!")
	if _, err := f.s.Setup(ctx, bad); !errors.Is(err, ErrMalformedSetupSecret) {
		t.Fatalf("typo: %v", err)
	}
	bad = req
	bad.NewPassword = "short"
	if _, err := f.s.Setup(ctx, bad); !errors.Is(err, ErrPolicy) {
		t.Fatalf("weak password: %v", err)
	}
	bad = req
	bad.Account = "Owner\r\nX: y"
	if _, err := f.s.Setup(ctx, bad); !errors.Is(err, ErrInvalidAccount) {
		t.Fatalf("bad account: %v", err)
	}
	if !maps.EqualFunc(before, f.vault.snapshot(), func(a, b []byte) bool { return string(a) == string(b) }) || f.s.State() != AwaitingSetup {
		t.Fatal("refused setup changed the vault or the state")
	}
	ses, err := f.s.Setup(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if f.s.State() != Ready || ses.Account != ownerAcct || !ses.HasScope("admin") {
		t.Fatalf("after setup: %v %v", f.s.State(), ses)
	}
	if _, err := f.s.Setup(ctx, req); !errors.Is(err, ErrAlreadySetUp) {
		t.Fatalf("second setup: %v", err)
	}
	if err := f.s.Provision(ctx, f.secret.verifier(testParams)); !errors.Is(err, ErrAlreadySetUp) {
		t.Fatalf("re-provision after setup: %v", err)
	}
	// The vault holds no secret in the clear.
	for name, v := range f.vault.snapshot() {
		if strings.Contains(string(v), ownerPW) || strings.Contains(string(v), strings.ReplaceAll(f.secret.Reveal(), "-", "")) {
			t.Fatalf("vault entry %s holds a secret in the clear", name)
		}
	}
	if _, err := f.login("192.0.2.2:1", ownerAcct, ownerPW); err != nil {
		t.Fatalf("login after setup: %v", err)
	}
}

func TestProvisionRefusesBadVerifiers(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.InsecureWeakHash = false; c.Hash = Params{} })
	ctx := context.Background()
	sec, _ := NewSetupSecret()
	for _, v := range []string{"", "plaintext-passcode", sec.verifier(testParams),
		"$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU"} {
		if err := f.s.Provision(ctx, v); err == nil {
			t.Fatalf("Provision(%q) accepted", v)
		}
	}
	if f.s.State() != Unprovisioned || len(f.vault.snapshot()) != 2 { // pepper + session key only
		t.Fatal("refused verifier stored")
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	if _, err := f.login("192.0.2.2:1", ownerAcct, ownerPW); err != nil {
		t.Fatal(err)
	}
	// NFKC: the same password typed in full-width forms.
	if _, err := f.login("192.0.2.2:1", ownerAcct, "ａ long river of green teacups"); err != nil {
		t.Fatalf("NFKC variant refused: %v", err)
	}
	for name, a := range map[string]Attempt{
		"wrong password": {Account: ownerAcct, Password: ownerPW + "!"},
		"prefix":         {Account: ownerAcct, Password: Password(ownerPW[:len(ownerPW)-1])},
		"unknown user":   {Account: "root", Password: ownerPW},
		"invalid utf8":   {Account: ownerAcct, Password: ownerPW + "\xff"},
		"oversized":      {Account: ownerAcct, Password: Password(ownerPW + strings.Repeat("x", 10000))},
		"bad account":    {Account: "owner\r\nSet-Cookie: x=1", Password: ownerPW},
	} {
		a.Source = "198.51.100." + fmt.Sprint(len(name))
		hashes := f.s.hashes.get()
		puts := f.vault.puts
		if _, err := f.s.Authenticate(context.Background(), a); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s: %v", name, err)
		}
		// Every refused attempt costs the same single hash: unknown
		// accounts and malformed passwords are not answered faster.
		if got := f.s.hashes.get() - hashes; got != 1 {
			t.Errorf("%s: %d hashes, want 1", name, got)
		}
		if f.vault.puts != puts {
			t.Errorf("%s: vault written", name)
		}
	}
}

func TestLongPasswordNotTruncated(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	pw := long255()
	if _, err := f.s.ChangePassword(context.Background(), ChangeRequest{Source: "192.0.2.1", Account: ses.Account, CurrentPassword: ownerPW, NewPassword: Password(pw)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login("192.0.2.1", ownerAcct, pw[:254]); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("truncated password accepted: %v", err)
	}
	if _, err := f.login("192.0.2.1", ownerAcct, pw); err != nil {
		t.Fatalf("255-byte password refused: %v", err)
	}
}

func TestThrottledAttemptNeverHashes(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	for range 5 {
		f.login("203.0.113.5:1", ownerAcct, "wrong password guess")
	}
	hashes, ops, puts := f.s.hashes.get(), f.fs.Ops(), f.vault.puts
	for range 50 {
		_, err := f.login("203.0.113.5:2", ownerAcct, ownerPW) // even the right password
		var te ErrThrottled
		if !errors.As(err, &te) || te.RetryAfter <= 0 {
			t.Fatalf("not throttled: %v", err)
		}
	}
	if f.s.hashes.get() != hashes || f.fs.Ops() != ops || f.vault.puts != puts {
		t.Fatal("a throttled attempt reached the hash or wrote state")
	}
}

// TestOwnerLogsInDuringAttack: a scripted attack from one source that
// keeps trying as fast as it is allowed, for a simulated day, does not stop
// the owner from logging in from another, never-seen source.
func TestOwnerLogsInDuringAttack(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	tried := 0
	start := f.clock.Now()
	for i := 0; f.clock.Now().Sub(start) < 24*time.Hour; i++ {
		_, err := f.login(fmt.Sprintf("[2001:db8:bad:1::%x]:4444", i), ownerAcct, fmt.Sprintf("guess number %06d", i))
		var te ErrThrottled
		if errors.As(err, &te) {
			f.clock.Advance(te.RetryAfter)
			continue
		}
		tried++
	}
	// 5 free, then delays doubling from 1s to the 15-minute cap: about
	// 5 + 10 + 96 guesses a day, however fast the attacker scripts.
	if tried > 115 {
		t.Fatalf("attacker got %d guesses in a day", tried)
	}
	t.Logf("attacker from one /64: %d guesses in 24h", tried)
	if _, err := f.login("198.51.100.77:5555", ownerAcct, ownerPW); err != nil {
		t.Fatalf("owner locked out from a new source: %v", err)
	}
	// The attacker is still throttled.
	f.login("[2001:db8:bad:1::1]:4444", ownerAcct, "another guess here")
	if _, err := f.login("[2001:db8:bad:1::1]:4444", ownerAcct, "another guess here"); !isThrottled(err) {
		t.Fatalf("attacker not throttled: %v", err)
	}
}

func TestThrottleSurvivesPowerCut(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	for range 7 {
		f.login("203.0.113.5:1", ownerAcct, "wrong password guess")
	}
	_, err := f.login("203.0.113.5:1", ownerAcct, "wrong password guess")
	var before ErrThrottled
	if !errors.As(err, &before) {
		t.Fatalf("not throttled before reboot: %v", err)
	}
	f.reboot()
	_, err = f.login("203.0.113.5:1", ownerAcct, "wrong password guess")
	var after ErrThrottled
	if !errors.As(err, &after) || after.RetryAfter != before.RetryAfter {
		t.Fatalf("after power cut: %v (before: %v)", err, before)
	}
	if f.s.State() != Ready {
		t.Fatal("state lost")
	}
}

func TestRehashWhenParamsRise(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	f.cfg.Hash = Params{Memory: 128, Time: 2, Threads: 1}
	f.open()
	if _, err := f.login("192.0.2.9", ownerAcct, ownerPW); err != nil {
		t.Fatal(err)
	}
	h, _ := parseHash(f.s.owner.Hash)
	if h.Params.Memory != 128 || h.Params.Time != 2 {
		t.Fatalf("not rehashed: %v", h.Params)
	}
	if _, err := f.s.verifyToken(ses.Token()); err != nil {
		t.Fatalf("rehash revoked sessions: %v", err)
	}
	if _, err := f.login("192.0.2.9", ownerAcct, ownerPW); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}

func TestPepperHeldInVault(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	h, _ := parseHash(f.s.owner.Hash)
	pw, _ := normalize(ownerPW, 256)
	if h.Verify(pw) {
		t.Fatal("stored hash verifies without the pepper")
	}
	pepper, _ := f.vault.Get(context.Background(), "auth.pepper")
	if len(pepper) != 32 || !h.Verify(pepperInput(pepper, pw)) {
		t.Fatal("pepper not the vault's")
	}
	// A second boot uses the same pepper.
	f.open()
	if _, err := f.login("192.0.2.9", ownerAcct, ownerPW); err != nil {
		t.Fatal(err)
	}
}

func TestChangePassword(t *testing.T) {
	var pressed error = errors.New("button not pressed")
	f := newFixture(t, func(c *Config) { c.PresenceProof = func(context.Context) error { return pressed } })
	ctx := context.Background()
	old := f.setUp()
	newPW := "seven bright lanterns over water"
	before := f.vault.snapshot()
	for name, r := range map[string]ChangeRequest{
		"wrong current": {Account: ownerAcct, CurrentPassword: "not the password!", NewPassword: Password(newPW)},
		"no proof":      {Account: ownerAcct, NewPassword: Password(newPW)},
		"no button":     {Account: ownerAcct, Presence: true, NewPassword: Password(newPW)},
		"weak new":      {Account: ownerAcct, CurrentPassword: ownerPW, NewPassword: "password12345678"},
		"other account": {Account: "root", CurrentPassword: ownerPW, NewPassword: Password(newPW)},
	} {
		r.Source = "192.0.2.3"
		if _, err := f.s.ChangePassword(ctx, r); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	if !maps.EqualFunc(before, f.vault.snapshot(), func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatal("refused change modified the vault")
	}
	ses, err := f.s.ChangePassword(ctx, ChangeRequest{Source: "192.0.2.3", Account: ownerAcct, CurrentPassword: ownerPW, NewPassword: Password(newPW)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.verifyToken(old.Token()); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old session survives the change: %v", err)
	}
	if _, err := f.s.verifyToken(ses.Token()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login("192.0.2.3", ownerAcct, ownerPW); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if _, err := f.login("192.0.2.3", ownerAcct, newPW); err != nil {
		t.Fatal(err)
	}
	// Physical presence instead of the current password.
	pressed = nil
	if _, err := f.s.ChangePassword(ctx, ChangeRequest{Source: "192.0.2.3", Account: ownerAcct, Presence: true, NewPassword: ownerPW}); err != nil {
		t.Fatalf("presence path: %v", err)
	}
	if _, err := f.login("192.0.2.3", ownerAcct, ownerPW); err != nil {
		t.Fatal(err)
	}
}

func TestResetReturnsToSetup(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	if err := f.s.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.s.State() != AwaitingSetup {
		t.Fatal(f.s.State())
	}
	if _, err := f.s.verifyToken(ses.Token()); err == nil {
		t.Fatal("session survives reset")
	}
	if _, err := f.login("192.0.2.3", ownerAcct, ownerPW); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("login after reset: %v", err)
	}
	if _, err := f.s.Setup(context.Background(), SetupRequest{Source: "192.0.2.3", SetupSecret: Password(f.secret.Reveal()), Account: "newowner", NewPassword: "a completely new owner phrase"}); err != nil {
		t.Fatalf("setup again after reset: %v", err)
	}
}

func TestVaultFailureFailsClosed(t *testing.T) {
	v := newMemVault()
	errTPM := errors.New("tpm unreachable")
	v.getErr = errTPM
	_, err := New(context.Background(), Config{Vault: v, StateDir: t.TempDir(), Hash: testParams, InsecureWeakHash: true})
	if !errors.Is(err, ErrVault) {
		t.Fatalf("New with failing vault: %v", err)
	}
	// The vault's own error stays visible to errors.Is (a crash test
	// matches durable.ErrCrashed, a caller its store's error).
	if !errors.Is(err, errTPM) {
		t.Fatalf("the vault's error is not wrapped: %v", err)
	}
	if _, err := New(context.Background(), Config{StateDir: t.TempDir()}); err == nil {
		t.Fatal("New without vault")
	}
	if _, err := New(context.Background(), Config{Vault: newMemVault(), StateDir: t.TempDir(), Hash: testParams}); !errors.Is(err, ErrWeakParams) {
		t.Fatalf("weak params without InsecureWeakHash: %v", err)
	}
	// A store's own not-found sentinel that also matches fs.ErrNotExist
	// (as secrets.ErrNotFound does) works as is.
	v2 := &sentinelVault{memVault: newMemVault(), notFound: notExistSentinel{}}
	s, err := New(context.Background(), Config{Vault: v2, StateDir: t.TempDir(), Hash: testParams, InsecureWeakHash: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// One that does not is an error like any other: auth fails closed.
	v3 := &sentinelVault{memVault: newMemVault(), notFound: errors.New("store: no such entry")}
	if _, err := New(context.Background(), Config{Vault: v3, StateDir: t.TempDir(), Hash: testParams, InsecureWeakHash: true}); !errors.Is(err, ErrVault) {
		t.Fatalf("a not-found error that is not fs.ErrNotExist: %v", err)
	}
}

type notExistSentinel struct{}

func (notExistSentinel) Error() string        { return "store: not found" }
func (notExistSentinel) Is(target error) bool { return target == fs.ErrNotExist }

type sentinelVault struct {
	*memVault
	notFound error
}

func (v *sentinelVault) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := v.memVault.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, v.notFound)
	}
	return b, nil
}

// TestRedaction: every value that carries a secret (a typed password, a
// session token, a setup secret) is rendered every way a device might
// print, log or marshal it — each fmt verb, alone, nested in a struct, by
// pointer, wrapped in an error, through both slog handlers and
// encoding/json — and no rendering contains the secret or 8 consecutive
// characters of it.
func TestRedaction(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	setup, _ := NewSetupSecret()
	label := setup.Reveal()
	secrets := []string{ownerPW, "SECRETSECRET", ses.Token(), label, strings.ReplaceAll(label, "-", "")}
	a := Attempt{Source: "x", Account: "owner", Password: ownerPW}
	r := SetupRequest{SetupSecret: "SECRETSECRET", NewPassword: ownerPW}
	c := ChangeRequest{CurrentPassword: ownerPW, NewPassword: ownerPW}
	values := map[string]any{
		"Password": Password(ownerPW), "Attempt": a, "*Attempt": &a, "SetupRequest": r, "ChangeRequest": c,
		"*Session": ses, "Session": *ses, "SetupSecret": setup, "*SetupSecret": &setup,
		"nested": struct {
			A  Attempt
			S  *Session
			SS SetupSecret
			M  map[string]any
		}{a, ses, setup, map[string]any{"pw": Password(ownerPW), "s": ses, "label": setup}},
	}
	var outs []string
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outs = append(outs, name+" "+verb+": "+fmt.Sprintf(verb, v))
		}
		outs = append(outs, name+" Sprint: "+fmt.Sprint(v), name+" error: "+fmt.Errorf("wrapped: %v: %w", v, errors.New("x")).Error())
		b, err := json.Marshal(v)
		outs = append(outs, name+" json: "+string(b)+fmt.Sprint(err))
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
			slog.New(h).Info("msg", "v", v, slog.Group("g", "v", v))
		}
		outs = append(outs, name+" slog: "+buf.String())
	}
	for _, out := range outs {
		for _, sec := range secrets {
			for i := 0; i+8 <= len(sec); i++ {
				if strings.Contains(out, sec[i:i+8]) {
					t.Fatalf("%s\nleaks %q of a secret", out, sec[i:i+8])
				}
			}
		}
	}
	// The password type shows that something was redacted.
	if got := fmt.Sprintf("%v %s", Password(ownerPW), a); !strings.Contains(got, "REDACTED REDACTED") && !strings.Contains(got, "REDACTED {x owner REDACTED}") {
		t.Fatalf("password rendering: %q", got)
	}
	if b, _ := json.Marshal(a); string(b) != `{"Source":"x","Account":"owner","Password":"REDACTED"}` {
		t.Fatalf("json: %s", b)
	}
	// The value still works where the secret is meant to go.
	if ses.Token() == "" || !strings.HasPrefix(label, strings.ToUpper(label[:4])) {
		t.Fatal("token or label empty")
	}
}

func TestConcurrentHashesBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxConcurrentHashes = 1 })
	f.setUp()
	a := <-f.s.hasher.pool // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.s.Authenticate(ctx, Attempt{Source: "192.0.2.1", Account: ownerAcct, Password: ownerPW}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hash ran beyond the bound: %v", err)
	}
	f.s.hasher.pool <- a
}

func TestHashMemoryBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxConcurrentHashes = 3 })
	f.setUp()
	if got, want := f.s.HashMemory(), int64(3*testParams.Memory)<<10; got != want {
		t.Fatalf("HashMemory = %d, want %d", got, want)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.login(fmt.Sprintf("198.51.100.%d", i), ownerAcct, ownerPW)
		}()
	}
	wg.Wait()
	// Exactly the configured number of arenas exist, none larger than m.
	n := 0
	for range cap(f.s.hasher.pool) {
		a := <-f.s.hasher.pool
		if a.Bytes() > int(testParams.Memory)<<10 {
			t.Fatalf("arena of %d bytes", a.Bytes())
		}
		n++
		defer func() { f.s.hasher.pool <- a }()
	}
	if n != 3 {
		t.Fatalf("%d arenas", n)
	}
}

// TestLogsHoldNoSecrets runs the flows with a debug logger and searches
// everything logged for the password, the setup secret and the token.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	f := newFixture(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ses := f.setUp()
	f.login("198.51.100.1", ownerAcct, ownerPW)
	for range 7 {
		f.login("198.51.100.2", ownerAcct, ownerPW+"x")
	}
	f.s.ChangePassword(context.Background(), ChangeRequest{Source: "198.51.100.1", Account: ownerAcct, CurrentPassword: ownerPW, NewPassword: "seven bright lanterns over water"})
	f.s.Setup(context.Background(), SetupRequest{SetupSecret: Password(f.secret.Reveal()), Account: ownerAcct, NewPassword: ownerPW})
	out := buf.String()
	if !strings.Contains(out, "login failed") || !strings.Contains(out, "login refused") {
		t.Fatalf("security events not logged: %s", out)
	}
	for _, secret := range []string{ownerPW, "seven bright lanterns", strings.ReplaceAll(f.secret.Reveal(), "-", ""), f.secret.Reveal(), ses.Token()} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains a secret: %s", out)
		}
	}
}

// TestAttackDoesNotFloodLog: a scripted attack from one source writes a
// bounded number of log lines, and the count of those left out is reported
// once the interval has passed.
func TestAttackDoesNotFloodLog(t *testing.T) {
	var buf bytes.Buffer
	f := newFixture(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	f.setUp()
	buf.Reset()
	for range 200 {
		f.login("198.51.100.9", ownerAcct, ownerPW+"x")
	}
	if n := strings.Count(buf.String(), "\n"); n > 2 {
		t.Fatalf("200 refused logins from one source wrote %d log lines:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "login failed") || !strings.Contains(buf.String(), "login refused") {
		t.Fatalf("the attack was not logged at all: %s", buf.String())
	}
	f.clock.Advance(2 * time.Minute)
	buf.Reset()
	f.login("198.51.100.9", ownerAcct, ownerPW+"x")
	if !strings.Contains(buf.String(), "not_logged_since_last") {
		t.Fatalf("suppressed count not reported: %s", buf.String())
	}
}
