package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

func TestFleetReportsTargets(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-devices", "5000", "-capacity", "100"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"power-cut", "network-cut", "resilience.Policy", "full jitter", "exponential, no jitter", "peak <= 1.1x capacity: met", "within 1.3x ideal: met"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"-devices", "0"}, &out, &errb); code != 2 {
		t.Fatalf("bad flags: exit %d", code)
	}
}

// TestFleetReal runs the -real comparison on a small fleet against a real
// Mosquitto and checks that it reports every measure; the figures of a
// run this small are noise and are not judged here.
func TestFleetReal(t *testing.T) {
	testenv.LookPath(t, "mosquitto")
	var out, errb bytes.Buffer
	code := run([]string{"-real", "-real-devices", "100", "-real-capacity", "100", "-devices", "2000", "-capacity", "100"}, &out, &errb)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"broker restart, real: 100 resilience/mqtt Links", "as scheduled by the policy", "Mosquitto's log",
		"devices back online", "every device came back: true", "sim: 100 devices at 100/s", "sim: 2000 devices at 100/s", "agreement (real ÷ sim)", "boot (all devices start together", "target: peak <= 1.1x capacity"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
