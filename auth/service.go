package auth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/auth/internal/argon2"
	"github.com/iotbaseline/baseline/durable"
)

// Vault is the secret storage auth needs: the device's sealed secret store
// (secrets.Store satisfies it). auth keeps its pepper, its session MAC key,
// the setup-secret verifier and the owner's password hash there, under
// names beginning with Config.VaultPrefix.
//
// Get must report a missing name with an error matching fs.ErrNotExist
// under errors.Is (secrets.ErrNotFound does). Any other error makes auth
// fail closed.
type Vault interface {
	Get(ctx context.Context, name string) ([]byte, error)
	Put(ctx context.Context, name string, value []byte) error
}

// Authenticator checks one login
// attempt and returns a session, ErrThrottled (the credential was not
// checked), ErrBadCredentials or ErrNotProvisioned. *Service implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, a Attempt) (*Session, error)
}

// Attempt is one login attempt. Printed, logged or marshalled, it never
// shows the password (see Password).
type Attempt struct {
	// Source identifies where the attempt came from: "ip:port" or an IP
	// address for network interfaces (see SourceFromRequest), or a
	// transport name such as "ble:AA:BB" or "uart0". It keys the
	// per-source throttle (IPv6 by /64).
	Source string
	// Account is the account name.
	Account string
	// Password as typed. It is bounded (Policy.MaxBytes) and NFKC-
	// normalised before hashing, never truncated.
	Password Password
}

// Password is a password or setup secret as a user typed it. It never
// prints itself: every fmt verb (and so slog's text handler) and
// encoding/json (and so slog's JSON handler) show "REDACTED", so an
// Attempt, SetupRequest or ChangeRequest can be logged, printed or
// marshalled whole. Convert with Password(s) and back
// with string(p) where the secret really has to go somewhere (a JSON
// request body a client sends must carry string(p), not p).
type Password string

// Format redacts the password for every verb.
func (Password) Format(f fmt.State, verb rune) { io.WriteString(f, redacted) }

// MarshalJSON redacts the password.
func (Password) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Config configures a Service. Vault and StateDir are required; every other
// zero field is the secure default documented on it.
type Config struct {
	// Vault holds auth's secrets (required).
	Vault Vault
	// VaultPrefix prefixes every vault name auth uses. Empty means "auth.".
	VaultPrefix string

	// FS is where the throttle's state is kept. Nil means durable.OS.
	FS durable.FS
	// StateDir is the directory for the throttle log (required). Put it on
	// storage that survives reboots and factory resets do not need to keep.
	StateDir string

	// Hash is the Argon2id cost for new password hashes. Zero fields take
	// FloorParams (m=19 MiB, t=2, p=1); lower values are refused unless
	// InsecureWeakHash. Use TuneParams to fit a time budget. When Hash
	// rises, stored hashes are rehashed at the owner's next login.
	Hash Params
	// InsecureWeakHash allows Argon2id parameters below the floor. For
	// tests only: the 5.1-3 self-check reports FAIL while it is set.
	InsecureWeakHash bool
	// MaxHashMemory bounds, in KiB, the memory cost auth accepts in any
	// stored hash or setup verifier, so a planted hash cannot exhaust RAM.
	// Zero means 256 MiB.
	MaxHashMemory uint32
	// MaxConcurrentHashes bounds the Argon2id computations in flight; each
	// holds Hash.Memory of RAM. Zero means 2. Further attempts wait (their
	// ctx bounds the wait).
	MaxConcurrentHashes int

	// Policy decides which new passwords are accepted.
	Policy Policy
	// Throttle tunes brute-force protection.
	Throttle ThrottleConfig

	// SessionTTL is a session's absolute lifetime. Zero means 8 hours.
	SessionTTL time.Duration
	// FreshAuth is how recent a password entry must be for a
	// security-relevant change (RequireFresh routes). Zero means 5 minutes.
	FreshAuth time.Duration
	// Scopes are granted to the owner's sessions. Empty means ["admin"].
	Scopes []string
	// PresenceProof, when set, lets the owner change the password without
	// the current one by proving physical presence: the device wires it to
	// a button press within a window, for example. It returns nil when
	// presence was proven. Nil means the current password is always needed.
	PresenceProof func(ctx context.Context) error

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives security events (never secrets). Nil discards.
	Logger *slog.Logger
}

