package secrets

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

func envelopeSeeds(t testing.TB) [][]byte {
	sec, err := appendHeader(nil, kindSecret, AlgSecret, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := appendHeader(nil, kindKeyset, AlgKeyset, SoftAlgorithm, bytes.Repeat([]byte{0xaa}, 60))
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{
		appendPayload(bytes.Clone(sec), bytes.Repeat([]byte{1}, 40)),
		appendPayload(bytes.Clone(sec), nil),
		appendPayload(bytes.Clone(ks), bytes.Repeat([]byte{2}, 100)),
		[]byte("BLSE"),
		[]byte("BLSE\x02\x01"),
		[]byte("BLSE\x01\x01\xff"),
		append(appendPayload(bytes.Clone(sec), []byte{1}), 0),
		{},
	}
}

// FuzzDecodeEnvelope: the decoder never panics, never accepts trailing or
// missing bytes, and what it accepts re-encodes to exactly the input.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds(f) {
		f.Add(s)
	}
	// The v1 vector's files, as written by the store.
	for _, name := range []string{"testdata/v1/secrets/.keyset", "testdata/v1/secrets/greeting.sec"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrUnsupported", err)
			}
			return
		}
		h, err := appendHeader(nil, e.kind, e.alg, e.kekAlg, e.wrapped)
		if err != nil {
			t.Fatalf("decoded envelope does not re-encode: %v", err)
		}
		if !bytes.Equal(h, e.header) {
			t.Fatal("header differs from re-encoded header")
		}
		if re := appendPayload(h, e.payload); !bytes.Equal(re, b) {
			t.Fatalf("round trip mismatch")
		}
	})
}

func TestDecodeEnvelopeLimits(t *testing.T) {
	sec, _ := appendHeader(nil, kindSecret, AlgSecret, "", nil)
	b := appendPayload(bytes.Clone(sec), make([]byte, 100))
	if _, err := decodeEnvelope(b, 99); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("payload over the limit: %v", err)
	}
	if _, err := decodeEnvelope(b, 100); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(b)
	bad[4] = 2
	if _, err := decodeEnvelope(bad, 100); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("version 2: %v; want ErrUnsupported", err)
	}
	other, _ := appendHeader(nil, kindSecret, "tink-aead/chacha20", "", nil)
	if _, err := decodeEnvelope(appendPayload(other, nil), 100); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown algorithm: %v; want ErrUnsupported", err)
	}
	if _, err := appendHeader(nil, kindSecret, "bad alg", "", nil); err == nil {
		t.Fatal("algorithm with a space accepted")
	}
	if _, err := appendHeader(nil, kindKeyset, AlgKeyset, "x", make([]byte, maxWrappedLen+1)); err == nil {
		t.Fatal("oversized wrapped key accepted")
	}
}
