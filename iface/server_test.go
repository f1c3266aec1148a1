package iface

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// store is the state a device handler changes; tests assert refused
// requests leave it untouched.
type store struct {
	mu    sync.Mutex
	names []string
}

func (s *store) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

func testMux(st *store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "leaky/1.0")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("POST /api/name", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if DecodeRequest(w, r, &req, JSONLimits{MaxBytes: 4096, MaxDepth: 4}) != nil {
			return
		}
		if err := Name("name", req.Name); err != nil {
			WriteInputError(w, err)
			return
		}
		st.mu.Lock()
		st.names = append(st.names, req.Name)
		st.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/upload", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		st.mu.Lock()
		st.names = append(st.names, string(b))
		st.mu.Unlock()
	})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal: db password is hunter2", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("secret detail") })
	return mux
}

type testServer struct {
	addr   string
	client *http.Client
	tls    *tls.Config // client config
	st     *store
	srv    *Server
	cancel context.CancelFunc
	done   chan error
}

func startServer(t *testing.T, cfg ServerConfig) *testServer {
	t.Helper()
	sc, cc := testConfigs(t)
	st := &store{}
	if cfg.Handler == nil {
		cfg.Handler = testMux(st)
	}
	cfg.TLS = sc
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{addr: ln.Addr().String(), tls: cc, st: st, srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ctx, ln) }()
	ts.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cc}, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		ts.client.CloseIdleConnections()
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

func (ts *testServer) url(p string) string { return "https://" + ts.addr + p }

// raw sends exact request bytes over TLS and returns the status line and
// the response.
func (ts *testServer) raw(t *testing.T, req string) (int, http.Header, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", ts.addr, ts.tls)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func assertUniformError(t *testing.T, status int, h http.Header, body string, want int) {
	t.Helper()
	if status != want {
		t.Errorf("status %d, want %d (body %q)", status, want, body)
	}
	var eb errorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" {
		t.Errorf("body %q is not the uniform JSON error", body)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	assertNoBanner(t, h, body)
}

func assertNoBanner(t *testing.T, h http.Header, body string) {
	t.Helper()
	if v := h.Get("Server"); v != "" {
		t.Errorf("Server header %q", v)
	}
	for _, leak := range []string{"go1.", "Go-http", "golang", "hunter2", "secret detail", "net/http"} {
		if strings.Contains(body, leak) {
			t.Errorf("response leaks %q: %q", leak, body)
		}
	}
}

func TestServerHeadersAndUniformErrors(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	resp, err := ts.client.Get(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, b)
	}
	assertNoBanner(t, resp.Header, string(b))
	for h, want := range map[string]string{
		"Content-Security-Policy":   "default-src 'self'",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
		"Strict-Transport-Security": "max-age=31536000",
	} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("%s = %q, want %q", h, resp.Header.Get(h), want)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Error("CSP lacks frame-ancestors 'none'")
	}

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope", 404},
		{"DELETE", "/", 405},
		{"GET", "/boom", 500},
		{"GET", "/panic", 500},
		{"TRACE", "/", 405},
	} {
		req, _ := http.NewRequest(c.method, ts.url(c.path), nil)
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assertUniformError(t, resp.StatusCode, resp.Header, string(b), c.want)
	}
}

func TestServerRefusesTraversalAndCRLF(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	for _, target := range []string{
		"/../etc/passwd",
		"/static/..%2f..%2fetc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/a/%2E%2E/b",
		"/a%5c..%5cb",
		"/a%0d%0aSet-Cookie:%20x=1",
		"/a%00b",
		"/?q=%0d%0a", // decoded CRLF in a query is the handler's business; raw is refused below
	} {
		status, h, body := ts.raw(t, "GET "+target+" HTTP/1.1\r\nHost: device.local\r\nConnection: close\r\n\r\n")
		if target == "/?q=%0d%0a" {
			if status != 200 {
				t.Errorf("%s: %d", target, status)
			}
			continue
		}
		assertUniformError(t, status, h, body, 400)
	}
	// CR inside a header value never reaches a handler: net/http refuses
	// the request line/headers itself with 400.
	status, h, body := ts.raw(t, "GET / HTTP/1.1\r\nHost: device.local\r\nX-A: a\rSet-Cookie: x\r\nConnection: close\r\n\r\n")
	if status != 400 {
		t.Errorf("CR in header: %d", status)
	}
	assertNoBanner(t, h, body)
}

