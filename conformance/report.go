package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteJSON writes the statement as canonical JSON: the fields of
// [Statement] in declaration order, provisions in catalog order, two-space
// indentation, a final newline. The same statement always yields the same
// bytes. Fields:
//
//   - schema ("baseline.ics/v1"), standard, manufacturer, model,
//     firmware_version, constrained (true/false/null), support_period_end
//     (YYYY-MM-DD), vulnerability_disclosure {contact, policy_url},
//     non_updatable (only when the profile declares parts: {part, reason,
//     isolation, replacement, replacement_until});
//   - conditions: the 13 numbered conditions {number, key, description,
//     holds (true/false/null)};
//   - complete, conformant, checks_attached (booleans) and totals (counts);
//   - problems: {provision, field, message, nonconformity}, general
//     fields first, then in catalog order;
//   - provisions: one entry per provision {id, clause, status, conditions,
//     other_condition, summary, packages, evidence, applicability, support,
//     detail, justification, verdict, checks}; support is "Y", "N", "N/A"
//     or "" when unanswered; checks are the attached self-check results.
func (s *Statement) WriteJSON(w io.Writer) error {
	return writeIndentedJSON(w, s)
}

func writeIndentedJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteMarkdown writes the statement as a Markdown document: the device,
// the outcome, the problems, the conditions and one table row per
// provision.
func (s *Statement) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Implementation Conformance Statement: %s\n\n", mdText(orDash(s.Model)))
	fmt.Fprintf(&b, "Standard: %s\n\n", s.Standard)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Manufacturer | %s |\n", mdCell(orDash(s.Manufacturer)))
	fmt.Fprintf(&b, "| Model | %s |\n", mdCell(orDash(s.Model)))
	fmt.Fprintf(&b, "| Firmware version | %s |\n", mdCell(orDash(s.FirmwareVersion)))
	fmt.Fprintf(&b, "| Constrained device | %s |\n", yesNo(s.Constrained))
	fmt.Fprintf(&b, "| Support period ends | %s |\n", mdCell(orDash(s.SupportPeriodEnd)))
	fmt.Fprintf(&b, "| Vulnerability disclosure contact | %s |\n", mdCell(orDash(s.VulnerabilityDisclosure.Contact)))
	fmt.Fprintf(&b, "| Vulnerability disclosure policy | %s |\n\n", mdCell(orDash(s.VulnerabilityDisclosure.PolicyURL)))
	fmt.Fprintf(&b, "**Outcome:** %s\n\n", s.outcome())
	t := s.Totals
	fmt.Fprintf(&b, "%d provisions (%d mandatory, %d recommended), %d applicable: %d Y, %d N, %d N/A, %d unanswered. Verdicts: %d pass (%d measured on the running device, %d read from its configuration), %d declared, %d fail, %d inconclusive (%d Y with no self-check behind it).\n\n",
		t.Provisions, t.Mandatory, t.Recommended, t.Applicable, t.Yes, t.No, t.NotApplicable, t.Unanswered, t.Pass, t.Measured, t.Configured, t.Declared, t.Fail, t.Inconclusive, t.Unbacked)
	if !s.ChecksAttached {
		b.WriteString("No self-check results of a running device are attached: every verdict here rests on the profile alone.\n\n")
	}
	if len(s.Problems) > 0 {
		fmt.Fprintf(&b, "## Problems\n\n")
		for _, pb := range s.Problems {
			fmt.Fprintf(&b, "- %s\n", mdText(pb.String()))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Conditions\n\n| # | Condition | Holds |\n|---|---|---|\n")
	for _, c := range s.Conditions {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", c.Number, mdCell(c.Description), yesNo(c.Holds))
	}
	if len(s.NonUpdatable) > 0 {
		fmt.Fprintf(&b, "\n## Parts that cannot be updated (5.3-14, 5.3-15; declared by the manufacturer)\n\n| Part | Why it cannot be updated | How it is isolated | How it is replaced | Replacement supported until |\n|---|---|---|---|---|\n")
		for _, d := range s.NonUpdatable {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(orDash(d.Part)), mdCell(orDash(d.Reason)), mdCell(orDash(d.Isolation)), mdCell(orDash(d.Replacement)), mdCell(orDash(d.ReplacementUntil)))
		}
	}
	fmt.Fprintf(&b, "\n## Provisions\n\n| ID | Status | Summary | Applies | Support | Evidence | Verdict | Detail or justification | Self-checks |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range s.Provisions {
		pr, _ := Lookup(e.ID)
		var checks []string
		for _, r := range e.Checks {
			checks = append(checks, r.ID+" "+string(r.Verdict)+" ("+string(r.Method)+")")
		}
		text := e.Detail
		if e.Support == No || e.Support == NotApplicableSupport {
			text = e.Justification
		}
		if (e.ID == "5.3-14" || e.ID == "5.3-15") && len(s.NonUpdatable) > 0 {
			text = strings.TrimSpace(text + " Declared parts that cannot be updated: " + nonUpdatableNames(s.NonUpdatable) + ".")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			e.ID, pr.statusNotation(), mdCell(e.Summary), applicabilityWord(e.Applicability), orDash(string(e.Support)),
			mdCell(e.Evidence), verdictBasis(e), mdCell(text), mdCell(strings.Join(checks, ", ")))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *Statement) outcome() string {
	switch {
	case s.Conformant:
		return "complete and conformant"
	case s.Complete:
		return "complete, but NOT conformant"
	}
	return fmt.Sprintf("incomplete: %d problem(s) to fix", len(s.Problems))
}

// verdictBasis writes an entry's verdict with what it rests on where that
// is not obvious: "PASS (measured)", "INCONCLUSIVE (no check)".
func verdictBasis(e Entry) string {
	switch {
	case e.Verdict == Pass || e.Verdict == Fail && e.Support == Yes:
		return string(e.Verdict) + " (" + string(e.Basis) + ")"
	case e.Basis == BasisNone:
		return string(e.Verdict) + " (no check)"
	}
	return string(e.Verdict)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "unanswered"
	case *b:
		return "yes"
	}
	return "no"
}

