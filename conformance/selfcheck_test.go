package conformance

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestProfileChecks(t *testing.T) {
	ctx := context.Background()
	verdicts := func(p *Profile) map[string]Result {
		out := map[string]Result{}
		for _, r := range RunChecks(ctx, p) {
			out[r.ID] = r.Result
		}
		return out
	}
	good := verdicts(exampleProfile(t))
	for _, id := range []string{"conformance.ics-justified", "conformance.support-period", "conformance.model", "conformance.disclosure"} {
		if good[id].Verdict != Pass {
			t.Errorf("%s on the example: %+v", id, good[id])
		}
	}
	if !strings.Contains(good["conformance.support-period"].Observed, "2031-12-31") {
		t.Errorf("observed %q", good["conformance.support-period"].Observed)
	}

	p := exampleProfile(t)
	checks := p.Checks()
	p.Model = "" // the checks observe the profile as it was when Checks was called
	p.Provisions[catalogIndex["5.6-8"]] = Answer{ID: "5.6-8", Support: No}
	if got := verdicts(&Profile{}); got["conformance.model"].Verdict != Fail || got["conformance.ics-justified"].Verdict != Fail ||
		got["conformance.support-period"].Verdict != Fail || got["conformance.disclosure"].Verdict != Fail {
		t.Errorf("empty profile: %+v", got)
	}
	if got := verdicts(p); got["conformance.ics-justified"].Verdict != Fail || !strings.Contains(got["conformance.ics-justified"].Detail, "2 problem(s)") {
		t.Errorf("unjustified N: %+v", got["conformance.ics-justified"])
	}
	if got := RunChecks(ctx, CheckerFunc(func() []Check { return checks })); got[2].ID != "conformance.model" || got[2].Verdict != Pass {
		t.Errorf("checks taken before the change: %+v", got)
	}

	if r := supportPeriodResult("2026-11-25", testNow); r.Verdict != Fail || !strings.Contains(r.Observed, "ended 2026-11-25") {
		t.Errorf("ended support period: %+v", r)
	}
	if r := supportPeriodResult("2026-11-26", testNow); r.Verdict != Pass {
		t.Errorf("last day of support: %+v", r)
	}
	if r := supportPeriodResult("someday", testNow.Add(time.Hour)); r.Verdict != Fail {
		t.Errorf("bad date: %+v", r)
	}
}

func TestReportHandlerCheck(t *testing.T) {
	ctx := context.Background()
	h := &ReportHandler{}
	h.Checkers = []Checker{h}
	if r := RunChecks(ctx, h); r[0].Verdict != Fail {
		t.Errorf("a report without checks: %+v", r[0])
	}
	h.Checkers = append(h.Checkers, exampleProfile(t))
	rep := h.Report(ctx)
	if !rep.OK || len(rep.Results) != 5 {
		t.Fatalf("report: %+v", rep)
	}
	for _, r := range rep.Results {
		if r.ID == "conformance.self-check-report" && (r.Verdict != Pass || r.Observed != "4 other checks from 1 checkers") {
			t.Errorf("self-check-report: %+v", r)
		}
	}
}
