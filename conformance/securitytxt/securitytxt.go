package securitytxt

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSize bounds the files [Parse] accepts. Real security.txt files are a
// few hundred bytes; anything larger is refused rather than read.
const MaxSize = 32 << 10

// MaxRecommendedValidity is how far in the future Expires should lie at
// most: RFC 9116 section 2.5.5 recommends less than a year.
const MaxRecommendedValidity = 365 * 24 * time.Hour

// Path is where RFC 9116 places the file on a web server.
const Path = "/.well-known/security.txt"

// ContentType is the media type to serve the file with.
const ContentType = "text/plain; charset=utf-8"

// ErrInvalid is returned by [File.Marshal] when the file has errors;
// the returned error is a *[Problems] that unwraps to it.
var ErrInvalid = errors.New("securitytxt: invalid file")

// ErrTooLarge is reported when the input exceeds [MaxSize].
var ErrTooLarge = errors.New("securitytxt: file larger than 32 KiB")

// File is the content of a security.txt file. The zero value is not valid:
// Contact and Expires are required.
type File struct {
	// Contact lists how to report a vulnerability, in order of preference:
	// mailto:, tel: or https:// URIs. At least one is required.
	Contact []string
	// Expires is when the file must be considered stale. Required; should be
	// less than a year ahead ([MaxRecommendedValidity]).
	Expires time.Time
	// Encryption lists URIs of keys to encrypt reports with (https://,
	// dns: or openpgp4fpr:). Optional.
	Encryption []string
	// Acknowledgments lists https:// pages thanking reporters. Optional.
	Acknowledgments []string
	// PreferredLanguages lists language tags (RFC 5646) reports may be
	// written in. Optional.
	PreferredLanguages []string
	// Canonical lists the https:// URIs the file is meant to be found at.
	// Optional.
	Canonical []string
	// Policy lists https:// URIs of the disclosure policy. Optional.
	Policy []string
	// Hiring lists https:// URIs of security job openings. Optional.
	Hiring []string
}

// Severity says whether a [Problem] makes the file invalid.
type Severity int

const (
	// Error: the file violates a MUST of RFC 9116.
	Error Severity = iota
	// Warning: the file violates a SHOULD or a recommendation.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one finding about a file. Line is 1-based, 0 when the problem
// concerns the whole file (a missing field).
type Problem struct {
	Line     int
	Field    string
	Severity Severity
	Msg      string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	b.WriteString(p.Severity.String())
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is the error [File.Marshal] returns for an invalid file.
type Problems []Problem

func (ps *Problems) Error() string {
	var msgs []string
	for _, p := range *ps {
		msgs = append(msgs, p.String())
	}
	return "securitytxt: invalid file: " + strings.Join(msgs, "; ")
}

// Unwrap returns [ErrInvalid].
func (ps *Problems) Unwrap() error { return ErrInvalid }

// HasErrors reports whether any problem is an [Error].
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == Error {
			return true
		}
	}
	return false
}

// Validate checks f against RFC 9116 as of now and returns every problem.
func (f *File) Validate(now time.Time) []Problem {
	var ps []Problem
	add := func(field string, sev Severity, format string, a ...any) {
		ps = append(ps, Problem{Field: field, Severity: sev, Msg: fmt.Sprintf(format, a...)})
	}
	if len(f.Contact) == 0 {
		add("Contact", Error, "required field missing")
	}
	check := func(field string, vals []string, kind uriKind) {
		for _, v := range vals {
			if msg := checkURI(v, kind); msg != "" {
				add(field, Error, "%s", msg)
			}
		}
	}
	check("Contact", f.Contact, contactURI)
	check("Encryption", f.Encryption, encryptionURI)
	check("Acknowledgments", f.Acknowledgments, webURI)
	check("Canonical", f.Canonical, webURI)
	check("Policy", f.Policy, webURI)
	check("Hiring", f.Hiring, webURI)
	for _, l := range f.PreferredLanguages {
		if !validLangTag(l) {
			add("Preferred-Languages", Error, "%q is not a language tag", l)
		}
	}
	ps = append(ps, checkExpires(f.Expires, now)...)
	return ps
}

