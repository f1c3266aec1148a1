package resilience

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// fakeTime is a clock whose Sleep returns at once, advancing the clock.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.slept = append(f.slept, d)
	return nil
}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) kinds() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []string
	for _, e := range l.events {
		ks = append(ks, e.Kind.String())
	}
	return strings.Join(ks, " ")
}

func TestSupervisorLifecycle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ft := &fakeTime{now: wall0}
	events := &eventLog{}
	pol := Policy{FleetSize: 1000, ServiceCapacity: 100, SpreadFactor: 1, StableAfter: time.Minute, Rand: seeded(7)}
	sup := NewSupervisor(SupervisorConfig{Policy: pol, OnEvent: events.add, Now: ft.Now, Sleep: ft.Sleep})
	errLost := errors.New("connection reset")
	isOnline, release := make(chan struct{}), make(chan struct{})
	attempt := 0
	err := sup.Add("cloud", func(ctx context.Context, online func()) error {
		attempt++
		switch attempt {
		case 1:
			return fmt.Errorf("connack: %w", MQTTBusy(MQTTServerBusy))
		case 2:
			return errors.New("dial: connection refused")
		case 3:
			online()
			online() // a second call does not count
			isOnline <- struct{}{}
			<-release
			ft.Advance(2 * time.Minute) // a stable connection
			return errLost
		default:
			online()
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Add("cloud", func(context.Context, func()) error { return nil }); err == nil {
		t.Fatal("duplicate service accepted")
	}
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()

	<-isOnline
	if !sup.Online("cloud") {
		t.Fatal("not online while the connect function is online")
	}
	st, _ := sup.Status("cloud")
	if !st.Online || st.Failures != 2 || !strings.Contains(st.LastError, "refused") {
		t.Fatalf("status while online: %+v", st)
	}
	if err := sup.Add("late", func(context.Context, func()) error { return nil }); !errors.Is(err, ErrRunning) {
		t.Fatalf("Add while running: %v", err)
	}
	release <- struct{}{}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	want := "waiting connecting failed waiting connecting failed waiting connecting online offline waiting connecting online"
	if got := events.kinds(); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	if sup.Online("cloud") {
		t.Fatal("online after Run returned")
	}
	// The delays follow the policy: start-up spread (10 s), then after a
	// busy signal and a refusal windows floored at twice the spread, then
	// after a stable connection the spread again.
	ft.mu.Lock()
	slept := append([]time.Duration(nil), ft.slept...)
	ft.mu.Unlock()
	if len(slept) != 4 {
		t.Fatalf("slept %v", slept)
	}
	bounds := []time.Duration{10 * time.Second, 20 * time.Second, 20 * time.Second, 10 * time.Second}
	for i, d := range slept {
		if d < 0 || d >= bounds[i] {
			t.Errorf("delay %d = %v, want in [0, %v)", i, d, bounds[i])
		}
	}
	var be *BusyError
	if e := events.events[2]; e.Kind != EventFailed || !errors.As(e.Err, &be) {
		t.Fatalf("busy failure event %+v", e)
	}
	if e := events.events[9]; e.Kind != EventOffline || !errors.Is(e.Err, errLost) {
		t.Fatalf("offline event %+v", e)
	}
}

func TestSupervisorNudge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A spread of hours: without the nudge the attempt would not come.
	pol := Policy{FleetSize: 1 << 30, ServiceCapacity: 1}
	sup := NewSupervisor(SupervisorConfig{Policy: pol})
	attempted := make(chan struct{})
	sup.Add("cloud", func(ctx context.Context, online func()) error {
		close(attempted)
		<-ctx.Done()
		return ctx.Err()
	})
	if err := sup.Nudge("nope"); !errors.Is(err, ErrUnknownService) {
		t.Fatalf("nudge unknown: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	if err := sup.Nudge("cloud"); err != nil {
		t.Fatal(err)
	}
	<-attempted
	cancel()
	<-done
}

func TestSupervisorRunNeedsServices(t *testing.T) {
	if err := NewSupervisor(SupervisorConfig{}).Run(context.Background()); err == nil {
		t.Fatal("Run with no services succeeded")
	}
}

func TestPolicyChecks(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		p    Policy
		want conformance.Verdict
	}{
		{Policy{FleetSize: 50000, ServiceCapacity: 1000}, conformance.Pass},
		{Policy{}, conformance.Inconclusive},
		{Policy{FleetSize: 50000, ServiceCapacity: 1000, SpreadFactor: 0.5}, conformance.Fail},
		{Policy{FleetSize: 50000, ServiceCapacity: 1000, Cap: 2 * time.Hour}, conformance.Fail},
		{Policy{FleetSize: 1 << 40, ServiceCapacity: 1}, conformance.Fail},
	}
	for _, tt := range tests {
		cs := tt.p.Checks()
		if len(cs) != 1 || cs[0].Provisions[0] != "5.9-3" {
			t.Fatalf("checks %+v", cs)
		}
		r := cs[0].Run(ctx)
		if r.Verdict != tt.want {
			t.Errorf("%v: verdict %s (%s), want %s", tt.p, r.Verdict, r.Detail, tt.want)
		}
		if !strings.Contains(r.Observed, "full jitter") {
			t.Errorf("observed %q does not describe the policy", r.Observed)
		}
	}
	sup := NewSupervisor(SupervisorConfig{Policy: Policy{FleetSize: 10, ServiceCapacity: 1}})
	sup.Add("cloud", func(context.Context, func()) error { return nil })
	sup.AddWithPolicy("updates", Policy{}, func(context.Context, func()) error { return nil })
	res := conformance.RunChecks(ctx, sup)
	if len(res) != 2 || res[0].ID != "resilience.reconnect-policy.cloud" || res[0].Verdict != conformance.Pass || res[1].Verdict != conformance.Inconclusive {
		t.Fatalf("supervisor checks %+v", res)
	}
}
