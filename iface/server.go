package iface

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for ServerConfig (and HardenOptions); each applies when its
// field is zero and is documented on the field.
const (
	defaultReadHeaderTimeout = 5 * time.Second  // slowloris: whole header within this
	defaultReadTimeout       = 30 * time.Second // whole request, body included
	defaultWriteTimeout      = 30 * time.Second
	defaultIdleTimeout       = 60 * time.Second
	defaultMaxHeaderBytes    = 8 << 10
	defaultMaxBodyBytes      = 1 << 20
	defaultMaxConns          = 64
	// defaultMaxConnsPerSource bounds the connections one source (an IPv4
	// address, an IPv6 /64) holds open at once: a browser opens about six
	// per host, so one slowloris source cannot take the device's
	// defaultMaxConns from its owner.
	defaultMaxConnsPerSource = 16
	// defaultContentSecurityPolicy allows the page's own origin only and
	// forbids framing, plugins, and base/form redirection elsewhere.
	defaultContentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
	// defaultHSTSMaxAge is the Strict-Transport-Security max-age.
	defaultHSTSMaxAge = 365 * 24 * time.Hour
)

// ErrNoTLS reports a ServerConfig without TLS configuration.
var ErrNoTLS = errors.New("iface: server needs a TLS configuration (see ServerTLS)")

// ServerConfig configures [NewServer]. The zero value of every field but
// Handler and TLS is the hardened default documented on the field.
type ServerConfig struct {
	// Handler serves the device's routes; it is wrapped by [Harden].
	// Gate it with the auth package so that nothing but what the device
	// declares public is reachable unauthenticated. Required.
	Handler http.Handler
	// TLS is the server's TLS configuration, normally from [ServerTLS].
	// Required: there is no plaintext mode for a device interface; the
	// only plaintext server is [NewRedirectServer].
	TLS *tls.Config

	// ReadHeaderTimeout bounds reading the TLS handshake and request
	// header (slowloris); 0 means 5 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; 0 means 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; 0 means 30 s.
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive idle time; 0 means 60 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request header; 0 means
	// 8 KiB. Larger headers get 431.
	MaxHeaderBytes int
	// MaxBodyBytes bounds every request body; 0 means 1 MiB.
	// Larger bodies get 413.
	MaxBodyBytes int64
	// MaxConns bounds concurrent connections; 0 means 64.
	// Further connections wait in the kernel's accept queue.
	MaxConns int
	// MaxConnsPerSource bounds the connections one source address (IPv6:
	// its /64) holds at once; 0 means 16 (a browser opens
	// about six per host). A
	// connection beyond it is closed as soon as it is accepted, without
	// taking one of the MaxConns slots, so one slow or greedy source cannot
	// lock the owner out. Many sources together can still fill MaxConns.
	MaxConnsPerSource int
	// ContentSecurityPolicy is sent on every response; "" means
	// the page's own origin only, no framing, plugins, or base/form
	// redirection elsewhere: "default-src 'self'; frame-ancestors 'none';
	// base-uri 'none'; form-action 'self'; object-src 'none'".
	ContentSecurityPolicy string
	// HSTSMaxAge is the Strict-Transport-Security max-age; 0 means
	// one year.
	HSTSMaxAge time.Duration

	// Logger receives connection-level errors (TLS handshake failures,
	// malformed requests) at debug level and handler panics at error
	// level. Nil discards.
	Logger *slog.Logger
}

func (c ServerConfig) norm() ServerConfig {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = defaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.MaxConns <= 0 {
		c.MaxConns = defaultMaxConns
	}
	if c.MaxConnsPerSource <= 0 {
		c.MaxConnsPerSource = defaultMaxConnsPerSource
	}
	if c.ContentSecurityPolicy == "" {
		c.ContentSecurityPolicy = defaultContentSecurityPolicy
	}
	if c.HSTSMaxAge <= 0 {
		c.HSTSMaxAge = defaultHSTSMaxAge
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server is the hardened HTTPS server for a device's web UI and local API:
// no Server header or version strings, one JSON error body shape for every
// error status, security headers on every response, timeouts against
// slowloris, header, body and connection limits, HTTP/1.1 only. Create it
// with [NewServer] and run it with [Server.Serve].
type Server struct {
	cfg       ServerConfig
	srv       *http.Server
	plaintext bool
}

// NewServer returns a hardened server for cfg. cfg.Handler and cfg.TLS are
// required.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("iface: ServerConfig.Handler is nil")
	}
	if cfg.TLS == nil {
		return nil, ErrNoTLS
	}
	if cfg.TLS.MinVersion < tls.VersionTLS12 {
		return nil, fmt.Errorf("%w: TLS MinVersion below 1.2", ErrWeakTLS)
	}
	cfg = cfg.norm()
	t := cfg.TLS.Clone()
	t.NextProtos = []string{"http/1.1"}
	return newServer(cfg, Harden(cfg.Handler, HardenOptions{
		MaxBodyBytes:          cfg.MaxBodyBytes,
		ContentSecurityPolicy: cfg.ContentSecurityPolicy,
		HSTSMaxAge:            cfg.HSTSMaxAge,
		Logger:                cfg.Logger,
	}), t), nil
}

