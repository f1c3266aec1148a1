package iface

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// SelfCheck reports on the device's interfaces from the running
// configuration: it implements [conformance.Checker] with one check per
// provision group (IDs "iface.tls", "iface.server", "iface.sockets",
// "iface.debug", "iface.privileges", "iface.input"). Fill in what the
// device runs; a nil field makes its check report what is missing rather
// than pass.
type SelfCheck struct {
	// ServerTLS is the tls.Config the device's server uses (from
	// [ServerTLS]); the check performs a real handshake against it.
	ServerTLS *tls.Config
	// ClientTLS, if set, is the tls.Config the device uses towards its
	// associated services (from [ClientTLS]); the TLS check also refuses
	// it if it skips verification or allows weak protocols or suites.
	ClientTLS *tls.Config
	// Server is the device's hardened server; nil reports 5.6-2 as
	// NotApplicable (a device with no HTTP interface).
	Server *Server
	// Inventory is the declared interfaces; nil fails 5.6-1.
	Inventory *Inventory
	// Audit tunes the socket audit.
	Audit AuditOptions
	// Probe tunes the debug interface probe.
	Probe ProbeOptions
	// AllowedCaps is the capability mask the device may keep (for example
	// 1<<capNetBindService); any other effective capability fails 5.6-7.
	AllowedCaps uint64
	// JSON is the limits the device's handlers pass to [DecodeJSON].
	JSON JSONLimits
	// InputProbes lists routes of Server whose handlers decode a JSON body
	// before doing anything else (a login or setup endpoint is typical).
	// With at least one, iface.input is [conformance.Measured]: it sends
	// hostile bodies through the device's own handler chain (Server's
	// handler, so its middleware and auth gate too) and requires each to
	// be refused as bad input (400, 413, 415 or 422). A refusal for any
	// other reason (401, 403, 429) means the hostile body got past the
	// decoder and fails the check. Without probes, iface.input only runs
	// the library's decoder against the configured limits and reports
	// itself as [conformance.Configured].
	InputProbes []InputProbe
	// ProcRoot replaces /proc for the privilege check (tests); "" means
	// /proc/self/status of this process.
	ProcRoot string
}

// InputProbe is one route iface.input sends hostile input to; see
// [SelfCheck.InputProbes].
type InputProbe struct {
	// Method is the HTTP method, "POST" if empty.
	Method string
	// Path is the route's path, "/api/login".
	Path string
}

// Checks implements conformance.Checker. iface.tls (real handshakes
// against ServerTLS), iface.server (probe requests through Server's
// handler), iface.sockets (the sockets listening now), iface.debug (a probe
// of processes and serial consoles) and iface.privileges (the process's
// credentials now) observe the running device and are
// [conformance.Measured]; iface.input is measured only with
// [SelfCheck.InputProbes].
func (c *SelfCheck) Checks() []conformance.Check {
	inputMethod := conformance.Configured
	if c.Server != nil && len(c.InputProbes) > 0 {
		inputMethod = conformance.Measured
	}
	return []conformance.Check{
		{ID: "iface.tls", Method: conformance.Measured, Provisions: []string{"5.5-1", "5.5-6", "5.5-7"},
			Title: "The device's TLS server negotiates TLS 1.3 (or 1.2 with ECDHE and AEAD only) and refuses older protocols and weak suites",
			Run:   c.checkTLS},
		{ID: "iface.server", Method: conformance.Measured, Provisions: []string{"5.6-2"},
			Title: "The web server shows no version banner, answers errors uniformly and bounds time, headers, bodies and connections",
			Run:   c.checkServer},
		{ID: "iface.sockets", Method: conformance.Measured, Provisions: []string{"5.6-1", "5.6-5"},
			Title: "Every listening socket belongs to a declared, enabled service",
			Run:   c.checkSockets},
		{ID: "iface.debug", Method: conformance.Measured, Provisions: []string{"5.6-4"},
			Title: "No debug endpoints in this build, no console login on serial ports, no remote shell or debugger running",
			Run:   c.checkDebug},
		{ID: "iface.privileges", Method: conformance.Measured, Provisions: []string{"5.6-7"},
			Title: "The device software runs without root, without spare capabilities, with no_new_privs",
			Run:   c.checkPrivileges},
		{ID: "iface.input", Method: inputMethod, Provisions: []string{"5.13-1"},
			Title: "Input decoding is bounded and strict: hostile JSON and field values are refused",
			Run:   c.checkInput},
	}
}

