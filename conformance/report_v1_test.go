package conformance

import (
	"bytes"
	"context"
	"html/template"
	"sort"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/htmlw/htmlwtest"
)

// The statement and report pages were html/template templates until the
// package dropped html/template (it keeps the linker from removing unused
// methods in a firmware that links it). The v1 templates are kept here;
// the tests render both with the same data, hostile strings included, and
// want the same document.

var v1Funcs = template.FuncMap{
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
	"formatTime":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"isZero":      func(t time.Time) bool { return t.IsZero() },
	"supportWord": supportWord,
}

var v1StatementHTML = template.Must(template.New("ics").Funcs(v1Funcs).Parse(`<!DOCTYPE html>
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

var v1ReportHTML = template.Must(template.New("report").Funcs(v1Funcs).Parse(`<!DOCTYPE html>
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

func TestStatementHTMLMatchesV1(t *testing.T) {
	for _, p := range []*Profile{hostileProfile(t), exampleProfile(t), Skeleton()} {
		for _, attach := range []bool{false, true} {
			s := NewStatement(p)
			if attach {
				s.Attach(RunChecks(context.Background(), liveChecker{memoryKiB: 4096}))
			}
			s.NonUpdatable = append(s.NonUpdatable, NonUpdatable{Part: hostileText, Reason: hostileText, Isolation: "i", Replacement: "r", ReplacementUntil: "2030-01-01"}, NonUpdatable{})
			s.VulnerabilityDisclosure.PolicyURL = "https://example.com/a b\"c<d>'e&f?x=1#y"
			var old bytes.Buffer
			if err := v1StatementHTML.Execute(&old, struct {
				*Statement
				Style   template.CSS
				Outcome string
			}{s, template.CSS(reportStyle), s.outcome()}); err != nil {
				t.Fatal(err)
			}
			var now bytes.Buffer
			if err := s.WriteHTML(&now); err != nil {
				t.Fatal(err)
			}
			htmlwtest.SameDocument(t, "statement", old.String(), now.String())
			for _, u := range []string{"javascript:alert(1)", "JavaScript:x", "data:text/html,<b>", "/relative path", "mailto:a@b"} {
				s.VulnerabilityDisclosure.PolicyURL = u
				old.Reset()
				now.Reset()
				v1StatementHTML.Execute(&old, struct {
					*Statement
					Style   template.CSS
					Outcome string
				}{s, template.CSS(reportStyle), s.outcome()})
				s.WriteHTML(&now)
				htmlwtest.SameDocument(t, "statement with policy URL "+u, old.String(), now.String())
			}
		}
	}
}

const hostileText = `<script>alert(1)</script> "><img src=x onerror=alert(1)> ' & &amp; é`

func TestReportHTMLMatchesV1(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	results := RunChecks(context.Background(), liveChecker{memoryKiB: 19456})
	results = append(results, CheckResult{ID: hostileText, Title: hostileText, Provisions: []string{hostileText, "5.1-1"}, Method: Measured,
		Result: Result{Verdict: Fail, Observed: hostileText, Detail: hostileText}})
	for _, r := range []*Report{NewReport("SP-100 "+hostileText, hostileText, at, results), NewReport("", "", at, results[:2]), NewReport("m", "v", at, nil)} {
		shown := *r
		shown.Results = append([]CheckResult(nil), r.Results...)
		sort.SliceStable(shown.Results, func(i, j int) bool {
			return attention(shown.Results[i].Verdict) < attention(shown.Results[j].Verdict)
		})
		var old bytes.Buffer
		if err := v1ReportHTML.Execute(&old, struct {
			*Report
			Style template.CSS
		}{&shown, template.CSS(reportStyle)}); err != nil {
			t.Fatal(err)
		}
		var now bytes.Buffer
		if err := r.WriteHTML(&now); err != nil {
			t.Fatal(err)
		}
		htmlwtest.SameDocument(t, "report", old.String(), now.String())
	}
}

// TestHTMLMarkupIsConstant: in this package, htmlw's M is only ever called
// with a string constant, so no data reaches the markup.
func TestHTMLMarkupIsConstant(t *testing.T) {
	htmlwtest.ConstantMarkup(t, ".", 40, "reportStyle")
}
