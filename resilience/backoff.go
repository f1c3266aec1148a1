package resilience

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of [Policy]. Each applies when the corresponding field is zero.
const (
	// DefaultBase is the first retry window after a failed attempt.
	DefaultBase = time.Second
	// DefaultCap bounds the retry window (unless the start-up spread is
	// longer): a device that has failed many times still tries once in every
	// window, so after an outage of any length the fleet is back within two
	// windows of the service's return, while a service that is down sees at
	// most FleetSize/DefaultCap attempts a second.
	DefaultCap = 2 * time.Minute
	// defaultStableAfter is how long a connection must last before the
	// failure count resets, so a service that accepts and then drops
	// connections at once is not hammered at the base rate.
	defaultStableAfter = time.Minute
	// defaultSpreadFactor multiplies fleet size / service capacity to give
	// the start-up spread. At 1.0 the fleet's mean arrival rate equals the
	// capacity and random clustering pushes some seconds over it; 1.2 keeps
	// the expected peak near 0.9 × capacity while the fleet is still fully
	// connected in about 1.2 × the ideal time.
	defaultSpreadFactor = 1.2
	// defaultSpread is the start-up spread used when the fleet size or the
	// service capacity was not declared. A device maker who knows neither
	// should declare them: [Policy.Checks] reports the policy as
	// inconclusive until they do.
	defaultSpread = 30 * time.Second
	// defaultMaxRetryAfter bounds how long a server's Retry-After can park
	// the device: a broken or hostile server cannot switch a device's cloud
	// features off for days by answering "Retry-After: 9999999".
	defaultMaxRetryAfter = 30 * time.Minute
	// MaxSpread bounds the start-up spread however large the declared
	// fleet/capacity ratio; [Policy.Checks] fails a policy that hits it
	// because the service is then too small for the fleet.
	MaxSpread = 6 * time.Hour
)

// Policy says how a device paces its connection attempts to one associated
// service. The zero value is a sane policy for a device that has not
// declared its fleet: full jitter from 1 s to 2 min, never giving up, a 30 s
// start-up spread. Declare FleetSize and ServiceCapacity so that the spread
// fits the service (provision 5.9-3).
//
// A Policy is a value; [Policy.NewBackoff] makes the per-connection state.
type Policy struct {
	// Base is the retry window after the first failure; it doubles with
	// each further failure up to Cap. Zero means DefaultBase.
	Base time.Duration
	// Cap bounds the retry window. Zero means DefaultCap.
	Cap time.Duration
	// StableAfter is how long a connection must have lasted for the failure
	// count to reset when it drops. Zero means 1 min.
	StableAfter time.Duration
	// FleetSize is the declared number of devices that share the service.
	// Zero means not declared.
	FleetSize int
	// ServiceCapacity is the declared number of new connections per second
	// the service admits. Zero means not declared.
	ServiceCapacity float64
	// SpreadFactor multiplies FleetSize/ServiceCapacity to give the
	// start-up spread. Zero means 1.2; values below 1 are
	// reported by [Policy.Checks] as failing 5.9-3.
	SpreadFactor float64
	// MaxRetryAfter bounds a server-requested delay. Zero means
	// 30 min.
	MaxRetryAfter time.Duration
	// Rand returns uniform random numbers in [0, 1). Nil means
	// math/rand/v2.Float64, which the runtime seeds from the operating
	// system's entropy, so that devices of a fleet draw different delays.
	// Tests set a seeded generator; never give devices of a fleet the same
	// seed, or the jitter is worthless. It must be safe for concurrent use
	// when the Policy is shared by several services.
	Rand func() float64
}

