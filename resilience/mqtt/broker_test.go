package mqtt_test

// The test harness: a test CA, a real Mosquitto on loopback with mutual
// TLS and a per-device ACL, a TCP relay that can hold or cut a
// connection, and a service-side MQTT client. Nothing here is mocked.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// waitFor bounds every wait of these tests: it is a guard against a hang,
// never an assertion about speed.
const waitFor = 20 * time.Second

// opaqueSigner hides the key type the way a TPM or PKCS#11 identity does:
// crypto/tls can only ask it to sign.
type opaqueSigner struct{ k *ecdsa.PrivateKey }

func (s opaqueSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s opaqueSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, d, o)
}

type pki struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
	dir  string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "baseline test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	p := &pki{key: key, cert: cert, pool: pool, dir: t.TempDir()}
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	srvKey := mustKey(t)
	srvDER := p.issue(t, "broker", srvKey, true)
	writePEM(t, filepath.Join(p.dir, "server.pem"), "CERTIFICATE", srvDER)
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	writePEM(t, filepath.Join(p.dir, "server.key"), "EC PRIVATE KEY", kb)
	return p
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

var serial sync.Mutex
var nextSerial int64 = 100

func (p *pki) issue(t testing.TB, cn string, key crypto.Signer, server bool) []byte {
	t.Helper()
	serial.Lock()
	nextSerial++
	sn := nextSerial
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// clientTLS returns a client configuration for identity cn whose key is
// an opaque crypto.Signer, as iface.ClientTLS would build it.
func (p *pki) clientTLS(t testing.TB, cn string) *tls.Config {
	t.Helper()
	signer := opaqueSigner{mustKey(t)}
	der := p.issue(t, cn, signer, false)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      p.pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: signer}},
	}
}

// broker is one Mosquitto process on a fixed loopback port, so that it
// can be killed and restarted at the same address.
type broker struct {
	t    testing.TB
	bin  string
	conf string
	log  string
	addr string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// brokerOptions vary the broker's configuration.
type brokerOptions struct {
	// noClientCerts turns mutual TLS off (anonymous clients allowed), for
	// the test that the TLS self-check then fails.
	noClientCerts bool
}

// startBroker writes the configuration of design/MQTT.md — mutual TLS,
// the certificate's CN as user name, ACL "pattern readwrite devices/%u/#"
// plus a "service" identity that may use every device's topics — and
// starts Mosquitto.
func startBroker(t testing.TB, p *pki, opt brokerOptions) *broker {
	t.Helper()
	bin := testenv.LookPath(t, "mosquitto")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte("user service\ntopic readwrite devices/#\n\npattern readwrite devices/%u/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c strings.Builder
	fmt.Fprintf(&c, "per_listener_settings false\nlistener %s 127.0.0.1\n", port)
	fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\n", filepath.Join(p.dir, "ca.pem"), filepath.Join(p.dir, "server.pem"), filepath.Join(p.dir, "server.key"))
	if opt.noClientCerts {
		c.WriteString("require_certificate false\nallow_anonymous true\n")
	} else {
		fmt.Fprintf(&c, "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\nacl_file %s\n", acl)
	}
	c.WriteString("persistence false\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
	logFile := filepath.Join(dir, "mosquitto.log")
	fmt.Fprintf(&c, "log_dest file %s\n", logFile)
	if os.Geteuid() == 0 {
		c.WriteString("user root\n")
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(c.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &broker{t: t, bin: bin, conf: conf, log: logFile, addr: addr}
	b.start()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			if lg, err := os.ReadFile(logFile); err == nil {
				t.Logf("mosquitto log:\n%s", lg)
			}
		}
	})
	return b
}

// start starts the broker and waits until it accepts connections.
func (b *broker) start() {
	b.t.Helper()
	cmd := exec.Command(b.bin, "-c", b.conf)
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("starting mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.mu.Lock()
	b.cmd = cmd
	b.mu.Unlock()
	deadline := time.Now().Add(waitFor)
	for {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			go func() { <-exited }()
			return
		}
		select {
		case err := <-exited:
			lg, _ := os.ReadFile(b.log)
			b.t.Fatalf("mosquitto exited at start: %v\n%s", err, lg)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %s", b.addr)
		}
	}
}

// kill stops the broker by its process id with SIGKILL: no will is lost,
// no session saved, in-flight messages die with it.
func (b *broker) kill() {
	b.mu.Lock()
	cmd := b.cmd
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// Wait until the port is free again so a restart can bind it.
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// relay is a TCP relay between the device and the broker that can hold
// everything the broker sends (so a PUBACK never arrives) and cut every
// connection without a DISCONNECT (so the broker publishes the will).
type relay struct {
	ln     net.Listener
	target string
	// accepted counts the device's connections.
	accepted atomic.Int64

	mu    sync.Mutex
	cond  *sync.Cond
	hold  bool
	conns []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	r.cond = sync.NewCond(&r.mu)
	go r.serve()
	t.Cleanup(func() { ln.Close(); r.Cut() })
	return r
}

func (r *relay) Addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	for {
		dev, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		brk, err := net.Dial("tcp", r.target)
		if err != nil {
			dev.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, dev, brk)
		r.mu.Unlock()
		go func() { io.Copy(brk, dev); brk.Close(); dev.Close() }()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := brk.Read(buf)
				if n > 0 {
					r.mu.Lock()
					for r.hold {
						r.cond.Wait()
					}
					r.mu.Unlock()
					if _, werr := dev.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			brk.Close()
			dev.Close()
		}()
	}
}

// Hold stops (true) or resumes (false) the broker-to-device direction.
func (r *relay) Hold(h bool) {
	r.mu.Lock()
	r.hold = h
	r.mu.Unlock()
	r.cond.Broadcast()
}

// Cut closes every relayed connection abruptly and discards what was
// held.
func (r *relay) Cut() {
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.Hold(false)
}

// msg is one message a service-side client received.
type msg struct {
	topic    string
	payload  []byte
	retained bool
}

// client connects a plain paho client with identity cn (the service, or
// another device) and subscribes to filters; it returns what arrives.
func (p *pki) client(t *testing.T, b *broker, cn string, filters ...string) (paho.Client, <-chan msg) {
	t.Helper()
	ch := make(chan msg, 256)
	opts := paho.NewClientOptions().AddBroker("tls://" + b.addr).SetClientID(fmt.Sprintf("%s-%d", cn, time.Now().UnixNano())).
		SetTLSConfig(p.clientTLS(t, cn)).SetAutoReconnect(false).SetProtocolVersion(4).SetCleanSession(true).
		SetConnectTimeout(waitFor)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("%s connecting: %v", cn, tok.Error())
	}
	for _, f := range filters {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			ch <- msg{topic: m.Topic(), payload: append([]byte(nil), m.Payload()...), retained: m.Retained()}
		})
		if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
			t.Fatalf("%s subscribing %s: %v", cn, f, tok.Error())
		}
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, ch
}

// publish publishes with QoS 1 and waits for PUBACK.
func publish(t *testing.T, c paho.Client, topic string, payload []byte, retained bool) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("publishing %s: %v", topic, tok.Error())
	}
}

// next returns the next message on ch whose topic is topic.
func next(t *testing.T, ch <-chan msg, topic string) msg {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case m := <-ch:
			if m.topic == topic {
				return m
			}
		case <-timeout:
			t.Fatalf("no message on %s", topic)
		}
	}
}
