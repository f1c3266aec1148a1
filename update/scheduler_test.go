package update

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// fakeUpdater scripts Check and records Apply. Its fields are read by the
// test only after a timer request, which Run makes after the step.
type fakeUpdater struct {
	mu       sync.Mutex
	now      func() time.Time
	rel      *Release
	checkErr []error // consumed one per Check; nil entries succeed
	applyErr []error
	checks   int
	applies  []time.Time
}

func (u *fakeUpdater) Check(ctx context.Context) (*Release, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.checks++
	if len(u.checkErr) > 0 {
		err := u.checkErr[0]
		u.checkErr = u.checkErr[1:]
		if err != nil {
			return nil, err
		}
	}
	return u.rel, nil
}

func (u *fakeUpdater) Apply(ctx context.Context, r *Release) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.applyErr) > 0 {
		err := u.applyErr[0]
		u.applyErr = u.applyErr[1:]
		if err != nil {
			return err
		}
	}
	u.applies = append(u.applies, u.now())
	return nil
}

func (u *fakeUpdater) counts() (checks, applies int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.checks, len(u.applies)
}

// timerReq is one timer the Scheduler started.
type timerReq struct {
	d time.Duration
	c chan time.Time
}

// schedEnv runs a Scheduler on a fake clock: every wait the Scheduler
// starts is handed to the test, which advances the clock and fires it.
type schedEnv struct {
	t      *testing.T
	mu     sync.Mutex
	now    time.Time
	reqs   chan timerReq
	u      *fakeUpdater
	policy *PolicyStore
	events []Event
	evch   chan Event
	cancel context.CancelFunc
	done   chan error
}

func newSchedEnv(t *testing.T, rel *Release, mod func(*schedEnv, *SchedulerConfig)) *schedEnv {
	t.Helper()
	e := &schedEnv{t: t, now: policyT0, reqs: make(chan timerReq), done: make(chan error, 1), evch: make(chan Event, 1024)}
	e.u = &fakeUpdater{rel: rel, now: e.clock}
	var err error
	e.policy, err = OpenPolicyStore(PolicyConfig{FS: durable.NewCrashFS(), Path: "policy.json", Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := SchedulerConfig{
		Updater: e.u,
		Policy:  e.policy,
		Now:     e.clock,
		NewTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			c := make(chan time.Time, 1)
			e.reqs <- timerReq{d, c}
			return c, func() bool { return true }
		},
		Notify: e.evch,
		Rand:   rand.New(rand.NewPCG(1, 2)).Int64N,
	}
	if mod != nil {
		mod(e, &cfg)
	}
	e.policy = cfg.Policy
	s, err := NewScheduler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case err := <-e.done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want context.Canceled", err)
				}
				return
			case <-e.reqs:
			}
		}
	})
	return e
}

func (e *schedEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// next waits for the Scheduler's next timer (it has finished a step).
func (e *schedEnv) next() timerReq {
	e.t.Helper()
	select {
	case r := <-e.reqs:
		return r
	case err := <-e.done:
		e.t.Fatalf("Run returned %v", err)
	case <-time.After(20 * time.Second): // hang guard, not a timing assertion
		e.t.Fatal("scheduler started no timer")
	}
	return timerReq{}
}

// fire advances the clock by the timer's duration and fires it.
func (e *schedEnv) fire(r timerReq) {
	e.mu.Lock()
	e.now = e.now.Add(r.d)
	now := e.now
	e.mu.Unlock()
	r.c <- now
}

// eventsOf returns every event so far. The Scheduler sends a step's events
// before it starts the step's timer, so after next they are all here.
func (e *schedEnv) eventsOf() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		select {
		case ev := <-e.evch:
			e.events = append(e.events, ev)
		default:
			return append([]Event(nil), e.events...)
		}
	}
}

func countEvents[T Event](evs []Event) int {
	n := 0
	for _, ev := range evs {
		if _, ok := ev.(T); ok {
			n++
		}
	}
	return n
}

// TestSchedulerChecksAtStart: the first thing Run does is check (5.3-5),
// before it waits for anything.
func TestSchedulerChecksAtStart(t *testing.T) {
	e := newSchedEnv(t, nil, nil)
	r := e.next()
	if checks, _ := e.u.counts(); checks != 1 {
		t.Fatalf("checks before the first wait = %d, want 1", checks)
	}
	if r.d < DefaultCheckPeriod*8/10 || r.d > DefaultCheckPeriod*12/10 {
		t.Fatalf("first wait %v outside 24h±20%%", r.d)
	}
}