// DefaultMaxHashMemory is the default Config.MaxHashMemory: 256 MiB in KiB.
const DefaultMaxHashMemory = 256 * 1024

// Service authenticates the device's owner: the setup flow, password
// logins, password changes and sessions, behind the throttle. It is safe
// for concurrent use. It implements Authenticator and conformance.Checker.
type Service struct {
	cfg    Config
	vault  Vault
	thr    *throttle
	hasher hasher
	log    *slog.Logger
	now    func() time.Time

	pepper  []byte
	sessKey []byte
	dummy   phcHash // hashed when the account is unknown, so timing does not tell

	mu       sync.Mutex // guards owner and verifier
	owner    ownerRecord
	verifier string

	hashes counter

	refusals logLimiter

	// loginGate and setupGate are the life-cycle checks at the entry of
	// Authenticate and Setup; New sets them to loginOpen and setupOpen.
	// They are fields only so that a test can break them and see the
	// auth.no-default-credential self-check fail.
	loginGate, setupGate func(State) error
}

// loginOpen refuses a password login unless the owner has set a password:
// before that, no password works, whatever it is.
func loginOpen(st State) error {
	if st != Ready {
		return ErrNotProvisioned
	}
	return nil
}

// setupOpen serves the setup flow only while the device awaits setup:
// once the owner has set a password the setup secret is never looked at.
func setupOpen(st State) error {
	switch st {
	case Ready:
		return ErrAlreadySetUp
	case Unprovisioned:
		return ErrNoSetupVerifier
	}
	return nil
}

// logLimiter keeps a brute-force attack from flooding the device's log: a
// source's refused or failed logins are logged at most once per
// logInterval, with the number left out since. Bounded: when more than
// logSources sources are tracked the table starts afresh.
type logLimiter struct {
	mu      sync.Mutex
	sources map[string]*logEntry
}

type logEntry struct {
	last       time.Time
	suppressed int
}

const (
	logInterval = time.Minute
	logSources  = 256
)

