package mqtt

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// ErrTLSConfig: Config.TLS cannot authenticate both ends.
var ErrTLSConfig = errors.New("mqtt: TLS configuration refused")

// identity is the client certificate and the key that proves it.
type identity struct {
	chain  [][]byte
	leaf   *x509.Certificate
	signer crypto.Signer
}

// prepareTLS checks the caller's client configuration and returns a copy
// to clone per connection. It refuses a configuration that could connect
// without verifying the broker against pinned roots or without the
// device identity.
func prepareTLS(c *tls.Config, serverName string) (*tls.Config, identity, error) {
	var id identity
	switch {
	case c == nil:
		return nil, id, fmt.Errorf("%w: Config.TLS is required", ErrTLSConfig)
	case c.InsecureSkipVerify:
		return nil, id, fmt.Errorf("%w: InsecureSkipVerify is set: the broker would not be authenticated", ErrTLSConfig)
	case c.RootCAs == nil:
		return nil, id, fmt.Errorf("%w: RootCAs is nil: pin the CA that issued the broker's certificate instead of trusting every system root", ErrTLSConfig)
	case c.MinVersion != 0 && c.MinVersion < tls.VersionTLS12:
		return nil, id, fmt.Errorf("%w: MinVersion below TLS 1.2", ErrTLSConfig)
	case c.GetClientCertificate != nil || c.GetConfigForClient != nil:
		return nil, id, fmt.Errorf("%w: set Certificates (the device identity) instead of a callback", ErrTLSConfig)
	case len(c.Certificates) != 1:
		return nil, id, fmt.Errorf("%w: exactly one client certificate (the device identity) is required, got %d", ErrTLSConfig, len(c.Certificates))
	}
	cert := c.Certificates[0]
	if len(cert.Certificate) == 0 {
		return nil, id, fmt.Errorf("%w: client certificate has no chain", ErrTLSConfig)
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, id, fmt.Errorf("%w: the client certificate's key is not a crypto.Signer", ErrTLSConfig)
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, id, fmt.Errorf("%w: client certificate: %v", ErrTLSConfig, err)
		}
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, id, fmt.Errorf("%w: the client certificate does not belong to the identity key", ErrTLSConfig)
	}
	base := c.Clone()
	if base.MinVersion == 0 {
		base.MinVersion = tls.VersionTLS12
	}
	if base.ServerName == "" {
		base.ServerName = serverName
	}
	// No session resumption: every connection is authenticated afresh by
	// the identity key, which is what the TLS self-check observes.
	base.ClientSessionCache = nil
	base.Certificates = nil
	id = identity{chain: cert.Certificate, leaf: leaf, signer: signer}
	return base, id, nil
}

// handshake is what one TLS handshake showed.
type handshake struct {
	state tls.ConnectionState
	// requested: the broker asked for a client certificate.
	requested bool
	// signatures made by the identity key during the handshake.
	signatures int64
}

// countingSigner counts the identity key's signatures in one handshake.
type countingSigner struct {
	crypto.Signer
	n *atomic.Int64
}

func (s countingSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(rand, digest, opts)
	if err == nil {
		s.n.Add(1)
	}
	return sig, err
}

// clientConfig returns the configuration for one connection, recording
// whether the broker asked for the identity and how often the identity
// key signed.
func (id identity) clientConfig(base *tls.Config, signs *atomic.Int64, requested *atomic.Bool) *tls.Config {
	c := base.Clone()
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		requested.Store(true)
		return &tls.Certificate{Certificate: id.chain, Leaf: id.leaf, PrivateKey: countingSigner{id.signer, signs}}, nil
	}
	return c
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
