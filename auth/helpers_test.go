package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// memVault is an in-memory Vault that reports a missing name with
// fs.ErrNotExist, the default convention.
type memVault struct {
	mu     sync.Mutex
	m      map[string][]byte
	puts   int
	getErr error
	putErr error
}

func newMemVault() *memVault { return &memVault{m: map[string][]byte{}} }

func (v *memVault) Get(ctx context.Context, name string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.getErr != nil {
		return nil, v.getErr
	}
	b, ok := v.m[name]
	if !ok {
		return nil, fmt.Errorf("memvault %s: %w", name, fs.ErrNotExist)
	}
	return append([]byte(nil), b...), nil
}

func (v *memVault) Put(ctx context.Context, name string, value []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.putErr != nil {
		return v.putErr
	}
	v.puts++
	v.m[name] = append([]byte(nil), value...)
	return nil
}

func (v *memVault) snapshot() map[string][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.m)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testParams are tiny Argon2id parameters that keep tests fast.
var testParams = Params{Memory: 64, Time: 1, Threads: 1}

const (
	ownerPW   = "a long river of green teacups"
	ownerAcct = "owner"
)

type fixture struct {
	t      testing.TB
	vault  *memVault
	fs     *durable.CrashFS
	clock  *clock
	cfg    Config
	s      *Service
	secret SetupSecret
}

func newFixture(t testing.TB, mod ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, vault: newMemVault(), fs: durable.NewCrashFS(), clock: newClock()}
	f.cfg = Config{Vault: f.vault, FS: f.fs, StateDir: "/state", Hash: testParams, InsecureWeakHash: true, Now: f.clock.Now}
	for _, m := range mod {
		m(&f.cfg)
	}
	f.open()
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	if f.s != nil {
		f.s.Close()
	}
	f.cfg.FS = f.fs
	s, err := New(context.Background(), f.cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	f.s = s
	f.t.Cleanup(func() { s.Close() })
}

// reboot simulates a power cut: the FS keeps only what was synced.
func (f *fixture) reboot() {
	f.t.Helper()
	f.fs = f.fs.Reboot(durable.DropUnsynced)
	f.s = nil
	f.open()
}

func (f *fixture) provision() {
	f.t.Helper()
	sec, err := NewSetupSecret()
	if err != nil {
		f.t.Fatal(err)
	}
	f.secret = sec
	if err := f.s.Provision(context.Background(), sec.verifier(testParams)); err != nil {
		f.t.Fatalf("Provision: %v", err)
	}
}

func (f *fixture) setUp() *Session {
	f.t.Helper()
	f.provision()
	ses, err := f.s.Setup(context.Background(), SetupRequest{Source: "192.0.2.1:5000", SetupSecret: Password(f.secret.Reveal()), Account: ownerAcct, NewPassword: ownerPW})
	if err != nil {
		f.t.Fatalf("Setup: %v", err)
	}
	return ses
}

func (f *fixture) login(source, account, pw string) (*Session, error) {
	return f.s.Authenticate(context.Background(), Attempt{Source: source, Account: account, Password: Password(pw)})
}

func isThrottled(err error) bool { return errors.Is(err, ErrThrottled{}) }
