package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// setAnswer replaces the answer for id in p.
func setAnswer(t *testing.T, p *Profile, a Answer) {
	t.Helper()
	for i := range p.Provisions {
		if p.Provisions[i].ID == a.ID {
			p.Provisions[i] = a
			return
		}
	}
	t.Fatalf("profile has no answer for %s", a.ID)
}

// backing returns one passing, measured result for every provision that
// needs a check, except those listed: what a device whose every enforced
// claim is tested would attach. It lets the tests of the answer rules run
// on a statement whose evidence is complete.
func backing(except ...string) []CheckResult {
	skip := map[string]bool{}
	for _, id := range except {
		skip[id] = true
	}
	var out []CheckResult
	for _, pr := range catalog {
		if pr.needsCheck() && !skip[pr.ID] {
			out = append(out, CheckResult{ID: "test.backing." + pr.ID, Title: "test backing", Provisions: []string{pr.ID}, Method: Measured, Result: Result{Verdict: Pass}})
		}
	}
	return out
}

// backedStatement is NewStatement with [backing] attached.
func backedStatement(p *Profile) *Statement {
	s := NewStatement(p)
	s.Attach(backing())
	return s
}

// problemLines returns the statement's problems as the CLI prints them.
func problemLines(s *Statement) []string {
	var out []string
	for _, pb := range s.Problems {
		out = append(out, pb.String())
	}
	return out
}

func TestExampleStatementConformant(t *testing.T) {
	s := backedStatement(exampleProfile(t))
	if !s.Complete || !s.Conformant || len(s.Problems) != 0 {
		t.Fatalf("example profile: complete=%v conformant=%v problems:\n%s", s.Complete, s.Conformant, strings.Join(problemLines(s), "\n"))
	}
	if len(s.Provisions) != 68 {
		t.Fatalf("%d entries", len(s.Provisions))
	}
	for i, e := range s.Provisions {
		if e.ID != catalog[i].ID {
			t.Errorf("entry %d is %s, want %s (catalog order)", i, e.ID, catalog[i].ID)
		}
	}
	e, _ := s.Entry("5.3-14")
	if e.Applicability != DoesNotApply || e.Verdict != NotApplicable {
		t.Errorf("5.3-14 on a non-constrained plug: %s, %s", e.Applicability, e.Verdict)
	}
	e, _ = s.Entry("5.1-3")
	if e.Verdict != Pass || e.Basis != BasisMeasured {
		t.Errorf("a Y with a passing measured check: %s, %s", e.Verdict, e.Basis)
	}
	e, _ = s.Entry("5.6-9") // a pure declaration stays one
	if e.Verdict != Declared || e.Basis != BasisDeclared {
		t.Errorf("5.6-9: %s, %s", e.Verdict, e.Basis)
	}
}

