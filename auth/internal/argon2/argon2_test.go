package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// TestMatchesUpstream: the same output as x/crypto's IDKey for random
// inputs and parameters, with one arena reused across sizes (shrinking and
// growing) so stale blocks would show if they leaked into a result.
func TestMatchesUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a Arena
	for i := range 60 {
		pw := make([]byte, r.IntN(80))
		salt := make([]byte, 8+r.IntN(24))
		for j := range pw {
			pw[j] = byte(r.Uint32())
		}
		for j := range salt {
			salt[j] = byte(r.Uint32())
		}
		tm := uint32(1 + r.IntN(3))
		th := uint8(1 + r.IntN(4))
		mem := uint32(8*int(th) + r.IntN(600))
		kl := uint32(16 + r.IntN(48))
		got := IDKey(&a, pw, salt, tm, mem, th, kl)
		want := upstream.IDKey(pw, salt, tm, mem, th, kl)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (t=%d m=%d p=%d): got %x want %x", i, tm, mem, th, got, want)
		}
	}
	if a.Bytes() == 0 {
		t.Fatal("arena unused")
	}
}

// TestRFC9106 is the Argon2id test vector of RFC 9106 section 5.3 without
// secret and associated data as upstream computes it (upstream exposes
// neither): password 32×0x01, salt 16×0x02, t=3, m=32, p=4.
func TestRFC9106(t *testing.T) {
	var a Arena
	pw := bytes.Repeat([]byte{1}, 32)
	salt := bytes.Repeat([]byte{2}, 16)
	got := IDKey(&a, pw, salt, 3, 32, 4, 32)
	want := upstream.IDKey(pw, salt, 3, 32, 4, 32)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %s want %s", hex.EncodeToString(got), hex.EncodeToString(want))
	}
}

func BenchmarkIDKeyArena(b *testing.B) {
	var a Arena
	for b.Loop() {
		IDKey(&a, []byte("password"), []byte("somesaltsomesalt"), 2, 19*1024, 1, 32)
	}
}

func BenchmarkIDKeyUpstream(b *testing.B) {
	for b.Loop() {
		upstream.IDKey([]byte("password"), []byte("somesaltsomesalt"), 2, 19*1024, 1, 32)
	}
}

func TestArenaFree(t *testing.T) {
	var a Arena
	k1 := IDKey(&a, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32)
	a.Free()
	if a.Bytes() != 0 {
		t.Fatal("not freed")
	}
	k2 := IDKey(&a, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32)
	if !bytes.Equal(k1, k2) {
		t.Fatal("differs after Free")
	}
	a.Free()
	a.Free()
}
