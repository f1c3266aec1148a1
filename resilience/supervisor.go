package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// ConnectFunc runs one connection to an associated service. It dials, calls
// online once the service has accepted the connection, and then blocks —
// serving the connection, for example draining an [Outbox] — until the
// connection is lost or ctx is done, returning why.
//
// Returning before calling online is a failed attempt: return the error
// the service gave, wrapping a [BusyError] (see [HTTPBusy], [MQTTBusy]) when
// it said it is overloaded, so the policy backs off accordingly. online may
// be called from any goroutine, at most once counts.
type ConnectFunc func(ctx context.Context, online func()) error

// EventKind says what happened to a supervised connection.
type EventKind int

// Event kinds, in the order a connection goes through them.
const (
	// EventWaiting: the supervisor waits Event.Delay before the next attempt.
	EventWaiting EventKind = iota
	// EventConnecting: an attempt starts.
	EventConnecting
	// EventOnline: the connect function called online.
	EventOnline
	// EventFailed: an attempt failed before going online (Event.Err).
	EventFailed
	// EventOffline: an established connection was lost (Event.Err).
	EventOffline
)

// String returns the kind's name ("waiting", "online", …).
func (k EventKind) String() string {
	switch k {
	case EventWaiting:
		return "waiting"
	case EventConnecting:
		return "connecting"
	case EventOnline:
		return "online"
	case EventFailed:
		return "failed"
	case EventOffline:
		return "offline"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change of a supervised connection.
type Event struct {
	Service string
	Kind    EventKind
	At      time.Time
	// Delay is the wait before the next attempt (EventWaiting).
	Delay time.Duration
	// Err is why an attempt failed or a connection was lost.
	Err error
}

// Status is a snapshot of one supervised connection.
type Status struct {
	Service string
	// Online reports whether the connect function is online now.
	Online bool
	// Since is when Online last changed (the supervisor's start at first).
	Since time.Time
	// Failures counts failed attempts since the last stable connection.
	Failures int
	// LastError is the last failure or disconnection reason, "" if none.
	LastError string
	// NextAttempt is when the next attempt is due while waiting, else zero.
	NextAttempt time.Time
}

// SupervisorConfig configures [NewSupervisor]. The zero value is usable.
type SupervisorConfig struct {
	// Policy paces the services added with Add. The zero Policy is the
	// default; declare FleetSize and ServiceCapacity (5.9-3).
	Policy Policy
	// OnEvent, if set, is called for every event, synchronously from the
	// service's goroutine: it must not block (send to a buffered channel
	// with select/default if you need one).
	OnEvent func(Event)
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now, whose monotonic reading makes the
	// stable-connection measure immune to wall-clock jumps).
	Now func() time.Time
	// Sleep waits d or until ctx is done, returning ctx's error then
	// (default a timer). Tests replace it to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Supervisor keeps a device's connections to its associated services: for
// each one it runs the device's [ConnectFunc] under a [Policy] — start-up
// spread, full jitter, busy signals honoured, never giving up — and tracks
// whether it is online. It is safe for concurrent use.
//
// The supervisor never stands between the device and its local functions:
// nothing it does blocks, and the device's own code reads [Supervisor.Online]
// to decide whether to act locally only. See the package documentation for
// the local-first pattern.
type Supervisor struct {
	cfg     SupervisorConfig
	log     *slog.Logger
	mu      sync.Mutex
	running bool
	svcs    map[string]*service
	order   []string
}

type service struct {
	name    string
	policy  Policy
	connect ConnectFunc
	status  Status
	nudge   context.CancelFunc
	nudged  bool
}

// NewSupervisor returns a supervisor with no services; add them with Add.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger, svcs: map[string]*service{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Errors of the [Supervisor].
var (
	// ErrRunning: services cannot be added while Run is running, and Run
	// cannot run twice.
	ErrRunning = errors.New("resilience: supervisor already running")
	// ErrUnknownService: no service of that name was added.
	ErrUnknownService = errors.New("resilience: unknown service")
)

// Add registers an associated service, paced by the supervisor's Policy.
// Call it before Run.
func (s *Supervisor) Add(name string, connect ConnectFunc) error {
	return s.AddWithPolicy(name, s.cfg.Policy, connect)
}

// AddWithPolicy registers an associated service with its own policy (a
// service with a different capacity). Call it before Run.
func (s *Supervisor) AddWithPolicy(name string, p Policy, connect ConnectFunc) error {
	if name == "" || connect == nil {
		return errors.New("resilience: service needs a name and a connect function")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return ErrRunning
	}
	if _, dup := s.svcs[name]; dup {
		return fmt.Errorf("resilience: service %q added twice", name)
	}
	s.svcs[name] = &service{name: name, policy: p, connect: connect, status: Status{Service: name}}
	s.order = append(s.order, name)
	return nil
}

// Run supervises every added service until ctx is done, then waits for the
// connect functions to return and reports ctx's error. Each service's first
// attempt is delayed by its start-up spread.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return ErrRunning
	}
	if len(s.svcs) == 0 {
		s.mu.Unlock()
		return errors.New("resilience: supervisor has no services")
	}
	s.running = true
	now := s.cfg.Now()
	var svcs []*service
	for _, n := range s.order {
		svc := s.svcs[n]
		svc.status.Since = now
		svcs = append(svcs, svc)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runService(ctx, svc)
		}()
	}
	wg.Wait()
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	return ctx.Err()
}