// allow reports whether an event for key may be logged now, and how many
// were left out before it.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sources == nil || len(l.sources) >= logSources {
		l.sources = map[string]*logEntry{}
	}
	e := l.sources[key]
	if e == nil {
		l.sources[key] = &logEntry{last: now}
		return true, 0
	}
	if d := now.Sub(e.last); d >= 0 && d < logInterval {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

func (s *Service) logAttempt(ctx context.Context, msg, source string, attrs ...slog.Attr) {
	ok, left := s.refusals.allow(msg+"\x00"+source, s.now())
	if !ok {
		return
	}
	attrs = append(attrs, slog.String("source", source))
	if left > 0 {
		attrs = append(attrs, slog.Int("not_logged_since_last", left))
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// ownerRecord is what the vault holds for the owner account.
type ownerRecord struct {
	Version    int    `json:"v"`
	Account    string `json:"account,omitempty"`
	Hash       string `json:"hash,omitempty"`
	Generation uint64 `json:"gen"`
}

const maxVaultValue = 4096

// New opens the service: it loads (or creates, on first use) the pepper and
// session key from the vault, reads the owner record and replays the
// throttle log. ctx bounds the vault and flash I/O.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Vault == nil {
		return nil, errors.New("auth: Config.Vault is required")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("auth: Config.StateDir is required")
	}
	if cfg.VaultPrefix == "" {
		cfg.VaultPrefix = "auth."
	}
	if cfg.FS == nil {
		cfg.FS = durable.OS
	}
	if cfg.MaxHashMemory == 0 {
		cfg.MaxHashMemory = DefaultMaxHashMemory
	}
	cfg.Hash = cfg.Hash.withDefaults()
	if err := cfg.Hash.validate(cfg.InsecureWeakHash, cfg.MaxHashMemory); err != nil {
		return nil, err
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = 2
	}
	cfg.Policy = cfg.Policy.withDefaults()
	cfg.Throttle = cfg.Throttle.withDefaults()
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.FreshAuth <= 0 {
		cfg.FreshAuth = 5 * time.Minute
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"admin"}
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	for _, sc := range cfg.Scopes {
		if !validName(sc, 32) {
			return nil, fmt.Errorf("auth: invalid scope %q", sc)
		}
	}
	cfg.Policy.ContextWords = append([]string(nil), cfg.Policy.ContextWords...)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, vault: cfg.Vault, now: cfg.Now, log: cfg.Logger, loginGate: loginOpen, setupGate: setupOpen}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.hasher = newHasher(cfg.MaxConcurrentHashes, s.hashes.inc)
	var err error
	if s.pepper, err = s.getOrCreateKey(ctx, "pepper"); err != nil {
		return nil, err
	}
	if s.sessKey, err = s.getOrCreateKey(ctx, "session-key"); err != nil {
		return nil, err
	}
	if err := s.loadOwner(ctx); err != nil {
		return nil, err
	}
	if v, err := s.vaultGet(ctx, "setup-verifier"); err != nil {
		return nil, err
	} else if v != nil {
		s.verifier = string(v)
	}
	// The dummy an unknown account is checked against needs only the
	// parameters, a salt and a key nobody can match: random bytes cost the
	// same to verify as a computed hash, and save a hash (and m KiB of
	// resident memory) at every start.
	dp := cfg.Hash.withDefaults()
	s.dummy = phcHash{Params: dp, Salt: make([]byte, dp.SaltLen), Key: make([]byte, dp.KeyLen)}
	rand.Read(s.dummy.Salt)
	rand.Read(s.dummy.Key)
	if s.thr, err = openThrottle(cfg.FS, cfg.StateDir, cfg.Throttle, cfg.Now); err != nil {
		return nil, err
	}
	return s, nil
}

// HashMemory returns the memory, in bytes, that password hashing holds once
// every hash slot has been used: MaxConcurrentHashes × Hash.Memory. Each slot
// allocates its arena on first use and reuses it, so this is also the most
// hashing ever holds (a stored hash with a larger memory cost, up to
// MaxHashMemory, grows its slot's arena).
func (s *Service) HashMemory() int64 {
	return int64(s.cfg.MaxConcurrentHashes) * int64(s.cfg.Hash.Memory) << 10
}

// Close releases the throttle log and the hash arenas, waiting for hashes
// in flight to finish. The Service must not be used afterwards.
func (s *Service) Close() error {
	s.hasher.stopIdle()
	for range cap(s.hasher.pool) {
		a := <-s.hasher.pool
		a.Free()
		defer func() { s.hasher.pool <- a }()
	}
	return s.thr.close()
}

