// Command fleet runs the resilience fleet simulation: a fleet of devices
// reconnecting to a service of limited capacity after a power cut and after a
// network cut, under exponential backoff without jitter, full jitter, and
// resilience.Policy. It prints, for each, the peak attempts per second the
// service sees, the attempts per device and the time until 99 % of the fleet
// is connected, and checks the SDK's targets for the power cut: peak at most
// 1.1 × capacity, 99 % connected within 1.3 × the ideal (fleet/capacity).
//
//	go run ./bench/fleet -devices 50000 -capacity 1000 -seed 1
//
// The figures are simulated time, deterministic for a seed.
//
// With -real it instead connects -real-devices real resilience/mqtt Links
// (2,000 by default, each with its own key and certificate) to a local
// Mosquitto over mutual TLS with a per-device ACL, kills and restarts the
// broker, and prints the peak connection rate (as the devices' policies
// scheduled it, as they started it, and as the broker logged it) and the
// time until 99 % were back, next to the simulator's run of the same
// policy and outage at the same size and at -devices/-capacity:
//
//	go run ./bench/fleet -real -real-devices 2000 -real-capacity 200
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iotbaseline/baseline/resilience/sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	devices := fs.Int("devices", 50000, "fleet size")
	capacity := fs.Int("capacity", 1000, "connections per second the service admits")
	outage := fs.Duration("outage", time.Minute, "network-cut outage length")
	seed := fs.Uint64("seed", 1, "random seed")
	base := fs.Duration("base", 0, "backoff base of every strategy (0: resilience.DefaultBase)")
	capd := fs.Duration("cap", 0, "backoff cap of every strategy (0: resilience.DefaultCap)")
	real := fs.Bool("real", false, "run real Links against a local Mosquitto and compare with the simulator")
	realDevices := fs.Int("real-devices", 2000, "fleet size of the -real run")
	realCapacity := fs.Int("real-capacity", 200, "service capacity (connections/s) declared in the -real run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *real {
		if *realDevices <= 0 || *realCapacity <= 0 || *devices <= 0 || *capacity <= 0 {
			fmt.Fprintln(stderr, "fleet: device counts and capacities must be positive")
			return 2
		}
		return runReal(*realDevices, *realCapacity, *devices, *capacity, *seed, stdout, stderr)
	}
	if *devices <= 0 || *capacity <= 0 || *outage <= 0 || *base < 0 || *capd < 0 {
		fmt.Fprintln(stderr, "fleet: devices, capacity and outage must be positive")
		return 2
	}
	ok := true
	for _, kind := range []sim.Kind{sim.PowerCut, sim.NetworkCut} {
		sc := sim.Scenario{Kind: kind, Devices: *devices, Capacity: *capacity, Outage: *outage, Seed: *seed, Base: *base, Cap: *capd}
		fmt.Fprintf(stdout, "%s: %d devices, service admits %d/s, ideal %v", kind, *devices, *capacity, sc.Ideal())
		if kind == sim.NetworkCut {
			fmt.Fprintf(stdout, ", outage %v", *outage)
		}
		fmt.Fprintln(stdout)
		fmt.Fprintf(stdout, "  %-24s %14s %10s %12s %14s %10s\n", "strategy", "peak att/s", "peak/cap", "att/device", "99% connected", "t99/ideal")
		for _, s := range sim.Strategies {
			start := time.Now()
			r := sim.Run(sc, s)
			t99 := "not reached"
			if r.T99 >= 0 {
				t99 = r.T99.Round(100 * time.Millisecond).String()
			}
			fmt.Fprintf(stdout, "  %-24s %14d %9.2fx %12.2f %14s %9.2fx   (%v cpu)\n", s, r.PeakAttemptsPerSec, r.PeakRatio(), r.AttemptsPerDevice(), t99, r.T99Ratio(), time.Since(start).Round(time.Millisecond))
			if kind == sim.PowerCut && s == sim.Policy {
				peakOK, t99OK := r.PeakRatio() <= 1.1, r.T99Ratio() <= 1.3
				fmt.Fprintf(stdout, "  target: peak <= 1.1x capacity: %v; 99%% within 1.3x ideal: %v\n", verdict(peakOK), verdict(t99OK))
				ok = ok && peakOK && t99OK
			}
		}
		fmt.Fprintln(stdout)
	}
	if !ok {
		return 1
	}
	return 0
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
