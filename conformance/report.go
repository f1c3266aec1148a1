package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/internal/htmlw"
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

// writeStatementHTML renders the statement page. Markup only through M
// with constants; data only through T and URL (package internal/htmlw).
func writeStatementHTML(w *htmlw.Writer, s *Statement, outcome string) {
	w.M("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Security statement: ")
	w.T(orDash(s.Model))
	w.M("</title>\n<style>" + reportStyle + "</style></head>\n<body>\n<h1>Security statement for ")
	w.T(orDash(s.Model))
	w.M("</h1>\n<p>This page says which security requirements of the European standard for consumer smart devices\n(")
	w.T(s.Standard)
	w.M(") this device meets, and how we know. Some things the device checks on itself;\nothers only the manufacturer can state.</p>\n<table>\n<tr><th>Manufacturer</th><td>")
	w.T(orDash(s.Manufacturer))
	w.M("</td></tr>\n<tr><th>Model</th><td>")
	w.T(orDash(s.Model))
	w.M("</td></tr>\n<tr><th>Firmware version</th><td>")
	w.T(orDash(s.FirmwareVersion))
	w.M("</td></tr>\n<tr><th>Security updates until</th><td>")
	w.T(orDash(s.SupportPeriodEnd))
	w.M("</td></tr>\n<tr><th>Report a security problem</th><td>")
	w.T(orDash(s.VulnerabilityDisclosure.Contact))
	if s.VulnerabilityDisclosure.PolicyURL != "" {
		w.M(" — <a href=\"")
		w.URL(s.VulnerabilityDisclosure.PolicyURL)
		w.M("\">disclosure policy</a>")
	}
	w.M("</td></tr>\n</table>\n<p class=\"outcome ")
	if s.Conformant {
		w.M("ok")
	} else {
		w.M("bad")
	}
	w.M("\"><strong>Overall:</strong> ")
	w.T(outcome)
	w.M("</p>\n<p>")
	t := s.Totals
	w.V(t.Yes)
	w.M(" requirements met, ")
	w.V(t.No)
	w.M(" not met, ")
	w.V(t.NotApplicable)
	w.M(" do not apply to this device")
	if t.Unanswered != 0 {
		w.M(", ")
		w.V(t.Unanswered)
		w.M(" not answered")
	}
	w.M(".\n")
	w.V(t.Measured)
	w.M(" were confirmed by tests the device ran on itself; ")
	w.V(t.Configured)
	w.M(" were read from its settings (set as required, not tested);\n")
	w.V(t.Declared)
	w.M(" rest on the manufacturer's word")
	if t.Inconclusive != 0 {
		w.M("; ")
		w.V(t.Inconclusive)
		w.M(" could not be confirmed")
		if t.Unbacked != 0 {
			w.M(" (")
			w.V(t.Unbacked)
			w.M(" because nothing on the device checks them)")
		}
	}
	w.M(".")
	if !s.ChecksAttached {
		w.M("\n<strong>No results from the running device are attached to this page: it shows the manufacturer's answers only.</strong>")
	}
	w.M("</p>\n")
	if len(s.Problems) > 0 {
		w.M("<h2>What is wrong or missing</h2>\n<ul>")
		for _, pb := range s.Problems {
			w.M("<li>")
			w.T(pb.String())
			w.M("</li>")
		}
		w.M("</ul>")
	}
	w.M("\n<h2>Requirements</h2>\n<table>\n<tr><th>Requirement</th><th>What it means</th><th>Answer</th><th>Result</th><th>Explanation</th></tr>\n")
	for _, e := range s.Provisions {
		w.M("<tr class=\"")
		w.T(verdictClass(e.Verdict))
		w.M("\">\n<td>")
		w.T(e.ID)
		w.M("<br><small>")
		if e.Status == "M" {
			w.M("required")
		} else {
			w.M("recommended")
		}
		w.M("</small></td>\n<td>")
		w.T(e.Summary)
		w.M("</td>\n<td>")
		w.T(supportWord(e.Support))
		w.M("</td>\n<td>")
		w.T(plainEntry(e))
		w.M("</td>\n<td>")
		if e.Support == "Y" {
			w.T(e.Detail)
		} else {
			w.T(e.Justification)
		}
		if len(s.NonUpdatable) > 0 && (e.ID == "5.3-14" || e.ID == "5.3-15") {
			w.M("<br><small>Parts that cannot be updated: ")
			for i, d := range s.NonUpdatable {
				if i > 0 {
					w.M("; ")
				}
				w.T(orDash(d.Part))
			}
			w.M(" (see below)</small>")
		}
		for _, c := range e.Checks {
			w.M("<br><small>Device check “")
			w.T(c.Title)
			w.M("”: ")
			w.T(plainResult(c))
			if c.Observed != "" {
				w.M(" — saw ")
				w.T(c.Observed)
			}
			w.M("</small>")
		}
		w.M("</td>\n</tr>\n")
	}
	w.M("</table>\n")
	if len(s.NonUpdatable) > 0 {
		w.M("<h2>Parts that cannot be updated</h2>\n<p>The manufacturer states that the software of these parts cannot be updated, and how they are kept apart and replaced.\nThis is the manufacturer's statement; the device cannot test it.</p>\n<table><tr><th>Part</th><th>Why it cannot be updated</th><th>How it is isolated</th><th>How to get it replaced</th><th>Replacement supported until</th></tr>\n")
		for _, d := range s.NonUpdatable {
			w.M("<tr><td>")
			w.T(orDash(d.Part))
			w.M("</td><td>")
			w.T(orDash(d.Reason))
			w.M("</td><td>")
			w.T(orDash(d.Isolation))
			w.M("</td><td>")
			w.T(orDash(d.Replacement))
			w.M("</td><td>")
			w.T(orDash(d.ReplacementUntil))
			w.M("</td></tr>\n")
		}
		w.M("</table>")
	}
	w.M("\n<h2>About this device</h2>\n<p>Which requirements apply depends on these facts about the device.</p>\n<table><tr><th>Fact</th><th>True for this device?</th></tr>\n")
	for _, c := range s.Conditions {
		w.M("<tr><td>")
		w.T(c.Description)
		w.M("</td><td>")
		w.T(yesNo(c.Holds))
		w.M("</td></tr>\n")
	}
	w.M("</table>\n</body></html>\n")
}

