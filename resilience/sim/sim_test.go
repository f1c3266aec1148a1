package sim

import (
	"testing"
	"time"
)

// The figures asserted here are simulated time, not wall clock: a run is a
// pure function of its scenario.

func TestPowerCutPolicyMeetsTargets(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		sc := Scenario{Kind: PowerCut, Devices: 5000, Capacity: 100, Seed: seed}
		r := Run(sc, Policy)
		if r.Connected != 5000 {
			t.Fatalf("seed %d: %d of 5000 connected", seed, r.Connected)
		}
		if r.PeakRatio() > 1.1 {
			t.Errorf("seed %d: peak %d attempts/s = %.2f x capacity, want <= 1.1", seed, r.PeakAttemptsPerSec, r.PeakRatio())
		}
		if r.T99Ratio() > 1.3 {
			t.Errorf("seed %d: 99%% connected after %v = %.2f x ideal %v, want <= 1.3", seed, r.T99, r.T99Ratio(), sc.Ideal())
		}
		if r.AttemptsPerDevice() > 1.2 {
			t.Errorf("seed %d: %.2f attempts per device", seed, r.AttemptsPerDevice())
		}
	}
}

func TestPowerCutBaselinesSurge(t *testing.T) {
	sc := Scenario{Kind: PowerCut, Devices: 5000, Capacity: 100, Seed: 1}
	for _, s := range []Strategy{NoJitter, FullJitter} {
		r := Run(sc, s)
		// Without a start-up spread the whole fleet arrives within the
		// boot spread: the simulation must show the surge it exists for.
		if r.PeakRatio() < 10 {
			t.Errorf("%v: peak %.2f x capacity; the model no longer shows the surge", s, r.PeakRatio())
		}
	}
	if r := Run(sc, NoJitter); r.T99Ratio() < 5 {
		t.Errorf("no jitter reached 99%% in %.2f x ideal; synchronized retries should starve it", r.T99Ratio())
	}
}

func TestNetworkCutPolicyOrderly(t *testing.T) {
	// Whatever the outage's length and wherever it ends within the
	// devices' windows, the service never sees more than about
	// fleet/spread attempts a second, and the fleet is back within two
	// windows (each at most max(cap, spread)) of the restoration.
	for _, outage := range []time.Duration{10 * time.Second, 95 * time.Second, 2 * time.Minute, 30 * time.Minute} {
		sc := Scenario{Kind: NetworkCut, Devices: 5000, Capacity: 100, Outage: outage, Seed: 1}
		pol := Run(sc, Policy)
		if pol.Connected != 5000 || pol.T99 < 0 {
			t.Fatalf("outage %v: %d connected, t99 %v", outage, pol.Connected, pol.T99)
		}
		if pol.PeakRatio() > 1.1 {
			t.Errorf("outage %v: peak %.2f x capacity", outage, pol.PeakRatio())
		}
		spread := time.Duration(float64(sc.Ideal()) * 1.2)
		if bound := 2 * max(2*time.Minute, spread); pol.T99 > bound {
			t.Errorf("outage %v: 99%% after %v, over two windows (%v)", outage, pol.T99, bound)
		}
		if outage == 2*time.Minute && pol.T99Ratio() > 1.3 {
			t.Errorf("outage ending on a window boundary: t99 %.2f x ideal", pol.T99Ratio())
		}
		if nj := Run(sc, NoJitter); nj.PeakRatio() < 5*pol.PeakRatio() {
			t.Errorf("outage %v: no-jitter peak %.2f not far above policy's %.2f", outage, nj.PeakRatio(), pol.PeakRatio())
		}
	}
}

func TestRunDeterministic(t *testing.T) {
	sc := Scenario{Kind: NetworkCut, Devices: 2000, Capacity: 50, Seed: 42}
	for _, s := range Strategies {
		a, b := Run(sc, s), Run(sc, s)
		if a != b {
			t.Fatalf("%v: two runs with one seed differ: %+v vs %+v", s, a, b)
		}
	}
	c := Run(Scenario{Kind: NetworkCut, Devices: 2000, Capacity: 50, Seed: 43}, Policy)
	if c == Run(sc, Policy) {
		t.Fatal("different seeds gave identical runs")
	}
}
