package mqtt_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// device is a Link with its outbox, run by a Supervisor whose waits the
// test releases one by one (gated) or lets pass after the policy's short
// delays.
type device struct {
	t      *testing.T
	link   *mqtt.Link
	ob     *resilience.Outbox
	sup    *resilience.Supervisor
	gate   chan struct{}
	events chan resilience.Event
	cancel context.CancelFunc
	done   chan struct{}
}

// testPolicy is a declared fleet of one with short windows, so an
// ungated device retries within tens of milliseconds.
var testPolicy = resilience.Policy{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond, FleetSize: 1, ServiceCapacity: 50}

func openOutbox(t *testing.T, dir string, cfg resilience.OutboxConfig) *resilience.Outbox {
	t.Helper()
	cfg.Dir = dir
	ob, err := resilience.OpenOutbox(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// startDevice runs cfg's Link under a Supervisor. With gated, every
// connection attempt waits for d.allow().
func startDevice(t *testing.T, cfg mqtt.Config, gated bool) *device {
	t.Helper()
	link, err := mqtt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{t: t, link: link, ob: cfg.Outbox, gate: make(chan struct{}, 16),
		events: make(chan resilience.Event, 1024), done: make(chan struct{})}
	d.sup = resilience.NewSupervisor(resilience.SupervisorConfig{
		Policy: testPolicy,
		OnEvent: func(e resilience.Event) {
			select {
			case d.events <- e:
			default:
			}
		},
		Sleep: func(ctx context.Context, wait time.Duration) error {
			var after <-chan time.Time
			if !gated {
				after = time.After(wait)
			}
			select {
			case <-d.gate:
				return nil
			case <-after:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	if err := d.sup.Add("cloud", link.Connect); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { defer close(d.done); d.sup.Run(ctx) }()
	t.Cleanup(d.stop)
	return d
}

// stop ends the supervisor (the link says "offline" and disconnects).
func (d *device) stop() {
	d.cancel()
	<-d.done
}

func (d *device) allow() { d.gate <- struct{}{} }

// waitEvent waits for an event of the given kind.
func (d *device) waitEvent(kind resilience.EventKind) resilience.Event {
	d.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case e := <-d.events:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			d.t.Fatalf("no %v event", kind)
		}
	}
}

func (d *device) enqueue(msgs ...resilience.Message) {
	d.t.Helper()
	if err := d.ob.Enqueue(context.Background(), msgs...); err != nil {
		d.t.Fatal(err)
	}
}

func pendingKeys(ob *resilience.Outbox) []string {
	var keys []string
	for _, m := range ob.Pending(0) {
		keys = append(keys, m.Key)
	}
	slices.Sort(keys)
	return keys
}

// runCheck runs the check with the given ID from the link's Checks.
func runCheck(t *testing.T, l *mqtt.Link, id string) conformance.Result {
	t.Helper()
	for _, c := range l.Checks() {
		if c.ID == id {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			return c.Run(ctx)
		}
	}
	t.Fatalf("no check %s", id)
	return conformance.Result{}
}

func open(t *testing.T, m msg) (string, string) {
	t.Helper()
	key, body, err := mqtt.OpenEnvelope(m.payload)
	if err != nil {
		t.Fatalf("envelope on %s: %v", m.topic, err)
	}
	return key, string(body)
}

// TestDeliveryOverMutualTLS: messages from the outbox reach the service
// over mutual TLS with the device identity, each with its idempotency
// key, under the documented topics; they leave the outbox only after the
// broker's PUBACK; presence is retained "online"; the self-checks observe
// the live connection.
func TestDeliveryOverMutualTLS(t *testing.T) {
	testenv := newPKI(t)
	b := startBroker(t, testenv, brokerOptions{})
	_, svc := testenv.client(t, b, "service", "devices/+/msg/#", "devices/dev1/state")
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{})
	defer ob.Close()
	d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: testenv.clientTLS(t, "dev1"), Outbox: ob}, false)
	d.waitEvent(resilience.EventOnline)
	if m := next(t, svc, "devices/dev1/state"); string(m.payload) != mqtt.StateOnline {
		t.Fatalf("state = %q, want online", m.payload)
	}

	d.enqueue(
		resilience.Message{Key: "k-1", Topic: "plug.state", Payload: []byte(`{"on":true}`)},
		resilience.Message{Key: "k-2", Topic: "a+b#c%", Payload: nil},
		resilience.Message{Topic: "erase.request", Priority: resilience.PriorityCritical, Payload: []byte("user 7")},
	)
	got := map[string]string{}
	var generated string
	for range 3 {
		m := nextAny(t, svc)
		if m.topic == "devices/dev1/state" {
			t.Fatalf("unexpected state %q", m.payload)
		}
		key, body := open(t, m)
		got[m.topic] = key + "=" + body
		if m.topic == "devices/dev1/msg/erase.request" {
			generated = key
		}
	}
	want := map[string]string{
		"devices/dev1/msg/plug.state":    `k-1={"on":true}`,
		"devices/dev1/msg/a%2Bb%23c%25":  "k-2=",
		"devices/dev1/msg/erase.request": generated + "=user 7",
	}
	if len(generated) < 16 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("service received %v, want %v", got, want)
	}
	waitUntil(t, func() bool { return d.ob.Stats().Pending == 0 && d.link.Stats().Published == 3 })

	tlsRes := runCheck(t, d.link, "resilience.mqtt.tls")
	if tlsRes.Verdict != conformance.Pass ||
		!strings.Contains(tlsRes.Observed, "TLS 1.3") ||
		!strings.Contains(tlsRes.Observed, `verified against the pinned CA "baseline test CA"`) ||
		!strings.Contains(tlsRes.Observed, "requested the client certificate and the identity key made 1 handshake signature") {
		t.Errorf("tls check: %+v", tlsRes)
	}
	t.Logf("tls check: %s", tlsRes.Observed)
	del := runCheck(t, d.link, "resilience.mqtt.delivery")
	if del.Verdict != conformance.Pass || !strings.Contains(del.Observed, "QoS 1 probe to devices/dev1/probe acknowledged") ||
		!strings.Contains(del.Observed, "routed back to the device") ||
		!strings.Contains(del.Observed, "0 pending") || !strings.Contains(del.Observed, "3 outbox messages acknowledged") {
		t.Errorf("delivery check: %+v", del)
	}
	t.Logf("delivery check: %s", del.Observed)

	// A clean stop says "offline" before disconnecting.
	d.stop()
	if m := next(t, svc, "devices/dev1/state"); string(m.payload) != mqtt.StateOffline {
		t.Fatalf("state after stop = %q, want offline", m.payload)
	}
	if r := runCheck(t, d.link, "resilience.mqtt.tls"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Observed, "the last connection") {
		t.Errorf("tls check offline: %+v", r)
	}
}

