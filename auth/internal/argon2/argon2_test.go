package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
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

// TestRFC9106Vector is the Argon2id known-answer test of RFC 9106 section
// 5.3, with its secret and associated data, checked against the tag printed
// in the RFC (not against upstream, which exposes neither input). It runs
// whichever block function the build selected: the amd64 assembly by
// default, the generic Go code that ARM devices run with -tags purego (CI
// runs both).
func TestRFC9106Vector(t *testing.T) {
	var a Arena
	pw := bytes.Repeat([]byte{0x01}, 32)
	salt := bytes.Repeat([]byte{0x02}, 16)
	secret := bytes.Repeat([]byte{0x03}, 8)
	ad := bytes.Repeat([]byte{0x04}, 12)
	got := deriveKey(&a, argon2id, pw, salt, secret, ad, 3, 32, 4, 32)
	const want = "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
	if hex.EncodeToString(got) != want {
		t.Fatalf("RFC 9106 Argon2id tag: got %x want %s", got, want)
	}
}

// forkedFrom is the golang.org/x/crypto version this directory was diffed
// against (README.md).
const forkedFrom = "v0.59.0"

// TestForkMatchesGoMod fails when go.mod moves golang.org/x/crypto away
// from the version this fork was taken from: its argon2 may have changed,
// and the fork must be re-diffed (README.md) before forkedFrom is raised.
func TestForkMatchesGoMod(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join("..", "..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*golang\.org/x/crypto (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require golang.org/x/crypto")
	}
	if got := string(m[1]); got != forkedFrom {
		t.Fatalf("go.mod requires golang.org/x/crypto %s, but auth/internal/argon2 was forked from %s: "+
			"diff upstream's argon2 between the two versions, port the changes (README.md), re-run these tests, then update forkedFrom and README.md", got, forkedFrom)
	}
}

// TestRFC9106ParamsMatchUpstream runs the RFC 9106 parameters without
// secret and associated data against upstream's IDKey: password 32×0x01,
// salt 16×0x02, t=3, m=32, p=4.
func TestRFC9106ParamsMatchUpstream(t *testing.T) {
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
