package privacy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// Metric names, as AWS IoT Device Defender names its device-side metrics,
// so that alerts read the same to an operator moving off that service.
const (
	MetricAuthFailures       = "num-authorization-failures"
	MetricListeningTCPPorts  = "listening-tcp-ports"
	MetricListeningUDPPorts  = "listening-udp-ports"
	MetricBytesOut           = "all-bytes-out"
	MetricConnectionAttempts = "num-connection-attempts"
	MetricDestinationIPs     = "destination-ip-addresses"
)

// AllowList is a static detector for a set-valued metric (listening ports,
// destination addresses): any value outside the list raises an alert.
type AllowList struct {
	// Metric is the metric's name.
	Metric string
	// Allowed lists the permitted values. For MetricDestinationIPs an entry
	// may be a prefix ("192.0.2.0/24"); other entries match exactly.
	Allowed []string
}

// Direction says which deviations a baseline alerts on.
type Direction int

// Directions.
const (
	// Above alerts only on values above the baseline (failures, bytes out).
	Above Direction = iota
	// Both alerts on values above or below it.
	Both
)

// Baseline is a learned detector for a numeric metric: the device's own
// recent behaviour, summarised robustly by the median and the median
// absolute deviation (MAD) of the last Window normal samples. A sample is
// anomalous when it lies more than K scaled MADs (1.4826·MAD, the standard
// deviation for normal data) from the median; an alert is raised when N of
// the last M samples were anomalous, and cleared when none of the last M
// was (hysteresis, so one spike does not alert and one normal sample does
// not clear). Anomalous samples are not learned, so an attack that lasts
// does not become the baseline.
type Baseline struct {
	// Metric is the metric's name; Direction which deviations count.
	Metric    string
	Direction Direction
	// Window is how many normal samples are kept; zero means 96.
	Window int
	// MinSamples is how many samples are learned before any alert; zero
	// means 24.
	MinSamples int
	// K is the threshold in scaled MADs; zero means 5.
	K float64
	// MinDeviation is the smallest deviation ever treated as anomalous, for
	// metrics whose MAD is zero when idle (auth failures are mostly 0);
	// zero means 1.
	MinDeviation float64
	// N of the last M samples must be anomalous to alert; zero means 3 of 5.
	N, M int
}

// Alert is raised or cleared by a [Monitor].
type Alert struct {
	// Metric is the metric's name.
	Metric string
	// Raised is true when the alert starts, false when it clears.
	Raised bool
	// At is when the sample that changed the alert was observed.
	At time.Time
	// Value is the sample (numeric metrics) or the values outside the
	// allow-list (set metrics).
	Value  float64
	Values []string
	// Median and Scale describe the baseline (numeric metrics).
	Median, Scale float64
	// Reason says why, in words.
	Reason string
}

// MonitorConfig configures [NewMonitor].
type MonitorConfig struct {
	// AllowLists and Baselines are the detectors, one per metric.
	AllowLists []AllowList
	Baselines  []Baseline
	// MaxQueued bounds the alerts kept while the device cannot deliver
	// them; zero means 256. When full the oldest is dropped and counted.
	MaxQueued int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Monitor runs the device's anomaly detectors (provision 5.10-1) over the
// metrics the device observes, and queues their alerts until they can be
// delivered. It is safe for concurrent use.
type Monitor struct {
	cfg     MonitorConfig
	mu      sync.Mutex
	lists   map[string]*listState
	bases   map[string]*baseState
	queue   []Alert
	dropped int
}

type listState struct {
	AllowList
	prefixes []netip.Prefix
	active   bool
}

type baseState struct {
	Baseline
	normal []float64 // ring of normal samples, oldest first
	recent []bool    // last M anomaly flags
	active bool
}

// NewMonitor checks the detectors and returns a Monitor.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 256
	}
	m := &Monitor{cfg: cfg, lists: map[string]*listState{}, bases: map[string]*baseState{}}
	for _, a := range cfg.AllowLists {
		if a.Metric == "" || m.lists[a.Metric] != nil || m.bases[a.Metric] != nil {
			return nil, fmt.Errorf("privacy: allow-list metric %q empty or repeated", a.Metric)
		}
		ls := &listState{AllowList: AllowList{Metric: a.Metric, Allowed: slices.Clone(a.Allowed)}}
		for _, v := range a.Allowed {
			if p, err := netip.ParsePrefix(v); err == nil {
				ls.prefixes = append(ls.prefixes, p.Masked())
			}
		}
		m.lists[a.Metric] = ls
	}
	for _, b := range cfg.Baselines {
		if b.Metric == "" || m.lists[b.Metric] != nil || m.bases[b.Metric] != nil {
			return nil, fmt.Errorf("privacy: baseline metric %q empty or repeated", b.Metric)
		}
		if b.Window == 0 {
			b.Window = 96
		}
		if b.MinSamples == 0 {
			b.MinSamples = 24
		}
		if b.K == 0 {
			b.K = 5
		}
		if b.MinDeviation == 0 {
			b.MinDeviation = 1
		}
		if b.N == 0 && b.M == 0 {
			b.N, b.M = 3, 5
		}
		if b.Window < 3 || b.MinSamples < 3 || b.MinSamples > b.Window || b.K <= 0 || b.MinDeviation < 0 || b.N < 1 || b.M < b.N {
			return nil, fmt.Errorf("privacy: baseline %q: need 3 <= MinSamples <= Window, K > 0, 1 <= N <= M", b.Metric)
		}
		m.bases[b.Metric] = &baseState{Baseline: b}
	}
	return m, nil
}