// TestUnbackedClaim: a Y on a provision the device can test, with nothing
// testing it, is INCONCLUSIVE; a mandatory one makes the statement
// incomplete, a recommended one does not.
func TestUnbackedClaim(t *testing.T) {
	// No results at all: the profile alone backs nothing.
	s := NewStatement(exampleProfile(t))
	if s.Complete || s.Conformant {
		t.Fatal("a profile without self-check results must not be complete")
	}
	e, _ := s.Entry("5.1-3")
	if e.Verdict != Inconclusive || e.Basis != BasisNone {
		t.Errorf("5.1-3 without checks: %s, %s", e.Verdict, e.Basis)
	}
	if !strings.Contains(strings.Join(problemLines(s), "\n"), "5.1-3: evidence: declared Y, but no self-check results are attached") {
		t.Errorf("problems do not name 5.1-3:\n%s", strings.Join(problemLines(s), "\n"))
	}
	// Results attached, one mandatory provision left uncovered.
	s = NewStatement(exampleProfile(t))
	s.Attach(backing("5.1-3"))
	want := "5.1-3: evidence: declared Y, but nothing on this device checks it: no self-check covering it passed"
	if got := problemLines(s); len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want %q", got, want)
	}
	if s.Complete || s.Conformant || s.Totals.Unbacked != 1 {
		t.Errorf("complete=%v conformant=%v unbacked=%d", s.Complete, s.Conformant, s.Totals.Unbacked)
	}
	// A recommended one uncovered: INCONCLUSIVE, but the statement stands.
	s = NewStatement(exampleProfile(t))
	s.Attach(backing("5.3-4"))
	if e, _ := s.Entry("5.3-4"); e.Verdict != Inconclusive || !s.Complete || !s.Conformant {
		t.Errorf("5.3-4 uncovered: %s complete=%v conformant=%v %q", e.Verdict, s.Complete, s.Conformant, problemLines(s))
	}
	// A covering check that only read the configuration passes as
	// configured, never as measured.
	rs := backing("5.1-3")
	rs = append(rs, CheckResult{ID: "auth.hash-params", Provisions: []string{"5.1-3"}, Method: Configured, Result: Result{Verdict: Pass}})
	s.Attach(rs)
	if e, _ := s.Entry("5.1-3"); e.Verdict != Pass || e.Basis != BasisConfigured || s.Totals.Configured != 1 {
		t.Errorf("configured pass: %s %s totals %+v", e.Verdict, e.Basis, s.Totals)
	}
	// A check that says NOT_APPLICABLE under a Y backs nothing.
	rs = append(backing("5.1-3"), CheckResult{ID: "auth.hash-params", Provisions: []string{"5.1-3"}, Result: Result{Verdict: NotApplicable}})
	s.Attach(rs)
	if e, _ := s.Entry("5.1-3"); e.Verdict != Inconclusive || s.Complete {
		t.Errorf("not-applicable check under Y: %s complete=%v", e.Verdict, s.Complete)
	}
}

// TestNamedChecks: a check the profile names for an answer must run and
// cover the provision.
func TestNamedChecks(t *testing.T) {
	p := exampleProfile(t)
	a := p.Provisions[catalogIndex["5.1-3"]]
	a.Checks = []string{"auth.hash-params"}
	setAnswer(t, p, a)
	s := NewStatement(p)
	s.Attach(backing())
	if got := problemLines(s); len(got) != 1 || got[0] != `5.1-3: checks: the profile names self-check "auth.hash-params", which the device did not run` {
		t.Errorf("missing named check: %q", got)
	}
	if e, _ := s.Entry("5.1-3"); e.Verdict != Inconclusive {
		t.Errorf("verdict %s", e.Verdict)
	}
	s.Attach(append(backing(), CheckResult{ID: "auth.hash-params", Provisions: []string{"5.1-5"}, Result: Result{Verdict: Pass}}))
	if got := problemLines(s); len(got) != 1 || !strings.Contains(got[0], "which does not cover this provision") {
		t.Errorf("named check covering another provision: %q", got)
	}
	s.Attach(append(backing(), CheckResult{ID: "auth.hash-params", Provisions: []string{"5.1-3"}, Method: Measured, Result: Result{Verdict: Pass}}))
	if !s.Conformant {
		t.Errorf("named check present: %q", problemLines(s))
	}
}

func TestSkeletonStatementNamesEveryProvision(t *testing.T) {
	s := NewStatement(Skeleton())
	if s.Complete || s.Conformant {
		t.Fatal("the skeleton must not be complete")
	}
	lines := strings.Join(problemLines(s), "\n")
	for _, p := range catalog {
		if !strings.Contains(lines, "\n"+p.ID+": support: not answered") {
			t.Errorf("no problem names unanswered %s", p.ID)
		}
	}
	for _, c := range conditions {
		if c.Number == 4 || c.Number == 5 {
			continue
		}
		if !strings.Contains(lines, "conditions."+c.Key+": not answered") {
			t.Errorf("no problem names unanswered condition %s", c.Key)
		}
	}
	for _, f := range []string{"manufacturer:", "5.3-16: model:", "firmware_version:", "5.3-13: support_period_end:", "5.2-1: vulnerability_disclosure.contact:", "5.2-1: vulnerability_disclosure.policy_url:", "constrained: not answered"} {
		if !strings.Contains(lines, f) {
			t.Errorf("no problem %q", f)
		}
	}
	if s.Totals.Unanswered != 68 {
		t.Errorf("unanswered = %d", s.Totals.Unanswered)
	}
	// Without answered conditions, conditional provisions cannot be placed.
	e, _ := s.Entry("5.1-1")
	if e.Applicability != ApplicabilityUnknown || e.Verdict != NotRun {
		t.Errorf("5.1-1 in the skeleton: %s, %s", e.Applicability, e.Verdict)
	}
}

