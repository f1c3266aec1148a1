package mqtt_test

import (
	"context"
	"crypto/rand"
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

// TestForeignTopicsRefused: a device holding dev1's certificate but
// configured as dev2 publishes under devices/dev2/, which the broker's
// per-device ACL refuses (and, MQTT 3.1.1 being what it is, still
// acknowledges). The link notices — its own probe never comes back — so it
// does not go online, counts it, fails its delivery self-check, and keeps
// the message in the outbox; nothing of it reaches dev2's topics.
func TestForeignTopicsRefused(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	_, svc := p.client(t, b, "service", "devices/dev2/msg/#", "devices/dev2/state", "devices/dev2/marker")
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{})
	defer ob.Close()
	d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1"), DeviceID: "dev2", Outbox: ob,
		AckTimeout: 300 * time.Millisecond}, true)
	d.enqueue(resilience.Message{Key: "k1", Topic: "plug.state", Payload: []byte("on")})
	d.allow()
	if e := d.waitEvent(resilience.EventFailed); !errors.Is(e.Err, mqtt.ErrUnrouted) {
		t.Fatalf("attempt with a foreign device ID: %v, want ErrUnrouted", e.Err)
	}
	st := d.link.Stats()
	if st.Unrouted != 1 || st.Connected || st.Published != 0 || !slices.Equal(pendingKeys(ob), []string{"k1"}) {
		t.Fatalf("after the refusal: %+v, pending %v; want 1 unrouted, not connected, the message pending", st, pendingKeys(ob))
	}
	if r := runCheck(t, d.link, "resilience.mqtt.delivery"); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "refuses this identity") {
		t.Errorf("delivery check after the refusal: %+v", r)
	}
	if r := runCheck(t, d.link, "resilience.mqtt.tls"); r.Verdict != conformance.Inconclusive || !strings.Contains(r.Detail, "common name differs from the device ID") {
		t.Errorf("tls check with a foreign device ID: %+v", r)
	}
	// The real dev2's marker is routed after everything the impostor sent:
	// had the broker let any of it through, it would arrive first.
	dev2, _ := p.client(t, b, "dev2")
	publish(t, dev2, "devices/dev2/marker", []byte("m"), false)
	for {
		m := nextAny(t, svc)
		if m.topic == "devices/dev2/marker" {
			break
		}
		if m.topic != "devices/dev2/state" || string(m.payload) != mqtt.StateOffline {
			t.Fatalf("dev1's certificate got %s (%q) into dev2's topics", m.topic, m.payload)
		}
	}
	// It keeps trying under its policy, and keeps being refused.
	d.allow()
	if e := d.waitEvent(resilience.EventFailed); !errors.Is(e.Err, mqtt.ErrUnrouted) || d.link.Stats().Unrouted != 2 {
		t.Fatalf("second attempt: %v, %d unrouted", e.Err, d.link.Stats().Unrouted)
	}
}

// TestACLRevokedWhileConnected: the broker's ACL stops letting the
// connected device use its topics (Mosquitto reloads it on SIGHUP). The
// broker still acknowledges the device's PUBLISH and drops it; the
// delivery self-check notices that its probe no longer comes back and
// fails, and the next connection is refused by the route check.
func TestACLRevokedWhileConnected(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1"), AckTimeout: 500 * time.Millisecond}, true)
	d.allow()
	d.waitEvent(resilience.EventOnline)
	if r := runCheck(t, d.link, "resilience.mqtt.delivery"); r.Verdict != conformance.Pass {
		t.Fatalf("delivery check before: %+v", r)
	}
	if err := b.SetACL("user service\ntopic readwrite devices/#\n"); err != nil { // no device pattern
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		r := runCheck(t, d.link, "resilience.mqtt.delivery")
		return r.Verdict == conformance.Fail && strings.Contains(r.Detail, "did not route it back")
	})
	if !d.link.Connected() {
		t.Fatal("the connection itself should still be up")
	}
	b.kill()
	d.waitEvent(resilience.EventOffline)
	b.start() // with the revoked ACL
	d.allow()
	if e := d.waitEvent(resilience.EventFailed); !errors.Is(e.Err, mqtt.ErrUnrouted) {
		t.Fatalf("reconnecting under the revoked ACL: %v, want ErrUnrouted", e.Err)
	}
}

