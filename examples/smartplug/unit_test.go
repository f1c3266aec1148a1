package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/iface"
)

// The plug's switch state survives power loss at every write/fsync
// boundary: after a crash it is the old state or the new one, and a Set
// that returned nil is never lost.
func TestPlugStateCrashSafe(t *testing.T) {
	var acked bool
	durable.CrashTest(t, func(fsys *durable.CrashFS) {
		p, _ := openPlug(fsys, "state")
		fsys.MkdirAll("state", 0o700)
		if _, err := p.Set(false); err != nil {
			t.Fatal(err)
		}
	}, func(fsys *durable.CrashFS) error {
		acked = false
		p, err := openPlug(fsys, "state")
		if err != nil {
			return err
		}
		if _, err := p.Set(true); err != nil {
			return err
		}
		acked = true
		return nil
	}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		p, err := openPlug(fsys, "state")
		if err != nil {
			t.Fatalf("point %d %v: reopen: %v", point, mode, err)
		}
		if acked && !p.State().On {
			t.Fatalf("point %d %v: acknowledged switch-on lost", point, mode)
		}
	})
}

func TestPlugRefusedWriteKeepsState(t *testing.T) {
	fsys := durable.NewCrashFS()
	fsys.MkdirAll("state", 0o700)
	p, _ := openPlug(fsys, "state")
	p.Set(true)
	fsys.FailWrites = func(name string) error { return errors.New("disk full") }
	if _, err := p.Set(false); err == nil {
		t.Fatal("Set succeeded on a full disk")
	}
	if !p.State().On {
		t.Fatal("live state changed although the write failed")
	}
}

func formRequest(body string, ctype string) (*httptest.ResponseRecorder, *http.Request) {
	r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	return httptest.NewRecorder(), r
}

func TestParseForm(t *testing.T) {
	const ct = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, body, ctype string
		ok                bool
	}{
		{"ok", "a=1&b=2", ct, true},
		{"missing", "a=1", ct, false},
		{"extra", "a=1&b=2&c=3", ct, false},
		{"repeated", "a=1&a=2&b=2", ct, false},
		{"too long", "a=" + strings.Repeat("x", maxFieldLen+1) + "&b=1", ct, false},
		{"oversized body", "a=1&b=" + strings.Repeat("x", maxFormBody), ct, false},
		{"bad utf8", "a=%ff&b=1", ct, false},
		{"json", `{"a":1}`, "application/json", false},
		{"no type", "a=1&b=2", "", false},
	} {
		w, r := formRequest(tc.body, tc.ctype)
		f, err := parseForm(w, r, "a", "b")
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && f != nil {
			t.Errorf("%s: fields returned with an error", tc.name)
		}
	}
}

func TestUserMessagesNeverEcho(t *testing.T) {
	for _, err := range []error{auth.ErrBadCredentials, auth.ErrMalformedSetupSecret, auth.ErrAlreadySetUp,
		auth.ErrThrottled{RetryAfter: 1500e6, Limit: "source"}, &auth.PolicyError{Reason: "too short"}, errMismatch} {
		m := userMessage(err)
		if m == "" || strings.Contains(m, "auth:") {
			t.Errorf("userMessage(%v) = %q", err, m)
		}
		if status(err) < 400 || status(err) >= 500 {
			t.Errorf("status(%v) = %d; want a 4xx", err, status(err))
		}
	}
	if m := userMessage(auth.ErrThrottled{RetryAfter: 1500e6}); !strings.Contains(m, "2s") {
		t.Errorf("throttle message %q does not round the wait up", m)
	}
}

