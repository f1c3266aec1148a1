package conformance

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"
)

func FuzzDecodeProfile(f *testing.F) {
	// Trailing data after a JSON document must be refused: a check based
	// on dec.More() misses a lone closing brace or bracket.
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add(exampleProfileBytes(f))
	var skel bytes.Buffer
	if err := Skeleton().WriteJSON(&skel); err != nil {
		f.Fatal(err)
	}
	f.Add(skel.Bytes())
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"provisions":null}`, `{"provisions":[{}]}`,
		`{"provisions":[{"id":"5.1-1","support":"N/A"},{"id":"5.1-1"}]}`,
		`{"conditions":{"telemetry":true,"telemetry":false}}`,
		`{"conditions":{"constrained":true,"not_constrained":true},"constrained":false}`,
		`{"support_period_end":"2000-01-01"}`, `{"support_period_end":"9999-12-31"}`,
		`{"model":"a"}{"model":"b"}`, `{"a":{"b":[1,{"c":2,"c":3}]}}`,
		`{"vulnerability_disclosure":{"contact":"mailto:a@b.c","policy_url":"https://x"}}`,
		`{"non_updatable":[{"part":"radio","reason":"ROM","isolation":"SPI only","replacement":"retailer","replacement_until":"2030-01-31"}]}`,
		`{"non_updatable":[{"part":"a","part":"b"}]}`, `{"non_updatable":null}`, `{"non_updatable":[{}]}`,
		"{\"model\":\"\\u0000\"}", `{"model":"\ud800"}`, `{"provisions":[{"id":"5.1-1","support":"Y","detail":"` + "\u2028" + `"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProfile(bytes.NewReader(data), testNow)
		if err != nil {
			var pe *ProfileError
			if p != nil || !errors.As(err, &pe) || !errors.Is(err, ErrProfile) {
				t.Fatalf("refusal returned %v, %T %v", p, err, err)
			}
			if pe.Line < 0 || pe.Column < 0 || (pe.Line == 0) != (pe.Column == 0) {
				t.Fatalf("bad position %d:%d", pe.Line, pe.Column)
			}
			if msg := err.Error(); len(msg) > 600 || strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
				t.Fatalf("error is not short printable text: %q", msg)
			}
			return
		}
		// Whatever decodes can be stated, rendered and written back.
		s := NewStatement(p)
		if len(s.Provisions) != 68 {
			t.Fatalf("%d entries", len(s.Provisions))
		}
		var first bytes.Buffer
		if err := s.WriteJSON(&first); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteMarkdown(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteHTML(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		var back bytes.Buffer
		if err := p.WriteJSON(&back); err != nil {
			t.Fatal(err)
		}
		q, err := DecodeProfile(&back, testNow)
		if err != nil {
			t.Fatalf("a decoded profile does not decode again: %v\n%s", err, back.Bytes())
		}
		var second bytes.Buffer
		if err := NewStatement(q).WriteJSON(&second); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("statement changed after a round trip")
		}
	})
}
