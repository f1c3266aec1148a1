package main

// The plug against a real Mosquitto: mutual TLS with the plug's identity
// key and a certificate issued for its own -identity-csr, use_identity_as_
// username and a per-device ACL, as /work/shared/design/MQTT.md and
// resilience/mqtt's broker_test.go run it. Nothing is mocked.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/privacy"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
	"github.com/iotbaseline/baseline/secrets"
)

// mqWait bounds every wait: a guard against a hang, not a speed assertion.
const mqWait = 30 * time.Second

// testCA is the maker's CA in these tests: it issues the broker's
// certificate, the plug's (from the plug's CSR) and the service's.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	dir  string
	pool *x509.CertPool
	n    int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Devices test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{key: key, cert: cert, dir: t.TempDir(), pool: x509.NewCertPool(), n: 1}
	ca.pool.AddCert(cert)
	writePEMFile(t, ca.path("ca.pem"), "CERTIFICATE", der)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	writePEMFile(t, ca.path("server.pem"), "CERTIFICATE", ca.issue(t, "broker", srvKey.Public(), true))
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	writePEMFile(t, ca.path("server.key"), "EC PRIVATE KEY", kb)
	return ca
}

func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

func writePEMFile(t *testing.T, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (ca *testCA) issue(t *testing.T, cn string, pub crypto.PublicKey, server bool) []byte {
	t.Helper()
	ca.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// clientTLS is a certificate for cn with a fresh key, or with signer.
func (ca *testCA) clientTLS(t *testing.T, cn string, signer crypto.Signer, certDER []byte) *tls.Config {
	t.Helper()
	if signer == nil {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		signer = k
		certDER = ca.issue(t, cn, k.Public(), false)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{certDER}, PrivateKey: signer}}}
}

// mosquitto is one broker process on a fixed loopback port.
type mosquitto struct {
	t                    *testing.T
	bin, conf, log, addr string
	mu                   sync.Mutex
	cmd                  *exec.Cmd
}

// startMosquitto: mutual TLS, the certificate's CN as user name, the ACL
// "pattern readwrite devices/%u/#" and a "service" identity that may use
// every device's topics.
func startMosquitto(t *testing.T, ca *testCA) *mosquitto {
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
	os.WriteFile(acl, []byte("user service\ntopic readwrite devices/#\n\npattern readwrite devices/%u/#\n"), 0o600)
	var c strings.Builder
	fmt.Fprintf(&c, "per_listener_settings false\nlistener %s 127.0.0.1\n", port)
	fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\n", ca.path("ca.pem"), ca.path("server.pem"), ca.path("server.key"))
	fmt.Fprintf(&c, "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\nacl_file %s\n", acl)
	c.WriteString("persistence false\nmessage_size_limit 65536\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
	m := &mosquitto{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log"), addr: addr}
	fmt.Fprintf(&c, "log_dest file %s\n", m.log)
	if os.Geteuid() == 0 {
		c.WriteString("user root\n")
	}
	os.WriteFile(m.conf, []byte(c.String()), 0o600)
	m.start()
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			if lg, err := os.ReadFile(m.log); err == nil {
				t.Logf("mosquitto log:\n%s", lg)
			}
		}
	})
	return m
}

