package auth

import (
	"regexp"
	"strings"
	"testing"
)

// The rules as regular expressions: the specification ValidSerial and
// ValidModel implement without compiling them (see ValidModel).
var (
	serialSpec = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	modelSpec  = regexp.MustCompile(`^[\pL\pN][\pL\pN ._/+-]{0,63}$`)
)

var validSeeds = []string{
	"", "A", "a", "0", ".", "-a", "_a", "a.", "SP-1000", "sp_1000.v2", "a b", " a", "a\n", "a\x00",
	"Smart Plug SP-1", "Prise connectée", "插座 2000", "Ünïcödé/+-._", "+plug", "/plug", "plug\xff",
	"\xff", "٣٤", "Ⅻ", "a\u00a0b", "a\tb", "ℌello", "é", "e\u0301",
	strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("é", 64), strings.Repeat("é", 65),
	"a" + strings.Repeat(".", 63), "a" + strings.Repeat(" ", 64),
}

func TestValidSerialAndModelMatchTheirSpecification(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := ValidSerial(s), serialSpec.MatchString(s); got != want {
			t.Errorf("ValidSerial(%q) = %v, specification says %v", s, got, want)
		}
		if got, want := ValidModel(s), modelSpec.MatchString(s); got != want {
			t.Errorf("ValidModel(%q) = %v, specification says %v", s, got, want)
		}
	}
}

func FuzzValidSerialAndModel(f *testing.F) {
	for _, s := range validSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidSerial(s), serialSpec.MatchString(s); got != want {
			t.Errorf("ValidSerial(%q) = %v, specification says %v", s, got, want)
		}
		if got, want := ValidModel(s), modelSpec.MatchString(s); got != want {
			t.Errorf("ValidModel(%q) = %v, specification says %v", s, got, want)
		}
	})
}
