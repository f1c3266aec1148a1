package auth

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// Rule is what a route requires; Gate.Handle takes one with every route.
// The zero Rule is invalid and Handle panics on it (a programmer error).
type Rule struct {
	kind  ruleKind
	scope string
	fresh bool
}

type ruleKind int

const (
	ruleInvalid ruleKind = iota
	rulePublic
	ruleSetup
	ruleScope
)

// Public serves a route without authentication (model designation, the
// login page). Keep such routes few: 5.6-2 counts them.
var Public = Rule{kind: rulePublic}

// SetupFlow serves a route only while the device awaits setup (and hides it
// afterwards): the setup page and its API.
var SetupFlow = Rule{kind: ruleSetup}

// Require serves a route to sessions granting scope.
func Require(scope string) Rule { return Rule{kind: ruleScope, scope: scope} }

// RequireFresh serves a route to sessions granting scope whose password
// entry is within Config.FreshAuth: use it for security-relevant changes
// (provision 5.5-5) such as network, update or account settings.
func RequireFresh(scope string) Rule { return Rule{kind: ruleScope, scope: scope, fresh: true} }

// String describes the rule.
func (r Rule) String() string {
	switch r.kind {
	case rulePublic:
		return "public"
	case ruleSetup:
		return "setup-flow"
	case ruleScope:
		if r.fresh {
			return "fresh:" + r.scope
		}
		return "scope:" + r.scope
	}
	return "invalid"
}

// CookieName is the session cookie. The __Host- prefix makes browsers
// insist on Secure, Path=/ and no Domain.
const CookieName = "__Host-baseline-session"

// Gate is the device's deny-by-default router (provisions 5.5-4, 5.5-5):
// a route exists only as Handle registers it, together with its Rule —
// public, setup-flow, or requiring a scope — so no route can be served
// without one. A request without the session its rule needs gets 401 or
// 403; until the owner has set a password only Public and SetupFlow routes
// are served. Serve the Gate itself (it is an http.Handler), and add it to
// the device's self-check (it is a conformance.Checker).
type Gate struct {
	s     *Service
	mux   *http.ServeMux
	mu    sync.RWMutex
	rules map[string]Rule
	order []string // patterns in registration order
	// verify is s.verifyToken; a field only so that a test can break it
	// and see the auth.routes-declared self-check fail.
	verify func(token string) (*Session, error)
}

// NewGate returns a gate for s with no routes.
func NewGate(s *Service) *Gate {
	return &Gate{s: s, mux: http.NewServeMux(), rules: map[string]Rule{}, verify: s.verifyToken}
}

// Handle registers h for pattern (net/http.ServeMux syntax: "GET
// /api/status", "POST /api/password", "/files/{path...}") under rule r.
// It panics on the zero Rule, an invalid scope, or a pattern that
// net/http.ServeMux refuses or that conflicts with one already registered —
// programmer errors, found the first time the device starts.
func (g *Gate) Handle(pattern string, r Rule, h http.Handler) {
	if r.kind == ruleInvalid || (r.kind == ruleScope && !validName(r.scope, 32)) {
		panic("auth: invalid rule for " + pattern)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.rules[pattern]; ok {
		panic("auth: route registered twice: " + pattern)
	}
	g.mux.Handle(pattern, h) // panics on a bad or conflicting pattern
	g.rules[pattern] = r
	g.order = append(g.order, pattern)
}

// patterns returns the registered patterns, sorted.
func (g *Gate) patterns() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return slices.Sorted(slices.Values(g.order))
}

type sessionKey struct{}

// SessionFrom returns the session the gate attached to the request's
// context, or nil on public routes.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

// tokenFrom returns the token from the session cookie or an
// "Authorization: Bearer" header, and whether it came from a cookie.
func tokenFrom(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return t, false
		}
		return "", false
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// ServeHTTP routes r to the handler registered for it, if its rule
// admits the request. A request no route matches gets the ServeMux's own
// 404, 405 or clean-path redirect; no registered handler runs.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.serve(g.mux, w, r)
}

// router is what serve routes through: the gate's ServeMux, or the
// self-check's stand-in for it.
type router interface {
	http.Handler
	Handler(*http.Request) (http.Handler, string)
}

