// Package sim is a deterministic discrete-event simulation of a device fleet
// reconnecting to a service of limited capacity after an outage. It shows
// the load the service sees under three reconnect strategies: exponential
// backoff without jitter, full jitter, and the [resilience.Policy] of this
// SDK (start-up spread sized from fleet/capacity, full jitter, busy signals
// honoured). The bench/fleet program prints its figures.
//
// The model: every device attempts to connect at instants it chooses; the
// service admits at most Capacity attempts in each one-second window and
// answers the rest with a busy signal (as an MQTT 5 broker answers 0x89);
// during a network outage attempts fail without reaching the service. A
// connected device stays connected. Time is simulated, so a run of 50,000
// devices takes seconds of CPU, and a run is a pure function of its Scenario
// (Seed included).
package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/iotbaseline/baseline/resilience"
)

// Kind is the outage that precedes the reconnection.
type Kind int

const (
	// PowerCut: the whole fleet loses power and boots together at time 0
	// (each device within ReactionSpread); the service is up.
	PowerCut Kind = iota
	// NetworkCut: the fleet is connected; at time 0 the service becomes
	// unreachable for Outage, every device notices within ReactionSpread and
	// retries, and the service returns at time Outage.
	NetworkCut
)

// String returns "power-cut" or "network-cut".
func (k Kind) String() string {
	if k == NetworkCut {
		return "network-cut"
	}
	return "power-cut"
}

// Strategy is how devices pace their attempts.
type Strategy int

const (
	// NoJitter: attempt at once, then wait Base·2^(n-1) capped at Cap after
	// the n-th failure (Paho's behaviour); busy signals are ignored.
	NoJitter Strategy = iota
	// FullJitter: attempt at once, then wait uniformly in [0, Base·2^(n-1)
	// capped at Cap); busy signals are ignored.
	FullJitter
	// Policy: [resilience.Policy] with the scenario's fleet size and
	// capacity declared.
	Policy
)

// String names the strategy as the report prints it.
func (s Strategy) String() string {
	switch s {
	case NoJitter:
		return "exponential, no jitter"
	case FullJitter:
		return "full jitter"
	case Policy:
		return "resilience.Policy"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// Strategies lists the strategies in the order the report prints them.
var Strategies = []Strategy{NoJitter, FullJitter, Policy}

// Scenario describes one simulated outage. Zero fields take the defaults
// named in their comments.
type Scenario struct {
	Kind Kind
	// Devices is the fleet size (default 50,000).
	Devices int
	// Capacity is the number of connections the service admits per second
	// (default 1,000).
	Capacity int
	// Outage is how long the service is unreachable in a NetworkCut
	// (default 60 s). Ignored for PowerCut.
	Outage time.Duration
	// ReactionSpread is the spread of boot times after a power cut, or of
	// the instants devices notice a network cut (default 2 s).
	ReactionSpread time.Duration
	// Base and Cap are the backoff base and cap of every strategy
	// (defaults 1 s and 5 min, resilience's defaults).
	Base, Cap time.Duration
	// Horizon bounds the simulated time after restoration (default 4 h).
	Horizon time.Duration
	// Seed makes the run reproducible.
	Seed uint64
}

func (sc Scenario) withDefaults() Scenario {
	if sc.Devices <= 0 {
		sc.Devices = 50000
	}
	if sc.Capacity <= 0 {
		sc.Capacity = 1000
	}
	if sc.Outage <= 0 {
		sc.Outage = time.Minute
	}
	if sc.Kind == PowerCut {
		sc.Outage = 0
	}
	if sc.ReactionSpread <= 0 {
		sc.ReactionSpread = 2 * time.Second
	}
	if sc.Base <= 0 {
		sc.Base = resilience.DefaultBase
	}
	if sc.Cap <= 0 {
		sc.Cap = resilience.DefaultCap
	}
	if sc.Horizon <= 0 {
		sc.Horizon = 4 * time.Hour
	}
	return sc
}

// Ideal returns the shortest possible time for the fleet to connect:
// Devices / Capacity.
func (sc Scenario) Ideal() time.Duration {
	sc = sc.withDefaults()
	return time.Duration(float64(sc.Devices) / float64(sc.Capacity) * float64(time.Second))
}

// Result is what one run observed. Times are measured from the moment the
// service is reachable again (boot for a power cut, restoration for a
// network cut).
type Result struct {
	Scenario Scenario
	Strategy Strategy
	// PeakAttemptsPerSec is the most attempts reaching the service in any
	// one-second window.
	PeakAttemptsPerSec int
	// Attempts counts every attempt, including those made while the
	// service was unreachable.
	Attempts int
	// Connected is how many devices were connected at the end.
	Connected int
	// T99 is when 99 % of the fleet was connected, or -1 if that did not
	// happen within the horizon.
	T99 time.Duration
}

// AttemptsPerDevice is the mean number of attempts per device.
func (r Result) AttemptsPerDevice() float64 {
	return float64(r.Attempts) / float64(r.Scenario.withDefaults().Devices)
}

// PeakRatio is the peak attempts per second over the capacity.
func (r Result) PeakRatio() float64 {
	return float64(r.PeakAttemptsPerSec) / float64(r.Scenario.withDefaults().Capacity)
}

// T99Ratio is T99 over the ideal time, or +Inf if 99 % was not reached.
func (r Result) T99Ratio() float64 {
	if r.T99 < 0 {
		return math.Inf(1)
	}
	return float64(r.T99) / float64(r.Scenario.Ideal())
}

var (
	errUnreachable = errors.New("sim: service unreachable")
	errBusy        = resilience.MQTTBusy(resilience.MQTTServerBusy)
)

type event struct {
	t   float64
	dev int32
}

// evHeap is a binary min-heap on time, ties broken by device for
// determinism.
type evHeap []event

func (h evHeap) less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].dev < h[j].dev
}

