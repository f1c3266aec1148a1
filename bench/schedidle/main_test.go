package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestIdleWakes runs the measurement briefly: the idle Scheduler's
// goroutine wakes at most once per check (with the jitter's bound), and
// no other goroutine of the process wakes more often. The counts come from
// the runtime's execution trace; a loaded machine fires timers late, which
// can only lower them.
func TestIdleWakes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-period", "50ms", "-intervals", "20"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "update.(*Scheduler).Run") {
		t.Fatalf("the Scheduler's goroutine is not in the trace:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}
