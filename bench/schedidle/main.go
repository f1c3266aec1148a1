// Command schedidle measures what an idle update.Scheduler costs: it runs
// one Scheduler (with a PolicyStore, as a device does) whose updater finds
// nothing to install, records a runtime execution trace over a window of
// many check intervals, and counts, from the trace, every time any
// goroutine of the process was woken (a transition from waiting to
// runnable). The target of issue #13 is that no goroutine wakes more than
// once per check interval. The tracer's own goroutines (which read CPU
// samples every 100 ms and advance the trace) are listed but not counted:
// they exist only while tracing.
//
//	go run ./bench/schedidle -period 200ms -intervals 30
//
// The check period is short so that a run takes seconds; the Scheduler's
// timer arithmetic does not depend on it. Each check waits the period ±20%
// (the Scheduler's jitter), so a window of n periods holds at most
// n/0.8 + 1 checks. The program exits 1 when a goroutine woke more often
// than that.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/trace"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	xtrace "golang.org/x/exp/trace"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// upToDate is an updater that never finds a release: the idle case.
type upToDate struct{ checks *atomic.Int64 }

func (u upToDate) Check(context.Context) (*update.Release, error) {
	u.checks.Add(1)
	return nil, nil
}

func (upToDate) Apply(context.Context, *update.Release) error { return nil }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schedidle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	period := fs.Duration("period", 200*time.Millisecond, "the Scheduler's check period")
	intervals := fs.Int("intervals", 30, "check periods in the traced window")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *period <= 0 || *intervals < 1 {
		fmt.Fprintln(stderr, "schedidle: -period and -intervals must be positive")
		return 2
	}
	dir, err := os.MkdirTemp("", "schedidle")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	policy, err := update.OpenPolicyStore(update.PolicyConfig{FS: durable.OS, Path: dir + "/policy.json"})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var checks atomic.Int64
	s, err := update.NewScheduler(update.SchedulerConfig{
		Updater:     upToDate{&checks},
		Policy:      policy,
		CheckPeriod: *period,
		Notify:      make(chan update.Event, 8), // nobody reads: it must not matter
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Let the start-up check and the runtime's start-up work pass.
	time.Sleep(2 * *period)
	runtime.GC()
	during := runtime.NumGoroutine()

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	c0 := checks.Load()
	window := time.Duration(*intervals) * *period
	time.Sleep(window) // main's own goroutine: one wake, at the end
	trace.Stop()
	c1 := checks.Load()
	cancel()
	<-done

	wakes, names, err := countWakes(&buf)
	if err != nil {
		fmt.Fprintln(stderr, "schedidle: reading the trace:", err)
		return 1
	}
	limit := int(float64(*intervals)/0.8) + 1
	fmt.Fprintf(stdout, "idle Scheduler, check period %v, traced window %v (%d periods); goroutines: %d before Run, %d while it runs\n",
		*period, window, *intervals, before, during)
	fmt.Fprintf(stdout, "checks in the window: %d (at most %d with ±20%% jitter)\n", c1-c0, limit)
	type row struct {
		g     xtrace.GoID
		n     int
		where string
	}
	var rows []row
	for g, n := range wakes {
		rows = append(rows, row{g, n, names[g]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].g < rows[j].g })
	worst := 0
	for _, r := range rows {
		note := ""
		if tracer(r.where) {
			note = "  [the tracer's own: not counted]"
		} else {
			worst = max(worst, r.n)
		}
		fmt.Fprintf(stdout, "  goroutine %d woke %d times (%.2f per check period)  %s%s\n", r.g, r.n, float64(r.n)/float64(*intervals), r.where, note)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "  no goroutine woke")
	}
	if worst > limit {
		fmt.Fprintf(stdout, "FAIL: a goroutine woke %d times in %d check periods (limit %d)\n", worst, *intervals, limit)
		return 1
	}
	fmt.Fprintf(stdout, "ok: at most %d wakes per goroutine in %d check periods (limit %d)\n", worst, *intervals, limit)
	return 0
}

// countWakes returns, per goroutine, how often it went from waiting to
// runnable in the trace, and where it first blocked in the trace (the
// top frames of its own stack, and the runtime's reason).
func countWakes(r io.Reader) (map[xtrace.GoID]int, map[xtrace.GoID]string, error) {
	tr, err := xtrace.NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	wakes := map[xtrace.GoID]int{}
	names := map[xtrace.GoID]string{}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if ev.Kind() != xtrace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != xtrace.ResourceGoroutine {
			continue
		}
		from, to := st.Goroutine()
		g := st.Resource.Goroutine()
		switch {
		case from == xtrace.GoRunning && to == xtrace.GoWaiting:
			// The goroutine's own stack where it blocks.
			if names[g] == "" {
				names[g] = stackTop(st.Stack) + " (" + st.Reason + ")"
			}
		case from == xtrace.GoWaiting && to == xtrace.GoRunnable:
			wakes[g]++
		}
	}
	return wakes, names, nil
}

// tracer reports whether a goroutine belongs to the execution tracer that
// makes this measurement (it reads the CPU samples every 100 ms and
// advances the trace's generations); a device does not run it.
func tracer(where string) bool {
	for _, f := range []string{"runtime.traceStartReadCPU", "runtime.(*traceAdvancerState)", "runtime/trace."} {
		if strings.Contains(where, f) {
			return true
		}
	}
	return false
}

// stackTop names the first frames of a goroutine's stack outside the
// runtime, where it waited.
func stackTop(s xtrace.Stack) string {
	var out string
	n := 0
	for f := range s.Frames() {
		if n == 4 {
			break
		}
		if out != "" {
			out += " < "
		}
		out += f.Func
		n++
	}
	return out
}
