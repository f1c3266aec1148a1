package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type web struct {
	*fixture
	gate   *Gate
	srv    *httptest.Server
	client *http.Client
	mu     sync.Mutex
	hits   map[string]int
}

func newWeb(t *testing.T) *web {
	w := &web{fixture: newFixture(t), hits: map[string]int{}}
	w.gate = NewGate(w.s)
	hit := func(name string) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w.mu.Lock()
			w.hits[name]++
			w.mu.Unlock()
			acct := ""
			if s := SessionFrom(r.Context()); s != nil {
				acct = s.Account
			}
			io.WriteString(rw, name+":"+acct)
		})
	}
	w.gate.Handle("GET /model", Public, hit("model"))
	w.gate.Handle("POST /api/setup", SetupFlow, setupHandler(w.s))
	w.gate.Handle("POST /api/login", Public, loginHandler(w.s))
	w.gate.Handle("POST /api/logout", Public, logoutHandler(w.s))
	w.gate.Handle("GET /api/status", Require("admin"), hit("status"))
	w.gate.Handle("POST /api/wifi", RequireFresh("admin"), hit("wifi"))
	w.gate.Handle("GET /api/installer", Require("installer"), hit("installer"))
	w.gate.Handle("POST /api/password", Require("admin"), changePasswordHandler(w.s))
	w.srv = httptest.NewTLSServer(w.gate)
	t.Cleanup(w.srv.Close)
	w.client = w.srv.Client()
	w.client.Jar, _ = cookiejar.New(nil)
	w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return w
}

func (w *web) do(method, path string, body any, hdr ...string) *http.Response {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (w *web) hitCount(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[name]
}

func TestGateSetupFlowOverHTTP(t *testing.T) {
	w := newWeb(t)
	if r := w.do("GET", "/model", nil); r.StatusCode != 200 {
		t.Fatalf("public route: %d", r.StatusCode)
	}
	if r := w.do("GET", "/api/status", nil); r.StatusCode != http.StatusForbidden || w.hitCount("status") != 0 {
		t.Fatalf("status before setup: %d", r.StatusCode)
	}
	if r := w.do("POST", "/api/login", map[string]string{"account": "admin", "password": "admin"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("login before setup: %d", r.StatusCode)
	}
	w.provision()
	r := w.do("POST", "/api/setup", map[string]string{"setup_secret": w.secret.Reveal(), "account": ownerAcct, "new_password": ownerPW})
	if r.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("setup: %d %s", r.StatusCode, b)
	}
	sc := r.Header.Get("Set-Cookie")
	for _, attr := range []string{CookieName + "=", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, attr) {
			t.Fatalf("cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Domain") {
		t.Fatal("cookie has a Domain")
	}
	if r := w.do("POST", "/api/setup", map[string]string{"setup_secret": w.secret.Reveal(), "account": ownerAcct, "new_password": ownerPW}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("setup route after setup: %d", r.StatusCode)
	}
	r = w.do("GET", "/api/status", nil)
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || string(b) != "status:"+ownerAcct {
		t.Fatalf("status with session: %d %s", r.StatusCode, b)
	}
}

// TestGateUnmatchedRoutes: a request no route matches (another path,
// another method) gets the mux's 404/405 and runs no handler, with or
// without a session.
func TestGateUnmatchedRoutes(t *testing.T) {
	w := newWeb(t)
	w.setUp()
	ses, _ := w.login("127.0.0.1:1", ownerAcct, ownerPW)
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/api/debug", 404}, {"DELETE", "/api/status", 405}, {"GET", "/api/wifi", 405}} {
		if r := w.do(c.method, c.path, nil, "Authorization", "Bearer "+ses.Token()); r.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, r.StatusCode, c.want)
		}
	}
	for _, h := range []string{"model", "status", "wifi", "installer"} {
		if n := w.hitCount(h); n != 0 {
			t.Fatalf("handler %s ran %d times", h, n)
		}
	}
}

