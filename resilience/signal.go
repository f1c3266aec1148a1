package resilience

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBusy matches (with errors.Is) every [BusyError]: the service refused
// because it is overloaded.
var ErrBusy = errors.New("resilience: service busy")

// BusyError is what a connect function returns (or wraps) when the service
// refused the attempt because it is overloaded: HTTP 429 or 503, MQTT 5
// CONNACK reason codes 0x89 (server busy), 0x97 (quota exceeded) or 0x9F
// (connection rate exceeded). [Backoff.Failed] then widens its window to the
// start-up spread and waits out RetryAfter first.
type BusyError struct {
	// Reason names the signal, for logs ("http 503", "mqtt 0x89 server busy").
	Reason string
	// RetryAfter is the delay the server asked for; zero when it gave none.
	RetryAfter time.Duration
}

// Error describes the signal and the requested delay.
func (e *BusyError) Error() string {
	s := "resilience: service busy"
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(", retry after %v", e.RetryAfter)
	}
	return s
}

// Is makes errors.Is(err, ErrBusy) true for a BusyError.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// MQTT 5 reason codes (CONNACK, DISCONNECT) that mean the server is
// overloaded; [MQTTBusy] turns them into a [BusyError].
const (
	// MQTTServerBusy is reason code 0x89, Server busy.
	MQTTServerBusy byte = 0x89
	// MQTTQuotaExceeded is reason code 0x97, Quota exceeded.
	MQTTQuotaExceeded byte = 0x97
	// MQTTConnectionRateExceeded is reason code 0x9F, Connection rate
	// exceeded.
	MQTTConnectionRateExceeded byte = 0x9F
)

const (
	maxRetryAfterHeaderLen      = 64
	maxRetryAfterParsed         = 24 * time.Hour
	retryAfterDeltaSecondsLimit = 1e9
)

// MQTTBusy returns a [*BusyError] for the MQTT 5 reason codes that mean the
// server is overloaded (0x89, 0x97, 0x9F) and nil for any other code, so a
// connect function can write
//
//	if err := resilience.MQTTBusy(connack.ReasonCode); err != nil { return err }
func MQTTBusy(reasonCode byte) error {
	switch reasonCode {
	case MQTTServerBusy:
		return &BusyError{Reason: "mqtt 0x89 server busy"}
	case MQTTQuotaExceeded:
		return &BusyError{Reason: "mqtt 0x97 quota exceeded"}
	case MQTTConnectionRateExceeded:
		return &BusyError{Reason: "mqtt 0x9f connection rate exceeded"}
	}
	return nil
}

// HTTPBusy returns a [*BusyError] for HTTP status 429 (Too Many Requests) and
// 503 (Service Unavailable), carrying the delay of the Retry-After header
// value retryAfter (see [ParseRetryAfter]; pass "" when absent), and nil for
// any other status. now is the current wall-clock time, used for an
// HTTP-date value.
func HTTPBusy(status int, retryAfter string, now time.Time) error {
	if status != 429 && status != 503 {
		return nil
	}
	d, _ := ParseRetryAfter(retryAfter, now)
	return &BusyError{Reason: "http " + strconv.Itoa(status), RetryAfter: d}
}

// HTTP-date formats of RFC 9110 §5.6.7: the preferred IMF-fixdate and the two
// obsolete ones a recipient must accept.
var httpDateFormats = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	"Mon Jan _2 15:04:05 2006",
}

// ParseRetryAfter parses an HTTP Retry-After value, either delta-seconds
// ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", relative to now).
// It reports false for an empty, over-long (more than 64 bytes) or malformed
// value. A date in the past gives zero. The result is capped at 24 hours;
// [Backoff] caps it further at Policy.MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxRetryAfterHeaderLen {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > retryAfterDeltaSecondsLimit {
			// Too many digits to be meant literally: the most the
			// server could have wanted is the cap.
			return maxRetryAfterParsed, true
		}
		d := time.Duration(n) * time.Second
		if d > maxRetryAfterParsed {
			d = maxRetryAfterParsed
		}
		return d, true
	}
	for _, f := range httpDateFormats {
		t, err := time.Parse(f, v)
		if err != nil {
			continue
		}
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		if d > maxRetryAfterParsed {
			d = maxRetryAfterParsed
		}
		return d, true
	}
	return 0, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