func (g *Gate) serve(mux router, w http.ResponseWriter, r *http.Request) {
	_, pattern := mux.Handler(r)
	if pattern == "" {
		// No route matched: the mux answers 404, 405 or a redirect to
		// the clean path (which is gated when followed). No device
		// handler runs.
		mux.ServeHTTP(w, r)
		return
	}
	g.mu.RLock()
	rule, ok := g.rules[pattern]
	g.mu.RUnlock()
	if !ok {
		g.s.log.Error("auth: request to undeclared route denied", "pattern", pattern)
		http.NotFound(w, r)
		return
	}
	ready := g.s.State() == Ready
	switch rule.kind {
	case rulePublic:
		mux.ServeHTTP(w, r)
		return
	case ruleSetup:
		if ready {
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
		return
	}
	if !ready {
		deny(w, http.StatusForbidden, "setup required")
		return
	}
	tok, fromCookie := tokenFrom(r)
	ses, err := g.verify(tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="device"`)
		deny(w, http.StatusUnauthorized, "authentication required")
		return
	}
	if fromCookie && !safeMethod(r.Method) && !sameOrigin(r) {
		deny(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if !ses.HasScope(rule.scope) {
		deny(w, http.StatusForbidden, "forbidden")
		return
	}
	if rule.fresh {
		if err := g.s.RequireFresh(ses); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="device", error="insufficient_user_authentication"`)
			deny(w, http.StatusUnauthorized, "fresh authentication required")
			return
		}
	}
	mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, ses)))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin refuses a cookie-authenticated state change that came from
// another site; SameSite=Strict already keeps the cookie off such requests in
// current browsers. Where the browser sends Sec-Fetch-Site, it decides alone:
// under the hardened server's Referrer-Policy no-referrer a browser sends
// "Origin: null" with same-origin form posts, so Origin must not overrule it
// (net/http's CrossOriginProtection decides the same way). Older clients
// without Sec-Fetch-Site are judged by Origin.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func deny(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// Checks returns the gate's self-check over its routes (provisions
// 5.5-4 and 5.5-5), auth.routes-declared. It measures: every route that
// is not public gets requests through the gate's own rule enforcement and
// routing (what ServeHTTP runs), each of which must be refused — one without credentials and one with a forged
// token, and once the owner is set up, one with a session of the owner
// lacking the route's scope, one with a session whose password entry is
// older than Config.FreshAuth on RequireFresh routes, and on SetupFlow
// routes one without credentials. A stand-in answers in place of the
// device's handlers, so a probe that gets through runs none of them and
// changes nothing; the probe sessions are made in memory for the probe and
// never leave it. Every route has a rule by construction (Handle is the
// only way to add one). What the check cannot see is whether the device's
// server serves this gate: that is the device's wiring.
func (g *Gate) Checks() []conformance.Check {
	return []conformance.Check{{
		ID: "auth.routes-declared", Method: conformance.Measured, Provisions: []string{"5.5-4", "5.5-5"},
		Title: "Every web route is declared public or requires an authenticated, scoped session",
		Run:   func(ctx context.Context) conformance.Result { return g.checkRoutes(ctx) },
	}}
}

// standIn routes like the device's mux but answers in place of its
// handlers: it notes that a probe got through and runs nothing.
type standIn struct {
	mux     *http.ServeMux
	reached bool
}

func (m *standIn) Handler(r *http.Request) (http.Handler, string) { return m.mux.Handler(r) }

func (m *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.reached = true
	w.WriteHeader(http.StatusOK)
}

// probeWriter records the status of a probe's response and drops its body.
type probeWriter struct {
	h    http.Header
	code int
}

func (w *probeWriter) Header() http.Header { return w.h }
func (w *probeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *probeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// probeRequest builds a request that mux routes to pattern: method and host
// as in the pattern (GET and a reserved host when absent), each wildcard
// segment filled in. It returns nil when mux routes the request elsewhere
// (a more specific pattern shadows the filled-in path).
func probeRequest(ctx context.Context, mux *http.ServeMux, pattern string) *http.Request {
	method, rest := http.MethodGet, strings.TrimSpace(pattern)
	if m, r, ok := strings.Cut(rest, " "); ok {
		method, rest = m, strings.TrimLeft(r, " \t")
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return nil
	}
	host, path := rest[:i], rest[i:]
	if host == "" {
		host = "device.invalid"
	}
	segs := strings.Split(path, "/")
	for j, sg := range segs {
		switch {
		case sg == "{$}":
			segs[j] = ""
		case strings.HasPrefix(sg, "{") && strings.HasSuffix(sg, "}"):
			segs[j] = "baseline-probe"
		}
	}
	u := &url.URL{Scheme: "http", Host: host, Path: strings.Join(segs, "/")}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil
	}
	req.RemoteAddr = "192.0.2.1:1" // TEST-NET-1: never a real peer
	if _, p := mux.Handler(req); p != pattern {
		return nil
	}
	return req
}

