// Package iface makes a device's network interfaces the secure kind by
// default: TLS configurations with a TLS 1.2 floor and hybrid
// post-quantum key exchange, a hardened HTTPS server, a declared
// inventory of interfaces that the device audits against its real
// listening sockets, probes for debug interfaces and excess privilege,
// and strict, bounded input decoding and validators.
//
// Start with [ServerTLS] and [NewServer] for the web UI and local API,
// declare every listener in an [Inventory] and open it with
// [Inventory.Listen], decode request bodies with [DecodeRequest], check
// fields with the validators ([Name], [SSID], [Hostname], [URL],
// [TimeZone], [Int], …), and register a [SelfCheck] with the device's
// conformance report.
//
// # Provisions
//
//   - 5.5-1, 5.5-6, 5.5-7 (best-practice cryptography for communication,
//     critical security parameters encrypted in transit): [ServerTLS],
//     [ClientTLS], [SelfSigned], [NewCSR], [CertificateFromDER];
//     self-check "iface.tls" performs a real handshake and reports the
//     negotiated version, suite and group, and that TLS 1.0/1.1 and CBC
//     or RSA key exchange suites are refused.
//   - 5.6-1 (unused interfaces disabled; only declared ones exposed):
//     [Inventory], [Service], [Inventory.Listen], [Server.ListenAndServe],
//     [Audit]; self-check
//     "iface.sockets" fails on any listening socket not declared.
//   - 5.6-2 (minimal unauthenticated exposure, no information leaks):
//     [NewServer], [Harden], [NewRedirectServer], [LimitListener];
//     self-check "iface.server".
//   - 5.6-4 (debug interfaces disabled in production): [DebugBuild],
//     [DebugHandler] (compiled in only with the baseline_debug build tag),
//     [ProbeDebug]; self-check "iface.debug".
//   - 5.6-5 (services off by default): [Service.EnabledByDefault],
//     [Inventory.Enable], [Inventory.Listen], [Inventory.PersistTo]
//     (the user's choices kept on flash, crash-safe); reported by
//     "iface.sockets".
//   - 5.6-7 (least privilege): [CurrentPrivileges], [DropPrivileges],
//     [SetNoNewPrivs]; self-check "iface.privileges".
//   - 5.13-1 (input validation): [DecodeJSON], [DecodeRequest],
//     the validators, [InputError],
//     [WriteInputError]; self-check "iface.input".
//
// # Quick start
//
//	key := identityKey // crypto.Signer from the secrets package or a TPM
//	cert, _ := iface.SelfSigned(key, []string{"plug.local"}, 0)
//	tlsCfg, _ := iface.ServerTLS(iface.TLSOptions{Certificates: []tls.Certificate{cert}})
//
//	inv, _ := iface.NewInventory(iface.Service{
//		Name: "web", Network: "tcp", Port: 443, Purpose: "web UI and local API",
//		Access: iface.Authenticated, EnabledByDefault: true,
//	})
//	_ = inv.PersistTo("/data/baseline/services.json") // users' enable/disable choices
//	ln, _ := inv.Listen(ctx, "web")
//	_ = iface.DropPrivileges(uid, gid) // after binding port 443
//
//	srv, _ := iface.NewServer(iface.ServerConfig{Handler: gatedMux, TLS: tlsCfg})
//	go srv.Serve(ctx, ln)
//
//	checks := &iface.SelfCheck{ServerTLS: tlsCfg, Server: srv, Inventory: inv}
//	report := conformance.RunChecks(ctx, checks /* , other packages */)
//
// Inside a handler:
//
//	var req struct{ Name, TimeZone string }
//	if iface.DecodeRequest(w, r, &req, iface.JSONLimits{}) != nil {
//		return // 400/413/415 already written, naming the field
//	}
//	if err := iface.Name("name", req.Name); err != nil {
//		iface.WriteInputError(w, err)
//		return
//	}
//
// # Security considerations
//
// TLS: crypto/tls chooses among the configured groups in its own order,
// hybrids first; peers that lack X25519MLKEM768 get classical X25519 or
// P-256 ECDHE, still forward secret. TLS 1.3 suites are not configurable
// and are all AEAD. There is no switch to skip certificate verification:
// for a self-signed device certificate, the client pins it with RootCAs.
// Session tickets resume for at most [DefaultSessionTicketLifetime] (24 h)
// after issue, although crypto/tls still advertises its fixed 7-day
// lifetime hint, which cannot be configured. [SelfSigned] certificates run
// 397 days ([DefaultCertValidity]), inside the 398 days scanners accept.
//
// Server: every response carries CSP (default-src 'self';
// frame-ancestors 'none'), nosniff, X-Frame-Options, Referrer-Policy and,
// over TLS, HSTS. Error responses from handlers, ServeMux (404/405) and
// panics share one JSON body. Errors that net/http writes before any
// handler runs (400 for a malformed request line or header, 431 for an
// oversized header) are plain text without a banner; they cannot be
// rewritten without replacing net/http's parser. One source (an IPv4
// address, an IPv6 /64) holds at most MaxConnsPerSource connections, so a
// slowloris from one address leaves the owner a slot; many sources together
// can still fill MaxConns. HTTP/2 is off: a device
// UI does not need it, and HTTP/1.1 keeps the attack surface small.
// Authentication is not this package's job: put the auth package's gate
// in front of the handler so that only routes the device declares public
// answer unauthenticated.
//
// Audit: the default scope is every listening socket in the network
// namespace, loopback included, which is what a lab's port scan sees plus
// what it cannot. [AuditOptions.ProcessOnly] narrows it to this process.
// UDP sockets count as listening when bound and unconnected.
//
// Input: [DecodeJSON] refuses duplicate keys case-insensitively because
// encoding/json matches struct fields case-insensitively: "name" and
// "NAME" would otherwise both set one field, last one winning, which is
// how request smuggling between a proxy and a device begins. Refused
// input never reaches the target value. [InputError] never repeats the
// refused value; field names chosen by the client are shown with
// non-printable characters replaced.
//
// Time zones: [TimeZone] loads the zone to prove it exists, which needs a
// zone database; build with -tags timetzdata where /usr/share/zoneinfo is
// absent.
//
// Platform: the audit, probe and privilege functions read Linux /proc;
// elsewhere they return errors wrapping errors.ErrUnsupported.
package iface
