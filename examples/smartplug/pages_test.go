package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"html"
	"html/template"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/privacy"
)

// The pages were html/template files until the plug dropped the template
// package (pages.go). testdata/pages-v1 keeps those templates; this test
// renders both with the same data — hostile strings included — and wants
// the same document, so the Go pages are exactly as safe as the
// auto-escaping templates were (html/template escapes text and quoted
// attributes as html.EscapeString does).

const hostile = `<script>alert(1)</script> "><img src=x onerror=alert(1)> ' & &amp; é 日本`

var oldPages = template.Must(template.New("").Funcs(template.FuncMap{
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"plain": plainVerdict,
}).ParseGlob("testdata/pages-v1/*.html"))

func renderOld(t *testing.T, name string, data any) string {
	t.Helper()
	var b bytes.Buffer
	if err := oldPages.ExecuteTemplate(&b, name, data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.String()
}

// norm removes whitespace-only differences: runs of blank lines (the
// templates' {{if}} lines leave empty lines behind).
var blankLines = regexp.MustCompile(`\n\s*\n`)

func norm(s string) string { return strings.TrimSpace(blankLines.ReplaceAllString(s, "\n")) }

func samePage(t *testing.T, name, old, got string) {
	t.Helper()
	if norm(old) != norm(got) {
		o, g := strings.Split(norm(old), "\n"), strings.Split(norm(got), "\n")
		for i := range max(len(o), len(g)) {
			var ol, gl string
			if i < len(o) {
				ol = o[i]
			}
			if i < len(g) {
				gl = g[i]
			}
			if ol != gl {
				t.Fatalf("%s differs from the v1 template at line %d:\n v1:  %q\n now: %q", name, i+1, ol, gl)
			}
		}
	}
	if strings.Contains(got, "<script>") || strings.Contains(got, "<img") {
		t.Fatalf("%s: hostile data reached the markup", name)
	}
}

func testPages() []*page {
	when := time.Date(2026, 12, 3, 10, 4, 5, 0, time.UTC)
	base := func(loggedIn bool) page {
		return page{Title: "T" + hostile, Model: "SP-100 " + hostile, Manufacturer: hostile, Version: "1.0.0" + hostile,
			SupportEnd: "2031-12-31" + hostile, LoggedIn: loggedIn, Error: "e" + hostile, Notice: "n" + hostile}
	}
	var ps []*page
	for _, in := range []bool{false, true} {
		p := base(in)
		ps = append(ps, &p)
	}
	p := base(true)
	p.Error, p.Notice = "", ""
	ps = append(ps, &p)
	on := base(true)
	on.Plug = plugState{On: true, Changed: when}
	on.Cloud = hostile
	on.Update = updateStatus{Available: true, Version: hostile, Security: true}
	ps = append(ps, &on)
	sc := base(true)
	sc.Summary = hostile
	for _, v := range []conformance.Verdict{conformance.Pass, conformance.Fail, conformance.Inconclusive, conformance.Declared, conformance.NotApplicable, conformance.NotRun} {
		sc.Checks = append(sc.Checks, conformance.CheckResult{ID: "x." + hostile, Title: hostile, Provisions: []string{"5.1-1", hostile},
			Method: conformance.Measured, Result: conformance.Result{Verdict: v, Observed: hostile, Detail: hostile}})
	}
	sc.Checks = append(sc.Checks, conformance.CheckResult{ID: "cfg", Title: "t", Method: conformance.Configured, Result: conformance.Result{Verdict: conformance.Pass}})
	ps = append(ps, &sc)
	for _, u := range []updateStatus{
		{Installed: "1.0.0", Committed: "1.0.0", Slot: "a", CommittedCounter: 1, AutoInstall: true},
		{Installed: "1.0.0" + hostile, Committed: "0.9" + hostile, Phase: "downloading", Pending: hostile, Progress: &updateProgress{Done: 5, Total: 10},
			Health: hostile, RolledBack: &rolledBack{Version: hostile, Reason: hostile, Automatic: true}, Checked: when, Source: hostile,
			Error: hostile, LastInstall: hostile, Available: true, Version: hostile, Security: true, Notes: hostile, Disruption: hostile,
			PostponedUntil: when, MaxPostpone: hostile, Deferred: "not safe to disrupt", Slot: hostile, CommittedCounter: 7},
		{Phase: "downloading", Pending: "2"},
		{Phase: "installed-pending-reboot", Pending: hostile, Checked: when, Available: true, Placeholder: true},
		{Phase: "trial", Pending: hostile, Attempts: 2, RolledBack: &rolledBack{Version: "x", Reason: "y"}, Checked: when},
		{Checked: when, Available: true, Version: "1.1", Deferred: "other"},
	} {
		up := base(true)
		up.Update = u
		ps = append(ps, &up)
	}
	return ps
}

func TestPagesMatchV1Templates(t *testing.T) {
	for _, p := range testPages() {
		for name, f := range pageFuncs {
			var w htmlw
			f(&w, p)
			samePage(t, name, renderOld(t, name, p), w.b.String())
		}
	}
	when := time.Date(2026, 12, 3, 10, 4, 5, 0, time.UTC)
	for _, given := range []bool{false, true} {
		base := testPages()[0]
		pp := &privacyPage{page: base, NoticeText: hostile, Receipt: 42, Privacy: privacyState{
			Notice: privacy.NoticeRef{Version: hostile, SHA256: hostile}, Service: hostile, Configured: given, Interval: hostile,
			Purposes: []consentPurpose{{ID: hostile, Description: hostile, Recipients: []string{hostile, "b"}, RetentionDays: 30,
				Fields: []string{hostile}, Given: given, State: hostile, Since: when}, {ID: "p2"}},
			Manifest: &privacy.Manifest{Fields: []privacy.ManifestField{{Name: hostile, Description: hostile, Purpose: hostile,
				ConsentRequired: given, Sent: given, RecipientName: hostile}, {Name: "n"}}},
			Sent:  []sentMessage{{At: when, Purposes: []string{hostile}, Body: hostile}},
			Stats: privacy.ExportStats{Messages: 1, Withheld: 2, Dropped: 3, Undeclared: 4}}}
		if !given {
			pp.Receipt, pp.Privacy.Sent, pp.Privacy.Manifest = 0, nil, &privacy.Manifest{}
		}
		var w htmlw
		privacySettingsPage(&w, pp)
		samePage(t, "privacy_settings.html", renderOld(t, "privacy_settings.html", pp), w.b.String())

		sp := &securityPage{page: base, Security: securityState{Enabled: given, Service: given, LogDamaged: hostile, Active: []string{hostile},
			FailuresHour: 3, Events: []secEventView{{Seq: 9, At: when, Kind: hostile, Source: hostile, Detail: hostile}}}}
		if given {
			sp.Security.Alerts = []secAlertView{{At: when, Metric: hostile, Raised: true, Reason: hostile}, {At: when, Metric: "m", Reason: "r"}}
			sp.Security.LogDamaged, sp.Security.Active = "", nil
		}
		w = htmlw{}
		securityPageHTML(&w, sp)
		samePage(t, "security.html", renderOld(t, "security.html", sp), w.b.String())

		blocks := []textBlock{{Text: hostile}, {Items: []string{hostile, "x"}}}
		rv := &resetView{page: base, Word: hostile, Instructions: blocks, Busy: hostile}
		if given {
			rv = &resetView{page: base, Done: true, Confirmation: blocks, Receipt: hostile, ReceiptID: hostile, NoService: true,
				ReceiptURL: "data:application/json;base64,eyJhIjoxfQ=="}
		} else {
			rv.Last = &resetView{Confirmation: blocks, ReceiptID: "r1", ReceiptURL: "data:application/json;base64,eyJhIjoxfQ=="}
		}
		// The v1 template took the data: URL as a template.URL.
		old := struct {
			*resetView
			ReceiptURL template.URL
			Last       any
		}{rv, template.URL(rv.ReceiptURL), nil}
		if rv.Last != nil {
			old.Last = struct {
				*resetView
				ReceiptURL template.URL
			}{rv.Last, template.URL(rv.Last.ReceiptURL)}
		}
		w = htmlw{}
		resetPageHTML(&w, rv)
		samePage(t, "reset.html", renderOld(t, "reset.html", old), w.b.String())
	}
}

// TestPagesMarkupIsConstant: htmlw.m is only ever called with a string
// constant (a literal or a concatenation of literals), so no data can
// reach the markup; data goes through htmlw.t.
func TestPagesMarkupIsConstant(t *testing.T) {
	fset := token.NewFileSet()
	files, _ := os.ReadDir(".")
	calls := 0
	for _, fi := range files {
		if !strings.HasSuffix(fi.Name(), ".go") || strings.HasSuffix(fi.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, fi.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := c.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "m" || len(c.Args) != 1 {
				return true
			}
			calls++
			if !constString(c.Args[0]) {
				t.Errorf("%s: htmlw.m called with a non-constant argument", fset.Position(c.Pos()))
			}
			return true
		})
	}
	if calls < 50 {
		t.Fatalf("found only %d htmlw.m calls: the check is not looking at the pages", calls)
	}
}

func constString(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.BinaryExpr:
		return e.Op == token.ADD && constString(e.X) && constString(e.Y)
	case *ast.ParenExpr:
		return constString(e.X)
	}
	return false
}

// FuzzPageText: whatever a data field holds, it comes out of htmlw.t as
// text — no tag, no attribute end, no entity it did not spell — and the
// browser's reading (html.UnescapeString) gives back exactly the input.
func FuzzPageText(f *testing.F) {
	for _, s := range []string{hostile, "", `"`, "'", "<", "&amp;", "\x00", "a\"b'c<d>e&f", `{"a":1}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w htmlw
		w.t(s)
		out := w.b.String()
		if strings.ContainsAny(out, `<>"'`) {
			t.Fatalf("escaped %q still holds markup characters: %q", s, out)
		}
		if got := htmlUnescape(out); got != s {
			t.Fatalf("round trip %q -> %q -> %q", s, out, got)
		}
	})
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }
