// Package mqtttest runs a real Mosquitto for the tests and benchmarks of
// MQTT devices: a test CA that issues the broker's certificate and one
// certificate (with its own key) per device, a broker on loopback with
// mutual TLS, use_identity_as_username and a per-device ACL that can be
// killed and restarted on the same port, and a fleet run (RunFleet) that
// connects many real resilience/mqtt Links to it, restarts it and records
// how the fleet comes back.
//
// It is test support: the CA's key lives in memory and in files under the
// directory given, certificates are valid for a day, and nothing here
// belongs in a device.
package mqtttest

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// CA is a test certificate authority: it issues the broker's certificate
// (for 127.0.0.1) and the devices' client certificates.
type CA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
	dir  string

	mu     sync.Mutex
	serial int64
}

// NewCA creates a CA and the broker's certificate and key in dir
// (ca.pem, server.pem, server.key).
func NewCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
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
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{key: key, cert: cert, pool: x509.NewCertPool(), dir: dir, serial: 100}
	ca.pool.AddCert(cert)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvDER, err := ca.issue("broker", srvKey, true)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{"ca.pem", "CERTIFICATE", der}, {"server.pem", "CERTIFICATE", srvDER}, {"server.key", "EC PRIVATE KEY", kb}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

// Pool returns a pool holding only the CA: the devices' pinned root.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

func (ca *CA) issue(cn string, pub crypto.Signer, server bool) ([]byte, error) {
	ca.mu.Lock()
	ca.serial++
	sn := ca.serial
	ca.mu.Unlock()
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
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub.Public(), ca.key)
}

// Dir returns the directory holding ca.pem, server.pem and server.key.
func (ca *CA) Dir() string { return ca.dir }

// Issue returns a client certificate (DER) with common name cn for the
// public key of key, which may be a key the CA never sees the private half
// of: a TPM's or a PKCS#11 token's crypto.Signer.
func (ca *CA) Issue(cn string, key crypto.Signer) ([]byte, error) {
	return ca.issue(cn, key, false)
}

// DeviceTLS returns the client configuration of a device whose identity
// is cn: a fresh ECDSA P-256 key of its own and a certificate with common
// name cn, the CA pinned as the only root — what iface.ClientTLS builds
// on a device.
func (ca *CA) DeviceTLS(cn string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := ca.issue(cn, key, false)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      ca.pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}, nil
}

// ServiceIdentity is the common name the broker's ACL lets use every
// device's topics (the associated service's side).
const ServiceIdentity = "service"

// Broker is one Mosquitto process on a fixed loopback port, so that it can
// be killed and started again at the same address.
type Broker struct {
	bin, conf, log, addr, acl string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
}

// BrokerConfig configures StartBroker.
type BrokerConfig struct {
	// Mosquitto is the path of the mosquitto binary.
	Mosquitto string
	// Dir holds the configuration, the ACL and the log.
	Dir string
	// CA issued the broker's certificate and verifies the devices'.
	CA *CA
	// InsecureNoClientCerts configures a broker that does not ask for
	// client certificates and admits anonymous clients: the
	// misconfiguration a device's TLS self-check must catch.
	InsecureNoClientCerts bool
}

// StartBroker writes a Mosquitto configuration — a TLS listener on a free
// loopback port, require_certificate, use_identity_as_username, the ACL
// "pattern readwrite devices/%u/#" plus ServiceIdentity allowed
// devices/#, no persistence, connections logged — and starts the broker.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Mosquitto == "" || cfg.Dir == "" || cfg.CA == nil {
		return nil, errors.New("mqtttest: BrokerConfig needs Mosquitto, Dir and CA")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	acl := filepath.Join(cfg.Dir, "acl")
	if err := os.WriteFile(acl, []byte(DefaultACL), 0o600); err != nil {
		return nil, err
	}
	var c strings.Builder
	fmt.Fprintf(&c, "per_listener_settings false\nlistener %s 127.0.0.1\nmax_connections -1\n", port)
	d := cfg.CA.dir
	fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\n", filepath.Join(d, "ca.pem"), filepath.Join(d, "server.pem"), filepath.Join(d, "server.key"))
	if cfg.InsecureNoClientCerts {
		c.WriteString("require_certificate false\nallow_anonymous true\n")
	} else {
		fmt.Fprintf(&c, "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\nacl_file %s\n", acl)
	}
	c.WriteString("persistence false\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_timestamp true\n")
	logFile := filepath.Join(cfg.Dir, "mosquitto.log")
	fmt.Fprintf(&c, "log_dest file %s\n", logFile)
	if os.Geteuid() == 0 {
		c.WriteString("user root\n")
	}
	conf := filepath.Join(cfg.Dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(c.String()), 0o600); err != nil {
		return nil, err
	}
	b := &Broker{bin: cfg.Mosquitto, conf: conf, log: logFile, addr: addr, acl: acl}
	return b, b.Start()
}

// Addr returns the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// Start starts the broker (again) and waits until it accepts connections.
func (b *Broker) Start() error {
	cmd := exec.Command(b.bin, "-c", b.conf)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mqtttest: starting mosquitto: %w", err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	b.mu.Lock()
	b.cmd, b.exit = cmd, exit
	b.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exit:
			lg, _ := os.ReadFile(b.log)
			return fmt.Errorf("mqtttest: mosquitto exited at start\n%s", lastLines(lg, 20))
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Kill()
			return fmt.Errorf("mqtttest: mosquitto did not listen on %s", b.addr)
		}
	}
}

// Kill stops the broker with SIGKILL — no will is lost, no session saved,
// what was in flight dies with it — and waits until it has exited.
func (b *Broker) Kill() {
	b.mu.Lock()
	cmd, exit := b.cmd, b.exit
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill() // SIGKILL
	<-exit
}

// DefaultACL is the broker's ACL: ServiceIdentity may use every device's
// topics, each device only its own.
const DefaultACL = "user " + ServiceIdentity + "\ntopic readwrite devices/#\n\npattern readwrite devices/%u/#\n"

// SetACL replaces the broker's ACL file (Mosquitto's acl_file syntax) and
// makes the running broker reload it (SIGHUP); connected clients keep
// their connections and are judged by the new rules from their next
// message on.
func (b *Broker) SetACL(acl string) error {
	if err := os.WriteFile(b.acl, []byte(acl), 0o600); err != nil {
		return err
	}
	b.mu.Lock()
	cmd := b.cmd
	b.mu.Unlock()
	if cmd == nil {
		return nil
	}
	return cmd.Process.Signal(syscall.SIGHUP)
}

// Log returns the broker's log.
func (b *Broker) Log() ([]byte, error) { return os.ReadFile(b.log) }

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}

// Connects returns, from the broker's own log, the second (Unix time) of
// every CONNECT the broker accepted ("New client connected"): the
// broker-side count of connections, at the one-second resolution of
// Mosquitto's log timestamps.
func (b *Broker) Connects() ([]int64, error) {
	f, err := os.Open(b.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		ts, rest, ok := strings.Cut(line, ": ")
		if !ok || !strings.HasPrefix(rest, "New client connected") {
			continue
		}
		if s, err := strconv.ParseInt(ts, 10, 64); err == nil {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}
