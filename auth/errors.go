package auth

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers test them with errors.Is; none of them ever
// carries a password, setup secret, token or key.
var (
	// ErrBadCredentials is the one answer to a wrong account, a wrong
	// password or a wrong setup secret: the caller cannot tell which.
	ErrBadCredentials = errors.New("auth: bad credentials")
	// ErrNotProvisioned is returned by Authenticate until the owner has set
	// a password through the setup flow: no credential works before that.
	ErrNotProvisioned = errors.New("auth: device not set up")
	// ErrAlreadySetUp is returned by Setup once an owner password exists.
	ErrAlreadySetUp = errors.New("auth: device already set up")
	// ErrNoSetupVerifier is returned by Setup when the factory never
	// installed a setup-secret verifier (see Service.Provision).
	ErrNoSetupVerifier = errors.New("auth: no setup verifier installed")
	// ErrMalformedSetupSecret reports a setup secret with the wrong length,
	// characters or check character (most often a typo).
	ErrMalformedSetupSecret = errors.New("auth: malformed setup secret")
	// ErrTrivialSecret reports a generated or installed setup secret that
	// is trivial (one repeated symbol, a run, a short repeated pattern).
	ErrTrivialSecret = errors.New("auth: trivial setup secret")
	// ErrMalformedHash reports a PHC string that the strict parser refused.
	ErrMalformedHash = errors.New("auth: malformed password hash")
	// ErrWeakParams reports Argon2id parameters below the floor
	// (m=19 MiB, t=2, p=1) without Config.InsecureWeakHash.
	ErrWeakParams = errors.New("auth: argon2id parameters below floor")
	// ErrInvalidToken reports a session token that is malformed, forged,
	// revoked or for an account that no longer exists.
	ErrInvalidToken = errors.New("auth: invalid session token")
	// ErrExpiredToken reports a session token past its expiry.
	ErrExpiredToken = errors.New("auth: session expired")
	// ErrFreshAuthRequired reports a session whose password entry is older
	// than Config.FreshAuth, used for a security-relevant change.
	ErrFreshAuthRequired = errors.New("auth: fresh authentication required")
	// ErrForbidden reports a session that lacks the scope a route requires.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrInvalidAccount reports an account name outside the allowed syntax
	// (1-64 bytes of a-z, 0-9, '.', '_', '-').
	ErrInvalidAccount = errors.New("auth: invalid account name")
	// ErrPresenceRequired reports a change requested without the current
	// password and without a physical-presence proof.
	ErrPresenceRequired = errors.New("auth: current password or physical presence required")
	// ErrVault wraps a failure of the vault other than "not found": the
	// service fails closed.
	ErrVault = errors.New("auth: vault failure")
	// ErrThrottleState wraps a failure to persist throttle state: the
	// attempt is refused (fail closed) rather than left uncounted.
	ErrThrottleState = errors.New("auth: throttle state not persisted")
)

// ErrThrottled is returned instead of checking a credential when the
// attempt's source, account or the device-wide budget is over its limit.
// The credential was not hashed. RetryAfter says when the same source may
// try again (round it up for an HTTP Retry-After header).
//
// Test for it with errors.As(err, &auth.ErrThrottled{}) or
// errors.Is(err, auth.ErrThrottled{}).
type ErrThrottled struct {
	// RetryAfter is how long until an attempt from the same source may be
	// considered again. Always > 0.
	RetryAfter time.Duration
	// Limit names the limit that refused the attempt: "source", "account"
	// or "global".
	Limit string
}

func (e ErrThrottled) Error() string {
	return fmt.Sprintf("auth: too many attempts (%s limit), retry after %s", e.Limit, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrThrottled{}) true for any ErrThrottled.
func (e ErrThrottled) Is(target error) bool {
	_, ok := target.(ErrThrottled)
	return ok
}

// PolicyError says why a new password was refused. It wraps ErrPolicy and
// never contains the password.
type PolicyError struct {
	// Reason is a sentence for the user ("shorter than 15 characters").
	Reason string
}

// ErrPolicy is wrapped by every PolicyError.
var ErrPolicy = errors.New("auth: password refused by policy")

func (e *PolicyError) Error() string { return "auth: password refused: " + e.Reason }

// Unwrap returns ErrPolicy.
func (e *PolicyError) Unwrap() error { return ErrPolicy }