// normalized returns p with defaults filled in.
func (p Policy) normalized() Policy {
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Cap <= 0 {
		p.Cap = DefaultCap
	}
	if p.Cap < p.Base {
		p.Cap = p.Base
	}
	if p.StableAfter <= 0 {
		p.StableAfter = defaultStableAfter
	}
	if p.SpreadFactor <= 0 || math.IsNaN(p.SpreadFactor) || math.IsInf(p.SpreadFactor, 0) {
		p.SpreadFactor = defaultSpreadFactor
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = defaultMaxRetryAfter
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Declared reports whether both the fleet size and the service capacity were
// declared, so that the start-up spread is sized from them.
func (p Policy) Declared() bool {
	return p.FleetSize > 0 && p.ServiceCapacity > 0 && !math.IsInf(p.ServiceCapacity, 0) && !math.IsNaN(p.ServiceCapacity)
}

// Ideal returns the shortest time in which the declared fleet can connect to
// a service of the declared capacity (FleetSize / ServiceCapacity), or zero
// when they were not declared.
func (p Policy) Ideal() time.Duration {
	if !p.Declared() {
		return 0
	}
	return secs(float64(p.FleetSize) / p.ServiceCapacity)
}

// Spread returns the start-up spread: the window over which a device draws
// its first connection attempt after boot or after losing an established
// connection. It is Ideal × SpreadFactor for a declared fleet (at most
// MaxSpread) and 30 s otherwise.
func (p Policy) Spread() time.Duration {
	if !p.Declared() {
		return defaultSpread
	}
	q := p.normalized()
	s := float64(p.FleetSize) / p.ServiceCapacity * q.SpreadFactor
	if s >= MaxSpread.Seconds() {
		return MaxSpread
	}
	return secs(s)
}

func secs(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}

// String describes the policy's effective parameters.
func (p Policy) String() string {
	q := p.normalized()
	fleet := "fleet undeclared"
	if p.Declared() {
		fleet = fmt.Sprintf("fleet %d at %g conn/s (ideal %v)", p.FleetSize, p.ServiceCapacity, p.Ideal())
	}
	return fmt.Sprintf("full jitter base %v cap %v, never gives up, reset after %v stable, start-up spread %v (%s), busy signals honoured up to %v",
		q.Base, q.Cap, q.StableAfter, p.Spread(), fleet, q.MaxRetryAfter)
}

// NewBackoff returns the pacing state for one connection governed by p.
func (p Policy) NewBackoff() *Backoff {
	q := p.normalized()
	return &Backoff{p: q, spread: p.Spread()}
}

// Backoff paces the connection attempts of one connection. It never gives
// up: every method returns the delay before the next attempt. It is not safe
// for concurrent use; the [Supervisor] keeps one per service.
//
// Attempts are drawn with full jitter over consecutive windows: the k-th
// attempt after boot or after a connection drops falls uniformly at random
// within the k-th window, and windows follow one another (the delay after a
// failure is the rest of the current window plus a uniform draw over the
// next). Window 0 is the start-up spread; after n failures the window is
// Base·2^(n-1) capped at Cap, but never shorter than the spread. Because
// every device of the fleet attempts exactly once per window, the rate a
// service sees is at most FleetSize / spread at every moment, including
// the moment it comes back from an outage — plain full jitter, which draws
// each delay from the previous attempt, lets early short windows pile up
// on one another. A busy signal ([BusyError]) doubles the window floor for
// each further consecutive one (the service is telling us its capacity is
// lower than declared), and a server's Retry-After is waited out in full
// first.
type Backoff struct {
	p           Policy
	spread      time.Duration
	failures    int
	busy        int
	rest        time.Duration // from the last drawn attempt to its window's end
	connected   bool
	connectedAt time.Time
}

// Failures returns the number of failed attempts since the last stable
// connection.
func (b *Backoff) Failures() int { return b.failures }

func (b *Backoff) jitter(w time.Duration) time.Duration {
	if w <= 0 {
		return 0
	}
	r := b.p.Rand()
	if r < 0 || r >= 1 || math.IsNaN(r) {
		r = 0
	}
	return time.Duration(r * float64(w))
}

// draw returns the delay to a uniform point of the next window of length w,
// which starts where the current one ends.
func (b *Backoff) draw(w time.Duration) time.Duration {
	d := b.jitter(w)
	prev := b.rest
	b.rest = w - d
	if prev > math.MaxInt64-d {
		return math.MaxInt64
	}
	return prev + d
}

// window returns the retry window after n failures, of which the last busy
// were consecutive busy signals.
func (b *Backoff) window(n, busy int) time.Duration {
	w := b.p.Cap
	if n <= 62 {
		if e := float64(b.p.Base) * math.Exp2(float64(max(n, 1)-1)); e < float64(b.p.Cap) {
			w = time.Duration(e)
		}
	}
	floor := b.spread
	if busy > 1 {
		limit := max(b.p.Cap, b.spread)
		f := float64(b.spread) * math.Exp2(float64(min(busy, 62)-1))
		if f >= float64(limit) {
			floor = limit
		} else {
			floor = time.Duration(f)
		}
	}
	return max(w, floor)
}

// Start returns the delay before the first connection attempt after boot:
// uniform over the start-up spread.
func (b *Backoff) Start() time.Duration {
	b.rest = 0
	return b.draw(b.spread)
}

// Failed records a failed attempt and returns the delay before the next one.
// err is what the attempt returned; a [BusyError] anywhere in its chain (see
// [HTTPBusy] and [MQTTBusy]) doubles the window's floor for each further
// consecutive busy signal and adds the server's Retry-After, bounded by
// MaxRetryAfter.
func (b *Backoff) Failed(err error) time.Duration {
	b.connected = false
	if b.failures < math.MaxInt32 {
		b.failures++
	}
	var be *BusyError
	if !errors.As(err, &be) {
		b.busy = 0
		return b.draw(b.window(b.failures, 0))
	}
	if b.busy < math.MaxInt32 {
		b.busy++
	}
	ra := min(max(be.RetryAfter, 0), b.p.MaxRetryAfter)
	return ra + b.draw(b.window(b.failures, b.busy))
}

// Connected records that an attempt succeeded at the given time (from the
// monotonic clock: time.Now or the supervisor's Config.Now).
func (b *Backoff) Connected(at time.Time) {
	b.rest = 0
	b.connected = true
	b.connectedAt = at
	b.busy = 0
}

// Disconnected records that an established connection dropped at the given
// time and returns the delay before the next attempt, which starts a new
// series of windows. If the connection lasted StableAfter or longer the
// failure count resets and the delay is drawn over the start-up spread (an
// outage drops the whole fleet at once); otherwise it counts as a failure,
// so a service that accepts and drops is backed off from as from one that
// refuses.
func (b *Backoff) Disconnected(at time.Time) time.Duration {
	stable := b.connected && at.Sub(b.connectedAt) >= b.p.StableAfter
	b.connected = false
	b.rest = 0
	if stable {
		b.failures = 0
		return b.draw(b.spread)
	}
	if b.failures < math.MaxInt32 {
		b.failures++
	}
	return b.draw(b.window(b.failures, 0))
}
