package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// hostileProfile is the example profile with text that tries to inject
// markup into each report format.
func hostileProfile(t *testing.T) *Profile {
	p := exampleProfile(t)
	p.Model = `<img src=x onerror=alert(1)>`
	p.Provisions[catalogIndex["5.1-1"]].Detail = "<script>alert(1)</script> | [click](javascript:alert(1)) ![i](http://x/y.png)"
	p.VulnerabilityDisclosure.PolicyURL = "https://example.com/p?a=<b>"
	return p
}

func render(t *testing.T, write func(*bytes.Buffer) error) string {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestStatementJSON(t *testing.T) {
	s := NewStatement(exampleProfile(t))
	s.Attach(append(RunChecks(context.Background(), liveChecker{memoryKiB: 19456}), backing("5.1-3", "5.3-4", "5.3-6")...))
	out := render(t, func(b *bytes.Buffer) error { return s.WriteJSON(b) })
	if again := render(t, func(b *bytes.Buffer) error { return s.WriteJSON(b) }); again != out {
		t.Error("the same statement rendered twice differs")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "standard", "manufacturer", "model", "firmware_version", "constrained", "conditions", "support_period_end", "vulnerability_disclosure", "complete", "conformant", "checks_attached", "totals", "problems", "provisions"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if doc["schema"] != StatementSchema || doc["conformant"] != true {
		t.Errorf("schema %v conformant %v", doc["schema"], doc["conformant"])
	}
	provs := doc["provisions"].([]any)
	if len(provs) != 68 {
		t.Fatalf("%d provisions", len(provs))
	}
	for i, raw := range provs {
		e := raw.(map[string]any)
		if e["id"] != catalog[i].ID {
			t.Errorf("provision %d: id %v", i, e["id"])
		}
		if _, ok := e["support"]; !ok {
			t.Errorf("%v: no support", e["id"])
		}
	}
	if !strings.Contains(out, `"observed": "argon2id m=19456"`) {
		t.Error("attached check results missing from the JSON")
	}
	// An unanswered entry still carries "support": "".
	sk := render(t, func(b *bytes.Buffer) error { return NewStatement(Skeleton()).WriteJSON(b) })
	if strings.Count(sk, `"support": ""`) != 68 {
		t.Error("unanswered entries must keep their support field")
	}
}

func TestStatementMarkdown(t *testing.T) {
	s := NewStatement(hostileProfile(t))
	s.Attach(backing())
	out := render(t, func(b *bytes.Buffer) error { return s.WriteMarkdown(b) })
	for _, p := range catalog {
		if !strings.Contains(out, "\n| "+p.ID+" | "+p.statusNotation()+" | ") {
			t.Errorf("no row for %s", p.ID)
		}
	}
	for _, bad := range []string{"](javascript:", "![i](http"} {
		if strings.Contains(out, bad) {
			t.Errorf("Markdown passes %q through unescaped", bad)
		}
	}
	// Every '<' from the profile is escaped, so no HTML reaches a renderer.
	if n, esc := strings.Count(out, "<"), strings.Count(out, `\<`); n != esc || n == 0 {
		t.Errorf("%d '<' in the Markdown, %d of them escaped", n, esc)
	}
	// The pipe in the detail must not split the table row.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| 5.1-1 |") {
			if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 10 {
				t.Errorf("5.1-1 row has %d cell separators: %s", n, line)
			}
		}
	}
	if !strings.Contains(out, "**Outcome:** complete and conformant") {
		t.Error("outcome missing")
	}
}

