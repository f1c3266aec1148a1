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
	sc := Scenario{Kind: NetworkCut, Devices: 5000, Capacity: 100, Outage: 2 * time.Minute, Seed: 1}
	pol, nj := Run(sc, Policy), Run(sc, NoJitter)
	if pol.Connected != 5000 || pol.T99 < 0 {
		t.Fatalf("policy: %d connected, t99 %v", pol.Connected, pol.T99)
	}
	if pol.PeakRatio() > 1.3 {
		t.Errorf("policy peak %.2f x capacity after a network cut", pol.PeakRatio())
	}
	if pol.T99Ratio() > 2.5 {
		t.Errorf("policy t99 %.2f x ideal after a network cut", pol.T99Ratio())
	}
	if nj.PeakRatio() < 5*pol.PeakRatio() {
		t.Errorf("no-jitter peak %.2f not far above policy's %.2f", nj.PeakRatio(), pol.PeakRatio())
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
