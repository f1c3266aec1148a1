package iface

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Defaults for JSONLimits, documented on its fields.
const (
	// defaultMaxJSONBytes bounds a JSON body when JSONLimits.MaxBytes is 0.
	defaultMaxJSONBytes = 64 << 10
	// defaultMaxJSONDepth bounds nesting when JSONLimits.MaxDepth is 0.
	defaultMaxJSONDepth = 32
	// maxObjectKeysLinear is the object size above which duplicate keys are
	// found with a map rather than by pairwise comparison, so a body of
	// thousands of keys stays linear.
	maxObjectKeysLinear = 16
)

// JSONLimits bounds [DecodeJSON]. The zero value uses the defaults.
type JSONLimits struct {
	// MaxBytes is the largest body accepted; 0 means 64 KiB.
	MaxBytes int64
	// MaxDepth is the deepest nesting of objects and arrays accepted;
	// 0 means 32.
	MaxDepth int
}

func (l JSONLimits) norm() JSONLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxJSONBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxJSONDepth
	}
	return l
}

// DecodeJSON reads one JSON value from r into v, strictly: at most
// lim.MaxBytes bytes and lim.MaxDepth levels of nesting, valid UTF-8 only
// (escaped lone surrogates included), no duplicate keys in an object
// (compared the way encoding/json matches fields, case-insensitively), no
// field that v does not have, and nothing but white space after the value.
// Every refusal is an [*InputError] naming the field.
//
// v must be a non-nil pointer. It is written only when the whole input is
// accepted, and decoding starts from the zero value of *v (no merging into
// what *v held), so a refused request never leaves half-applied state.
func DecodeJSON(r io.Reader, v any, lim JSONLimits) error {
	lim = lim.norm()
	buf, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &InputError{Reason: "body too large", TooLarge: true}
		}
		return invalid("", "unreadable body")
	}
	if int64(len(buf)) > lim.MaxBytes {
		return &InputError{Reason: "body too large", TooLarge: true}
	}
	return unmarshalJSON(buf, v, lim)
}

// unmarshalJSON is [DecodeJSON] for a body already in memory; lim.MaxBytes
// still applies.
func unmarshalJSON(data []byte, v any, lim JSONLimits) error {
	lim = lim.norm()
	if int64(len(data)) > lim.MaxBytes {
		return &InputError{Reason: "body too large", TooLarge: true}
	}
	if err := checkJSON(data, lim.MaxDepth); err != nil {
		return err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("iface: DecodeJSON target must be a non-nil pointer")
	}
	tmp := reflect.New(rv.Elem().Type())
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(tmp.Interface()); err != nil {
		return jsonError(err)
	}
	rv.Elem().Set(tmp.Elem())
	return nil
}

// DecodeRequest decodes the JSON body of r into v with [DecodeJSON], after
// checking the Content-Type is application/json. On failure it has already
// written the uniform error response to w ([WriteInputError]) and returns
// the error; the handler just returns.
func DecodeRequest(w http.ResponseWriter, r *http.Request, v any, lim JSONLimits) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		ie := invalid("", "content type must be application/json")
		writeJSONError(w, http.StatusUnsupportedMediaType, "", ie.Reason)
		return ie
	}
	lim = lim.norm()
	if r.ContentLength > lim.MaxBytes {
		ie := &InputError{Reason: "body too large", TooLarge: true}
		WriteInputError(w, ie)
		return ie
	}
	err = DecodeJSON(http.MaxBytesReader(w, r.Body, lim.MaxBytes), v, lim)
	if err != nil {
		WriteInputError(w, err)
	}
	return err
}

// jsonError turns an encoding/json error into an InputError without
// echoing the value.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalid(te.Field, "wrong type")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		return invalid(strings.TrimSuffix(f, `"`), "unknown field")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return invalid("", "malformed JSON")
	}
	return invalid("", "cannot decode")
}

// checkJSON validates the syntax of data in one pass without decoding it:
// one JSON value and trailing white space only, nesting at most maxDepth
// (<= 0 means 32), valid UTF-8, no escaped lone
// surrogates, no duplicate keys (case-insensitive, as encoding/json matches
// fields). It is what [DecodeJSON] runs before encoding/json.
func checkJSON(data []byte, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = defaultMaxJSONDepth
	}
	if !utf8.Valid(data) {
		return invalid("", "invalid UTF-8")
	}
	s := jscan{b: data, maxDepth: maxDepth}
	s.ws()
	if s.i >= len(s.b) {
		return invalid("", "empty body")
	}
	if err := s.value(0); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return invalid("", "trailing data")
	}
	return nil
}

