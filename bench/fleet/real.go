package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt/mqtttest"
	"github.com/iotbaseline/baseline/resilience/sim"
)

// runReal connects devices real resilience/mqtt Links to a local
// Mosquitto (mutual TLS, per-device ACL), restarts the broker, and prints
// how the fleet came back next to the simulator's run of the same policy
// and outage, at the same size and at simFleet devices. It reports whether
// the targets were met: peak ≤ 1.1 × capacity (as the devices scheduled
// it and as the proxy in front of the broker accepted it, in one-second
// bins from the broker's return, as the simulator counts), 99 % back within
// 1.3 × ideal. The broker's own log is printed, not judged: it counts when
// the broker got round to each handshake.
func runReal(devices, capacity, simFleet, simCapacity int, seed uint64, stdout, stderr io.Writer) int {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		fmt.Fprintln(stderr, "fleet: -real needs mosquitto (scripts/install-test-deps.sh):", err)
		return 2
	}
	if err := raiseFileLimit(3*uint64(devices) + 256); err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "fleet-real-")
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	ca, err := mqtttest.NewCA(dir)
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 2
	}
	b, err := mqtttest.StartBroker(mqtttest.BrokerConfig{Mosquitto: bin, Dir: dir, CA: ca})
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 2
	}
	defer b.Kill()
	pol := resilience.Policy{FleetSize: devices, ServiceCapacity: float64(capacity)}
	start := time.Now()
	r, err := mqtttest.RunFleet(context.Background(), mqtttest.FleetConfig{Broker: b, CA: ca, Devices: devices, Policy: pol, Seed: seed,
		Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 1
	}
	down := r.BackAt.Sub(r.KillAt)
	ideal := r.Ideal()
	capf := float64(capacity)
	fmt.Fprintf(stdout, "broker restart, real: %d resilience/mqtt Links (own key and certificate each) to Mosquitto over mutual TLS with a per-device ACL; %s\n", devices, pol)
	fmt.Fprintf(stdout, "  boot: all online in %v; broker killed (SIGKILL) and listening again %v later; run took %v\n",
		r.Boot.Round(time.Millisecond), down.Round(time.Millisecond), time.Since(start).Round(time.Second))
	fmt.Fprintf(stdout, "  %-46s %10s %9s %11s %12s %10s\n", "measure (times from the broker's return)", "peak/s", "peak/cap", "att/device", "99% back", "t99/ideal")
	fmt.Fprintf(stdout, "  (the first row's 99%% is of the devices' first attempts as scheduled; peaks are in one-second bins from the return unless marked sliding)\n")
	row := func(name string, peak int, attPerDev string, t99 time.Duration) {
		ps, pr, ts, ratio := "-", "-", "-", "-"
		if peak >= 0 {
			ps, pr = fmt.Sprint(peak), fmt.Sprintf("%.2fx", float64(peak)/capf)
		}
		if t99 > 0 {
			ts, ratio = t99.Round(10*time.Millisecond).String(), fmt.Sprintf("%.2fx", float64(t99)/float64(ideal))
		}
		fmt.Fprintf(stdout, "  %-46s %10s %9s %11s %12s %10s\n", name, ps, pr, attPerDev, ts, ratio)
	}
	att := fmt.Sprintf("%.3f", float64(len(r.Attempts))/float64(devices))
	schedPeak := mqtttest.PeakPerSecond(r.Scheduled)
	row("real: attempts as scheduled by the policy", schedPeak, att, mqtttest.Quantile(r.First, 0.99, devices))
	row("real: same, sliding 1 s window", mqtttest.PeakPerWindow(r.Scheduled, time.Second), att, -1)
	row("real: attempts as started (client side)", mqtttest.PeakPerSecond(r.Attempts), att, -1)
	p100 := mqtttest.PeakPerWindow(r.Attempts, 100*time.Millisecond)
	fmt.Fprintf(stdout, "  %-46s %10d %8.2fx   (of capacity/10 per 100 ms)\n", "real: same, peak per sliding 100 ms", p100, float64(p100)*10/capf)
	pa := mqtttest.PeakPerSecond(r.Accepts)
	row("real: connections accepted (proxy in front)", pa, "-", -1)
	row("real: same, sliding 1 s window", mqtttest.PeakPerWindow(r.Accepts, time.Second), "-", -1)
	pa100 := mqtttest.PeakPerWindow(r.Accepts, 100*time.Millisecond)
	fmt.Fprintf(stdout, "  %-46s %10d %8.2fx   (of capacity/10 per 100 ms)\n", "real: same, peak per sliding 100 ms", pa100, float64(pa100)*10/capf)
	brokerPeak := 0
	bins := map[int64]int{}
	for _, s := range r.BrokerConnects {
		bins[s]++
		brokerPeak = max(brokerPeak, bins[s])
	}
	row("real: CONNECTs accepted (Mosquitto's log)", brokerPeak, "-", -1)
	back := mqtttest.Quantile(r.Back, 0.99, devices)
	row("real: devices back online", -1, "-", back)
	fmt.Fprintf(stdout, "  %d attempts failed %v; every device came back: %v\n", r.Failed, r.FailedBy, len(r.Back) == devices)

	// The simulator's outage as the devices saw it: from the first device
	// noticing the loss to the broker's return, the notices spread as
	// measured.
	outage, notice := down, time.Millisecond
	if len(r.Lost) > 0 {
		outage = max(-r.Lost[0], time.Millisecond)
		notice = max(r.Lost[len(r.Lost)-1]-r.Lost[0], time.Millisecond)
	}
	simRow := func(n, c int) sim.Result {
		sc := sim.Scenario{Kind: sim.NetworkCut, Devices: n, Capacity: c, Outage: outage, ReactionSpread: notice, Seed: seed}
		return sim.Run(sc, sim.Policy)
	}
	same := simRow(devices, capacity)
	big := simRow(simFleet, simCapacity)
	fmt.Fprintf(stdout, "simulator (resilience/sim), same policy; outage as the devices saw it: %v from the first notice of the loss to the broker's return, notices spread over %v:\n",
		outage.Round(time.Millisecond), notice.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  %-46s %10s %9s %11s %12s %10s\n", "run", "peak/s", "peak/cap", "att/device", "99% back", "t99/ideal")
	for _, s := range []sim.Result{same, big} {
		fmt.Fprintf(stdout, "  %-46s %10d %8.2fx %11.3f %12s %9.2fx\n", fmt.Sprintf("sim: %d devices at %d/s (ideal %v)", s.Scenario.Devices, s.Scenario.Capacity, s.Scenario.Ideal()),
			s.PeakAttemptsPerSec, s.PeakRatio(), s.AttemptsPerDevice(), s.T99.Round(10*time.Millisecond), s.T99Ratio())
	}
	boot := sim.Run(sim.Scenario{Kind: sim.PowerCut, Devices: devices, Capacity: capacity, ReactionSpread: time.Millisecond, Seed: seed}, sim.Policy)
	bootPeak, boot99 := mqtttest.PeakPerSecond(r.BootAccepts), mqtttest.Quantile(r.BootBack, 0.99, devices)
	fmt.Fprintf(stdout, "boot (all devices start together, as after a power cut): real %d connections/s at the proxy (%.2fx), 99%% online in %v (%.2fx ideal), failed attempts %v; sim %.2fx, %.2fx\n",
		bootPeak, float64(bootPeak)/capf, boot99.Round(10*time.Millisecond), float64(boot99)/float64(ideal), r.BootFailed, boot.PeakRatio(), boot.T99Ratio())
	realPeak, realT99 := float64(schedPeak)/capf, float64(back)/float64(ideal)
	fmt.Fprintf(stdout, "agreement (real ÷ sim): peak/capacity %.2f (vs %d devices) and %.2f (vs %d); t99/ideal %.2f and %.2f\n",
		realPeak/same.PeakRatio(), devices, realPeak/big.PeakRatio(), simFleet, realT99/same.T99Ratio(), realT99/big.T99Ratio())
	peakOK := float64(schedPeak) <= 1.1*capf
	proxyOK := float64(pa) <= 1.1*capf
	t99OK := back > 0 && float64(back) <= 1.3*float64(ideal)
	fmt.Fprintf(stdout, "  target: peak <= 1.1x capacity: scheduled %s, at the service's door %s (broker log %.2fx); 99%% back within 1.3x ideal: %s\n",
		verdict(peakOK), verdict(proxyOK), float64(brokerPeak)/capf, verdict(t99OK))
	if !peakOK || !proxyOK || !t99OK {
		return 1
	}
	return 0
}