func (s *Service) vaultGet(ctx context.Context, name string) ([]byte, error) {
	v, err := s.vault.Get(ctx, s.cfg.VaultPrefix+name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: get %s: %w", ErrVault, name, err)
	}
	if len(v) > maxVaultValue {
		return nil, fmt.Errorf("%w: %s too large", ErrVault, name)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

func (s *Service) vaultPut(ctx context.Context, name string, v []byte) error {
	if err := s.vault.Put(ctx, s.cfg.VaultPrefix+name, v); err != nil {
		return fmt.Errorf("%w: put %s: %w", ErrVault, name, err)
	}
	return nil
}

// getOrCreateKey returns a 32-byte key from the vault, generating and
// storing it first if absent. Nothing is derived from it before the Put
// succeeded, so a crash cannot leave hashes under a lost pepper.
func (s *Service) getOrCreateKey(ctx context.Context, name string) ([]byte, error) {
	v, err := s.vaultGet(ctx, name)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if len(v) != 32 {
			return nil, fmt.Errorf("%w: %s has wrong length", ErrVault, name)
		}
		return v, nil
	}
	k := make([]byte, 32)
	rand.Read(k)
	if err := s.vaultPut(ctx, name, k); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) loadOwner(ctx context.Context) error {
	v, err := s.vaultGet(ctx, "owner")
	if err != nil || v == nil {
		return err
	}
	var r ownerRecord
	if err := json.Unmarshal(v, &r); err != nil || r.Version != 1 {
		return fmt.Errorf("%w: owner record unreadable", ErrVault)
	}
	if r.Account != "" {
		if !validName(r.Account, 64) {
			return fmt.Errorf("%w: owner record has invalid account", ErrVault)
		}
		h, err := parseHash(r.Hash)
		if err != nil {
			return fmt.Errorf("%w: owner record: %w", ErrVault, err)
		}
		if h.Params.Memory > s.cfg.MaxHashMemory {
			return fmt.Errorf("%w: owner hash memory over limit", ErrVault)
		}
	}
	s.owner = r
	return nil
}

func (s *Service) putOwner(ctx context.Context, r ownerRecord) error {
	r.Version = 1
	b, _ := json.Marshal(r)
	if err := s.vaultPut(ctx, "owner", b); err != nil {
		return err
	}
	s.owner = r
	return nil
}

// validName: 1-max bytes of a-z, 0-9, '.', '_', '-'. Account names and
// scopes go into tokens, logs and headers, so no byte of them can inject.
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// State is where the device is in its authentication life cycle.
type State int

const (
	// Unprovisioned: no setup verifier and no owner password. No
	// credential works and setup cannot start: the factory step is missing.
	Unprovisioned State = iota
	// AwaitingSetup: the factory installed a setup-secret verifier; only
	// the setup flow is served until the owner sets a password.
	AwaitingSetup
	// Ready: the owner has set a password.
	Ready
)

func (st State) String() string {
	switch st {
	case AwaitingSetup:
		return "awaiting-setup"
	case Ready:
		return "ready"
	}
	return "unprovisioned"
}

// State returns the current life-cycle state.
func (s *Service) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

func (s *Service) stateLocked() State {
	switch {
	case s.owner.Account != "":
		return Ready
	case s.verifier != "":
		return AwaitingSetup
	}
	return Unprovisioned
}

// Provision installs the setup-secret verifier made off the device by
// SetupSecret.Verifier (the factory step). The device never sees the setup
// secret itself. It is refused once the owner has set a password, and the
// verifier's parameters must meet the floor and Config.MaxHashMemory.
func (s *Service) Provision(ctx context.Context, verifier string) error {
	h, err := parseHash(verifier)
	if err != nil {
		return err
	}
	if err := h.Params.validate(s.cfg.InsecureWeakHash, s.cfg.MaxHashMemory); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stateLocked() == Ready {
		return ErrAlreadySetUp
	}
	if err := s.vaultPut(ctx, "setup-verifier", []byte(verifier)); err != nil {
		return err
	}
	s.verifier = verifier
	return nil
}

// Authenticate checks a password login. In order: the device must be set
// up (else ErrNotProvisioned, before anything else); the throttle must
// admit the attempt (else ErrThrottled, and nothing is hashed or written);
// the attempt is then charged as a failure on flash, the password bounded
// and normalised, and hashed — against the owner's hash or, for an unknown
// account, a dummy hash of the same cost, so the two cannot be told apart
// by timing. On success the charge is cleared, the hash is upgraded if
// Config.Hash rose, and a new session is returned.
func (s *Service) Authenticate(ctx context.Context, a Attempt) (*Session, error) {
	s.mu.Lock()
	st, owner := s.stateLocked(), s.owner
	s.mu.Unlock()
	if err := s.loginGate(st); err != nil {
		return nil, err
	}
	acctKey := a.Account
	if !validName(a.Account, 64) {
		acctKey = "\x00invalid"
	}
	tk, err := s.thr.admit(a.Source, acctKey)
	if err != nil {
		s.logAttempt(ctx, "auth: login refused", SourceKey(a.Source), slog.String("reason", err.Error()))
		return nil, err
	}
	ok, h, err := s.checkPassword(ctx, owner, a.Account, string(a.Password))
	if err != nil {
		return nil, err
	}
	if !ok {
		s.logAttempt(ctx, "auth: login failed", SourceKey(a.Source))
		return nil, ErrBadCredentials
	}
	if err := s.thr.success(tk); err != nil {
		s.log.Warn("auth: could not record success", "err", err)
	}
	if !h.Params.atLeast(s.cfg.Hash) {
		s.rehash(ctx, owner, string(a.Password))
	}
	return s.issue(owner.Account, owner.Generation, s.now())
}

// checkPassword hashes the password against the owner's hash, or a dummy
// of the same cost when account is not the owner.
func (s *Service) checkPassword(ctx context.Context, owner ownerRecord, account, password string) (bool, phcHash, error) {
	known := account == owner.Account && owner.Account != ""
	h := s.dummy
	if known {
		var err error
		if h, err = parseHash(owner.Hash); err != nil {
			return false, phcHash{}, fmt.Errorf("%w: %w", ErrVault, err)
		}
	}
	pw, nerr := normalize(password, s.cfg.Policy.MaxBytes)
	in := pepperInput(s.pepper, pw)
	if nerr != nil {
		in = pepperInput(s.pepper, nil)
		known = false
	}
	var match bool
	if err := s.hasher.do(ctx, func(a *argon2.Arena) { match = h.verifyIn(a, in) }); err != nil {
		return false, phcHash{}, err
	}
	return match && known, h, nil
}

func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	pw, err := normalize(password, s.cfg.Policy.MaxBytes)
	if err != nil {
		return "", err
	}
	var h phcHash
	if err := s.hasher.do(ctx, func(a *argon2.Arena) { h = newHashIn(a, pepperInput(s.pepper, pw), s.cfg.Hash) }); err != nil {
		return "", err
	}
	return h.String(), nil
}