type jkey struct {
	k []byte // unescaped key
}

type jscan struct {
	b        []byte
	i        int
	maxDepth int
	keys     []jkey   // keys of the open objects, innermost last
	path     [][]byte // for error messages: keys leading to the current value
}

func (s *jscan) fail(reason string) error {
	return invalid(string(bytes.Join(s.path, []byte("."))), reason)
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) value(depth int) error {
	if s.i >= len(s.b) {
		return s.fail("malformed JSON")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= s.maxDepth {
			return s.fail("nesting too deep")
		}
		return s.object(depth + 1)
	case c == '[':
		if depth >= s.maxDepth {
			return s.fail("nesting too deep")
		}
		return s.array(depth + 1)
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return s.fail("malformed JSON")
}

func (s *jscan) lit(w string) error {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.fail("malformed JSON")
	}
	s.i += len(w)
	return nil
}

func (s *jscan) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return s.fail("malformed JSON")
	}
	if i < len(b) && b[i] == '.' {
		i++
		st := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == st {
			return s.fail("malformed JSON")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		st := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == st {
			return s.fail("malformed JSON")
		}
	}
	s.i = i
	return nil
}

// str scans a string at s.i and returns its unescaped content (a sub-slice
// of the input when it has no escapes).
func (s *jscan) str() ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	b := s.b
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			out := b[start:s.i]
			s.i++
			return out, nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			return nil, s.fail("control character in string")
		}
		s.i++
	}
	return nil, s.fail("malformed JSON")
}

func (s *jscan) strEscaped(start int) ([]byte, error) {
	b := s.b
	out := append([]byte(nil), b[start:s.i]...)
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(b) {
			break
		}
		e := b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.fail("malformed JSON")
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || s.i+1 >= len(b) || b[s.i] != '\\' || b[s.i+1] != 'u' {
					return nil, s.fail("invalid UTF-8")
				}
				s.i += 2
				r2, ok := s.hex4()
				if !ok || r2 < 0xdc00 || r2 > 0xdfff {
					return nil, s.fail("invalid UTF-8")
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.fail("malformed JSON")
		}
	}
	return nil, s.fail("malformed JSON")
}

func (s *jscan) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

func (s *jscan) array(depth int) error {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("malformed JSON")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("malformed JSON")
		}
	}
}

func (s *jscan) object(depth int) error {
	s.i++
	first := len(s.keys)
	defer func() { s.keys = s.keys[:first] }()
	var seen map[string]struct{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("malformed JSON")
		}
		k, err := s.str()
		if err != nil {
			return err
		}
		n := len(s.keys) - first
		switch {
		case seen != nil:
			fk := foldKey(k)
			if _, dup := seen[fk]; dup {
				return s.dup(k)
			}
			seen[fk] = struct{}{}
		case n >= maxObjectKeysLinear:
			seen = make(map[string]struct{}, 2*n)
			for _, o := range s.keys[first:] {
				seen[foldKey(o.k)] = struct{}{}
			}
			fk := foldKey(k)
			if _, dup := seen[fk]; dup {
				return s.dup(k)
			}
			seen[fk] = struct{}{}
		default:
			for _, o := range s.keys[first:] {
				if bytes.EqualFold(o.k, k) {
					return s.dup(k)
				}
			}
		}
		s.keys = append(s.keys, jkey{k: k})
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("malformed JSON")
		}
		s.i++
		s.ws()
		s.path = append(s.path, k)
		err = s.value(depth)
		if err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("malformed JSON")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("malformed JSON")
		}
	}
}

func (s *jscan) dup(k []byte) error {
	s.path = append(s.path, k)
	return s.fail("duplicate key")
}

// foldKey maps k to a canonical form under Unicode simple case folding, so
// two keys are equal under bytes.EqualFold exactly when their foldKeys are
// equal.
func foldKey(k []byte) string {
	ascii := true
	for _, c := range k {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// For ASCII letters the upper case is the smallest member of the
		// fold orbit (K, k, U+212A), matching the general case below.
		return strings.ToUpper(string(k))
	}
	var out []byte
	for _, r := range string(k) {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		out = utf8.AppendRune(out, m)
	}
	return string(out)
}
