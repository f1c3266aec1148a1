package iface

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// DefaultCurvePreferences is the key exchange list [ServerTLS] and
// [ClientTLS] use when [TLSOptions.CurvePreferences] is nil: the hybrid
// post-quantum X25519MLKEM768 first, then classical ECDHE groups for peers
// that do not speak it yet. crypto/tls picks from this set in its own
// preference order, which also puts the hybrids first.
var DefaultCurvePreferences = []tls.CurveID{
	tls.X25519MLKEM768,
	tls.SecP256r1MLKEM768,
	tls.X25519,
	tls.CurveP256,
	tls.CurveP384,
}

// TLS12CipherSuites lists the only TLS 1.2 cipher suites the constructors
// enable: ephemeral ECDHE key exchange with an AEAD (AES-GCM or
// ChaCha20-Poly1305). TLS 1.3 suites are all AEAD and not configurable.
var TLS12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Errors returned by the TLS constructors and certificate helpers.
var (
	// ErrWeakTLS reports an option that would allow a protocol version, key
	// exchange or cipher suite below the floor (TLS 1.2, ECDHE, AEAD).
	ErrWeakTLS = errors.New("iface: TLS option below the security floor")
	// ErrNoCertificate reports a server configuration without a certificate.
	ErrNoCertificate = errors.New("iface: no device certificate")
	// ErrBadName reports a certificate name that is neither a valid
	// hostname nor an IP address.
	ErrBadName = errors.New("iface: invalid certificate name")
)

// TLSOptions tunes [ServerTLS] and [ClientTLS]. The zero value is the secure
// default: TLS 1.3 preferred, TLS 1.2 floor with ECDHE+AEAD suites only,
// hybrid X25519MLKEM768 key exchange offered first, peers verified.
type TLSOptions struct {
	// Certificates holds the device certificate (server) or the client
	// certificate presented for mutual TLS (client). Build it from the
	// device identity key with [SelfSigned] or [CertificateFromDER].
	// Required for ServerTLS.
	Certificates []tls.Certificate

	// MinVersion is the lowest protocol version accepted. Zero means
	// TLS 1.2; tls.VersionTLS13 restricts to TLS 1.3. Anything below 1.2 is
	// refused with ErrWeakTLS.
	MinVersion uint16

	// CurvePreferences restricts the key exchange groups. Nil means
	// [DefaultCurvePreferences]. Only ECDHE groups and their ML-KEM hybrids
	// exist in crypto/tls, so every choice is forward secret; an empty
	// non-nil slice is refused.
	CurvePreferences []tls.CurveID

	// ClientCAs, on a server, turns on mutual TLS: every client must
	// present a certificate that chains to this pool. Nil means clients
	// are authenticated at the application layer (for example by the auth
	// package) instead.
	ClientCAs *x509.CertPool

	// RootCAs, on a client, is the set of roots the server's chain must
	// verify against. Nil means the system roots. Verification is never
	// skipped: there is no switch to turn it off.
	RootCAs *x509.CertPool

	// ServerName, on a client, is the name the server certificate must
	// carry. Required unless the dialler fills it in (crypto/tls derives it
	// from the address for tls.Dial).
	ServerName string

	// NextProtos lists ALPN protocols, for example "h2", "http/1.1".
	// Nil means none.
	NextProtos []string
}

func (o TLSOptions) base() (*tls.Config, error) {
	minV := o.MinVersion
	if minV == 0 {
		minV = tls.VersionTLS12
	}
	if minV < tls.VersionTLS12 || minV > tls.VersionTLS13 {
		return nil, fmt.Errorf("%w: MinVersion %#04x", ErrWeakTLS, minV)
	}
	curves := DefaultCurvePreferences
	if o.CurvePreferences != nil {
		if len(o.CurvePreferences) == 0 {
			return nil, fmt.Errorf("%w: empty CurvePreferences", ErrWeakTLS)
		}
		curves = o.CurvePreferences
	}
	return &tls.Config{
		MinVersion:       minV,
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     append([]uint16(nil), TLS12CipherSuites...),
		CurvePreferences: append([]tls.CurveID(nil), curves...),
		Certificates:     append([]tls.Certificate(nil), o.Certificates...),
		NextProtos:       append([]string(nil), o.NextProtos...),
		// Renegotiation stays at its zero value (never), session tickets
		// keep crypto/tls's rotating keys.
	}, nil
}