func (m *Monitor) now() time.Time {
	if m.cfg.Now != nil {
		return m.cfg.Now()
	}
	return time.Now()
}

// ErrUnknownMetric is returned for a metric no detector watches.
var ErrUnknownMetric = errors.New("privacy: no detector for metric")

// ObserveValue feeds one sample of a numeric metric and returns the alert
// it raised or cleared, if any (also queued).
func (m *Monitor) ObserveValue(metric string, v float64) (*Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bases[metric]
	if b == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownMetric, metric)
	}
	a := b.observe(v, m.now())
	if a != nil {
		m.enqueue(*a)
	}
	return a, nil
}

// ObserveSet feeds the current values of a set metric and returns the
// alert it raised or cleared, if any (also queued).
func (m *Monitor) ObserveSet(metric string, values []string) (*Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lists[metric]
	if l == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownMetric, metric)
	}
	a := l.observe(values, m.now())
	if a != nil {
		m.enqueue(*a)
	}
	return a, nil
}

func (l *listState) allowed(v string) bool {
	if slices.Contains(l.Allowed, v) {
		return true
	}
	if addr, err := netip.ParseAddr(v); err == nil {
		for _, p := range l.prefixes {
			if p.Contains(addr.Unmap()) {
				return true
			}
		}
	}
	return false
}

