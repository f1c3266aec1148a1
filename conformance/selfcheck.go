package conformance

import (
	"context"
	"fmt"
	"time"
)

// Checks returns the self-checks a device gets from its embedded profile.
// All read the profile the firmware carries ([Configured]): the
// answers are complete and justified under 4-1, the support period is set and has
// not ended (5.3-13), the model designation is served (5.3-16) and the
// disclosure contact and policy are set (5.2-1). They observe the profile
// the running firmware carries, so a device built with an unfinished or
// outdated profile reports it.
//
// When the profile declares parts that cannot be updated ([NonUpdatable]),
// or says that software components cannot be updated (condition 3), a
// fifth check, conformance.non-updatable (5.3-14, 5.3-15), reports the
// declarations as DECLARED — the maker's word, which it says in its
// Observed text, never a test — or FAIL when none is declared, one lacks a
// field, or its replacement period has ended.
func (p *Profile) Checks() []Check {
	prof := copyProfile(p)
	checks := []Check{
		{ID: "conformance.ics-justified", Provisions: []string{"4-1"}, Title: "Every unmet or not-applicable recommendation is justified",
			Run: func(context.Context) Result {
				s := NewStatement(&prof)
				obs := fmt.Sprintf("%d provisions: %d Y, %d N, %d N/A, %d unanswered", s.Totals.Provisions, s.Totals.Yes, s.Totals.No, s.Totals.NotApplicable, s.Totals.Unanswered)
				// Only the answers are judged here: whether each Y is backed
				// by a check is the statement's business once this and the
				// other results are attached.
				var n int
				var first Problem
				for _, pb := range s.Problems {
					if pb.NonConformity || pb.evidenceGap() {
						continue
					}
					if n == 0 {
						first = pb
					}
					n++
				}
				if n > 0 {
					return Result{Verdict: Fail, Observed: obs, Detail: fmt.Sprintf("%d problem(s) in the answers, first: %s", n, first)}
				}
				return Result{Verdict: Pass, Observed: obs}
			}},
		{ID: "conformance.support-period", Provisions: []string{"5.3-13"}, Title: "The device states its support period, which has not ended",
			Run: func(context.Context) Result {
				return supportPeriodResult(prof.SupportPeriodEnd, time.Now())
			}},
		{ID: "conformance.model", Provisions: []string{"5.3-16"}, Title: "The device states its model designation",
			Run: func(context.Context) Result {
				if prof.Model == "" {
					return Result{Verdict: Fail, Detail: "the profile has no model designation"}
				}
				return Result{Verdict: Pass, Observed: prof.Model}
			}},
		{ID: "conformance.disclosure", Provisions: []string{"5.2-1"}, Title: "A vulnerability disclosure contact and policy URL are configured",
			Run: func(context.Context) Result {
				d := prof.VulnerabilityDisclosure
				obs := fmt.Sprintf("contact %q, policy %q", d.Contact, d.PolicyURL)
				if d.Contact == "" || d.PolicyURL == "" || checkContact(d.Contact) != "" || checkHTTPS(d.PolicyURL) != "" {
					return Result{Verdict: Fail, Observed: obs, Detail: "contact or https policy URL missing or malformed"}
				}
				return Result{Verdict: Pass, Observed: obs}
			}},
	}
	if holds, _ := prof.Holds(3); holds || len(prof.NonUpdatable) > 0 {
		checks = append(checks, nonUpdatableCheck(&prof, time.Now))
	}
	return checks
}

func supportPeriodResult(end string, now time.Time) Result {
	if end == "" {
		return Result{Verdict: Fail, Detail: "the profile has no support period end"}
	}
	t, err := time.Parse(time.DateOnly, end)
	if err != nil {
		return Result{Verdict: Fail, Observed: end, Detail: "not a date YYYY-MM-DD"}
	}
	if t.Before(dateOf(now)) {
		return Result{Verdict: Fail, Observed: "support period ended " + end, Detail: "the device is past its defined support period"}
	}
	return Result{Verdict: Pass, Observed: "security updates until " + end}
}

// Checks returns the handler's own check (5.12-3): the device serves a
// self-check report with at least one check. It counts the registered
// checks without running them.
func (h *ReportHandler) Checks() []Check {
	return []Check{{ID: "conformance.self-check-report", Provisions: []string{"5.12-3"}, Title: "The device serves a self-check report its owner can read",
		Run: func(context.Context) Result {
			n, checkers := 0, 0
			for _, c := range h.Checkers {
				if c != nil && c != Checker(h) {
					n += len(c.Checks())
					checkers++
				}
			}
			if n == 0 {
				return Result{Verdict: Fail, Observed: "0 checks", Detail: "the report has no checks registered"}
			}
			return Result{Verdict: Pass, Observed: fmt.Sprintf("%d other checks from %d checkers", n, checkers)}
		}}}
}
