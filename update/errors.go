package update

import (
	"errors"
	"fmt"
)

// Errors returned by the client. Refusals wrap one of these sentinels, often
// through a typed error carrying detail; test with errors.Is.
var (
	// ErrNotFound: the repository has no such file (HTTP 404/403) or no
	// such target in the signed targets metadata.
	ErrNotFound = errors.New("update: not found")
	// ErrTooLarge: a response exceeded its bound (endless-data attack,
	// or metadata larger than the per-role limit).
	ErrTooLarge = errors.New("update: response larger than allowed")
	// ErrSlowRetrieval: the transfer fell below Config.MinRate over
	// Config.MinRateWindow.
	ErrSlowRetrieval = errors.New("update: transfer slower than the minimum rate")
	// ErrHTTP: the server answered with an unexpected status or headers
	// (see [*HTTPError]).
	ErrHTTP = errors.New("update: unexpected HTTP response")
	// ErrRedirect: the server redirected to another host or scheme.
	ErrRedirect = errors.New("update: redirect refused")
	// ErrContentType: a response's Content-Type cannot be what was asked
	// for (an HTML portal page instead of metadata or an image).
	ErrContentType = errors.New("update: unexpected content type")
	// ErrMetadata: TUF metadata failed verification (signature threshold,
	// version, expiry, type, hashes or length). The wrapped error says which.
	ErrMetadata = errors.New("update: metadata verification failed")
	// ErrExpired: verified metadata is expired at the trusted time
	// (indefinite-freeze attack). It is also an ErrMetadata.
	ErrExpired = errors.New("update: metadata expired")
	// ErrTarget: target bytes do not match the signed length or hashes.
	ErrTarget = errors.New("update: target does not match signed metadata")
	// ErrHardware: the target is built for other hardware.
	ErrHardware = errors.New("update: target is for other hardware")
	// ErrRollback: the target's release counter is not greater than the
	// installed one.
	ErrRollback = errors.New("update: release counter not newer than installed")
	// ErrNotRefreshed: a target was asked for before a successful Refresh.
	ErrNotRefreshed = errors.New("update: metadata not refreshed")
	// ErrBundle: an offline bundle is malformed.
	ErrBundle = errors.New("update: malformed bundle")
	// ErrSignature: a detached signature is malformed or does not verify.
	ErrSignature = errors.New("update: detached signature invalid")
)

// HTTPError describes an unexpected HTTP response. It unwraps to ErrHTTP,
// and also to ErrNotFound for 403/404.
type HTTPError struct {
	URL    string
	Status int
	Reason string
}

func (e *HTTPError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("update: %s: HTTP %d: %s", e.URL, e.Status, e.Reason)
	}
	return fmt.Sprintf("update: %s: HTTP %d", e.URL, e.Status)
}

// Unwrap returns the sentinels e matches.
func (e *HTTPError) Unwrap() []error {
	if e.Status == 404 || e.Status == 403 {
		return []error{ErrHTTP, ErrNotFound}
	}
	return []error{ErrHTTP}
}

// MetadataError says which role failed verification and why. It unwraps to
// ErrMetadata (and ErrExpired when that is the reason) and to go-tuf's error.
type MetadataError struct {
	Role string
	Err  error
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("update: %s metadata: %v", e.Role, e.Err)
}

// Unwrap returns ErrMetadata and the cause.
func (e *MetadataError) Unwrap() []error { return []error{ErrMetadata, e.Err} }
