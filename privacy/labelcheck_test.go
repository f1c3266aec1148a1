package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

// validLabel is a complete label as NewLabel writes it, with a profile.
func validLabel(t testing.TB) []byte {
	t.Helper()
	n := exampleNotice(t)
	prof := &conformance.Profile{Manufacturer: "Acme Devices Ltd", Model: "SP-100", FirmwareVersion: "1.2.0", SupportPeriodEnd: "2031-12-31",
		VulnerabilityDisclosure: conformance.Disclosure{Contact: "mailto:security@acme.example", PolicyURL: "https://acme.example/security"}}
	var b bytes.Buffer
	if err := NewLabel(n, prof).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// edit decodes the label, lets f change it, and encodes it again.
func edit(t *testing.T, b []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeLabelAcceptsWhatNewLabelWrites(t *testing.T) {
	b := validLabel(t)
	l, err := DecodeLabel(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := l.WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(again.Bytes()), bytes.TrimSpace(b)) {
		t.Fatalf("decode/encode changed the label:\n%s\n%s", b, again.Bytes())
	}
}

func TestDecodeLabelRefusesWhatTheSchemaForbids(t *testing.T) {
	b := validLabel(t)
	dp := func(m map[string]any) map[string]any { return m["data_practices"].(map[string]any) }
	cases := map[string]struct {
		doc   []byte
		field string
	}{
		"unknown legal basis": {edit(t, b, func(m map[string]any) {
			dp(m)["purposes"].([]any)[0].(map[string]any)["legal_basis"] = "whim"
		}), "$.data_practices.purposes[0].legal_basis"},
		"no notice":    {edit(t, b, func(m map[string]any) { delete(m, "notice") }), "notice"},
		"wrong schema": {edit(t, b, func(m map[string]any) { m["schema"] = "baseline.privacy-label/v0" }), "$.schema"},
		"bad id": {edit(t, b, func(m map[string]any) {
			dp(m)["data_types"].([]any)[0].(map[string]any)["id"] = "Energy Use"
		}), "$.data_practices.data_types[0].id"},
		"country": {edit(t, b, func(m map[string]any) {
			dp(m)["recipients"].([]any)[0].(map[string]any)["country"] = "germany"
		}), "country"},
		"retention out of range": {edit(t, b, func(m map[string]any) {
			dp(m)["data_types"].([]any)[0].(map[string]any)["retention_days"] = 40000
		}), "retention_days"},
		"fractional retention": {edit(t, b, func(m map[string]any) {
			dp(m)["purposes"].([]any)[0].(map[string]any)["retention_days"] = 1.5
		}), "retention_days"},
		"no storage": {edit(t, b, func(m map[string]any) {
			dp(m)["data_types"].([]any)[0].(map[string]any)["storage"] = []any{}
		}), "storage"},
		"http policy": {edit(t, b, func(m map[string]any) {
			m["more_information"].(map[string]any)["privacy_policy"] = "http://acme.example/privacy"
		}), "privacy_policy"},
		"unknown field":  {edit(t, b, func(m map[string]any) { m["extra"] = true }), "extra"},
		"trailing brace": {append(bytes.Clone(bytes.TrimSpace(b)), '}'), "malformed"},
		"trailing doc":   {append(bytes.Clone(bytes.TrimSpace(b)), []byte(`{"a":1}`)...), "unknown field"},
		"repeated key":   {bytes.Replace(b, []byte(`"sold":`), []byte(`"sold":true,"sold":`), 1), "sold"},
		"wrong type":     {bytes.Replace(b, []byte(`"tracking": false`), []byte(`"tracking": "no"`), 1), "tracking"},
		"too large":      {append(bytes.Repeat([]byte(" "), MaxLabelSize), b...), "larger than"},
		"empty":          {nil, ""},
		"not an object":  {[]byte(`[]`), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(c.doc, b) {
				t.Fatal("the case did not change the document")
			}
			l, err := DecodeLabel(bytes.NewReader(c.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", l)
			}
			if !errors.Is(err, ErrLabel) {
				t.Errorf("error does not wrap ErrLabel: %v", err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %q", err, c.field)
			}
		})
	}
}

func TestLabelSchemaCompiles(t *testing.T) {
	w, err := labelSchema()
	if err != nil {
		t.Fatal(err)
	}
	if len(w.patterns) == 0 {
		t.Fatal("no pattern compiled: the walker would not check identifiers")
	}
	// A keyword the walker does not know is refused rather than ignored.
	if _, err := compileSchema([]byte(`{"type":"object","properties":{"a":{"type":"string","maxLength":3}}}`)); err == nil ||
		!strings.Contains(err.Error(), "maxLength") {
		t.Fatalf("unknown keyword: %v", err)
	}
	if _, err := compileSchema([]byte(`{"$ref":"#/$defs/missing"}`)); err == nil {
		t.Fatal("dangling reference accepted")
	}
}

func FuzzDecodeLabel(f *testing.F) {
	b := validLabel(f)
	f.Add(b)
	f.Add(append(bytes.Clone(bytes.TrimSpace(b)), '}'))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"schema":"baseline.privacy-label/v1"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"schema":"baseline.privacy-label/v1","schema":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeLabel(bytes.NewReader(data))
		if err != nil {
			if l != nil {
				t.Fatal("a label returned with an error")
			}
			if !errors.Is(err, ErrLabel) {
				t.Fatalf("error does not wrap ErrLabel: %v", err)
			}
			return
		}
		// Whatever is accepted re-encodes to a label that is accepted again.
		var out bytes.Buffer
		if err := l.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeLabel(&out); err != nil {
			t.Fatalf("accepted label does not survive re-encoding: %v", err)
		}
	})
}
