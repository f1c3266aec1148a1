package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// The owner gives and withdraws consent with the privacy page's buttons
// in a real browser; the page shows the notice text and the telemetry
// manifest, the decisions reach the plug's ledger, and the page runs
// under the device's CSP without a violation. Screenshots go to the
// test's artifact directory.
func TestLabBrowserConsent(t *testing.T) {
	testenv.Short(t, "headless browser test")
	t.Parallel()
	w := labStartBrowser(t)
	p := startPlug(t, filepath.Join(t.TempDir(), "state"))
	home := fmt.Sprintf("https://127.0.0.1:%d/", labPort(t, p))
	w.open(home)
	w.waitText("Set up your plug")
	w.typeInto("#secret", p.secret)
	w.typeInto("#pw", ownerPassword)
	w.typeInto("#pw2", ownerPassword)
	w.click(`form[action="/setup"] button[type="submit"]`)
	w.waitText("Your plug is set up")

	w.click(`a[href="/privacy/settings"]`)
	s := w.waitText("Privacy", "What this device", "switch_count", "sends no telemetry at all")
	if !strings.Contains(s, "usage-statistics: no consent") || !strings.Contains(s, "diagnostics: no consent") {
		t.Errorf("the privacy page of a new plug:\n%.1500s", s)
	}
	t.Logf("screenshot: %s", w.screenshot("privacy-before.png"))

	// Give consent to usage statistics with its button.
	w.click(`form[action="/privacy/consent"]:has(input[value="usage-statistics"]) button[type="submit"]`)
	s = w.settle("Your consent was recorded", `{"error"`)
	if !strings.Contains(s, "usage-statistics: consent given") || !strings.Contains(s, "diagnostics: no consent") || !strings.Contains(s, "/privacy/receipt/1") {
		t.Errorf("after giving consent the page shows:\n%.1500s", s)
	}
	t.Logf("screenshot: %s", w.screenshot("privacy-given.png"))
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("API login = %d", r.code)
	}
	var st privacyState
	json.Unmarshal([]byte(do(t, c, "GET", p.url("/api/privacy"), "", "").body), &st)
	if len(st.Purposes) != 2 || !st.Purposes[0].Given || st.Purposes[1].Given {
		t.Errorf("the plug's ledger after the button: %+v", st.Purposes)
	}

	// Withdraw it with the button that replaced the first.
	w.click(`form[action="/privacy/consent"]:has(input[value="usage-statistics"]) button[type="submit"]`)
	s = w.settle("Your consent was withdrawn", `{"error"`)
	if !strings.Contains(s, "usage-statistics: no consent") || !strings.Contains(s, "state: withdrawn") {
		t.Errorf("after withdrawing the page shows:\n%.1500s", s)
	}
	json.Unmarshal([]byte(do(t, c, "GET", p.url("/api/privacy"), "", "").body), &st)
	if st.Purposes[0].Given || st.Purposes[0].State != "withdrawn" {
		t.Errorf("the plug's ledger after withdrawal: %+v", st.Purposes[0])
	}

	var logs []struct{ Level, Message string }
	json.Unmarshal(w.call("POST", "/se/log", map[string]string{"type": "browser"}), &logs)
	for _, l := range logs {
		if strings.Contains(l.Message, "Content Security Policy") || strings.Contains(l.Message, "Refused to") {
			t.Errorf("CSP violation in the browser: %s", l.Message)
		}
	}
}
