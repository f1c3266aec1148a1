package auth

import (
	"net/http"
)

// SourceFromRequest returns the throttle source of an HTTP request: its
// peer address (r.RemoteAddr). Forwarding headers are ignored, because any
// client can set them; a device behind its own reverse proxy passes the
// proxy's verified client address instead.
func SourceFromRequest(r *http.Request) string { return r.RemoteAddr }

// SetCookie sets the session cookie: Secure, HttpOnly, SameSite=Strict,
// Path=/, __Host- prefixed, expiring with the session.
func SetCookie(w http.ResponseWriter, ses *Session) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: ses.Token(), Path: "/", Expires: ses.Expires,
		MaxAge: int(ses.Expires.Sub(ses.IssuedAt).Seconds()), Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// ClearCookie removes the session cookie.
func ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