// swapBody returns sig's signature on other's body.
func swapBody(sig, other []byte) []byte {
	_, s, _ := bytes.Cut(sig, []byte("."))
	body, _, _ := bytes.Cut(other, []byte("."))
	return slices.Concat(body, []byte("."), s)
}

func nextAny(t *testing.T, ch <-chan msg) msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatal("no message")
	}
	return msg{}
}

// waitUntil polls cond (a guard against hangs, not a speed assertion).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestQueuedWhileBrokerDown: a message enqueued while the broker is down
// waits on flash, attempts fail meanwhile, and it is delivered once the
// broker is back; the device works locally throughout.
func TestQueuedWhileBrokerDown(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{})
	defer ob.Close()
	d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1"), Outbox: ob}, true)
	d.allow()
	d.waitEvent(resilience.EventOnline)

	b.kill()
	d.waitEvent(resilience.EventOffline)
	d.enqueue(resilience.Message{Key: "while-down", Topic: "plug.state", Payload: []byte("off")})
	d.allow()
	if e := d.waitEvent(resilience.EventFailed); e.Err == nil {
		t.Fatal("attempt against a dead broker did not fail")
	}
	if d.link.Connected() || !slices.Equal(pendingKeys(ob), []string{"while-down"}) {
		t.Fatalf("while down: connected=%v pending=%v", d.link.Connected(), pendingKeys(ob))
	}
	if r := runCheck(t, d.link, "resilience.mqtt.delivery"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Observed, "1 pending") {
		t.Errorf("delivery check while down: %+v", r)
	}

	b.start()
	_, svc := p.client(t, b, "service", "devices/dev1/msg/#")
	d.allow()
	m := next(t, svc, "devices/dev1/msg/plug.state")
	if key, body := open(t, m); key != "while-down" || body != "off" {
		t.Fatalf("after restart got %s=%s", key, body)
	}
	waitUntil(t, func() bool { return ob.Stats().Pending == 0 })
}