// Every route is declared with an auth rule, and only the documented few
// are reachable without a session.
func TestRouteTable(t *testing.T) {
	d := &device{}
	public := map[string]bool{}
	seen := map[string]bool{}
	for _, rt := range d.routeTable() {
		if seen[rt.pattern] {
			t.Errorf("route %s twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if rt.rule != auth.Require(ownerScope) {
			public[rt.pattern] = true
		}
	}
	want := []string{"GET /{$}", "POST /login", "GET /about", "GET /style.css", "GET /favicon.ico", "GET /.well-known/security.txt",
		"GET /privacy", "GET /privacy/label.json", "GET /api/info", "POST /api/login", "POST /setup", "POST /api/setup"}
	if len(public) != len(want) {
		t.Errorf("unauthenticated routes = %v; want exactly %v", public, want)
	}
	for _, w := range want {
		if !public[w] {
			t.Errorf("%s is not public", w)
		}
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("a=1&b=2")
	f.Add("a=1&a=2&b=%zz")
	f.Add("b=" + strings.Repeat("x", maxFieldLen) + "&a=")
	f.Add("a=%ff%fe&b=\x00")
	f.Fuzz(func(t *testing.T, body string) {
		w, r := formRequest(body, "application/x-www-form-urlencoded")
		fields, err := parseForm(w, r, "a", "b")
		if err != nil {
			if fields != nil {
				t.Fatal("fields returned with an error")
			}
			return
		}
		if len(fields) != 2 || len(body) > maxFormBody {
			t.Fatalf("accepted %q as %v", body, fields)
		}
		for k, v := range fields {
			if (k != "a" && k != "b") || len(v) > maxFieldLen || !utf8.ValidString(v) {
				t.Fatalf("accepted field %q=%q", k, v)
			}
		}
	})
}

// Whatever is found in plug.json (a torn write, a planted file), the plug
// opens, in a defined state.
func FuzzOpenPlug(f *testing.F) {
	f.Add([]byte(`{"on":true,"changed":"2026-11-26T12:00:00Z"}`))
	f.Add([]byte(`{"on":true,"changed":"2026-11-26T12:00:00Z"}}`))
	f.Add([]byte(`{"on":true,"changed":"2026-11-26T12:00:00Z"}]`))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte(`{"on":`))
	f.Add([]byte(strings.Repeat("x", maxPlugState+1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys := durable.NewCrashFS()
		fsys.MkdirAll("s", 0o700)
		if err := durable.WriteFile(fsys, "s/plug.json", b, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := openPlug(fsys, "s")
		if err != nil {
			t.Fatalf("openPlug: %v", err)
		}
		if st := p.State(); len(b) > maxPlugState && st.On {
			t.Fatal("an oversized plug state switched the plug on")
		}
	})
}

// TestMeasuredChecksCatchBrokenServer: the plug's measured checks go
// through its own server, so a server that does not show the model, serves
// no security.txt, lacks the password routes or leaves them unguarded makes
// them fail.
func TestMeasuredChecksCatchBrokenServer(t *testing.T) {
	ctx := context.Background()
	prof := &conformance.Profile{VulnerabilityDisclosure: conformance.Disclosure{Contact: "mailto:security@example.com"}}
	good := func() *http.ServeMux {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /about", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<p>SP-100 Smart Plug</p>") })
		mux.HandleFunc("GET /.well-known/security.txt", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "Contact: mailto:security@example.com\nExpires: "+time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)+"\n")
		})
		mux.HandleFunc("GET /password", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusSeeOther) })
		mux.HandleFunc("POST /api/password", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
		return mux
	}
	dev := func(h http.Handler) *device {
		srv, err := iface.NewServer(iface.ServerConfig{Handler: h, TLS: &tls.Config{MinVersion: tls.VersionTLS12}})
		if err != nil {
			t.Fatal(err)
		}
		d := &device{model: "SP-100 Smart Plug", profile: prof}
		d.web.srv = srv
		return d
	}
	if r := dev(good()).checkServedIdentity(ctx); r.Verdict != conformance.Pass {
		t.Errorf("healthy served identity: %s %s", r.Verdict, r.Detail)
	}
	if r := dev(good()).checkPasswordChange(ctx); r.Verdict != conformance.Pass {
		t.Errorf("healthy password routes: %s %s", r.Verdict, r.Detail)
	}
	broken := map[string]struct {
		pattern string
		h       http.HandlerFunc
		check   func(*device, context.Context) conformance.Result
	}{
		"about without model": {"GET /about", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<p>A plug</p>") }, (*device).checkServedIdentity},
		"security.txt expired": {"GET /.well-known/security.txt", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "Contact: mailto:security@example.com\nExpires: 2020-01-01T00:00:00Z\n")
		}, (*device).checkServedIdentity},
		"password API unguarded": {"POST /api/password", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, (*device).checkPasswordChange},
	}
	for name, b := range broken {
		mux := http.NewServeMux()
		mux.HandleFunc(b.pattern, b.h)
		mux.Handle("/", good())
		if r := b.check(dev(mux), ctx); r.Verdict != conformance.Fail {
			t.Errorf("%s: %s %s", name, r.Verdict, r.Observed)
		}
	}
	// No password page at all.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /about", good().ServeHTTP)
	if r := dev(mux).checkPasswordChange(ctx); r.Verdict != conformance.Fail {
		t.Errorf("no password routes: %s", r.Verdict)
	}
}