func (h *evHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *evHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// Run simulates sc under strategy s.
func Run(sc Scenario, s Strategy) Result {
	sc = sc.withDefaults()
	rng := rand.New(rand.NewPCG(sc.Seed, uint64(s)+0x5eed))
	n := sc.Devices
	restore := sc.Outage.Seconds()
	end := restore + sc.Horizon.Seconds()
	base, capd := sc.Base.Seconds(), sc.Cap.Seconds()
	epoch := time.Unix(1<<30, 0)
	at := func(t float64) time.Time { return epoch.Add(time.Duration(t * float64(time.Second))) }

	var offs []*resilience.Backoff
	if s == Policy {
		pol := resilience.Policy{Base: sc.Base, Cap: sc.Cap, FleetSize: n, ServiceCapacity: float64(sc.Capacity), Rand: rng.Float64}
		offs = make([]*resilience.Backoff, n)
		for i := range offs {
			offs[i] = pol.NewBackoff()
			if sc.Kind == NetworkCut {
				offs[i].Connected(at(-3600))
			}
		}
	}
	failures := make([]int32, n)
	// baseline delay after the k-th failure.
	window := func(k int32) float64 {
		if k > 60 {
			return capd
		}
		return math.Min(capd, base*math.Exp2(float64(k-1)))
	}
	next := func(i int, err error) float64 {
		if s == Policy {
			return offs[i].Failed(err).Seconds()
		}
		failures[i]++
		w := window(failures[i])
		if s == FullJitter {
			return rng.Float64() * w
		}
		return w
	}

	h := make(evHeap, 0, n)
	for i := 0; i < n; i++ {
		t0 := rng.Float64() * sc.ReactionSpread.Seconds()
		var d float64
		if s == Policy {
			if sc.Kind == PowerCut {
				d = offs[i].Start().Seconds()
			} else {
				d = offs[i].Disconnected(at(t0)).Seconds()
			}
		}
		h.push(event{t0 + d, int32(i)})
	}

	bins := make([]int32, int(sc.Horizon.Seconds())+2)
	admitted := make([]int32, len(bins))
	target := int(math.Ceil(0.99 * float64(n)))
	res := Result{Scenario: sc, Strategy: s, T99: -1}
	for len(h) > 0 {
		e := h.pop()
		if e.t > end {
			break
		}
		res.Attempts++
		var err error
		if e.t < restore {
			err = errUnreachable
		} else {
			bin := int(e.t - restore)
			bins[bin]++
			if admitted[bin] < int32(sc.Capacity) {
				admitted[bin]++
				res.Connected++
				if s == Policy {
					offs[e.dev].Connected(at(e.t))
				}
				if res.Connected == target {
					res.T99 = time.Duration((e.t - restore) * float64(time.Second))
				}
				continue
			}
			err = errBusy
		}
		h.push(event{e.t + next(int(e.dev), err), e.dev})
	}
	for _, b := range bins {
		if int(b) > res.PeakAttemptsPerSec {
			res.PeakAttemptsPerSec = int(b)
		}
	}
	return res
}