func fail(detail string, a ...any) conformance.Result {
	return conformance.Result{Verdict: conformance.Fail, Detail: fmt.Sprintf(detail, a...)}
}

// Handshake is what a TLS handshake negotiated, as [TLSHandshake] reports.
type Handshake struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipherSuite"`
	Group       string `json:"group"`
}

// String formats the handshake as "TLS 1.3 TLS_AES_128_GCM_SHA256 X25519MLKEM768".
func (h Handshake) String() string { return h.Version + " " + h.CipherSuite + " " + h.Group }

// TLSHandshake runs a full handshake in memory between server and client
// configurations and reports what was negotiated. The self-check uses it;
// device tests can too.
func TLSHandshake(ctx context.Context, server, client *tls.Config) (Handshake, error) {
	sc, cc := bufferedPipe()
	defer sc.Close()
	defer cc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = sc.SetDeadline(dl)
		_ = cc.SetDeadline(dl)
	} else {
		_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
		_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	srv := tls.Server(sc, server)
	errc := make(chan error, 1)
	go func() {
		err := srv.HandshakeContext(ctx)
		if err != nil {
			sc.Close()
		}
		errc <- err
	}()
	cl := tls.Client(cc, client)
	cerr := cl.HandshakeContext(ctx)
	if cerr != nil {
		cc.Close()
	}
	serr := <-errc
	if cerr != nil {
		return Handshake{}, cerr
	}
	if serr != nil {
		return Handshake{}, serr
	}
	st := cl.ConnectionState()
	return Handshake{
		Version:     tls.VersionName(st.Version),
		CipherSuite: tls.CipherSuiteName(st.CipherSuite),
		Group:       st.CurveID.String(),
	}, nil
}

// bufferedPipe is net.Pipe with a buffer in each direction, so a peer
// that aborts a handshake can send its alert while the other side is still
// writing its flight (with a bare net.Pipe both would block).
func bufferedPipe() (net.Conn, net.Conn) {
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	relay := func(dst, src net.Conn) {
		ch := make(chan []byte, 256)
		go func() {
			defer close(ch)
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					ch <- append([]byte(nil), buf[:n]...)
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer dst.Close()
			for b := range ch {
				if _, err := dst.Write(b); err != nil {
					// Keep draining so the reader side never blocks.
					for range ch {
					}
					return
				}
			}
		}()
	}
	relay(b2, a2) // a1 → b1
	relay(a2, b2) // b1 → a1
	return a1, b1
}

// probeClient builds a client that trusts the server's own leaf, so the
// check's handshake verifies the chain like a real peer would.
func probeClient(server *tls.Config) (*tls.Config, error) {
	if len(server.Certificates) == 0 || len(server.Certificates[0].Certificate) == 0 {
		return nil, ErrNoCertificate
	}
	chain := server.Certificates[0].Certificate
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(chain[len(chain)-1])
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	name := leaf.Subject.CommonName
	switch {
	case len(leaf.DNSNames) > 0:
		name = leaf.DNSNames[0]
	case len(leaf.IPAddresses) > 0:
		name = leaf.IPAddresses[0].String()
	}
	c, err := ClientTLS(TLSOptions{RootCAs: pool, ServerName: name})
	if err != nil {
		return nil, err
	}
	return c, nil
}

var weakSuites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
}