func (l *listState) observe(values []string, now time.Time) *Alert {
	var out []string
	for _, v := range values {
		if !l.allowed(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	switch {
	case len(out) > 0 && !l.active:
		l.active = true
		return &Alert{Metric: l.Metric, Raised: true, At: now, Values: out, Reason: "not on the allow-list: " + strings.Join(out, ", ")}
	case len(out) == 0 && l.active:
		l.active = false
		return &Alert{Metric: l.Metric, At: now, Reason: "every value is on the allow-list again"}
	}
	return nil
}

// stats returns the median and the scaled MAD of the normal samples.
func (b *baseState) stats() (median, scale float64) {
	s := slices.Clone(b.normal)
	slices.Sort(s)
	median = medianSorted(s)
	for i := range s {
		s[i] = math.Abs(s[i] - median)
	}
	slices.Sort(s)
	return median, 1.4826 * medianSorted(s)
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (b *baseState) observe(v float64, now time.Time) *Alert {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	if len(b.normal) < b.MinSamples {
		b.normal = append(b.normal, v)
		return nil
	}
	median, scale := b.stats()
	dev := v - median
	if b.Direction == Both {
		dev = math.Abs(dev)
	}
	anomalous := dev > max(b.K*scale, b.MinDeviation)
	b.recent = append(b.recent, anomalous)
	if len(b.recent) > b.M {
		b.recent = b.recent[1:]
	}
	if !anomalous {
		b.normal = append(b.normal, v)
		if len(b.normal) > b.Window {
			b.normal = b.normal[1:]
		}
	}
	n := 0
	for _, a := range b.recent {
		if a {
			n++
		}
	}
	switch {
	case n >= b.N && !b.active:
		b.active = true
		return &Alert{Metric: b.Metric, Raised: true, At: now, Value: v, Median: median, Scale: scale,
			Reason: fmt.Sprintf("%d of the last %d samples beyond %g scaled MADs of the median %g", n, len(b.recent), b.K, median)}
	case n == 0 && len(b.recent) == b.M && b.active:
		b.active = false
		return &Alert{Metric: b.Metric, At: now, Value: v, Median: median, Scale: scale,
			Reason: fmt.Sprintf("the last %d samples are within the baseline again", b.M)}
	}
	return nil
}

func (m *Monitor) enqueue(a Alert) {
	if len(m.queue) >= m.cfg.MaxQueued {
		m.queue = m.queue[1:]
		m.dropped++
	}
	m.queue = append(m.queue, a)
}

// Active returns the metrics whose alert is raised now, sorted.
func (m *Monitor) Active() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k, l := range m.lists {
		if l.active {
			out = append(out, k)
		}
	}
	for k, b := range m.bases {
		if b.active {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Pending returns the number of queued alerts and how many were dropped
// because the queue was full.
func (m *Monitor) Pending() (queued, dropped int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue), m.dropped
}

// Drain delivers queued alerts in order with send, removing each one send
// accepts; it stops at send's first error (the device is offline) and
// returns it, keeping that alert and the rest for the next Drain.
func (m *Monitor) Drain(ctx context.Context, send func(context.Context, Alert) error) error {
	for {
		m.mu.Lock()
		if len(m.queue) == 0 {
			m.mu.Unlock()
			return nil
		}
		a := m.queue[0]
		m.mu.Unlock()
		if err := send(ctx, a); err != nil {
			return err
		}
		m.mu.Lock()
		if len(m.queue) > 0 && m.queue[0].At.Equal(a.At) && m.queue[0].Metric == a.Metric && m.queue[0].Raised == a.Raised {
			m.queue = m.queue[1:]
		}
		m.mu.Unlock()
	}
}

// Checks returns the self-check "privacy.anomaly-detection" (5.10-1),
// measured: a copy of every detector, with what it has learned, is fed
// what an attack looks like — values outside each allow-list, and samples
// far above each baseline until its hysteresis must trip — and must raise
// an alert; the live detectors and queue are untouched. Inconclusive when
// no detector is configured or a baseline is still learning.
func (m *Monitor) Checks() []conformance.Check {
	return []conformance.Check{{
		ID: "privacy.anomaly-detection", Method: conformance.Measured, Provisions: []string{"5.10-1"},
		Title: "Telemetry is examined on the device for security anomalies (allow-lists, learned baselines)",
		Run: func(ctx context.Context) conformance.Result {
			m.mu.Lock()
			defer m.mu.Unlock()
			if len(m.lists)+len(m.bases) == 0 {
				return conformance.Result{Verdict: conformance.Inconclusive, Detail: "no detector is configured"}
			}
			var watched, bad, learning []string
			now := m.now()
			for _, l := range m.lists {
				probe := &listState{AllowList: l.AllowList, prefixes: l.prefixes}
				watched = append(watched, l.Metric+" (allow-list)")
				if a := probe.observe([]string{"selfcheck-unlisted-203.0.113.250"}, now); a == nil || !a.Raised {
					bad = append(bad, l.Metric+": a value outside the allow-list raised no alert")
				}
			}
			for _, b := range m.bases {
				watched = append(watched, b.Metric+" (baseline)")
				if len(b.normal) < b.MinSamples {
					learning = append(learning, fmt.Sprintf("%s (%d of %d samples)", b.Metric, len(b.normal), b.MinSamples))
					continue
				}
				probe := &baseState{Baseline: b.Baseline, normal: slices.Clone(b.normal)}
				median, scale := probe.stats()
				spike := median + 10*max(b.K*scale, b.MinDeviation) + 1
				raised := false
				for range b.M {
					if a := probe.observe(spike, now); a != nil && a.Raised {
						raised = true
					}
				}
				if !raised {
					bad = append(bad, fmt.Sprintf("%s: %d samples at %g (median %g) raised no alert", b.Metric, b.M, spike, median))
				}
			}
			slices.Sort(watched)
			obs := fmt.Sprintf("watching %s; %d alerts queued, %d dropped", strings.Join(watched, ", "), len(m.queue), m.dropped)
			switch {
			case len(bad) > 0:
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: strings.Join(bad, "; ")}
			case len(learning) > 0:
				return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: "baselines still learning: " + strings.Join(learning, ", ")}
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: obs + "; every detector raised an alert on its probe"}
		},
	}}
}
