package rauc_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/iotbaseline/baseline/update/rauc"
)

// TestParseStatusRefusesTrailingData: `rauc status --output-format=json`
// is one document and nothing after it, not even a lone '}' or ']' (which
// json.Decoder.More does not report) (issue #12, "Bad input").
func TestParseStatusRefusesTrailingData(t *testing.T) {
	good, err := os.ReadFile("testdata/status-1.8.json")
	if err != nil {
		t.Fatal(err)
	}
	good = bytes.TrimSpace(good)
	if _, err := rauc.ParseStatus(append(bytes.Clone(good), '\n')); err != nil {
		t.Fatalf("the valid status is refused: %v", err)
	}
	for _, tail := range []string{"}", "]", " {}", `{"b":2}`, " x"} {
		if _, err := rauc.ParseStatus(append(bytes.Clone(good), tail...)); err == nil {
			t.Errorf("accepted with %q after the document", tail)
		}
	}
}