// TestFullOutboxDropsByPolicy: while the broker is down a full outbox
// drops by its policy (oldest telemetry first, never the critical
// message), counts it, and delivers what it kept.
func TestFullOutboxDropsByPolicy(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	b.kill()
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{MaxRecords: 3})
	defer ob.Close()
	d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1"), Outbox: ob}, true)
	d.enqueue(resilience.Message{Key: "erase", Topic: "erase.request", Priority: resilience.PriorityCritical})
	for i := range 5 {
		d.enqueue(resilience.Message{Key: fmt.Sprintf("t%d", i), Topic: "telemetry"})
	}
	if st := ob.Stats(); st.Dropped != 3 || !slices.Equal(pendingKeys(ob), []string{"erase", "t3", "t4"}) {
		t.Fatalf("dropped %d, pending %v", st.Dropped, pendingKeys(ob))
	}
	if r := runCheck(t, d.link, "resilience.mqtt.delivery"); !strings.Contains(r.Observed, "3 dropped") {
		t.Errorf("delivery check does not report drops: %+v", r)
	}
	b.start()
	_, svc := p.client(t, b, "service", "devices/dev1/msg/#")
	d.allow()
	var keys []string
	for range 3 {
		k, _ := open(t, nextAny(t, svc))
		keys = append(keys, k)
	}
	if !slices.Equal(keys, []string{"erase", "t3", "t4"}) {
		t.Fatalf("delivered %v, want erase first then the newest telemetry", keys)
	}
}

// TestOtherIdentityCannotReadOrCommand proves the broker's per-device ACL
// from the subscriber's side: a second device's identity subscribed to
// dev1's topics receives none of them, and its forged command never
// reaches dev1.
func TestOtherIdentityCannotReadOrCommand(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	_, svc := p.client(t, b, "service", "devices/dev1/msg/#")
	dev2, spy := p.client(t, b, "dev2", "devices/dev1/#", "devices/dev2/marker")
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{})
	defer ob.Close()
	pinged := make(chan struct{}, 1)
	cmdKey := mustKey(t)
	d := startDevice(t, mqtt.Config{
		Broker: b.addr, TLS: p.clientTLS(t, "dev1"), Outbox: ob,
		CommandKey: &cmdKey.PublicKey, StateDir: t.TempDir(),
		Commands: map[string]mqtt.CommandSpec{
			"ping":         {AllowUnsigned: true, Run: func(context.Context, mqtt.Command) error { pinged <- struct{}{}; return nil }},
			"set-endpoint": {Run: func(context.Context, mqtt.Command) error { t.Error("forged command ran"); return nil }},
		},
	}, false)
	d.waitEvent(resilience.EventOnline)

	d.enqueue(resilience.Message{Key: "secret-1", Topic: "plug.state", Payload: []byte("private")})
	next(t, svc, "devices/dev1/msg/plug.state")
	// dev2 forges commands into dev1's topic: the broker drops them
	// (MQTT 3.1.1 still acknowledges), so dev1 never sees them.
	forged, _ := mqtt.EncodeCommand(rand.Reader, cmdKey, mqtt.CommandRequest{Device: "dev1", Name: "ping"})
	publish(t, dev2, "devices/dev1/cmd", forged, false)
	publish(t, dev2, "devices/dev1/cmd", []byte("garbage"), false)
	// Everything dev1 published was routed before dev2's marker: if the
	// ACL let dev2 read dev1's topics, it would have arrived first.
	publish(t, dev2, "devices/dev2/marker", []byte("m"), false)
	for {
		m := nextAny(t, spy)
		if m.topic == "devices/dev2/marker" {
			break
		}
		t.Fatalf("dev2 received dev1's %s (%q)", m.topic, m.payload)
	}
	// The service's own command arrives after dev2's forgeries; dev1 runs
	// commands in order, so when it has run, the forgeries would have been
	// seen by now.
	ping, _ := mqtt.EncodeCommand(nil, nil, mqtt.CommandRequest{Device: "dev1", Name: "ping"})
	svcClient, _ := p.client(t, b, "service")
	publish(t, svcClient, "devices/dev1/cmd", ping, false)
	select {
	case <-pinged:
	case <-time.After(waitFor):
		t.Fatal("service's command did not arrive")
	}
	waitUntil(t, func() bool { return d.link.Stats().CommandsRun == 1 })
	if st := d.link.Stats(); len(st.Refused) != 0 {
		t.Fatalf("dev1 saw dev2's forged commands: %+v", st)
	}
}