// TestRules checks the 4-1 rules one change at a time against the example.
func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Profile)
		// want is the expected problem lines, joined by newlines ("" for none).
		want          string
		complete      bool
		nonconformity bool
	}{
		{"recommendation N without justification", func(p *Profile) {
			p.Provisions[catalogIndex["5.6-8"]] = Answer{ID: "5.6-8", Support: No}
		}, "5.6-8: justification: recommendation answered N without a justification (4-1 requires one)", false, false},
		{"recommendation N with justification", func(p *Profile) {
			p.Provisions[catalogIndex["5.6-8"]] = Answer{ID: "5.6-8", Support: No, Justification: "The SoC has no MPU."}
		}, "", true, false},
		{"justification of blanks only", func(p *Profile) {
			p.Provisions[catalogIndex["5.6-8"]] = Answer{ID: "5.6-8", Support: No, Justification: " \n\t"}
		}, "5.6-8: justification: recommendation answered N without a justification (4-1 requires one)", false, false},
		{"mandatory applicable N", func(p *Profile) {
			p.Provisions[catalogIndex["5.1-3"]] = Answer{ID: "5.1-3", Support: No, Justification: "legacy hash"}
		}, "5.1-3: support: mandatory and applicable, but answered N: the device does not conform", true, true},
		{"N/A on an unconditional provision", func(p *Profile) {
			p.Provisions[catalogIndex["5.1-3"]] = Answer{ID: "5.1-3", Support: NotApplicableSupport, Justification: "no"}
		}, "5.1-3: support: answered N/A, but it has no condition and applies to every device; answer Y or N", false, false},
		{"N/A where the condition holds", func(p *Profile) {
			p.Provisions[catalogIndex["5.1-5"]] = Answer{ID: "5.1-5", Support: NotApplicableSupport, Justification: "x"}
		}, "5.1-5: support: answered N/A, but it applies: condition 5 (the device is not a constrained device) hold(s); answer Y or N", false, false},
		{"recommendation N/A without justification", func(p *Profile) {
			p.Provisions[catalogIndex["5.3-15"]] = Answer{ID: "5.3-15", Support: NotApplicableSupport}
		}, "5.3-15: justification: recommendation answered N/A without a justification (4-1 requires one)", false, false},
		{"mandatory N/A needs no justification", func(p *Profile) {
			p.Provisions[catalogIndex["5.6-4"]] = Answer{ID: "5.6-4", Support: NotApplicableSupport}
		}, "", true, false},
		{"Y where the condition does not hold", func(p *Profile) {
			p.Provisions[catalogIndex["5.6-4"]] = Answer{ID: "5.6-4", Support: Yes}
		}, "5.6-4: support: answered Y, but it does not apply: condition 13 (a debug interface is physically accessible) does not hold; answer N/A", false, false},
		{"N where the condition does not hold", func(p *Profile) {
			p.Provisions[catalogIndex["5.3-14"]] = Answer{ID: "5.3-14", Support: No, Justification: "x"}
		}, "5.3-14: support: answered N, but it does not apply: condition 3 (the device's software components cannot be updated) and condition 4 (the device is a constrained device) does not hold; answer N/A", false, false},
		{"unnumbered condition N/A without justification", func(p *Profile) {
			p.Provisions[catalogIndex["5.8-2"]] = Answer{ID: "5.8-2", Support: NotApplicableSupport}
		}, "5.8-2: justification: N/A (its condition, sensitive personal data is exchanged between the device and associated services, must be shown not to hold) without a justification (4-1 requires one)", false, false},
		{"unnumbered condition N/A with justification", func(p *Profile) {
			p.Provisions[catalogIndex["5.8-3"]] = Answer{ID: "5.8-3", Support: NotApplicableSupport, Justification: "The plug has no sensors."}
		}, "", true, false},
		{"unnumbered condition mandatory N", func(p *Profile) {
			p.Provisions[catalogIndex["5.8-2"]] = Answer{ID: "5.8-2", Support: No, Justification: "x"}
		}, "5.8-2: support: mandatory and applicable, but answered N: the device does not conform", true, true},
		{"unanswered provision", func(p *Profile) {
			p.Provisions[catalogIndex["6-5"]].Support = Unanswered
		}, "6-5: support: not answered (Y, N or N/A)", false, false},
		{"missing provision entry", func(p *Profile) {
			p.Provisions = p.Provisions[:67]
		}, "6-5: support: not answered (Y, N or N/A)", false, false},
		{"unknown provision built in Go", func(p *Profile) {
			p.Provisions = append(p.Provisions, Answer{ID: "7-1", Support: Yes})
		}, `provisions[68].id: unknown provision "7-1"`, false, false},
		{"duplicate provision built in Go", func(p *Profile) {
			p.Provisions = append(p.Provisions, Answer{ID: "6-5", Support: No})
		}, "6-5: provisions[68]: answered twice", false, false},
		{"invalid support built in Go", func(p *Profile) {
			p.Provisions[catalogIndex["6-5"]].Support = "yes"
		}, `6-5: support: "yes" is not Y, N or N/A`, false, false},
		{"constrained contradicted", func(p *Profile) {
			p.Conditions[4] = true
		}, "conditions.constrained: contradicts the constrained flag", false, false},
		{"not_constrained contradicted", func(p *Profile) {
			p.Conditions[5] = false
		}, "conditions.not_constrained: contradicts the constrained flag", false, false},
		{"conditions 4 and 5 alone, consistent", func(p *Profile) {
			p.Constrained = nil
			p.Conditions[4], p.Conditions[5] = false, true
		}, "", true, false},
		{"conditions 4 and 5 alone, equal", func(p *Profile) {
			p.Constrained = nil
			p.Conditions[4], p.Conditions[5] = false, false
		}, "conditions.not_constrained: must be the opposite of conditions.constrained", false, false},
		{"condition out of range built in Go", func(p *Profile) {
			p.Conditions[14] = true
		}, "conditions: condition 14 does not exist (1–13)", false, false},
		{"recommendation N while its condition is unanswered", func(p *Profile) {
			delete(p.Conditions, 6)
			p.Provisions[catalogIndex["6-4"]] = Answer{ID: "6-4", Support: No}
		}, `conditions.telemetry: not answered: true or false, for "telemetry data is collected"
6-4: justification: recommendation answered N without a justification (4-1 requires one)`, false, false},
		{"recommendation N/A while its condition is unanswered", func(p *Profile) {
			delete(p.Conditions, 6)
			p.Provisions[catalogIndex["6-4"]] = Answer{ID: "6-4", Support: NotApplicableSupport}
		}, `conditions.telemetry: not answered: true or false, for "telemetry data is collected"
6-4: justification: recommendation answered N/A without a justification (4-1 requires one)`, false, false},
		{"mandatory N/A while its condition is unanswered", func(p *Profile) {
			delete(p.Conditions, 13)
		}, `conditions.physical_debug_interface: not answered: true or false, for "a debug interface is physically accessible"`, false, false},
		{"bad date built in Go", func(p *Profile) {
			p.SupportPeriodEnd = "soon"
		}, "5.3-13: support_period_end: not a date YYYY-MM-DD", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := exampleProfile(t)
			tt.change(p)
			s := backedStatement(p)
			got := problemLines(s)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("unexpected problems:\n%s", strings.Join(got, "\n"))
			case tt.want != "" && strings.Join(got, "\n") != tt.want:
				t.Errorf("problems:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), tt.want)
			}
			if s.Complete != tt.complete {
				t.Errorf("Complete = %v, want %v", s.Complete, tt.complete)
			}
			if s.Conformant != (tt.want == "") {
				t.Errorf("Conformant = %v", s.Conformant)
			}
			for _, pb := range s.Problems {
				if pb.NonConformity != tt.nonconformity {
					t.Errorf("problem %q: NonConformity = %v", pb, pb.NonConformity)
				}
			}
		})
	}
}

