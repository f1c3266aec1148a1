package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

func seeded(seed uint64) func() float64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Float64
}

func TestPolicyDefaults(t *testing.T) {
	var p Policy
	if p.Declared() {
		t.Fatal("zero policy reports a declared fleet")
	}
	if got := p.Spread(); got != defaultSpread {
		t.Fatalf("undeclared spread = %v, want %v", got, defaultSpread)
	}
	q := p.normalized()
	if q.Base != DefaultBase || q.Cap != DefaultCap || q.StableAfter != defaultStableAfter ||
		q.SpreadFactor != defaultSpreadFactor || q.MaxRetryAfter != defaultMaxRetryAfter || q.Rand == nil {
		t.Fatalf("defaults not applied: %+v", q)
	}
	p = Policy{FleetSize: 50000, ServiceCapacity: 1000}
	if got, want := p.Ideal(), 50*time.Second; got != want {
		t.Fatalf("ideal = %v, want %v", got, want)
	}
	if got, want := p.Spread(), 60*time.Second; got != want {
		t.Fatalf("spread = %v, want %v", got, want)
	}
	p = Policy{FleetSize: 1 << 40, ServiceCapacity: 1}
	if got := p.Spread(); got != MaxSpread {
		t.Fatalf("huge fleet spread = %v, want MaxSpread", got)
	}
}

