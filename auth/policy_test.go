package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	p := Policy{ContextWords: []string{"Acme", "SmartPlug X100"}}
	accept := []string{
		"a long river of green teacups",
		"lowercase only but long enough",
		strings.Repeat("horse battery ", 5)[:64],
		"Täglich grüßt das Murmeltier",
		"日本語のパスワードは十五文字以上です",
		long255(), // 255 bytes: accepted, never truncated
	}
	for _, pw := range accept {
		if err := p.Check("owner", pw); err != nil {
			t.Errorf("refused %q: %v", pw, err)
		}
	}
	refuse := map[string]string{
		"short":               "fourteen chars",
		"too long":            strings.Repeat("x", 257),
		"invalid utf8":        "abcdefghijklmnop\xff",
		"control char":        "abcdefghijklmnop\x00",
		"newline":             "abcdefghij\r\nklmnop",
		"blocklisted":         "passwordpassword",
		"blocklist + digits":  "iloveyou12345678",
		"blocklist + symbols": "!!!sunshine!!!2024",
		"keyboard walk":       "qwertyuiopasdfgh",
		"repeated char":       "aaaaaaaaaaaaaaaa",
		"repeated pattern":    "abcabcabcabcabcabc",
		"digit run":           "123456789012345",
		"alphabet run":        "abcdefghijklmnop",
		"context word":        "smartplug x100 smartplug x100",
		"brand padding":       "acmeacmeacme1234",
		"account name":        "owner owner owner 1",
		"full-width common":   "ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ", // NFKC folds it to passwordpassword
	}
	for name, pw := range refuse {
		err := p.Check("owner", pw)
		var pe *PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: Check(%q) = %v, want PolicyError", name, pw, err)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error repeats the password", name)
		}
	}
}

func TestPolicyLength(t *testing.T) {
	var p Policy
	if p.Check("owner", "fourteen chars") == nil || p.Check("owner", "fifteen chars!!") != nil {
		t.Fatal("default minimum is not 15 characters")
	}
	// Characters, not bytes: 15 two-byte characters are enough.
	if err := p.Check("owner", strings.Repeat("é", 5)+"ßüöäñçøåæœ"); err != nil {
		t.Fatalf("15 non-ASCII characters refused: %v", err)
	}
	if (Policy{MinLength: 3}).withDefaults().MinLength != 8 {
		t.Fatal("MinLength below 8 not raised")
	}
}

func TestNormalizeNFKC(t *testing.T) {
	a, err1 := normalize("ｃａｆé tea in the garden", 256)
	b, err2 := normalize("cafe\u0301 tea in the garden", 256)
	if err1 != nil || err2 != nil || string(a) != string(b) {
		t.Fatalf("NFKC forms differ: %q %q", a, b)
	}
}

func TestBlocklistEmbedded(t *testing.T) {
	if n := blocklistLen(); n < 2000 || n > 50000 {
		t.Fatalf("blocklist has %d entries", n)
	}
	if len(blocklistGz) > 100<<10 {
		t.Fatalf("embedded blocklist is %d bytes, over 100 KiB", len(blocklistGz))
	}
	for _, w := range []string{"123456", "password", "qwerty123", "admin123", "xc3511", "iloveyou"} {
		if !blocked(w) {
			t.Errorf("%q missing from blocklist", w)
		}
	}
}

func long255() string {
	var b strings.Builder
	for i := 0; b.Len() < 250; i++ {
		b.WriteString("walnut")
		b.WriteByte(byte('a' + i%26))
		b.WriteByte(' ')
	}
	return b.String()[:255]
}
