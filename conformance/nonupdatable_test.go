package conformance

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func sensorDeclaration() NonUpdatable {
	return NonUpdatable{
		Part:             "SN-2 sensor (firmware in mask ROM)",
		Reason:           "the microcontroller has no writable program memory",
		Isolation:        "it talks only to the hub over a paired, encrypted 868 MHz link; the hub never forwards traffic to it from the internet",
		Replacement:      "replaced free of charge by the retailer or at https://example.com/replace on request",
		ReplacementUntil: "2032-06-30",
	}
}

// constrainedSensor is a constrained device whose software cannot be
// updated, answering 5.3-14 and 5.3-15 Y with the given declarations.
func constrainedSensor(t *testing.T, ds ...NonUpdatable) *Profile {
	t.Helper()
	p := exampleProfile(t)
	yes := true
	p.Constrained = &yes
	for k, v := range map[int]bool{3: true, 9: false, 11: false, 12: false} {
		p.Conditions[k] = v
	}
	for _, id := range []string{"5.1-5", "5.3-2", "5.3-3", "5.3-4", "5.3-5", "5.3-6", "5.3-7", "5.3-8", "5.3-9", "5.3-10", "5.3-11", "5.3-12"} {
		setAnswer(t, p, Answer{ID: id, Support: NotApplicableSupport, Justification: "constrained sensor without software updates"})
	}
	setAnswer(t, p, Answer{ID: "5.3-14", Support: Yes, Detail: "published on the product page"})
	setAnswer(t, p, Answer{ID: "5.3-15", Support: Yes, Detail: "see the declaration"})
	p.NonUpdatable = ds
	return p
}

func runProfileCheck(t *testing.T, p *Profile, id string) (CheckResult, bool) {
	t.Helper()
	for _, r := range RunChecks(context.Background(), p) {
		if r.ID == id {
			return r, true
		}
	}
	return CheckResult{}, false
}

