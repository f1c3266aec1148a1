package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProfileSchema is the value of a profile's "schema" field.
const ProfileSchema = "baseline.profile/v1"

// Size limits enforced by [DecodeProfile].
const (
	// MaxAnswerChecks bounds how many self-checks one answer may name.
	MaxAnswerChecks = 16
	// MaxProfileSize bounds a whole profile document (1 MiB).
	MaxProfileSize = 1 << 20
	// MaxTextLen bounds a provision's detail and justification (8 KiB each).
	MaxTextLen = 8 << 10
	// MaxFieldLen bounds the one-line fields: manufacturer, model,
	// firmware version, contact and policy URL (512 bytes each).
	MaxFieldLen = 512
)

// Support is a profile's answer for one provision.
type Support string

// The answers a provision may get. An empty Support means unanswered.
const (
	// Yes: the device meets the provision.
	Yes Support = "Y"
	// No: the device does not meet the provision.
	No Support = "N"
	// NotApplicableSupport: the provision's condition does not hold for
	// the device.
	NotApplicableSupport Support = "N/A"
	// Unanswered: no answer yet, as in the skeleton from [Skeleton].
	Unanswered Support = ""
)

// Valid reports whether s is Y, N or N/A.
func (s Support) Valid() bool { return s == Yes || s == No || s == NotApplicableSupport }

// Answer is the profile's answer for one provision.
type Answer struct {
	// ID is the provision's ID, "5.1-1".
	ID string `json:"id"`
	// Support is Y, N or N/A.
	Support Support `json:"support"`
	// Detail says how the device meets the provision (what, where, which
	// setting), for a Y.
	Detail string `json:"detail"`
	// Justification says why a provision is not met (N) or why its
	// condition does not hold (N/A). Required for every N or N/A of a
	// recommendation (4-1) and for an N/A of 5.8-2 and 5.8-3.
	Justification string `json:"justification"`
	// Checks optionally names the self-checks (by [Check] ID) that back a
	// Y. Once results are attached to a statement, each named check must
	// have run on the device and cover this provision; otherwise the entry
	// is INCONCLUSIVE and the statement incomplete. Naming them lets a
	// reviewer see from the profile alone which test stands behind a claim,
	// and catches a claim whose check was removed.
	Checks []string `json:"checks,omitempty"`
}

// Disclosure is how security researchers reach the manufacturer (5.2-1).
type Disclosure struct {
	// Contact is an e-mail address or a mailto:, https: or tel: URI.
	Contact string `json:"contact"`
	// PolicyURL is the https URL of the published disclosure policy.
	PolicyURL string `json:"policy_url"`
}

// ConditionAnswers holds the profile's answer for each numbered condition
// (1–13, see [Conditions]). A number absent from the map is unanswered.
// In JSON it is an object keyed by the conditions' names
// ("passwords_used": true, …), null meaning unanswered.
//
// Conditions 4 (constrained) and 5 (not constrained) need no answer here:
// they follow from [Profile.Constrained]. If given, they must agree with it.
type ConditionAnswers map[int]bool