func applicabilityWord(a Applicability) string {
	switch a {
	case Applies:
		return "yes"
	case DoesNotApply:
		return "no"
	case ManufacturerDecides:
		return "by declaration"
	}
	return "unknown"
}

// mdText escapes characters Markdown would interpret, so that text from a
// profile cannot inject links, images or HTML into the document.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '!', '|', '<', '>', '&', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCell escapes s for a table cell: one line, Markdown escaped.
func mdCell(s string) string {
	return mdText(strings.Join(strings.Fields(s), " "))
}

// plainResult explains one check result: only a measured PASS says the
// device tested it.
func plainResult(r CheckResult) string {
	if r.Verdict == Pass && r.Method != Measured {
		return "Set as required (the device read its settings; it did not test them)"
	}
	return plainVerdict(r.Verdict)
}

// plainVerdict explains a verdict to someone who has never read the
// standard. A Pass here is a measured one; see [plainResult].
func plainVerdict(v Verdict) string {
	switch v {
	case Pass:
		return "Tested on the device: OK"
	case Fail:
		return "Not met"
	case Inconclusive:
		return "Could not be confirmed"
	case NotApplicable:
		return "Does not apply to this device"
	case Declared:
		return "Stated by the manufacturer (not something the device can check itself)"
	case NotRun:
		return "No answer / not checked"
	}
	return string(v)
}

