package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResidueFindsEveryForm: a planted value is found raw, in hex and
// inside longer base64 text at each alignment, across a chunk boundary,
// and not in a clean image; the report never prints the value.
func TestResidueFindsEveryForm(t *testing.T) {
	dir := t.TempDir()
	pw := "correct-horse-" + randomAlnum(10)
	needles := writeTemp(t, "needles", "# planted before the reset\n"+pw+"\n")
	img := filepath.Join(dir, "image")
	os.MkdirAll(img, 0o755)
	put := func(name string, b []byte) { os.WriteFile(filepath.Join(img, name), b, 0o600) }
	noise := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	put("raw.bin", append(append(noise(100), pw...), noise(100)...))
	put("hex.txt", []byte("x="+hex.EncodeToString([]byte(pw))+"\n"))
	for shift := 0; shift < 3; shift++ {
		prefix := bytes.Repeat([]byte{'p'}, shift+1)
		put("b64-"+string(rune('0'+shift))+".json", []byte(`{"v":"`+base64.StdEncoding.EncodeToString(append(prefix, append([]byte(pw), "suffix"...)...))+`"}`))
	}
	boundary := noise(1<<20 + 64)
	copy(boundary[1<<20-5:], pw) // straddles the first chunk boundary
	put("boundary.img", boundary)
	put("clean.bin", noise(4096))

	var out, errb bytes.Buffer
	code := run([]string{"residue", "-needles", needles, "-format", "json", img}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res residueResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, h := range res.Hits {
		found[filepath.Base(h.Path)] = h.Form
		if h.Needle != 2 {
			t.Errorf("hit names needle line %d, want 2", h.Needle)
		}
	}
	for _, f := range []string{"raw.bin", "hex.txt", "b64-0.json", "b64-1.json", "b64-2.json", "boundary.img"} {
		if found[f] == "" {
			t.Errorf("%s: not found (hits %v)", f, found)
		}
	}
	if found["clean.bin"] != "" || strings.Contains(out.String(), pw) {
		t.Errorf("false hit or the value printed: %v", found)
	}
	var hb int
	for _, h := range res.Hits {
		if filepath.Base(h.Path) == "boundary.img" {
			hb++
			if h.Offset != 1<<20-5 {
				t.Errorf("boundary hit at %d", h.Offset)
			}
		}
	}
	if hb != 1 {
		t.Errorf("boundary value reported %d times", hb)
	}
	// A clean image: exit 0.
	os.RemoveAll(img)
	os.MkdirAll(img, 0o755)
	put("clean.bin", noise(4096))
	out.Reset()
	if code := run([]string{"residue", "-needles", needles, img}, &out, &errb); code != 0 || !strings.Contains(out.String(), "0 hit(s)") {
		t.Errorf("clean image: exit %d %s", code, out.String())
	}
	// Too short a value is refused: it would match by chance.
	if code := run([]string{"residue", "-needles", writeTemp(t, "short", "abc\n"), img}, &out, &errb); code != 2 {
		t.Errorf("short needle: exit %d", code)
	}
}
