package conformance

import (
	"bytes"
	"testing"
	"time"
)

// TestDecodersRefuseTrailingData: a profile and a report are one JSON
// document and nothing after it, not even a lone '}' or ']' (which
// json.Decoder.More does not report) (issue #12, "Bad input").
func TestDecodersRefuseTrailingData(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []struct {
		name   string
		good   []byte
		decode func([]byte) error
	}{
		{"profile", exampleProfileBytes(t), func(b []byte) error { _, err := DecodeProfile(bytes.NewReader(b), now); return err }},
		{"report", sampleReportJSON(t), func(b []byte) error { _, err := DecodeReport(bytes.NewReader(b)); return err }},
	} {
		good := bytes.TrimSpace(d.good)
		if err := d.decode(append(bytes.Clone(good), '\n')); err != nil {
			t.Fatalf("%s: the valid document is refused: %v", d.name, err)
		}
		for _, tail := range []string{"}", "]", " {}", `{"b":2}`, " x"} {
			if err := d.decode(append(bytes.Clone(good), tail...)); err == nil {
				t.Errorf("%s: accepted with %q after the document", d.name, tail)
			}
		}
	}
}