// plainEntry explains an entry's verdict in plain words, saying whether
// a claim could have been checked by the device at all.
func plainEntry(e Entry) string {
	switch {
	case e.Verdict == Declared && e.Evidence == string(EvidenceDeclaration):
		return "Stated by the manufacturer (only the manufacturer can know this)"
	case e.Verdict == Declared && len(e.Checks) == 0:
		return "Stated by the manufacturer (not checked on the device for this page)"
	case e.Verdict == Declared:
		return "Stated by the manufacturer"
	case e.Verdict == Inconclusive && e.Basis == BasisNone && len(e.Checks) == 0:
		return "Claimed, but nothing on the device checks it"
	case e.Verdict == Pass && e.Basis != BasisMeasured && strings.Contains(e.Evidence, string(EvidenceDeclaration)):
		return "Set as required for the part the device can see (settings read, not tested); the rest is stated by the manufacturer"
	case e.Verdict == Pass && e.Basis != BasisMeasured:
		return "Set as required (the device read its settings; it did not test them)"
	case e.Verdict == Pass && strings.Contains(e.Evidence, string(EvidenceDeclaration)):
		return "Tested on the device: OK for the part it can check; the rest is stated by the manufacturer"
	case e.Verdict == Fail && e.Support == No && e.Status == Recommended:
		return "Not met (a recommendation; the reason is given)"
	}
	return plainVerdict(e.Verdict)
}

// verdictClass maps a verdict to a CSS class of the reports.
func verdictClass(v Verdict) string {
	switch v {
	case Pass:
		return "ok"
	case Fail:
		return "bad"
	case Inconclusive, NotRun:
		return "warn"
	}
	return "info"
}

var reportFuncs = template.FuncMap{
	"plain":       plainVerdict,
	"plainResult": plainResult,
	"resultClass": func(r CheckResult) string {
		if r.Verdict == Pass && r.Method != Measured {
			return "cfg"
		}
		return verdictClass(r.Verdict)
	},
	"plainEntry":  plainEntry,
	"class":       verdictClass,
	"yesno":       yesNo,
	"applies":     applicabilityWord,
	"dash":        orDash,
	"statusNote":  func(id string) string { p, _ := Lookup(id); return p.statusNotation() },
	"formatTime":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"isZero":      func(t time.Time) bool { return t.IsZero() },
	"supportWord": supportWord,
}

func supportWord(s Support) string {
	switch s {
	case Yes:
		return "Yes"
	case No:
		return "No"
	case NotApplicableSupport:
		return "Not applicable"
	}
	return "Not answered"
}

const reportStyle = `body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#111}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}.ok{background:#e3f4e3}.cfg{background:#f1f8ea}.bad{background:#fbe0e0}.warn{background:#fff4d6}.info{background:#eef2fb}
.outcome{font-size:1.2rem;padding:.6rem;border:2px solid #888}small{color:#444}`

