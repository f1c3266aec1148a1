package mqtttest

import (
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

// TestPeaksAndQuantile: the measures RunFleet's callers judge the fleet by.
func TestPeaksAndQuantile(t *testing.T) {
	ts := ms(900, -50, 950, 1000, 1100, 1999, 2000, 5000)
	// Sliding: [900ms, 1900ms) holds 900, 950, 1000 and 1100.
	if got := PeakPerWindow(ts, time.Second); got != 4 {
		t.Errorf("PeakPerWindow = %d, want 4", got)
	}
	if got := PeakPerWindow(ts, 100*time.Millisecond); got != 2 {
		t.Errorf("PeakPerWindow(100ms) = %d, want 2", got)
	}
	// Fixed bins from zero: [0,1s) 900, 950; [1s,2s) 1000, 1100, 1999; [2s,3s) 2000; -50 ignored.
	if got := PeakPerSecond(ts); got != 3 {
		t.Errorf("PeakPerSecond = %d, want 3", got)
	}
	if got := Quantile(ms(3, 1, 2, 4), 0.5, 4); got != 2*time.Millisecond {
		t.Errorf("median = %v", got)
	}
	if got := Quantile(ms(3, 1, 2, 4), 0.99, 4); got != 4*time.Millisecond {
		t.Errorf("0.99 of 4 = %v", got)
	}
	// Only two of ten devices: the 0.99 quantile was never reached.
	if got := Quantile(ms(1, 2), 0.99, 10); got != -1 {
		t.Errorf("quantile of an incomplete set = %v, want -1", got)
	}
}