// TestSchedulerPeriodicJitter: while up to date, the Scheduler checks once
// per wait, and every wait is within ±20% of the period and not constant.
func TestSchedulerPeriodicJitter(t *testing.T) {
	const period = 10 * time.Hour
	lo, hi := period*8/10, period*12/10
	for name, rnd := range map[string]func(int64) int64{
		"random": rand.New(rand.NewPCG(3, 4)).Int64N,
		"low":    func(int64) int64 { return 0 },
		"high":   func(n int64) int64 { return n - 1 },
	} {
		t.Run(name, func(t *testing.T) {
			e := newSchedEnv(t, nil, func(_ *schedEnv, c *SchedulerConfig) { c.CheckPeriod = period; c.Rand = rnd })
			seen := map[time.Duration]bool{}
			for i := 1; i <= 200; i++ {
				r := e.next()
				if checks, _ := e.u.counts(); checks != i {
					t.Fatalf("after %d waits: %d checks", i-1, checks)
				}
				if r.d < lo || r.d > hi {
					t.Fatalf("wait %d = %v outside [%v, %v]", i, r.d, lo, hi)
				}
				seen[r.d] = true
				e.fire(r)
			}
			if name == "random" && len(seen) < 100 {
				t.Fatalf("only %d distinct waits in 200: no jitter", len(seen))
			}
		})
	}
}

// TestSchedulerBackoff: failed checks are retried after full-jitter
// backoff whose ceiling doubles up to MaxBackoff; it never gives up, and
// the first success returns to the periodic schedule.
func TestSchedulerBackoff(t *testing.T) {
	const minB, maxB = time.Minute, time.Hour
	fails := make([]error, 50)
	for i := range fails {
		fails[i] = errors.New("network down")
	}
	// Rand at the top of its range shows the ceiling.
	e := newSchedEnv(t, nil, func(e *schedEnv, c *SchedulerConfig) {
		c.MinBackoff, c.MaxBackoff = minB, maxB
		c.Rand = func(n int64) int64 { return n - 1 }
		e.u.checkErr = fails
	})
	for i := 1; i <= 50; i++ {
		r := e.next()
		want := maxB
		if i <= 7 {
			want = min(minB<<(i-1), maxB)
		}
		if r.d != want {
			t.Fatalf("failure %d: wait %v, want %v", i, r.d, want)
		}
		e.fire(r)
	}
	r := e.next()
	if checks, _ := e.u.counts(); checks != 51 {
		t.Fatalf("checks = %d, want 51 (never gives up)", checks)
	}
	if r.d < DefaultCheckPeriod*8/10 {
		t.Fatalf("after success: wait %v, want the period", r.d)
	}
	if n := countEvents[CheckFailed](e.eventsOf()); n != 50 {
		t.Fatalf("CheckFailed events = %d, want 50", n)
	}
}

// TestSchedulerBackoffFullJitter: with a random source the waits spread
// over [1s, ceiling], not just near the ceiling.
func TestSchedulerBackoffFullJitter(t *testing.T) {
	const maxB = time.Hour
	fails := make([]error, 300)
	for i := range fails {
		fails[i] = errors.New("dns")
	}
	e := newSchedEnv(t, nil, func(e *schedEnv, c *SchedulerConfig) { c.MaxBackoff = maxB; e.u.checkErr = fails })
	var below int
	for i := 1; i <= 300; i++ {
		r := e.next()
		if r.d < time.Second || r.d > maxB {
			t.Fatalf("failure %d: wait %v outside [1s, %v]", i, r.d, maxB)
		}
		if i > 10 && r.d < maxB/2 {
			below++
		}
		e.fire(r)
	}
	if below < 50 {
		t.Fatalf("only %d of 290 capped waits below half the ceiling: not full jitter", below)
	}
}