// MarshalJSON writes every condition in numeric order, null when
// unanswered. Conditions 4 and 5 are written only when present in the map,
// since [Profile.Constrained] normally states them.
func (ca ConditionAnswers) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, c := range conditions {
		if _, ok := ca[c.Number]; !ok && (c.Number == 4 || c.Number == 5) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteString(strconv.Quote(c.Key))
		buf.WriteByte(':')
		if v, ok := ca[c.Number]; ok {
			buf.WriteString(strconv.FormatBool(v))
		} else {
			buf.WriteString("null")
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads the object written by MarshalJSON; unknown condition
// names and values other than true, false and null are refused.
func (ca *ConditionAnswers) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return &ProfileError{Field: "conditions", Msg: "expected an object of true/false answers", Err: err}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same document always gets the same error
	out := ConditionAnswers{}
	for _, k := range keys {
		v := raw[k]
		n := conditionByKey(k)
		if n == 0 {
			return &ProfileError{Field: "conditions." + truncate(k, 48), Msg: "unknown condition (known: " + conditionKeys() + ")"}
		}
		switch string(v) {
		case "true":
			out[n] = true
		case "false":
			out[n] = false
		case "null":
		default:
			return &ProfileError{Field: "conditions." + k, Msg: "expected true, false or null"}
		}
	}
	*ca = out
	return nil
}

func conditionByKey(k string) int {
	for _, c := range conditions {
		if c.Key == k {
			return c.Number
		}
	}
	return 0
}

func conditionKeys() string {
	keys := make([]string, len(conditions))
	for i, c := range conditions {
		keys[i] = c.Key
	}
	return strings.Join(keys, ", ")
}

// Profile is a device's answers: what it is, which conditions hold, and
// for each provision whether and how the device meets it. It is what the
// manufacturer writes (see `baseline ics init`) and what [NewStatement]
// turns into an Implementation Conformance Statement.
type Profile struct {
	// Schema is [ProfileSchema].
	Schema string `json:"schema"`
	// Manufacturer is the manufacturer's name.
	Manufacturer string `json:"manufacturer"`
	// Model is the model designation (5.3-16).
	Model string `json:"model"`
	// FirmwareVersion is the firmware version the statement is about.
	FirmwareVersion string `json:"firmware_version"`
	// Constrained says whether the device is a constrained device
	// (conditions 4 and 5); nil means unanswered.
	Constrained *bool `json:"constrained"`
	// Conditions answers the numbered conditions.
	Conditions ConditionAnswers `json:"conditions"`
	// SupportPeriodEnd is the last day of the defined support period
	// (5.3-13), "YYYY-MM-DD".
	SupportPeriodEnd string `json:"support_period_end"`
	// VulnerabilityDisclosure is the disclosure contact and policy (5.2-1).
	VulnerabilityDisclosure Disclosure `json:"vulnerability_disclosure"`
	// NonUpdatable declares the parts whose software cannot be updated
	// (5.3-14, 5.3-15), at most [MaxNonUpdatable]; see [NonUpdatable].
	NonUpdatable []NonUpdatable `json:"non_updatable,omitempty"`
	// Provisions holds one answer per provision.
	Provisions []Answer `json:"provisions"`
}

// Holds reports whether numbered condition n holds for the device, and
// whether the profile answers it at all. Conditions 4 and 5 are taken from
// Constrained when it is set.
func (p *Profile) Holds(n int) (holds, answered bool) {
	switch n {
	case 4, 5:
		var constrained bool
		switch {
		case p.Constrained != nil:
			constrained = *p.Constrained
		default:
			if v, ok := p.Conditions[4]; ok {
				constrained = v
			} else if v, ok := p.Conditions[5]; ok {
				constrained = !v
			} else {
				return false, false
			}
		}
		if n == 4 {
			return constrained, true
		}
		return !constrained, true
	}
	v, ok := p.Conditions[n]
	return v, ok
}

// Answer returns the profile's answer for provision id.
func (p *Profile) Answer(id string) (Answer, bool) {
	for _, a := range p.Provisions {
		if a.ID == id {
			return a, true
		}
	}
	return Answer{ID: id}, false
}

// Skeleton returns a profile listing every provision of the catalog with an
// empty answer and every condition unanswered: the starting point a
// manufacturer fills in.
func Skeleton() *Profile {
	p := &Profile{Schema: ProfileSchema, Conditions: ConditionAnswers{}}
	for _, pr := range catalog {
		p.Provisions = append(p.Provisions, Answer{ID: pr.ID})
	}
	return p
}

// WriteJSON writes the profile as indented JSON that [DecodeProfile] reads
// back.
func (p *Profile) WriteJSON(w io.Writer) error {
	out := *p
	if out.Conditions == nil {
		out.Conditions = ConditionAnswers{}
	}
	if out.Provisions == nil {
		out.Provisions = []Answer{}
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	_, err = w.Write(data)
	return err
}

// ErrProfile is wrapped by every error [DecodeProfile] returns.
var ErrProfile = errors.New("conformance: invalid profile")

// ProfileError describes why a profile document was refused. Line and
// Column locate the problem in the document (1-based; zero when not known).
type ProfileError struct {
	// Line and Column are the position in the document, 1-based.
	Line, Column int
	// Field names the offending field, "provisions[3].support".
	Field string
	// Provision is the provision ID the field belongs to, if any.
	Provision string
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, such as a *json.SyntaxError.
	Err error
}

// Where returns "line:col", or "" when the position is unknown.
func (e *ProfileError) Where() string {
	if e.Line == 0 {
		return ""
	}
	return strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Column)
}

// Message returns the error without the package prefix and position:
// "provisions[3].support (5.1-1): must be Y, N or N/A".
func (e *ProfileError) Message() string {
	var sb strings.Builder
	if e.Field != "" {
		sb.WriteString(e.Field)
		if e.Provision != "" {
			sb.WriteString(" (" + e.Provision + ")")
		}
		sb.WriteString(": ")
	}
	sb.WriteString(e.Msg)
	return sb.String()
}

func (e *ProfileError) Error() string {
	s := "conformance: profile"
	if w := e.Where(); w != "" {
		s += " " + w
	}
	return s + ": " + e.Message()
}

// Unwrap returns ErrProfile and the underlying error.
func (e *ProfileError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrProfile, e.Err}
	}
	return []error{ErrProfile}
}

