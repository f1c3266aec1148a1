package conformance

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of the tests: a fixed day, so results never depend
// on when they run.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func exampleProfileBytes(t testing.TB) []byte {
	t.Helper()
	// A hypothetical device answering every provision Y (with N/A where a
	// condition does not hold): a fixture for the statement rules, not a
	// claim about any code in this tree.
	data, err := os.ReadFile(filepath.Join("testdata", "complete-profile.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func exampleProfile(t testing.TB) *Profile {
	t.Helper()
	p, err := DecodeProfile(bytes.NewReader(exampleProfileBytes(t)), testNow)
	if err != nil {
		t.Fatalf("example profile: %v", err)
	}
	return p
}

func TestDecodeExampleProfile(t *testing.T) {
	p := exampleProfile(t)
	if p.Model == "" || p.SupportPeriodEnd != "2031-12-31" || len(p.Provisions) != 68 {
		t.Fatalf("decoded %q, %q, %d answers", p.Model, p.SupportPeriodEnd, len(p.Provisions))
	}
	if c, ok := p.Holds(5); !ok || !c {
		t.Error("the plug is not constrained, so condition 5 must hold")
	}
	if c, ok := p.Holds(4); !ok || c {
		t.Error("condition 4 must not hold")
	}
}

// replace returns the example profile with old replaced by new exactly once.
func replace(t *testing.T, old, new string) []byte {
	t.Helper()
	data := string(exampleProfileBytes(t))
	if strings.Count(data, old) < 1 {
		t.Fatalf("example profile has no %q", old)
	}
	return []byte(strings.Replace(data, old, new, 1))
}

func TestDecodeProfileRefuses(t *testing.T) {
	big := append([]byte(`{"model":"`), bytes.Repeat([]byte("a"), MaxProfileSize)...)
	tests := []struct {
		name  string
		input []byte
		// want are substrings of the error message (field, what is wrong).
		want []string
		// where is the expected "line:col", "" for none.
		where string
	}{
		{"empty", nil, []string{"ends too early"}, "1:1"},
		{"oversized", big, []string{"larger than 1048576 bytes"}, ""},
		{"not UTF-8", []byte("{\"model\":\"\xff\"}"), []string{"UTF-8"}, ""},
		{"array", []byte(`[]`), []string{"JSON object"}, "1:1"},
		{"null", []byte(`null`), []string{"JSON object"}, "1:1"},
		{"string", []byte(`"x"`), []string{"JSON object"}, "1:1"},
		{"syntax", []byte("{\n  \"model\": \"x\",\n  \"firmware_version\": }\n"), []string{"JSON syntax", "invalid character '}'"}, "3:23"},
		{"truncated", []byte("{\n  \"model\": \"x\""), []string{"ends too early"}, "2:15"},
		{"trailing data", []byte(`{"model":"x"} {}`), []string{"data after the profile"}, "1:15"},
		{"unknown field", []byte("{\n  \"modle\": \"x\"\n}"), []string{"modle: unknown field"}, "2:3"},
		{"unknown nested field", replace(t, `"policy_url"`, `"policy"`), []string{"vulnerability_disclosure", "unknown field \"policy\""}, ""},
		{"unknown answer field", replace(t, `"justification": ""`, `"justificaton": ""`), []string{"provisions[0]", "unknown field \"justificaton\""}, "26:5"},
		{"duplicate field", []byte("{\"model\":\"a\",\n\"model\":\"b\"}"), []string{"model: field appears twice"}, "2:1"},
		{"duplicate answer field", replace(t, `"support": "Y",`, `"support": "N", "support": "Y",`), []string{"provisions[0].support: field appears twice"}, "28:23"},
		{"unknown provision", replace(t, `"id": "4-1"`, `"id": "5.99-1"`), []string{"provisions[0].id", `unknown provision "5.99-1"`}, "26:5"},
		{"missing provision id", replace(t, `"id": "4-1",`, ``), []string{"provisions[0].id: missing provision ID"}, "26:5"},
		{"duplicate provision", replace(t, `"id": "5.1-2"`, `"id": "5.1-1"`), []string{"provisions[2].id (5.1-1): duplicate entry; provisions[1] already answers 5.1-1"}, ""},
		{"bad support", replace(t, `"support": "Y"`, `"support": "maybe"`), []string{"provisions[0].support (4-1)", `"maybe" is not Y, N or N/A`}, ""},
		{"support lowercase", replace(t, `"support": "Y"`, `"support": "y"`), []string{`"y" is not Y, N or N/A`}, ""},
		{"support end in the past", replace(t, `"2031-12-31"`, `"2026-11-25"`), []string{"support_period_end: 2026-11-25 is in the past"}, "20:25"},
		{"support end malformed", replace(t, `"2031-12-31"`, `"31/12/2031"`), []string{"support_period_end", "not a date YYYY-MM-DD"}, ""},
		{"support end impossible date", replace(t, `"2031-12-31"`, `"2031-02-30"`), []string{"not a date"}, ""},
		{"wrong type", replace(t, `"model": "SP-100 Smart Plug"`, `"model": 100`), []string{"model", "expected a string, found JSON number"}, "4:12"},
		{"wrong type in answer", replace(t, `"support": "Y"`, `"support": true`), []string{"provisions[0].support", "found JSON bool"}, ""},
		{"condition unknown", replace(t, `"telemetry": true`, `"telemetrie": true`), []string{"conditions.telemetrie: unknown condition"}, ""},
		{"condition not bool", replace(t, `"telemetry": true`, `"telemetry": "yes"`), []string{"conditions.telemetry: expected true, false or null"}, ""},
		{"constrained not bool", replace(t, `"constrained": false`, `"constrained": 0`), []string{"constrained", "found JSON number"}, ""},
		{"provisions not array", replace(t, `"provisions": [`, `"provisions": 5, "p": [`), []string{"provisions: expected an array"}, ""},
		{"control character", replace(t, `"firmware_version": "1.0.0"`, `"firmware_version": "1.0.0\u001b[31m"`), []string{"firmware_version: contains the control character U+001B"}, ""},
		{"bidi override", replace(t, `"firmware_version": "1.0.0"`, `"firmware_version": "1.0\u202e0"`), []string{"control character U+202E"}, ""},
		{"newline in one-line field", replace(t, `"firmware_version": "1.0.0"`, `"firmware_version": "1.0\n0"`), []string{"control character U+000A"}, ""},
		{"detail too long", replace(t, `"justification": ""`, `"justification": "`+strings.Repeat("x", MaxTextLen+1)+`"`), []string{"provisions[0].justification (4-1): longer than 8192 bytes"}, ""},
		{"contact not an address", replace(t, `"mailto:security@example.com"`, `"security at example"`), []string{"vulnerability_disclosure.contact", "not a valid e-mail address"}, ""},
		{"contact javascript", replace(t, `"mailto:security@example.com"`, `"javascript:alert(1)"`), []string{"vulnerability_disclosure.contact", "mailto:, https: or tel:"}, ""},
		{"policy over http", replace(t, `"https://example.com/security/disclosure-policy"`, `"http://example.com/p"`), []string{"vulnerability_disclosure.policy_url: must be an https:// URL"}, ""},
		{"escape sequence in a key", []byte("{\"\\u001b[2J" + strings.Repeat("k", 500) + "\": 1}"), []string{`\x1b[2Jkkk`, "…: unknown field"}, "1:2"},
		{"schema", replace(t, `"baseline.profile/v1"`, `"baseline.profile/v2"`), []string{"schema", "is not \"baseline.profile/v1\""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodeProfile(bytes.NewReader(tt.input), testNow)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if p != nil {
				t.Error("a refused profile must not be returned")
			}
			if !errors.Is(err, ErrProfile) {
				t.Errorf("error %v does not wrap ErrProfile", err)
			}
			var pe *ProfileError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ProfileError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.where != "" && pe.Where() != tt.where {
				t.Errorf("error at %q, want %q (%v)", pe.Where(), tt.where, err)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			if pe.Line != 0 && !strings.Contains(err.Error(), pe.Where()) {
				t.Errorf("error %q does not show its position", err)
			}
		})
	}
}

func TestDecodeProfileAccepts(t *testing.T) {
	for _, tt := range []struct{ name, old, new string }{
		{"byte order mark", "{\n  \"schema\"", "\ufeff{\n  \"schema\""},
		{"support ends today", `"2031-12-31"`, `"2026-11-26"`},
		{"no schema", `"schema": "baseline.profile/v1",`, ``},
		{"contact address", `"mailto:security@example.com"`, `"security@example.com"`},
		{"contact https", `"mailto:security@example.com"`, `"https://example.com/contact"`},
		{"conditions 4 and 5 given", `"telemetry": true`, `"telemetry": true, "constrained": false, "not_constrained": true`},
		{"empty answer", `"support": "Y"`, `"support": ""`},
		{"multi-line detail", `"justification": ""`, `"justification": "line one\nline two\tand a tab"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeProfile(bytes.NewReader(replace(t, tt.old, tt.new)), testNow); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSkeletonRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := Skeleton().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	p, err := DecodeProfile(&buf, testNow)
	if err != nil {
		t.Fatalf("skeleton does not decode: %v", err)
	}
	if !reflect.DeepEqual(p, Skeleton()) {
		t.Errorf("skeleton changed in a round trip:\n%+v\n%+v", p, Skeleton())
	}
	if len(p.Provisions) != 68 {
		t.Errorf("skeleton lists %d provisions", len(p.Provisions))
	}
	for i, a := range p.Provisions {
		if a.ID != catalog[i].ID || a.Support != Unanswered || a.Detail != "" || a.Justification != "" {
			t.Errorf("skeleton entry %d = %+v", i, a)
		}
	}
}

func TestProfileRoundTrip(t *testing.T) {
	p := exampleProfile(t)
	p.Conditions[4] = false // written back only when present
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	q, err := DecodeProfile(&buf, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("profile changed in a round trip")
	}
}

func TestProfileErrorFormat(t *testing.T) {
	e := &ProfileError{Line: 3, Column: 7, Field: "provisions[2].support", Provision: "5.1-1", Msg: "bad"}
	if got, want := e.Error(), "conformance: profile 3:7: provisions[2].support (5.1-1): bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &ProfileError{Msg: "larger than 1 byte"}
	if got, want := e.Error(), "conformance: profile: larger than 1 byte"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
