package auth

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run ./internal/blockgen blocklist.txt.gz

//go:embed blocklist.txt.gz
var blocklistGz []byte

// Policy defaults (NIST SP 800-63B rev 4, password as the only factor).
const (
	// DefaultMinLength is the minimum length in characters (after NFKC).
	DefaultMinLength = 15
	// DefaultMaxBytes bounds a password's size before any processing or
	// hashing; it is well above the 64 characters NIST asks to accept.
	DefaultMaxBytes = 256
)

// Policy decides which new passwords are accepted. The zero value is the
// default: at least 15 characters, up to 256 bytes, NFKC-normalised, no
// composition rules, never truncated, not on the embedded list of common
// passwords, not built from a context word.
type Policy struct {
	// MinLength in characters after NFKC normalisation. Zero means 15.
	// Values below 8 are raised to 8 (NIST's minimum when a second factor
	// is used; only lower it from 15 when one is).
	MinLength int
	// MaxBytes is the largest password accepted, in bytes of UTF-8 as
	// received. Zero means 256; values below 64 are raised to 64. Longer
	// input is refused before normalisation or hashing, never truncated.
	MaxBytes int
	// ContextWords are words an attacker would try first for this device:
	// brand, model, product and device names. A password that is shorter
	// than MinLength once they are removed is refused. The account name is
	// always a context word.
	ContextWords []string
}

func (p Policy) withDefaults() Policy {
	if p.MinLength == 0 {
		p.MinLength = DefaultMinLength
	}
	if p.MinLength < 8 {
		p.MinLength = 8
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.MaxBytes < 64 {
		p.MaxBytes = 64
	}
	return p
}

var (
	blockOnce sync.Once
	blockText string   // sorted entries, one per line
	blockOffs []uint32 // start of each entry in blockText
)

// loadBlocklist decompresses the embedded list once into one string and an
// offset table (about 200 KiB in all, where a map would take several MiB).
func loadBlocklist() {
	blockOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(blocklistGz))
		if err != nil {
			panic("auth: embedded blocklist corrupt: " + err.Error())
		}
		b, err := io.ReadAll(io.LimitReader(zr, 1<<20))
		if err != nil {
			panic("auth: embedded blocklist corrupt: " + err.Error())
		}
		blockText = string(b)
		blockOffs = make([]uint32, 0, bytes.Count(b, []byte{'\n'}))
		prev := ""
		for off := 0; off < len(blockText); {
			end := strings.IndexByte(blockText[off:], '\n')
			if end < 0 {
				panic("auth: embedded blocklist not newline-terminated")
			}
			w := blockText[off : off+end]
			if w <= prev && len(blockOffs) > 0 {
				panic("auth: embedded blocklist not sorted")
			}
			blockOffs = append(blockOffs, uint32(off))
			prev = w
			off += end + 1
		}
	})
}

func blockEntry(i int) string {
	off := blockOffs[i]
	end := strings.IndexByte(blockText[off:], '\n')
	return blockText[off : int(off)+end]
}

// blocked reports whether w is on the embedded list.
func blocked(w string) bool {
	loadBlocklist()
	i := sort.Search(len(blockOffs), func(i int) bool { return blockEntry(i) >= w })
	return i < len(blockOffs) && blockEntry(i) == w
}

// blocklistLen returns the number of entries in the embedded blocklist.
func blocklistLen() int {
	loadBlocklist()
	return len(blockOffs)
}

// normalize bounds, validates and NFKC-normalises a password. It is applied
// identically when a password is set and when it is checked, so what the
// user typed on another keyboard (full-width digits, composed accents)
// still matches.
func normalize(pw string, maxBytes int) ([]byte, error) {
	if len(pw) > maxBytes {
		return nil, &PolicyError{Reason: fmt.Sprintf("longer than %d bytes", maxBytes)}
	}
	if !utf8.ValidString(pw) {
		return nil, &PolicyError{Reason: "not valid UTF-8"}
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return nil, &PolicyError{Reason: "contains a control character"}
		}
	}
	out := norm.NFKC.Bytes([]byte(pw))
	if len(out) > 4*maxBytes {
		return nil, &PolicyError{Reason: "too long after normalisation"}
	}
	return out, nil
}

// Check applies the policy to a new password for account and returns a
// *PolicyError (wrapping ErrPolicy) saying why it is refused, or nil.
func (p Policy) Check(account, password string) error {
	p = p.withDefaults()
	n, err := normalize(password, p.MaxBytes)
	if err != nil {
		return err
	}
	s := string(n)
	if utf8.RuneCountInString(s) < p.MinLength {
		return &PolicyError{Reason: fmt.Sprintf("shorter than %d characters", p.MinLength)}
	}
	low := strings.ToLower(s)
	if common(low) {
		return &PolicyError{Reason: "too common: it is on the list of passwords attackers try first"}
	}
	words := append([]string{account}, p.ContextWords...)
	rest := low
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(string(norm.NFKC.Bytes([]byte(w)))))
		if utf8.RuneCountInString(w) >= 3 {
			rest = strings.ReplaceAll(rest, w, "")
		}
	}
	if rest != low && utf8.RuneCountInString(rest) < p.MinLength {
		return &PolicyError{Reason: "built from the device's or account's name"}
	}
	return nil
}

// common reports whether a lower-cased password is a blocklisted one, one
// dressed up with leading or trailing digits and symbols, a repetition of a
// short pattern or of a blocklisted word, or a run through the keyboard's
// character order.
func common(low string) bool {
	if blocked(low) {
		return true
	}
	isPad := func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	}
	core := strings.TrimFunc(low, isPad)
	if core == "" {
		core = low
	}
	if len(core) >= 4 && blocked(core) {
		return true
	}
	rs := []rune(low)
	// Repetition of a unit: "abcabcabc...", "passwordpassword".
	for p := 1; p <= len(rs)/2; p++ {
		if len(rs)%p != 0 {
			continue
		}
		unit := string(rs[:p])
		if strings.Repeat(unit, len(rs)/p) == low {
			if p <= 4 {
				return true
			}
			if blocked(unit) {
				return true
			}
		}
	}
	// Monotone runs: "123456789012345" wraps digits, "abcdefghijklmno".
	run := true
	for i := 1; i < len(rs); i++ {
		d := rs[i] - rs[i-1]
		if d != 1 && d != -1 && !(rs[i-1] == '9' && rs[i] == '0') && !(rs[i-1] == '0' && rs[i] == '9') {
			run = false
			break
		}
	}
	return run
}