// TestSchedulerInstalls: with the default policy a release is announced
// and installed at the first check, and not applied again while it waits
// for the restart.
func TestSchedulerInstalls(t *testing.T) {
	rel := policyRelease(2, true)
	rel.Descriptor.Risks = []string{"remote code execution"}
	e := newSchedEnv(t, rel, nil)
	for range 3 {
		e.fire(e.next())
	}
	e.next()
	if checks, applies := e.u.counts(); applies != 1 || checks < 3 {
		t.Fatalf("checks %d applies %d, want 1 apply", checks, applies)
	}
	evs := e.eventsOf()
	if countEvents[SecurityUpdate](evs) != 1 || countEvents[Disruption](evs) != 1 {
		t.Fatalf("events %#v, want one announcement", evs)
	}
}

// TestSchedulerStuckSubscriber: a channel nobody reads, or a UI stuck
// with its buffer full, must not hold up an install (5.3-11); the events
// it missed are dropped and logged.
func TestSchedulerStuckSubscriber(t *testing.T) {
	for _, name := range []string{"unread", "full"} {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			ch := make(chan Event)
			if name == "full" {
				ch = make(chan Event, 1)
				ch <- CheckFailed{} // the UI never took it
			}
			e := newSchedEnv(t, policyRelease(2, true), func(_ *schedEnv, c *SchedulerConfig) {
				c.Notify = ch
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			e.next()
			if _, applies := e.u.counts(); applies != 1 {
				t.Fatalf("applies = %d, want 1 despite the stuck subscriber", applies)
			}
			if n := strings.Count(logs.String(), "event dropped"); n != 2 {
				t.Fatalf("%d dropped events logged, want 2 (the announcement):\n%s", n, logs.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger on another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSchedulerAutoInstallOff: with automatic installation off the
// release is checked for and announced but never applied.
func TestSchedulerAutoInstallOff(t *testing.T) {
	rel := policyRelease(2, true)
	e := newSchedEnv(t, rel, func(_ *schedEnv, c *SchedulerConfig) {
		p, err := OpenPolicyStore(PolicyConfig{FS: durable.NewCrashFS(), Path: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.SetAutoInstall(false); err != nil {
			t.Fatal(err)
		}
		c.Policy = p
	})
	for range 5 {
		e.fire(e.next())
	}
	e.next()
	if checks, applies := e.u.counts(); applies != 0 || checks != 6 {
		t.Fatalf("checks %d applies %d, want 6 checks and no apply", checks, applies)
	}
	evs := e.eventsOf()
	if countEvents[SecurityUpdate](evs) != 1 {
		t.Fatalf("events %#v: want the release announced once", evs)
	}
	if countEvents[InstallDeferred](evs) != 1 || evs[len(evs)-1].(InstallDeferred).Reason != DeferredAutoInstallOff {
		t.Fatalf("events %#v: want one InstallDeferred(auto-install off)", evs)
	}
}

// TestSchedulerNotificationsOff: no announcement reaches the UI, the
// release is still installed.
func TestSchedulerNotificationsOff(t *testing.T) {
	e := newSchedEnv(t, policyRelease(2, false), nil)
	e.next()
	// Switch notifications off, then offer a new release.
	if _, err := e.policy.SetNotifications(false); err != nil {
		t.Fatal(err)
	}
	r := e.next() // woken by the policy change
	e.u.mu.Lock()
	e.u.rel = policyRelease(3, false)
	e.u.mu.Unlock()
	e.fire(r)
	e.next()
	if _, applies := e.u.counts(); applies != 2 {
		t.Fatalf("applies = %d, want 2", applies)
	}
	if n := countEvents[UpdateAvailable](e.eventsOf()); n != 1 {
		t.Fatalf("UpdateAvailable events = %d, want 1 (only before notifications went off)", n)
	}
}

// TestSchedulerPostponedFeature: a feature release postponed without end is
// not installed however long the device runs, and is installed as soon as
// the owner resumes it.
func TestSchedulerPostponedFeature(t *testing.T) {
	rel := policyRelease(5, false)
	e2 := newSchedEnvPostponed(t, rel, time.Time{})
	for range 30 { // a month of daily checks
		e2.fire(e2.next())
	}
	e2.next()
	if _, applies := e2.u.counts(); applies != 0 {
		t.Fatalf("postponed feature release applied %d times", applies)
	}
	if n := countEvents[ReleasePostponed](e2.eventsOf()); n != 1 {
		t.Fatalf("ReleasePostponed events = %d, want 1", n)
	}
	before := e2.clock()
	if _, err := e2.policy.Resume(); err != nil {
		t.Fatal(err)
	}
	e2.next() // woken by the change, no timer fired
	if _, applies := e2.u.counts(); applies != 1 {
		t.Fatalf("after Resume: applies = %d, want 1", applies)
	}
	if at := e2.u.applies[0]; !at.Equal(before) {
		t.Fatalf("applied at %v, want at once (%v)", at, before)
	}
}

// newSchedEnvPostponed starts a Scheduler whose policy (on the test's
// clock) postponed rel until until at policyT0.
func newSchedEnvPostponed(t *testing.T, rel *Release, until time.Time) *schedEnv {
	t.Helper()
	return newSchedEnv(t, rel, func(e *schedEnv, c *SchedulerConfig) {
		p, err := OpenPolicyStore(PolicyConfig{FS: durable.NewCrashFS(), Path: "p", Now: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Postpone(rel, until); err != nil {
			t.Fatal(err)
		}
		c.Policy = p
	})
}

// TestSchedulerPostponedSecurityAfterCap: a security release the owner
// postponed "forever" is installed when the maker's cap expires, not
// before and not a whole check period later (5.3-8).
func TestSchedulerPostponedSecurityAfterCap(t *testing.T) {
	rel := policyRelease(6, true)
	e := newSchedEnvPostponed(t, rel, time.Time{})
	capEnd := policyT0.Add(DefaultMaxSecurityPostpone)
	for i := 0; ; i++ {
		r := e.next()
		if _, applies := e.u.counts(); applies > 0 {
			break
		}
		if now := e.clock(); !now.Before(capEnd) {
			t.Fatalf("at %v (cap %v): not applied", now, capEnd)
		}
		if i > 20 {
			t.Fatal("never applied")
		}
		e.fire(r)
	}
	if at := e.u.applies[0]; !at.Equal(capEnd) {
		t.Fatalf("applied at %v, want when the cap expires (%v)", at, capEnd)
	}
	if n := countEvents[ReleasePostponed](e.eventsOf()); n != 1 {
		t.Fatalf("ReleasePostponed events = %d, want 1", n)
	}
	for _, ev := range e.eventsOf() {
		if rp, ok := ev.(ReleasePostponed); ok && (!rp.Capped || !rp.Until.Equal(capEnd) || !rp.Security) {
			t.Fatalf("ReleasePostponed %+v: want Capped, Until the cap's end", rp)
		}
	}
}

// TestSchedulerPostponedSecurityWithinCap: a security release postponed
// for less than the cap is reported with the owner's time, not Capped.
func TestSchedulerPostponedSecurityWithinCap(t *testing.T) {
	until := policyT0.Add(DefaultMaxSecurityPostpone / 2)
	e := newSchedEnvPostponed(t, policyRelease(6, true), until)
	e.next()
	var got []ReleasePostponed
	for _, ev := range e.eventsOf() {
		if rp, ok := ev.(ReleasePostponed); ok {
			got = append(got, rp)
		}
	}
	if len(got) != 1 || got[0].Capped || !got[0].Until.Equal(until) {
		t.Fatalf("ReleasePostponed %+v: want one, not Capped, until %v", got, until)
	}
}

// TestSchedulerNotSafeToDisrupt: while the device's hook says no, nothing
// is applied and the Scheduler asks again after DisruptRetry without
// checking the network again; when it says yes, it installs.
func TestSchedulerNotSafeToDisrupt(t *testing.T) {
	var mu sync.Mutex
	safe, asked := false, 0
	e := newSchedEnv(t, policyRelease(2, false), func(_ *schedEnv, c *SchedulerConfig) {
		c.SafeToDisrupt = func(context.Context) bool { mu.Lock(); defer mu.Unlock(); asked++; return safe }
	})
	for range 4 {
		r := e.next()
		if r.d != defaultDisruptRetry {
			t.Fatalf("wait %v, want DisruptRetry", r.d)
		}
		e.fire(r)
	}
	r := e.next()
	if checks, applies := e.u.counts(); applies != 0 || checks != 1 {
		t.Fatalf("checks %d applies %d, want 1 check and no apply", checks, applies)
	}
	mu.Lock()
	if asked != 5 {
		t.Fatalf("hook asked %d times, want 5", asked)
	}
	safe = true
	mu.Unlock()
	if n := countEvents[InstallDeferred](e.eventsOf()); n != 5 {
		t.Fatalf("InstallDeferred events = %d, want 5", n)
	}
	e.fire(r)
	e.next()
	if checks, applies := e.u.counts(); applies != 1 || checks != 1 {
		t.Fatalf("once safe: checks %d applies %d, want 1 and 1", checks, applies)
	}
}

// setClock moves the test clock (a user or a bad NTP answer setting it).
func (e *schedEnv) setClock(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

// TestSchedulerClockSetBack: setting the clock back before the moment a
// security release was postponed ends the postponement instead of
// stretching it; the release is installed at the next step.
func TestSchedulerClockSetBack(t *testing.T) {
	e := newSchedEnvPostponed(t, policyRelease(6, true), time.Time{})
	r := e.next()
	if _, applies := e.u.counts(); applies != 0 {
		t.Fatal("postponed release applied at start")
	}
	e.setClock(policyT0.Add(-30 * 24 * time.Hour))
	r.d = 0
	e.fire(r)
	e.next()
	if _, applies := e.u.counts(); applies != 1 {
		t.Fatalf("applies = %d after the clock was set back, want 1", applies)
	}
}

// TestSchedulerClockSetBackWhilePending: with a release pending (automatic
// installation off), the clock is set back 30 days. The planned check now
// looks a month away; the Scheduler checks at once instead and plans the
// next check one period ahead, not a month.
func TestSchedulerClockSetBackWhilePending(t *testing.T) {
	e := newSchedEnv(t, policyRelease(2, false), func(e *schedEnv, _ *SchedulerConfig) {
		if _, err := e.policy.SetAutoInstall(false); err != nil {
			t.Fatal(err)
		}
	})
	r := e.next()
	checks, _ := e.u.counts()
	e.setClock(policyT0.Add(-30 * 24 * time.Hour))
	r.d = 0
	e.fire(r)
	r = e.next()
	if got, applies := e.u.counts(); got != checks+1 || applies != 0 {
		t.Fatalf("checks %d → %d, applies %d: want one check at once after the clock went back", checks, got, applies)
	}
	if r.d > DefaultCheckPeriod*12/10 {
		t.Fatalf("next wait %v after the clock went back, want at most one period", r.d)
	}
}

// TestSchedulerApplyFailureRetries: a failed install is reported, retried
// after backoff with a fresh check, and succeeds later.
func TestSchedulerApplyFailureRetries(t *testing.T) {
	e := newSchedEnv(t, policyRelease(2, false), func(e *schedEnv, c *SchedulerConfig) {
		e.u.applyErr = []error{errors.New("flash write failed"), errors.New("flash write failed")}
		c.Rand = func(n int64) int64 { return n - 1 }
	})
	for i, want := range []time.Duration{defaultMinBackoff, 2 * defaultMinBackoff} {
		r := e.next()
		if r.d != want {
			t.Fatalf("failure %d: wait %v, want %v", i+1, r.d, want)
		}
		e.fire(r)
	}
	e.next()
	checks, applies := e.u.counts()
	if applies != 1 || checks != 3 {
		t.Fatalf("checks %d applies %d, want 3 checks and 1 successful apply", checks, applies)
	}
	evs := e.eventsOf()
	if n := countEvents[CheckFailed](evs); n != 2 {
		t.Fatalf("CheckFailed events = %d, want 2", n)
	}
}

// TestSchedulerRunTwicePanics: a second concurrent Run is a programmer
// error.
func TestSchedulerRunTwicePanics(t *testing.T) {
	s, err := NewScheduler(SchedulerConfig{Updater: &fakeUpdater{now: time.Now}})
	if err != nil {
		t.Fatal(err)
	}
	s.running.Store(true)
	defer func() {
		if recover() == nil {
			t.Fatal("second Run did not panic")
		}
	}()
	s.Run(context.Background())
}

// TestNewSchedulerConfig: a missing Updater and negative durations are
// refused.
func TestNewSchedulerConfig(t *testing.T) {
	for _, c := range []SchedulerConfig{{}, {Updater: &fakeUpdater{}, CheckPeriod: -1}, {Updater: &fakeUpdater{}, MaxBackoff: -time.Second}} {
		if _, err := NewScheduler(c); !errors.Is(err, ErrConfig) {
			t.Errorf("NewScheduler(%+v) = %v, want ErrConfig", c, err)
		}
	}
}
