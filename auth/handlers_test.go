package auth

// JSON handlers over Service for the gate tests: a device's own handlers
// (examples/smartplug) call Service.Setup, Authenticate, ChangePassword and
// RevokeSessions and set the cookie with SetCookie the same way.

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"
)

// maxBody bounds every request body of these handlers.
const maxBody = 4096

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		deny(w, http.StatusMethodNotAllowed, "method not allowed")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		deny(w, http.StatusBadRequest, "malformed request")
		return false
	}
	// One JSON value and nothing after it: dec.More reports false for a
	// trailing '}' or ']', so ask for the next token and expect the end.
	if _, err := dec.Token(); err != io.EOF {
		deny(w, http.StatusBadRequest, "malformed request")
		return false
	}
	return true
}

// writeErr maps an auth error to a status and a short message that says
// nothing the attacker did not know.
func writeErr(w http.ResponseWriter, err error) {
	var th ErrThrottled
	var pe *PolicyError
	switch {
	case errors.As(err, &th):
		secs := int(math.Ceil(th.RetryAfter.Seconds()))
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		deny(w, http.StatusTooManyRequests, "too many attempts")
	case errors.As(err, &pe):
		deny(w, http.StatusUnprocessableEntity, pe.Error())
	case errors.Is(err, ErrBadCredentials):
		deny(w, http.StatusUnauthorized, "wrong account or password")
	case errors.Is(err, ErrMalformedSetupSecret), errors.Is(err, ErrTrivialSecret):
		deny(w, http.StatusBadRequest, "setup secret mistyped: check it against the label")
	case errors.Is(err, ErrInvalidAccount):
		deny(w, http.StatusBadRequest, "invalid account name")
	case errors.Is(err, ErrNotProvisioned), errors.Is(err, ErrNoSetupVerifier):
		deny(w, http.StatusForbidden, "setup required")
	case errors.Is(err, ErrAlreadySetUp):
		deny(w, http.StatusConflict, "already set up")
	case errors.Is(err, ErrPresenceRequired):
		deny(w, http.StatusForbidden, "current password or physical presence required")
	default:
		deny(w, http.StatusServiceUnavailable, "temporarily unavailable")
	}
}

func writeSession(w http.ResponseWriter, ses *Session, code int) {
	SetCookie(w, ses)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"account": ses.Account, "expires": ses.Expires.UTC().Format(time.RFC3339)})
}

// loginHandler serves POST {"account":…, "password":…}: 200 with the
// session cookie, 401, 429 with Retry-After, or 403 before setup. Declare
// it Public.
func loginHandler(s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Account  string `json:"account"`
			Password string `json:"password"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		ses, err := s.Authenticate(r.Context(), Attempt{Source: SourceFromRequest(r), Account: req.Account, Password: Password(req.Password)})
		if err != nil {
			writeErr(w, err)
			return
		}
		writeSession(w, ses, http.StatusOK)
	})
}

// setupHandler serves POST {"setup_secret":…, "account":…,
// "new_password":…}: 201 with the session cookie. Declare it SetupFlow.
func setupHandler(s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SetupSecret string `json:"setup_secret"`
			Account     string `json:"account"`
			NewPassword string `json:"new_password"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		ses, err := s.Setup(r.Context(), SetupRequest{Source: SourceFromRequest(r), SetupSecret: Password(req.SetupSecret), Account: req.Account, NewPassword: Password(req.NewPassword)})
		if err != nil {
			writeErr(w, err)
			return
		}
		writeSession(w, ses, http.StatusCreated)
	})
}

// changePasswordHandler serves POST {"current_password":…,
// "new_password":…} or {"presence":true, "new_password":…} for the
// session's account (provision 5.1-4): 200 with a new session cookie; every
// earlier session is revoked. Declare it Require (the current password is
// re-checked, so it need not be fresh).
func changePasswordHandler(s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ses := SessionFrom(r.Context())
		if ses == nil {
			deny(w, http.StatusUnauthorized, "authentication required")
			return
		}
		var req struct {
			CurrentPassword string `json:"current_password"`
			NewPassword     string `json:"new_password"`
			Presence        bool   `json:"presence"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		ns, err := s.ChangePassword(r.Context(), ChangeRequest{Source: SourceFromRequest(r), Account: ses.Account,
			CurrentPassword: Password(req.CurrentPassword), NewPassword: Password(req.NewPassword), Presence: req.Presence})
		if err != nil {
			writeErr(w, err)
			return
		}
		writeSession(w, ns, http.StatusOK)
	})
}

// logoutHandler clears the session cookie (POST). Declare it Public: it
// needs no session to clear one.
func logoutHandler(s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			deny(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		ClearCookie(w)
		w.WriteHeader(http.StatusNoContent)
	})
}
