package privacy

import (
	"bytes"
	"html/template"
	"testing"

	"github.com/iotbaseline/baseline/internal/htmlw/htmlwtest"
)

// The notice page was an html/template template until the package dropped
// html/template (it keeps the linker from removing unused methods in a
// firmware that links it). The v1 template is kept here; the test renders
// both from the same view, hostile strings included, and wants the same
// document.

var v1NoticeHTML = template.Must(template.New("notice").Parse(`<!DOCTYPE html>
<html lang="{{.Language}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Privacy notice: {{.Product}}</title>
<style>body{font-family:sans-serif;max-width:46em;margin:1em auto;padding:0 1em;line-height:1.45}dt{font-weight:bold;margin-top:.6em}small{color:#555}</style>
</head><body>
<h1>Privacy notice: {{.Product}}</h1>
<p>Responsible: {{.Controller.Name}}. Contact: {{.Controller.Contact}}. <a href="{{.Controller.PolicyURL}}">Full policy</a>.</p>
<h2>What this device senses</h2>
{{- if not .Sensors}}<p>It has no sensors that observe its surroundings.</p>{{end}}
<dl>{{range .Sensors}}
<dt>{{.Kind}}</dt><dd>{{.Description}}<br>How you can tell it is on: {{.Indicator}}. You can switch it off: {{.Disable}}.{{if .Data}}<br>Personal data it produces: {{range $i, $d := .Data}}{{if $i}}; {{end}}{{$d}}{{end}}.{{end}}</dd>{{end}}
</dl>
<h2>Personal data</h2>
{{- if not .Categories}}<p>The device and its services process no personal data.</p>{{end}}
<dl>{{range .Categories}}
<dt>{{.Name}}</dt><dd>{{.Description}}<br>{{range $i, $f := .Facts}}{{if $i}}; {{end}}{{$f}}{{end}}.</dd>{{end}}
</dl>
<h2>Why it is used, who receives it, how long it is kept</h2>
<dl>{{range .Purposes}}
<dt>{{.Description}}</dt><dd>Purpose ID: {{.ID}}. Data: {{range $i, $d := .Data}}{{if $i}}; {{end}}{{$d}}{{end}}.<br>
{{if .Consent}}Based on: your consent. You can refuse it, and withdraw it at any time; withdrawing stops it at once.{{else}}Based on: {{.Basis}}.{{end}}<br>
Received by: {{if .Recipients}}{{range $i, $r := .Recipients}}{{if $i}}; {{end}}{{$r}}{{end}}{{else}}no one; it stays on the device{{end}}.<br>
Kept: {{.Retention}}.</dd>{{end}}
</dl>
<h2>Third parties</h2>
<ul>{{if not .ThirdParties}}<li>None: no personal data is given to third parties.</li>{{end}}{{range .ThirdParties}}<li>{{.}}</li>{{end}}</ul>
<p><small>Notice {{.ID}}, version {{.Version}}, language {{.Language}}. SHA-256 of the text form: {{.Digest}}</small></p>
</body></html>
`))

func TestNoticeHTMLMatchesV1(t *testing.T) {
	const h = `<script>alert(1)</script> "><img src=x onerror=alert(1)> ' & &amp; é`
	full := nView{ID: h, Version: h, Language: `en"><x`, Product: h, Digest: h,
		Controller:   Controller{Name: h, Contact: h, PolicyURL: "https://example.com/p a\"t<h>'"},
		Sensors:      []nSensor{{Kind: h, Description: h, Indicator: h, Disable: h, Data: []string{h, "b"}}, {Kind: "k"}},
		Categories:   []nCategory{{Name: h, Description: h, Facts: []string{h, "f"}}, {Name: "c"}},
		Purposes:     []nPurpose{{ID: h, Description: h, Basis: h, Retention: h, Consent: true, Data: []string{h, "d"}, Recipients: []string{h, "r"}}, {ID: "p"}},
		ThirdParties: []string{h, "t"}}
	for _, v := range []nView{full, {}, {Controller: Controller{PolicyURL: "javascript:alert(1)"}}, {Controller: Controller{PolicyURL: "data:text/html,x"}}} {
		var old bytes.Buffer
		if err := v1NoticeHTML.Execute(&old, v); err != nil {
			t.Fatal(err)
		}
		htmlwtest.SameDocument(t, "notice", old.String(), renderHTML(v))
	}
}

// TestNoticeMarkupIsConstant: htmlw's M is only called with constants here.
func TestNoticeMarkupIsConstant(t *testing.T) {
	htmlwtest.ConstantMarkup(t, ".", 20)
}
