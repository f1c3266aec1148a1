package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StatementSchema is the value of a statement's "schema" field in JSON.
const StatementSchema = "baseline.ics/v1"

// Standard names the standard the catalog follows.
const Standard = "ETSI EN 303 645 V2.1.1"

// Applicability says whether a provision applies to the device described
// by a profile.
type Applicability string

// Applicability values.
const (
	// Applies: the provision has no condition, or all its conditions hold.
	Applies Applicability = "applies"
	// DoesNotApply: at least one of its numbered conditions does not hold.
	DoesNotApply Applicability = "does_not_apply"
	// ApplicabilityUnknown: a condition it depends on is unanswered.
	ApplicabilityUnknown Applicability = "unknown"
	// ManufacturerDecides: the provision's condition is not one of the 13
	// numbered ones (5.8-2, 5.8-3); the manufacturer's answer decides, and an
	// N/A must say why the condition does not hold.
	ManufacturerDecides Applicability = "manufacturer_decides"
)

// Applicability works out whether provision pr applies to the device.
// A provision with several conditions applies only when all of them hold
// (5.3-14: constrained AND not updateable; 5.3-6: automatic updates or
// notifications AND an update mechanism; 5.3-10: network updates AND an
// update mechanism). It also returns the numbered conditions that do not
// hold, or that are unanswered when the result is [ApplicabilityUnknown].
func (p *Profile) Applicability(pr Provision) (Applicability, []int) {
	var failing, unknown []int
	for _, n := range pr.Conditions {
		holds, answered := p.Holds(n)
		switch {
		case !answered:
			unknown = append(unknown, n)
		case !holds:
			failing = append(failing, n)
		}
	}
	switch {
	case len(failing) > 0:
		// One condition that does not hold is enough, whatever the others.
		return DoesNotApply, failing
	case len(unknown) > 0:
		return ApplicabilityUnknown, unknown
	case pr.OtherCondition != "":
		return ManufacturerDecides, nil
	}
	return Applies, nil
}

// Problem is one reason a statement is incomplete, inconsistent or
// non-conformant.
type Problem struct {
	// Provision is the provision concerned, if any.
	Provision string `json:"provision,omitempty"`
	// Field is the profile field concerned, if any ("support",
	// "justification", "conditions.telemetry", "model").
	Field string `json:"field,omitempty"`
	// Message says what is missing or wrong.
	Message string `json:"message"`
	// NonConformity is true when the problem is the device failing a
	// provision that applies (an N on a mandatory provision, a failed
	// self-check) rather than a gap in the statement itself.
	NonConformity bool `json:"nonconformity"`
}

// String returns the problem on one line, provision ID first:
// "5.1-1: support: not answered (Y, N or N/A)".
func (pb Problem) String() string {
	var parts []string
	if pb.Provision != "" {
		parts = append(parts, pb.Provision)
	}
	if pb.Field != "" {
		parts = append(parts, pb.Field)
	}
	parts = append(parts, strings.ReplaceAll(pb.Message, "\n", " "))
	return strings.Join(parts, ": ")
}

// ConditionState is a numbered condition and the profile's answer for it.
type ConditionState struct {
	Number      int    `json:"number"`
	Key         string `json:"key"`
	Description string `json:"description"`
	// Holds is the answer; null in JSON when unanswered.
	Holds *bool `json:"holds"`
}

// Entry is one provision in a statement: the catalog's facts, the
// profile's answer and, once attached, the self-checks that cover it.
type Entry struct {
	ID     string `json:"id"`
	Clause string `json:"clause"`
	Status Status `json:"status"`
	// Conditions are the numbered conditions the provision depends on.
	Conditions []int `json:"conditions"`
	// OtherCondition is the unnumbered condition of 5.8-2 and 5.8-3.
	OtherCondition string   `json:"other_condition,omitempty"`
	Summary        string   `json:"summary"`
	Packages       []string `json:"packages"`
	// Evidence is the evidence notation: "E", "B", "D", "E/D", "E+B" …
	Evidence      string        `json:"evidence"`
	Applicability Applicability `json:"applicability"`
	// Support is the declared answer: "Y", "N", "N/A" or "" (unanswered).
	Support       Support `json:"support"`
	Detail        string  `json:"detail,omitempty"`
	Justification string  `json:"justification,omitempty"`
	// Verdict sums the entry up; see [Statement] for how it is derived.
	Verdict Verdict `json:"verdict"`
	// Basis says what the verdict rests on: a test of the running device,
	// the settings in force, or the maker's word.
	Basis Basis `json:"basis"`
	// NamedChecks are the self-checks the profile names for this answer.
	NamedChecks []string `json:"named_checks,omitempty"`
	// Checks are the attached self-check results covering the provision.
	Checks []CheckResult `json:"checks,omitempty"`
}