func TestServerBodyLimitsLeaveStateUntouched(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxBodyBytes: 1024})
	post := func(path, ctype, body string) (int, http.Header, string) {
		resp, err := ts.client.Post(ts.url(path), ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	// Oversized body with a Content-Length: refused before the handler.
	s, h, b := post("/api/upload", "application/octet-stream", strings.Repeat("x", 2048))
	assertUniformError(t, s, h, b, 413)
	// Oversized chunked body: capped while the handler reads it.
	req, _ := http.NewRequest("POST", ts.url("/api/upload"), io.MultiReader(strings.NewReader(strings.Repeat("y", 4096))))
	req.ContentLength = -1
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertUniformError(t, resp.StatusCode, resp.Header, string(rb), 413)
	if strings.Contains(string(rb), "read:") {
		t.Error("handler's error text leaked")
	}

	// Hostile JSON: field named, nothing stored.
	for _, c := range []struct{ body, field string }{
		{`{"name":"ok","name":"dup"}`, "name"},
		{`{"name":{"a":{"b":{"c":{"d":1}}}}}`, "name.a.b.c"},
		{`{"name":"x","admin":true}`, "admin"},
		{`{"name":"a\u202eb"}`, "name"},
		{"{\"name\":\"\xff\"}", ""},
		{`{"name":"ok"} trailing`, ""},
		{`{"name":5}`, "name"},
	} {
		s, h, b := post("/api/name", "application/json", c.body)
		assertUniformError(t, s, h, b, 400)
		var eb errorBody
		json.Unmarshal([]byte(b), &eb)
		if eb.Field != c.field {
			t.Errorf("%s: field %q, want %q", c.body, eb.Field, c.field)
		}
	}
	if s, _, _ := post("/api/name", "text/plain", `{"name":"ok"}`); s != 415 {
		t.Errorf("wrong content type: %d", s)
	}
	if got := ts.st.snapshot(); len(got) != 0 {
		t.Fatalf("refused requests changed state: %q", got)
	}
	if s, _, b := post("/api/name", "application/json", `{"name":"Kitchen plug"}`); s != 204 {
		t.Fatalf("valid request: %d %s", s, b)
	}
	if got := ts.st.snapshot(); len(got) != 1 || got[0] != "Kitchen plug" {
		t.Fatalf("state %q", got)
	}
}

func TestServerHeaderLimit(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxHeaderBytes: 1024})
	status, h, body := ts.raw(t, "GET / HTTP/1.1\r\nHost: device.local\r\nX-Big: "+strings.Repeat("a", 8192)+"\r\nConnection: close\r\n\r\n")
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized header: %d", status)
	}
	assertNoBanner(t, h, body)
}

func TestServerSlowloris(t *testing.T) {
	ts := startServer(t, ServerConfig{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := tls.Dial("tcp", ts.addr, ts.tls)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: dev")
	// The server must drop the connection; the generous deadline only
	// keeps a broken server from hanging the test.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server kept a slowloris connection open")
	}
	// Same for a peer that never starts the TLS handshake.
	raw, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(raw)
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server kept a silent connection open")
	}
}

func TestServerConnectionLimit(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxConns: 2})
	var held []net.Conn
	for range 2 {
		c, err := tls.Dial("tcp", ts.addr, ts.tls)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// A third connection is queued by the kernel but not served.
	third, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	tc := tls.Client(third, ts.tls)
	third.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if err := tc.Handshake(); err == nil {
		t.Fatal("third connection served beyond MaxConns=2")
	}
	// Freeing a slot lets the next one in.
	third.Close()
	held[0].Close()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ts.addr, ts.tls)
	if err != nil {
		t.Fatalf("after freeing a slot: %v", err)
	}
	c.Close()
	held[1].Close()
}

func TestServerRefusesOldTLS(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	// HTTP/2 is not offered: HTTP/1.1 only.
	h2 := ts.tls.Clone()
	h2.NextProtos = []string{"h2", "http/1.1"}
	c, err := tls.Dial("tcp", ts.addr, h2)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN negotiated %q, want http/1.1", p)
	}
	c.Close()
	old := ts.tls.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.Dial("tcp", ts.addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 accepted")
	}
}

func TestNewServerRequiresTLS(t *testing.T) {
	if _, err := NewServer(ServerConfig{Handler: http.NotFoundHandler()}); !errors.Is(err, ErrNoTLS) {
		t.Errorf("no TLS: %v", err)
	}
	if _, err := NewServer(ServerConfig{Handler: http.NotFoundHandler(), TLS: &tls.Config{MinVersion: tls.VersionTLS10}}); !errors.Is(err, ErrWeakTLS) {
		t.Errorf("weak TLS: %v", err)
	}
}

