package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/privacy"
	"github.com/iotbaseline/baseline/resilience"
)

// stateDeclarations maps every top-level entry of the state directory to
// the inventory category of the personal data it holds, or to "" with the
// reason it holds none. TestDevicePrivacy fails on an entry missing here:
// a new state file must be declared in privacy-inventory.json (or argued
// non-personal here) before it ships.
var stateDeclarations = map[string]struct{ category, reason string }{
	"secrets":       {category: "owner-credential"}, // the owner's password verifier (and keys, which are not personal)
	"auth":          {category: "sign-in-attempts"}, // auth/throttle.log
	"plug.json":     {category: "switch-state"},
	"outbox":        {category: "switch-state"}, // switch reports for the associated service
	"identity.json": {reason: "serial number, device ID and model of the plug: identify the device, are sent nowhere and say nothing about its user"},
	"tls-cert.pem":  {reason: "the plug's public certificate: its own key and host names"},
	"update":        {reason: "TUF metadata of the update repository, and the update policy (automatic installation on or off, a postponed release)"},
	"slots":         {reason: "the plug's firmware images (A/B slots) and the installer's journal"},
	"demo-repo":     {reason: "the demo update repository the plug serves itself"},
	"kek.seed":      {reason: "the soft key-encryption key of the sealed store (default build)"},
	"lock":          {reason: "an empty lock file that keeps a second instance away"},
	"privacy":       {category: "consent-decisions"}, // privacy/consent.log, the consent ledger
	"security":      {category: "sign-in-attempts"},  // security/log, the security event log
	"mqtt":          {reason: "the highest sequence number of a signed command the plug accepted (replay protection)"},
}

// notInState are the inventory categories no state file holds, and why.
var notInState = map[string]string{
	"log-addresses": "written to standard error only",
	"usage-pattern": "counted in memory for the current telemetry period; on flash (outbox/) only while a consented message waits for the service",
	"device-health": "computed from the start time in memory; on flash (outbox/) only while a consented message waits for the service",
}