// TestApplicabilityConjunctions checks that a provision with several
// conditions applies only when every one of them holds.
func TestApplicabilityConjunctions(t *testing.T) {
	tests := []struct {
		id   string
		set  map[int]bool
		want Applicability
	}{
		{"5.3-14", map[int]bool{3: true, 4: true}, Applies},
		{"5.3-14", map[int]bool{3: true, 4: false}, DoesNotApply},
		{"5.3-14", map[int]bool{3: false, 4: true}, DoesNotApply},
		{"5.3-6", map[int]bool{9: true, 12: true}, Applies},
		{"5.3-6", map[int]bool{9: true, 12: false}, DoesNotApply},
		{"5.3-6", map[int]bool{9: false, 12: true}, DoesNotApply},
		{"5.3-10", map[int]bool{11: true, 12: true}, Applies},
		{"5.3-10", map[int]bool{11: false, 12: true}, DoesNotApply},
		{"5.3-10", map[int]bool{11: true, 12: false}, DoesNotApply},
		{"5.3-10", map[int]bool{11: true}, ApplicabilityUnknown},
		{"5.3-10", map[int]bool{11: false}, DoesNotApply}, // one failing condition settles it
		{"5.1-5", map[int]bool{4: false}, Applies},
		{"5.1-5", map[int]bool{5: false}, DoesNotApply},
		{"5.1-3", nil, Applies},
		{"5.8-2", nil, ManufacturerDecides},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.id, tt.set), func(t *testing.T) {
			p := &Profile{Conditions: ConditionAnswers{}}
			for k, v := range tt.set {
				p.Conditions[k] = v
			}
			pr, _ := Lookup(tt.id)
			if got, _ := p.Applicability(pr); got != tt.want {
				t.Errorf("%s with %v: %s, want %s", tt.id, tt.set, got, tt.want)
			}
		})
	}
}