// TestKilledBetweenPublishAndPuback: the broker forwards a message to the
// service but dies before its PUBACK reaches the device. The message
// stays in the outbox and is delivered again after the broker returns,
// under the same idempotency key: a duplicate the service can drop, never
// a loss. The same holds when the device loses power instead.
func TestKilledBetweenPublishAndPuback(t *testing.T) {
	for _, crash := range []string{"broker", "device"} {
		t.Run(crash, func(t *testing.T) {
			p := newPKI(t)
			b := startBroker(t, p, brokerOptions{})
			r := newRelay(t, b.addr)
			_, svc := p.client(t, b, "service", "devices/dev1/msg/#")
			dir := t.TempDir()
			ob := openOutbox(t, dir, resilience.OutboxConfig{})
			tlsCfg := p.clientTLS(t, "dev1")
			cfg := mqtt.Config{Broker: r.Addr(), TLS: tlsCfg, Outbox: ob}
			d := startDevice(t, cfg, true)
			d.allow()
			d.waitEvent(resilience.EventOnline)

			r.Hold(true) // nothing from the broker reaches the device: no PUBACK
			d.enqueue(resilience.Message{Topic: "meter", Payload: []byte("42 kWh")})
			key1, body1 := open(t, next(t, svc, "devices/dev1/msg/meter"))
			if keys := pendingKeys(ob); !slices.Equal(keys, []string{key1}) || d.link.Stats().Published != 0 {
				t.Fatalf("without PUBACK: pending %v, published %d; want the message still pending", keys, d.link.Stats().Published)
			}

			switch crash {
			case "broker":
				b.kill()
				r.Cut()
				d.waitEvent(resilience.EventOffline)
				b.start()
				_, svc = p.client(t, b, "service", "devices/dev1/msg/#")
				d.allow()
			case "device":
				// Power loss: the process dies with the PUBACK outstanding;
				// only the outbox's files survive.
				r.Cut()
				d.stop()
				ob.Close()
				ob = openOutbox(t, dir, resilience.OutboxConfig{})
				defer ob.Close()
				cfg.Outbox = ob
				d = startDevice(t, cfg, true)
				d.allow()
			}
			key2, body2 := open(t, next(t, svc, "devices/dev1/msg/meter"))
			if key2 != key1 || body2 != body1 {
				t.Fatalf("redelivered %s=%s, first delivery %s=%s: the idempotency key must be the same", key2, body2, key1, body1)
			}
			waitUntil(t, func() bool { return ob.Stats().Pending == 0 })
		})
	}
}

// TestLastWillMarksOffline: a connection that ends without DISCONNECT
// (power cut, network gone) makes the broker publish the retained
// "offline" will; a service that subscribes later sees it too.
func TestLastWillMarksOffline(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	r := newRelay(t, b.addr)
	_, svc := p.client(t, b, "service", "devices/dev1/state")
	cfg := mqtt.Config{Broker: r.Addr(), TLS: p.clientTLS(t, "dev1")}
	d := startDevice(t, cfg, true)
	d.allow()
	d.waitEvent(resilience.EventOnline)
	if m := next(t, svc, "devices/dev1/state"); string(m.payload) != mqtt.StateOnline {
		t.Fatalf("state %q", m.payload)
	}
	r.Cut()
	if m := next(t, svc, "devices/dev1/state"); string(m.payload) != mqtt.StateOffline || m.retained {
		t.Fatalf("after the cut: state %q retained=%v, want the will \"offline\" delivered live", m.payload, m.retained)
	}
	d.waitEvent(resilience.EventOffline)
	_, late := p.client(t, b, "service", "devices/dev1/state")
	if m := next(t, late, "devices/dev1/state"); string(m.payload) != mqtt.StateOffline || !m.retained {
		t.Fatalf("late subscriber: state %q retained=%v, want retained offline", m.payload, m.retained)
	}
	// Paho does not reconnect on its own: the next connection is the one
	// the supervisor allows.
	if n := r.accepted.Load(); n != 1 || d.link.Connected() {
		t.Fatalf("%d connections before the supervisor allowed a second (connected=%v)", n, d.link.Connected())
	}
	d.allow()
	d.waitEvent(resilience.EventOnline)
	if m := next(t, svc, "devices/dev1/state"); string(m.payload) != mqtt.StateOnline || r.accepted.Load() != 2 {
		t.Fatalf("after reconnecting: state %q, %d connections", m.payload, r.accepted.Load())
	}
}