func checkExpires(exp, now time.Time) []Problem {
	switch {
	case exp.IsZero():
		return []Problem{{Field: "Expires", Severity: Error, Msg: "required field missing"}}
	case !exp.After(now):
		return []Problem{{Field: "Expires", Severity: Error, Msg: "the file expired on " + exp.UTC().Format(time.RFC3339)}}
	case exp.Sub(now) > MaxRecommendedValidity:
		return []Problem{{Field: "Expires", Severity: Warning, Msg: "more than a year ahead; RFC 9116 recommends less, so that stale contacts expire"}}
	}
	return nil
}

// Marshal validates f as of now and renders it, one field per line, ending
// each line with LF. It fails with a *[Problems] (wrapping [ErrInvalid]) if
// the file has errors; warnings do not stop it.
func (f *File) Marshal(now time.Time) ([]byte, error) {
	ps := f.Validate(now)
	if HasErrors(ps) {
		p := Problems(ps)
		return nil, &p
	}
	for _, vals := range [][]string{f.Contact, f.Encryption, f.Acknowledgments, f.PreferredLanguages, f.Canonical, f.Policy, f.Hiring} {
		for _, v := range vals {
			if strings.ContainsAny(v, "\r\n") {
				p := Problems{{Severity: Error, Msg: "a value contains a line break"}}
				return nil, &p
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("# Security contact of this product (RFC 9116).\n")
	put := func(name string, vals []string) {
		for _, v := range vals {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	put("Contact", f.Contact)
	fmt.Fprintf(&b, "Expires: %s\n", f.Expires.UTC().Format(time.RFC3339))
	put("Encryption", f.Encryption)
	put("Acknowledgments", f.Acknowledgments)
	if len(f.PreferredLanguages) > 0 {
		fmt.Fprintf(&b, "Preferred-Languages: %s\n", strings.Join(f.PreferredLanguages, ", "))
	}
	put("Canonical", f.Canonical)
	put("Policy", f.Policy)
	put("Hiring", f.Hiring)
	return b.Bytes(), nil
}

type uriKind int

const (
	webURI uriKind = iota
	contactURI
	encryptionURI
)

func checkURI(v string, kind uriKind) string {
	if v == "" {
		return "empty value"
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return fmt.Sprintf("%q is not an absolute URI", v)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https":
		if u.Host == "" {
			return fmt.Sprintf("%q has no host", v)
		}
		return ""
	case "http":
		return fmt.Sprintf("%q: web URIs must use https", v)
	}
	switch kind {
	case contactURI:
		switch scheme {
		case "mailto":
			if !strings.Contains(u.Opaque, "@") {
				return fmt.Sprintf("%q is not a mail address", v)
			}
			return ""
		case "tel":
			if u.Opaque == "" {
				return fmt.Sprintf("%q has no number", v)
			}
			return ""
		}
		return fmt.Sprintf("%q: contact must be a mailto:, tel: or https:// URI", v)
	case encryptionURI:
		switch scheme {
		case "dns", "openpgp4fpr":
			return ""
		}
		return fmt.Sprintf("%q: encryption key must be an https://, dns: or openpgp4fpr: URI", v)
	}
	return fmt.Sprintf("%q must be an https:// URI", v)
}

// validLangTag accepts the shape of RFC 5646 tags: alphanumeric subtags of
// 1-8 characters separated by hyphens, the first alphabetic.
func validLangTag(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) == 0 || len(sub) > 8 {
			return false
		}
		for _, c := range sub {
			isAlpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !isAlpha && (i == 0 || !(c >= '0' && c <= '9')) {
				return false
			}
		}
	}
	return true
}

// Parsed is the result of [Parse]: the fields that could be read and every
// problem found.
type Parsed struct {
	File
	// Signed reports that the file is an OpenPGP cleartext-signed message;
	// the signature has not been verified.
	Signed bool
	// Problems lists what is wrong, errors and warnings, in line order,
	// followed by whole-file findings.
	Problems []Problem
}

// Parse reads a security.txt file and checks it as of now. It never fails:
// everything wrong, including input over [MaxSize] or not UTF-8, is a
// [Problem]. Unknown fields are ignored, as RFC 9116 requires.
func Parse(data []byte, now time.Time) *Parsed {
	p := &Parsed{}
	errf := func(line int, field string, sev Severity, format string, a ...any) {
		p.Problems = append(p.Problems, Problem{Line: line, Field: field, Severity: sev, Msg: fmt.Sprintf(format, a...)})
	}
	if len(data) > MaxSize {
		errf(0, "", Error, "%v", ErrTooLarge)
		return p
	}
	if !utf8.Valid(data) {
		errf(0, "", Error, "not UTF-8 text")
		return p
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	first, last := 0, len(lines)
	if len(lines) > 0 && lines[0] == "-----BEGIN PGP SIGNED MESSAGE-----" {
		p.Signed = true
		first = 1
		for first < len(lines) && lines[first] != "" { // armor headers (Hash: ...)
			first++
		}
		first++
		last = first
		for last < len(lines) && lines[last] != "-----BEGIN PGP SIGNATURE-----" {
			last++
		}
		if last == len(lines) {
			errf(0, "", Error, "signed message has no signature block")
		}
	}
	var expiresSeen, langsSeen int
	for i := first; i < last && i < len(lines); i++ {
		n, line := i+1, lines[i]
		if p.Signed {
			line = strings.TrimPrefix(line, "- ") // dash-escaping (RFC 4880 section 7.1)
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || !validFieldName(name) {
			errf(n, "", Error, "not a field (name: value) or comment")
			continue
		}
		value = strings.Trim(value, " \t")
		canon := canonicalName(name)
		add := func(dst *[]string, kind uriKind) {
			if msg := checkURI(value, kind); msg != "" {
				errf(n, canon, Error, "%s", msg)
				return
			}
			*dst = append(*dst, value)
		}
		switch canon {
		case "Contact":
			add(&p.Contact, contactURI)
		case "Encryption":
			add(&p.Encryption, encryptionURI)
		case "Acknowledgments":
			add(&p.Acknowledgments, webURI)
		case "Canonical":
			add(&p.Canonical, webURI)
		case "Policy":
			add(&p.Policy, webURI)
		case "Hiring":
			add(&p.Hiring, webURI)
		case "Preferred-Languages":
			langsSeen++
			if langsSeen > 1 {
				errf(n, canon, Error, "must appear at most once")
				continue
			}
			for _, l := range strings.Split(value, ",") {
				l = strings.Trim(l, " \t")
				if !validLangTag(l) {
					errf(n, canon, Error, "%q is not a language tag", l)
					continue
				}
				p.PreferredLanguages = append(p.PreferredLanguages, l)
			}
		case "Expires":
			expiresSeen++
			if expiresSeen > 1 {
				errf(n, canon, Error, "must appear exactly once")
				continue
			}
			t, err := time.Parse(time.RFC3339, value)
			if err != nil {
				errf(n, canon, Error, "%q is not an RFC 3339 date and time (e.g. 2027-01-31T23:59:59Z)", value)
				continue
			}
			p.Expires = t
			for _, pr := range checkExpires(t, now) {
				pr.Line = n
				p.Problems = append(p.Problems, pr)
			}
		}
	}
	if len(p.Contact) == 0 {
		errf(0, "Contact", Error, "required field missing")
	}
	if expiresSeen == 0 {
		errf(0, "Expires", Error, "required field missing")
	}
	return p
}

var fieldNames = []string{"Acknowledgments", "Canonical", "Contact", "Encryption", "Expires", "Hiring", "Policy", "Preferred-Languages"}

func canonicalName(name string) string {
	for _, f := range fieldNames {
		if strings.EqualFold(f, name) {
			return f
		}
	}
	return name
}

// validFieldName accepts RFC 5322 field names: printable ASCII except colon
// and space.
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 32 || s[i] >= 127 {
			return false
		}
	}
	return true
}
