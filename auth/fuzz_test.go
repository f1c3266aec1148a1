package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseSetupSecret(f *testing.F) {
	s, _ := NewSetupSecret()
	f.Add(s.Reveal())
	f.Add(strings.ToLower(s.Reveal()))
	f.Add("0000-0000-0000-0000-0")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseSetupSecret(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedSetupSecret) && !errors.Is(err, ErrTrivialSecret) {
				t.Fatalf("unexpected error %v", err)
			}
			if !p.IsZero() {
				t.Fatal("usable secret returned with an error")
			}
			return
		}
		// Whatever parsed re-parses from its canonical form to itself.
		q, err := ParseSetupSecret(p.Reveal())
		if err != nil || q.Reveal() != p.Reveal() || trivial(p.sym[:]) {
			t.Fatalf("%q -> %q does not round-trip: %v", in, p.Reveal(), err)
		}
	})
}

func FuzzPolicyCheck(f *testing.F) {
	f.Add("a long river of green teacups")
	f.Add("passwordpassword")
	f.Add("ｐａｓｓｗｏｒｄ\u0301\ufdfa\ufdfa\ufdfa")
	f.Add(strings.Repeat("\ufdfa", 64))
	f.Fuzz(func(t *testing.T, pw string) {
		err := Policy{ContextWords: []string{"acme"}}.Check("owner", pw)
		if err == nil {
			if len(pw) > DefaultMaxBytes || !utf8.ValidString(pw) || utf8.RuneCountInString(pw) < 1 {
				t.Fatalf("accepted %q", pw)
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a PolicyError", err)
		}
		if len(pw) >= 8 && strings.Contains(pe.Reason, pw) {
			t.Fatal("reason repeats the password")
		}
	})
}

func FuzzSourceKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1:80", "[2001:db8::1]:443", "ble:AA", "", "\x00probe", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k := SourceKey(in)
		if k == "" || len(k) > 64 || strings.ContainsAny(k, "\x00\r\n") || k == probeSource || k == overflowKey {
			t.Fatalf("SourceKey(%q) = %q", in, k)
		}
	})
}
