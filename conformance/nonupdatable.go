package conformance

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxNonUpdatable bounds how many parts a profile may declare in
// non_updatable.
const MaxNonUpdatable = 16

// NonUpdatable is the maker's declaration of a part of the device whose
// software cannot be updated (provisions 5.3-14 and 5.3-15): a radio
// co-processor with firmware in mask ROM, a sensor module without a
// bootloader, or, for a constrained device, the whole device. It is a
// declaration: nothing on the device can test it, so the statement and the
// self-check report it as DECLARED, never as PASS or as tested.
//
// Every field is required. A statement whose declaration lacks one lists
// a [Problem] naming the field and the provision it serves, and the
// self-check conformance.non-updatable fails.
type NonUpdatable struct {
	// Part names the part and the software in it, as a user or a lab
	// would recognise it: "Zigbee radio co-processor (firmware in ROM)".
	// One line, at most MaxFieldLen bytes.
	Part string `json:"part"`
	// Reason says why its software cannot be updated (5.3-14: the
	// rationale for the absence of updates).
	Reason string `json:"reason"`
	// Isolation says how the part is isolated, so that a flaw in it cannot
	// be reached from the networks the device joins or spread to the rest
	// of the device (5.3-15: the product is isolable): which interface it
	// has, what it can reach, what is filtered in between.
	Isolation string `json:"isolation"`
	// Replacement says how a user gets the hardware replaced, and where
	// that is published (5.3-14: the method of hardware replacement
	// support; 5.3-15: the hardware is replaceable).
	Replacement string `json:"replacement"`
	// ReplacementUntil is the last day (YYYY-MM-DD) on which the
	// manufacturer supports replacing the hardware (5.3-14: the period of
	// hardware replacement support). A past date is refused by
	// [DecodeProfile], and fails the self-check once it has passed.
	ReplacementUntil string `json:"replacement_until"`
}

// nonUpdatableText validates a decoded declaration's text and date form;
// missing fields are the statement's business, not the decoder's.
func nonUpdatableText(i int, d NonUpdatable, now time.Time) (field, msg string) {
	field = "non_updatable[" + strconv.Itoa(i) + "]."
	if msg = checkText(d.Part, MaxFieldLen, false); msg != "" {
		return field + "part", msg
	}
	for _, f := range []struct{ name, v string }{{"reason", d.Reason}, {"isolation", d.Isolation}, {"replacement", d.Replacement}} {
		if msg = checkText(f.v, MaxTextLen, true); msg != "" {
			return field + f.name, msg
		}
	}
	if d.ReplacementUntil != "" {
		end, err := time.Parse(time.DateOnly, d.ReplacementUntil)
		switch {
		case err != nil:
			return field + "replacement_until", fmt.Sprintf("%q is not a date YYYY-MM-DD", truncate(d.ReplacementUntil, 32))
		case end.Before(dateOf(now)):
			return field + "replacement_until", fmt.Sprintf("%s is in the past (today is %s): hardware replacement support has ended", d.ReplacementUntil, dateOf(now).Format(time.DateOnly))
		}
	}
	return "", ""
}

// nonUpdatableProblems lists what the profile's declarations lack, and
// where they contradict its answers.
func nonUpdatableProblems(p *Profile) []Problem {
	var out []Problem
	for i, d := range p.NonUpdatable {
		f := "non_updatable[" + strconv.Itoa(i) + "]."
		missing := func(prov, name, what string) {
			out = append(out, Problem{Provision: prov, Field: f + name, Message: what + " not given"})
		}
		if strings.TrimSpace(d.Part) == "" {
			missing("5.3-14", "part", "the part whose software cannot be updated is")
		}
		if strings.TrimSpace(d.Reason) == "" {
			missing("5.3-14", "reason", "why its software cannot be updated is")
		}
		if strings.TrimSpace(d.Isolation) == "" {
			missing("5.3-15", "isolation", "how the part is isolated is")
		}
		if strings.TrimSpace(d.Replacement) == "" {
			missing("5.3-15", "replacement", "how a user gets the hardware replaced is")
		}
		if d.ReplacementUntil == "" {
			missing("5.3-14", "replacement_until", "until when hardware replacement is supported (YYYY-MM-DD) is")
		} else if _, err := time.Parse(time.DateOnly, d.ReplacementUntil); err != nil {
			out = append(out, Problem{Provision: "5.3-14", Field: f + "replacement_until", Message: "not a date YYYY-MM-DD"})
		}
	}
	if v, ok := p.Conditions[3]; ok && !v && len(p.NonUpdatable) > 0 {
		out = append(out, Problem{Field: "conditions.not_updateable",
			Message: fmt.Sprintf("answered false, but non_updatable declares %d part(s) whose software cannot be updated", len(p.NonUpdatable))})
	}
	if len(p.NonUpdatable) == 0 {
		for _, id := range []string{"5.3-14", "5.3-15"} {
			if a, _ := p.Answer(id); a.Support == Yes {
				out = append(out, Problem{Provision: id, Field: "non_updatable",
					Message: "answered Y, but no part is declared in non_updatable (what it is, why it cannot be updated, how it is isolated, how and until when it is replaced)"})
			}
		}
	}
	return out
}

// nonUpdatableNames lists the declared parts for an ICS row.
func nonUpdatableNames(ds []NonUpdatable) string {
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, orDash(d.Part))
	}
	return strings.Join(names, "; ")
}

// nonUpdatableCheck is the self-check conformance.non-updatable: it reads
// the declarations the firmware's profile carries and reports them as
// DECLARED, or FAIL when one is incomplete, contradicts the answers, or
// its replacement period has ended.
func nonUpdatableCheck(prof *Profile, now func() time.Time) Check {
	return Check{ID: "conformance.non-updatable", Provisions: []string{"5.3-14", "5.3-15"},
		Title: "Parts whose software cannot be updated are declared with why, how they are isolated and how they are replaced (the maker's declaration; the device cannot test it)",
		Run: func(context.Context) Result {
			if len(prof.NonUpdatable) == 0 {
				return Result{Verdict: Fail, Observed: "no part declared in non_updatable",
					Detail: "the profile says software components cannot be updated (condition 3) but declares none: name each part, why, how it is isolated and how it is replaced"}
			}
			var parts []string
			for _, d := range prof.NonUpdatable {
				parts = append(parts, fmt.Sprintf("%s (isolated: %s; replaced until %s: %s)",
					orDash(d.Part), oneLineText(orDash(d.Isolation)), orDash(d.ReplacementUntil), oneLineText(orDash(d.Replacement))))
			}
			obs := fmt.Sprintf("declared by the maker, not measured: %d part(s) cannot be updated: %s", len(parts), strings.Join(parts, "; "))
			if pbs := nonUpdatableProblems(prof); len(pbs) > 0 {
				return Result{Verdict: Fail, Observed: obs, Detail: fmt.Sprintf("%d problem(s) in the declaration, first: %s", len(pbs), pbs[0])}
			}
			today := dateOf(now())
			for _, d := range prof.NonUpdatable {
				if end, _ := time.Parse(time.DateOnly, d.ReplacementUntil); end.Before(today) {
					return Result{Verdict: Fail, Observed: obs, Detail: fmt.Sprintf("hardware replacement support for %s ended on %s", d.Part, d.ReplacementUntil)}
				}
			}
			return Result{Verdict: Declared, Observed: obs,
				Detail: "a declaration: only the manufacturer can vouch for why the part cannot be updated, how it is isolated and how it is replaced"}
		}}
}
