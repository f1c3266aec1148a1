package sim_test

import (
	"fmt"

	"github.com/iotbaseline/baseline/resilience/sim"
)

func ExampleRun() {
	sc := sim.Scenario{Kind: sim.PowerCut, Devices: 5000, Capacity: 100, Seed: 1}
	for _, s := range sim.Strategies {
		r := sim.Run(sc, s)
		fmt.Printf("%-22s peak %5.2fx capacity, 99%% connected in %5.2fx ideal\n", s, r.PeakRatio(), r.T99Ratio())
	}
	// Output:
	// exponential, no jitter peak 49.00x capacity, 99% connected in 45.78x ideal
	// full jitter            peak 62.30x capacity, 99% connected in  1.63x ideal
	// resilience.Policy      peak  1.03x capacity, 99% connected in  1.21x ideal
}
