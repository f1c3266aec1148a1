package update

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Scheduler defaults. Each is documented on the SchedulerConfig field it
// fills in.
const (
	// DefaultCheckPeriod is the mean time between checks (provision 5.3-5).
	DefaultCheckPeriod = 24 * time.Hour
	// defaultMinBackoff is the backoff ceiling after the first failure.
	defaultMinBackoff = time.Minute
	// defaultMaxBackoff is the largest backoff ceiling; it is well below
	// DefaultCheckPeriod so that a device that was offline catches up on a
	// security release soon after it is back (5.3-8).
	defaultMaxBackoff = 6 * time.Hour
	// defaultDisruptRetry is the wait before asking SafeToDisrupt again.
	defaultDisruptRetry = 15 * time.Minute

	checkJitterPercent  = 20
	minBackoffFloor     = time.Second
	maxBackoffDoublings = 30
)

// SchedulerConfig configures a Scheduler. The zero value of every optional
// field is a documented default.
type SchedulerConfig struct {
	// Updater checks for and installs releases. Required; *Client
	// implements it.
	Updater Updater
	// Policy is the owner's update policy. Nil means the default policy
	// (automatic installation and notifications on, nothing postponed)
	// that the owner cannot change.
	Policy *PolicyStore
	// SafeToDisrupt is the device's hook that says whether installing now
	// would disrupt its user (a door lock mid-operation, a heater during a
	// cold night). The Scheduler installs only when it returns true and
	// asks again after DisruptRetry. Nil means always safe.
	SafeToDisrupt func(ctx context.Context) bool
	// CheckPeriod is the mean time between checks (provision 5.3-5); each
	// wait is drawn uniformly from ±20% of it so that a fleet does not
	// check in step. Zero means DefaultCheckPeriod (24 h).
	CheckPeriod time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed check or
	// install: after the n-th failure in a row the Scheduler waits a
	// uniformly random time up to min(MaxBackoff, MinBackoff·2ⁿ⁻¹) ("full
	// jitter"), at least one second, and never stops retrying. Zero means
	// 1 min and 6 h; MaxBackoff is
	// raised to MinBackoff if smaller.
	MinBackoff, MaxBackoff time.Duration
	// DisruptRetry is how long the Scheduler waits before asking
	// SafeToDisrupt again. Zero means 15 min.
	DisruptRetry time.Duration
	// Notify receives the Scheduler's events: the release's announcements
	// (Release.Events, unless the policy turned notifications off),
	// ReleasePostponed, InstallDeferred and CheckFailed. Nil means none.
	// Sends never block (provision 5.3-11: a slow or absent UI must not
	// hold up an update): an event the channel has no room for is dropped
	// and logged at Warn. One step sends at most three events, so a
	// buffer of eight is enough for a reader that keeps up.
	Notify chan<- Event
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Tests inject a
	// fake clock here.
	Now func() time.Time
	// NewTimer starts a timer firing after d and returns its channel and
	// a function that stops it; nil means time.NewTimer. Tests inject
	// a fake here.
	NewTimer func(d time.Duration) (<-chan time.Time, func() bool)
	// Rand returns a uniformly random int64 in [0, n); nil means
	// math/rand/v2.Int64N. Tests inject a deterministic source.
	Rand func(n int64) int64
}

// CheckFailed reports a failed check or install; the Scheduler tries again
// after Retry.
type CheckFailed struct {
	Err   error
	Retry time.Duration
}

// InstallDeferred reports that a release is available but not being
// installed now, and why: Reason is "auto-install off" (the owner's
// choice; the release was announced instead) or "not safe to disrupt"
// (the device's hook said no; the Scheduler asks again later).
type InstallDeferred struct {
	Path           string
	ReleaseCounter uint64
	Reason         string
}

func (CheckFailed) isEvent()     {}
func (InstallDeferred) isEvent() {}

// Reasons in InstallDeferred.
const (
	// DeferredAutoInstallOff: the owner switched automatic installation
	// off (5.3-6); the release was announced instead.
	DeferredAutoInstallOff = "auto-install off"
	// DeferredNotSafe: the device's SafeToDisrupt hook said no; the
	// Scheduler asks again after DisruptRetry.
	DeferredNotSafe = "not safe to disrupt"
)

// Scheduler decides when a device checks for updates and installs them:
// right after start and then periodically (provision 5.3-5), installing
// automatically (5.3-4) as the owner's UpdatePolicy allows (5.3-6), with
// security releases postponed no longer than the maker's cap (5.3-8).
// Start one Scheduler per device with Run in its own goroutine.
type Scheduler struct {
	cfg     SchedulerConfig
	log     *slog.Logger
	running atomic.Bool

	failures  int
	nextCheck time.Time
	pending   *Release // newest release found, not yet installed
	announced uint64   // release counter last announced
	postponed uint64   // release counter last reported postponed
	deferred  uint64   // release counter last reported deferred (auto off)
	applied   uint64   // release counter Apply installed (awaiting restart)
}

// NewScheduler returns a Scheduler for cfg, filled in with the defaults.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Updater == nil {
		return nil, fmt.Errorf("%w: SchedulerConfig.Updater is required", ErrConfig)
	}
	if cfg.CheckPeriod < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.DisruptRetry < 0 {
		return nil, fmt.Errorf("%w: negative scheduler duration", ErrConfig)
	}
	if cfg.CheckPeriod == 0 {
		cfg.CheckPeriod = DefaultCheckPeriod
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.DisruptRetry == 0 {
		cfg.DisruptRetry = defaultDisruptRetry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewTimer == nil {
		cfg.NewTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Int64N
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg, log: log}, nil
}

// Run checks for a release at once and then until ctx is done, installing
// what the policy allows; it returns ctx's error. Failures never stop it: a
// failed check or install is retried with backoff. Between steps it holds
// one timer and waits on it, ctx and a policy change (so a resumed
// postponement or auto-install switched on takes effect at once: a policy
// change starts a step, which checks again only when no release is
// pending); it does not poll. Calling Run while another Run of the same Scheduler is active
// is a programmer error and panics.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		panic("update: Scheduler.Run called twice")
	}
	defer s.running.Store(false)
	for {
		var changed <-chan struct{}
		if s.cfg.Policy != nil {
			changed = s.cfg.Policy.watch()
		}
		wait := s.step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, stop := s.cfg.NewTimer(wait)
		select {
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case <-changed:
			stop()
		case <-c:
		}
	}
}

