package update

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func testDescriptor(t testing.TB) *Descriptor {
	img := bytes.Repeat([]byte("firmware"), 3000)
	chunks, _, err := HashChunks(bytes.NewReader(img), MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	return &Descriptor{
		HardwareID:     "acme-plug-v2",
		ReleaseCounter: 7,
		Version:        "1.2.3",
		Security:       true,
		Risks:          []string{"remote code execution in the web UI"},
		Reboot:         true,
		Downtime:       90 * time.Second,
		SupportUntil:   time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC),
		ChunkSize:      MinChunkSize,
		Chunks:         chunks,
	}
}

func TestDescriptorRoundTrip(t *testing.T) {
	d := testDescriptor(t)
	enc, err := EncodeDescriptor(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDescriptor(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, d)
	}
	if err := got.CheckLength(24000); err != nil {
		t.Fatal(err)
	}
	if err := got.CheckLength(24000 + 4096); err == nil {
		t.Fatal("CheckLength accepted a length the chunk list does not cover")
	}
}

// TestHashChunksChain checks the chain against crypto/sha256 directly:
// entry i is the state words after the first (i+1) chunks, the last entry
// is the image's SHA-256, and a resumed hasher continues exactly.
func TestHashChunksChain(t *testing.T) {
	img := make([]byte, 3*MinChunkSize+100)
	for i := range img {
		img[i] = byte(i * 7)
	}
	for _, size := range []int{len(img), 3 * MinChunkSize} {
		chunks, n, err := HashChunks(bytes.NewReader(img[:size]), MinChunkSize)
		if err != nil || n != int64(size) {
			t.Fatal(n, err)
		}
		want := (size + MinChunkSize - 1) / MinChunkSize
		if len(chunks) != want {
			t.Fatalf("%d entries, want %d", len(chunks), want)
		}
		for i := range chunks[:len(chunks)-1] {
			h := sha256.New()
			h.Write(img[:(i+1)*MinChunkSize])
			st, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
			if !bytes.Equal(chunks[i][:], st[4:36]) {
				t.Fatalf("size %d: entry %d is not the chaining value", size, i)
			}
			r, err := hasherAt(chunks[i], int64((i+1)*MinChunkSize))
			if err != nil {
				t.Fatal(err)
			}
			r.Write(img[(i+1)*MinChunkSize : size])
			if sum := sha256.Sum256(img[:size]); !bytes.Equal(r.Sum(nil), sum[:]) {
				t.Fatalf("size %d: hasher resumed at entry %d gives another digest", size, i)
			}
		}
		if sum := sha256.Sum256(img[:size]); chunks[len(chunks)-1] != sum {
			t.Fatalf("size %d: last entry is not the image's sha256", size)
		}
	}
	if _, _, err := HashChunks(bytes.NewReader(img), MinChunkSize+1); !errors.Is(err, ErrDescriptor) {
		t.Fatalf("chunk size not a multiple of 64: %v", err)
	}
}