// DecodeProfile reads a profile document strictly: at most [MaxProfileSize]
// bytes; no unknown, repeated or wrongly typed fields; no trailing data; no
// unknown or repeated provision IDs; Support Y, N, N/A or empty; text fields
// within [MaxTextLen] / [MaxFieldLen] and free of control characters; a
// support period end that is a valid date not before now's date (in UTC);
// a well-formed disclosure contact and https policy URL; at most
// [MaxNonUpdatable] non_updatable parts, each replacement_until a valid
// date not before now's date.
//
// Empty answers are accepted here: an incomplete profile decodes, and
// [NewStatement] reports what is missing. Every error is a *[ProfileError]
// naming the field and, where it can, the line and column.
func DecodeProfile(r io.Reader, now time.Time) (*Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxProfileSize+1))
	if err != nil {
		return nil, &ProfileError{Msg: "reading: " + err.Error(), Err: err}
	}
	if len(data) > MaxProfileSize {
		return nil, &ProfileError{Msg: fmt.Sprintf("larger than %d bytes", MaxProfileSize)}
	}
	// Some editors start UTF-8 files with a byte order mark; it carries
	// no meaning in JSON.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, &ProfileError{Msg: "not valid UTF-8"}
	}
	d := &profileDecoder{data: data, now: now}
	p, err := d.decode()
	if err != nil {
		return nil, err
	}
	return p, nil
}

type profileDecoder struct {
	data []byte
	now  time.Time
}

// position converts a byte offset into a 1-based line and column (column
// counted in characters).
func (d *profileDecoder) position(off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(d.data)) {
		off = int64(len(d.data))
	}
	before := d.data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	col = utf8.RuneCount(before[start:]) + 1
	return line, col
}

// fail builds a ProfileError located at off. Field and message may echo
// the document, so they are made printable and bounded: an error printed
// on a terminal cannot carry escape sequences or megabytes of input.
func (d *profileDecoder) fail(off int64, field, prov, msg string, err error) *ProfileError {
	l, c := d.position(off)
	return &ProfileError{Line: l, Column: c, Field: printable(field, 96), Provision: prov, Msg: printable(msg, 320), Err: err}
}

// printable escapes non-printable runes the way %q would and cuts s to
// about n bytes.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// jsonErr converts an encoding/json error into a located ProfileError.
func (d *profileDecoder) jsonErr(err error, field string, off int64) *ProfileError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var pe *ProfileError
	switch {
	case errors.As(err, &pe):
		return d.fail(off, pe.Field, pe.Provision, pe.Msg, pe.Err)
	case errors.As(err, &se):
		return d.fail(se.Offset, field, "", "JSON syntax: "+se.Error(), err)
	case errors.As(err, &te):
		// te.Offset counts from where this Decode call started, so the
		// caller's offset of the value is the better position.
		f := field
		if te.Field != "" {
			f = field + "." + te.Field
		}
		return d.fail(off, f, "", "expected "+jsonKind(te.Type.Kind().String())+", found JSON "+te.Value, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return d.fail(int64(len(d.data)), field, "", "JSON ends too early", err)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return d.fail(off, field, "", msg, err)
}

func jsonKind(k string) string {
	switch k {
	case "ptr", "bool":
		return "true, false or null"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + k
}

func (d *profileDecoder) decode() (*Profile, error) {
	if err := d.checkKeys(); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(d.data))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return nil, d.jsonErr(err, "", dec.InputOffset())
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, d.fail(0, "", "", "a profile is a JSON object", nil)
	}
	p := &Profile{}
	var schemaSeen bool
	for dec.More() {
		keyOff := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, d.jsonErr(err, "", dec.InputOffset())
		}
		key, _ := tok.(string)
		valOff := d.skipSpace(dec.InputOffset())
		var target any
		switch key {
		case "schema":
			schemaSeen = true
			target = &p.Schema
		case "manufacturer":
			target = &p.Manufacturer
		case "model":
			target = &p.Model
		case "firmware_version":
			target = &p.FirmwareVersion
		case "constrained":
			target = &p.Constrained
		case "conditions":
			target = &p.Conditions
		case "support_period_end":
			target = &p.SupportPeriodEnd
		case "vulnerability_disclosure":
			target = &p.VulnerabilityDisclosure
		case "non_updatable":
			target = &p.NonUpdatable
		case "provisions":
			if err := d.decodeProvisions(dec, p); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, d.fail(d.skipSpace(keyOff), key, "", "unknown field", nil)
		}
		if err := dec.Decode(target); err != nil {
			return nil, d.jsonErr(err, key, valOff)
		}
		if err := d.checkField(key, p, valOff); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, d.jsonErr(err, "", dec.InputOffset())
	}
	trailing := d.skipSpace(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		return nil, d.fail(trailing, "", "", "data after the profile object", nil)
	}
	if schemaSeen && p.Schema != ProfileSchema {
		return nil, d.fail(0, "schema", "", fmt.Sprintf("%q is not %q", p.Schema, ProfileSchema), nil)
	}
	if !schemaSeen {
		p.Schema = ProfileSchema
	}
	if p.Conditions == nil {
		p.Conditions = ConditionAnswers{}
	}
	return p, nil
}