// TestCommandsOverBroker: through the real broker, a command signed by the
// pinned key runs once with its arguments; an unsigned, expired, foreign
// signed, replayed or oversized one is refused and counted and nothing
// runs; the replay state survives a restart of the link.
func TestCommandsOverBroker(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	svc, _ := p.client(t, b, "service")
	key, foreign := mustKey(t), mustKey(t)
	now := time.Now()
	stateDir := t.TempDir()
	var mu sync.Mutex
	var ran []string
	done := make(chan struct{}, 16)
	cfg := mqtt.Config{
		Broker: b.addr, TLS: p.clientTLS(t, "dev1"), CommandKey: &key.PublicKey, StateDir: stateDir,
		Commands: map[string]mqtt.CommandSpec{
			"set-endpoint": {Run: func(_ context.Context, c mqtt.Command) error {
				mu.Lock()
				ran = append(ran, fmt.Sprintf("%s seq=%d args=%s", c.Name, c.Seq, c.Args))
				mu.Unlock()
				return nil
			}},
			"sync": {AllowUnsigned: true, Run: func(context.Context, mqtt.Command) error { done <- struct{}{}; return nil }},
		},
	}
	d := startDevice(t, cfg, false)
	d.waitEvent(resilience.EventOnline)
	if r := runCheck(t, d.link, "resilience.mqtt.commands"); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "SUBACK for devices/dev1/cmd: QoS 1 granted") {
		t.Errorf("commands check: %+v", r)
	}

	sign := func(k *ecdsa.PrivateKey, seq uint64, exp time.Time, args string) []byte {
		b, err := mqtt.EncodeCommand(rand.Reader, k, mqtt.CommandRequest{Device: "dev1", Name: "set-endpoint", Seq: seq, Expires: exp, Args: json.RawMessage(args)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := sign(key, 7, now.Add(time.Minute), `{"url":"https://a.example"}`)
	unsigned, _ := mqtt.EncodeCommand(nil, nil, mqtt.CommandRequest{Device: "dev1", Name: "set-endpoint", Args: json.RawMessage(`{"url":"https://evil"}`)})
	syncCmd, _ := mqtt.EncodeCommand(nil, nil, mqtt.CommandRequest{Device: "dev1", Name: "sync"})
	send := func(payloads ...[]byte) {
		for _, pl := range payloads {
			publish(t, svc, "devices/dev1/cmd", pl, false)
		}
		publish(t, svc, "devices/dev1/cmd", syncCmd, false)
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("sync command did not run")
		}
	}
	send(
		good,
		unsigned,
		sign(key, 8, now.Add(-time.Second), `{}`),     // expired
		sign(key, 9, now.Add(time.Hour), `{}`),        // beyond the lifetime
		sign(foreign, 10, now.Add(time.Minute), `{}`), // not the pinned key
		good,                                     // replayed
		sign(key, 5, now.Add(time.Minute), `{}`), // older sequence number
		append(bytes.Repeat([]byte("A"), mqtt.DefaultMaxCommandBytes), '.'),           // oversized
		swapBody(good, sign(key, 12, now.Add(time.Minute), `{"url":"https://evil"}`)), // signature of another body
	)
	st := d.link.Stats()
	want := map[mqtt.Reason]uint64{mqtt.RefusedUnsigned: 1, mqtt.RefusedExpired: 1, mqtt.RefusedTooLong: 1,
		mqtt.RefusedBadSignature: 2, mqtt.RefusedReplayed: 2, mqtt.RefusedOversize: 1}
	mu.Lock()
	gotRan := slices.Clone(ran)
	mu.Unlock()
	if !slices.Equal(gotRan, []string{`set-endpoint seq=7 args={"url":"https://a.example"}`}) || fmt.Sprint(st.Refused) != fmt.Sprint(want) || st.LastSeq != 7 {
		t.Fatalf("ran %v, refused %v (want %v), last seq %d", gotRan, st.Refused, want, st.LastSeq)
	}
	r := runCheck(t, d.link, "resilience.mqtt.commands")
	if !strings.Contains(r.Observed, "bad-signature 2") || !strings.Contains(r.Observed, "last accepted sequence number 7") {
		t.Errorf("commands check does not report the refusals: %+v", r)
	}

	// A restarted device still remembers sequence 7.
	d.stop()
	d2 := startDevice(t, cfg, false)
	d2.waitEvent(resilience.EventOnline)
	send(good, sign(key, 11, now.Add(time.Minute), `{"url":"https://b.example"}`))
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 2 || ran[1] != `set-endpoint seq=11 args={"url":"https://b.example"}` || d2.link.Stats().Refused[mqtt.RefusedReplayed] != 1 {
		t.Fatalf("after restart: ran %v, refused %v", ran, d2.link.Stats().Refused)
	}
}

// TestChecksFailWhenBroken: against a broker that does not ask
// for client certificates the device is not authenticated by its
// identity, and the TLS self-check says FAIL; a broker that holds back
// every acknowledgement fails the delivery self-check.
func TestChecksFailWhenBroken(t *testing.T) {
	p := newPKI(t)
	t.Run("no client auth", func(t *testing.T) {
		b := startBroker(t, p, brokerOptions{noClientCerts: true})
		d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1")}, false)
		d.waitEvent(resilience.EventOnline)
		r := runCheck(t, d.link, "resilience.mqtt.tls")
		if r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "not authenticated by its identity key") {
			t.Fatalf("tls check against a broker without client auth: %+v", r)
		}
	})
	t.Run("no acknowledgement", func(t *testing.T) {
		b := startBroker(t, p, brokerOptions{})
		r := newRelay(t, b.addr)
		cfg := mqtt.Config{Broker: r.Addr(), TLS: p.clientTLS(t, "dev1"), AckTimeout: 200 * time.Millisecond}
		d := startDevice(t, cfg, true)
		d.allow()
		d.waitEvent(resilience.EventOnline)
		r.Hold(true)
		res := runCheck(t, d.link, "resilience.mqtt.delivery")
		if res.Verdict != conformance.Fail || !strings.Contains(res.Detail, "did not acknowledge") {
			t.Fatalf("delivery check with acknowledgements held: %+v", res)
		}
	})
}