func newServer(cfg ServerConfig, h http.Handler, t *tls.Config) *Server {
	var protos http.Protocols
	protos.SetHTTP1(true) // no h2: a smaller surface for a device's own UI
	srv := &http.Server{
		Handler:                      h,
		TLSConfig:                    t,
		ReadHeaderTimeout:            cfg.ReadHeaderTimeout,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		MaxHeaderBytes:               cfg.MaxHeaderBytes,
		Protocols:                    &protos,
		TLSNextProto:                 map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:                     log.New(slogWriter{cfg.Logger}, "", 0),
		DisableGeneralOptionsHandler: true,
	}
	return &Server{cfg: cfg, srv: srv, plaintext: t == nil}
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("iface: http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Serve accepts connections on ln (at most MaxConns at a time, at most
// MaxConnsPerSource of them from one source), performs
// the TLS handshake and serves requests until ctx is cancelled, then shuts
// down gracefully, giving open requests up to WriteTimeout to finish. It
// returns nil after a shutdown caused by ctx, or the error that stopped it.
// The caller owns ln's address: declare it in the device's [Inventory].
// A Server serves once: after ctx ends it cannot be started again (create
// a new one), and cancelling ctx of one Serve call shuts down all of them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = LimitListener(perSourceListener(ln, s.cfg.MaxConnsPerSource, s.cfg.Logger), s.cfg.MaxConns)
	if !s.plaintext {
		ln = tlsOnlyListener{ln}
	}
	errc := make(chan error, 1)
	go func() {
		if s.plaintext {
			errc <- s.srv.Serve(ln)
		} else {
			errc <- s.srv.ServeTLS(ln, "", "")
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ListenAndServe opens the declared, enabled service name of inv with
// [Inventory.Listen] and serves on it as [Server.Serve] does: the way to
// start a server so that it cannot listen anywhere the inventory does not
// declare.
func (s *Server) ListenAndServe(ctx context.Context, inv *Inventory, name string) error {
	ln, err := inv.Listen(ctx, name)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Config returns the server's effective configuration, defaults filled in
// (what the self-check reports).
func (s *Server) Config() ServerConfig { return s.cfg }

// Handler returns the hardened handler the server runs (cfg.Handler
// wrapped by [Harden]), for tests and for the self-check.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// NewRedirectServer returns a plaintext server that answers every request
// with a 308 redirect to the same host and path over HTTPS on httpsPort,
// and nothing else: no handler runs, no body is read. Run it only on a
// port the device declares in its [Inventory] (typically 80 for a web UI
// that users type in by name); a device without a browser UI needs none.
// Hosts in the request are validated before they are reflected.
func NewRedirectServer(httpsPort int, cfg ServerConfig) (*Server, error) {
	if httpsPort < 1 || httpsPort > 65535 {
		return nil, fmt.Errorf("iface: redirect port %d out of range", httpsPort)
	}
	cfg = cfg.norm()
	h := Harden(redirect{port: httpsPort}, HardenOptions{
		MaxBodyBytes:          1,
		ContentSecurityPolicy: cfg.ContentSecurityPolicy,
		Logger:                cfg.Logger,
	})
	return newServer(cfg, h, nil), nil
}

type redirect struct{ port int }

func (rd redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || !hostPortValid(host) {
		writeJSONError(w, http.StatusBadRequest, "", "")
		return
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if rd.port != 443 {
		host += ":" + strconv.Itoa(rd.port)
	}
	target := "https://" + host + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusPermanentRedirect)
}

// tlsOnlyListener drops connections whose first byte is not a TLS
// handshake record, before crypto/tls sees them: net/http would otherwise
// answer plaintext HTTP on the TLS port with its own recognisable
// "Client sent an HTTP request to an HTTPS server" response.
type tlsOnlyListener struct{ net.Listener }

func (l tlsOnlyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsOnlyConn{Conn: c}, nil
}

type tlsOnlyConn struct {
	net.Conn
	checked bool
}

const recordTypeHandshake = 0x16

func (c *tlsOnlyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		c.checked = true
		if p[0] != recordTypeHandshake {
			c.Conn.Close()
			return 0, io.EOF
		}
	}
	return n, err
}

// LimitListener returns a listener that holds at most n accepted
// connections open at once: Accept waits for a slot, and closing a
// connection frees it. n <= 0 means 64.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		n = defaultMaxConns
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// perSourceListener closes, right after accepting it, any connection from
// a source that already holds max connections. It sits below
// [LimitListener], so a refused connection never occupies a global slot.
func perSourceListener(ln net.Listener, max int, log *slog.Logger) net.Listener {
	return &sourceListener{Listener: ln, max: max, open: map[netip.Prefix]int{}, log: log}
}

type sourceListener struct {
	net.Listener
	max     int
	log     *slog.Logger
	mu      sync.Mutex
	open    map[netip.Prefix]int
	refused uint64
}

// sourceOf groups addresses as the throttle does: an IPv4 address alone,
// an IPv6 address by its /64 (one subscriber's allocation).
func sourceOf(a net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

func (l *sourceListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src, ok := sourceOf(c.RemoteAddr())
		if !ok {
			return c, nil // not an IP listener (a pipe in tests): no per-source bound
		}
		l.mu.Lock()
		if l.open[src] >= l.max {
			l.refused++
			n := l.refused
			l.mu.Unlock()
			c.Close()
			if n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th … refusal only
				l.log.Warn("iface: connection refused: too many from one source", "source", src.String(), "limit", l.max, "refused_total", n)
			}
			continue
		}
		l.open[src]++
		l.mu.Unlock()
		return &limitConn{Conn: c, release: func() {
			l.mu.Lock()
			if l.open[src]--; l.open[src] <= 0 {
				delete(l.open, src)
			}
			l.mu.Unlock()
		}}, nil
	}
}