func (c *SelfCheck) checkTLS(ctx context.Context) conformance.Result {
	if c.ServerTLS == nil {
		return fail("no server TLS configuration registered with the self-check")
	}
	s := c.ServerTLS
	if s.MinVersion < tls.VersionTLS12 {
		return fail("MinVersion %s allows protocols below TLS 1.2", tls.VersionName(s.MinVersion))
	}
	if s.CipherSuites == nil {
		return fail("CipherSuites unset: crypto/tls defaults include CBC suites in TLS 1.2")
	}
	for _, cs := range s.CipherSuites {
		if !slices.Contains(TLS12CipherSuites, cs) {
			return fail("cipher suite %s is not ECDHE with AEAD", tls.CipherSuiteName(cs))
		}
	}
	if s.InsecureSkipVerify {
		return fail("InsecureSkipVerify is set")
	}
	clientObs := ""
	if cl := c.ClientTLS; cl != nil {
		switch {
		case cl.InsecureSkipVerify:
			return fail("client configuration skips server certificate verification (InsecureSkipVerify)")
		case cl.MinVersion < tls.VersionTLS12:
			return fail("client configuration allows protocols below TLS 1.2")
		case cl.CipherSuites == nil:
			return fail("client configuration leaves CipherSuites unset: crypto/tls defaults include CBC suites in TLS 1.2")
		}
		for _, cs := range cl.CipherSuites {
			if !slices.Contains(TLS12CipherSuites, cs) {
				return fail("client cipher suite %s is not ECDHE with AEAD", tls.CipherSuiteName(cs))
			}
		}
		clientObs = "; client configuration verifies peers, TLS 1.2+ ECDHE+AEAD only"
	}
	client, err := probeClient(s)
	if err != nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Detail: "cannot build a verifying probe client: " + err.Error()}
	}
	if s.ClientAuth >= tls.RequireAnyClientCert {
		return conformance.Result{Verdict: conformance.Inconclusive,
			Observed: "mutual TLS required; configuration: min " + tls.VersionName(s.MinVersion) + ", ECDHE+AEAD suites only",
			Detail:   "the server requires client certificates, so the self-check cannot complete a handshake"}
	}
	hs, err := TLSHandshake(ctx, s, client)
	if err != nil {
		return fail("loopback handshake failed: %v", err)
	}
	// A client that offers only protocols or suites below the floor must be
	// refused.
	old := client.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := TLSHandshake(ctx, s, old); err == nil {
		return fail("server accepted a TLS 1.1 handshake")
	}
	weak := client.Clone()
	weak.MaxVersion = tls.VersionTLS12
	weak.CipherSuites = weakSuites
	if _, err := TLSHandshake(ctx, s, weak); err == nil {
		return fail("server accepted a TLS 1.2 handshake with only CBC or RSA key exchange suites offered")
	}
	obs := "negotiated " + hs.String() + "; TLS 1.0/1.1 refused; CBC and RSA key exchange refused" + clientObs
	if !strings.Contains(hs.Group, "MLKEM") {
		return conformance.Result{Verdict: conformance.Pass, Observed: obs,
			Detail: "classical ECDHE negotiated: the hybrid post-quantum group is not enabled on the server"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// recorder is a minimal in-memory http.ResponseWriter for the self-check.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len() < 1<<16 {
		r.body.Write(p)
	}
	return len(p), nil
}

var requiredHeaders = []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security"}