func (m *mosquitto) start() {
	m.t.Helper()
	cmd := exec.Command(m.bin, "-c", m.conf)
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("starting mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	m.mu.Lock()
	m.cmd = cmd
	m.mu.Unlock()
	deadline := time.Now().Add(mqWait)
	for {
		if c, err := net.DialTimeout("tcp", m.addr, time.Second); err == nil {
			c.Close()
			go func() { <-exited }()
			return
		}
		select {
		case err := <-exited:
			lg, _ := os.ReadFile(m.log)
			m.t.Fatalf("mosquitto exited at start: %v\n%s", err, lg)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not listen on %s", m.addr)
		}
	}
}

// kill stops the broker by its process id and waits until it is gone.
func (m *mosquitto) kill() {
	m.mu.Lock()
	cmd := m.cmd
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(mqWait)
	for time.Now().Before(deadline) && syscall.Kill(cmd.Process.Pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

type mqMsg struct {
	topic   string
	payload []byte
}

// mqClient connects a plain paho client with tlsCfg and subscribes to
// filters; it returns what arrives.
func mqClient(t *testing.T, m *mosquitto, id string, tlsCfg *tls.Config, filters ...string) (paho.Client, chan mqMsg) {
	t.Helper()
	ch := make(chan mqMsg, 512)
	opts := paho.NewClientOptions().AddBroker("tls://" + m.addr).SetClientID(fmt.Sprintf("%s-%d", id, time.Now().UnixNano())).
		SetTLSConfig(tlsCfg).SetAutoReconnect(false).SetProtocolVersion(4).SetCleanSession(true).SetConnectTimeout(mqWait)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(mqWait) || tok.Error() != nil {
		t.Fatalf("%s connecting: %v", id, tok.Error())
	}
	for _, f := range filters {
		tok := c.Subscribe(f, 1, func(_ paho.Client, msg paho.Message) {
			ch <- mqMsg{topic: msg.Topic(), payload: append([]byte(nil), msg.Payload()...)}
		})
		if !tok.WaitTimeout(mqWait) || tok.Error() != nil {
			t.Fatalf("%s subscribing %s: %v", id, f, tok.Error())
		}
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, ch
}

// nextOn returns the next message on topic, skipping others.
func nextOn(t *testing.T, ch chan mqMsg, topic string) mqMsg {
	t.Helper()
	timeout := time.After(mqWait)
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

// quietOn fails if a message on topic arrives within d.
func quietOn(t *testing.T, ch chan mqMsg, topic string, d time.Duration, why string) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-ch:
			if m.topic == topic {
				t.Fatalf("%s: %s arrived: %s", why, topic, m.payload)
			}
		case <-timeout:
			return
		}
	}
}

// drain discards what has arrived so far.
func drain(ch chan mqMsg) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// openEnv splits the link's envelope and decodes the JSON payload.
func openEnv(t *testing.T, m mqMsg, v any) string {
	t.Helper()
	key, payload, err := mqtt.OpenEnvelope(m.payload)
	if err != nil || key == "" {
		t.Fatalf("%s: envelope %q: %v", m.topic, m.payload, err)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		t.Fatalf("%s: payload %q: %v", m.topic, payload, err)
	}
	return key
}

// provisionedPlug makes a factory record with `baseline provision`, has the
// plug print its CSR from it (-identity-csr), and issues the certificate
// for it as the maker's CA would. It returns the state directory, the
// label's setup secret, the device ID, the certificate file and the
// plug's public identity key.
func provisionedPlug(t *testing.T, ca *testCA) (state, secret, deviceID, certFile string, pub crypto.PublicKey) {
	t.Helper()
	bin, cli := binaries(t)
	dir := t.TempDir()
	labels, records := filepath.Join(dir, "labels.csv"), filepath.Join(dir, "records")
	if out, err := exec.Command(cli, "provision", "--model", "SP-100 Smart Plug", "--count", "1", "--serial-prefix", "SP100-",
		"--labels", labels, "--records", records).CombinedOutput(); err != nil {
		t.Fatalf("baseline provision: %v\n%s", err, out)
	}
	lb, _ := os.ReadFile(labels)
	secret = strings.Split(strings.Split(strings.TrimSpace(string(lb)), "\n")[1], ",")[2]
	state = filepath.Join(dir, "state")

	// An unprovisioned plug without a record refuses: its setup secret
	// would be printed nowhere.
	if out, err := exec.Command(bin, "--state", filepath.Join(dir, "other"), "-identity-csr").CombinedOutput(); err == nil || !strings.Contains(string(out), "not provisioned") {
		t.Errorf("-identity-csr on a new plug without --provision: %v %s", err, out)
	}
	cmd := exec.Command(bin, "--state", state, "--provision", filepath.Join(records, "SP100-000001.json"), "-identity-csr")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("-identity-csr: %v\n%s", err, stderr.Bytes())
	}
	blk, rest := pem.Decode(out)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("-identity-csr printed %q", out)
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR: %v / signature %v", err, csr.CheckSignature())
	}
	var ident identityFile
	b, _ := os.ReadFile(filepath.Join(state, "identity.json"))
	if err := json.Unmarshal(b, &ident); err != nil || csr.Subject.CommonName != ident.DeviceID || csr.Subject.SerialNumber != "SP100-000001" {
		t.Fatalf("CSR subject %v, identity %s (%v)", csr.Subject, b, err)
	}
	// Nothing secret in the request: the setup secret stays on the label.
	if bytes.Contains(out, []byte(secret)) {
		t.Fatal("the CSR output holds the setup secret")
	}
	certFile = filepath.Join(dir, "plug-cert.pem")
	writePEMFile(t, certFile, "CERTIFICATE", ca.issue(t, csr.Subject.CommonName, csr.PublicKey, false))
	return state, secret, ident.DeviceID, certFile, csr.PublicKey
}

