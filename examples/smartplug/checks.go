package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/iface"
)

// checkers lists every self-check source of the running device: each SDK
// package reports on itself from the live configuration, and the device
// adds what only it can observe.
func (d *device) checkers() []conformance.Checker {
	cs := []conformance.Checker{d.store, d.owner, d.updates, d.cloud, conformance.CheckerFunc(d.deviceChecks), conformance.CheckerFunc(d.privacyChecks), conformance.CheckerFunc(d.securityChecks)}
	if d.web.gateChecker != nil {
		cs = append(cs, d.web.gateChecker)
	}
	if d.web.srv != nil {
		cs = append(cs, &iface.SelfCheck{
			ServerTLS: d.web.tlsConfig,
			Server:    d.web.srv,
			Inventory: d.inventory(),
			// On a laptop other programs listen too; the device answers
			// for its own sockets. A dedicated device audits them all.
			Audit: iface.AuditOptions{ProcessOnly: true},
			JSON:  iface.JSONLimits{MaxBytes: maxJSONBody, MaxDepth: jsonDepth},
			// The login API decodes its JSON body before anything else
			// (no session needed, nothing hashed for a refused body), so
			// hostile input must be refused as bad input by the plug's own
			// chain. The setup API is closed once the plug is set up, so it
			// would refuse for that reason instead.
			InputProbes: []iface.InputProbe{{Path: "/api/login"}},
		})
	}
	return cs
}

// deviceChecks are the smart plug's own observations.
func (d *device) deviceChecks() []conformance.Check {
	return []conformance.Check{
		{ID: "smartplug.state-private", Provisions: []string{"5.4-1"},
			Title: "The plug's stored data can be read only by the plug's own software",
			Run:   d.checkStatePrivate},
		{ID: "smartplug.served-identity", Method: conformance.Measured, Provisions: []string{"5.3-16", "5.2-1"},
			Title: "Without logging in, the plug's own server shows its model designation and a current security.txt with the disclosure contact",
			Run:   d.checkServedIdentity},
		{ID: "smartplug.password-change", Method: conformance.Measured, Provisions: []string{"5.1-4"},
			Title: "The owner can change the password from the web UI and the API, and only the owner can",
			Run:   d.checkPasswordChange},
		{ID: "smartplug.local-first", Provisions: []string{"5.9-2"},
			Title: "The switch state is kept on the plug itself and survives power cuts and cloud outages",
			Run:   d.checkLocalFirst},
	}
}

// checkStatePrivate walks the state directory: no file or directory may
// be accessible to group or others.
func (d *device) checkStatePrivate(ctx context.Context) conformance.Result {
	var open []string
	n := 0
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		n++
		rel, _ := filepath.Rel(d.dir, p)
		// The demo repository and the certificate are public by nature.
		if strings.HasPrefix(rel, "demo-repo") || rel == "tls-cert.pem" {
			return nil
		}
		if info.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s (%v)", rel, info.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "cannot inspect the state directory: " + err.Error()}
	}
	if len(open) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: strings.Join(open, ", "), Detail: "these are readable or writable by other users of the system"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("%d entries under %s, none open to group or others", n, d.dir)}
}

// checkLocalFirst compares the switch state on flash with the live one.
func (d *device) checkLocalFirst(ctx context.Context) conformance.Result {
	live := d.plug.State()
	b, err := durable.ReadFile(durable.OS, d.plug.path, maxPlugState)
	if os.IsNotExist(err) && !live.On && live.Changed.IsZero() {
		return conformance.Result{Verdict: conformance.Pass, Observed: "never switched; starts off after a power cut", Detail: ""}
	}
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "switch state not readable from flash: " + err.Error()}
	}
	var st plugState
	if err := json.Unmarshal(b, &st); err != nil || st.On != live.On || !st.Changed.Equal(live.Changed) {
		return conformance.Result{Verdict: conformance.Fail, Observed: string(bytes.TrimSpace(b)), Detail: "the state on flash differs from the live state"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("on=%v stored on flash; cloud link: %s", live.On, d.cloud.describe())}
}

// probe sends one request through the plug's own server handler (its
// hardening, auth gate and routes), as an unauthenticated client on
// loopback would, and returns the response.
func (d *device) probe(ctx context.Context, method, target string, body string) (*httptest.ResponseRecorder, error) {
	if d.web.srv == nil {
		return nil, fmt.Errorf("the web server is not running")
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://device.invalid"+target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	d.web.srv.Handler().ServeHTTP(rec, req)
	return rec, nil
}

// checkServedIdentity fetches /about and /.well-known/security.txt through
// the plug's own server, without a session, and compares them with the
// profile the firmware carries (5.3-16 model designation, 5.2-1 disclosure
// contact).
func (d *device) checkServedIdentity(ctx context.Context) conformance.Result {
	about, err := d.probe(ctx, http.MethodGet, "/about", "")
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: err.Error()}
	}
	if about.Code != http.StatusOK || !strings.Contains(html.UnescapeString(about.Body.String()), d.model) {
		return conformance.Result{Verdict: conformance.Fail, Observed: fmt.Sprintf("GET /about: %d", about.Code),
			Detail: "the about page, unauthenticated, does not show the model designation " + d.model}
	}
	txt, err := d.probe(ctx, http.MethodGet, "/.well-known/security.txt", "")
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: err.Error()}
	}
	contact := d.profile.VulnerabilityDisclosure.Contact
	body := txt.Body.String()
	if txt.Code != http.StatusOK || contact == "" || !strings.Contains(body, "Contact: "+contact) {
		return conformance.Result{Verdict: conformance.Fail, Observed: fmt.Sprintf("GET /.well-known/security.txt: %d", txt.Code),
			Detail: "security.txt is not served without login or does not carry the disclosure contact"}
	}
	var expires time.Time
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Expires: "); ok {
			expires, _ = time.Parse(time.RFC3339, v)
		}
	}
	if !expires.After(time.Now()) {
		return conformance.Result{Verdict: conformance.Fail, Observed: "security.txt served", Detail: "its Expires field is missing or past"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf(
		"GET /about (no login) shows %q; GET /.well-known/security.txt (no login) has Contact %s, expires %s",
		d.model, contact, expires.Format(time.DateOnly))}
}

// checkPasswordChange looks for the password-change routes in the plug's
// own server: they must exist and must refuse a client without the
// owner's session. (That the owner's change then works is covered by the
// device's tests; the check does not change the password.)
func (d *device) checkPasswordChange(ctx context.Context) conformance.Result {
	var seen []string
	for _, p := range []struct{ method, target, body string }{
		{http.MethodGet, "/password", ""},
		{http.MethodPost, "/api/password", `{"current":"x","new":"y"}`},
	} {
		rec, err := d.probe(ctx, p.method, p.target, p.body)
		if err != nil {
			return conformance.Result{Verdict: conformance.Fail, Detail: err.Error()}
		}
		switch rec.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return conformance.Result{Verdict: conformance.Fail, Detail: fmt.Sprintf("%s %s: %d: the password cannot be changed there", p.method, p.target, rec.Code)}
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusSeeOther, http.StatusFound:
			seen = append(seen, fmt.Sprintf("%s %s without a session: %d", p.method, p.target, rec.Code))
		default:
			return conformance.Result{Verdict: conformance.Fail, Detail: fmt.Sprintf("%s %s without a session answered %d: the route is not guarded", p.method, p.target, rec.Code)}
		}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: "routes present; " + strings.Join(seen, "; ")}
}