// TestConstrainedUnupdateableDevice writes the statement of a constrained,
// non-updateable sensor: the update provisions fall away and 5.3-14/15 apply.
func TestConstrainedUnupdateableDevice(t *testing.T) {
	p := exampleProfile(t)
	yes := true
	p.Constrained = &yes
	for k, v := range map[int]bool{3: true, 9: false, 11: false, 12: false} {
		p.Conditions[k] = v
	}
	for _, id := range []string{"5.1-5", "5.3-2", "5.3-3", "5.3-4", "5.3-5", "5.3-6", "5.3-7", "5.3-8", "5.3-9", "5.3-10", "5.3-11", "5.3-12"} {
		setAnswer(t, p, Answer{ID: id, Support: NotApplicableSupport, Justification: "constrained sensor without software updates"})
	}
	setAnswer(t, p, Answer{ID: "5.3-14", Support: Yes, Detail: "published"})
	setAnswer(t, p, Answer{ID: "5.3-15", Support: Yes, Detail: "isolable"})
	p.NonUpdatable = []NonUpdatable{sensorDeclaration()}
	s := backedStatement(p)
	if !s.Conformant {
		t.Fatalf("problems:\n%s", strings.Join(problemLines(s), "\n"))
	}
	if e, _ := s.Entry("5.3-14"); e.Applicability != Applies {
		t.Errorf("5.3-14: %s", e.Applicability)
	}
	// 5.3-1 has no condition: a non-updateable device answers N, justified.
	if e, _ := s.Entry("5.3-1"); e.Applicability != Applies {
		t.Errorf("5.3-1: %s", e.Applicability)
	}
}

func TestStatementCopiesProfile(t *testing.T) {
	p := exampleProfile(t)
	s := NewStatement(p)
	p.Provisions[0].Support = No
	p.Conditions[1] = false
	*p.Constrained = true
	s.Attach(backing())
	if !s.Conformant {
		t.Errorf("changing the profile after NewStatement changed the statement:\n%s", strings.Join(problemLines(s), "\n"))
	}
}

// liveChecker is a stand-in for an SDK package: its checks observe a
// configuration value, like auth's hash parameters.
type liveChecker struct{ memoryKiB int }