// Basis is what an entry's verdict rests on. Reports show the kinds apart:
// only [BasisMeasured] reads "confirmed".
type Basis string

// Basis values.
const (
	// BasisMeasured: the verdict comes from a covering self-check that
	// exercised the running device ([Measured]): it passed, failed, or could
	// not vouch for the claim (INCONCLUSIVE, with its reason).
	BasisMeasured Basis = "measured"
	// BasisConfigured: the verdict comes from covering self-checks that
	// only read the settings in force ([Configured]).
	BasisConfigured Basis = "configured"
	// BasisDeclared: the maker's answer alone (a declaration, or an answer
	// that is not Y).
	BasisDeclared Basis = "declared"
	// BasisNone: the answer needs a self-check and no check covering it
	// ran (none is registered, or those that are returned only
	// NOT_APPLICABLE or DECLARED); the verdict is INCONCLUSIVE.
	BasisNone Basis = "none"
)

// Totals counts a statement's entries.
type Totals struct {
	Provisions    int `json:"provisions"`
	Mandatory     int `json:"mandatory"`
	Recommended   int `json:"recommended"`
	Applicable    int `json:"applicable"`
	Yes           int `json:"yes"`
	No            int `json:"no"`
	NotApplicable int `json:"not_applicable"`
	Unanswered    int `json:"unanswered"`
	Pass          int `json:"pass"`
	// Measured and Configured split Pass by [Basis].
	Measured   int `json:"measured"`
	Configured int `json:"configured"`
	// Unbacked counts Y answers that need a self-check and have none.
	Unbacked     int `json:"unbacked"`
	Fail         int `json:"fail"`
	Declared     int `json:"declared"`
	Inconclusive int `json:"inconclusive"`
}

// Statement is an Implementation Conformance Statement: every provision of
// the catalog, in catalog order, with the device's answer, whether it
// applies, the evidence kind and the self-checks that cover it. JSON,
// Markdown and HTML reports are all rendered from it.
//
// Each entry's Verdict is derived as follows:
//   - unanswered: NOT_RUN;
//   - N/A: NOT_APPLICABLE;
//   - N: FAIL (the device does not meet it; for a recommendation with a
//     justification this is allowed and not a problem);
//   - Y: FAIL if an attached check covering it failed; INCONCLUSIVE if a
//     covering check was inconclusive or not run, or if a check the profile
//     names for it did not run or does not cover it; for a provision that
//     [Provision.needsCheck], INCONCLUSIVE also when no covering check
//     passed — nothing on the device checks the claim, and for a mandatory
//     provision that makes the statement incomplete; otherwise PASS if a
//     covering check passed and the provision is not a pure declaration;
//     otherwise DECLARED — the manufacturer's claim, which a pure
//     declaration (evidence D) always stays.
//
// Each entry's Basis says whether a PASS was measured on the running device
// or read from its configuration. A statement built from a profile alone
// (no [Statement.Attach]) has no check results, so every Y that needs a
// check is INCONCLUSIVE there: the profile is the maker's claim, and the
// running device's self-check is what backs it.
//
// Complete is true when every provision and profile field is answered
// consistently with the rules of 4-1 and every mandatory Y that needs a
// check is backed by one; Conformant when, in addition, no applicable
// mandatory provision is answered N and no attached check contradicts a Y.
type Statement struct {
	Schema                  string           `json:"schema"`
	Standard                string           `json:"standard"`
	Manufacturer            string           `json:"manufacturer"`
	Model                   string           `json:"model"`
	FirmwareVersion         string           `json:"firmware_version"`
	Constrained             *bool            `json:"constrained"`
	Conditions              []ConditionState `json:"conditions"`
	SupportPeriodEnd        string           `json:"support_period_end"`
	VulnerabilityDisclosure Disclosure       `json:"vulnerability_disclosure"`
	// NonUpdatable are the parts the maker declares cannot be updated
	// (5.3-14, 5.3-15), as the profile gives them.
	NonUpdatable []NonUpdatable `json:"non_updatable,omitempty"`
	Complete     bool           `json:"complete"`
	Conformant   bool           `json:"conformant"`
	// ChecksAttached is true once live self-check results were attached.
	ChecksAttached bool      `json:"checks_attached"`
	Totals         Totals    `json:"totals"`
	Problems       []Problem `json:"problems"`
	Provisions     []Entry   `json:"provisions"`

	profile Profile
	results []CheckResult
}

