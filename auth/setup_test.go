package auth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// cycleReader yields 0, 1, ..., 255 and starts over, rounds times: every
// byte value equally often, the input on which any modulo bias shows.
type cycleReader struct {
	i, max int
}

func (r *cycleReader) ReadByte() (byte, error) {
	if r.i >= r.max {
		return 0, fmt.Errorf("exhausted")
	}
	b := byte(r.i)
	r.i++
	return b, nil
}

// TestUniformExactlyUniform feeds the sampler every byte value the same
// number of times and requires every output to come out the same number of
// times. A modulo reduction (b % n) fails this for any n not dividing 256:
// for n=10, outputs 0-5 would come out 26 times and 6-9 only 25.
func TestUniformExactlyUniform(t *testing.T) {
	for _, n := range []int{2, 3, 10, 32, 37, 100, 200, 255, 256} {
		r := &cycleReader{max: 256 * 4}
		counts := make([]int, n)
		for {
			v, err := uniform(r, n)
			if err != nil {
				break
			}
			if v < 0 || v >= n {
				t.Fatalf("n=%d: out of range %d", n, v)
			}
			counts[v]++
		}
		for v, c := range counts {
			if c != counts[0] {
				t.Fatalf("n=%d: value %d drawn %d times, value 0 %d times: biased", n, v, c, counts[0])
			}
		}
		if want := 4 * (256 - 256%n) / n; counts[0] != want {
			t.Fatalf("n=%d: each value drawn %d times, want %d", n, counts[0], want)
		}
	}
}

// TestModuloWouldBeCaught shows the test above has teeth: the biased
// reduction it guards against does not pass it.
func TestModuloWouldBeCaught(t *testing.T) {
	counts := make([]int, 10)
	for b := range 256 {
		counts[b%10]++
	}
	if counts[0] == counts[9] {
		t.Fatal("modulo reduction unexpectedly uniform")
	}
}

func TestUniformRejectsTopBytes(t *testing.T) {
	// n=200: bytes 200..255 must be redrawn, not folded onto 0..55.
	v, err := uniform(bufio.NewReader(bytes.NewReader([]byte{250, 210, 7})), 200)
	if err != nil || v != 7 {
		t.Fatalf("got %d, %v; want 7 after rejecting 250 and 210", v, err)
	}
}

func TestSetupSecretRoundTrip(t *testing.T) {
	if SetupSecretSymbols*5 < 80 {
		t.Fatal("setup secret below 80 bits")
	}
	seen := map[string]bool{}
	for range 200 {
		s, err := NewSetupSecret()
		if err != nil {
			t.Fatal(err)
		}
		text := s.Reveal()
		if len(text) != 21 || seen[text] {
			t.Fatalf("bad or repeated secret %q", text)
		}
		seen[text] = true
		for _, variant := range []string{text, strings.ToLower(text), strings.ReplaceAll(text, "-", " "), strings.ReplaceAll(text, "-", "")} {
			p, err := ParseSetupSecret(variant)
			if err != nil || p.Reveal() != text {
				t.Fatalf("ParseSetupSecret(%q) = %v, %v", variant, p.Reveal(), err)
			}
		}
	}
}

func TestSetupSecretConfusables(t *testing.T) {
	s := mustSecret(t, "01AB-CDEF-GHJK-MNPQ")
	typed := strings.NewReplacer("0", "o", "1", "l").Replace(s.Reveal()[:19]) + s.Reveal()[19:]
	p, err := ParseSetupSecret(typed)
	if err != nil || p.Reveal() != s.Reveal() {
		t.Fatalf("confusable reading failed: %q -> %v", typed, err)
	}
}

// mustSecret builds a secret from 16 data symbols, adding the check symbol.
func mustSecret(t *testing.T, data string) SetupSecret {
	t.Helper()
	data = strings.ReplaceAll(data, "-", "")
	var sym []byte
	for i := 0; i < len(data); i++ {
		sym = append(sym, byte(symbolIndex(data[i])))
	}
	full := data + string(setupAlphabet[checkSymbol(sym)])
	s, err := ParseSetupSecret(full)
	if err != nil {
		t.Fatalf("ParseSetupSecret(%q): %v", full, err)
	}
	return s
}

func TestCheckSymbolCatchesEverySingleTypo(t *testing.T) {
	s, _ := NewSetupSecret()
	clean := strings.ReplaceAll(s.Reveal(), "-", "")
	for i := 0; i < len(clean); i++ {
		for _, c := range setupAlphabet {
			if byte(c) == clean[i] {
				continue
			}
			typo := clean[:i] + string(c) + clean[i+1:]
			if _, err := ParseSetupSecret(typo); err == nil {
				t.Fatalf("typo at %d (%q) accepted", i, typo)
			}
		}
	}
}

func TestTrivialSecretsRefused(t *testing.T) {
	for _, data := range []string{"0000000000000000", "0123456789ABCDEF", "ZYXWVTSRQPNMKJHG", "ABABABABABABABAB", "ABCDABCDABCDABCD", "AABBAABBAABBAABB"} {
		var sym []byte
		for i := 0; i < len(data); i++ {
			sym = append(sym, byte(symbolIndex(data[i])))
		}
		full := data + string(setupAlphabet[checkSymbol(sym)])
		if _, err := ParseSetupSecret(full); !errors.Is(err, ErrTrivialSecret) {
			t.Errorf("%s: got %v, want ErrTrivialSecret", data, err)
		}
	}
	// A generator whose randomness is stuck never hands out a trivial value.
	if _, err := newSetupSecret(bytes.NewReader(make([]byte, 4096))); !errors.Is(err, ErrTrivialSecret) {
		t.Fatalf("all-zero randomness: %v, want ErrTrivialSecret", err)
	}
}

func TestParseSetupSecretMalformed(t *testing.T) {
	for _, in := range []string{"", "ABCD", strings.Repeat("A", 65), "UUUU-UUUU-UUUU-UUUU-U", "ABCD-EFGH-JKMN-PQRS-T\n", "ÄBCD-EFGH-JKMN-PQRS-T"} {
		if _, err := ParseSetupSecret(in); !errors.Is(err, ErrMalformedSetupSecret) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestVerifier(t *testing.T) {
	s, _ := NewSetupSecret()
	if _, err := s.Verifier(testParams); !errors.Is(err, ErrWeakParams) {
		t.Fatalf("Verifier accepted weak params: %v", err)
	}
	v, err := s.Verifier(Params{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHash(v)
	if err != nil || h.Params.Memory != FloorParams.Memory || h.Params.Time != FloorParams.Time {
		t.Fatalf("verifier %q: %v", v, err)
	}
	if strings.Contains(v, strings.ReplaceAll(s.Reveal(), "-", "")) {
		t.Fatal("verifier contains the secret")
	}
	other, _ := NewSetupSecret()
	if !s.Matches(v) || other.Matches(v) {
		t.Fatal("Matches")
	}
	var zero SetupSecret
	if _, err := zero.Verifier(Params{}); err == nil || zero.Reveal() != "" || !zero.IsZero() {
		t.Fatal("zero secret usable")
	}
}