// forgedToken is well formed but signed with a key the device does not
// hold.
func (g *Gate) forgedToken() string {
	ses := &Session{Account: "owner", Scopes: []string{"admin"}, Expires: g.s.now().Add(time.Hour)}
	payload := encodeToken(ses)
	mac := make([]byte, 32)
	rand.Read(mac)
	return b64url.EncodeToString(payload) + "." + b64url.EncodeToString(mac)
}

type routeProbe struct {
	name  string
	token string
}

func (g *Gate) checkRoutes(ctx context.Context) conformance.Result {
	pats := g.patterns()
	var pub, setup, scoped, fresh int
	g.mu.RLock()
	rules := make(map[string]Rule, len(pats))
	for _, p := range pats {
		r, ok := g.rules[p]
		if ok {
			rules[p] = r
		}
		switch {
		case r.kind == rulePublic:
			pub++
		case r.kind == ruleSetup:
			setup++
		case r.kind == ruleScope && r.fresh:
			fresh++
		case r.kind == ruleScope:
			scoped++
		}
	}
	g.mu.RUnlock()
	obs := fmt.Sprintf("%d routes: %d public, %d setup-flow, %d need a session, %d need a fresh session", len(pats), pub, setup, scoped, fresh)

	g.s.mu.Lock()
	st, owner := g.s.stateLocked(), g.s.owner
	g.s.mu.Unlock()
	now := g.s.now()
	// A session of the owner, in memory only, for a probe.
	session := func(scope string, authAt time.Time) string {
		ses := &Session{Account: owner.Account, Scopes: []string{scope}, Generation: owner.Generation,
			IssuedAt: authAt.Truncate(time.Second), AuthAt: authAt.Truncate(time.Second), Expires: now.Add(time.Minute).Truncate(time.Second)}
		return g.s.sign(encodeToken(ses))
	}
	anon := []routeProbe{{"no credentials", ""}, {"a forged token", g.forgedToken()}}
	var unprobed []string
	requests, routes := 0, 0
	for _, p := range pats {
		r := rules[p]
		var probes []routeProbe
		switch {
		case r.kind == ruleSetup && st == Ready:
			probes = anon[:1]
		case r.kind == ruleScope:
			probes = anon
			if st == Ready {
				probes = append(probes, routeProbe{"a session without the scope " + r.scope, session(otherScope(r.scope), now)})
				if r.fresh {
					probes = append(probes, routeProbe{"a session whose password entry is older than the fresh-authentication window",
						session(r.scope, now.Add(-g.s.cfg.FreshAuth-time.Minute))})
				}
			}
		}
		if len(probes) == 0 {
			continue
		}
		routes++
		for _, pr := range probes {
			if err := ctx.Err(); err != nil {
				return conformance.Result{Verdict: conformance.NotRun, Detail: "probe interrupted: " + err.Error()}
			}
			req := probeRequest(ctx, g.mux, p)
			if req == nil {
				unprobed = append(unprobed, p)
				break
			}
			if pr.token != "" {
				req.Header.Set("Authorization", "Bearer "+pr.token)
			}
			m := &standIn{mux: g.mux}
			w := &probeWriter{h: http.Header{}}
			g.serve(m, w, req)
			requests++
			if m.reached || w.code < 400 {
				return conformance.Result{Verdict: conformance.Fail, Observed: obs,
					Detail: fmt.Sprintf("%s (%s) was let through the gate with %s (status %d)", p, r, pr.name, w.code)}
			}
		}
	}
	obs += fmt.Sprintf("; state=%s; %d requests to %d non-public routes through the gate, all refused: no credentials, a forged token", st, requests, routes-len(unprobed))
	if st == Ready {
		obs += ", a session lacking the scope, and on fresh routes a stale session"
	}
	obs += " (a stand-in answered in place of the device's handlers)"
	if len(unprobed) > 0 {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "no request could be built that the mux routes to: " + strings.Join(unprobed, ", ")}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// otherScope returns a valid scope name different from scope.
func otherScope(scope string) string {
	if scope == "baseline-probe" {
		return "baseline-probe2"
	}
	return "baseline-probe"
}