// NewStatement builds the statement for profile p. It never fails: what is
// missing or inconsistent is listed in Problems. The profile is copied.
func NewStatement(p *Profile) *Statement {
	s := &Statement{profile: copyProfile(p)}
	s.build()
	return s
}

// Attach joins live self-check results (from [RunChecks]) to the
// statement: each result is listed under every provision it covers, the
// entries' verdicts are recomputed, and a failed check on a provision
// declared Y becomes a non-conformity. A result naming an unknown provision
// is reported as a problem. Attach replaces results attached earlier.
func (s *Statement) Attach(results []CheckResult) {
	s.results = make([]CheckResult, len(results))
	for i, r := range results {
		r.Provisions = append([]string(nil), r.Provisions...)
		s.results[i] = r
	}
	s.build()
}

// Entry returns the entry for provision id.
func (s *Statement) Entry(id string) (Entry, bool) {
	if i, ok := catalogIndex[id]; ok && i < len(s.Provisions) {
		return s.Provisions[i], true
	}
	return Entry{}, false
}

func copyProfile(p *Profile) Profile {
	if p == nil {
		return Profile{}
	}
	out := *p
	if p.Constrained != nil {
		v := *p.Constrained
		out.Constrained = &v
	}
	out.Conditions = ConditionAnswers{}
	for k, v := range p.Conditions {
		out.Conditions[k] = v
	}
	out.NonUpdatable = append([]NonUpdatable(nil), p.NonUpdatable...)
	out.Provisions = append([]Answer(nil), p.Provisions...)
	for i := range out.Provisions {
		out.Provisions[i].Checks = append([]string(nil), out.Provisions[i].Checks...)
	}
	return out
}

func (s *Statement) build() {
	p := &s.profile
	*s = Statement{
		Schema:                  StatementSchema,
		Standard:                Standard,
		Manufacturer:            p.Manufacturer,
		Model:                   p.Model,
		FirmwareVersion:         p.FirmwareVersion,
		SupportPeriodEnd:        p.SupportPeriodEnd,
		VulnerabilityDisclosure: p.VulnerabilityDisclosure,
		NonUpdatable:            append([]NonUpdatable(nil), p.NonUpdatable...),
		ChecksAttached:          s.results != nil,
		Problems:                []Problem{},
		profile:                 s.profile,
		results:                 s.results,
	}
	p = &s.profile
	if v, ok := p.Holds(4); ok {
		s.Constrained = &v
	}
	for _, c := range conditions {
		cs := ConditionState{Number: c.Number, Key: c.Key, Description: c.Description}
		if v, ok := p.Holds(c.Number); ok {
			cs.Holds = &v
		}
		s.Conditions = append(s.Conditions, cs)
	}
	s.checkFields()

	answers := map[string]Answer{}
	for i, a := range p.Provisions {
		field := "provisions[" + strconv.Itoa(i) + "]"
		if _, ok := catalogIndex[a.ID]; !ok {
			s.problem(Problem{Field: field + ".id", Message: fmt.Sprintf("unknown provision %q", truncate(a.ID, 32))})
			continue
		}
		if _, dup := answers[a.ID]; dup {
			s.problem(Problem{Provision: a.ID, Field: field, Message: "answered twice"})
			continue
		}
		answers[a.ID] = a
	}
	byProvision := map[string][]CheckResult{}
	for _, r := range s.results {
		for _, id := range r.Provisions {
			if _, ok := catalogIndex[id]; !ok {
				s.problem(Problem{Field: "check " + r.ID, Message: fmt.Sprintf("covers unknown provision %q", truncate(id, 32))})
				continue
			}
			byProvision[id] = append(byProvision[id], r)
		}
	}
	for _, pr := range catalog {
		a := answers[pr.ID]
		e := Entry{
			ID: pr.ID, Clause: pr.Clause, Status: pr.Status,
			Conditions:     append([]int{}, pr.Conditions...),
			OtherCondition: pr.OtherCondition, Summary: pr.Summary,
			Packages: append([]string(nil), pr.Packages...), Evidence: pr.evidenceNotation(),
			Support: a.Support, Detail: a.Detail, Justification: a.Justification,
			Checks: byProvision[pr.ID], NamedChecks: append([]string(nil), a.Checks...),
		}
		var conds []int
		e.Applicability, conds = p.Applicability(pr)
		s.judge(pr, &e, conds)
		s.count(pr, e)
		s.Provisions = append(s.Provisions, e)
	}
	s.Complete, s.Conformant = true, true
	for _, pb := range s.Problems {
		if pb.NonConformity {
			s.Conformant = false
		} else {
			s.Complete = false
		}
	}
	s.Conformant = s.Conformant && s.Complete
}

