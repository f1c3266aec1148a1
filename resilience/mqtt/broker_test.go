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
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/resilience/mqtt/mqtttest"
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

// pki is the test CA of package mqtttest, which issues the broker's
// certificate and the devices'.
type pki struct {
	*mqtttest.CA
	dir string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, err := mqtttest.NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{CA: ca, dir: dir}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clientTLS returns a client configuration for identity cn whose key is
// an opaque crypto.Signer, as iface.ClientTLS would build it.
func (p *pki) clientTLS(t testing.TB, cn string) *tls.Config {
	t.Helper()
	signer := opaqueSigner{mustKey(t)}
	der, err := p.Issue(cn, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      p.Pool(),
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: signer}},
	}
}

// broker is one Mosquitto process (package mqtttest) on a fixed loopback
// port, so that it can be killed and restarted at the same address.
type broker struct {
	*mqtttest.Broker
	t    testing.TB
	addr string
}

// brokerOptions vary the broker's configuration.
type brokerOptions struct {
	// noClientCerts turns mutual TLS off (anonymous clients allowed), for
	// the test that the TLS self-check then fails.
	noClientCerts bool
}

// startBroker starts the broker of design/MQTT.md — mutual TLS, the
// certificate's CN as user name, ACL "pattern readwrite devices/%u/#" plus
// a "service" identity that may use every device's topics — and kills it
// when the test ends, printing its log if the test failed.
func startBroker(t testing.TB, p *pki, opt brokerOptions) *broker {
	t.Helper()
	bin := testenv.LookPath(t, "mosquitto")
	b, err := mqtttest.StartBroker(mqtttest.BrokerConfig{Mosquitto: bin, Dir: t.TempDir(), CA: p.CA, InsecureNoClientCerts: opt.noClientCerts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() {
			if lg, err := b.Log(); err == nil {
				t.Logf("mosquitto log:\n%s", lg)
			}
		}
	})
	return &broker{Broker: b, t: t, addr: b.Addr()}
}

// start starts the broker again and waits until it accepts connections.
func (b *broker) start() {
	b.t.Helper()
	if err := b.Start(); err != nil {
		b.t.Fatal(err)
	}
}

// kill stops the broker with SIGKILL: no will is lost, no session saved,
// in-flight messages die with it.
func (b *broker) kill() { b.Kill() }

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
