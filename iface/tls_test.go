package iface

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testIdentity returns a device key and its self-signed certificate for
// "device.local" and 127.0.0.1.
func testIdentity(t testing.TB) (*ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := SelfSigned(key, []string{"device.local", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func testConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	_, cert := testIdentity(t)
	server, err := ServerTLS(TLSOptions{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client, err = ClientTLS(TLSOptions{RootCAs: pool, ServerName: "device.local"})
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

func TestServerTLSDefaults(t *testing.T) {
	s, _ := testConfigs(t)
	if s.MinVersion != tls.VersionTLS12 || s.MaxVersion != tls.VersionTLS13 {
		t.Errorf("versions %x-%x", s.MinVersion, s.MaxVersion)
	}
	if s.CurvePreferences[0] != tls.X25519MLKEM768 {
		t.Errorf("first group %v, want X25519MLKEM768", s.CurvePreferences[0])
	}
	for _, cs := range s.CipherSuites {
		name := tls.CipherSuiteName(cs)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
			t.Errorf("suite %s is not ECDHE+AEAD", name)
		}
	}
	if s.InsecureSkipVerify || s.ClientAuth != tls.NoClientCert {
		t.Error("unexpected client auth settings")
	}
}

func TestTLSOptionsRefuseWeak(t *testing.T) {
	_, cert := testIdentity(t)
	for _, o := range []TLSOptions{
		{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS11},
		{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10},
		{Certificates: []tls.Certificate{cert}, CurvePreferences: []tls.CurveID{}},
	} {
		if _, err := ServerTLS(o); !errors.Is(err, ErrWeakTLS) {
			t.Errorf("ServerTLS(%+v) = %v, want ErrWeakTLS", o.MinVersion, err)
		}
	}
	if _, err := ServerTLS(TLSOptions{}); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no certificate: %v", err)
	}
}

func TestHandshakeNegotiatesHybrid(t *testing.T) {
	s, c := testConfigs(t)
	hs, err := TLSHandshake(context.Background(), s, c)
	if err != nil {
		t.Fatal(err)
	}
	if hs.Version != "TLS 1.3" || hs.Group != "X25519MLKEM768" {
		t.Errorf("negotiated %v, want TLS 1.3 with X25519MLKEM768", hs)
	}
	// A classical-only peer still gets forward-secret ECDHE.
	c2 := c.Clone()
	c2.CurvePreferences = []tls.CurveID{tls.X25519}
	hs, err = TLSHandshake(context.Background(), s, c2)
	if err != nil || hs.Group != "X25519" {
		t.Errorf("classical client: %v %v", hs, err)
	}
}

func TestHandshakeRefusesBelowFloor(t *testing.T) {
	s, c := testConfigs(t)
	old := c.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if hs, err := TLSHandshake(context.Background(), s, old); err == nil {
		t.Errorf("TLS 1.1 accepted: %v", hs)
	}
	cbc := c.Clone()
	cbc.MaxVersion = tls.VersionTLS12
	cbc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
	if hs, err := TLSHandshake(context.Background(), s, cbc); err == nil {
		t.Errorf("CBC suite accepted: %v", hs)
	}
	// TLS 1.2 with AEAD is the floor and works.
	t12 := c.Clone()
	t12.MaxVersion = tls.VersionTLS12
	hs, err := TLSHandshake(context.Background(), s, t12)
	if err != nil || hs.Version != "TLS 1.2" || !strings.Contains(hs.CipherSuite, "GCM") && !strings.Contains(hs.CipherSuite, "CHACHA20") {
		t.Errorf("TLS 1.2: %v %v", hs, err)
	}
}

func TestClientVerifiesServer(t *testing.T) {
	s, _ := testConfigs(t)
	_, other := testIdentity(t)
	pool := x509.NewCertPool()
	pool.AddCert(other.Leaf) // trusts a different device
	c, err := ClientTLS(TLSOptions{RootCAs: pool, ServerName: "device.local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TLSHandshake(context.Background(), s, c); err == nil {
		t.Fatal("client accepted an untrusted server certificate")
	}
	// Right root, wrong name.
	_, good := testConfigs(t)
	good.ServerName = "other.local"
	if _, err := TLSHandshake(context.Background(), s, good); err == nil {
		t.Fatal("client accepted a certificate for another name")
	}
}

func TestMutualTLS(t *testing.T) {
	_, cert := testIdentity(t)
	_, clientCert := testIdentity(t)
	cas := x509.NewCertPool()
	cas.AddCert(clientCert.Leaf)
	s, err := ServerTLS(TLSOptions{Certificates: []tls.Certificate{cert}, ClientCAs: cas})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	anon, _ := ClientTLS(TLSOptions{RootCAs: roots, ServerName: "device.local"})
	if _, err := TLSHandshake(context.Background(), s, anon); err == nil {
		t.Error("client without certificate accepted")
	}
	withCert, _ := ClientTLS(TLSOptions{RootCAs: roots, ServerName: "device.local", Certificates: []tls.Certificate{clientCert}})
	if _, err := TLSHandshake(context.Background(), s, withCert); err != nil {
		t.Errorf("client with certificate refused: %v", err)
	}
}

func TestSelfSigned(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	c, err := SelfSigned(priv, []string{"plug.local", "::1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.DNSNames[0] != "plug.local" || !c.Leaf.IPAddresses[0].IsLoopback() {
		t.Errorf("names %v %v", c.Leaf.DNSNames, c.Leaf.IPAddresses)
	}
	if d := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); d != DefaultCertValidity || d > 398*24*time.Hour {
		t.Errorf("validity %v, want exactly %v (scanners flag more than 398 days)", d, DefaultCertValidity)
	}
	if _, err := SelfSigned(priv, []string{"plug.local"}, MaxCertValidity+time.Second); err == nil {
		t.Error("SelfSigned issued a certificate longer than MaxCertValidity")
	}
	for _, bad := range [][]string{nil, {"bad name"}, {"x\r\ny"}} {
		if _, err := SelfSigned(priv, bad, time.Hour); !errors.Is(err, ErrBadName) {
			t.Errorf("SelfSigned(%q) = %v", bad, err)
		}
	}
}

func TestCSRSignedByCA(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)

	devKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrPEM, err := NewCSR(devKey, []string{"plug-0042.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(csrPEM)
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("csr: %v", err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: csr.Subject, DNSNames: csr.DNSNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, csr.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := CertificateFromDER(devKey, leafDER, caDER)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ServerTLS(TLSOptions{Certificates: []tls.Certificate{cert}})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	c, _ := ClientTLS(TLSOptions{RootCAs: roots, ServerName: "plug-0042.example.com"})
	if _, err := TLSHandshake(context.Background(), s, c); err != nil {
		t.Fatalf("handshake with CA-issued cert: %v", err)
	}
	// A certificate for another key is refused up front.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := CertificateFromDER(otherKey, leafDER); err == nil {
		t.Error("mismatched key accepted")
	}
}

// A session ticket resumes while it is younger than
// DefaultSessionTicketLifetime and not after: crypto/tls alone would accept
// it for 7 days.
func TestServerTLSTicketLifetime(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			cert, err := SelfSigned(priv, []string{"plug.local"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			srvCfg, err := ServerTLS(TLSOptions{Certificates: []tls.Certificate{cert}})
			if err != nil {
				t.Fatal(err)
			}
			var clock atomic.Int64
			clock.Store(time.Now().Unix())
			srvCfg.Time = func() time.Time { return time.Unix(clock.Load(), 0) }
			pool := x509.NewCertPool()
			pool.AddCert(cert.Leaf)
			cliCfg, err := ClientTLS(TLSOptions{RootCAs: pool, ServerName: "plug.local"})
			if err != nil {
				t.Fatal(err)
			}
			cliCfg.MaxVersion = v
			cliCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			handshake := func() bool {
				t.Helper()
				errc := make(chan error, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						errc <- err
						return
					}
					defer c.Close()
					srv := tls.Server(c, srvCfg)
					srv.SetDeadline(time.Now().Add(20 * time.Second))
					if err = srv.Handshake(); err == nil {
						// TLS 1.3 tickets follow the handshake; the
						// client reads them with its first Read.
						_, err = srv.Write([]byte{1})
					}
					errc <- err
				}()
				cli, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", ln.Addr().String(), cliCfg)
				if err != nil {
					t.Fatal(err)
				}
				defer cli.Close()
				cli.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := cli.Read(make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				return cli.ConnectionState().DidResume
			}
			if handshake() {
				t.Fatal("first handshake resumed")
			}
			if !handshake() {
				t.Fatal("a fresh ticket did not resume: the bound refuses every ticket")
			}
			clock.Add(int64((DefaultSessionTicketLifetime + time.Minute) / time.Second))
			if handshake() {
				t.Fatalf("a ticket older than %v resumed", DefaultSessionTicketLifetime)
			}
		})
	}
}
