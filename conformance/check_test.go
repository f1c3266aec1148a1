package conformance

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRunChecks(t *testing.T) {
	checks := CheckerFunc(func() []Check {
		return []Check{
			{ID: "z.pass", Provisions: []string{"5.1-3"}, Title: "passes", Run: func(context.Context) Result {
				return Result{Verdict: Pass, Observed: "ok"}
			}},
			{ID: "a.declared", Provisions: []string{"5.2-2", "5.6-9"}, Title: "declaration claims pass", Run: func(context.Context) Result {
				return Result{Verdict: Pass}
			}},
			{ID: "b.mixed", Provisions: []string{"5.2-2", "5.1-3"}, Title: "declaration and enforced", Run: func(context.Context) Result {
				return Result{Verdict: Pass}
			}},
			{ID: "c.panics", Provisions: []string{"5.1-3"}, Title: "panics", Run: func(context.Context) Result {
				panic("boom")
			}},
			{ID: "d.invalid", Provisions: []string{"5.1-3"}, Title: "invalid verdict", Run: func(context.Context) Result {
				return Result{Verdict: "GREAT"}
			}},
			{ID: "e.norun", Provisions: []string{"5.1-3"}, Title: "no Run"},
			{ID: "f.partial", Provisions: []string{"5.4-2"}, Title: "E/D provision", Run: func(context.Context) Result {
				return Result{Verdict: Pass}
			}},
		}
	})
	res := RunChecks(context.Background(), nil, checks)
	want := map[string]Verdict{
		"a.declared": Declared, // a declaration is never reported as PASS
		"b.mixed":    Pass,
		"c.panics":   Fail,
		"d.invalid":  Inconclusive,
		"e.norun":    NotRun,
		"f.partial":  Pass,
		"z.pass":     Pass,
	}
	if len(res) != len(want) {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if i > 0 && res[i-1].ID > r.ID {
			t.Errorf("results not sorted: %s before %s", res[i-1].ID, r.ID)
		}
		if r.Verdict != want[r.ID] {
			t.Errorf("%s: %s, want %s (%s)", r.ID, r.Verdict, want[r.ID], r.Detail)
		}
		if r.At.IsZero() {
			t.Errorf("%s: no time", r.ID)
		}
		if r.Verdict != Pass && r.Detail == "" {
			t.Errorf("%s: %s without detail", r.ID, r.Verdict)
		}
	}
	if res[2].ID != "c.panics" || !strings.Contains(res[2].Detail, "boom") {
		t.Errorf("panic detail: %+v", res[2])
	}
}

func TestRunChecksContext(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow := CheckerFunc(func() []Check {
		return []Check{{ID: "slow", Provisions: []string{"5.1-3"}, Run: func(context.Context) Result {
			<-block // ignores its context, as a buggy check might
			return Result{Verdict: Pass}
		}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if r := RunChecks(ctx, slow); len(r) != 1 || r[0].Verdict != NotRun {
		t.Errorf("overrunning check: %+v", r)
	}
	// A context already cancelled runs nothing.
	ran := false
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	r := RunChecks(cctx, CheckerFunc(func() []Check {
		return []Check{{ID: "x", Run: func(context.Context) Result { ran = true; return Result{Verdict: Pass} }}}
	}))
	if ran || r[0].Verdict != NotRun {
		t.Errorf("cancelled context: ran=%v %+v", ran, r[0])
	}
}

func TestVerdictValid(t *testing.T) {
	for _, v := range []Verdict{Pass, Fail, Inconclusive, NotApplicable, Declared, NotRun} {
		if !v.Valid() {
			t.Errorf("%s invalid", v)
		}
	}
	if Verdict("pass").Valid() || Verdict("").Valid() {
		t.Error("unknown verdicts accepted")
	}
}