func (s *Supervisor) emit(e Event) {
	lvl := slog.LevelInfo
	if e.Kind == EventWaiting || e.Kind == EventConnecting {
		lvl = slog.LevelDebug
	}
	attrs := []any{"service", e.Service, "event", e.Kind.String()}
	if e.Delay > 0 {
		attrs = append(attrs, "delay", e.Delay)
	}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err)
	}
	s.log.Log(context.Background(), lvl, "resilience: connection", attrs...)
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

func (s *Supervisor) runService(ctx context.Context, svc *service) {
	b := svc.policy.NewBackoff()
	delay := b.Start()
	for {
		now := s.cfg.Now()
		s.mu.Lock()
		svc.status.NextAttempt = now.Add(delay)
		svc.status.Failures = b.Failures()
		wctx, cancel := context.WithCancel(ctx)
		svc.nudge = cancel
		nudged := svc.nudged
		svc.nudged = false
		s.mu.Unlock()
		s.emit(Event{Service: svc.name, Kind: EventWaiting, At: now, Delay: delay})
		if !nudged {
			s.cfg.Sleep(wctx, delay)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		svc.nudge = nil
		svc.status.NextAttempt = time.Time{}
		s.mu.Unlock()
		s.emit(Event{Service: svc.name, Kind: EventConnecting, At: s.cfg.Now()})

		var (
			amu      sync.Mutex
			over     bool
			onlineAt time.Time
		)
		err := svc.connect(ctx, func() {
			amu.Lock()
			defer amu.Unlock()
			if over || !onlineAt.IsZero() {
				return
			}
			onlineAt = s.cfg.Now()
			s.mu.Lock()
			svc.status.Online, svc.status.Since = true, onlineAt
			s.mu.Unlock()
			s.emit(Event{Service: svc.name, Kind: EventOnline, At: onlineAt})
		})
		amu.Lock()
		over = true
		wasOnline := !onlineAt.IsZero()
		amu.Unlock()
		now = s.cfg.Now()
		s.mu.Lock()
		if wasOnline {
			svc.status.Online, svc.status.Since = false, now
		}
		if err != nil {
			svc.status.LastError = err.Error()
		}
		s.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if wasOnline {
			s.emit(Event{Service: svc.name, Kind: EventOffline, At: now, Err: err})
			b.Connected(onlineAt)
			delay = b.Disconnected(now)
		} else {
			if err == nil {
				err = errors.New("resilience: connect returned without going online")
			}
			s.emit(Event{Service: svc.name, Kind: EventFailed, At: now, Err: err})
			delay = b.Failed(err)
		}
	}
}

// Nudge makes the named service attempt now instead of waiting out its
// delay — for a user action such as pressing "connect" in the setup flow,
// which is not correlated across the fleet and so needs no spread. Busy
// signals still count: the next failure backs off as usual.
func (s *Supervisor) Nudge(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.svcs[name]
	if !ok {
		return ErrUnknownService
	}
	if svc.nudge != nil {
		svc.nudge()
	} else {
		svc.nudged = true
	}
	return nil
}

// Online reports whether the named service is online now; false for an
// unknown one. Local functions should not wait for it.
func (s *Supervisor) Online(name string) bool {
	st, _ := s.Status(name)
	return st.Online
}

// Status returns a snapshot of the named service's connection.
func (s *Supervisor) Status(name string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.svcs[name]
	if !ok {
		return Status{}, false
	}
	return svc.status, true
}

// Statuses returns a snapshot of every service, sorted by name.
func (s *Supervisor) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.svcs))
	for _, svc := range s.svcs {
		out = append(out, svc.status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// Checks returns one 5.9-3 self-check per service, observing the policy it
// runs under (see [Policy.Checks]), with IDs
// "resilience.reconnect-policy.<service>".
func (s *Supervisor) Checks() []conformance.Check {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []conformance.Check
	for _, n := range s.order {
		svc := s.svcs[n]
		out = append(out, svc.policy.check("resilience.reconnect-policy."+n, n))
	}
	return out
}