var statementHTML = template.Must(template.New("ics").Funcs(reportFuncs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Security statement: {{dash .Model}}</title>
<style>{{.Style}}</style></head>
<body>
<h1>Security statement for {{dash .Model}}</h1>
<p>This page says which security requirements of the European standard for consumer smart devices
({{.Standard}}) this device meets, and how we know. Some things the device checks on itself;
others only the manufacturer can state.</p>
<table>
<tr><th>Manufacturer</th><td>{{dash .Manufacturer}}</td></tr>
<tr><th>Model</th><td>{{dash .Model}}</td></tr>
<tr><th>Firmware version</th><td>{{dash .FirmwareVersion}}</td></tr>
<tr><th>Security updates until</th><td>{{dash .SupportPeriodEnd}}</td></tr>
<tr><th>Report a security problem</th><td>{{dash .VulnerabilityDisclosure.Contact}}{{if .VulnerabilityDisclosure.PolicyURL}} — <a href="{{.VulnerabilityDisclosure.PolicyURL}}">disclosure policy</a>{{end}}</td></tr>
</table>
<p class="outcome {{if .Conformant}}ok{{else}}bad{{end}}"><strong>Overall:</strong> {{.Outcome}}</p>
<p>{{.Totals.Yes}} requirements met, {{.Totals.No}} not met, {{.Totals.NotApplicable}} do not apply to this device{{if .Totals.Unanswered}}, {{.Totals.Unanswered}} not answered{{end}}.
{{.Totals.Measured}} were confirmed by tests the device ran on itself; {{.Totals.Configured}} were read from its settings (set as required, not tested);
{{.Totals.Declared}} rest on the manufacturer's word{{if .Totals.Inconclusive}}; {{.Totals.Inconclusive}} could not be confirmed{{if .Totals.Unbacked}} ({{.Totals.Unbacked}} because nothing on the device checks them){{end}}{{end}}.{{if not .ChecksAttached}}
<strong>No results from the running device are attached to this page: it shows the manufacturer's answers only.</strong>{{end}}</p>
{{if .Problems}}<h2>What is wrong or missing</h2>
<ul>{{range .Problems}}<li>{{.String}}</li>{{end}}</ul>{{end}}
<h2>Requirements</h2>
<table>
<tr><th>Requirement</th><th>What it means</th><th>Answer</th><th>Result</th><th>Explanation</th></tr>
{{range .Provisions}}<tr class="{{class .Verdict}}">
<td>{{.ID}}<br><small>{{if eq .Status "M"}}required{{else}}recommended{{end}}</small></td>
<td>{{.Summary}}</td>
<td>{{supportWord .Support}}</td>
<td>{{plainEntry .}}</td>
<td>{{if eq .Support "Y"}}{{.Detail}}{{else}}{{.Justification}}{{end}}{{if and $.NonUpdatable (or (eq .ID "5.3-14") (eq .ID "5.3-15"))}}<br><small>Parts that cannot be updated: {{range $i, $d := $.NonUpdatable}}{{if $i}}; {{end}}{{dash $d.Part}}{{end}} (see below)</small>{{end}}{{range .Checks}}<br><small>Device check “{{.Title}}”: {{plainResult .}}{{if .Observed}} — saw {{.Observed}}{{end}}</small>{{end}}</td>
</tr>
{{end}}</table>
{{if .NonUpdatable}}<h2>Parts that cannot be updated</h2>
<p>The manufacturer states that the software of these parts cannot be updated, and how they are kept apart and replaced.
This is the manufacturer's statement; the device cannot test it.</p>
<table><tr><th>Part</th><th>Why it cannot be updated</th><th>How it is isolated</th><th>How to get it replaced</th><th>Replacement supported until</th></tr>
{{range .NonUpdatable}}<tr><td>{{dash .Part}}</td><td>{{dash .Reason}}</td><td>{{dash .Isolation}}</td><td>{{dash .Replacement}}</td><td>{{dash .ReplacementUntil}}</td></tr>
{{end}}</table>{{end}}
<h2>About this device</h2>
<p>Which requirements apply depends on these facts about the device.</p>
<table><tr><th>Fact</th><th>True for this device?</th></tr>
{{range .Conditions}}<tr><td>{{.Description}}</td><td>{{yesno .Holds}}</td></tr>
{{end}}</table>
</body></html>
`))

// WriteHTML writes the statement as a self-contained HTML page a
// non-expert can read (5.12-3): plain-language results, no scripts, no
// external resources. Every value from the profile is escaped.
func (s *Statement) WriteHTML(w io.Writer) error {
	data := struct {
		*Statement
		Style   template.CSS
		Outcome string
	}{s, template.CSS(reportStyle), s.outcome()}
	var buf bytes.Buffer
	if err := statementHTML.Execute(&buf, data); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Report is the device's self-check report (5.12-3): the results of
// [RunChecks] with the device's identity, served by the device so its
// owner can see whether it is securely set up.
type Report struct {
	// Model and FirmwareVersion identify the device.
	Model           string `json:"model"`
	FirmwareVersion string `json:"firmware_version"`
	// GeneratedAt is when the checks ran.
	GeneratedAt time.Time `json:"generated_at"`
	// OK is true when no check failed or was inconclusive or not run.
	OK bool `json:"ok"`
	// Counts per verdict.
	Counts map[Verdict]int `json:"counts"`
	// Measured and Configured split the PASS results by [Method]: only
	// the measured ones exercised the running device.
	Measured   int `json:"measured"`
	Configured int `json:"configured"`
	// Results are the check results, sorted by check ID.
	Results []CheckResult `json:"results"`
}

// NewReport builds a self-check report from the results of [RunChecks].
func NewReport(model, firmwareVersion string, at time.Time, results []CheckResult) *Report {
	r := &Report{Model: model, FirmwareVersion: firmwareVersion, GeneratedAt: at.UTC(), OK: true,
		Counts: map[Verdict]int{}, Results: append([]CheckResult{}, results...)}
	for _, res := range results {
		r.Counts[res.Verdict]++
		if res.Verdict == Pass {
			if res.Method == Measured {
				r.Measured++
			} else {
				r.Configured++
			}
		}
		switch res.Verdict {
		case Fail, Inconclusive, NotRun:
			r.OK = false
		}
	}
	return r
}

// WriteJSON writes the report as indented JSON: model, firmware_version,
// generated_at (RFC 3339), ok, counts (per verdict), measured and
// configured (PASS results by method) and results (id, title, provisions,
// method, verdict, observed, detail, at).
func (r *Report) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, r) }

// WriteText writes the report as plain text, one check per line, the
// verdict followed by how the check reached it:
// "PASS measured    auth.throttle  Login throttling (5.1-5): …".
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Self-check of %s, firmware %s, %s\n", orDash(r.Model), orDash(r.FirmwareVersion), r.GeneratedAt.Format(time.RFC3339))
	if r.OK {
		b.WriteString("Result: all checks passed or were declared\n")
	} else {
		b.WriteString("Result: ATTENTION, some checks did not pass\n")
	}
	for _, res := range r.Results {
		method := res.Method
		if method == "" {
			method = Configured
		}
		fmt.Fprintf(&b, "%-12s %-10s %s  %s (%s)", res.Verdict, method, oneLineText(res.ID), oneLineText(res.Title), strings.Join(res.Provisions, ", "))
		if res.Observed != "" {
			fmt.Fprintf(&b, ": %s", oneLineText(res.Observed))
		}
		if res.Detail != "" {
			fmt.Fprintf(&b, " — %s", oneLineText(res.Detail))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var reportHTML = template.Must(template.New("report").Funcs(reportFuncs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Security self-check: {{dash .Model}}</title>
<style>{{.Style}}</style></head>
<body>
<h1>Is my {{dash .Model}} securely set up?</h1>
<p>Your device has just checked its own security. Each line below is one check.
Green means the device tested it on itself and it held; light green means the device read the
setting and it is set as required, without testing it; red means something needs your attention;
yellow means the device could not be sure; blue means it is a promise from the manufacturer that
the device cannot check by itself.</p>
<p>{{.Measured}} tested, {{.Configured}} read from the settings.</p>
<p>Firmware version {{dash .FirmwareVersion}}, checked {{formatTime .GeneratedAt}}.</p>
<p class="outcome {{if .OK}}ok{{else}}bad{{end}}"><strong>{{if .OK}}Everything the device can check looks fine.{{else}}Something needs attention: see the red or yellow lines.{{end}}</strong></p>
<table>
<tr><th>What was checked</th><th>Result</th><th>What the device saw</th></tr>
{{range .Results}}<tr class="{{resultClass .}}">
<td>{{.Title}}<br><small>{{.ID}}{{range .Provisions}} · {{.}}{{end}}</small></td>
<td>{{plainResult .}}</td>
<td>{{.Observed}}{{if .Detail}}<br><small>{{.Detail}}</small>{{end}}</td>
</tr>
{{end}}</table>
</body></html>
`))

// attention ranks verdicts for display: failures first.
func attention(v Verdict) int {
	switch v {
	case Fail:
		return 0
	case Inconclusive, NotRun:
		return 1
	}
	return 2
}

// WriteHTML writes the report as a self-contained HTML page in plain
// language, without scripts or external resources. Checks that need the
// owner's attention are listed first.
func (r *Report) WriteHTML(w io.Writer) error {
	// What needs the owner's attention comes first.
	shown := *r
	shown.Results = append([]CheckResult(nil), r.Results...)
	sort.SliceStable(shown.Results, func(i, j int) bool {
		return attention(shown.Results[i].Verdict) < attention(shown.Results[j].Verdict)
	})
	data := struct {
		*Report
		Style template.CSS
	}{&shown, template.CSS(reportStyle)}
	var buf bytes.Buffer
	if err := reportHTML.Execute(&buf, data); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