func (c *SelfCheck) checkServer(ctx context.Context) conformance.Result {
	if c.Server == nil {
		return conformance.Result{Verdict: conformance.NotApplicable, Detail: "no HTTP server registered with the self-check"}
	}
	cfg := c.Server.Config()
	if cfg.MaxHeaderBytes > 64<<10 || cfg.MaxBodyBytes > 64<<20 || cfg.MaxConns > 4096 || cfg.ReadHeaderTimeout > time.Minute {
		return fail("limits too loose: header %d B, body %d B, %d connections, header timeout %s", cfg.MaxHeaderBytes, cfg.MaxBodyBytes, cfg.MaxConns, cfg.ReadHeaderTimeout)
	}
	probes := []struct {
		method, target string
		want           int // 0: any status
	}{
		{"GET", "/.baseline-selfcheck-absent", 0},
		{"GET", "/static/%2e%2e/%2e%2e/etc/passwd", http.StatusBadRequest},
		{"GET", "/a%0d%0aSet-Cookie:%20x=1", http.StatusBadRequest},
		{"TRACE", "/", http.StatusMethodNotAllowed},
	}
	h := c.Server.Handler()
	for _, p := range probes {
		if err := ctx.Err(); err != nil {
			return conformance.Result{Verdict: conformance.NotRun, Detail: err.Error()}
		}
		req, err := http.NewRequestWithContext(ctx, p.method, "https://device.invalid"+p.target, nil)
		if err != nil {
			return fail("building probe %s %s: %v", p.method, p.target, err)
		}
		req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
		req.RemoteAddr = "127.0.0.1:1"
		rec := &recorder{h: http.Header{}}
		h.ServeHTTP(rec, req)
		if p.want != 0 && rec.status != p.want {
			return fail("%s %s answered %d, want %d", p.method, p.target, rec.status, p.want)
		}
		if v := rec.h.Get("Server"); v != "" {
			return fail("Server header present: %q", printable(v, 64))
		}
		if v := rec.h.Get("X-Powered-By"); v != "" {
			return fail("X-Powered-By header present")
		}
		for _, hn := range requiredHeaders {
			if rec.h.Get(hn) == "" {
				return fail("%s missing on %s %s", hn, p.method, p.target)
			}
		}
		if rec.status >= 400 {
			var eb errorBody
			if json.Unmarshal(rec.body.Bytes(), &eb) != nil || eb.Error == "" {
				return fail("%s %s: error body is not the uniform JSON shape", p.method, p.target)
			}
		}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf(
		"no Server header; uniform JSON errors; traversal/CRLF 400, TRACE 405; header timeout %s, read %s, header ≤ %d B, body ≤ %d B, ≤ %d connections",
		cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.MaxHeaderBytes, cfg.MaxBodyBytes, cfg.MaxConns)}
}

func (c *SelfCheck) checkSockets(ctx context.Context) conformance.Result {
	if c.Inventory == nil {
		return fail("no interface inventory declared")
	}
	rep, err := Audit(ctx, c.Inventory, c.Audit)
	if err != nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Detail: "socket audit unavailable: " + err.Error()}
	}
	var onByDefault []string
	for _, s := range c.Inventory.Services() {
		if s.EnabledByDefault {
			onByDefault = append(onByDefault, fmt.Sprintf("%s %s/%d (%s)", s.Name, s.Network, s.Port, s.Access))
		}
	}
	var listening []string
	for _, s := range rep.Sockets {
		if s.Problem == "" {
			listening = append(listening, s.Service+" "+s.Socket.String())
		}
	}
	obs := fmt.Sprintf("%d declared services, enabled by default: [%s]; listening: [%s]",
		len(c.Inventory.Services()), strings.Join(onByDefault, ", "), strings.Join(listening, ", "))
	if probs := rep.Problems(); len(probs) > 0 {
		var ps []string
		for _, p := range probs {
			ps = append(ps, p.Socket.String()+" "+p.Problem)
		}
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "listening sockets not covered by an enabled declaration: " + strings.Join(ps, "; ")}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func (c *SelfCheck) checkDebug(ctx context.Context) conformance.Result {
	if DebugBuild {
		return fail("built with the baseline_debug tag: debug endpoints are compiled in")
	}
	fs, err := ProbeDebug(ctx, c.Probe)
	if err != nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "release build, no debug endpoints", Detail: "probe unavailable: " + err.Error()}
	}
	var bad, allowed []string
	for _, f := range fs {
		s := f.Kind + ": " + f.What
		if f.Allowed {
			allowed = append(allowed, s)
		} else {
			bad = append(bad, s)
		}
	}
	obs := "release build, no debug endpoints; declared: [" + strings.Join(allowed, "; ") + "]"
	if len(bad) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "found: " + strings.Join(bad, "; ")}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs + "; no serial console login, remote shell or debugger found"}
}

