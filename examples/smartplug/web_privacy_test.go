package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/privacy"
)

// TestConsentPages: the owner gives and withdraws consent through the
// page's forms; each decision is on the page and has a receipt signed by
// the plug's identity key (the key of its TLS certificate); a decision on
// a stale notice, for a purpose that does not rest on consent, or without
// a session is refused and records nothing. A plug without a service says
// that it sends no telemetry whatever is decided.
func TestConsentPages(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	p := startPlug(t, state)
	anon := p.client(t)
	if r := do(t, anon, "GET", p.url("/privacy/settings"), "", ""); r.code != 303 {
		t.Errorf("GET /privacy/settings without a session = %d", r.code)
	}
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	r := do(t, c, "GET", p.url("/privacy/settings"), "", "")
	page := html.UnescapeString(r.body)
	inv := embeddedInventory(t)
	for _, want := range []string{"sends no telemetry at all", "switch_count", "never sent", "Sent to", inv.Purposes[0].Description, "I have read the notice below and consent"} {
		if r.code != 200 || !strings.Contains(page, want) {
			t.Errorf("privacy page = %d lacks %q", r.code, want)
		}
	}
	var st privacyState
	json.Unmarshal([]byte(do(t, c, "GET", p.url("/api/privacy"), "", "").body), &st)
	form := func(purpose, decision, notice string) resp {
		v := url.Values{"purpose": {purpose}, "decision": {decision}, "notice": {notice}}
		return do(t, c, "POST", p.url("/privacy/consent"), "application/x-www-form-urlencoded", v.Encode())
	}
	for _, tc := range []struct {
		purpose, decision, notice string
		code                      int
	}{
		{"usage-statistics", "give", strings.Repeat("0", 64), 409},
		{"switching", "give", st.Notice.SHA256, 400},
		{"usage-statistics", "maybe", st.Notice.SHA256, 400},
	} {
		if r := form(tc.purpose, tc.decision, tc.notice); r.code != tc.code {
			t.Errorf("%+v = %d", tc, r.code)
		}
	}
	if r := do(t, anon, "POST", p.url("/privacy/consent"), "application/x-www-form-urlencoded", "purpose=usage-statistics&decision=give&notice="+st.Notice.SHA256); r.code == 303 || r.code == 200 {
		t.Errorf("consent without a session = %d", r.code)
	}
	if r := do(t, c, "GET", p.url("/privacy/receipt/1"), "", ""); r.code != 404 {
		t.Errorf("a refused decision left a receipt: %d %s", r.code, r.body)
	}

	r = form("usage-statistics", "give", st.Notice.SHA256)
	loc := r.hdr.Get("Location")
	if r.code != 303 || !strings.HasPrefix(loc, "/privacy/settings?done=given&receipt=1") {
		t.Fatalf("give = %d %q %.300s", r.code, loc, r.body)
	}
	if r := do(t, c, "GET", p.url(loc), "", ""); !strings.Contains(r.body, "usage-statistics: consent given") || !strings.Contains(r.body, "/privacy/receipt/1") {
		t.Errorf("the page does not show the given consent:\n%.3000s", r.body)
	}
	var rc privacy.Receipt
	if r := do(t, c, "GET", p.url("/privacy/receipt/1"), "", ""); r.code != 200 || json.Unmarshal([]byte(r.body), &rc) != nil {
		t.Fatalf("receipt = %d %.300s", r.code, r.body)
	}
	certPEM, _ := os.ReadFile(filepath.Join(state, "tls-cert.pem"))
	blk, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := privacy.VerifyReceipt(&rc, cert.PublicKey); err != nil || rc.Event.State != privacy.Given || rc.Processing.Purpose != "usage-statistics" || rc.Notice.SHA256 != st.Notice.SHA256 {
		t.Errorf("receipt %+v: %v", rc, err)
	}
	if r := form("usage-statistics", "withdraw", st.Notice.SHA256); r.code != 303 || !strings.Contains(r.hdr.Get("Location"), "done=withdrawn") {
		t.Fatalf("withdraw = %d %q", r.code, r.hdr.Get("Location"))
	}
	json.Unmarshal([]byte(do(t, c, "GET", p.url("/api/privacy"), "", "").body), &st)
	for _, cp := range st.Purposes {
		if cp.Given || (cp.ID == "usage-statistics" && cp.State != "withdrawn") {
			t.Errorf("after withdrawal: %+v", cp)
		}
	}
	// The decisions survive a restart (the ledger is on flash).
	p.stop()
	p2 := startPlug(t, state)
	c2 := p2.client(t)
	if r := jsonDo(t, c2, "POST", p2.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("login = %d", r.code)
	}
	if r := do(t, c2, "GET", p2.url("/api/privacy"), "", ""); !strings.Contains(r.body, `"state": "withdrawn"`) {
		t.Errorf("after restart: %.600s", r.body)
	}
}