func TestStatementHTML(t *testing.T) {
	s := NewStatement(hostileProfile(t))
	s.Attach(RunChecks(context.Background(), liveChecker{memoryKiB: 4096}))
	out := render(t, func(b *bytes.Buffer) error { return s.WriteHTML(b) })
	for _, bad := range []string{"<script", "<img", `href="javascript`, "onerror=alert(1)>"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"Stated by the manufacturer (only the manufacturer can know this)",
		"Stated by the manufacturer (not checked on the device for this page)",
		"Does not apply to this device", // N/A in plain words
		"What is wrong or missing",      // the failed check is listed
		"Password hashing strength",     // check title shown
		"memory below the OWASP floor",  // its explanation
		"<!DOCTYPE html>", `<html lang="en">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(out, "Tested on the device: OK") {
		t.Error("no check passed, yet the page says one did")
	}
	ok := NewStatement(exampleProfile(t))
	ok.Attach(append(RunChecks(context.Background(), liveChecker{memoryKiB: 19456}), backing("5.1-3", "5.3-4", "5.3-6")...))
	out = render(t, func(b *bytes.Buffer) error { return ok.WriteHTML(b) })
	if !strings.Contains(out, "Tested on the device: OK") || !strings.Contains(out, "complete and conformant") {
		t.Error("a passing measured check is not shown in plain words")
	}
	// auth.hash-params here only reads a setting: its PASS must not read
	// as a test of the device.
	i := strings.Index(out, "<td>5.1-3<br>")
	row := out[i : i+strings.Index(out[i:], "</tr>")]
	if strings.Contains(row, "Tested on the device") || !strings.Contains(row, "Set as required (the device read its settings; it did not test them)") {
		t.Errorf("a configured PASS is shown as tested:\n%s", row)
	}
	// 5.2-1 is partly a declaration (B/D): a passing check does not cover all of it.
	ok.Attach(append(RunChecks(context.Background(), exampleProfile(t)), backing("4-1")...))
	if out := render(t, func(b *bytes.Buffer) error { return ok.WriteHTML(b) }); !strings.Contains(out, "Set as required for the part the device can see (settings read, not tested); the rest is stated by the manufacturer") {
		t.Error("a partial check is shown as covering the whole provision")
	}
	// A statement without device results says so.
	if out := render(t, func(b *bytes.Buffer) error { return NewStatement(exampleProfile(t)).WriteHTML(b) }); !strings.Contains(out, "No results from the running device are attached") || !strings.Contains(out, "Claimed, but nothing on the device checks it") {
		t.Error("a profile-only statement does not say that nothing backs it")
	}
}

func TestSelfCheckReport(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	results := RunChecks(context.Background(), liveChecker{memoryKiB: 19456})
	r := NewReport("SP-100 <b>", "1.0.0", at, results)
	if r.OK {
		t.Error("an inconclusive check must not make the report OK")
	}
	if r.Counts[Pass] != 1 || r.Counts[Declared] != 1 || r.Counts[Inconclusive] != 1 {
		t.Errorf("counts %v", r.Counts)
	}
	js := render(t, func(b *bytes.Buffer) error { return r.WriteJSON(b) })
	var doc struct {
		Model       string          `json:"model"`
		GeneratedAt time.Time       `json:"generated_at"`
		OK          bool            `json:"ok"`
		Counts      map[string]int  `json:"counts"`
		Results     []CheckResult   `json:"results"`
		Extra       json.RawMessage `json:"-"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.GeneratedAt.Equal(at) || len(doc.Results) != 3 || doc.Counts["PASS"] != 1 || doc.Results[0].ID != "auth.hash-params" {
		t.Errorf("JSON report: %+v", doc)
	}
	txt := render(t, func(b *bytes.Buffer) error { return r.WriteText(b) })
	if !strings.Contains(txt, "PASS         configured auth.hash-params  Password hashing strength (5.1-3): argon2id m=19456") ||
		!strings.Contains(txt, "ATTENTION") || !strings.Contains(txt, "DECLARED") {
		t.Errorf("text report:\n%s", txt)
	}
	html := render(t, func(b *bytes.Buffer) error { return r.WriteHTML(b) })
	if strings.Contains(html, "<b>") || !strings.Contains(html, "SP-100 &lt;b&gt;") || !strings.Contains(html, "Something needs attention") {
		t.Errorf("HTML report:\n%s", html)
	}
	if strings.Contains(html, "<script") {
		t.Error("report must not use scripts")
	}
	if i, j := strings.Index(html, "Automatic updates"), strings.Index(html, "Password hashing strength"); i < 0 || j < 0 || i > j {
		t.Error("the inconclusive check must be listed before the passing ones")
	}
	good := NewReport("SP-100", "1.0.0", at, results[:2])
	if !good.OK {
		t.Error("pass + declared must be OK")
	}
	if h := render(t, func(b *bytes.Buffer) error { return good.WriteHTML(b) }); !strings.Contains(h, "looks fine") {
		t.Error("OK report does not say so")
	}
}