// evidenceGap reports whether the problem is a Y without the self-check
// that must back it, rather than a gap in the answers themselves.
func (pb Problem) evidenceGap() bool { return pb.Field == "evidence" || pb.Field == "checks" }

// ran reports whether a result with the given check ID is attached.
func (s *Statement) ran(id string) bool { return covers(s.results, id) }

func (s *Statement) problem(pb Problem) { s.Problems = append(s.Problems, pb) }

// checkFields reports the profile-level fields that are missing or
// inconsistent. Fields that back a provision name it.
func (s *Statement) checkFields() {
	p := &s.profile
	if p.Manufacturer == "" {
		s.problem(Problem{Field: "manufacturer", Message: "not given"})
	}
	if p.Model == "" {
		s.problem(Problem{Provision: "5.3-16", Field: "model", Message: "model designation not given"})
	}
	if p.FirmwareVersion == "" {
		s.problem(Problem{Field: "firmware_version", Message: "not given"})
	}
	if p.SupportPeriodEnd == "" {
		s.problem(Problem{Provision: "5.3-13", Field: "support_period_end", Message: "end of the defined support period not given (YYYY-MM-DD)"})
	} else if _, err := time.Parse(time.DateOnly, p.SupportPeriodEnd); err != nil {
		s.problem(Problem{Provision: "5.3-13", Field: "support_period_end", Message: "not a date YYYY-MM-DD"})
	}
	if p.VulnerabilityDisclosure.Contact == "" {
		s.problem(Problem{Provision: "5.2-1", Field: "vulnerability_disclosure.contact", Message: "disclosure contact not given"})
	} else if msg := checkContact(p.VulnerabilityDisclosure.Contact); msg != "" {
		s.problem(Problem{Provision: "5.2-1", Field: "vulnerability_disclosure.contact", Message: msg})
	}
	if p.VulnerabilityDisclosure.PolicyURL == "" {
		s.problem(Problem{Provision: "5.2-1", Field: "vulnerability_disclosure.policy_url", Message: "URL of the published disclosure policy not given"})
	} else if msg := checkHTTPS(p.VulnerabilityDisclosure.PolicyURL); msg != "" {
		s.problem(Problem{Provision: "5.2-1", Field: "vulnerability_disclosure.policy_url", Message: msg})
	}
	// Conditions 4 and 5 are one fact stated up to three times.
	if _, ok := p.Holds(4); !ok {
		s.problem(Problem{Field: "constrained", Message: "not answered (true or false)"})
	}
	if p.Constrained != nil {
		if v, ok := p.Conditions[4]; ok && v != *p.Constrained {
			s.problem(Problem{Field: "conditions.constrained", Message: "contradicts the constrained flag"})
		}
		if v, ok := p.Conditions[5]; ok && v == *p.Constrained {
			s.problem(Problem{Field: "conditions.not_constrained", Message: "contradicts the constrained flag"})
		}
	} else if v4, ok4 := p.Conditions[4]; ok4 {
		if v5, ok5 := p.Conditions[5]; ok5 && v4 == v5 {
			s.problem(Problem{Field: "conditions.not_constrained", Message: "must be the opposite of conditions.constrained"})
		}
	}
	for k := range p.Conditions {
		if k < 1 || k > len(conditions) {
			s.problem(Problem{Field: "conditions", Message: fmt.Sprintf("condition %d does not exist (1–13)", k)})
		}
	}
	for _, c := range conditions {
		if c.Number == 4 || c.Number == 5 {
			continue
		}
		if _, ok := p.Conditions[c.Number]; !ok {
			s.problem(Problem{Field: "conditions." + c.Key, Message: fmt.Sprintf("not answered: true or false, for %q", c.Description)})
		}
	}
	for _, pb := range nonUpdatableProblems(p) {
		s.problem(pb)
	}
}

