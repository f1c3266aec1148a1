package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokenLifecycle(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	got, err := f.s.verifyToken(ses.Token())
	if err != nil || got.Account != ownerAcct || got.Generation != ses.Generation || !got.HasScope("admin") {
		t.Fatalf("%v %v", got, err)
	}
	if err := f.s.RequireFresh(got); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * time.Minute)
	if err := f.s.RequireFresh(got); !errors.Is(err, ErrFreshAuthRequired) {
		t.Fatalf("stale session accepted as fresh: %v", err)
	}
	f.clock.Advance(8 * time.Hour)
	if _, err := f.s.verifyToken(ses.Token()); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestForgedTokens(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	tok := ses.Token()
	payload, mac, _ := strings.Cut(tok, ".")
	other := newFixture(t)
	otherSes := other.setUp()
	forged := []string{
		"", ".", tok + "x", "x" + tok, payload, payload + ".", "." + mac,
		payload + "." + mac[:len(mac)-2], payload[:len(payload)-2] + "." + mac,
		strings.Replace(tok, payload[5:6], string(payload[5]^1), 1),
		otherSes.Token(), // right format, other device's key
		tok + "\n", strings.Repeat("A", 600),
		payload + "==." + mac,
	}
	for _, ft := range forged {
		if ft == tok {
			continue
		}
		if _, err := f.s.verifyToken(ft); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("forged token %q: %v", ft, err)
		}
	}
	// Revocation without a password change.
	if err := f.s.RevokeSessions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.verifyToken(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked token: %v", err)
	}
}

func FuzzParseToken(f *testing.F) {
	fx := newFixture(f)
	fx.setUp()
	s := fx.s
	ses, _ := s.issue(ownerAcct, 1, s.now())
	f.Add(ses.Token())
	f.Add("AQVvd25lcgE.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.parseToken(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if tok != ses.Token() {
			t.Fatalf("accepted a token the service never issued: %q", tok)
		}
		_ = got
	})
}

func FuzzDecodeToken(f *testing.F) {
	ses := &Session{Account: "owner", Scopes: []string{"admin"}, Generation: 3, IssuedAt: time.Unix(100, 0), AuthAt: time.Unix(100, 0), Expires: time.Unix(200, 0)}
	f.Add(encodeToken(ses))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeToken(b)
		if err != nil {
			return
		}
		if !validName(s.Account, 64) || len(s.Scopes) > maxScopes {
			t.Fatalf("decoded invalid session %+v", s)
		}
	})
}

// TestSessionFromRequest: the token is read as the Gate reads it — an
// Authorization: Bearer header first, else the session cookie — and every
// refusal is an error: no token, a forged one, a malformed header, an
// expired session.
func TestSessionFromRequest(t *testing.T) {
	f := newFixture(t)
	ses := f.setUp()
	req := func(mod func(*http.Request)) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		mod(r)
		return r
	}
	for name, c := range map[string]struct {
		r    *http.Request
		want error
	}{
		"bearer": {req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+ses.Token()) }), nil},
		"cookie": {req(func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: ses.Token()}) }), nil},
		"header wins": {req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer x")
			r.AddCookie(&http.Cookie{Name: CookieName, Value: ses.Token()})
		}), ErrInvalidToken},
		"none":              {req(func(*http.Request) {}), ErrInvalidToken},
		"not bearer":        {req(func(r *http.Request) { r.Header.Set("Authorization", "Basic "+ses.Token()) }), ErrInvalidToken},
		"forged":            {req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+NewGate(f.s).forgedToken()) }), ErrInvalidToken},
		"other cookie name": {req(func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "session", Value: ses.Token()}) }), ErrInvalidToken},
	} {
		got, err := f.s.SessionFromRequest(c.r)
		switch {
		case c.want == nil && (err != nil || got == nil || got.Account != ownerAcct):
			t.Errorf("%s: %v %v", name, got, err)
		case c.want != nil && (!errors.Is(err, c.want) || got != nil):
			t.Errorf("%s: got %v %v, want %v", name, got, err, c.want)
		}
	}
	f.clock.Advance(9 * time.Hour)
	if _, err := f.s.SessionFromRequest(req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+ses.Token()) })); !errors.Is(err, ErrExpiredToken) {
		t.Errorf("expired: %v", err)
	}
}
