package main

import (
	"bytes"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// The plug's pages are written by Go code rather than html/template: the
// template package looks methods up by name at run time, which keeps the
// linker from dropping any unused method in the whole binary (about 2 MB
// on this plug). The rule that keeps the pages safe is simple and tested
// (pages_test.go): markup comes only from string constants (htmlw.m, which
// a test checks is never called with anything else), and every value from
// data goes through htmlw.t, which escapes it for a text node or a quoted
// attribute value alike. No page puts data into a script, a style, an
// unquoted attribute or a URL scheme.

// htmlw writes one page.
type htmlw struct{ b bytes.Buffer }

// m writes markup. Its argument must be a string constant.
func (w *htmlw) m(markup string) { w.b.WriteString(markup) }

// t writes text escaped for a text node or a double-quoted attribute
// value (& < > " ' become entities).
func (w *htmlw) t(text string) { w.b.WriteString(html.EscapeString(text)) }

// v writes a number or other value as escaped text.
func (w *htmlw) v(value any) { w.t(fmt.Sprint(value)) }

// when writes a time in the pages' format.
func (w *htmlw) when(t time.Time, layout string) { w.t(t.Format(layout)) }

const (
	minuteLayout = "2006-01-02 15:04 MST"
	secondLayout = "2006-01-02 15:04:05 MST"
)

func (w *htmlw) top(p *page) {
	w.m("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
	w.t(p.Title)
	w.m(" · ")
	w.t(p.Model)
	w.m("</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n<header><strong>")
	w.t(p.Model)
	w.m("</strong>\n")
	if p.LoggedIn {
		w.m(`<nav><a href="/">Plug</a><a href="/update">Updates</a><a href="/privacy/settings">Privacy</a><a href="/security">Security</a><a href="/selfcheck">Self-check</a><a href="/password">Password</a><a href="/reset">Reset</a>` + "\n" +
			`<form class="inline" method="post" action="/logout"><button type="submit">Log out</button></form></nav>` + "\n")
	} else {
		w.m(`<nav><a href="/about">About this device</a></nav>`)
	}
	w.m("\n</header>\n")
	if p.Error != "" {
		w.m(`<div class="msg err" role="alert">`)
		w.t(p.Error)
		w.m("</div>")
	}
	w.m("\n")
	if p.Notice != "" {
		w.m(`<div class="msg ok" role="status">`)
		w.t(p.Notice)
		w.m("</div>")
	}
	w.m("\n")
}

func (w *htmlw) bottom(p *page) {
	w.m("\n<footer><p><small>")
	w.t(p.Model)
	w.m(" · security updates until ")
	w.t(p.SupportEnd)
	w.m(` · <a href="/about">about</a> · <a href="/.well-known/security.txt">report a vulnerability</a></small></p></footer>` + "\n</body>\n</html>\n")
}

// pageFuncs are the pages d.render serves by name.
var pageFuncs = map[string]func(w *htmlw, p *page){
	"home.html":      homePage,
	"login.html":     loginPage,
	"setup.html":     setupPage,
	"password.html":  passwordPage,
	"about.html":     aboutPage,
	"selfcheck.html": selfcheckPage,
	"update.html":    updatePage,
	"error.html":     errorPage,
}

func homePage(w *htmlw, p *page) {
	w.top(p)
	w.m("<h1>Plug</h1>\n<p class=\"big\">")
	if p.Plug.On {
		w.m("On")
	} else {
		w.m("Off")
	}
	w.m("</p>\n<form method=\"post\" action=\"/plug\">\n<input type=\"hidden\" name=\"on\" value=\"")
	if p.Plug.On {
		w.m("false")
	} else {
		w.m("true")
	}
	w.m("\">\n<button type=\"submit\">Switch ")
	if p.Plug.On {
		w.m("off")
	} else {
		w.m("on")
	}
	w.m("</button>\n</form>\n<p><small>")
	if !p.Plug.Changed.IsZero() {
		w.m("Last switched ")
		w.when(p.Plug.Changed, minuteLayout)
		w.m(".")
	}
	w.m("\nCloud connection: ")
	w.t(p.Cloud)
	w.m(". The plug works without it.</small></p>\n")
	if p.Update.Available {
		w.m(`<div class="msg ok"><b>Update available: version `)
		w.t(p.Update.Version)
		w.m(".</b>\n")
		if p.Update.Security {
			w.m(" It fixes security problems.")
		}
		w.m(` <a href="/update">Details</a></div>`)
	}
	w.bottom(p)
}

func loginPage(w *htmlw, p *page) {
	w.top(p)
	w.m(`<h1>Log in</h1>
<form method="post" action="/login">
<input type="text" autocomplete="username" value="owner" hidden readonly aria-hidden="true">
<label for="pw">Password</label>
<input id="pw" name="password" type="password" autocomplete="current-password" required maxlength="256" autofocus>
<p><button type="submit">Log in</button></p>
</form>`)
	w.bottom(p)
}

func setupPage(w *htmlw, p *page) {
	w.top(p)
	w.m(`<h1>Set up your plug</h1>
<p>This plug has no password yet and does nothing until you choose one. Type the
<b>setup secret</b> printed on the label on the back of the plug, then choose the
password you will use from now on. The setup secret works only once.</p>
<p>What the plug keeps about you, and why: <a href="/privacy">privacy notice</a>.</p>
<form method="post" action="/setup">
<input type="text" autocomplete="username" value="owner" hidden readonly aria-hidden="true">
<label for="secret">Setup secret (from the label)</label>
<input id="secret" name="setup_secret" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="64">
<label for="pw">New password (at least 15 characters; a few unrelated words work well)</label>
<input id="pw" name="password" type="password" autocomplete="new-password" required minlength="15" maxlength="256">
<label for="pw2">Type the new password again</label>
<input id="pw2" name="confirm" type="password" autocomplete="new-password" required maxlength="256">
<p><button type="submit">Set up</button></p>
</form>`)
	w.bottom(p)
}

func passwordPage(w *htmlw, p *page) {
	w.top(p)
	w.m(`<h1>Change password</h1>
<form method="post" action="/password">
<input type="text" autocomplete="username" value="owner" hidden readonly aria-hidden="true">
<label for="cur">Current password</label>
<input id="cur" name="current" type="password" autocomplete="current-password" required maxlength="256">
<label for="pw">New password (at least 15 characters)</label>
<input id="pw" name="password" type="password" autocomplete="new-password" required minlength="15" maxlength="256">
<label for="pw2">Type the new password again</label>
<input id="pw2" name="confirm" type="password" autocomplete="new-password" required maxlength="256">
<p><button type="submit">Change password</button></p>
</form>`)
	w.bottom(p)
}

func aboutPage(w *htmlw, p *page) {
	w.top(p)
	w.m("<h1>About this device</h1>\n<table>\n<tr><th>Model</th><td>")
	w.t(p.Model)
	w.m("</td></tr>\n<tr><th>Manufacturer</th><td>")
	w.t(p.Manufacturer)
	w.m("</td></tr>\n<tr><th>Software version</th><td>")
	w.t(p.Version)
	w.m("</td></tr>\n<tr><th>Security updates until</th><td>")
	w.t(p.SupportEnd)
	w.m(`</td></tr>
<tr><th>Your data</th><td><a href="/privacy">Privacy notice</a> (<a href="/privacy/label.json">label</a>)</td></tr>
<tr><th>Report a vulnerability</th><td><a href="/.well-known/security.txt">security.txt</a></td></tr>
</table>
`)
	if !p.LoggedIn {
		w.m(`<p><a href="/">Log in or set up</a></p>`)
	}
	w.bottom(p)
}

func errorPage(w *htmlw, p *page) {
	w.top(p)
	w.m(`<p><a href="/">Back</a></p>`)
	w.bottom(p)
}

// plainVerdict says what a self-check result means, for the owner.
func plainVerdict(r conformance.CheckResult) string {
	switch r.Verdict {
	case conformance.Pass:
		if r.Method == conformance.Measured {
			return "OK: the plug tested this on itself"
		}
		return "Set as required: the plug read this setting (it did not test it)"
	case conformance.Fail:
		return "Problem: needs attention"
	case conformance.Inconclusive:
		return "Could not be confirmed"
	case conformance.Declared:
		return "Manufacturer's promise (the plug cannot check this itself)"
	case conformance.NotApplicable:
		return "Does not apply to this plug"
	case conformance.NotRun:
		return "Not checked"
	}
	return string(r.Verdict)
}

func selfcheckPage(w *htmlw, p *page) {
	w.top(p)
	w.m(`<h1>Self-check</h1>
<p>The plug checks its own security while it runs. Each line says what was checked, what the
plug found and what that means. Some checks test the running plug the way a test lab would
(a real TLS handshake, a hostile request through its own web server, a probe of its login
throttle); others only read a setting. Only the first kind says "tested". `)
	w.t(p.Summary)
	w.m("</p>\n<table>\n<tr><th>What was checked</th><th>Result</th></tr>\n")
	for _, c := range p.Checks {
		w.m("<tr><td>")
		w.t(c.Title)
		w.m("<br><small>")
		w.t(c.ID)
		w.m(" · provisions ")
		w.t(strings.Join(c.Provisions, ", "))
		w.m("</small></td>\n<td><span class=\"")
		w.t(string(c.Verdict))
		w.m("\">")
		w.t(plainVerdict(c))
		w.m("</span>")
		if c.Observed != "" {
			w.m("<br><small>found: ")
			w.t(c.Observed)
			w.m("</small>")
		}
		if c.Detail != "" {
			w.m("<br><small>")
			w.t(c.Detail)
			w.m("</small>")
		}
		w.m("</td></tr>\n")
	}
	w.m(`</table>
<p><small>The machine-readable version is at <a href="/api/selfcheck">/api/selfcheck</a>; the conformance statement (ICS) joined with these results at <a href="/ics">/ics</a> (JSON: <a href="/api/ics">/api/ics</a>).</small></p>`)
	w.bottom(p)
}

func updatePage(w *htmlw, p *page) {
	w.top(p)
	w.m("<h1>Software updates</h1>\n")
	u := &p.Update
	w.m("\n<p>Running version: <b>")
	w.t(u.Installed)
	w.m("</b>")
	if u.Committed != u.Installed {
		w.m(" (the plug starts version <b>")
		w.t(u.Committed)
		w.m("</b> after a power cut)")
	}
	w.m(". Security updates are provided until <b>")
	w.t(p.SupportEnd)
	w.m("</b>.</p>\n")
	switch u.Phase {
	case "downloading":
		w.m(`<div class="msg ok" role="status"><b>Downloading version `)
		w.t(u.Pending)
		w.m("</b>")
		if u.Progress != nil {
			w.m(": ")
			w.v(u.Progress.Done)
			w.m(" of ")
			w.v(u.Progress.Total)
			w.m(" bytes, each piece checked against its signature before it is stored")
		}
		w.m(". The plug keeps working meanwhile.</div>\n")
	case "installed-pending-reboot":
		w.m(`<div class="msg ok" role="status"><b>Version `)
		w.t(u.Pending)
		w.m(" is installed</b> and starts when the plug restarts (in a moment).</div>\n")
	case "trial":
		w.m(`<div class="msg ok" role="status"><b>Version `)
		w.t(u.Pending)
		w.m(" is on trial</b> (start ")
		w.v(u.Attempts)
		w.m("): it checks itself and keeps itself only if everything works.</div>\n")
	}
	w.m("\n")
	if u.Health != "" {
		w.m("<p>Health check of this version: ")
		w.t(u.Health)
		w.m("</p>")
	}
	w.m("\n")
	if rb := u.RolledBack; rb != nil {
		w.m(`<div class="msg err">Version `)
		w.t(rb.Version)
		w.m(" was <b>rolled back</b>")
		if rb.Automatic {
			w.m(" automatically")
		}
		w.m(": ")
		w.t(rb.Reason)
		w.m(". The plug went back to the version before and will not install ")
		w.t(rb.Version)
		w.m(" again.</div>")
	}
	w.m("\n")
	if u.Checked.IsZero() {
		w.m("<p>The plug has not checked for updates yet.</p>\n")
	} else {
		w.m("<p>Last checked ")
		w.when(u.Checked, minuteLayout)
		w.m(" at ")
		w.t(u.Source)
		w.m(".</p>")
	}
	w.m("\n")
	if u.Error != "" {
		w.m(`<div class="msg err">The last check failed: `)
		w.t(u.Error)
		w.m(". The plug keeps working and tries again later.</div>")
	}
	w.m("\n")
	if u.LastInstall != "" {
		w.m(`<div class="msg err">The last installation attempt failed: `)
		w.t(u.LastInstall)
		w.m(". Nothing changed; the plug tries again later.</div>")
	}
	w.m("\n")
	switch {
	case u.Available:
		w.m("\n<div class=\"msg ok\"><p><b>Update available: version ")
		w.t(u.Version)
		w.m("</b>")
		if u.Security {
			w.m(" — a security update")
		}
		w.m(".</p>\n")
		if u.Notes != "" {
			w.m("<p>What it fixes: ")
			w.t(u.Notes)
			w.m("</p>")
		}
		w.m("\n")
		if u.Disruption != "" {
			w.m("<p>While it installs: ")
			w.t(u.Disruption)
			w.m(".</p>")
		} else {
			w.m("<p>Installing it does not interrupt the plug.</p>")
		}
		w.m("\n<p><small>The release was verified (signatures, length and hashes) before it is shown here.</small></p>\n")
		if u.Placeholder {
			w.m(`<p><small>This release comes from the plug's own demo repository: it shows how an update is announced, but it is not a firmware image and is not installed. To see the plug install an update, publish one with <code>baseline release add</code> and start the plug with --update-repo and --update-root.</small></p>` + "\n")
		} else {
			w.m("\n")
			if !u.PostponedUntil.IsZero() {
				w.m("<p>Postponed until ")
				w.when(u.PostponedUntil, minuteLayout)
				if u.Security {
					w.m(" (a security update can be postponed for at most ")
					w.t(u.MaxPostpone)
					w.m(")")
				}
				w.m(".</p>\n" + `<form method="post" action="/update/resume"><button type="submit">Install at the next opportunity</button></form>`)
			}
			w.m("\n")
			if u.Deferred == "not safe to disrupt" {
				w.m("<p>The plug waits with the installation until you have not switched it for a few minutes.</p>")
			}
			w.m("\n" + `<form method="post" action="/update/install"><button type="submit">Install now</button></form>` + "\n" +
				`<form method="post" action="/update/postpone"><label>Postpone by <input name="hours" type="number" min="1" max="2160" value="24" required> hours</label> <button type="submit">Postpone</button></form>` + "\n")
		}
		w.m("</div>\n")
	case !u.Checked.IsZero():
		w.m("<p>The plug is up to date.</p>")
	}
	w.m("\n" + `<form method="post" action="/update"><button type="submit">Check now</button></form>` + "\n<h2>Automatic updates</h2>\n")
	if u.AutoInstall {
		w.m(`<p>Updates are <b>installed automatically</b> (the plug waits while you are using it).</p>` + "\n" +
			`<form method="post" action="/update/auto"><input type="hidden" name="on" value="false"><button type="submit">Turn automatic installation off</button></form>` + "\n")
	} else {
		w.m(`<p>Automatic installation is <b>off</b>: the plug tells you about updates, and you install them here.</p>` + "\n" +
			`<form method="post" action="/update/auto"><input type="hidden" name="on" value="true"><button type="submit">Turn automatic installation on</button></form>`)
	}
	w.m("\n<p><small>Committed: version ")
	w.t(u.Committed)
	w.m(" (release ")
	w.v(u.CommittedCounter)
	w.m(") in slot ")
	w.t(u.Slot)
	w.m(".</small></p>\n")
	w.bottom(p)
}

func privacySettingsPage(w *htmlw, p *privacyPage) {
	w.top(p.page)
	pr := &p.Privacy
	w.m(`<h1>Privacy</h1>
<p>The plug asks for your consent before it sends anything that needs it. You can give or withdraw it here at any time;
each decision is signed by the plug and kept on it (<a href="/privacy">privacy notice</a>, version `)
	w.t(pr.Notice.Version)
	w.m(").</p>\n<p><small>Associated service: ")
	w.t(pr.Service)
	w.m(".</small></p>\n")
	if p.Receipt != 0 {
		w.m(`<p><small>Receipt of this decision: <a href="/privacy/receipt/`)
		w.v(p.Receipt)
		w.m(`">/privacy/receipt/`)
		w.v(p.Receipt)
		w.m(`</a> (signed; check it with the plug's public key).</small></p>`)
	}
	w.m("\n\n<h2>Consent</h2>\n")
	for _, c := range pr.Purposes {
		w.m("\n<section>\n<h3>")
		w.t(c.ID)
		w.m(": ")
		if c.Given {
			w.m("consent given")
		} else {
			w.m("no consent")
		}
		w.m("</h3>\n<p>")
		w.t(c.Description)
		w.m("</p>\n<p><small>Sent to: ")
		if len(c.Recipients) > 0 {
			w.t(strings.Join(c.Recipients, ", "))
		} else {
			w.m("no one")
		}
		w.m(" · kept there for ")
		w.v(c.RetentionDays)
		w.m(" days · fields: ")
		w.t(strings.Join(c.Fields, ", "))
		w.m(" ·\nstate: ")
		w.t(c.State)
		if !c.Since.IsZero() {
			w.m(" (")
			w.when(c.Since, minuteLayout)
			w.m(")")
		}
		w.m("</small></p>\n<form method=\"post\" action=\"/privacy/consent\">\n<input type=\"hidden\" name=\"purpose\" value=\"")
		w.t(c.ID)
		w.m("\">\n<input type=\"hidden\" name=\"notice\" value=\"")
		w.t(pr.Notice.SHA256)
		w.m("\">\n")
		if c.Given {
			w.m(`<input type="hidden" name="decision" value="withdraw"><button type="submit">Withdraw consent</button>` + "\n")
		} else {
			w.m(`<input type="hidden" name="decision" value="give"><button type="submit">I have read the notice below and consent</button>`)
		}
		w.m("\n</form>\n</section>\n")
	}
	w.m("\n\n<h2>Telemetry: what is sent, and when</h2>\n<p>")
	if pr.Configured {
		w.m("At the end of every period (")
		w.t(pr.Interval)
		w.m(") the plug sends one message with the fields below whose purpose you consented to, and nothing else.\nMessages wait on the plug while the service is unreachable, for at most one period.")
	} else {
		w.m("This plug has no associated service configured: it sends no telemetry at all, whatever you decide here.")
	}
	w.m("</p>\n<table>\n<tr><th>Field</th><th>What it is</th><th>Purpose</th><th>Consent needed</th><th>How it is minimised</th><th>Sent to</th></tr>\n")
	if pr.Manifest != nil {
		for _, f := range pr.Manifest.Fields {
			w.m("<tr><td>")
			w.t(f.Name)
			w.m("</td><td>")
			w.t(f.Description)
			w.m("</td><td>")
			w.t(f.Purpose)
			w.m("</td><td>")
			if f.ConsentRequired {
				w.m("yes")
			} else {
				w.m("no")
			}
			w.m("</td><td>")
			w.v(f.Minimisation)
			w.m("</td><td>")
			if f.Sent {
				w.t(f.RecipientName)
			} else {
				w.m("never sent")
			}
			w.m("</td></tr>\n")
		}
	}
	w.m("</table>\n\n<h2>Recently sent</h2>\n")
	if len(pr.Sent) > 0 {
		w.m("<table><tr><th>Queued</th><th>Purposes</th><th>Content</th></tr>\n")
		for _, s := range pr.Sent {
			w.m("<tr><td>")
			w.when(s.At, secondLayout)
			w.m("</td><td>")
			w.t(strings.Join(s.Purposes, ", "))
			w.m("</td><td><code>")
			w.t(s.Body)
			w.m("</code></td></tr>\n")
		}
		w.m("</table>\n")
	} else {
		w.m("<p>Nothing yet.</p>")
	}
	w.m("\n<p><small>")
	w.v(pr.Stats.Messages)
	w.m(" messages queued for the service; ")
	w.v(pr.Stats.Withheld)
	w.m(" fields withheld for lack of consent, ")
	w.v(pr.Stats.Dropped)
	w.m(" never sent by rule, ")
	w.v(pr.Stats.Undeclared)
	w.m(" undeclared.</small></p>\n\n<h2>The notice you decide on</h2>\n<pre class=\"notice\">")
	w.t(p.NoticeText)
	w.m("</pre>")
	w.bottom(p.page)
}

func securityPageHTML(w *htmlw, p *securityPage) {
	w.top(p.page)
	s := &p.Security
	w.m(`<h1>Security</h1>
<p>The plug records security events (logins that failed or were refused, with the address they came from, never the password;
logins; setup and password changes; updates installed or rolled back; a damaged firmware image) in a log on its own flash,
hash-chained so that an edited or removed entry is found when the plug starts. A detector learns how many failed logins per hour are
usual here and raises an alert on a burst.
`)
	if s.Service {
		w.m("Alerts are also sent to the associated service.")
	} else {
		w.m("The plug has no associated service: alerts are shown only here.")
	}
	w.m("</p>\n")
	if s.LogDamaged != "" {
		w.m(`<div class="msg err" role="alert">The security log was found damaged when the plug started: `)
		w.t(s.LogDamaged)
		w.m(". A new log was started.</div>")
	}
	w.m("\n\n<h2>Alerts</h2>\n")
	if len(s.Active) > 0 {
		w.m(`<p class="msg err">Active now: `)
		w.t(strings.Join(s.Active, ", "))
		w.m("</p>")
	}
	w.m("\n")
	if len(s.Alerts) > 0 {
		w.m("<ul>")
		for _, a := range s.Alerts {
			w.m("<li>")
			w.when(a.At, secondLayout)
			w.m(" · ")
			w.t(a.Metric)
			w.m(" · ")
			if a.Raised {
				w.m("raised")
			} else {
				w.m("cleared")
			}
			w.m(" · ")
			w.t(a.Reason)
			w.m("</li>")
		}
		w.m("</ul>\n")
	} else {
		w.m("<p>No alerts. Failed logins in the last hour: ")
		w.v(s.FailuresHour)
		w.m(".</p>")
	}
	w.m("\n\n<h2>Recent events</h2>\n<table>\n<tr><th>#</th><th>Time</th><th>Event</th><th>From</th><th>Detail</th></tr>\n")
	for _, e := range s.Events {
		w.m("<tr><td>")
		w.v(e.Seq)
		w.m("</td><td>")
		w.when(e.At, secondLayout)
		w.m("</td><td>")
		w.t(e.Kind)
		w.m("</td><td>")
		w.t(e.Source)
		w.m("</td><td>")
		w.t(e.Detail)
		w.m("</td></tr>\n")
	}
	w.m("</table>\n\n<h2>Recording</h2>\n<p>The log is ")
	if s.Enabled {
		w.m("<strong>on</strong>")
	} else {
		w.m("<strong>off</strong>")
	}
	w.m(`.
Switching it off means: the plug records no security events from then on (the switch itself is the last entry), the failed-login
detector sees no failures and can raise no alert, and you lose the record of who tried to log in. Entries already kept stay until they age out
(90 days) or you reset the plug. Switch it off only where you are allowed to.</p>
<form method="post" action="/security/logging">
`)
	if s.Enabled {
		w.m(`<input type="hidden" name="logging" value="off"><button type="submit">Switch the security log off</button>` + "\n")
	} else {
		w.m(`<input type="hidden" name="logging" value="on"><button type="submit">Switch the security log on</button>`)
	}
	w.m("\n</form>")
	w.bottom(p.page)
}

func (w *htmlw) blocks(bs []textBlock) {
	for _, b := range bs {
		if len(b.Items) > 0 {
			w.m("<ul>")
			for _, it := range b.Items {
				w.m("<li>")
				w.t(it)
				w.m("</li>")
			}
			w.m("</ul>")
		} else {
			w.m("<p>")
			w.t(b.Text)
			w.m("</p>")
		}
	}
}

func resetPageHTML(w *htmlw, v *resetView) {
	w.top(v.page)
	w.m("<h1>Factory reset</h1>\n")
	if v.Done {
		w.m("\n" + `<div class="msg ok" role="status"><p><b>The plug was reset to factory settings.</b> It restarts now and then waits to be set up again with the setup secret from its label.</p></div>` + "\n<h2>Receipt</h2>\n<div id=\"confirmation\">")
		w.blocks(v.Confirmation)
		w.m("</div>\n")
		if v.NoService {
			w.m(`<p id="service">No associated service is configured on this plug: it sent your data to no online service, so there is nothing to delete elsewhere.</p>`)
		}
		w.m("\n<p>The receipt is signed by the plug's identity key, the key of its HTTPS certificate. Keep it: it lists what was erased and how, and contains none of your data.</p>\n" + `<p><a id="receipt-download" href="`)
		w.t(v.ReceiptURL)
		w.m(`" download="reset-receipt-`)
		w.t(v.ReceiptID)
		w.m(`.json">Download the signed receipt (JSON)</a></p>` + "\n" + `<label for="receipt">Signed receipt</label>` + "\n" + `<textarea id="receipt" rows="8" cols="70" readonly>`)
		w.t(v.Receipt)
		w.m("</textarea>\n" + `<p><a href="/">Set up the plug again</a> (in a few seconds, once it has restarted).</p>` + "\n")
	} else {
		w.m("\n<div id=\"instructions\">")
		w.blocks(v.Instructions)
		w.m("</div>\n")
		if v.Busy != "" {
			w.m(`<div class="msg err" role="alert">The plug cannot reset now: `)
			w.t(v.Busy)
			w.m(".</div>")
		}
		w.m("\n<form method=\"post\" action=\"/reset\">\n<label for=\"confirm\">To reset, type ")
		w.t(v.Word)
		w.m(`</label>
<input id="confirm" name="confirm" type="text" autocomplete="off" required maxlength="64">
<p><button type="submit">Reset the plug</button></p>
</form>
`)
		if l := v.Last; l != nil {
			w.m("\n<h2>The last factory reset</h2>\n<div id=\"last-reset\">")
			w.blocks(l.Confirmation)
			w.m("</div>\n" + `<p><a id="last-receipt-download" href="`)
			w.t(l.ReceiptURL)
			w.m(`" download="reset-receipt-`)
			w.t(l.ReceiptID)
			w.m(`.json">Download its signed receipt (JSON)</a></p>` + "\n")
		}
		w.m("\n")
	}
	w.bottom(v.page)
}