// describe lists numbered conditions in words: "condition 3 (the device's
// software components cannot be updated)".
func describe(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		c, _ := LookupCondition(n)
		parts[i] = fmt.Sprintf("condition %d (%s)", n, c.Description)
	}
	return strings.Join(parts, " and ")
}

// judge applies the rules of 4-1 to one entry and sets its verdict.
func (s *Statement) judge(pr Provision, e *Entry, conds []int) {
	id := pr.ID
	needJustification := func(what string) {
		if strings.TrimSpace(e.Justification) == "" {
			s.problem(Problem{Provision: id, Field: "justification", Message: what + " without a justification (4-1 requires one)"})
		}
	}
	switch e.Support {
	case Unanswered:
		s.problem(Problem{Provision: id, Field: "support", Message: "not answered (Y, N or N/A)"})
	case Yes:
		if e.Applicability == DoesNotApply {
			s.problem(Problem{Provision: id, Field: "support", Message: "answered Y, but it does not apply: " + describe(conds) + " does not hold; answer N/A"})
		}
	case No:
		switch e.Applicability {
		case DoesNotApply:
			s.problem(Problem{Provision: id, Field: "support", Message: "answered N, but it does not apply: " + describe(conds) + " does not hold; answer N/A"})
		case Applies, ManufacturerDecides:
			if pr.Status == Mandatory {
				s.problem(Problem{Provision: id, Field: "support", Message: "mandatory and applicable, but answered N: the device does not conform", NonConformity: true})
			} else {
				needJustification("recommendation answered N")
			}
		case ApplicabilityUnknown:
			if pr.Status == Recommended {
				needJustification("recommendation answered N")
			}
		}
	case NotApplicableSupport:
		switch e.Applicability {
		case Applies:
			if len(pr.Conditions) == 0 {
				s.problem(Problem{Provision: id, Field: "support", Message: "answered N/A, but it has no condition and applies to every device; answer Y or N"})
			} else {
				s.problem(Problem{Provision: id, Field: "support", Message: "answered N/A, but it applies: " + describe(pr.Conditions) + " hold(s); answer Y or N"})
			}
		case ManufacturerDecides:
			needJustification("N/A (its condition, " + pr.OtherCondition + ", must be shown not to hold)")
		case DoesNotApply, ApplicabilityUnknown:
			if pr.Status == Recommended {
				needJustification("recommendation answered N/A")
			}
		}
	default:
		s.problem(Problem{Provision: id, Field: "support", Message: fmt.Sprintf("%q is not Y, N or N/A", truncate(string(e.Support), 32))})
	}
	e.Verdict = s.verdict(pr, e)
	if e.Support == Yes && s.results != nil {
		for _, name := range e.NamedChecks {
			if covers(e.Checks, name) {
				continue
			}
			msg := "the profile names self-check " + strconv.Quote(truncate(name, 64)) + ", which the device did not run"
			if s.ran(name) {
				msg = "the profile names self-check " + strconv.Quote(truncate(name, 64)) + ", which does not cover this provision"
			}
			s.problem(Problem{Provision: id, Field: "checks", Message: msg})
		}
	}
	if e.Support == Yes && e.Basis == BasisNone && pr.Status == Mandatory && e.Applicability != DoesNotApply {
		msg := "declared Y, but no self-check results are attached, so nothing backs the claim (attach the running device's self-check: baseline ics --device URL)"
		if s.results != nil {
			msg = "declared Y, but nothing on this device checks it: no self-check covering it passed"
		}
		s.problem(Problem{Provision: id, Field: "evidence", Message: msg})
	}
	if e.Support == Yes {
		for _, r := range e.Checks {
			if r.Verdict == Fail {
				s.problem(Problem{Provision: id, Field: "check " + r.ID, Message: "declared Y, but the self-check failed: " + oneLineText(firstNonEmpty(r.Detail, r.Observed, r.Title)), NonConformity: true})
			}
		}
	}
}

