package iface

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors every refused input wraps, so callers can test with errors.Is
// without caring which validator refused it.
var (
	// ErrInvalidInput is wrapped by every [*InputError].
	ErrInvalidInput = errors.New("iface: invalid input")
	// ErrTooLarge is wrapped, besides ErrInvalidInput, by an InputError for
	// a body or value over its size limit (HTTP 413).
	ErrTooLarge = errors.New("iface: input too large")
)

// InputError is the one error type for refused input: which field (a dotted
// JSON path such as "wifi.ssid", or "" for the body as a whole) and a fixed
// reason phrase. It never contains the refused value, so it is safe to log
// and to return to the client; [WriteInputError] turns it into a 400 (or
// 413) response with a JSON body naming the field.
type InputError struct {
	// Field names the offending field; "" means the whole input.
	Field string
	// Reason is a short fixed phrase ("too long", "duplicate key", …).
	Reason string
	// TooLarge marks a size limit refusal (ErrTooLarge, HTTP 413).
	TooLarge bool
}

// Error names the field and the reason, never the value.
func (e *InputError) Error() string {
	if e.Field == "" {
		return "iface: invalid input: " + e.Reason
	}
	return fmt.Sprintf("iface: invalid input: field %q: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalidInput, and ErrTooLarge for size refusals.
func (e *InputError) Unwrap() []error {
	if e.TooLarge {
		return []error{ErrInvalidInput, ErrTooLarge}
	}
	return []error{ErrInvalidInput}
}

// Status is the HTTP status the error maps to: 413 for size refusals, 400
// otherwise.
func (e *InputError) Status() int {
	if e.TooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func invalid(field, reason string) *InputError { return &InputError{Field: field, Reason: reason} }

// WriteInputError writes err as the uniform JSON error body
// {"error":"invalid input","field":"…","reason":"…"} with the status from
// [InputError.Status]. Any other error is written as a plain 400 with the
// same shape and no detail, so internal messages never reach the client.
func WriteInputError(w http.ResponseWriter, err error) {
	var ie *InputError
	if !errors.As(err, &ie) {
		writeJSONError(w, http.StatusBadRequest, "", "")
		return
	}
	writeJSONError(w, ie.Status(), ie.Field, ie.Reason)
}

type errorBody struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// writeJSONError writes the one error body shape the package produces.
func writeJSONError(w http.ResponseWriter, status int, field, reason string) {
	msg := strings.ToLower(http.StatusText(status))
	if status == http.StatusBadRequest && (field != "" || reason != "") {
		msg = "invalid input"
	}
	if msg == "" {
		msg = "error"
	}
	b, _ := json.Marshal(errorBody{Error: msg, Field: printable(field, 128), Reason: reason})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// printable bounds s to n bytes and replaces anything non-printable, so an
// attacker-chosen key echoed as a field name cannot carry control or
// bidi characters into logs or UIs.
func printable(s string, n int) string {
	s = truncate(s, n)
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Limits on the validators' inputs. Values over them are refused as too long.
const (
	// MaxNameRunes bounds [Name]: a device or user-visible name.
	MaxNameRunes = 64
	// MaxSSIDBytes is the 802.11 SSID limit enforced by [SSID].
	MaxSSIDBytes = 32
	// MaxHostnameBytes is the DNS limit enforced by [Hostname].
	MaxHostnameBytes = 253
	// MaxURLBytes bounds [URL].
	MaxURLBytes = 2048
	// MaxTimeZoneBytes bounds [TimeZone].
	MaxTimeZoneBytes = 64
)

// Name validates a user-visible name (device name, room, schedule label):
// valid UTF-8, 1 to [MaxNameRunes] characters, no control, format
// (bidi override, zero-width) or unassigned characters, no leading or
// trailing space.
func Name(field, s string) error {
	if s == "" {
		return invalid(field, "empty")
	}
	if len(s) > 4*MaxNameRunes {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	if !utf8.ValidString(s) {
		return invalid(field, "invalid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxNameRunes {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' || unicode.Is(unicode.Cf, r) {
			return invalid(field, "forbidden character")
		}
	}
	if strings.TrimSpace(s) != s {
		return invalid(field, "leading or trailing space")
	}
	return nil
}

// SSID validates a Wi-Fi network name: 1 to 32 bytes (the 802.11 limit) of
// valid UTF-8 without control characters. SSIDs that are not UTF-8 cannot
// be entered through a JSON API and are refused.
func SSID(field, s string) error {
	if s == "" {
		return invalid(field, "empty")
	}
	if len(s) > MaxSSIDBytes {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	if !utf8.ValidString(s) {
		return invalid(field, "invalid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return invalid(field, "forbidden character")
		}
	}
	return nil
}

// Hostname validates a DNS host name (RFC 1123): at most 253 bytes, dot
// separated labels of 1 to 63 letters, digits and hyphens, not starting or
// ending with a hyphen, no trailing dot, and not all-numeric (so an IPv4
// address in disguise is refused; use [IPAddr] for addresses).
func Hostname(field, s string) error {
	if s == "" {
		return invalid(field, "empty")
	}
	if len(s) > MaxHostnameBytes {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	digitsOnly := true
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return invalid(field, "invalid hostname")
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return invalid(field, "invalid hostname")
			}
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			digitsOnly = false
		default:
			return invalid(field, "invalid hostname")
		}
		label++
		if label > 63 {
			return invalid(field, "invalid hostname")
		}
	}
	if label == 0 || s[len(s)-1] == '-' || digitsOnly {
		return invalid(field, "invalid hostname")
	}
	return nil
}

// IPAddr validates a textual IPv4 or IPv6 address (no zone, no brackets).
func IPAddr(field, s string) error {
	if len(s) > 64 {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return invalid(field, "invalid IP address")
	}
	return nil
}

// URL validates an absolute URL the device will contact (update server,
// MQTT broker, webhook): at most [MaxURLBytes], scheme among schemes
// (lower case; nil means "https" only), a valid hostname or IP literal,
// an optional numeric port 1–65535, no user:password part, no fragment,
// and no spaces or control characters anywhere.
func URL(field, s string, schemes ...string) error {
	if s == "" {
		return invalid(field, "empty")
	}
	if len(s) > MaxURLBytes {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return invalid(field, "forbidden character")
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || !u.IsAbs() {
		return invalid(field, "invalid URL")
	}
	if strings.ContainsFunc(u.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalid(field, "forbidden character")
	}
	if len(schemes) == 0 {
		schemes = []string{"https"}
	}
	ok := false
	for _, sc := range schemes {
		if u.Scheme == sc {
			ok = true
		}
	}
	if !ok {
		return invalid(field, "scheme not allowed")
	}
	if u.User != nil {
		return invalid(field, "credentials in URL")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return invalid(field, "fragment not allowed")
	}
	host, port := u.Hostname(), u.Port()
	switch a, err := netip.ParseAddr(host); {
	case strings.HasPrefix(u.Host, "["):
		if err != nil || !a.Is6() || a.Zone() != "" {
			return invalid(field, "invalid host")
		}
	case err == nil:
		if !a.Is4() {
			return invalid(field, "invalid host")
		}
	case Hostname(field, host) != nil:
		return invalid(field, "invalid host")
	}
	if strings.HasSuffix(u.Host, ":") {
		return invalid(field, "invalid port")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return invalid(field, "invalid port")
		}
	}
	return nil
}

// TimeZone validates an IANA time zone name such as "Europe/Berlin" or
// "UTC". The name is first checked syntactically (segments of letters,
// digits, '_', '-', '+', no "." or ".." segments, no leading '/'), so it can
// never name a file outside the zone database, then loaded with
// time.LoadLocation. Devices without /usr/share/zoneinfo must link the
// database with the timetzdata build tag (or import time/tzdata), or every
// zone but "UTC" is refused. "Local" is refused: it is not a zone name.
func TimeZone(field, s string) error {
	if s == "" {
		return invalid(field, "empty")
	}
	if len(s) > MaxTimeZoneBytes {
		return &InputError{Field: field, Reason: "too long", TooLarge: true}
	}
	if s == "Local" {
		return invalid(field, "unknown time zone")
	}
	seg := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			if seg == 0 {
				return invalid(field, "invalid time zone")
			}
			seg = 0
			continue
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '+':
		case c == '-':
			if seg == 0 {
				return invalid(field, "invalid time zone")
			}
		default:
			return invalid(field, "invalid time zone")
		}
		seg++
	}
	if seg == 0 {
		return invalid(field, "invalid time zone")
	}
	if _, ok := knownZones.Load(s); ok {
		return nil
	}
	if _, err := time.LoadLocation(s); err != nil {
		return invalid(field, "unknown time zone")
	}
	// Remember zones that loaded: LoadLocation reads the database on every
	// call. Only names that exist are stored, so the cache is bounded by
	// the database (about 600 names) and by maxKnownZones.
	if knownZoneCount.Add(1) <= maxKnownZones {
		knownZones.Store(s, struct{}{})
	}
	return nil
}

const maxKnownZones = 1024

var (
	knownZones     sync.Map
	knownZoneCount atomic.Int64
)

// Int validates that v lies in [min, max].
func Int(field string, v, min, max int64) error {
	if v < min || v > max {
		return invalid(field, fmt.Sprintf("out of range [%d, %d]", min, max))
	}
	return nil
}

// Port validates a TCP/UDP port number, 1–65535.
func Port(field string, v int) error { return Int(field, int64(v), 1, 65535) }

// OneOf validates that s is one of allowed (exact match).
func OneOf(field, s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return invalid(field, "not an allowed value")
}

// hostPortValid reports whether s is host:port with a valid host and port;
// used by the server's redirect to refuse forged Host headers.
func hostPortValid(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, ""
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if Hostname("", host) != nil && IPAddr("", host) != nil {
		return false
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		return err == nil && n > 0 && n < 65536
	}
	return true
}