func TestGateSessions(t *testing.T) {
	w := newWeb(t)
	w.setUp()
	for name, hdr := range map[string][]string{
		"none":   nil,
		"forged": {"Authorization", "Bearer AQVvd25lcgE.AAAA"},
		"basic":  {"Authorization", "Basic b3duZXI6cGFzcw=="},
		"cookie": {"Cookie", CookieName + "=garbage"},
	} {
		r := w.do("GET", "/api/status", nil, hdr...)
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, r.StatusCode)
		}
	}
	if w.hitCount("status") != 0 {
		t.Fatal("handler reached without a session")
	}
	r := w.do("POST", "/api/login", map[string]string{"account": ownerAcct, "password": ownerPW})
	if r.StatusCode != 200 {
		t.Fatalf("login: %d", r.StatusCode)
	}
	if r := w.do("GET", "/api/installer", nil); r.StatusCode != http.StatusForbidden || w.hitCount("installer") != 0 {
		t.Fatalf("missing scope: %d", r.StatusCode)
	}
	if r := w.do("POST", "/api/wifi", nil); r.StatusCode != 200 {
		t.Fatalf("fresh session refused: %d", r.StatusCode)
	}
	// A browser's same-origin form post under Referrer-Policy no-referrer
	// carries "Origin: null"; Sec-Fetch-Site vouches for it.
	if r := w.do("POST", "/api/wifi", nil, "Sec-Fetch-Site", "same-origin", "Origin", "null"); r.StatusCode != 200 {
		t.Fatalf("same-origin browser post with Origin null refused: %d", r.StatusCode)
	}
	for _, site := range []string{"cross-site", "same-site"} {
		if r := w.do("POST", "/api/wifi", nil, "Sec-Fetch-Site", site, "Origin", w.srv.URL); r.StatusCode != http.StatusForbidden {
			t.Fatalf("Sec-Fetch-Site %s post: %d", site, r.StatusCode)
		}
	}
	if r := w.do("POST", "/api/wifi", nil, "Origin", "null"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("Origin null without Sec-Fetch-Site: %d", r.StatusCode)
	}
	w.clock.Advance(10 * time.Minute)
	if r := w.do("POST", "/api/wifi", nil); r.StatusCode != http.StatusUnauthorized || w.hitCount("wifi") != 2 {
		t.Fatalf("stale session allowed a security-relevant change: %d", r.StatusCode)
	}
	if r := w.do("GET", "/api/status", nil); r.StatusCode != 200 {
		t.Fatalf("stale session refused for reading: %d", r.StatusCode)
	}
	// Cross-site state change with the cookie.
	if r := w.do("POST", "/api/wifi", nil, "Origin", "https://evil.example"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %d", r.StatusCode)
	}
	if r := w.do("POST", "/api/logout", nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := w.do("GET", "/api/status", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", r.StatusCode)
	}
}

func TestLoginHandlerBadInput(t *testing.T) {
	w := newWeb(t)
	w.setUp()
	r := w.do("POST", "/api/login", map[string]string{"account": "owner\r\nSet-Cookie: evil=1", "password": "x"})
	if r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 || r.Header.Get("X-Evil") != "" {
		t.Fatalf("header injection: %d %v", r.StatusCode, r.Header)
	}
	before, _ := w.s.thr.sourceState("127.0.0.1")
	for name, body := range map[string]string{
		"huge":    `{"account":"owner","password":"` + strings.Repeat("x", 10000) + `"}`,
		"unknown": `{"account":"owner","password":"x","admin":true}`,
		"two":     `{"account":"owner","password":"x"}{}`,
		"notjson": `account=owner&password=x`,
	} {
		req, _ := http.NewRequest("POST", w.srv.URL+"/api/login", strings.NewReader(body))
		resp, err := w.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if after, _ := w.s.thr.sourceState("127.0.0.1"); after != before {
		t.Fatal("malformed requests were charged as attempts")
	}
	if r := w.do("GET", "/api/login", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET login: %d", r.StatusCode)
	}
}

func TestLoginHandlerThrottles(t *testing.T) {
	w := newWeb(t)
	w.setUp()
	var last *http.Response
	for range 8 {
		last = w.do("POST", "/api/login", map[string]string{"account": ownerAcct, "password": "wrong guess again!"})
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || last.Header.Get("Retry-After") == "0" {
		t.Fatalf("got %d Retry-After=%q", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

func TestChangePasswordHandler(t *testing.T) {
	w := newWeb(t)
	old := w.setUp()
	r := w.do("POST", "/api/password", map[string]string{"current_password": ownerPW, "new_password": "seven bright lanterns over water"},
		"Authorization", "Bearer "+old.Token())
	if r.StatusCode != 200 || len(r.Cookies()) != 1 {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("change: %d %s", r.StatusCode, b)
	}
	if r := w.do("GET", "/api/status", nil, "Authorization", "Bearer "+old.Token()); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old session after change: %d", r.StatusCode)
	}
	if r := w.do("GET", "/api/status", nil); r.StatusCode != 200 {
		t.Fatalf("new cookie after change: %d", r.StatusCode)
	}
	if r := w.do("POST", "/api/password", map[string]string{"new_password": "yet another long passphrase"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("change without current password or presence: %d", r.StatusCode)
	}
}

// TestGateHandlePanics: the zero rule, a bad scope, a pattern registered
// twice and a pattern ServeMux refuses are programmer errors, and a
// refused Handle leaves the gate's routes as they were.
func TestGateHandlePanics(t *testing.T) {
	f := newFixture(t)
	g := NewGate(f.s)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	g.Handle("GET /x", Public, h)
	for _, c := range []struct {
		pattern string
		r       Rule
	}{{"GET /y", Rule{}}, {"GET /y", Require("")}, {"GET /y", Require("Bad Scope")}, {"GET /x", Public}, {"GET /x", Require("admin")}, {"BAD PATTERN /{", Public}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q, %v) accepted", c.pattern, c.r)
				}
			}()
			g.Handle(c.pattern, c.r, h)
		}()
	}
	if p := g.patterns(); len(p) != 1 || p[0] != "GET /x" || len(g.rules) != 1 || g.rules["GET /x"] != Public {
		t.Fatalf("routes after refused Handle calls: %v %v", p, g.rules)
	}
}
