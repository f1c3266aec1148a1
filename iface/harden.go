package iface

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HardenOptions configures [Harden]. Zero fields take the [ServerConfig]
// defaults.
type HardenOptions struct {
	// MaxBodyBytes bounds request bodies (413 beyond); 0 means
	// 1 MiB.
	MaxBodyBytes int64
	// ContentSecurityPolicy; "" means the
	// page's own origin only (see ServerConfig.ContentSecurityPolicy).
	ContentSecurityPolicy string
	// HSTSMaxAge, sent on TLS requests only; 0 means one year.
	HSTSMaxAge time.Duration
	// Logger receives handler panics; nil discards.
	Logger *slog.Logger
}

// Harden wraps h with the request screening and response rules of the
// hardened server, for devices that run their own http.Server:
//
//   - requests refused before h runs: TRACE/CONNECT (405), paths with
//     "." or ".." segments, backslashes, NUL, CR, LF or other control
//     characters, raw or percent-encoded (400), header values with CR, LF
//     or NUL (400), bodies over MaxBodyBytes (413; the body is also capped
//     while h reads it);
//   - every response: no Server or X-Powered-By header, Content-Security-
//     Policy, X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
//     Referrer-Policy: no-referrer, Cross-Origin-Opener-Policy, and HSTS
//     over TLS;
//   - every error status (>= 400) whose body h did not already write as
//     application/json is replaced by the uniform JSON error body
//     {"error":"not found"}, so 404, 405 and http.Error look the same
//     whatever produced them, and no internal message leaks;
//   - a panic in h becomes a uniform 500 and is logged.
func Harden(h http.Handler, o HardenOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultMaxBodyBytes
	}
	if o.ContentSecurityPolicy == "" {
		o.ContentSecurityPolicy = defaultContentSecurityPolicy
	}
	if o.HSTSMaxAge <= 0 {
		o.HSTSMaxAge = defaultHSTSMaxAge
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	hsts := "max-age=" + strconv.FormatInt(int64(o.HSTSMaxAge/time.Second), 10) + "; includeSubDomains"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", o.ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", hsts)
		}
		if status, reason := screen(r); status != 0 {
			if status == http.StatusMethodNotAllowed {
				hd.Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
			}
			writeJSONError(w, status, "", reason)
			return
		}
		if r.ContentLength > o.MaxBodyBytes {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "", "")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		}
		uw := &uniformWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				o.Logger.Error("iface: handler panic", "path", printable(r.URL.Path, 128), "panic", fmt.Sprint(p))
				if !uw.wroteHeader {
					uw.ResponseWriter.Header().Del("Content-Type")
					writeJSONError(uw.ResponseWriter, http.StatusInternalServerError, "", "")
				}
			}
		}()
		h.ServeHTTP(uw, r)
	})
}

// screen refuses requests no device route should see. It returns 0 when
// the request may proceed.
func screen(r *http.Request) (int, string) {
	switch r.Method {
	case http.MethodTrace, http.MethodConnect:
		return http.StatusMethodNotAllowed, ""
	}
	if reason := badPath(r.URL.EscapedPath()); reason != "" {
		return http.StatusBadRequest, reason
	}
	if strings.ContainsAny(r.URL.RawQuery, "\x00\r\n") {
		return http.StatusBadRequest, "control character in query"
	}
	for _, vs := range r.Header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\x00\r\n") {
				return http.StatusBadRequest, "control character in header"
			}
		}
	}
	return 0, ""
}

// badPath inspects an escaped path, segment by segment, after decoding
// percent-escapes, so %2e%2e and %0d%0a are caught as well as their raw
// forms. It returns "" for an acceptable path.
func badPath(p string) string {
	if p == "" || p == "*" {
		return ""
	}
	if p[0] != '/' {
		return "invalid path"
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		d, ok := unescapeSegment(seg)
		if !ok {
			return "invalid path"
		}
		if d == "." || d == ".." {
			return "path traversal"
		}
		for i := 0; i < len(d); i++ {
			if c := d[i]; c < 0x20 || c == 0x7f || c == '\\' || c == '/' {
				if c == '/' || c == '\\' {
					return "path traversal"
				}
				return "control character in path"
			}
		}
	}
	return ""
}

func unescapeSegment(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// uniformWriter replaces error bodies that are not the package's JSON
// shape, and strips identifying headers a handler may have set.
type uniformWriter struct {
	http.ResponseWriter
	wroteHeader bool
	swallow     bool // an error body is being replaced: drop h's writes
}

func (w *uniformWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	if status >= 100 && status < 200 {
		w.ResponseWriter.WriteHeader(status) // informational: the final status follows
		return
	}
	w.wroteHeader = true
	h := w.ResponseWriter.Header()
	h.Del("Server")
	h.Del("X-Powered-By")
	if status >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		w.swallow = true
		h.Del("Content-Type")
		h.Del("Content-Length")
		writeJSONError(w.ResponseWriter, status, "", "")
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *uniformWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer
// (deadlines, flushing).
func (w *uniformWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher.
func (w *uniformWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.swallow {
		f.Flush()
	}
}
