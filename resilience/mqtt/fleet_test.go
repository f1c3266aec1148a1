package mqtt_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt/mqtttest"
)

// fleetDevices is the size of the real fleet. With 200 connections/s
// declared it has an ideal of 10 s, a spread (12 s) well above the
// policy's 1 s base window, and a rate far above its random fluctuation; a
// much smaller fleet would measure the base window and the noise instead.
const fleetDevices = 2000

// raiseFileLimit lifts the soft limit on open files to the hard one: the
// fleet holds three sockets per device (the device's and the proxy's two),
// and Mosquitto, started as a child, inherits the limit for its side.
func raiseFileLimit(t testing.TB, need uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < need {
		testenv.Unavailable(t, fmt.Sprintf("the open-file hard limit %d is below the %d this fleet needs (ulimit -Hn)", lim.Cur, need))
	}
}

// TestFleetBrokerRestart: 2,000 real Links, each with its own key and
// certificate and confined by the broker's per-device ACL, connect to
// Mosquitto; the broker is killed and started again on the same port; every
// device comes back. What the devices decided — the instants their
// policies scheduled the attempts after the kill — keeps the service
// within its declared capacity (no sliding one-second window above 1.1 ×
// ServiceCapacity), and 99 % of the devices draw their first attempt
// within 1.3 × the ideal fleet/capacity of noticing the loss. The measured broker-side rate and return times depend
// on this machine's load and are logged, not asserted (bench/fleet -real
// reports them next to the simulator's).
func TestFleetBrokerRestart(t *testing.T) {
	testenv.Short(t, "the 2,000-connection fleet")
	bin := testenv.LookPath(t, "mosquitto")
	n := fleetDevices
	raiseFileLimit(t, 3*uint64(n)+256)
	ca, err := mqtttest.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := mqtttest.StartBroker(mqtttest.BrokerConfig{Mosquitto: bin, Dir: t.TempDir(), CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Kill)
	const capacity = 200.0
	pol := resilience.Policy{FleetSize: n, ServiceCapacity: capacity}
	r, err := mqtttest.RunFleet(context.Background(), mqtttest.FleetConfig{
		Broker: b, CA: ca, Devices: n, Policy: pol, Seed: 1, Logf: t.Logf})
	if err != nil {
		if lg, lerr := b.Log(); lerr == nil && len(lg) > 4000 {
			t.Logf("mosquitto log (tail):\n%s", lg[len(lg)-4000:])
		}
		t.Fatal(err)
	}
	if len(r.Back) != n {
		t.Fatalf("%d of %d devices came back", len(r.Back), n)
	}
	ideal := r.Ideal()
	peak := mqtttest.PeakPerWindow(r.Scheduled, time.Second)
	t99 := mqtttest.Quantile(r.FirstDelay, 0.99, n)
	t.Logf("scheduled attempts after the kill: %d for %d devices; peak %d in a 1 s window = %.2f × capacity %.0f/s; 99 %% of the devices drew their first attempt within %v of noticing the loss = %.2f × ideal %v (scheduled by %v after the broker's return)",
		len(r.Scheduled), n, peak, float64(peak)/capacity, capacity, t99.Round(time.Millisecond), float64(t99)/float64(ideal), ideal,
		mqtttest.Quantile(r.First, 0.99, n).Round(time.Millisecond))
	if float64(peak) > 1.1*capacity {
		t.Errorf("the policy scheduled %d attempts in one second, above 1.1 × capacity %.0f/s", peak, capacity)
	}
	if float64(t99) > 1.3*float64(ideal) {
		t.Errorf("99 %% of the fleet drew a first attempt within %v of the loss, more than 1.3 × ideal %v", t99, ideal)
	}
	back99 := mqtttest.Quantile(r.Back, 0.99, n)
	t.Logf("measured: %d connections reached the proxy in front of the broker, peak %d per second (%.2f×), %d per 100 ms; Mosquitto logged a peak of %d CONNECTs in a second (%.2f×); %d attempts failed; 99 %% back in %v = %.2f × ideal",
		len(r.Accepts), mqtttest.PeakPerSecond(r.Accepts), float64(mqtttest.PeakPerSecond(r.Accepts))/capacity,
		mqtttest.PeakPerWindow(r.Accepts, 100*time.Millisecond),
		peakOfSeconds(r.BrokerConnects), float64(peakOfSeconds(r.BrokerConnects))/capacity, r.Failed,
		back99.Round(time.Millisecond), float64(back99)/float64(ideal))
	if r.Failed > 0 || len(r.BootFailed) > 0 {
		t.Logf("failed attempts by error: boot %v, after the restart %v", r.BootFailed, r.FailedBy)
	}
}

func peakOfSeconds(s []int64) int {
	bins := map[int64]int{}
	peak := 0
	for _, v := range s {
		bins[v]++
		peak = max(peak, bins[v])
	}
	return peak
}