func TestBackoffFullJitterNeverGivesUp(t *testing.T) {
	// A fleet of one: the spread (0.12 s) is below the base, so the
	// exponential windows show.
	p := Policy{Base: time.Second, Cap: time.Minute, FleetSize: 1, ServiceCapacity: 10, Rand: seeded(1)}
	b := p.NewBackoff()
	// Attempt k falls inside window k, the windows following one another.
	var at, windowStart time.Duration
	var maxOffset time.Duration
	for i := 1; i <= 10000; i++ {
		w := b.window(i, 0)
		at += b.Failed(errors.New("refused"))
		if at < windowStart || at >= windowStart+w {
			t.Fatalf("attempt %d at %v outside its window [%v, %v)", i, at, windowStart, windowStart+w)
		}
		maxOffset = max(maxOffset, at-windowStart)
		windowStart += w
	}
	if b.Failures() != 10000 {
		t.Fatalf("failures = %d", b.Failures())
	}
	// Jitter is real: offsets cover the window, not a fixed point.
	if maxOffset < 50*time.Second {
		t.Fatalf("max offset over 10000 draws only %v: no jitter?", maxOffset)
	}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 100: time.Minute} {
		if got := b.window(n, 0); got != want {
			t.Errorf("window(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestBackoffStartSpread(t *testing.T) {
	p := Policy{FleetSize: 50000, ServiceCapacity: 1000, Rand: seeded(2)}
	var sum time.Duration
	const n = 20000
	for i := 0; i < n; i++ {
		d := p.NewBackoff().Start()
		if d < 0 || d >= 60*time.Second {
			t.Fatalf("start delay %v outside [0, 60s)", d)
		}
		sum += d
	}
	if mean := sum / n; mean < 29*time.Second || mean > 31*time.Second {
		t.Fatalf("mean start delay %v, want ~30s (uniform over 60s)", mean)
	}
}

func TestBackoffBusyAndRetryAfter(t *testing.T) {
	p := Policy{FleetSize: 10000, ServiceCapacity: 100, SpreadFactor: 1, Cap: 300 * time.Second, Rand: func() float64 { return 0.5 }}
	b := p.NewBackoff()
	// Spread 100 s: every window is at least 100 s, whatever the base; the
	// first attempt is mid-window.
	if got := b.Failed(errors.New("unreachable")); got != 50*time.Second {
		t.Fatalf("unreachable delay = %v, want 50s", got)
	}
	// Rest of that window (50 s) + middle of the next (50 s).
	if got := b.Failed(MQTTBusy(MQTTServerBusy)); got != 100*time.Second {
		t.Fatalf("busy delay = %v, want 100s", got)
	}
	// A second busy signal doubles the floor to 200 s; the Retry-After
	// (120 s) is waited out in full first: 120 + 50 + 100.
	if got := b.Failed(HTTPBusy(503, "120", time.Now())); got != 270*time.Second {
		t.Fatalf("retry-after delay = %v, want 270s", got)
	}
	// A third would double to 400 s but is bounded by the cap (300 s):
	// 100 + 150. Wrapped busy errors count too.
	if got := b.Failed(fmt.Errorf("dial: %w", MQTTBusy(MQTTConnectionRateExceeded))); got != 250*time.Second {
		t.Fatalf("wrapped busy delay = %v, want 250s", got)
	}
	// A connection resets the busy streak and the windows.
	b.Connected(time.Now())
	if got := b.Failed(MQTTBusy(MQTTQuotaExceeded)); got != 50*time.Second {
		t.Fatalf("busy after connect = %v, want 50s", got)
	}
	// An absurd Retry-After is bounded by MaxRetryAfter.
	b2 := Policy{MaxRetryAfter: time.Minute, Rand: func() float64 { return 0 }}.NewBackoff()
	if got := b2.Failed(&BusyError{Reason: "x", RetryAfter: 1000 * time.Hour}); got != time.Minute {
		t.Fatalf("bounded retry-after = %v, want 1m", got)
	}
	b2 = Policy{Rand: func() float64 { return 0 }}.NewBackoff()
	if got := b2.Failed(&BusyError{Reason: "x", RetryAfter: -time.Hour}); got != 0 {
		t.Fatalf("negative retry-after = %v, want 0", got)
	}
}

func TestBackoffResetAfterStable(t *testing.T) {
	p := Policy{Base: time.Second, Cap: time.Hour, StableAfter: time.Minute, FleetSize: 100, ServiceCapacity: 10, SpreadFactor: 1, Rand: func() float64 { return 0.999 }}
	b := p.NewBackoff()
	for i := 0; i < 8; i++ {
		b.Failed(errors.New("down"))
	}
	t0 := time.Unix(1000, 0)
	// A connection that drops quickly is one more failure: the window keeps
	// growing (2^8 s > spread).
	b.Connected(t0)
	d := b.Disconnected(t0.Add(5 * time.Second))
	if b.Failures() != 9 || d < 255*time.Second {
		t.Fatalf("flapping: failures %d delay %v", b.Failures(), d)
	}
	// A stable connection resets: the next delay is drawn over the spread.
	b.Connected(t0)
	d = b.Disconnected(t0.Add(time.Minute))
	if b.Failures() != 0 || d >= 10*time.Second {
		t.Fatalf("after stable: failures %d delay %v", b.Failures(), d)
	}
	// The next window is the 10 s floor (the spread), right after the
	// first: rest of the first (0.01 s) + 9.99 s.
	if got := b.Failed(errors.New("x")); got < 9900*time.Millisecond || got > 10100*time.Millisecond || b.Failures() != 1 {
		t.Fatalf("first failure after reset: %v (failures %d), want about 10s", got, b.Failures())
	}
}

func TestBusySignals(t *testing.T) {
	for code := 0; code < 256; code++ {
		err := MQTTBusy(byte(code))
		want := code == 0x89 || code == 0x97 || code == 0x9f
		if (err != nil) != want {
			t.Errorf("MQTTBusy(%#x) = %v", code, err)
		}
		if err != nil && !errors.Is(err, ErrBusy) {
			t.Errorf("MQTTBusy(%#x) not ErrBusy", code)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, st := range []int{200, 301, 400, 404, 500, 502} {
		if HTTPBusy(st, "10", now) != nil {
			t.Errorf("status %d treated as busy", st)
		}
	}
	var be *BusyError
	if !errors.As(HTTPBusy(429, "Fri, 02 Jan 2026 03:05:05 GMT", now), &be) || be.RetryAfter != time.Minute {
		t.Fatalf("429 with date: %+v", be)
	}
	if !errors.As(HTTPBusy(503, "", now), &be) || be.RetryAfter != 0 {
		t.Fatalf("503 without header: %+v", be)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"86401", 24 * time.Hour, true},
		{"99999999999999999999999", 24 * time.Hour, true},
		{"Fri, 02 Jan 2026 03:04:15 GMT", 10 * time.Second, true},
		{"Friday, 02-Jan-26 03:04:15 GMT", 10 * time.Second, true},
		{"Fri Jan  2 03:04:15 2026", 10 * time.Second, true},
		{"Thu, 01 Jan 2026 00:00:00 GMT", 0, true},
		{"Fri, 02 Jan 2099 03:04:15 GMT", 24 * time.Hour, true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Fri, 02 Jan 2026 03:04:15 CET", 0, false},
		{string(make([]byte, 100)), 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Fri, 02 Jan 2026 03:04:15 GMT", "Friday, 02-Jan-26 03:04:15 GMT", "Fri Jan  2 03:04:15 2026", "", "999999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v out of bounds", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("rejected value with nonzero delay")
		}
	})
}

// TestPolicyCheckMeasures: the 5.9-3 check draws a simulated fleet's first
// attempts from the policy's own Backoff, so a policy whose jitter is broken
// (every device draws the same moment) fails although its settings read
// fine.
func TestPolicyCheckMeasures(t *testing.T) {
	good := Policy{FleetSize: 50000, ServiceCapacity: 1000}
	chk := good.Checks()[0]
	if chk.Method != conformance.Measured {
		t.Fatalf("method %q", chk.Method)
	}
	if r := chk.Run(context.Background()); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "simulated devices") {
		t.Fatalf("healthy policy: %+v", r)
	}
	broken := good
	broken.Rand = func() float64 { return 0 } // no jitter at all
	if r := broken.Checks()[0].Run(context.Background()); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "bunch up") {
		t.Fatalf("policy without jitter: %+v", r)
	}
}
