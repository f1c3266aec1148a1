package auth

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
)

// setupAlphabet is Crockford's base32: digits and capitals without I, L, O
// and U, so that what is printed on a label can be typed back without
// guessing. Parsing also accepts lower case and reads I and L as 1, O as 0.
const setupAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// SetupSecretSymbols is the number of random symbols in a setup secret:
// 16 symbols of 5 bits = 80 bits, followed by one check symbol.
const SetupSecretSymbols = 16

// setupDomain separates setup-secret verifiers from any other Argon2id use.
const setupDomain = "baseline setup secret v1\x00"

// SetupSecret is a per-device secret printed on the device's label (or
// shipped in its box) and used once, by the owner, to prove possession of the
// device during setup. It holds 80 bits from crypto/rand, drawn uniformly
// from a 32-symbol alphabet, plus a check symbol that catches any single
// mistyped symbol and most swaps of neighbours.
//
// A SetupSecret never prints itself: the symbols sit behind an unexported
// pointer, so every fmt verb and slog handler shows an address at most and
// encoding/json an empty object. [SetupSecret.Reveal] is the one way to get
// the text, for the label printer stream. It is not comparable with ==.
type SetupSecret struct {
	_   [0]func()
	sym *[SetupSecretSymbols]byte // alphabet indices; nil in the zero value
}

// NewSetupSecret draws a new setup secret from crypto/rand. It is never
// derived from a serial number, MAC address or model: it takes no input.
func NewSetupSecret() (SetupSecret, error) {
	return newSetupSecret(rand.Reader)
}

func newSetupSecret(r io.Reader) (SetupSecret, error) {
	br := bufio.NewReaderSize(r, 64)
	for range 16 { // a trivial draw has probability < 2^-40; 16 tries never fail
		var sym [SetupSecretSymbols]byte
		for i := range sym {
			v, err := uniform(br, len(setupAlphabet))
			if err != nil {
				return SetupSecret{}, fmt.Errorf("auth: reading randomness: %w", err)
			}
			sym[i] = byte(v)
		}
		if trivial(sym[:]) {
			continue
		}
		return SetupSecret{sym: &sym}, nil
	}
	return SetupSecret{}, ErrTrivialSecret
}

// uniform returns a value in [0, n) from r with exactly uniform probability
// (1 <= n <= 256): bytes at or above the largest multiple of n are rejected
// and redrawn, instead of folding them with a modulo (the bias of Matter's
// passcode generator).
func uniform(r io.ByteReader, n int) (int, error) {
	if n < 1 || n > 256 {
		panic("auth: uniform: n out of range")
	}
	limit := 256 - 256%n
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if int(b) < limit {
			return int(b) % n, nil
		}
	}
}

// trivial reports values no one should find on a label even if drawn
// fairly: fewer than 4 distinct symbols, a short repeated pattern (period
// up to 4) or a run stepping through the alphabet.
func trivial(sym []byte) bool {
	distinct := map[byte]bool{}
	for _, c := range sym {
		distinct[c] = true
	}
	if len(distinct) < 4 {
		return true
	}
	for p := 1; p <= 4; p++ {
		rep := true
		for i := p; i < len(sym); i++ {
			if sym[i] != sym[i-p] {
				rep = false
				break
			}
		}
		if rep {
			return true
		}
	}
	for _, step := range []int{1, -1} {
		run := true
		for i := 1; i < len(sym); i++ {
			if (int(sym[i])-int(sym[i-1])-step)%len(setupAlphabet) != 0 {
				run = false
				break
			}
		}
		if run {
			return true
		}
	}
	return false
}

// checkSymbol is the Luhn mod 32 check symbol over the data symbols.
func checkSymbol(sym []byte) byte {
	const n = len(setupAlphabet)
	factor, sum := 2, 0
	for i := len(sym) - 1; i >= 0; i-- {
		a := factor * int(sym[i])
		factor = 3 - factor
		sum += a/n + a%n
	}
	return byte((n - sum%n) % n)
}

func symbolIndex(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		c -= 'a' - 'A'
	}
	switch c {
	case 'O':
		c = '0'
	case 'I', 'L':
		c = '1'
	}
	return strings.IndexByte(setupAlphabet, c)
}

// ParseSetupSecret reads a setup secret as the owner typed it: case, spaces
// and hyphens are ignored, I and L read as 1 and O as 0. A wrong length, an
// unknown character or a wrong check symbol is ErrMalformedSetupSecret; a
// trivial value is ErrTrivialSecret. At most 64 bytes are considered.
func ParseSetupSecret(text string) (SetupSecret, error) {
	var s SetupSecret
	if len(text) > 64 {
		return s, ErrMalformedSetupSecret
	}
	var all []byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '-' || c == ' ' {
			continue
		}
		v := symbolIndex(c)
		if v < 0 {
			return s, ErrMalformedSetupSecret
		}
		all = append(all, byte(v))
	}
	if len(all) != SetupSecretSymbols+1 {
		return s, ErrMalformedSetupSecret
	}
	var sym [SetupSecretSymbols]byte
	copy(sym[:], all)
	if checkSymbol(sym[:]) != all[SetupSecretSymbols] {
		return SetupSecret{}, ErrMalformedSetupSecret
	}
	if trivial(sym[:]) {
		return SetupSecret{}, ErrTrivialSecret
	}
	return SetupSecret{sym: &sym}, nil
}

// Reveal returns the secret as printed on the label, in groups of four with
// the check symbol last: "7K3Q-M9XD-2WRT-F8NB-P". Send it only to the label
// printer stream; never log it or store it next to its verifier.
func (s SetupSecret) Reveal() string {
	if s.sym == nil {
		return ""
	}
	var b strings.Builder
	for i, v := range s.sym {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(setupAlphabet[v])
	}
	b.WriteByte('-')
	b.WriteByte(setupAlphabet[checkSymbol(s.sym[:])])
	return b.String()
}

// IsZero reports whether s is the zero value (not generated or parsed).
func (s SetupSecret) IsZero() bool { return s.sym == nil }

func (s SetupSecret) input() []byte {
	b := []byte(setupDomain)
	for _, v := range s.sym {
		b = append(b, setupAlphabet[v])
	}
	return b
}

// Verifier returns the Argon2id PHC string the device stores instead of the
// secret (see Service.Provision). It can be computed off the device, by the
// factory tool, so that the device only ever receives the verifier. p is
// raised to the floor parameters; a verifier is not peppered, since the
// factory does not know the device's pepper — the 80 bits of the secret
// stand in for it.
func (s SetupSecret) Verifier(p Params) (string, error) {
	if s.sym == nil {
		return "", errors.New("auth: zero SetupSecret")
	}
	p = p.withDefaults()
	if err := p.validate(false, maxHashMemory); err != nil {
		return "", err
	}
	return s.verifier(p), nil
}

func (s SetupSecret) verifier(p Params) string {
	return newHash(s.input(), p).String()
}

// Matches reports whether s matches a verifier made by Verifier, in
// constant time. The factory tool can use it to check its own output.
func (s SetupSecret) Matches(verifier string) bool {
	h, err := parseHash(verifier)
	if err != nil || s.sym == nil {
		return false
	}
	return h.Verify(s.input())
}

const redacted = "REDACTED"
