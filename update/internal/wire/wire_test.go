package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

type ch [sha256.Size]byte

// TestHashChunksChain: the last entry is the image's SHA-256, and a hasher
// resumed from entry i (HasherAt) reproduces every later entry — what a
// device relies on to verify each chunk and resume a download.
func TestHashChunksChain(t *testing.T) {
	img := make([]byte, 5*4096+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	chunks, n, err := HashChunks[ch](bytes.NewReader(img), 4096)
	if err != nil || n != int64(len(img)) || len(chunks) != 6 {
		t.Fatalf("HashChunks: %d chunks, %d bytes, %v", len(chunks), n, err)
	}
	if chunks[5] != ch(sha256.Sum256(img)) {
		t.Fatal("last entry is not the image's SHA-256")
	}
	for i := 0; i < 5; i++ {
		h, err := HasherAt(chunks[i], int64(i+1)*4096)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(img[(i+1)*4096:])
		if ch(h.Sum(nil)) != chunks[5] {
			t.Fatalf("resuming from entry %d does not reach the image's digest", i)
		}
	}
	if _, _, err := HashChunks[ch](bytes.NewReader(img), 100); err == nil {
		t.Error("a chunk size that is not a multiple of 64 was accepted")
	}
	if _, err := HasherAt(chunks[0], 100); err == nil {
		t.Error("HasherAt accepted an offset that is not a multiple of 64")
	}
	empty, n, err := HashChunks[ch](strings.NewReader(""), 4096)
	if err != nil || n != 0 || len(empty) != 0 {
		t.Errorf("empty image: %v %d %v", empty, n, err)
	}
	if _, _, err := HashChunks[ch](io.MultiReader(strings.NewReader("x"), errReader{}), 4096); err == nil {
		t.Error("a read error was not returned")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("read failed") }

// TestEncodeBound: an encoding above the size bound is refused.
func TestEncodeBound(t *testing.T) {
	d := &Descriptor[ch]{Format: Format, Chunks: make(Chunks[ch], 100)}
	if _, err := Encode(d, 100); err == nil {
		t.Fatal("an oversized descriptor was encoded")
	}
	out, err := Encode(d, 1<<20)
	if err != nil || !bytes.HasPrefix(out, []byte(`{"baseline":{"format":2,`)) {
		t.Fatalf("Encode = %s, %v", out, err)
	}
}

// FuzzChunks: the chunk list decoder accepts only the canonical base64 of
// whole 32-byte entries (at most MaxChunks), and what it accepts encodes
// back to the same bytes.
func FuzzChunks(f *testing.F) {
	for _, s := range []string{`""`, `"` + strings.Repeat("A", 44) + `"`, `"AAAA"`, `"a b"`, `1`, `null`, `{"a":1}}`, `"` + strings.Repeat("A", 43) + `="`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Chunks[ch]
		if err := c.UnmarshalJSON(b); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "chunks" {
				t.Fatalf("error %v is not a chunks field error", err)
			}
			return
		}
		if len(c) > MaxChunks {
			t.Fatalf("%d entries accepted", len(c))
		}
		out, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var s1, s2 string
		if json.Unmarshal(b, &s1) != nil || json.Unmarshal(out, &s2) != nil || s1 != s2 {
			t.Fatalf("%s decoded and encoded back as %s", b, out)
		}
	})
}