// WriteHTML writes the statement as a self-contained HTML page a
// non-expert can read (5.12-3): plain-language results, no scripts, no
// external resources. Every value from the profile is escaped.
func (s *Statement) WriteHTML(w io.Writer) error {
	var hw htmlw.Writer
	writeStatementHTML(&hw, s, s.outcome())
	_, err := w.Write(hw.Bytes())
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

// writeReportHTML renders the self-check page (see writeStatementHTML).
func writeReportHTML(w *htmlw.Writer, r *Report) {
	w.M("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Security self-check: ")
	w.T(orDash(r.Model))
	w.M("</title>\n<style>" + reportStyle + "</style></head>\n<body>\n<h1>Is my ")
	w.T(orDash(r.Model))
	w.M(` securely set up?</h1>
<p>Your device has just checked its own security. Each line below is one check.
Green means the device tested it on itself and it held; light green means the device read the
setting and it is set as required, without testing it; red means something needs your attention;
yellow means the device could not be sure; blue means it is a promise from the manufacturer that
the device cannot check by itself.</p>
<p>`)
	w.V(r.Measured)
	w.M(" tested, ")
	w.V(r.Configured)
	w.M(" read from the settings.</p>\n<p>Firmware version ")
	w.T(orDash(r.FirmwareVersion))
	w.M(", checked ")
	w.T(r.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	w.M(".</p>\n<p class=\"outcome ")
	if r.OK {
		w.M("ok\"><strong>Everything the device can check looks fine.</strong></p>\n")
	} else {
		w.M("bad\"><strong>Something needs attention: see the red or yellow lines.</strong></p>\n")
	}
	w.M("<table>\n<tr><th>What was checked</th><th>Result</th><th>What the device saw</th></tr>\n")
	for _, c := range r.Results {
		w.M("<tr class=\"")
		if c.Verdict == Pass && c.Method != Measured {
			w.M("cfg")
		} else {
			w.T(verdictClass(c.Verdict))
		}
		w.M("\">\n<td>")
		w.T(c.Title)
		w.M("<br><small>")
		w.T(c.ID)
		for _, p := range c.Provisions {
			w.M(" · ")
			w.T(p)
		}
		w.M("</small></td>\n<td>")
		w.T(plainResult(c))
		w.M("</td>\n<td>")
		w.T(c.Observed)
		if c.Detail != "" {
			w.M("<br><small>")
			w.T(c.Detail)
			w.M("</small>")
		}
		w.M("</td>\n</tr>\n")
	}
	w.M("</table>\n</body></html>\n")
}

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
	var hw htmlw.Writer
	writeReportHTML(&hw, &shown)
	_, err := w.Write(hw.Bytes())
	return err
}