// ServerTLS returns the server-side tls.Config for a device interface:
// TLS 1.3 preferred, TLS 1.2 floor with ECDHE+AEAD suites only, hybrid
// post-quantum key exchange first, and, when o.ClientCAs is set, verified
// client certificates required. o.Certificates must hold the device
// certificate.
func ServerTLS(o TLSOptions) (*tls.Config, error) {
	if len(o.Certificates) == 0 {
		return nil, ErrNoCertificate
	}
	c, err := o.base()
	if err != nil {
		return nil, err
	}
	if o.ClientCAs != nil {
		c.ClientCAs = o.ClientCAs
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	boundTicketAge(c, DefaultSessionTicketLifetime)
	return c, nil
}

// ticketIssuedTag marks the issue time a server stamps into each session
// ticket it wraps (inside the encrypted ticket, never seen by the client).
const ticketIssuedTag = "baseline-issued:"

// boundTicketAge makes c refuse to resume from tickets it issued more than
// maxAge ago (or that carry no issue time), by stamping the issue time into
// the ticket's encrypted state. The clock is c.Time when set.
func boundTicketAge(c *tls.Config, maxAge time.Duration) {
	now := func() time.Time {
		if c.Time != nil {
			return c.Time()
		}
		return time.Now()
	}
	c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		stamp := make([]byte, len(ticketIssuedTag)+8)
		copy(stamp, ticketIssuedTag)
		binary.BigEndian.PutUint64(stamp[len(ticketIssuedTag):], uint64(now().Unix()))
		ss.Extra = append(ss.Extra, stamp)
		return c.EncryptTicket(cs, ss)
	}
	c.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := c.DecryptTicket(identity, cs)
		if err != nil || ss == nil {
			return nil, err
		}
		for _, e := range ss.Extra {
			if len(e) == len(ticketIssuedTag)+8 && string(e[:len(ticketIssuedTag)]) == ticketIssuedTag {
				issued := time.Unix(int64(binary.BigEndian.Uint64(e[len(ticketIssuedTag):])), 0)
				if age := now().Sub(issued); age >= 0 && age <= maxAge {
					return ss, nil
				}
				return nil, nil
			}
		}
		return nil, nil // not one of ours: full handshake
	}
}

// ClientTLS returns the client-side tls.Config the device uses towards its
// associated services: same protocol floor as [ServerTLS], and the server's
// chain and name always verified against o.RootCAs (system roots when nil).
func ClientTLS(o TLSOptions) (*tls.Config, error) {
	c, err := o.base()
	if err != nil {
		return nil, err
	}
	c.RootCAs = o.RootCAs
	c.ServerName = o.ServerName
	return c, nil
}

// DefaultCertValidity is the validity [SelfSigned] uses when given zero:
// 397 days, inside the 398-day ceiling browsers and TLS scanners apply to
// server certificates. A device renews its self-signed certificate before
// it runs out (the reference device does so at start when fewer than 30
// days are left).
const DefaultCertValidity = 397 * 24 * time.Hour

// MaxCertValidity is the longest validity [SelfSigned] issues; longer
// requests are refused, since scanners flag anything above it.
const MaxCertValidity = 398 * 24 * time.Hour

// DefaultSessionTicketLifetime bounds how long after its issue a TLS
// session ticket from [ServerTLS] resumes a session. crypto/tls still
// advertises its own fixed lifetime hint (7 days) in the ticket and rotates
// its ticket keys daily; a ticket older than this is simply not accepted,
// and the client falls back to a full handshake.
const DefaultSessionTicketLifetime = 24 * time.Hour

// SelfSigned issues a self-signed certificate for the device identity key
// signer (ECDSA, Ed25519 or RSA), valid for names (hostnames or IP
// addresses, at least one) from one minute ago for validity (zero means
// [DefaultCertValidity]; more than [MaxCertValidity] is refused). Use it for local interfaces where the client pins
// the device's certificate, for example after pairing; devices enrolled in
// a PKI use [NewCSR] and [CertificateFromDER] instead. The private key
// never leaves signer.
func SelfSigned(signer crypto.Signer, names []string, validity time.Duration) (tls.Certificate, error) {
	if validity <= 0 {
		validity = DefaultCertValidity
	}
	if validity > MaxCertValidity {
		return tls.Certificate{}, fmt.Errorf("iface: certificate validity %s exceeds %s", validity, MaxCertValidity)
	}
	dns, ips, err := splitNames(names)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("iface: serial: %w", err)
	}
	// NotBefore is a minute back for clocks slightly behind; the whole span
	// is validity, so a scanner sees exactly what was asked for.
	notBefore := time.Now().Add(-time.Minute).Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("iface: self-signed certificate: %w", err)
	}
	return CertificateFromDER(signer, der)
}

// NewCSR returns a PEM-encoded PKCS #10 certificate signing request for the
// device identity key signer, naming names (hostnames or IP addresses). A
// CA (the manufacturer's, or an ACME-like enrolment service) signs it; pass
// the result to [CertificateFromDER].
func NewCSR(signer crypto.Signer, names []string) ([]byte, error) {
	dns, ips, err := splitNames(names)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: names[0]},
		DNSNames:    dns,
		IPAddresses: ips,
	}, signer)
	if err != nil {
		return nil, fmt.Errorf("iface: certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// CertificateFromDER assembles a tls.Certificate from the device identity
// key and a chain of DER certificates, leaf first. It checks that the
// leaf's public key belongs to signer, so a mismatched certificate fails
// here and not in the first handshake.
func CertificateFromDER(signer crypto.Signer, chain ...[]byte) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, ErrNoCertificate
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("iface: leaf certificate: %w", err)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return tls.Certificate{}, errors.New("iface: certificate does not match the device key")
	}
	c := tls.Certificate{PrivateKey: signer, Leaf: leaf}
	for _, d := range chain {
		c.Certificate = append(c.Certificate, append([]byte(nil), d...))
	}
	return c, nil
}

func splitNames(names []string) (dns []string, ips []net.IP, err error) {
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%w: no names", ErrBadName)
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if Hostname("name", n) != nil {
			return nil, nil, fmt.Errorf("%w: %q", ErrBadName, truncate(n, 64))
		}
		dns = append(dns, n)
	}
	return dns, ips, nil
}