// TestCommandResults: for every command the device receives, the service
// gets a result on devices/<id>/result naming the command by CommandID of
// the bytes it sent — done, failed, or refused with the reason — and the
// device publishes nothing else there.
func TestCommandResults(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	svc, results := p.client(t, b, "service", "devices/dev1/result")
	key, foreign := mustKey(t), mustKey(t)
	d := startDevice(t, mqtt.Config{
		Broker: b.addr, TLS: p.clientTLS(t, "dev1"), CommandKey: &key.PublicKey, StateDir: t.TempDir(),
		Commands: map[string]mqtt.CommandSpec{
			"blink":        {AllowUnsigned: true, Run: func(context.Context, mqtt.Command) error { return nil }},
			"self-test":    {AllowUnsigned: true, Run: func(context.Context, mqtt.Command) error { return errors.New("relay stuck") }},
			"set-endpoint": {Run: func(context.Context, mqtt.Command) error { return nil }},
		},
	}, false)
	d.waitEvent(resilience.EventOnline)

	enc := func(k any, r mqtt.CommandRequest) []byte {
		t.Helper()
		r.Device = "dev1"
		var (
			w   []byte
			err error
		)
		if k == nil {
			w, err = mqtt.EncodeCommand(nil, nil, r)
		} else {
			w, err = mqtt.EncodeCommand(rand.Reader, foreign, r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	signed, err := mqtt.EncodeCommand(rand.Reader, key, mqtt.CommandRequest{Device: "dev1", Name: "set-endpoint", Seq: 3, Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		wire []byte
		want mqtt.CommandResult
	}{
		{enc(nil, mqtt.CommandRequest{Name: "blink"}), mqtt.CommandResult{Name: "blink", Status: mqtt.ResultDone}},
		{enc(nil, mqtt.CommandRequest{Name: "self-test"}), mqtt.CommandResult{Name: "self-test", Status: mqtt.ResultFailed}},
		{signed, mqtt.CommandResult{Name: "set-endpoint", Seq: 3, Status: mqtt.ResultDone}},
		{signed, mqtt.CommandResult{Name: "set-endpoint", Status: mqtt.ResultRefused, Reason: mqtt.RefusedReplayed}},
		{enc(foreign, mqtt.CommandRequest{Name: "set-endpoint", Seq: 4, Expires: time.Now().Add(time.Minute)}),
			mqtt.CommandResult{Name: "set-endpoint", Status: mqtt.ResultRefused, Reason: mqtt.RefusedBadSignature}},
		{enc(nil, mqtt.CommandRequest{Name: "set-endpoint"}), mqtt.CommandResult{Name: "set-endpoint", Status: mqtt.ResultRefused, Reason: mqtt.RefusedUnsigned}},
		{[]byte("not a command"), mqtt.CommandResult{Status: mqtt.ResultRefused, Reason: mqtt.RefusedMalformed}},
		{make([]byte, mqtt.DefaultMaxCommandBytes+1), mqtt.CommandResult{Status: mqtt.ResultRefused, Reason: mqtt.RefusedOversize}},
	}
	for i, c := range cases {
		publish(t, svc, "devices/dev1/cmd", c.wire, false)
		m := next(t, results, "devices/dev1/result")
		got, err := mqtt.ParseCommandResult(m.payload)
		c.want.ID = mqtt.CommandID(c.wire)
		if err != nil || got != c.want {
			t.Errorf("command %d: result %+v (%v), want %+v", i, got, err, c.want)
		}
		if strings.Contains(string(m.payload), "relay stuck") {
			t.Errorf("result carries the device's error text: %s", m.payload)
		}
	}
	if st := d.link.Stats(); st.Results != uint64(len(cases)) {
		t.Errorf("Stats.Results = %d, want %d", st.Results, len(cases))
	}
}

// TestParseCommandResult: the service-side decoder refuses what the
// device never sends.
func TestParseCommandResult(t *testing.T) {
	id := mqtt.CommandID([]byte("x"))
	for _, bad := range []string{
		``, `{}`, `[]`, `{"id":"` + id + `","status":"done"} trailing`,
		`{"id":"` + id + `","status":"maybe"}`,
		`{"id":"` + id + `","status":"refused"}`,
		`{"id":"short","status":"done"}`,
		`{"id":"` + id + `","status":"done","extra":1}`,
		`{"id":"` + strings.Repeat("zz", 16) + `","status":"done"}`,
		`{"id":"` + id + `","status":"done","name":"` + strings.Repeat("a", mqtt.MaxResultBytes) + `"}`,
	} {
		if r, err := mqtt.ParseCommandResult([]byte(bad)); err == nil {
			t.Errorf("ParseCommandResult(%.60q) = %+v, want an error", bad, r)
		}
	}
	r, err := mqtt.ParseCommandResult([]byte(`{"id":"` + id + `","name":"blink","seq":2,"status":"refused","reason":"replayed"}`))
	if err != nil || r.Reason != mqtt.RefusedReplayed || r.Seq != 2 {
		t.Fatalf("%+v %v", r, err)
	}
}

// FuzzParseCommandResult: the decoder never panics, and what it accepts
// has a status and a 32-digit ID.
func FuzzParseCommandResult(f *testing.F) {
	id := mqtt.CommandID(nil)
	f.Add([]byte(`{"id":"` + id + `","status":"done"}`))
	f.Add([]byte(`{"id":"` + id + `","name":"x","seq":1,"status":"refused","reason":"expired"}`))
	f.Add([]byte(`{"id":1}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := mqtt.ParseCommandResult(p)
		if err != nil {
			return
		}
		if r.Status == "" || len(r.ID) != 32 {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// TestBrokerKilledMidStream: while the device streams messages, the broker
// is killed with SIGKILL and started again; the device keeps enqueueing
// throughout. Every message reaches the service — none lost — and any
// message seen twice carries the same idempotency key and body both times.
func TestBrokerKilledMidStream(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	var (
		mu    sync.Mutex
		got   = map[string][]string{}
		total int
	)
	collect := func(ch <-chan msg) {
		for m := range ch {
			key, body, err := mqtt.OpenEnvelope(m.payload)
			mu.Lock()
			if err != nil {
				got["<bad envelope>"] = append(got["<bad envelope>"], string(m.payload))
			} else {
				got[key] = append(got[key], string(body))
			}
			total++
			mu.Unlock()
		}
	}
	count := func() (distinct, all int) {
		mu.Lock()
		defer mu.Unlock()
		return len(got), total
	}
	_, svc := p.client(t, b, "service", "devices/dev1/msg/#")
	go collect(svc)
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{MaxRecords: 10000})
	defer ob.Close()
	d := startDevice(t, mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1"), Outbox: ob}, true)
	d.allow()
	d.waitEvent(resilience.EventOnline)

	const n = 600
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := range n {
			k := fmt.Sprintf("m%04d", i)
			if err := ob.Enqueue(context.Background(), resilience.Message{Key: k, Topic: "meter", Payload: []byte("body-of-" + k)}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	waitUntil(t, func() bool { distinct, _ := count(); return distinct >= n/4 })
	b.kill() // mid-stream: the producer keeps going
	d.waitEvent(resilience.EventOffline)
	if distinct, _ := count(); distinct >= n {
		t.Fatalf("the stream had ended before the kill (%d delivered)", distinct)
	}
	b.start()
	_, svc2 := p.client(t, b, "service", "devices/dev1/msg/#")
	go collect(svc2)
	d.allow()
	<-produced
	waitUntil(t, func() bool { distinct, _ := count(); return distinct >= n && ob.Stats().Pending == 0 })

	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for k, bodies := range got {
		if !strings.HasPrefix(k, "m") || len(k) != 5 {
			t.Errorf("unexpected key %q: %q", k, bodies)
			continue
		}
		for _, body := range bodies {
			if body != "body-of-"+k {
				t.Errorf("key %s arrived with body %q", k, body)
			}
		}
		dups += len(bodies) - 1
	}
	if len(got) != n {
		t.Fatalf("%d distinct messages of %d reached the service", len(got), n)
	}
	t.Logf("%d messages, %d deliveries, %d duplicates (same key and body) around the kill", n, total, dups)
}

// TestHourLongOutage runs an hour without a broker on a simulated clock:
// the supervisor's waits advance the clock instead of sleeping, while each
// attempt is a real dial that the dead port refuses. The device never gives
// up (an attempt in every two windows to the end of the hour), no window
// exceeds the cap, the device keeps recording locally — one telemetry
// message a simulated minute — and the full outbox drops the oldest
// telemetry by its policy, counts every drop and never drops the critical
// message. When the broker returns the device connects at its next attempt
// and delivers exactly what the outbox kept.
func TestHourLongOutage(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, brokerOptions{})
	b.kill()
	pol := resilience.Policy{FleetSize: 1000, ServiceCapacity: 100} // spread 12 s; base 1 s, cap 2 min
	const maxRecords = 20
	var (
		mu       sync.Mutex
		now      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		attempts []time.Time
		minute   int
	)
	start := now
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ob := openOutbox(t, t.TempDir(), resilience.OutboxConfig{MaxRecords: maxRecords, Now: clock,
		Monotonic: func() time.Duration { return clock().Sub(start) }})
	defer ob.Close()
	if err := ob.Enqueue(context.Background(), resilience.Message{Key: "erase-request", Topic: "erase", Priority: resilience.PriorityCritical}); err != nil {
		t.Fatal(err)
	}
	link, err := mqtt.New(mqtt.Config{Broker: b.addr, TLS: p.clientTLS(t, "dev1"), Outbox: ob, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	hour := make(chan struct{})
	resume := make(chan struct{})
	online := make(chan struct{})
	var onlineOnce sync.Once
	sup := resilience.NewSupervisor(resilience.SupervisorConfig{
		Policy: pol,
		Now:    clock,
		OnEvent: func(e resilience.Event) {
			switch e.Kind {
			case resilience.EventConnecting:
				mu.Lock()
				attempts = append(attempts, e.At)
				mu.Unlock()
			case resilience.EventOnline:
				onlineOnce.Do(func() { close(online) })
			}
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			before := now
			now = now.Add(d)
			after := now
			mu.Unlock()
			// Local work goes on: one telemetry message per simulated minute.
			for m := int(before.Sub(start)/time.Minute) + 1; m <= int(after.Sub(start)/time.Minute) && m <= 60; m++ {
				minute = m
				if err := ob.Enqueue(ctx, resilience.Message{Key: fmt.Sprintf("t%02d", m), Topic: "telemetry"}); err != nil {
					t.Errorf("enqueue while offline: %v", err)
				}
			}
			if after.Sub(start) >= time.Hour {
				select {
				case <-hour:
				default:
					close(hour)
					<-resume
				}
			}
			return ctx.Err()
		},
	})
	if err := sup.Add("cloud", link.Connect); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sup.Run(ctx) }()
	defer func() { cancel(); <-done }()

	select {
	case <-hour:
	case <-time.After(waitFor):
		t.Fatal("the simulated hour did not pass")
	}
	mu.Lock()
	att := slices.Clone(attempts)
	mu.Unlock()
	window := max(resilience.DefaultCap, pol.Spread())
	for i := 1; i < len(att); i++ {
		if gap := att[i].Sub(att[i-1]); gap > 2*window {
			t.Errorf("attempts %d and %d are %v apart, more than two windows of at most %v", i-1, i, gap, window)
		}
	}
	if len(att) < 25 || att[len(att)-1].Sub(start) < time.Hour-2*window {
		t.Fatalf("%d attempts in the hour, the last at %v: the device gave up", len(att), att[len(att)-1].Sub(start))
	}
	st, _ := sup.Status("cloud")
	if st.Online || st.Failures != len(att) || link.Stats().Connects != 0 {
		t.Fatalf("status after an hour offline: %+v, %d attempts", st, len(att))
	}
	obst := ob.Stats()
	wantDropped := uint64(minute + 1 - maxRecords)
	wantKept := []string{"erase-request"}
	for m := minute - maxRecords + 2; m <= minute; m++ {
		wantKept = append(wantKept, fmt.Sprintf("t%02d", m))
	}
	slices.Sort(wantKept)
	if minute != 60 || obst.Dropped != wantDropped || obst.Pending != maxRecords || !slices.Equal(pendingKeys(ob), wantKept) {
		t.Fatalf("after %d minutes: %d dropped (want %d), pending %v (want %v)", minute, obst.Dropped, wantDropped, pendingKeys(ob), wantKept)
	}
	t.Logf("one hour offline: %d attempts, longest gap %v, %d telemetry messages dropped by policy", len(att), maxGap(att), obst.Dropped)

	b.start()
	_, svc := p.client(t, b, "service", "devices/dev1/msg/#")
	close(resume)
	select {
	case <-online:
	case <-time.After(waitFor):
		t.Fatal("the device did not reconnect after the outage")
	}
	var delivered []string
	for range maxRecords {
		k, _ := open(t, nextAny(t, svc))
		delivered = append(delivered, k)
	}
	if delivered[0] != "erase-request" {
		t.Errorf("the critical message was not delivered first: %v", delivered)
	}
	slices.Sort(delivered)
	if !slices.Equal(delivered, wantKept) {
		t.Fatalf("delivered %v, want %v", delivered, wantKept)
	}
	waitUntil(t, func() bool { return ob.Stats().Pending == 0 })
}

func maxGap(ts []time.Time) time.Duration {
	var g time.Duration
	for i := 1; i < len(ts); i++ {
		g = max(g, ts[i].Sub(ts[i-1]))
	}
	return g
}