// TestConnectErrors: a broker whose certificate the pinned CA did not
// issue, or that is not issued for the name dialled, is refused.
func TestConnectErrors(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	t.Run("foreign CA", func(t *testing.T) {
		other := newPKI(t)
		cfg := mqtt.Config{Broker: b.addr, TLS: other.clientTLS(t, "dev1")}
		d := startDevice(t, cfg, true)
		d.allow()
		e := d.waitEvent(resilience.EventFailed)
		if !strings.Contains(e.Err.Error(), "certificate") {
			t.Fatalf("connecting to a broker the pinned CA did not issue: %v", e.Err)
		}
	})
	t.Run("certificate for another name", func(t *testing.T) {
		cfg := mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1")}
		cfg.TLS.ServerName = "broker.example"
		d := startDevice(t, cfg, true)
		d.allow()
		e := d.waitEvent(resilience.EventFailed)
		if !strings.Contains(e.Err.Error(), "broker.example") {
			t.Fatalf("broker certificate for 127.0.0.1 accepted as broker.example: %v", e.Err)
		}
	})
}

// TestServerUnavailableIsBusy: a broker refusing CONNECT with MQTT 3.1.1
// return code 3 (server unavailable) is reported to the Supervisor as a
// busy signal, so the policy widens its window; code 5 (not authorised) is
// a plain failure. Mosquitto does not send these codes on demand, so a TLS
// listener with the test broker's certificate answers the CONNECT with
// the four bytes of the CONNACK.
func TestServerUnavailableIsBusy(t *testing.T) {
	p := newPKI(t)
	cert, err := tls.LoadX509KeyPair(p.dir+"/server.pem", p.dir+"/server.key")
	if err != nil {
		t.Fatal(err)
	}
	for rc, busy := range map[byte]bool{3: true, 5: false} {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 512)
			if _, err := c.Read(buf); err != nil { // the CONNECT
				return
			}
			c.Write([]byte{0x20, 0x02, 0x00, rc})
			c.Read(buf)
		}()
		link, err := mqtt.New(mqtt.Config{Broker: ln.Addr().String(), TLS: p.clientTLS(t, "dev1")})
		if err != nil {
			t.Fatal(err)
		}
		err = link.Connect(context.Background(), func() { t.Error("went online") })
		if err == nil || errors.Is(err, resilience.ErrBusy) != busy {
			t.Errorf("CONNACK %d gave %v; busy signal wanted: %v", rc, err, busy)
		}
	}
}