func TestDecodeDescriptorRefuses(t *testing.T) {
	enc, err := EncodeDescriptor(testDescriptor(t))
	if err != nil {
		t.Fatal(err)
	}
	s := string(enc)
	cases := map[string]string{
		"unknown field":  strings.Replace(s, `"version"`, `"versionx":"1","version"`, 1),
		"trailing data":  s + "{}",
		"format":         strings.Replace(s, `"format":2`, `"format":3`, 1),
		"format 1":       strings.Replace(s, `"format":2`, `"format":1`, 1),
		"chunk hash alg": strings.Replace(s, `"chunk_hash":"sha256-chain"`, `"chunk_hash":"md5"`, 1),
		"chunk hash v1":  strings.Replace(s, `"chunk_hash":"sha256-chain"`, `"chunk_hash":"sha256"`, 1),
		"odd chunk":      strings.Replace(s, `"chunk_size":4096`, `"chunk_size":4100`, 1),
		"zero counter":   strings.Replace(s, `"release_counter":7`, `"release_counter":0`, 1),
		"huge counter":   strings.Replace(s, `"release_counter":7`, `"release_counter":9007199254740992`, 1),
		"no hardware":    strings.Replace(s, `"hardware_id":"acme-plug-v2"`, `"hardware_id":""`, 1),
		"bad date":       strings.Replace(s, `"2031-12-31"`, `"2031-02-31"`, 1),
		"tiny chunk":     strings.Replace(s, `"chunk_size":4096`, `"chunk_size":16`, 1),
		"bad base64":     strings.Replace(s, `"chunks":"`, `"chunks":"!`, 1),
		"short entry":    strings.Replace(s, `"chunks":"`, `"chunks":"AAAA`, 1),
		"hex array v1":   strings.Replace(s, `"chunks":"`, `"chunks":["00"],"x":"`, 1),
		"negative down":  strings.Replace(s, `"downtime_s":90`, `"downtime_s":-1`, 1),
		"not object":     `[1,2]`,
		"too large":      `{"baseline":"` + strings.Repeat("a", MaxDescriptorSize) + `"}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeDescriptor([]byte(in)); !errors.Is(err, ErrDescriptor) {
				t.Fatalf("got %v, want ErrDescriptor", err)
			}
		})
	}
	if _, err := DecodeDescriptor([]byte(`{"other":1}`)); !errors.Is(err, ErrNoDescriptor) {
		t.Fatalf("no descriptor: got %v", err)
	}
}

func TestCoSignature(t *testing.T) {
	pub, priv, err := mldsa65.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := mldsa65.GenerateKey(nil)
	h := sha256.Sum256([]byte("img"))
	hashes := metadata.Hashes{"sha256": h[:]}
	sig, err := CoSign(priv, "fw.bin", 3, hashes, 7, "hw")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyCoSignature(pub, sig, "fw.bin", 3, hashes, 7, "hw"); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"path":    func() error { return VerifyCoSignature(pub, sig, "fw2.bin", 3, hashes, 7, "hw") },
		"length":  func() error { return VerifyCoSignature(pub, sig, "fw.bin", 4, hashes, 7, "hw") },
		"counter": func() error { return VerifyCoSignature(pub, sig, "fw.bin", 3, hashes, 8, "hw") },
		"hwid":    func() error { return VerifyCoSignature(pub, sig, "fw.bin", 3, hashes, 7, "hx") },
		"hashes": func() error {
			return VerifyCoSignature(pub, sig, "fw.bin", 3, metadata.Hashes{"sha256": make([]byte, 32)}, 7, "hw")
		},
		"key":      func() error { return VerifyCoSignature(other, sig, "fw.bin", 3, hashes, 7, "hw") },
		"unsigned": func() error { return VerifyCoSignature(pub, nil, "fw.bin", 3, hashes, 7, "hw") },
	} {
		if err := f(); !errors.Is(err, ErrCoSignature) {
			t.Errorf("%s: got %v, want ErrCoSignature", name, err)
		}
	}
	// The encoding is injective on field boundaries.
	if bytes.Equal(CoSignedMessage("ab", 1, nil, 1, "c"), CoSignedMessage("a", 1, nil, 1, "bc")) {
		t.Fatal("CoSignedMessage is ambiguous")
	}
}

func FuzzDecodeDescriptor(f *testing.F) {
	// Trailing data after a JSON document must be refused: a check based
	// on dec.More() misses a lone closing brace or bracket.
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	enc, err := EncodeDescriptor(testDescriptor(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"baseline":{}}`))
	f.Add([]byte(`{"baseline":{"format":2,"chunk_hash":"sha256-chain","chunks":[null]}}`))
	f.Add([]byte(`{"baseline":{"format":2,"chunk_hash":"sha256-chain","chunk_size":4096,"chunks":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := DecodeDescriptor(in)
		if err != nil {
			if d != nil {
				t.Fatal("descriptor returned with error")
			}
			return
		}
		// Whatever decodes re-encodes and decodes to the same value.
		enc, err := EncodeDescriptor(d)
		if err != nil {
			t.Fatalf("decoded descriptor does not encode: %v", err)
		}
		d2, err := DecodeDescriptor(enc)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("unstable round trip: %v", err)
		}
	})
}
