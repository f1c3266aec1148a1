package iface

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

type wifiReq struct {
	SSID     string `json:"ssid"`
	Password string `json:"password"`
	Channel  int    `json:"channel"`
	Nested   *struct {
		A []int `json:"a"`
	} `json:"nested,omitempty"`
}

func TestUnmarshalJSONStrict(t *testing.T) {
	lim := JSONLimits{MaxBytes: 512, MaxDepth: 3}
	for _, c := range []struct {
		in, field, reason string
		tooLarge          bool
	}{
		{`{"ssid":"a","ssid":"b"}`, "ssid", "duplicate key", false},
		{`{"ssid":"a","SSID":"b"}`, "SSID", "duplicate key", false},
		{`{"ssid":"a","\u0073sid":"b"}`, "ssid", "duplicate key", false},
		{`{"ssid":"a","ſsid":"b"}`, "ſsid", "duplicate key", false}, // U+017F folds to s, as encoding/json matches
		{`{"nested":{"a":[[1]]}}`, "nested.a", "nesting too deep", false},
		{`{"ssid":"a","admin":true}`, "admin", "unknown field", false},
		{`{"channel":"6"}`, "channel", "wrong type", false},
		{"{\"ssid\":\"\xff\"}", "", "invalid UTF-8", false},
		{`{"ssid":"\ud800"}`, "ssid", "invalid UTF-8", false},
		{`{"ssid":"\udc00\ud800"}`, "ssid", "invalid UTF-8", false},
		{`{"ssid":"a"}{"ssid":"b"}`, "", "trailing data", false},
		{`{"ssid":"a"} x`, "", "trailing data", false},
		{`{"ssid":"a",}`, "", "malformed JSON", false},
		{"{\"ssid\":\"a\nb\"}", "ssid", "control character in string", false},
		{`{"channel":01}`, "", "malformed JSON", false},
		{``, "", "empty body", false},
		{`   `, "", "empty body", false},
		{`{"ssid":"` + strings.Repeat("x", 600) + `"}`, "", "body too large", true},
	} {
		var v wifiReq
		v.SSID = "untouched"
		err := unmarshalJSON([]byte(c.in), &v, lim)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%q: err %v, want InputError", c.in, err)
			continue
		}
		if ie.Field != c.field || ie.Reason != c.reason || ie.TooLarge != c.tooLarge {
			t.Errorf("%q: got field %q reason %q, want %q %q", c.in, ie.Field, ie.Reason, c.field, c.reason)
		}
		if v.SSID != "untouched" {
			t.Errorf("%q: refused input changed the target", c.in)
		}
	}
	var v wifiReq
	if err := unmarshalJSON([]byte(` {"ssid":"Home \u00e9","password":"p\"w","channel":6,"nested":{"a":[1,2]}} `+"\n"), &v, lim); err != nil {
		t.Fatal(err)
	}
	if v.SSID != "Home é" || v.Password != `p"w` || v.Channel != 6 || len(v.Nested.A) != 2 {
		t.Errorf("decoded %+v", v)
	}
	// A pair of surrogates is fine.
	if err := unmarshalJSON([]byte(`{"ssid":"\ud83d\ude00"}`), &v, lim); err != nil || v.SSID != "😀" {
		t.Errorf("surrogate pair: %v %q", err, v.SSID)
	}
}

func TestDecodeJSONReaderLimit(t *testing.T) {
	var m map[string]any
	big := `{"a":"` + strings.Repeat("x", defaultMaxJSONBytes) + `"}`
	err := DecodeJSON(strings.NewReader(big), &m, JSONLimits{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v", err)
	}
	// Many keys in one object stay linear and still find duplicates.
	var b strings.Builder
	b.WriteString("{")
	for i := range 2000 {
		b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i) + `":1,`)
	}
	b.WriteString(`"KA0":1}`) // duplicates "k" + "" + "a" + "0" case-insensitively
	err = unmarshalJSON([]byte(b.String()), &m, JSONLimits{})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Reason != "duplicate key" {
		t.Fatalf("large object duplicate: %v", err)
	}
}

func TestFoldKeyMatchesEqualFold(t *testing.T) {
	pairs := [][2]string{{"k", "K"}, {"k", "\u212a"}, {"s", "ſ"}, {"ß", "ẞ"}, {"σ", "ς"}, {"a", "b"}}
	for _, p := range pairs {
		if (foldKey([]byte(p[0])) == foldKey([]byte(p[1]))) != bytes.EqualFold([]byte(p[0]), []byte(p[1])) {
			t.Errorf("%q %q disagree", p[0], p[1])
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	// Trailing data after a JSON document must be refused: a check based
	// on dec.More() misses a lone closing brace or bracket.
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	for _, s := range []string{`{"ssid":"a"}`, `{"a":1,"A":2}`, `[[[[[[]]]]]]`, "{\"a\":\"\xff\"}", `{"a":"\ud800"}`, `1 2`, `{"a":[1,{"b":null}]}`, `"\u00e9"`, `-0.5e+3`, `{"ssid":"x","channel":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkJSON(data, 8)
		if err == nil {
			if !json.Valid(data) || !utf8.Valid(data) {
				t.Fatalf("CheckJSON accepted invalid JSON %q", data)
			}
			var m any
			var te *json.UnmarshalTypeError
			if err := json.Unmarshal(data, &m); err != nil && !errors.As(err, &te) {
				t.Fatalf("CheckJSON accepted %q that encoding/json refuses: %v", data, err)
			}
		} else if !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("error %v is not ErrInvalidInput", err)
		}
		var v wifiReq
		if err := unmarshalJSON(data, &v, JSONLimits{MaxBytes: 4096, MaxDepth: 8}); err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("UnmarshalJSON error %v is not ErrInvalidInput", err)
		}
	})
}

func FuzzCheckJSONDepth(f *testing.F) {
	f.Add(3, 4)
	f.Fuzz(func(t *testing.T, depth, max int) {
		if depth < 0 || depth > 200 || max < 1 || max > 200 {
			return
		}
		doc := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		err := checkJSON([]byte(doc), max)
		if (err == nil) != (depth <= max) {
			t.Fatalf("depth %d max %d: %v", depth, max, err)
		}
	})
}
