package main

import (
	"bytes"
	"strings"
	"testing"
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