func (s *Service) rehash(ctx context.Context, owner ownerRecord, password string) {
	phc, err := s.hashPassword(ctx, password)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != owner { // changed meanwhile: keep the newer record
		return
	}
	owner.Hash = phc
	if err := s.putOwner(ctx, owner); err != nil {
		s.log.Warn("auth: rehash not stored", "err", err)
		return
	}
	s.log.Info("auth: password rehashed with raised parameters", "params", s.cfg.Hash.String())
}

// setupAccount is the throttle's account key for the setup flow.
const setupAccount = "\x00setup"

// SetupRequest is the owner's first step: the setup secret from the label,
// and the account and password to use from now on. Its String redacts the
// secrets.
type SetupRequest struct {
	Source      string
	SetupSecret Password
	Account     string
	NewPassword Password
}

// Setup runs the setup flow: with the right setup secret it sets the
// owner's account and password (checked against the policy first, so a
// refused password costs no attempt) and returns a fresh session. The setup
// secret is throttled like a password.
func (s *Service) Setup(ctx context.Context, r SetupRequest) (*Session, error) {
	s.mu.Lock()
	st, verifier := s.stateLocked(), s.verifier
	s.mu.Unlock()
	if err := s.setupGate(st); err != nil {
		return nil, err
	}
	if !validName(r.Account, 64) {
		return nil, ErrInvalidAccount
	}
	if err := s.cfg.Policy.Check(r.Account, string(r.NewPassword)); err != nil {
		return nil, err
	}
	tk, err := s.thr.admit(r.Source, setupAccount)
	if err != nil {
		return nil, err
	}
	secret, err := ParseSetupSecret(string(r.SetupSecret))
	if err != nil {
		return nil, err
	}
	vh, err := parseHash(verifier)
	if err != nil {
		return nil, fmt.Errorf("%w: setup verifier: %w", ErrVault, err)
	}
	var match bool
	if err := s.hasher.do(ctx, func(a *argon2.Arena) { match = vh.verifyIn(a, secret.input()) }); err != nil {
		return nil, err
	}
	if !match {
		s.log.Warn("auth: setup secret wrong", "source", SourceKey(r.Source))
		return nil, ErrBadCredentials
	}
	phc, err := s.hashPassword(ctx, string(r.NewPassword))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.stateLocked() == Ready {
		s.mu.Unlock()
		return nil, ErrAlreadySetUp
	}
	rec := ownerRecord{Account: r.Account, Hash: phc, Generation: s.owner.Generation + 1}
	err = s.putOwner(ctx, rec)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.thr.success(tk); err != nil {
		s.log.Warn("auth: could not record success", "err", err)
	}
	s.log.Info("auth: owner set up", "account", r.Account)
	return s.issue(rec.Account, rec.Generation, s.now())
}

