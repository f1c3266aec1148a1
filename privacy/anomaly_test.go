package privacy

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

func newMonitor(t *testing.T) *Monitor {
	t.Helper()
	m, err := NewMonitor(MonitorConfig{
		AllowLists: []AllowList{
			{Metric: MetricListeningTCPPorts, Allowed: []string{"443"}},
			{Metric: MetricDestinationIPs, Allowed: []string{"192.0.2.0/24", "2001:db8::/32"}},
		},
		Baselines: []Baseline{{Metric: MetricAuthFailures, MinDeviation: 5}, {Metric: MetricBytesOut, Direction: Both, MinDeviation: 100}},
		MaxQueued: 4,
		Now:       newClock().Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAllowListAlerts(t *testing.T) {
	m := newMonitor(t)
	if a, _ := m.ObserveSet(MetricListeningTCPPorts, []string{"443"}); a != nil {
		t.Fatal("alert on an allowed port")
	}
	a, _ := m.ObserveSet(MetricListeningTCPPorts, []string{"443", "23", "23"})
	if a == nil || !a.Raised || !slices.Equal(a.Values, []string{"23"}) {
		t.Fatalf("telnet port: %+v", a)
	}
	if a, _ := m.ObserveSet(MetricListeningTCPPorts, []string{"23"}); a != nil {
		t.Fatal("alert raised twice")
	}
	if a, _ := m.ObserveSet(MetricListeningTCPPorts, []string{"443"}); a == nil || a.Raised {
		t.Fatal("alert not cleared")
	}
	if a, _ := m.ObserveSet(MetricDestinationIPs, []string{"192.0.2.10", "2001:db8::5", "::ffff:192.0.2.7"}); a != nil {
		t.Fatalf("alert on allowed destinations: %+v", a)
	}
	if a, _ := m.ObserveSet(MetricDestinationIPs, []string{"198.51.100.1"}); a == nil || !a.Raised {
		t.Fatal("no alert on an unknown destination")
	}
	if _, err := m.ObserveSet("num-sheep", nil); !errors.Is(err, ErrUnknownMetric) {
		t.Fatal(err)
	}
}

func TestBaselineHysteresis(t *testing.T) {
	m := newMonitor(t)
	// Learn: a few failures an hour, sometimes none.
	normal := []float64{0, 1, 0, 2, 1, 0, 0, 1, 3, 0, 1, 0, 2, 0, 1, 0, 0, 1, 0, 2, 1, 0, 1, 0}
	for _, v := range normal {
		if a, _ := m.ObserveValue(MetricAuthFailures, v); a != nil {
			t.Fatal("alert while learning")
		}
	}
	// One spike, or two in five, does not alert.
	for _, v := range []float64{40, 0, 50, 0, 1, 0, 2, 0} {
		if a, _ := m.ObserveValue(MetricAuthFailures, v); a != nil {
			t.Fatalf("alert on isolated spikes: %+v", a)
		}
	}
	// A brute-force attack does: the third anomalous sample of five.
	var raised *Alert
	for i, v := range []float64{60, 70, 80, 75} {
		a, _ := m.ObserveValue(MetricAuthFailures, v)
		if a != nil {
			if i != 2 || !a.Raised {
				t.Fatalf("alert at sample %d: %+v", i, a)
			}
			raised = a
		}
	}
	if raised == nil || raised.Median > 1 || !slices.Equal(m.Active(), []string{MetricAuthFailures}) {
		t.Fatalf("attack raised %+v; active %v", raised, m.Active())
	}
	// The attack was not learned: four normal samples keep it raised, the
	// fifth clears it.
	for i := range 5 {
		a, _ := m.ObserveValue(MetricAuthFailures, 1)
		if (a != nil) != (i == 4) || (a != nil && a.Raised) {
			t.Fatalf("normal sample %d: %+v", i, a)
		}
	}
	// Bytes out alerts in both directions.
	for range 24 {
		m.ObserveValue(MetricBytesOut, 10000)
	}
	for range 3 {
		m.ObserveValue(MetricBytesOut, 0)
	}
	if !slices.Contains(m.Active(), MetricBytesOut) {
		t.Fatal("a drop to zero bytes out did not alert")
	}
}

func TestAlertsQueuedWhileOffline(t *testing.T) {
	m := newMonitor(t)
	for i := range 6 {
		m.ObserveSet(MetricListeningTCPPorts, []string{[]string{"23", "443"}[i%2]})
	}
	if q, d := m.Pending(); q != 4 || d != 2 {
		t.Fatalf("queued %d, dropped %d", q, d)
	}
	offline := errors.New("offline")
	sent := 0
	err := m.Drain(context.Background(), func(ctx context.Context, a Alert) error {
		if sent == 2 {
			return offline
		}
		sent++
		return nil
	})
	if !errors.Is(err, offline) {
		t.Fatal(err)
	}
	if q, _ := m.Pending(); q != 2 {
		t.Fatalf("%d queued after a partial drain", q)
	}
	if err := m.Drain(context.Background(), func(context.Context, Alert) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if q, _ := m.Pending(); q != 0 {
		t.Fatal("queue not drained")
	}
}

func TestAnomalyCheck(t *testing.T) {
	m := newMonitor(t)
	if r := runCheck(t, m); r.Verdict != conformance.Inconclusive {
		t.Fatalf("learning baselines: %+v", r)
	}
	for range 24 {
		m.ObserveValue(MetricAuthFailures, 0)
		m.ObserveValue(MetricBytesOut, 5000)
	}
	r := runCheck(t, m)
	if r.Verdict != conformance.Pass {
		t.Fatalf("%+v", r)
	}
	if q, _ := m.Pending(); q != 0 || len(m.Active()) != 0 {
		t.Fatal("the check touched the live detectors")
	}
	// A detector that cannot alert (threshold beyond reach) fails it.
	m.bases[MetricAuthFailures].N = 99
	if r := runCheck(t, m); r.Verdict != conformance.Fail {
		t.Fatalf("deaf detector passed: %+v", r)
	}
	empty, _ := NewMonitor(MonitorConfig{})
	if r := runCheck(t, empty); r.Verdict != conformance.Inconclusive {
		t.Fatalf("%+v", r)
	}
}