// TestNonUpdatableDeclared: a complete declaration makes the statement
// conformant; the ICS in every form names the part, the self-check reports
// it as DECLARED (configured, never measured, and says so), and the
// entries for 5.3-14 and 5.3-15 rest on the declaration.
func TestNonUpdatableDeclared(t *testing.T) {
	p := constrainedSensor(t, sensorDeclaration())
	r, ok := runProfileCheck(t, p, "conformance.non-updatable")
	if !ok {
		t.Fatal("no conformance.non-updatable check for a profile that declares a part")
	}
	if r.Verdict != Declared || r.Method != Configured || !strings.HasPrefix(r.Observed, "declared by the maker, not measured: 1 part(s)") ||
		!strings.Contains(r.Observed, "SN-2 sensor") || !strings.Contains(r.Observed, "replaced until 2032-06-30") {
		t.Fatalf("check: %+v", r)
	}
	s := NewStatement(p)
	s.Attach(append(backing(), RunChecks(context.Background(), p)...))
	if !s.Conformant {
		t.Fatalf("problems:\n%s", strings.Join(problemLines(s), "\n"))
	}
	for _, id := range []string{"5.3-14", "5.3-15"} {
		e, _ := s.Entry(id)
		if e.Verdict != Declared || e.Basis != BasisDeclared || !covers(e.Checks, "conformance.non-updatable") {
			t.Errorf("%s: %s (%s), checks %+v", id, e.Verdict, e.Basis, e.Checks)
		}
	}
	var js, md, html bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"non_updatable": [`) || !strings.Contains(js.String(), `"replacement_until": "2032-06-30"`) {
		t.Errorf("JSON does not carry the declaration:\n%s", js.String()[:2000])
	}
	for _, want := range []string{"## Parts that cannot be updated", "| SN-2 sensor \\(firmware in mask ROM\\) | the microcontroller", "Declared parts that cannot be updated: SN-2 sensor"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if row := mdRow(md.String(), "| 5.3-15 |"); !strings.Contains(row, "SN-2 sensor") {
		t.Errorf("5.3-15 row does not name the part: %s", row)
	}
	if !strings.Contains(html.String(), "<h2>Parts that cannot be updated</h2>") || !strings.Contains(html.String(), "Parts that cannot be updated: SN-2 sensor (firmware in mask ROM) (see below)") {
		t.Error("HTML does not name the part")
	}
}

func mdRow(md, prefix string) string {
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestNonUpdatableIncomplete: a declaration without its isolation,
// replacement plan or replacement period is a problem naming the field and
// the provision, the statement is incomplete, and the self-check fails.
func TestNonUpdatableIncomplete(t *testing.T) {
	for _, c := range []struct {
		field, prov string
		clear       func(*NonUpdatable)
	}{
		{"isolation", "5.3-15", func(d *NonUpdatable) { d.Isolation = " " }},
		{"replacement", "5.3-15", func(d *NonUpdatable) { d.Replacement = "" }},
		{"replacement_until", "5.3-14", func(d *NonUpdatable) { d.ReplacementUntil = "" }},
		{"reason", "5.3-14", func(d *NonUpdatable) { d.Reason = "" }},
		{"part", "5.3-14", func(d *NonUpdatable) { d.Part = "" }},
	} {
		t.Run(c.field, func(t *testing.T) {
			d := sensorDeclaration()
			c.clear(&d)
			p := constrainedSensor(t, sensorDeclaration(), d)
			s := backedStatement(p)
			var found bool
			for _, pb := range s.Problems {
				if pb.Provision == c.prov && pb.Field == "non_updatable[1]."+c.field {
					found = true
				}
			}
			if !found || s.Complete {
				t.Fatalf("complete=%v problems:\n%s", s.Complete, strings.Join(problemLines(s), "\n"))
			}
			r, _ := runProfileCheck(t, p, "conformance.non-updatable")
			if r.Verdict != Fail || !strings.Contains(r.Detail, "non_updatable[1]."+c.field) {
				t.Fatalf("check: %+v", r)
			}
		})
	}
}

// TestNonUpdatableContradictions: a Y for 5.3-14 with nothing declared,
// and declarations under an answer that all software can be updated, are
// problems; condition 3 with nothing declared fails the self-check.
func TestNonUpdatableContradictions(t *testing.T) {
	s := backedStatement(constrainedSensor(t))
	if got := strings.Join(problemLines(s), "\n"); !strings.Contains(got, "5.3-14: non_updatable: answered Y, but no part is declared") || s.Complete {
		t.Fatalf("Y without a declaration:\n%s", got)
	}
	if r, _ := runProfileCheck(t, constrainedSensor(t), "conformance.non-updatable"); r.Verdict != Fail || !strings.Contains(r.Detail, "declares none") {
		t.Fatalf("condition 3 without a declaration: %+v", r)
	}

	p := exampleProfile(t) // condition 3 answered false
	p.NonUpdatable = []NonUpdatable{sensorDeclaration()}
	s = backedStatement(p)
	if got := strings.Join(problemLines(s), "\n"); !strings.Contains(got, "conditions.not_updateable: answered false, but non_updatable declares 1 part(s)") {
		t.Fatalf("declaration under condition 3 = false:\n%s", got)
	}

	// A device that states nothing about non-updatable parts gets no check.
	if _, ok := runProfileCheck(t, exampleProfile(t), "conformance.non-updatable"); ok {
		t.Fatal("a profile without condition 3 or declarations got the check")
	}
}

func TestNonUpdatableReplacementEnded(t *testing.T) {
	p := constrainedSensor(t, sensorDeclaration())
	after := func() time.Time { return time.Date(2032, 7, 1, 0, 0, 0, 0, time.UTC) }
	if r := nonUpdatableCheck(p, after).Run(context.Background()); r.Verdict != Fail || !strings.Contains(r.Detail, "ended on 2032-06-30") {
		t.Fatalf("after the replacement period: %+v", r)
	}
	last := func() time.Time { return time.Date(2032, 6, 30, 23, 0, 0, 0, time.UTC) }
	if r := nonUpdatableCheck(p, last).Run(context.Background()); r.Verdict != Declared {
		t.Fatalf("on its last day: %+v", r)
	}
}

func TestDecodeNonUpdatable(t *testing.T) {
	base := `{"schema":"baseline.profile/v1","non_updatable":[%s]}`
	decode := func(items string) (*Profile, error) {
		return DecodeProfile(strings.NewReader(strings.Replace(base, "%s", items, 1)), testNow)
	}
	p, err := decode(`{"part":"radio","reason":"ROM","isolation":"SPI to the SoC only","replacement":"by the retailer","replacement_until":"2030-01-31"}`)
	if err != nil || len(p.NonUpdatable) != 1 || p.NonUpdatable[0].Isolation != "SPI to the SoC only" {
		t.Fatalf("decode: %+v, %v", p, err)
	}
	// Written back and read again, it is the same.
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if q, err := DecodeProfile(&buf, testNow); err != nil || q.NonUpdatable[0] != p.NonUpdatable[0] {
		t.Fatalf("round trip: %+v, %v", q, err)
	}
	many := strings.TrimSuffix(strings.Repeat(`{"part":"x"},`, MaxNonUpdatable+1), ",")
	for name, items := range map[string]string{
		"unknown field": `{"part":"radio","colour":"red"}`,
		"past date":     `{"part":"radio","replacement_until":"2020-01-01"}`,
		"bad date":      `{"part":"radio","replacement_until":"soon"}`,
		"control char":  `{"part":"radio\u0007"}`,
		"part newline":  `{"part":"radio\nmodule"}`,
		"too many":      many,
		"not objects":   `"radio"`,
	} {
		if _, err := decode(items); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "non_updatable") {
			t.Errorf("%s: error does not name the field: %v", name, err)
		}
	}
}

// TestIXITNamesBootIntegrityAndNonUpdatable: the boot check informs
// 20-SecBoot's Security Guarantees, and the declaration 9-ReplSup.
func TestIXITNamesBootIntegrityAndNonUpdatable(t *testing.T) {
	p := constrainedSensor(t, sensorDeclaration())
	results := append(RunChecks(context.Background(), p), CheckResult{ID: "update.boot-integrity", Title: "boot", Provisions: []string{"5.7-1", "5.7-2"},
		Method: Measured, Result: Result{Verdict: Pass, Observed: "slot a matches"}})
	x := BuildIXIT(p, results)
	find := func(section int, check string) *IXITRow {
		for _, d := range x.Sections {
			if d.Number != section {
				continue
			}
			for i := range d.Rows {
				if d.Rows[i].Check == check {
					return &d.Rows[i]
				}
			}
		}
		return nil
	}
	if r := find(20, "update.boot-integrity"); r == nil || r.Method != Measured || len(r.Fields) == 0 || r.Fields[0] != "Security Guarantees" {
		t.Fatalf("20-SecBoot row: %+v", r)
	}
	if r := find(9, "conformance.non-updatable"); r == nil || r.Method != Configured || r.Verdict != Declared || !strings.Contains(r.Text, "SN-2 sensor") {
		t.Fatalf("9-ReplSup row: %+v", r)
	}
}