func embeddedInventory(t *testing.T) *privacy.Inventory {
	t.Helper()
	inv, err := privacy.DecodeInventory(bytes.NewReader(privacyInventoryJSON))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestPrivacyInventoryMatchesProfile: the controller is the profile's
// manufacturer with its disclosure contact, the product its model, there
// are no sensors (5.8-3 is N/A), the only recipient is the maker's own
// service, the purposes resting on consent are exactly those the telemetry
// schema serves (and the profile says telemetry and consent processing
// take place), and a category is stored in the cloud exactly when a
// purpose sends it there.
func TestPrivacyInventoryMatchesProfile(t *testing.T) {
	d := &device{}
	if err := d.loadProfile(); err != nil {
		t.Fatal(err)
	}
	if err := d.loadPrivacy(); err != nil {
		t.Fatal(err)
	}
	inv := d.notice.Inventory()
	if inv.Controller.Name != d.profile.Manufacturer || inv.Controller.Contact != d.profile.VulnerabilityDisclosure.Contact ||
		!strings.HasPrefix(inv.Controller.PolicyURL, "https://") || inv.Controller.PolicyURL == d.profile.VulnerabilityDisclosure.PolicyURL || inv.Product != d.profile.Model {
		t.Errorf("inventory controller/product %+v %q differ from the profile", inv.Controller, inv.Product)
	}
	if len(inv.Sensors) != 0 {
		t.Errorf("sensors %v: the plug senses nothing", inv.Sensors)
	}
	for _, r := range inv.Recipients {
		if r.Role != privacy.RoleController || r.Sold {
			t.Errorf("recipient %+v: the plug sends only to its maker's own service, and sells nothing", r)
		}
	}
	schema, err := privacy.DecodeSchema(bytes.NewReader(telemetrySchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inv); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range schema.Fields {
		served[f.Purpose] = true
	}
	cloud := map[string]bool{}
	for _, p := range inv.Purposes {
		if (p.LegalBasis == privacy.BasisConsent) != served[p.ID] {
			t.Errorf("purpose %s: basis %s; only the telemetry purposes rest on consent, and they all do", p.ID, p.LegalBasis)
		}
		if len(p.Recipients) > 0 {
			for _, c := range p.Categories {
				cloud[c] = true
			}
		}
	}
	for _, c := range inv.Categories {
		if slices.Contains(c.Storage, "cloud") != cloud[c.ID] || !slices.Contains(c.Storage, "device") {
			t.Errorf("category %s stored in %v; sent to the service: %v", c.ID, c.Storage, cloud[c.ID])
		}
	}
	// Conditions 6 (telemetry) and 7 (consent-based processing).
	if tel, _ := d.profile.Holds(6); !tel {
		t.Error("the profile says the plug collects no telemetry")
	}
	if cons, _ := d.profile.Holds(7); !cons {
		t.Error("the profile says the plug processes nothing on the basis of consent")
	}
	// A profile or inventory that names a different maker must not start.
	d.manufacturer = "Someone Else Ltd"
	if err := d.loadPrivacy(); err == nil {
		t.Error("an inventory whose controller is not the profile's manufacturer was accepted")
	}
}

// TestDevicePrivacy runs the plug: the notice and label are served without
// login and say what the inventory declares, the self-check shows
// privacy.notice measured PASS, and every entry of the state directory after
// setup, a failed and a good login and a switch is declared.
func TestDevicePrivacy(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	p := startPlug(t, state)
	anon := p.client(t)
	inv := embeddedInventory(t)

	// Before setup and without login: the notice, both forms.
	r := do(t, anon, "GET", p.url("/privacy"), "", "")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /privacy without login = %d %s", r.code, r.hdr.Get("Content-Type"))
	}
	page := html.UnescapeString(r.body)
	txt := do(t, anon, "GET", p.url("/privacy?format=text"), "", "")
	if txt.code != 200 || !strings.HasPrefix(txt.hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /privacy?format=text = %d %s", txt.code, txt.hdr.Get("Content-Type"))
	}
	for _, c := range inv.Categories {
		if !strings.Contains(page, c.Name) || !strings.Contains(txt.body, c.Name) {
			t.Errorf("the notice does not name category %q", c.Name)
		}
	}
	for _, want := range []string{inv.Controller.Name, "a plug without one sends nothing anywhere", "a factory reset (on the plug's Reset page) deletes it", "Only with your consent"} {
		if !strings.Contains(txt.body, want) {
			t.Errorf("the notice does not say %q", want)
		}
	}

	// The label: valid against the published schema, decoded strictly, and
	// bound to the notice just served.
	lr := do(t, anon, "GET", p.url("/privacy/label.json"), "", "")
	if lr.code != 200 || lr.hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /privacy/label.json without login = %d %s", lr.code, lr.hdr.Get("Content-Type"))
	}
	label, err := privacy.DecodeLabel(strings.NewReader(lr.body))
	if err != nil {
		t.Fatalf("label does not validate against privacy.LabelJSONSchema: %v", err)
	}
	dp := label.DataPractices
	if label.Notice.ID != inv.NoticeID || label.Notice.Version != inv.Version || !strings.Contains(txt.hdr.Get("ETag"), label.Notice.SHA256) ||
		dp.SharedWithThirdParties || dp.Sold || dp.Tracking || !slices.Contains(dp.StoredInCloud, "usage-pattern") || len(dp.SensorDataCollection) != 0 ||
		label.Device == nil || label.Device.Model != "SP-100 Smart Plug" {
		t.Errorf("label does not say what the inventory and profile declare: %s", lr.body)
	}

	// Linked from the setup page (the front page before setup) and the
	// about page.
	for _, path := range []string{"/", "/about"} {
		if r := do(t, anon, "GET", p.url(path), "", ""); r.code != 200 || !strings.Contains(r.body, `href="/privacy"`) {
			t.Errorf("GET %s = %d without a link to /privacy", path, r.code)
		}
	}

	// Setup, a failed login, a good one, a switch.
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, anon, "POST", p.url("/api/login"), map[string]string{"password": "not the owner's password at all"}); r.code != 401 {
		t.Fatalf("wrong login = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, anon, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("login = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true}); r.code != 200 {
		t.Fatalf("switch = %d %s", r.code, r.body)
	}
	// Still public after setup.
	if r := do(t, anon, "GET", p.url("/privacy"), "", ""); r.code != 200 {
		t.Errorf("GET /privacy without login after setup = %d", r.code)
	}

	// The self-check: privacy.notice measured PASS.
	r = do(t, c, "GET", p.url("/api/selfcheck"), "", "")
	var rep struct {
		Results []struct {
			ID, Verdict, Method, Detail string
			Provisions                  []string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.body), &rep); r.code != 200 || err != nil {
		t.Fatalf("selfcheck = %d %v", r.code, err)
	}
	found := false
	for _, res := range rep.Results {
		if res.ID == "privacy.notice" {
			found = true
			if res.Verdict != "PASS" || res.Method != "measured" || !slices.Contains(res.Provisions, "6-1") {
				t.Errorf("privacy.notice = %s %s %v: %s", res.Verdict, res.Method, res.Provisions, res.Detail)
			}
		}
	}
	if !found {
		t.Error("the self-check has no privacy.notice")
	}

	// Every entry of the state directory is declared; every declared
	// category is backed by one (or said to be elsewhere).
	p.stop()
	entries, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	backed := map[string]bool{}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		decl, ok := stateDeclarations[e.Name()]
		switch {
		case !ok:
			t.Errorf("state entry %q is not declared: add its personal data to privacy-inventory.json (and stateDeclarations), or say why it holds none", e.Name())
		case decl.category != "":
			if _, ok := inv.Category(decl.category); !ok {
				t.Errorf("state entry %q maps to %q, which the inventory does not declare", e.Name(), decl.category)
			}
			backed[decl.category] = true
		}
	}
	for _, c := range inv.Categories {
		if !backed[c.ID] && notInState[c.ID] == "" {
			t.Errorf("category %s is declared but no state entry holds it (state: %v)", c.ID, names)
		}
	}
	// The throttle log holds what the inventory says: the source address
	// of the attempts.
	b, err := os.ReadFile(filepath.Join(state, "auth", "throttle.log"))
	if err != nil || !bytes.Contains(b, []byte("127.0.0.1")) {
		t.Errorf("auth/throttle.log (%v) does not hold the source address the notice declares", err)
	}
}

