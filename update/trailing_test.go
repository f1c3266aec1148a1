package update

import (
	"bytes"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// trailingTails follow a valid JSON document in the tests below. A check
// based on json.Decoder.More misses the first two: More reports false
// before a lone closing brace or bracket.
var trailingTails = []string{"}", "]", " {}", `{"b":2}`, " x"}

// TestDecodersRefuseTrailingData: the policy file, the release descriptor
// and the A/B journal record are each one JSON document and nothing after
// it (issue #12, "Bad input").
func TestDecodersRefuseTrailingData(t *testing.T) {
	desc, err := EncodeDescriptor(testDescriptor(t))
	if err != nil {
		t.Fatal(err)
	}
	fsys := durable.NewCrashFS()
	writeFactory(t, fsys, randomImage(t, 5000))
	ab, err := NewFileAB(FileABConfig{FS: fsys, Dir: abDir, Factory: Image{Counter: 1}})
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(t, MinChunkSize+1)
	cycle(t, ab, testRelease(t, img, 2), img)
	var journal []byte
	ab.journal.Scan(func(_ int64, rec []byte) error {
		journal = bytes.Clone(rec)
		return nil
	})
	for _, d := range []struct {
		name   string
		good   []byte
		decode func([]byte) error
	}{
		{"policy", []byte(`{"v":1,"autoInstallOff":true}`), func(b []byte) error { _, err := decodePolicy(b); return err }},
		{"descriptor", desc, func(b []byte) error { _, err := DecodeDescriptor(b); return err }},
		{"A/B journal record", journal, func(b []byte) error { _, err := decodeABState(b); return err }},
	} {
		good := bytes.TrimSpace(d.good)
		if err := d.decode(good); err != nil {
			t.Fatalf("%s: the valid document is refused: %v", d.name, err)
		}
		if err := d.decode(append(bytes.Clone(good), " \n\t"...)); err != nil {
			t.Errorf("%s: trailing white space refused: %v", d.name, err)
		}
		for _, tail := range trailingTails {
			if err := d.decode(append(bytes.Clone(good), tail...)); err == nil {
				t.Errorf("%s: accepted with %q after the document", d.name, tail)
			}
		}
	}
}
