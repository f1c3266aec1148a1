package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseHashRoundTrip(t *testing.T) {
	h := newHash([]byte("pw"), testParams)
	s := h.String()
	got, err := parseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != s || got.Params.Memory != 64 || got.Params.Time != 1 || got.Params.Threads != 1 {
		t.Fatalf("round trip: %q -> %+v", s, got)
	}
	if !got.Verify([]byte("pw")) || got.Verify([]byte("pw2")) {
		t.Fatal("verify")
	}
}

var phcSeeds = []string{
	"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU",
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA",
}

func TestParseHashRejects(t *testing.T) {
	good := phcSeeds[0]
	if _, err := parseHash(good); err != nil {
		t.Fatalf("good vector refused: %v", err)
	}
	bad := map[string]string{
		"empty":           "",
		"argon2i":         strings.Replace(good, "argon2id", "argon2i", 1),
		"version":         strings.Replace(good, "v=19", "v=16", 1),
		"order":           strings.Replace(good, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1),
		"leading zero":    strings.Replace(good, "t=2", "t=02", 1),
		"plus sign":       strings.Replace(good, "t=2", "t=+2", 1),
		"t zero":          strings.Replace(good, "t=2", "t=0", 1),
		"t huge":          strings.Replace(good, "t=2", "t=4294967297", 1),
		"p zero":          strings.Replace(good, "p=1", "p=0", 1),
		"m huge":          strings.Replace(good, "m=19456", "m=99999999", 1),
		"extra param":     strings.Replace(good, "p=1", "p=1,k=2", 1),
		"padded salt":     strings.Replace(good, "c29tZXNhbHRzb21lc2FsdA", "c29tZXNhbHRzb21lc2FsdA==", 1),
		"short salt":      strings.Replace(good, "c29tZXNhbHRzb21lc2FsdA", "c2FsdA", 1),
		"non-canonical":   strings.Replace(good, "c29tZXNhbHRzb21lc2FsdA", "c29tZXNhbHRzb21lc2FsdB", 1),
		"url alphabet":    strings.Replace(good, "YWJj", "YW-j", 1),
		"missing key":     good[:strings.LastIndex(good, "$")],
		"trailing field":  good + "$x",
		"no leading $":    good[1:],
		"too long":        good + strings.Repeat("A", 300),
		"space":           strings.Replace(good, "m=19456", "m= 19456", 1),
		"newline":         good + "\n",
		"memory below 8p": strings.Replace(strings.Replace(good, "m=19456", "m=8", 1), "p=1", "p=2", 1),
	}
	for name, s := range bad {
		if _, err := parseHash(s); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: parseHash(%q) = %v, want ErrMalformedHash", name, s, err)
		}
	}
}

func FuzzParseHash(f *testing.F) {
	for _, s := range phcSeeds {
		f.Add(s)
	}
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHash(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		// Strict: only the canonical form parses.
		if h.String() != s {
			t.Fatalf("accepted non-canonical %q (canonical %q)", s, h.String())
		}
		if h.Params.Memory > maxHashMemory || h.Params.Time > maxHashTime || len(h.Salt) > maxSaltLen || len(h.Key) > maxKeyLen {
			t.Fatalf("accepted out-of-bounds %q", s)
		}
	})
}

func TestTuneParams(t *testing.T) {
	// A zero budget is met by the floor itself: tuning never goes below it.
	p, err := TuneParams(context.Background(), Params{Memory: 64, Time: 1}, 0)
	if err != nil || p.Memory != FloorParams.Memory || p.Time != FloorParams.Time || p.Threads != 1 {
		t.Fatalf("TuneParams = %v, %v", p, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TuneParams(ctx, Params{}, time.Hour); err == nil {
		t.Fatal("cancelled tuning returned parameters")
	}
}

func TestAtLeast(t *testing.T) {
	f := FloorParams
	if !f.atLeast(f) || (Params{Memory: f.Memory, Time: 1, Threads: 1, KeyLen: 32}).atLeast(f) ||
		!(Params{Memory: f.Memory * 2, Time: 3, Threads: 1, KeyLen: 32}).atLeast(f) {
		t.Fatal("atLeast")
	}
}