// ChangeRequest changes the owner's password (provision 5.1-4). Either
// CurrentPassword is right, or Presence is set and Config.PresenceProof
// confirms physical presence. Its String redacts the passwords.
type ChangeRequest struct {
	Source          string
	Account         string
	CurrentPassword Password
	NewPassword     Password
	// Presence asks to prove physical presence instead of giving the
	// current password.
	Presence bool
}

// ChangePassword sets a new password for the owner and revokes every
// session issued before (the account's generation counter rises). It
// returns a fresh session for the caller. The new password is checked
// against the policy before the current one is, so a refused new password
// costs no attempt; the current password is throttled like a login.
func (s *Service) ChangePassword(ctx context.Context, r ChangeRequest) (*Session, error) {
	s.mu.Lock()
	st, owner := s.stateLocked(), s.owner
	s.mu.Unlock()
	if st != Ready {
		return nil, ErrNotProvisioned
	}
	if err := s.cfg.Policy.Check(r.Account, string(r.NewPassword)); err != nil {
		return nil, err
	}
	switch {
	case r.Presence:
		if s.cfg.PresenceProof == nil {
			return nil, ErrPresenceRequired
		}
		if r.Account != owner.Account {
			return nil, ErrBadCredentials
		}
		if err := s.cfg.PresenceProof(ctx); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPresenceRequired, err)
		}
	case r.CurrentPassword == "":
		return nil, ErrPresenceRequired
	default:
		tk, err := s.thr.admit(r.Source, r.Account)
		if err != nil {
			return nil, err
		}
		ok, _, err := s.checkPassword(ctx, owner, r.Account, string(r.CurrentPassword))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrBadCredentials
		}
		if err := s.thr.success(tk); err != nil {
			s.log.Warn("auth: could not record success", "err", err)
		}
	}
	phc, err := s.hashPassword(ctx, string(r.NewPassword))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.owner.Generation != owner.Generation {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: password changed concurrently", ErrBadCredentials)
	}
	rec := ownerRecord{Account: owner.Account, Hash: phc, Generation: owner.Generation + 1}
	err = s.putOwner(ctx, rec)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.log.Info("auth: password changed, earlier sessions revoked", "account", owner.Account)
	return s.issue(rec.Account, rec.Generation, s.now())
}

// Reset forgets the owner's password and revokes every session, returning
// the device to AwaitingSetup (the setup secret on the label works again).
// The factory reset (erase) calls it.
func (s *Service) Reset(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putOwner(ctx, ownerRecord{Generation: s.owner.Generation + 1})
}