func (c *SelfCheck) checkPrivileges(ctx context.Context) conformance.Result {
	p, err := readPrivileges(c.ProcRoot)
	if err != nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Detail: "cannot read privileges: " + err.Error()}
	}
	obs := fmt.Sprintf("uid=%d euid=%d gid=%d capeff=[%s] no_new_privs=%t", p.UID, p.EUID, p.GID, strings.Join(capNamesOf(p.CapEff), ","), p.NoNewPrivs)
	if p.Root() {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "running as root: bind, then call DropPrivileges"}
	}
	if extra := p.CapEff &^ c.AllowedCaps; extra != 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "capabilities beyond those allowed: " + strings.Join(capNamesOf(extra), ",")}
	}
	if !p.NoNewPrivs {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: "no_new_privs not set: call SetNoNewPrivs or set NoNewPrivileges=yes in the service unit"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// hostileJSON is what a fuzzer sends first; the check runs them through
// the configured limits.
func hostileJSON(lim JSONLimits) map[string][]byte {
	lim = lim.norm()
	return map[string][]byte{
		"nesting beyond limit": append(bytes.Repeat([]byte("["), lim.MaxDepth+1), bytes.Repeat([]byte("]"), lim.MaxDepth+1)...),
		"duplicate key":        []byte(`{"a":1,"A":2}`),
		"invalid UTF-8":        []byte("{\"a\":\"\xff\"}"),
		"lone surrogate":       []byte(`{"a":"\ud800"}`),
		"trailing data":        []byte(`{"a":1} {"a":2}`),
		"oversized body":       append(append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), int(lim.MaxBytes))...), `"}`...),
		"unknown field":        []byte(`{"a":1,"injected":true}`),
	}
}

func (c *SelfCheck) checkInput(ctx context.Context) conformance.Result {
	lim := c.JSON.norm()
	type target struct {
		A any `json:"a"`
	}
	var n int
	for name, in := range hostileJSON(lim) {
		var v target
		if err := unmarshalJSON(in, &v, lim); err == nil {
			return fail("hostile JSON accepted: %s", name)
		}
		n++
	}
	vals := []struct {
		name string
		err  error
	}{
		{"hostname with CRLF", Hostname("h", "a\r\nb")},
		{"SSID over 32 bytes", SSID("s", strings.Repeat("x", 33))},
		{"URL with credentials", URL("u", "https://user:pw@example.com/")},
		{"time zone path traversal", TimeZone("tz", "../../etc/passwd")},
		{"name with bidi override", Name("n", "a\u202eb")},
	}
	for _, v := range vals {
		if v.err == nil {
			return fail("hostile value accepted: %s", v.name)
		}
		n++
	}
	obs := fmt.Sprintf("library decoder: JSON ≤ %d B, depth ≤ %d, unknown fields, duplicate keys, invalid UTF-8 and trailing data refused; %d hostile inputs refused",
		lim.MaxBytes, lim.MaxDepth, n)
	if c.Server == nil || len(c.InputProbes) == 0 {
		return conformance.Result{Verdict: conformance.Pass, Observed: obs,
			Detail: "configured only: no device routes registered as input probes, so the device's own handlers were not exercised"}
	}
	h := c.Server.Handler()
	var routes []string
	sent := 0
	for _, p := range c.InputProbes {
		method := p.Method
		if method == "" {
			method = http.MethodPost
		}
		routes = append(routes, method+" "+p.Path)
		for _, name := range sortedKeys(hostileJSON(lim)) {
			body := hostileJSON(lim)[name]
			if err := ctx.Err(); err != nil {
				return conformance.Result{Verdict: conformance.NotRun, Detail: err.Error()}
			}
			req, err := http.NewRequestWithContext(ctx, method, "https://device.invalid"+p.Path, bytes.NewReader(body))
			if err != nil {
				return fail("building probe %s %s: %v", method, p.Path, err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
			req.RemoteAddr = "127.0.0.1:1"
			rec := &recorder{h: http.Header{}}
			h.ServeHTTP(rec, req)
			switch rec.status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			default:
				return conformance.Result{Verdict: conformance.Fail, Observed: obs,
					Detail: fmt.Sprintf("%s %s with hostile JSON (%s) answered %d, not a bad-input refusal: the body got past the decoder", method, p.Path, name, rec.status)}
			}
			sent++
		}
	}
	obs += fmt.Sprintf("; through the device's own handler chain: %d hostile bodies to [%s] all refused as bad input", sent, strings.Join(routes, ", "))
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