func (c liveChecker) Checks() []Check {
	return []Check{
		{ID: "auth.hash-params", Provisions: []string{"5.1-3"}, Title: "Password hashing strength", Run: func(context.Context) Result {
			obs := fmt.Sprintf("argon2id m=%d", c.memoryKiB)
			if c.memoryKiB < 19456 {
				return Result{Verdict: Fail, Observed: obs, Detail: "memory below the OWASP floor of 19456 KiB"}
			}
			return Result{Verdict: Pass, Observed: obs}
		}},
		{ID: "conformance.disclosure", Provisions: []string{"5.2-2"}, Title: "Vulnerabilities acted on", Run: func(context.Context) Result {
			return Result{Verdict: Pass}
		}},
		{ID: "update.auto", Provisions: []string{"5.3-4", "5.3-6"}, Title: "Automatic updates", Run: func(context.Context) Result {
			return Result{Verdict: Inconclusive, Detail: "no update server configured"}
		}},
	}
}

func TestAttach(t *testing.T) {
	ctx := context.Background()
	s := NewStatement(exampleProfile(t))
	live := func(kib int) []CheckResult {
		return append(RunChecks(ctx, liveChecker{memoryKiB: kib}), backing("5.1-3", "5.3-4", "5.3-6")...)
	}
	s.Attach(live(19456))
	if !s.ChecksAttached || !s.Conformant {
		t.Fatalf("problems:\n%s", strings.Join(problemLines(s), "\n"))
	}
	for id, want := range map[string]Verdict{
		"5.1-3": Pass,
		"5.2-2": Declared, // a declaration never becomes PASS
		"5.3-4": Inconclusive,
		"5.3-6": Inconclusive,
		"5.1-1": Pass, // covered by a backing result
		"5.6-9": Declared,
	} {
		if e, _ := s.Entry(id); e.Verdict != want {
			t.Errorf("%s: verdict %s, want %s", id, e.Verdict, want)
		}
	}
	if e, _ := s.Entry("5.1-3"); len(e.Checks) != 1 || e.Checks[0].Observed != "argon2id m=19456" {
		t.Errorf("5.1-3 checks: %+v", e.Checks)
	}
	if s.Totals.Inconclusive != 2 || s.Totals.Measured != s.Totals.Pass-1 || s.Totals.Configured != 1 || s.Totals.Unbacked != 0 {
		t.Errorf("totals %+v", s.Totals)
	}

	// A weaker configuration on the running device contradicts the Y.
	s.Attach(live(4096))
	if s.Conformant || !s.Complete {
		t.Fatalf("a failed check must make the statement non-conformant (complete=%v conformant=%v)", s.Complete, s.Conformant)
	}
	got := problemLines(s)
	want := "5.1-3: check auth.hash-params: declared Y, but the self-check failed: memory below the OWASP floor of 19456 KiB"
	if len(got) != 1 || got[0] != want || !s.Problems[0].NonConformity {
		t.Errorf("problems %q, want %q", got, want)
	}
	if e, _ := s.Entry("5.1-3"); e.Verdict != Fail {
		t.Errorf("5.1-3 verdict %s", e.Verdict)
	}

	// A check naming a provision that does not exist is reported.
	s.Attach(append(backing(), CheckResult{ID: "x.bad", Provisions: []string{"9-9"}, Result: Result{Verdict: Pass}}))
	if got := problemLines(s); len(got) != 1 || got[0] != `check x.bad: covers unknown provision "9-9"` {
		t.Errorf("problems %q", got)
	}
	// Attaching nothing leaves every enforced Y unbacked.
	s.Attach(nil)
	if s.Complete || s.Totals.Pass != 0 || s.Totals.Unbacked == 0 {
		t.Errorf("after Attach(nil): complete=%v pass=%d unbacked=%d", s.Complete, s.Totals.Pass, s.Totals.Unbacked)
	}
}

func TestNewStatementNil(t *testing.T) {
	s := NewStatement(nil)
	if s.Complete || len(s.Provisions) != 68 {
		t.Errorf("nil profile: complete=%v, %d entries", s.Complete, len(s.Provisions))
	}
}