// TestReportsPrunedFromFlash: the retention the notice states for switch
// reports holds. A delivered report and an expired one are on flash until
// pruneOnce, and gone after it; a pending one stays.
func TestReportsPrunedFromFlash(t *testing.T) {
	dir := t.TempDir()
	var mono time.Duration
	ob, err := resilience.OpenOutbox(context.Background(), resilience.OutboxConfig{Dir: dir, Monotonic: func() time.Duration { return mono }})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	c := &cloudLink{outbox: ob, broker: "broker.invalid:8883"}
	ctx := context.Background()
	at := func(s string) plugState {
		ts, _ := time.Parse(time.RFC3339, s)
		return plugState{On: true, Changed: ts}
	}
	c.report(ctx, at("2001-01-01T01:01:01Z")) // delivered
	c.report(ctx, at("2002-02-02T02:02:02Z")) // expires
	onFlash := func(year string) bool {
		for _, content := range snapshot(t, dir) {
			if strings.Contains(content, year+"-") {
				return true
			}
		}
		return false
	}
	pend := ob.Pending(1)
	if len(pend) != 1 || !onFlash("2001") || !onFlash("2002") {
		t.Fatalf("reports not queued on flash: %v", pend)
	}
	if err := ob.Ack(ctx, pend[0].Key); err != nil {
		t.Fatal(err)
	}
	mono = 25 * time.Hour // past the reports' 24 h time to live
	c.report(ctx, at("2003-03-03T03:03:03Z"))
	if !onFlash("2001") {
		t.Fatal("the outbox removed a delivered report by itself; the test no longer tests pruneOnce")
	}
	if err := c.pruneOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if onFlash("2001") || onFlash("2002") {
		t.Error("a delivered or expired report is still on flash after pruning")
	}
	if !onFlash("2003") || ob.Stats().Pending != 1 {
		t.Error("pruning removed a pending report")
	}
}
