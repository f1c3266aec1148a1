package privacy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	pub, priv, err := GenerateEnvelopeKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(pub)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"presence":"home 07:00-08:00"}`)
	env, err := s.Seal([]byte("acme-cloud"), msg)
	if err != nil {
		t.Fatal(err)
	}
	env2, _ := s.Seal([]byte("acme-cloud"), msg)
	if bytes.Contains(env, []byte("presence")) || bytes.Equal(env, env2) {
		t.Fatal("envelope readable or deterministic")
	}
	got, err := OpenEnvelope(priv, []byte("acme-cloud"), env)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open: %q, %v", got, err)
	}
	_, otherPriv, _ := GenerateEnvelopeKey()
	bad := map[string]func() ([]byte, []byte, []byte){
		"other bind": func() ([]byte, []byte, []byte) { return priv, []byte("metrics-co"), env },
		"other key":  func() ([]byte, []byte, []byte) { return otherPriv, []byte("acme-cloud"), env },
		"flipped body": func() ([]byte, []byte, []byte) {
			e := bytes.Clone(env)
			e[len(e)-20] ^= 1
			return priv, []byte("acme-cloud"), e
		},
		"flipped enc": func() ([]byte, []byte, []byte) {
			e := bytes.Clone(env)
			e[envHdrLen+5] ^= 1
			return priv, []byte("acme-cloud"), e
		},
		"other suite": func() ([]byte, []byte, []byte) {
			e := bytes.Clone(env)
			e[9] ^= 3
			return priv, []byte("acme-cloud"), e
		},
		"truncated": func() ([]byte, []byte, []byte) { return priv, []byte("acme-cloud"), env[:envHdrLen+10] },
	}
	for name, f := range bad {
		if _, err := OpenEnvelope(f()); !errors.Is(err, ErrEnvelope) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Fatal("bad public key accepted")
	}
}

// tlsPair runs a real TLS handshake over a pipe and returns the client's
// connection state: verified against the server's self-signed certificate,
// or with verification skipped.
func tlsPair(t *testing.T, verify bool) *tls.ConnectionState {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloud.acme.example"}, DNSNames: []string{"cloud.acme.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c, s := net.Pipe()
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	go srv.Handshake()
	cli := tls.Client(c, &tls.Config{ServerName: "cloud.acme.example", RootCAs: pool, InsecureSkipVerify: !verify})
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	st := cli.ConnectionState()
	c.Close() // the raw pipe: tls.Conn.Close would wait for close_notify
	s.Close()
	return &st
}

func TestProtectRefusesPersonalDataOnUnprotectedChannels(t *testing.T) {
	ctx := context.Background()
	plain := Message{Recipient: "acme-cloud", Body: []byte(`{"fw_version":"1.0"}`)}
	personal := Message{Recipient: "acme-cloud", Body: []byte(`{"power_w":40}`), Personal: true}
	sensitive := Message{Recipient: "acme-cloud", Body: []byte(`{"presence":1}`), Personal: true, Sensitive: true}
	verified, skipped := tlsPair(t, true), tlsPair(t, false)
	if len(verified.VerifiedChains) == 0 || len(skipped.VerifiedChains) != 0 {
		t.Fatal("handshake fixtures wrong")
	}
	pub, priv, _ := GenerateEnvelopeKey()
	sealer, _ := NewSealer(pub)
	cases := []struct {
		name       string
		cfg        ProtectConfig
		sent       []bool // plain, personal, sensitive
		wantVerdit conformance.Verdict
	}{
		{"no TLS, nothing seals", ProtectConfig{}, []bool{true, false, false}, conformance.Inconclusive},
		{"TLS without verification", ProtectConfig{TLS: func() *tls.ConnectionState { return skipped }}, []bool{true, false, false}, conformance.Fail},
		{"insecure switch", ProtectConfig{TLS: func() *tls.ConnectionState { return skipped }, InsecureAllowPersonalInClear: true}, []bool{true, true, false}, conformance.Fail},
		{"verified TLS", ProtectConfig{TLS: func() *tls.ConnectionState { return verified }}, []bool{true, true, true}, conformance.Pass},
		{"sealed", ProtectConfig{Sealer: sealer}, []bool{true, true, true}, conformance.Pass},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := &capture{}
			tc.cfg.Next = next
			p := Protect(tc.cfg)
			for i, m := range []Message{plain, personal, sensitive} {
				err := p.Send(ctx, m)
				got := next.take()
				if tc.sent[i] != (err == nil) || tc.sent[i] != (len(got) == 1) {
					t.Fatalf("message %d: err %v, %d sent", i, err, len(got))
				}
				if err != nil && !errors.Is(err, ErrUnprotectedChannel) {
					t.Fatalf("message %d: %v", i, err)
				}
				if len(got) == 1 && tc.cfg.Sealer != nil && m.Personal {
					if !got[0].Sealed || bytes.Contains(got[0].Body, m.Body) {
						t.Fatal("personal data not sealed")
					}
					if pt, err := OpenEnvelope(priv, []byte(m.Recipient), got[0].Body); err != nil || !bytes.Equal(pt, m.Body) {
						t.Fatalf("service cannot open: %v", err)
					}
				}
			}
			if r := runCheck(t, p); r.Verdict != tc.wantVerdit {
				t.Fatalf("check %s: %+v", r.Verdict, r)
			}
		})
	}
}

func TestExporterMarksPersonalAndSensitive(t *testing.T) {
	tr := &capture{}
	s := exampleSchema(t)
	s.Fields[4].Rule = Rule{Kind: RuleKeep}
	s.Fields[4].Recipient = ""
	// away-mode has no recipient: the presence field cannot be sent, so the
	// schema is refused.
	if _, err := NewExporter(ExporterConfig{Notice: exampleNotice(t), Schema: s, Consent: allowAll(true), Transport: tr}); err == nil {
		t.Fatal("a field sent to no recipient was accepted")
	}
	inv := exampleInventory(t)
	inv.Purposes[2].Recipients = []string{"acme-cloud"}
	n, _ := NewNotice(inv)
	s.Fields[4].Recipient = "acme-cloud"
	e, err := NewExporter(ExporterConfig{Notice: n, Schema: s, Consent: allowAll(true), Transport: Protect(ProtectConfig{Next: tr})})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(context.Background(), "alice", Record{"motion_count": 3}); !errors.Is(err, ErrUnprotectedChannel) {
		t.Fatalf("sensitive field sent in the clear: %v", err)
	}
	if len(tr.take()) != 0 || e.Stats().SendErrors != 1 || len(e.Sent()) != 0 {
		t.Fatal("refused message counted as sent")
	}
	e.Export(context.Background(), "alice", Record{"fw_version": "1.0"})
	if got := tr.take(); len(got) != 1 || got[0].Personal || got[0].Sensitive {
		t.Fatalf("non-personal message: %+v", got)
	}
}