// TestCloudFlagsRefuseInsecure: the plug refuses a service it could only
// reach without TLS or without its certificate, before it touches its
// state.
func TestCloudFlagsRefuseInsecure(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cloud", "mqtt://broker.example:1883", "--cloud-ca", "x", "--cloud-cert", "y"}, "only mqtts://"},
		{[]string{"--cloud", "tcp://broker.example:1883", "--cloud-ca", "x", "--cloud-cert", "y"}, "only mqtts://"},
		{[]string{"--cloud", "broker.example:8883", "--cloud-ca", "x", "--cloud-cert", "y"}, "mqtts://"},
		{[]string{"--cloud", "mqtts://user:pw@broker.example", "--cloud-ca", "x", "--cloud-cert", "y"}, "no user"},
		{[]string{"--cloud", "mqtts://broker.example/devices", "--cloud-ca", "x", "--cloud-cert", "y"}, "no user, path"},
		{[]string{"--cloud", "mqtts://broker.example:99999", "--cloud-ca", "x", "--cloud-cert", "y"}, "invalid port"},
		{[]string{"--cloud", "mqtts://broker.example"}, "needs --cloud-ca"},
		{[]string{"--cloud-ca", "ca.pem"}, "--cloud-ca needs --cloud"},
		{[]string{"--telemetry-interval", "10ms"}, "--telemetry-interval"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(tc.args, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	o, err := parseFlags([]string{"--cloud", "mqtts://broker.example", "--cloud-ca", "x", "--cloud-cert", "y"}, &bytes.Buffer{})
	if err != nil || o.cloud != "mqtts://broker.example:8883" {
		t.Errorf("mqtts without port: %q %v", o.cloud, err)
	}
	o, err = parseFlags(nil, &bytes.Buffer{})
	if err != nil || o.cloud != "" {
		t.Errorf("default: cloud %q %v; want fully local", o.cloud, err)
	}
}

// TestCloudMQTT runs the plug against Mosquitto and watches from the
// service's side: presence, switch reports with idempotency keys, telemetry
// only for consented purposes and nothing after withdrawal, commands signed
// or refused with their results reported, reports kept while the broker is
// down and delivered after, and the plug's own certificate confined to its
// own topics by the broker.
func TestCloudMQTT(t *testing.T) {
	testenv.Short(t, "smartplug against Mosquitto")
	ca := newTestCA(t)
	broker := startMosquitto(t, ca)
	state, secret, devID, certFile, devicePub := provisionedPlug(t, ca)
	cmdKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(cmdKey.Public())
	keyFile := filepath.Join(t.TempDir(), "command-key.pem")
	writePEMFile(t, keyFile, "PUBLIC KEY", pubDER)

	svc, got := mqClient(t, broker, "service", ca.clientTLS(t, "service", nil, nil), "devices/+/msg/#", "devices/+/state")
	root := "devices/" + devID
	cloudArgs := []string{"--cloud", "mqtts://" + broker.addr, "--cloud-ca", ca.path("ca.pem"), "--cloud-cert", certFile,
		"--cloud-command-key", keyFile, "--telemetry-interval", "1s", "--cloud-fleet-size", "1", "--cloud-capacity", "100"}
	p := startPlug(t, state, cloudArgs...)
	if p.secret != "" {
		t.Fatalf("a factory-provisioned plug printed a setup secret")
	}
	if m := nextOn(t, got, root+"/state"); string(m.payload) != mqtt.StateOnline {
		t.Fatalf("presence = %q", m.payload)
	}
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}

	// A switch report, with its idempotency key.
	if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true}); r.code != 200 {
		t.Fatalf("switch = %d %s", r.code, r.body)
	}
	var st plugState
	key1 := openEnv(t, nextOn(t, got, root+"/msg/plug.state"), &st)
	if !st.On || st.Changed.IsZero() {
		t.Errorf("switch report %+v", st)
	}
	jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": false})
	if key2 := openEnv(t, nextOn(t, got, root+"/msg/plug.state"), &st); key2 == key1 || st.On {
		t.Errorf("second report: key %q (first %q), %+v", key2, key1, st)
	}

	// No consent: no telemetry, though a record is made every second.
	telTopic := root + "/msg/telemetry"
	quietOn(t, got, telTopic, 2500*time.Millisecond, "telemetry without consent")

	// Consent to usage statistics only: its fields arrive, minimised; the
	// diagnostics fields and the never-sent field do not.
	var priv privacyState
	r := do(t, c, "GET", p.url("/api/privacy"), "", "")
	if err := json.Unmarshal([]byte(r.body), &priv); err != nil || !priv.Configured {
		t.Fatalf("GET /api/privacy = %d %v %.300s", r.code, err, r.body)
	}
	decide := func(purpose, decision string) {
		t.Helper()
		r := jsonDo(t, c, "POST", p.url("/api/privacy/consent"), map[string]string{"purpose": purpose, "decision": decision, "notice_sha256": priv.Notice.SHA256})
		if r.code != 200 || !strings.Contains(r.body, `"pii_principal_id": "owner"`) {
			t.Fatalf("%s %s = %d %s", decision, purpose, r.code, r.body)
		}
	}
	decide("usage-statistics", "give")
	jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true})
	var tel telemetryPayload
	for i := 0; i < 2; i++ {
		openEnv(t, nextOn(t, got, telTopic), &tel)
		var body map[string]any
		json.Unmarshal(tel.Body, &body)
		if !slices.Equal(tel.Purposes, []string{"usage-statistics"}) || tel.Recipient != "example-service" {
			t.Fatalf("telemetry %+v", tel)
		}
		for _, f := range []string{"uptime_h", "fw_version", "last_switch_at"} {
			if _, ok := body[f]; ok {
				t.Errorf("telemetry carries %s without consent or against its rule: %s", f, tel.Body)
			}
		}
		if _, ok := body["switch_count"].(string); !ok {
			t.Errorf("switch_count not bucketed: %s", tel.Body)
		}
		if _, ok := body["on_share"].(float64); !ok {
			t.Errorf("on_share missing: %s", tel.Body)
		}
	}

	// Withdrawal: the service gets the signed receipt; after the one
	// message possibly in flight, nothing more.
	decide("usage-statistics", "withdraw")
	var rc privacy.Receipt
	for rc.Event.State != privacy.Withdrawn {
		openEnv(t, nextOn(t, got, root+"/msg/consent"), &rc)
	}
	if err := privacy.VerifyReceipt(&rc, devicePub); err != nil || rc.Processing.Purpose != "usage-statistics" {
		t.Errorf("withdrawal receipt at the service: %v %+v", err, rc.Processing)
	}
	time.Sleep(500 * time.Millisecond)
	drain(got)
	quietOn(t, got, telTopic, 3500*time.Millisecond, "telemetry after withdrawal")

	// Diagnostics only: the other purpose's fields.
	decide("diagnostics", "give")
	openEnv(t, nextOn(t, got, telTopic), &tel)
	if !slices.Equal(tel.Purposes, []string{"diagnostics"}) || !strings.Contains(string(tel.Body), `"fw_version":"`) || strings.Contains(string(tel.Body), "switch_count") {
		t.Errorf("diagnostics telemetry %+v %s", tel, tel.Body)
	}
	decide("diagnostics", "withdraw")

	// Commands: an unsigned one that changes a setting is refused and
	// nothing runs; a harmless one runs; a signed one runs, but may not
	// make the period shorter than the configured one; each result comes
	// back.
	cmdTopic := root + "/cmd"
	resTopic := root + "/msg/cmd.result"
	unsigned, _ := mqtt.EncodeCommand(rand.Reader, nil, mqtt.CommandRequest{Device: devID, Name: "set-telemetry-interval", Args: json.RawMessage(`{"seconds":5}`)})
	publishQoS1(t, svc, cmdTopic, unsigned)
	ping, _ := mqtt.EncodeCommand(rand.Reader, nil, mqtt.CommandRequest{Device: devID, Name: "ping"})
	publishQoS1(t, svc, cmdTopic, ping)
	var res commandResult
	openEnv(t, nextOn(t, got, resTopic), &res)
	if res.Name != "ping" || !res.OK || res.Signed {
		t.Errorf("ping result %+v (the unsigned set-telemetry-interval must not have run)", res)
	}
	signed, err := mqtt.EncodeCommand(rand.Reader, cmdKey, mqtt.CommandRequest{Device: devID, Name: "set-telemetry-interval", Seq: 1,
		Expires: time.Now().Add(time.Minute), Args: json.RawMessage(`{"seconds":7}`)})
	if err != nil {
		t.Fatal(err)
	}
	publishQoS1(t, svc, cmdTopic, signed)
	openEnv(t, nextOn(t, got, resTopic), &res)
	if res.Name != "set-telemetry-interval" || !res.OK || !res.Signed || res.Seq != 1 {
		t.Errorf("signed command result %+v", res)
	}
	r = do(t, c, "GET", p.url("/api/privacy"), "", "")
	if !strings.Contains(r.body, `"telemetry_interval": "7s"`) {
		t.Errorf("the signed command did not set the interval: %.400s", r.body)
	}

	// The self-check observes the live link.
	r = do(t, c, "GET", p.url("/api/selfcheck"), "", "")
	var rep struct {
		Results []struct{ ID, Verdict, Method, Detail, Observed string } `json:"results"`
	}
	json.Unmarshal([]byte(r.body), &rep)
	verdicts := map[string]string{}
	for _, res := range rep.Results {
		verdicts[res.ID] = res.Verdict + " " + res.Method
		if strings.HasPrefix(res.ID, "resilience.mqtt.commands") && !strings.Contains(res.Observed, "unsigned 1") {
			t.Errorf("the refused unsigned command is not counted: %s", res.Observed)
		}
	}
	for id, want := range map[string]string{"resilience.mqtt.tls": "PASS measured", "resilience.mqtt.delivery": "PASS measured",
		"resilience.mqtt.commands": "PASS measured", "resilience.reconnect-policy.cloud": "PASS measured",
		"privacy.consent-ledger": "PASS measured", "privacy.telemetry": "PASS measured"} {
		if verdicts[id] != want {
			t.Errorf("self-check %s = %q, want %s", id, verdicts[id], want)
		}
	}

	// The plug's own statement: the answers this link backs are measured
	// PASS, and no named check is missing.
	r = do(t, c, "GET", p.url("/api/ics"), "", "")
	var ics struct {
		Provisions []struct{ ID, Verdict, Basis string }        `json:"provisions"`
		Problems   []struct{ Provision, Field, Message string } `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.body), &ics); err != nil {
		t.Fatalf("ICS: %v", err)
	}
	linked := 0
	for _, e := range ics.Provisions {
		switch e.ID {
		case "5.5-1", "5.5-5", "5.9-2", "5.9-3", "6-2", "6-3", "6-4", "6-5":
			linked++
			if e.Verdict != "PASS" {
				t.Errorf("ICS %s = %s (%s)", e.ID, e.Verdict, e.Basis)
			}
		}
	}
	if linked != 8 {
		t.Errorf("the ICS lists %d of the 8 provisions the link backs: %.300s", linked, r.body)
	}
	for _, pb := range ics.Problems {
		if pb.Field == "evidence" || pb.Field == "checks" {
			t.Errorf("ICS problem %s: %s: %s", pb.Provision, pb.Field, pb.Message)
		}
	}

	// The broker goes away: the plug keeps switching, the reports wait on
	// flash — through a restart of the plug too — and arrive once the
	// broker is back. (The plug is restarted after the service has
	// subscribed again: a plug that reconnected first would deliver to a
	// broker with no subscriber yet, and the test would lose the race.)
	broker.kill()
	for _, on := range []bool{false, true} {
		if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": on}); r.code != 200 {
			t.Fatalf("switch while the broker is down = %d %s", r.code, r.body)
		}
	}
	if r := do(t, c, "GET", p.url("/"), "", ""); !strings.Contains(r.body, "waiting to be sent") {
		t.Errorf("home page does not show the waiting reports:\n%.1500s", r.body)
	}
	p.stop()
	<-p.done
	broker.start()
	_, got = mqClient(t, broker, "service2", ca.clientTLS(t, "service", nil, nil), "devices/+/msg/plug.state")
	p = startPlug(t, state, cloudArgs...)
	var seen []bool
	for len(seen) < 2 {
		openEnv(t, nextOn(t, got, root+"/msg/plug.state"), &st)
		seen = append(seen, st.On)
	}
	if !slices.Equal(seen, []bool{false, true}) {
		t.Errorf("reports after the outage: %v", seen)
	}

	// The plug's own certificate and key (read from its sealed store once
	// it has stopped) can publish under its own prefix only.
	p.stop()
	if backendName != "soft" {
		return
	}
	ctx := context.Background()
	kek, err := openKEK(ctx, state, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(state, "secrets"), KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	certDER, err := readPEMBlocks(certFile, "CERTIFICATE")
	if err != nil {
		t.Fatal(err)
	}
	_, watch := mqClient(t, broker, "service3", ca.clientTLS(t, "service", nil, nil), "devices/#")
	asPlug, _ := mqClient(t, broker, devID, ca.clientTLS(t, devID, id, certDER[0]))
	publishQoS1(t, asPlug, "devices/other-plug/msg/plug.state", []byte("forged"))
	publishQoS1(t, asPlug, root+"/msg/acl-control", []byte("own"))
	timeout := time.After(mqWait)
	for {
		select {
		case m := <-watch:
			if m.topic == "devices/other-plug/msg/plug.state" {
				t.Fatalf("the broker let the plug's certificate publish under another device's prefix: %s", m.payload)
			}
			if m.topic == root+"/msg/acl-control" {
				return // published after the forged one, on the same connection
			}
		case <-timeout:
			t.Fatal("the plug's certificate could not publish under its own prefix")
		}
	}
}

func publishQoS1(t *testing.T, c paho.Client, topic string, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(mqWait) || tok.Error() != nil {
		t.Fatalf("publishing %s: %v", topic, tok.Error())
	}
}

// TestPublishQueues: publish (for messages such as a deletion request)
// queues on flash at the highest priority without expiry when a service is
// configured, and refuses without one.
func TestPublishQueues(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	local := &cloudLink{outbox: ob}
	if err := local.publish(ctx, "erase.request", []byte(`{}`)); !errors.Is(err, errNoService) {
		t.Errorf("publish without a service = %v", err)
	}
	if n := ob.Stats().Pending; n != 0 {
		t.Fatalf("%d messages queued without a service", n)
	}
	c := &cloudLink{outbox: ob, broker: "broker.invalid:8883"}
	if err := c.publish(ctx, "erase.request", []byte(`{"serial":"SP100-1"}`)); err != nil {
		t.Fatal(err)
	}
	pend := ob.Pending(0)
	if len(pend) != 1 || pend[0].Topic != "erase.request" || pend[0].Priority != resilience.PriorityCritical || pend[0].TTL != 0 || pend[0].Key == "" {
		t.Errorf("queued %+v", pend)
	}
}

// TestWithdrawalDiscardsQueuedTelemetry: telemetry of a withdrawn purpose
// that still waits in the outbox (the service is down) is discarded, and
// nothing else is.
func TestWithdrawalDiscardsQueuedTelemetry(t *testing.T) {
	ctx := context.Background()
	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	c := &cloudLink{outbox: ob, broker: "broker.invalid:8883"}
	tel := &telemetry{cloud: c}
	tel.interval.Store(int64(time.Hour))
	c.tel = tel
	for _, purposes := range [][]string{{"usage-statistics"}, {"diagnostics"}, {"diagnostics", "usage-statistics"}} {
		if err := tel.Send(ctx, privacy.Message{Recipient: "example-service", Purposes: purposes, Body: []byte(`{"x":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	c.report(ctx, plugState{On: true, Changed: time.Now()})
	n, err := tel.discardPending(ctx, "usage-statistics")
	if err != nil || n != 2 {
		t.Fatalf("discarded %d, %v; want 2", n, err)
	}
	var left []string
	for _, m := range ob.Pending(0) {
		left = append(left, m.Topic+" "+string(m.Payload))
	}
	if len(left) != 2 || !strings.Contains(strings.Join(left, "\n"), `"purposes":["diagnostics"]`) || !strings.Contains(strings.Join(left, "\n"), "plug.state") {
		t.Errorf("left in the outbox: %q", left)
	}
}

// TestBootIntegrityAlertReachesService: with the associated service
// configured (real Mosquitto, mutual TLS, per-device ACL), a plug whose
// slot image was changed while it was off starts restricted and its
// boot-integrity alert arrives at the service on devices/<id>/msg/alert;
// while restricted it sends no switch reports.
func TestBootIntegrityAlertReachesService(t *testing.T) {
	testenv.Short(t, "smartplug boot-integrity alert through Mosquitto")
	ca := newTestCA(t)
	broker := startMosquitto(t, ca)
	state, secret, devID, certFile, _ := provisionedPlug(t, ca)
	_, got := mqClient(t, broker, "service", ca.clientTLS(t, "service", nil, nil), "devices/+/msg/#", "devices/+/state")
	root := "devices/" + devID
	cloudArgs := []string{"--cloud", "mqtts://" + broker.addr, "--cloud-ca", ca.path("ca.pem"), "--cloud-cert", certFile,
		"--cloud-fleet-size", "1", "--cloud-capacity", "100"}
	p := startPlug(t, state, cloudArgs...)
	nextOn(t, got, root+"/state")
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	p.stop()
	<-p.done

	flipSlots(t, state)
	p = startPlug(t, state, cloudArgs...)
	var alert struct {
		Kind    string    `json:"kind"`
		Finding string    `json:"finding"`
		Time    time.Time `json:"time"`
	}
	openEnv(t, nextOn(t, got, root+"/msg/alert"), &alert)
	if alert.Kind != "boot-integrity" || !strings.Contains(alert.Finding, "does not match") || alert.Time.IsZero() {
		t.Fatalf("alert at the service: %+v", alert)
	}
	c = p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("login while restricted = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true}); r.code != 503 {
		t.Errorf("switching while restricted = %d %s; want 503", r.code, r.body)
	}
	quietOn(t, got, root+"/msg/plug.state", 1500*time.Millisecond, "switch report while restricted")
}