// step does what is due now and returns how long to wait for the next step.
func (s *Scheduler) step(ctx context.Context) time.Duration {
	now := s.cfg.Now()
	// A clock set back past the planned check would otherwise postpone the
	// next check by the size of the jump; check when it looks far off.
	if s.pending == nil || !now.Before(s.nextCheck) || s.nextCheck.Sub(now) > s.cfg.CheckPeriod*2 {
		rel, err := s.cfg.Updater.Check(ctx)
		if err != nil {
			return s.fail(ctx, fmt.Errorf("update: check: %w", err))
		}
		s.nextCheck = now.Add(s.jitter(s.cfg.CheckPeriod))
		s.pending = rel
		if rel == nil {
			s.failures = 0
			return s.nextCheck.Sub(now)
		}
	}
	// From here on the step either defers, installs or fails to install:
	// only a failed install keeps the count of failures in a row, so an
	// install that keeps failing backs off even though its checks pass.
	return s.decide(ctx, now)
}

// decide acts on the pending release and returns the wait.
func (s *Scheduler) decide(ctx context.Context, now time.Time) time.Duration {
	failures := s.failures
	s.failures = 0
	rel := s.pending
	var counter uint64
	if rel.Descriptor != nil {
		counter = rel.Descriptor.ReleaseCounter
	}
	if counter != 0 && counter == s.applied {
		// Installed and waiting for the restart that boots it; do not
		// download it again.
		return s.untilCheck(now)
	}
	p := UpdatePolicy{}
	secCap := DefaultMaxSecurityPostpone
	if s.cfg.Policy != nil {
		p = s.cfg.Policy.Policy()
		secCap = s.cfg.Policy.MaxSecurityPostpone()
	}
	if !p.NotificationsOff && counter != s.announced {
		s.announced = counter
		for _, ev := range rel.Events() {
			s.notify(ev)
		}
	}
	if p.AutoInstallOff {
		if counter != s.deferred {
			s.deferred = counter
			s.notify(InstallDeferred{Path: rel.Path, ReleaseCounter: counter, Reason: DeferredAutoInstallOff})
		}
		return s.untilCheck(now)
	}
	if ok, until := p.postponedUntil(rel, now, secCap); ok {
		if counter != s.postponed {
			s.postponed = counter
			s.notify(ReleasePostponed{Path: rel.Path, ReleaseCounter: counter, Security: rel.Descriptor.Security, Until: until,
				Capped: p.Postponed.capped(until)})
		}
		wait := s.untilCheck(now)
		if !until.IsZero() {
			// Wake when the postponement ends, so a security release is
			// installed when the cap expires (5.3-8).
			wait = min(wait, until.Sub(now))
		}
		return wait
	}
	if s.cfg.SafeToDisrupt != nil && !s.cfg.SafeToDisrupt(ctx) {
		s.notify(InstallDeferred{Path: rel.Path, ReleaseCounter: counter, Reason: DeferredNotSafe})
		return min(s.cfg.DisruptRetry, s.untilCheck(now))
	}
	if err := s.cfg.Updater.Apply(ctx, rel); err != nil {
		s.failures = failures
		return s.fail(ctx, fmt.Errorf("update: apply %s: %w", rel.Path, err))
	}
	s.applied = counter
	s.pending = nil
	return s.untilCheck(now)
}

// untilCheck is the wait until the planned check, at least a second.
func (s *Scheduler) untilCheck(now time.Time) time.Duration {
	return max(s.nextCheck.Sub(now), minBackoffFloor)
}

// fail records a failure and returns the backoff: full jitter over an
// exponentially growing, bounded ceiling. A failed check forgets the
// pending release, so the retry checks again.
func (s *Scheduler) fail(ctx context.Context, err error) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	s.failures++
	s.pending = nil
	ceil := s.cfg.MaxBackoff
	if n := s.failures - 1; n < maxBackoffDoublings && s.cfg.MinBackoff<<n < ceil && s.cfg.MinBackoff<<n > 0 {
		ceil = s.cfg.MinBackoff << n
	}
	d := max(time.Duration(s.cfg.Rand(int64(ceil)+1)), minBackoffFloor)
	s.log.Warn("update: check or install failed", "err", err, "retry", d, "failures", s.failures)
	s.notify(CheckFailed{Err: err, Retry: d})
	return d
}

// jitter returns d ± 20%, uniformly.
func (s *Scheduler) jitter(d time.Duration) time.Duration {
	span := int64(d) * checkJitterPercent / 100
	return d - time.Duration(span) + time.Duration(s.cfg.Rand(2*span+1))
}

func (s *Scheduler) notify(e Event) {
	if !trySend(s.cfg.Notify, e) {
		s.log.Warn("update: event dropped, subscriber not keeping up", "event", fmt.Sprintf("%T", e))
	}
}

// trySend sends e on ch without blocking and reports whether it was
// delivered or there was no channel to deliver to.
func trySend(ch chan<- Event, e Event) bool {
	if ch == nil {
		return true
	}
	select {
	case ch <- e:
		return true
	default:
		return false
	}
}
