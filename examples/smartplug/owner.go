package main

import (
	"context"
	"path/filepath"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/conformance"
)

// ownerAuth wires auth.Service to the device: its vault is the sealed store
// (secrets.Store satisfies auth.Vault), its throttle log lives in the state
// directory, and the account is always "owner" (a plug has one owner; the
// web UI asks only for the password).
type ownerAuth struct {
	svc *auth.Service
	// hashed is called after every operation that may have hashed, to give
	// the request's garbage back to the OS soon.
	hashed func()
	// sec records each outcome in the security log (security.go).
	sec func(ctx context.Context, op, src string, err error)
}

func openOwnerAuth(ctx context.Context, d *device) (*ownerAuth, error) {
	svc, err := auth.New(ctx, auth.Config{
		Vault:    d.store,
		StateDir: filepath.Join(d.dir, "auth"),
		// The model and brand are context words a password must not be
		// built from (NIST SP 800-63B).
		Policy: auth.Policy{ContextWords: []string{d.model, d.manufacturer, "smartplug"}},
		// One Argon2id computation at a time: auth keeps one 19 MiB arena
		// per concurrent hash resident once used, and a plug has one owner.
		// A second login waits ~50 ms (bounded by its request's context).
		MaxConcurrentHashes: 1,
		Logger:              d.log,
	})
	if err != nil {
		return nil, err
	}
	return &ownerAuth{svc: svc, hashed: d.trim.soon, sec: d.secAuth}, nil
}

func (a *ownerAuth) close() error { return a.svc.Close() }

// provision installs the factory's setup-secret verifier.
func (a *ownerAuth) provision(ctx context.Context, verifier string) error {
	return a.svc.Provision(ctx, verifier)
}

// setUp reports whether the owner has chosen a password.
func (a *ownerAuth) setUp() bool { return a.svc.State() == auth.Ready }

func (a *ownerAuth) setup(ctx context.Context, src, secret, password string) (ses *auth.Session, err error) {
	defer a.hashed()
	defer func() { a.sec(ctx, "setup", src, err) }()
	return a.svc.Setup(ctx, auth.SetupRequest{Source: src, SetupSecret: auth.Password(secret), Account: ownerAccount, NewPassword: auth.Password(password)})
}

func (a *ownerAuth) login(ctx context.Context, src, password string) (ses *auth.Session, err error) {
	defer a.hashed()
	defer func() { a.sec(ctx, "login", src, err) }()
	return a.svc.Authenticate(ctx, auth.Attempt{Source: src, Account: ownerAccount, Password: auth.Password(password)})
}

// logout revokes the owner's sessions on the device, not just the cookie:
// a copied token stops working too.
func (a *ownerAuth) logout(ctx context.Context) error {
	return a.svc.RevokeSessions(ctx)
}

// changePassword needs the current password (5.1-4); it revokes every
// earlier session and returns a new one for the caller.
func (a *ownerAuth) changePassword(ctx context.Context, src, current, password string) (ses *auth.Session, err error) {
	defer a.hashed()
	defer func() { a.sec(ctx, "password-change", src, err) }()
	return a.svc.ChangePassword(ctx, auth.ChangeRequest{Source: src, Account: ownerAccount, CurrentPassword: auth.Password(current), NewPassword: auth.Password(password)})
}

// Checks are auth's self-checks of the running service.
func (a *ownerAuth) Checks() []conformance.Check { return a.svc.Checks() }