func (s *Statement) verdict(pr Provision, e *Entry) Verdict {
	switch e.Support {
	case NotApplicableSupport:
		e.Basis = BasisDeclared
		return NotApplicable
	case No:
		e.Basis = BasisDeclared
		return Fail
	case Yes:
	default:
		e.Basis = BasisDeclared
		return NotRun
	}
	var pass, measured, fail, unsure int
	for _, r := range e.Checks {
		switch r.Verdict {
		case Pass:
			pass++
			if r.Method == Measured {
				measured++
			}
		case Fail:
			fail++
		case Inconclusive, NotRun:
			unsure++
		}
	}
	e.Basis = BasisDeclared
	switch {
	case fail > 0:
		e.Basis = BasisMeasured
		if !s.anyMeasured(e.Checks, Fail) {
			e.Basis = BasisConfigured
		}
		return Fail
	case unsure > 0:
		// A check ran and could not vouch for the claim; it says why. The
		// entry rests on that check, not on nothing.
		e.Basis = BasisConfigured
		if measuredUnsure(e.Checks) {
			e.Basis = BasisMeasured
		}
		return Inconclusive
	case s.namedMissing(pr.ID, e):
		if pr.needsCheck() && pass == 0 {
			e.Basis = BasisNone
		}
		return Inconclusive
	case pr.needsCheck() && pass == 0:
		e.Basis = BasisNone
		return Inconclusive
	case pass > 0 && !pr.pureDeclaration():
		e.Basis = BasisConfigured
		if measured > 0 {
			e.Basis = BasisMeasured
		}
		return Pass
	}
	return Declared
}

func measuredUnsure(rs []CheckResult) bool {
	for _, r := range rs {
		if (r.Verdict == Inconclusive || r.Verdict == NotRun) && r.Method == Measured {
			return true
		}
	}
	return false
}

func (s *Statement) anyMeasured(rs []CheckResult, v Verdict) bool {
	for _, r := range rs {
		if r.Verdict == v && r.Method == Measured {
			return true
		}
	}
	return false
}

// namedMissing reports whether, with results attached, a check the profile
// names for the entry did not run or does not cover the provision.
func (s *Statement) namedMissing(id string, e *Entry) bool {
	if s.results == nil {
		return false
	}
	for _, name := range e.NamedChecks {
		if !covers(e.Checks, name) {
			return true
		}
	}
	return false
}

func covers(rs []CheckResult, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (s *Statement) count(pr Provision, e Entry) {
	t := &s.Totals
	t.Provisions++
	if pr.Status == Mandatory {
		t.Mandatory++
	} else {
		t.Recommended++
	}
	if e.Applicability == Applies || e.Applicability == ManufacturerDecides && e.Support != NotApplicableSupport {
		t.Applicable++
	}
	switch e.Support {
	case Yes:
		t.Yes++
	case No:
		t.No++
	case NotApplicableSupport:
		t.NotApplicable++
	default:
		t.Unanswered++
	}
	switch e.Verdict {
	case Pass:
		t.Pass++
		if e.Basis == BasisMeasured {
			t.Measured++
		} else {
			t.Configured++
		}
	case Fail:
		t.Fail++
	case Declared:
		t.Declared++
	case Inconclusive:
		t.Inconclusive++
	}
	if e.Basis == BasisNone {
		t.Unbacked++
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