// skipSpace moves off past JSON whitespace and a ':' or ',' separator so
// that positions point at the value itself.
func (d *profileDecoder) skipSpace(off int64) int64 {
	for off < int64(len(d.data)) {
		switch d.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}

func (d *profileDecoder) decodeProvisions(dec *json.Decoder, p *Profile) error {
	off := d.skipSpace(dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		return d.jsonErr(err, "provisions", off)
	}
	if tok == nil { // null: no answers at all
		p.Provisions = nil
		return nil
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return d.fail(off, "provisions", "", "expected an array of answers", nil)
	}
	first := map[string]int{}
	for i := 0; dec.More(); i++ {
		off := d.skipSpace(dec.InputOffset())
		field := "provisions[" + strconv.Itoa(i) + "]"
		var a Answer
		if err := dec.Decode(&a); err != nil {
			return d.jsonErr(err, field, off)
		}
		if a.ID == "" {
			return d.fail(off, field+".id", "", "missing provision ID", nil)
		}
		if _, ok := catalogIndex[a.ID]; !ok {
			return d.fail(off, field+".id", "", fmt.Sprintf("unknown provision %q (EN 303 645 V2.1.1 has 4-1, 5.1-1 … 6-5)", truncate(a.ID, 32)), nil)
		}
		if j, dup := first[a.ID]; dup {
			return d.fail(off, field+".id", a.ID, fmt.Sprintf("duplicate entry; provisions[%d] already answers %s", j, a.ID), nil)
		}
		first[a.ID] = i
		switch a.Support {
		case Yes, No, NotApplicableSupport, Unanswered:
		default:
			return d.fail(off, field+".support", a.ID, fmt.Sprintf("%q is not Y, N or N/A", truncate(string(a.Support), 32)), nil)
		}
		if err := checkText(a.Detail, MaxTextLen, true); err != "" {
			return d.fail(off, field+".detail", a.ID, err, nil)
		}
		if err := checkText(a.Justification, MaxTextLen, true); err != "" {
			return d.fail(off, field+".justification", a.ID, err, nil)
		}
		if len(a.Checks) > MaxAnswerChecks {
			return d.fail(off, field+".checks", a.ID, fmt.Sprintf("names %d checks; at most %d", len(a.Checks), MaxAnswerChecks), nil)
		}
		for j, c := range a.Checks {
			if c == "" {
				return d.fail(off, field+".checks["+strconv.Itoa(j)+"]", a.ID, "empty check ID", nil)
			}
			if err := checkText(c, MaxFieldLen, false); err != "" {
				return d.fail(off, field+".checks["+strconv.Itoa(j)+"]", a.ID, err, nil)
			}
		}
		p.Provisions = append(p.Provisions, a)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return d.jsonErr(err, "provisions", dec.InputOffset())
	}
	return nil
}

// checkField validates a top-level field just decoded.
func (d *profileDecoder) checkField(key string, p *Profile, off int64) error {
	var msg, field string
	switch key {
	case "schema", "manufacturer", "model", "firmware_version":
		var v string
		switch key {
		case "schema":
			v = p.Schema
		case "manufacturer":
			v = p.Manufacturer
		case "model":
			v = p.Model
		case "firmware_version":
			v = p.FirmwareVersion
		}
		field, msg = key, checkText(v, MaxFieldLen, false)
	case "support_period_end":
		field = key
		if p.SupportPeriodEnd != "" {
			end, err := time.Parse(time.DateOnly, p.SupportPeriodEnd)
			switch {
			case err != nil:
				msg = fmt.Sprintf("%q is not a date YYYY-MM-DD", truncate(p.SupportPeriodEnd, 32))
			case end.Before(dateOf(d.now)):
				msg = fmt.Sprintf("%s is in the past (today is %s): the support period has ended", p.SupportPeriodEnd, dateOf(d.now).Format(time.DateOnly))
			}
		}
	case "vulnerability_disclosure":
		v := p.VulnerabilityDisclosure
		if msg = checkText(v.Contact, MaxFieldLen, false); msg != "" {
			field = key + ".contact"
		} else if msg = checkContact(v.Contact); msg != "" {
			field = key + ".contact"
		} else if msg = checkText(v.PolicyURL, MaxFieldLen, false); msg != "" {
			field = key + ".policy_url"
		} else if msg = checkHTTPS(v.PolicyURL); msg != "" {
			field = key + ".policy_url"
		}
	case "non_updatable":
		if len(p.NonUpdatable) > MaxNonUpdatable {
			field, msg = key, fmt.Sprintf("declares %d parts; at most %d", len(p.NonUpdatable), MaxNonUpdatable)
			break
		}
		for i, nu := range p.NonUpdatable {
			if field, msg = nonUpdatableText(i, nu, d.now); msg != "" {
				break
			}
		}
	}
	if msg != "" {
		return d.fail(off, field, "", msg, nil)
	}
	return nil
}

// dateOf returns the UTC calendar day of t.
func dateOf(t time.Time) time.Time {
	y, m, dd := t.UTC().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// checkText returns what is wrong with s, or "".
func checkText(s string, max int, multiline bool) string {
	if len(s) > max {
		return fmt.Sprintf("longer than %d bytes", max)
	}
	for _, r := range s {
		if r == utf8.RuneError {
			return "contains an invalid character"
		}
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	return ""
}

func checkContact(s string) string {
	if s == "" {
		return ""
	}
	if i := strings.IndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], "@") {
		u, err := url.Parse(s)
		if err != nil {
			return "not a valid URI"
		}
		switch u.Scheme {
		case "mailto":
			if _, err := mail.ParseAddress(u.Opaque); err != nil {
				return "mailto: URI without a valid address"
			}
			return ""
		case "https":
			return checkHTTPS(s)
		case "tel":
			if u.Opaque == "" {
				return "tel: URI without a number"
			}
			return ""
		}
		return "use an e-mail address or a mailto:, https: or tel: URI"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return "not a valid e-mail address"
	}
	return ""
}

func checkHTTPS(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "must be an https:// URL"
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// checkKeys walks every object in the document and refuses a key that
// appears twice in the same object, which encoding/json would silently
// resolve to the last value. It also reports syntax errors with positions.
func (d *profileDecoder) checkKeys() error {
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]bool
		path      string
		index     int
	}
	dec := json.NewDecoder(bytes.NewReader(d.data))
	var stack []*frame
	// valueDone tells the enclosing frame that one of its values ended.
	valueDone := func() {
		if n := len(stack); n > 0 {
			f := stack[n-1]
			if f.object {
				f.expectKey = true
			} else {
				f.index++
			}
		}
	}
	childPath := func() string {
		if n := len(stack); n > 0 {
			f := stack[n-1]
			if !f.object {
				return f.path + "[" + strconv.Itoa(f.index) + "]"
			}
		}
		return ""
	}
	var lastKey string
	for {
		off := d.skipSpace(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 {
				return d.fail(int64(len(d.data)), "", "", "JSON ends too early", io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return d.jsonErr(err, "", off)
		}
		var top *frame
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if top != nil && top.object && top.expectKey {
			if delim, ok := tok.(json.Delim); ok && delim == '}' {
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				field := key
				if top.path != "" {
					field = top.path + "." + key
				}
				return d.fail(off, field, "", "field appears twice in the same object", nil)
			}
			top.keys[key] = true
			top.expectKey = false
			lastKey = key
			continue
		}
		path := childPath()
		if top != nil && top.object {
			if top.path != "" {
				path = top.path + "." + lastKey
			} else {
				path = lastKey
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, expectKey: true, keys: map[string]bool{}, path: path})
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
		if len(stack) == 0 && tok != nil {
			if _, isDelim := tok.(json.Delim); !isDelim {
				// A scalar at top level: decode() reports it.
				return nil
			}
		}
	}
}
