package mqtttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// FleetConfig configures RunFleet.
type FleetConfig struct {
	// Broker is the running broker the fleet connects to; CA issued its
	// certificate and issues one device certificate per device.
	Broker *Broker
	CA     *CA
	// Devices is the fleet size: one mqtt.Link, one key and certificate
	// (common name "fleet-<i>") and one resilience.Supervisor per device.
	Devices int
	// Policy paces every device; its FleetSize and ServiceCapacity must be
	// declared. Rand is replaced by a generator seeded from Seed and the
	// device's index, so that every device draws its own delays and a run
	// is repeatable in what the devices decide.
	Policy resilience.Policy
	Seed   uint64
	// Timeout bounds each phase (the boot and the return after the
	// restart); zero means 3 × the start-up spread + 2 × the policy's cap
	// + 60 s, so that a device whose attempts failed on a starved machine
	// has two of its longest windows to come back. It guards against a
	// hang and measures nothing.
	Timeout time.Duration
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// FleetResult is what RunFleet observed. Durations are measured from
// BackAt, the moment the restarted broker accepted connections again.
type FleetResult struct {
	// Devices and Policy are the run's, as configured.
	Devices int
	Policy  resilience.Policy
	// Boot is the time from the supervisors' start until every device was
	// online. BootAccepts and BootBack are, relative to that start, the
	// connections the proxy accepted before the kill and when each device
	// first came online: the fleet's boot after a power cut. BootFailed
	// counts the attempts that failed during the boot by the last part of
	// their error.
	Boot        time.Duration
	BootAccepts []time.Duration
	BootBack    []time.Duration
	BootFailed  map[string]int
	// KillAt is when the broker was killed, BackAt when it listened again.
	KillAt, BackAt time.Time
	// Scheduled holds, for every connection attempt after the kill, the
	// instant the device's policy scheduled it (the start of its wait plus
	// the delay drawn). It is what the devices decided, independent of how
	// fast this machine ran them.
	Scheduled []time.Duration
	// First holds, per device, the instant its policy scheduled its first
	// attempt after the kill, and FirstDelay the delay it drew for it from
	// the moment it noticed the loss: the policy's own decision, free of
	// how late a loaded machine let the device notice.
	First, FirstDelay []time.Duration
	// Attempts holds the instants the attempts after the kill started, as
	// the devices' supervisors saw them.
	Attempts []time.Duration
	// Accepts holds the instants a TCP proxy in front of the broker — the
	// service's front door, as a load balancer sees it — accepted a
	// connection after the kill: each is one attempt reaching the service,
	// timed independently of how fast the broker processes it.
	Accepts []time.Duration
	// Lost holds the instants the devices noticed that the kill had ended
	// their connection.
	Lost []time.Duration
	// Failed counts attempts after the kill that failed, FailedBy by the
	// last part of their error ("connection refused", "EOF", …).
	Failed   int
	FailedBy map[string]int
	// Back holds, sorted, the instant each device was online again.
	Back []time.Duration
	// BrokerConnects holds the broker's own record of the CONNECTs it
	// accepted after BackAt, as seconds since BackAt's whole second
	// (Mosquitto's log has one-second timestamps). It counts when the
	// broker got round to each handshake, so a broker short of CPU shows
	// its backlog here as bursts.
	BrokerConnects []int64
}

// Ideal is the shortest time the fleet can take to reconnect:
// FleetSize / ServiceCapacity.
func (r *FleetResult) Ideal() time.Duration { return r.Policy.Ideal() }

// PeakPerWindow returns the largest number of the given instants that fall
// in any window of length w (a sliding window).
func PeakPerWindow(ts []time.Duration, w time.Duration) int {
	s := slices.Clone(ts)
	slices.Sort(s)
	peak, j := 0, 0
	for i := range s {
		for s[i]-s[j] >= w {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return peak
}

// PeakPerSecond returns the largest number of instants in one whole
// second counted from zero (fixed one-second bins, as the broker's log and
// package resilience/sim count); instants before zero are ignored.
func PeakPerSecond(ts []time.Duration) int {
	bins := map[int64]int{}
	peak := 0
	for _, t := range ts {
		if t < 0 {
			continue
		}
		b := int64(t / time.Second)
		bins[b]++
		peak = max(peak, bins[b])
	}
	return peak
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the instants: the
// earliest instant by which a fraction q of them had happened, out of n
// expected (fewer instants than q·n give -1).
func Quantile(ts []time.Duration, q float64, n int) time.Duration {
	k := int(math.Ceil(q * float64(n)))
	if k < 1 || k > len(ts) {
		return -1
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[k-1]
}

// fleetDevice is one device's record of its supervisor's events.
type fleetDevice struct {
	mu     sync.Mutex
	events []resilience.Event
}

// RunFleet connects cfg.Devices real Links to cfg.Broker, each under its
// own Supervisor and cfg.Policy, through a TCP proxy that records when it
// accepts each connection; waits until all are online, kills the broker
// and starts it again on the same port at once, and waits until all are
// online again. It records every device's attempts, the proxy's accepts
// and the broker's log of accepted CONNECTs. Raise the process's
// file-descriptor limit first: the fleet holds three sockets per device
// (the device's and the proxy's two), and the broker, a child process,
// inherits the limit for its one.
func RunFleet(ctx context.Context, cfg FleetConfig) (*FleetResult, error) {
	if cfg.Broker == nil || cfg.CA == nil || cfg.Devices <= 0 {
		return nil, errors.New("mqtttest: FleetConfig needs Broker, CA and Devices")
	}
	if !cfg.Policy.Declared() {
		return nil, errors.New("mqtttest: the fleet's Policy must declare FleetSize and ServiceCapacity")
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 3*cfg.Policy.Spread() + 2*max(cfg.Policy.Cap, resilience.DefaultCap) + time.Minute
	}
	n := cfg.Devices
	px, err := newAcceptLog(cfg.Broker.Addr())
	if err != nil {
		return nil, err
	}
	defer px.close()
	devs := make([]*fleetDevice, n)
	sups := make([]*resilience.Supervisor, n)
	var online atomic.Int64
	for i := range n {
		tc, err := cfg.CA.DeviceTLS(fmt.Sprintf("fleet-%d", i))
		if err != nil {
			return nil, err
		}
		tc.ServerName = "127.0.0.1" // the broker's certificate, reached through the proxy
		link, err := mqtt.New(mqtt.Config{Broker: px.addr(), TLS: tc})
		if err != nil {
			return nil, err
		}
		d := &fleetDevice{}
		devs[i] = d
		pol := cfg.Policy
		pol.Rand = rand.New(rand.NewPCG(cfg.Seed, uint64(i))).Float64
		sups[i] = resilience.NewSupervisor(resilience.SupervisorConfig{
			Policy: pol,
			OnEvent: func(e resilience.Event) {
				switch e.Kind {
				case resilience.EventOnline:
					online.Add(1)
				case resilience.EventOffline:
					online.Add(-1)
				}
				d.mu.Lock()
				d.events = append(d.events, e)
				d.mu.Unlock()
			},
		})
		if err := sups[i].Add("cloud", link.Connect); err != nil {
			return nil, err
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	start := time.Now()
	for _, s := range sups {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(rctx) }()
	}
	waitAll := func(what string) error {
		deadline := time.Now().Add(timeout)
		for online.Load() < int64(n) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("mqtttest: %s: %d of %d devices online after %v; failed attempts so far by error: %v",
					what, online.Load(), n, timeout, failuresBy(devs))
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	}
	if err := waitAll("boot"); err != nil {
		return nil, err
	}
	res := &FleetResult{Devices: n, Policy: cfg.Policy, Boot: time.Since(start)}
	logf("fleet: %d devices online after %v; killing the broker", n, res.Boot.Round(time.Millisecond))

	res.KillAt = time.Now()
	cfg.Broker.Kill()
	if err := cfg.Broker.Start(); err != nil {
		return nil, err
	}
	res.BackAt = time.Now()
	logf("fleet: broker back after %v", res.BackAt.Sub(res.KillAt).Round(time.Millisecond))
	// Every device must first notice the loss, then come back.
	for time.Since(res.BackAt) < time.Second && online.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	if err := waitAll("after the restart"); err != nil {
		return nil, err
	}
	logf("fleet: all %d devices online again %v after the restart", n, time.Since(res.BackAt).Round(time.Millisecond))
	cancel()
	wg.Wait()

	res.FailedBy, res.BootFailed = map[string]int{}, map[string]int{}
	for _, d := range devs {
		d.mu.Lock()
		back, first := time.Duration(-1), true
		for _, e := range d.events {
			if e.At.Before(res.KillAt) {
				switch e.Kind {
				case resilience.EventOnline:
					res.BootBack = append(res.BootBack, e.At.Sub(start))
				case resilience.EventFailed:
					res.BootFailed[errorTail(e.Err)]++
				}
				continue
			}
			rel := e.At.Sub(res.BackAt)
			switch e.Kind {
			case resilience.EventWaiting:
				res.Scheduled = append(res.Scheduled, rel+e.Delay)
				if first {
					res.First = append(res.First, rel+e.Delay)
					res.FirstDelay = append(res.FirstDelay, e.Delay)
					first = false
				}
			case resilience.EventConnecting:
				res.Attempts = append(res.Attempts, rel)
			case resilience.EventFailed:
				res.Failed++
				res.FailedBy[errorTail(e.Err)]++
			case resilience.EventOffline:
				res.Lost = append(res.Lost, rel)
			case resilience.EventOnline:
				if back < 0 {
					back = rel
				}
			}
		}
		d.mu.Unlock()
		if back >= 0 {
			res.Back = append(res.Back, back)
		}
	}
	for _, at := range px.accepted() {
		if !at.Before(res.KillAt) {
			res.Accepts = append(res.Accepts, at.Sub(res.BackAt))
		} else {
			res.BootAccepts = append(res.BootAccepts, at.Sub(start))
		}
	}
	slices.Sort(res.BootBack)
	slices.Sort(res.Lost)
	slices.Sort(res.Scheduled)
	slices.Sort(res.First)
	slices.Sort(res.FirstDelay)
	slices.Sort(res.Attempts)
	slices.Sort(res.Back)
	conns, err := cfg.Broker.Connects()
	if err != nil {
		return nil, err
	}
	zero := res.BackAt.Unix()
	for _, s := range conns {
		if s >= zero {
			res.BrokerConnects = append(res.BrokerConnects, s-zero)
		}
	}
	return res, nil
}

// errorTail returns the last part of an error's text ("connection
// refused", "EOF"), which names the cause without addresses.
func errorTail(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// failuresBy counts every failed attempt so far by errorTail.
func failuresBy(devs []*fleetDevice) map[string]int {
	out := map[string]int{}
	for _, d := range devs {
		d.mu.Lock()
		for _, e := range d.events {
			if e.Kind == resilience.EventFailed {
				out[errorTail(e.Err)]++
			}
		}
		d.mu.Unlock()
	}
	return out
}

// acceptLog is a TCP proxy in front of the broker that records when it
// accepts each connection.
type acceptLog struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	times []time.Time
	conns map[net.Conn]struct{}
	done  bool
}

func newAcceptLog(target string) (*acceptLog, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &acceptLog{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *acceptLog) addr() string { return p.ln.Addr().String() }

func (p *acceptLog) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		now := time.Now()
		p.mu.Lock()
		p.times = append(p.times, now)
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *acceptLog) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *acceptLog) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *acceptLog) pipe(dev net.Conn) {
	if !p.track(dev) {
		dev.Close()
		return
	}
	// No shorter timeout than the device's own (mqtt.DefaultConnectTimeout):
	// the proxy must not fail an attempt the device would have waited for.
	brk, err := net.DialTimeout("tcp", p.target, 2*mqtt.DefaultConnectTimeout)
	if err != nil || !p.track(brk) {
		if brk != nil {
			brk.Close()
		}
		p.untrack(dev)
		return
	}
	go func() { io.Copy(brk, dev); p.untrack(dev, brk) }()
	io.Copy(dev, brk)
	p.untrack(dev, brk)
}

func (p *acceptLog) accepted() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.times)
}

func (p *acceptLog) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	for c := range p.conns {
		c.Close()
	}
}
