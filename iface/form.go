package iface

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// Defaults of FormLimits, documented on its fields.
const (
	// defaultMaxFormBytes bounds a form body: 8 KiB.
	defaultMaxFormBytes = 8 << 10
	// defaultMaxFormField bounds one field's value: 1 KiB.
	defaultMaxFormField = 1 << 10
)

// FormLimits bounds [DecodeForm]. The zero value is the secure default.
type FormLimits struct {
	// MaxBytes is the largest body accepted; 0 means 8 KiB.
	MaxBytes int64
	// MaxField is the longest value accepted for one field; 0 means
	// 1 KiB.
	MaxField int
}

// DecodeForm reads an application/x-www-form-urlencoded body that must
// carry exactly the named fields, each once, as valid UTF-8 of at most
// lim.MaxField bytes, in a body of at most lim.MaxBytes. A request with
// another content type, any query parameter, an unknown, repeated or
// missing field is refused before anything is acted on. Every refusal is an
// [*InputError] naming the field (never its value); an oversized body is
// also [ErrTooLarge]. It is the form counterpart of [DecodeJSON].
func DecodeForm(r *http.Request, lim FormLimits, fields ...string) (map[string]string, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = defaultMaxFormBytes
	}
	if lim.MaxField <= 0 {
		lim.MaxField = defaultMaxFormField
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &InputError{Reason: "not a form (wrong content type)"}
	}
	if r.URL.RawQuery != "" {
		return nil, &InputError{Reason: "unexpected parameters in the address"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, lim.MaxBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &InputError{Reason: "form too large", TooLarge: true}
		}
		return nil, &InputError{Reason: "form unreadable"}
	}
	if int64(len(body)) > lim.MaxBytes {
		return nil, &InputError{Reason: "form too large", TooLarge: true}
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &InputError{Reason: "malformed form encoding"}
	}
	want := make(map[string]bool, len(fields))
	for _, f := range fields {
		want[f] = true
	}
	out := make(map[string]string, len(fields))
	for k, vs := range vals {
		if !want[k] {
			return nil, &InputError{Field: printable(k, 64), Reason: "unexpected field"}
		}
		if len(vs) != 1 {
			return nil, &InputError{Field: k, Reason: "repeated field"}
		}
		if len(vs[0]) > lim.MaxField {
			return nil, &InputError{Field: k, Reason: "too long", TooLarge: true}
		}
		if !utf8.ValidString(vs[0]) {
			return nil, &InputError{Field: k, Reason: "not valid UTF-8"}
		}
		out[k] = vs[0]
	}
	for _, f := range fields {
		if _, ok := out[f]; !ok {
			return nil, &InputError{Field: f, Reason: "missing"}
		}
	}
	return out, nil
}
