package auth

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

func runGateCheck(t *testing.T, g *Gate) conformance.CheckResult {
	t.Helper()
	chk := g.Checks()
	if len(chk) != 1 || chk[0].Method != conformance.Measured {
		t.Fatalf("gate checks: %+v", chk)
	}
	res := conformance.RunChecks(context.Background(), g)
	if len(res) != 1 || res[0].Method != conformance.Measured {
		t.Fatalf("results: %+v", res)
	}
	return res[0]
}

// TestRoutesCheckMeasured: in every state the check sends refused requests
// to each non-public route through the gate and passes; no device handler
// runs (neither the counting ones nor the service's own setup, login and
// password handlers: nothing in the vault, on flash or in the log changes).
func TestRoutesCheckMeasured(t *testing.T) {
	w := newWeb(t)
	var log lockedBuffer
	w.s.log = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, step := range []struct {
		state string
		do    func()
		want  string
	}{
		{"unprovisioned", func() {}, "state=unprovisioned; 8 requests to 4 non-public routes through the gate, all refused"},
		{"awaiting-setup", w.provision, "state=awaiting-setup; 8 requests to 4 non-public routes"},
		{"ready", w.setUp2,
			"state=ready; 14 requests to 5 non-public routes through the gate, all refused: no credentials, a forged token, a session lacking the scope, and on fresh routes a stale session"},
	} {
		step.do()
		before := snapshotState(w.fixture, &log)
		r := runGateCheck(t, w.gate)
		if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "8 routes: 3 public, 1 setup-flow, 3 need a session, 1 need a fresh session") ||
			!strings.Contains(r.Observed, step.want) {
			t.Fatalf("%s: %+v", step.state, r)
		}
		if d := before.diff(snapshotState(w.fixture, &log)); d != "" {
			t.Fatalf("%s: the check changed the device: %s", step.state, d)
		}
		for _, h := range []string{"model", "status", "wifi", "installer"} {
			if n := w.hitCount(h); n != 0 {
				t.Fatalf("%s: handler %s ran %d times", step.state, h, n)
			}
		}
	}
}

// TestRoutesCheckCatchesBrokenGate: a gate whose session check lets an
// unauthenticated request through, ignores scopes or ignores the age of the
// password entry fails the check, and the device's handlers still do not
// run (a stand-in answers the probes).
func TestRoutesCheckCatchesBrokenGate(t *testing.T) {
	for name, c := range map[string]struct {
		verify func(s *Service, tok string) (*Session, error)
		want   string
	}{
		"accepts any token": {func(s *Service, tok string) (*Session, error) {
			return &Session{Account: ownerAcct, Scopes: []string{"admin", "installer"}, AuthAt: s.now(), Expires: s.now().Add(1e9)}, nil
		}, "let through the gate with no credentials"},
		"ignores scopes": {func(s *Service, tok string) (*Session, error) {
			ses, err := s.verifyToken(tok)
			if err == nil {
				ses.Scopes = []string{"admin", "installer"}
			}
			return ses, err
		}, "with a session without the scope"},
		"ignores freshness": {func(s *Service, tok string) (*Session, error) {
			ses, err := s.verifyToken(tok)
			if err == nil {
				ses.AuthAt = s.now()
			}
			return ses, err
		}, "POST /api/wifi (fresh:admin) was let through the gate with a session whose password entry is older"},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWeb(t)
			w.setUp()
			w.gate.verify = func(tok string) (*Session, error) { return c.verify(w.s, tok) }
			r := runGateCheck(t, w.gate)
			if r.Verdict != conformance.Fail || !strings.Contains(r.Detail, c.want) {
				t.Fatalf("%+v", r)
			}
			for _, h := range []string{"status", "wifi", "installer"} {
				if n := w.hitCount(h); n != 0 {
					t.Fatalf("handler %s ran %d times", h, n)
				}
			}
		})
	}
}

// TestRoutesCheckPatterns: wildcards, subtrees, exact matches and host
// patterns are probed with a request the mux routes to them; a pattern no
// filled-in request reaches (shadowed by a more specific one) makes the
// check inconclusive, naming it.
func TestRoutesCheckPatterns(t *testing.T) {
	f := newFixture(t)
	f.setUp()
	g := NewGate(f.s)
	ran := 0
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran++ })
	for _, p := range []string{"GET /files/{path...}", "GET /items/{id}/edit", "/admin/", "GET /{$}", "GET example.com/host-only", "DELETE /items/{id}"} {
		g.Handle(p, Require("admin"), h)
	}
	r := runGateCheck(t, g)
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "18 requests to 6 non-public routes") {
		t.Fatalf("%+v", r)
	}
	g.Handle("GET /items/baseline-probe/edit", Require("admin"), h)
	r = runGateCheck(t, g)
	if r.Verdict != conformance.Inconclusive || r.Detail != "no request could be built that the mux routes to: GET /items/{id}/edit" {
		t.Fatalf("shadowed pattern: %+v", r)
	}
	if ran != 0 {
		t.Fatalf("handlers ran %d times", ran)
	}
}

// BenchmarkCheckRoutes measures one run of auth.routes-declared on the test
// web UI once set up: 14 probe requests through the gate, no hashing.
func BenchmarkCheckRoutes(b *testing.B) {
	f := newFixture(b)
	f.setUp()
	g := NewGate(f.s)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for p, r := range map[string]Rule{"GET /model": Public, "POST /api/setup": SetupFlow, "GET /api/status": Require("admin"),
		"POST /api/wifi": RequireFresh("admin"), "GET /api/installer": Require("installer"), "POST /api/password": Require("admin")} {
		g.Handle(p, r, h)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := g.checkRoutes(context.Background()); r.Verdict != conformance.Pass {
			b.Fatalf("%+v", r)
		}
	}
}
