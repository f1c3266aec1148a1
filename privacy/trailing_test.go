package privacy

import (
	"bytes"
	"os"
	"testing"
)

// TestDecodersRefuseTrailingData: the privacy inventory and the telemetry
// schema are one JSON document and nothing after it, not even a lone '}'
// or ']' (which json.Decoder.More does not report) (issue #12, "Bad
// input").
func TestDecodersRefuseTrailingData(t *testing.T) {
	schema, err := os.ReadFile("testdata/telemetry.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		name   string
		good   []byte
		decode func([]byte) error
	}{
		{"inventory", exampleJSON(t), func(b []byte) error { _, err := DecodeInventory(bytes.NewReader(b)); return err }},
		{"telemetry schema", schema, func(b []byte) error { _, err := DecodeSchema(bytes.NewReader(b)); return err }},
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