func TestRedirectServer(t *testing.T) {
	rs, err := NewRedirectServer(8443, ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rs.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/setup?x=1", nil)
	req.Host = "plug.local"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://plug.local:8443/setup?x=1" {
		t.Errorf("redirect %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plaintext")
	}
	req.Host = "evil.example\"><script>"
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("forged host: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := NewRedirectServer(0, ServerConfig{}); err == nil {
		t.Error("port 0 accepted")
	}
}

// FuzzBadPath: whatever the escaped path, a path the screen lets through
// has no dot segment, backslash, encoded slash or control character once
// decoded.
func FuzzBadPath(f *testing.F) {
	for _, s := range []string{"/a/b", "/../x", "/%2e%2e/x", "/a%2fb", "/a%0d%0a", "/%zz", "/a\\b", "/.", "/a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if badPath(p) != "" || p == "" || p == "*" {
			return
		}
		for _, seg := range strings.Split(p[1:], "/") {
			d, ok := unescapeSegment(seg)
			if !ok || d == "." || d == ".." || strings.ContainsAny(d, "/\\") || strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("let through %q (segment %q)", p, d)
			}
		}
	})
}

func TestHardenInformationalStatus(t *testing.T) {
	h := Harden(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "detail")
	}), HardenOptions{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	// (httptest's recorder keeps the 103 as Code; the body shows the 404
	// was replaced by the uniform one.)
	if rec.Body.String() != "{\"error\":\"not found\"}\n" {
		t.Errorf("%d %q", rec.Code, rec.Body)
	}
}

func TestListenAndServeOnlyDeclared(t *testing.T) {
	sc, cc := testConfigs(t)
	srv, err := NewServer(ServerConfig{Handler: testMux(&store{}), TLS: sc})
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "tcp")
	inv := testInventory(t,
		Service{Name: "web", Network: "tcp", Port: port, Addr: netip.MustParseAddr("127.0.0.1"), Purpose: "web UI", Access: Authenticated},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.ListenAndServe(ctx, inv, "web"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled service served: %v", err)
	}
	if err := srv.ListenAndServe(ctx, inv, "admin"); !errors.Is(err, ErrUndeclared) {
		t.Fatalf("undeclared service served: %v", err)
	}
	if err := inv.Enable(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, inv, "web") }()
	var c *tls.Conn
	for i := 0; i < 100; i++ { // wait for the listener
		if c, err = tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cc); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServerSilentOnPlaintext(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Errorf("plaintext request on the TLS port answered: %q", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Error("connection left open")
	}
}

func TestServerConcurrentRequests(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxConns: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/"
			if i%2 == 1 {
				path = "/missing"
			}
			resp, err := ts.client.Get(ts.url(path))
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Server") != "" {
				errs <- errors.New("Server header")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A lab's slowloris run: one source opens many connections and sends
// nothing. With only the global cap, the owner would wait until the
// attacker's connections time out; the per-source bound keeps a slot free.
// The header timeout is set far above the owner's deadline, so the owner
// is served only if the attacker never held all slots.
func TestServerPerSourceLimit(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxConns: 8, MaxConnsPerSource: 4, ReadHeaderTimeout: time.Minute})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 50 {
		c, err := net.Dial("tcp", ts.addr) // from 127.0.0.1, never speaks
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// The connections beyond the bound were closed by the server.
	closed := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				closed++
			}
		}
	}
	if closed != 46 {
		t.Errorf("server closed %d of 50 silent connections from one source, want 46 (bound 4)", closed)
	}
	owner := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: ts.tls,
			DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext,
		},
		Timeout: 15 * time.Second,
	}
	defer owner.CloseIdleConnections()
	resp, err := owner.Get(ts.url("/"))
	if err != nil {
		t.Fatalf("owner not served while one source holds its connections: %v", err)
	}
	resp.Body.Close()
}

func TestSourceOf(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.7:443", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:1", "192.0.2.7/32"},
	} {
		a, _ := net.ResolveTCPAddr("tcp", c.addr)
		p, ok := sourceOf(a)
		if !ok || p.String() != c.want {
			t.Errorf("sourceOf(%s) = %v %v, want %s", c.addr, p, ok, c.want)
		}
	}
}
