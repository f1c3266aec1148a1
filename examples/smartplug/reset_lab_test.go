//go:build linux

package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/internal/testenv"
)

// devicePublicKey reads the plug's public key from its certificate, as
// anyone checking a receipt would.
func devicePublicKey(t *testing.T, state string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("tls-cert.pem holds no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.PublicKey
}

// waitServing waits until the plug at p answers again after its restart
// and reports whether it awaits setup.
func waitServing(t *testing.T, p *plugProc, c *http.Client) bool {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r, err := c.Get(p.url("/api/info"))
		if err != nil {
			continue
		}
		var info infoResponse
		err = json.NewDecoder(r.Body).Decode(&info)
		r.Body.Close()
		if err == nil && r.StatusCode == 200 {
			return info.SetupRequired
		}
	}
	t.Fatal("the plug did not come back after the reset")
	return false
}

// Power loss during a reset: the plug binary is killed with SIGKILL at
// several moments after the owner confirmed a reset. At the next start it
// is always either untouched (the kill came before the reset began: the
// old password works, the plug is still on) or reset completely (the old
// password is refused, no store of the owner's data holds anything, the
// label's secret sets it up) — never in between; and the starts that found
// a reset half done say that they finished it.
func TestResetKilledFinishesAtNextStart(t *testing.T) {
	testenv.Short(t, "kills the plug binary during factory resets")
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startPlug(t, state, "--listen", listen)
	label := p.secret
	if label == "" {
		t.Fatal("no setup secret printed")
	}
	// A start that finished a reset says so in its own log, read once that
	// process has exited (killed in the next round, or stopped at the end).
	var resumed, untouched, completed int
	interrupted := func(p *plugProc) {
		if strings.Contains(p.stderr.String(), "factory reset was interrupted") {
			resumed++
		}
	}
	for i := 0; i < 30 && resumed < 8; i++ {
		c := p.client(t)
		if waitServing(t, p, c) {
			if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": label, "password": ownerPassword}); r.code != 200 {
				t.Fatalf("round %d: setup with the label's secret = %d %s", i, r.code, r.body)
			}
		} else if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
			t.Fatalf("round %d: login = %d %s", i, r.code, r.body)
		}
		if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true}); r.code != 200 {
			t.Fatalf("round %d: switch on = %d", i, r.code)
		}
		go func() {
			req, _ := http.NewRequest("POST", p.url("/api/reset"), strings.NewReader(`{"confirm":"RESET"}`))
			req.Header.Set("Content-Type", "application/json")
			if r, err := c.Do(req); err == nil {
				r.Body.Close()
			}
		}()
		// A reset takes a few milliseconds here: spread the kills over
		// 0–14 ms after the request, in 1 ms steps.
		time.Sleep(time.Duration(i%15) * time.Millisecond)
		p.cmd.Process.Kill()
		<-p.done
		interrupted(p)

		p = startPlug(t, state, "--listen", listen)
		c = p.client(t)
		if !waitServing(t, p, c) {
			untouched++
			if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
				t.Fatalf("round %d: the plug kept its owner but the password does not work: %d %s", i, r.code, r.body)
			}
			if r := do(t, c, "GET", p.url("/api/plug"), "", ""); !strings.Contains(r.body, `"on": true`) {
				t.Fatalf("round %d: the plug kept its owner but lost the switch state: %s", i, r.body)
			}
			continue
		}
		completed++
		if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code == 200 {
			t.Fatalf("round %d: the plug awaits setup yet the old password logs in", i)
		}
		for _, f := range []string{"plug.json", "secrets/auth.owner.sec"} {
			if _, err := os.Stat(filepath.Join(state, f)); err == nil {
				t.Fatalf("round %d: %s survived the reset", i, f)
			}
		}
	}
	p.stop()
	<-p.done
	interrupted(p)
	t.Logf("kills: %d left the plug untouched, %d found it reset (%d of those finished a reset cut short)", untouched, completed, resumed)
	if resumed == 0 {
		t.Error("no kill landed during a reset: the test did not exercise the journal")
	}
}

// The factory reset in a real browser: log in, read the reset page,
// confirm, see the signed receipt, and set the plug up again with the
// label's secret once it has restarted. Screenshots of each step go to the
// test's output directory; no page breaks the device's CSP.
func TestLabBrowserFactoryReset(t *testing.T) {
	testenv.Short(t, "headless browser test")
	t.Parallel()
	w := labStartBrowser(t)
	state := filepath.Join(t.TempDir(), "state")
	port := freePort(t)
	p := startPlug(t, state, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	home := fmt.Sprintf("https://127.0.0.1:%d/", port)

	w.open(home)
	w.waitText("Set up your plug")
	w.typeInto("#secret", p.secret)
	w.typeInto("#pw", ownerPassword)
	w.typeInto("#pw2", ownerPassword)
	w.click(`form[action="/setup"] button[type="submit"]`)
	w.waitText("Your plug is set up")

	w.click(`a[href="/reset"]`)
	s := w.waitText("Factory reset: what it does", "It keeps:")
	for _, want := range []string{"your login: password and open sessions", "the setup secret printed on the label", "type RESET"} {
		if !strings.Contains(s, want) {
			t.Errorf("the reset page does not say %q:\n%s", want, s)
		}
	}
	t.Logf("screenshot: %s", w.screenshot("reset-instructions.png"))

	// A wrong word changes nothing.
	w.typeInto("#confirm", "yes")
	w.click(`form[action="/reset"] button[type="submit"]`)
	w.waitText("Nothing was changed")

	w.typeInto("#confirm", "RESET")
	w.click(`form[action="/reset"] button[type="submit"]`)
	s = w.waitText("The plug was reset to factory settings", "Receipt", "All your data was deleted")
	if !strings.Contains(s, "No associated service is configured") {
		t.Errorf("the receipt page does not say that no associated service was configured:\n%s", s)
	}
	t.Logf("screenshot: %s", w.screenshot("reset-receipt.png"))
	var signed string
	json.Unmarshal(w.call("GET", "/element/"+w.find("#receipt")+"/property/value", nil), &signed)
	rc, err := erase.VerifyReceipt([]byte(signed), devicePublicKey(t, state))
	if err != nil {
		t.Fatalf("the receipt shown in the browser does not verify with the plug's key: %v\n%s", err, signed)
	}
	if !rc.Complete() {
		t.Errorf("the receipt is not complete: %+v", rc)
	}

	// Once it has restarted, the plug asks for the label's secret again.
	if !waitServing(t, p, p.client(t)) {
		t.Fatal("after the reset the plug does not await setup")
	}
	w.click(`a[href="/"]`)
	w.waitText("Set up your plug")
	w.typeInto("#secret", p.secret)
	w.typeInto("#pw", ownerPassword+" again")
	w.typeInto("#pw2", ownerPassword+" again")
	w.click(`form[action="/setup"] button[type="submit"]`)
	w.waitText("Your plug is set up")
	if s := w.text(); !strings.Contains(s, "\nOff\n") {
		t.Errorf("after the reset the plug's page does not say Off:\n%s", s)
	}
	t.Logf("screenshot: %s", w.screenshot("reset-setup-again.png"))
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code == 200 {
		t.Error("the password from before the reset still logs in")
	}

	var logs []struct {
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	json.Unmarshal(w.call("POST", "/se/log", map[string]string{"type": "browser"}), &logs)
	for _, l := range logs {
		if strings.Contains(l.Message, "Content Security Policy") || strings.Contains(l.Message, "Refused to") {
			t.Errorf("CSP violation in the browser: %s", l.Message)
		}
	}
}
