package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBootIntegrityRestricts: a byte of the committed slot changed while
// the plug was off (5.7-1) is found at the next start, and the plug then
// serves only login, the self-check and updates, reports the finding as
// a FAIL of update.boot-integrity and logs the alert (5.7-2). Intact, the
// same check passes and nothing is restricted.
func TestBootIntegrityRestricts(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	p := startPlug(t, state)
	c := p.client(t)
	setupOwner(t, p, c)
	if r := do(t, c, "GET", p.url("/api/selfcheck"), "", ""); r.code != 200 || !checkVerdict(r.body, "update.boot-integrity", "PASS") {
		t.Fatalf("intact image: self-check = %d %.800s", r.code, r.body)
	}
	if r := do(t, c, "GET", p.url("/api/plug"), "", ""); r.code != 200 {
		t.Fatalf("intact image: /api/plug = %d %s", r.code, r.body)
	}
	p.stop()

	flipSlots(t, state)

	p = startPlug(t, state)
	c = p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("login while restricted = %d %s", r.code, r.body)
	}
	if r := do(t, c, "GET", p.url("/api/selfcheck"), "", ""); r.code != 200 || !checkVerdict(r.body, "update.boot-integrity", "FAIL") {
		t.Fatalf("changed image: self-check = %d %.800s", r.code, r.body)
	}
	if r := do(t, c, "GET", p.url("/api/update"), "", ""); r.code != 200 {
		t.Fatalf("updates while restricted = %d %s", r.code, r.body)
	}
	for _, path := range []string{"/api/plug", "/privacy", "/api/ics"} {
		if r := do(t, c, "GET", p.url(path), "", ""); r.code != 503 || !strings.Contains(r.body, "does not match the installed one") {
			t.Errorf("GET %s while restricted = %d %s; want 503 with the finding", path, r.code, r.body)
		}
	}
	// stderr is read only after the process ends (exec copies into it
	// until then).
	p.stop()
	<-p.done
	if !strings.Contains(p.stderr.String(), "network restricted to the alert and updates") {
		t.Errorf("no alert in the log:\n%s", p.stderr)
	}
}

// setupOwner completes the setup with the secret the first start printed.
func setupOwner(t *testing.T, p *plugProc, c *http.Client) {
	t.Helper()
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
}

// checkVerdict reports whether the self-check report body has the check
// id with the verdict, measured.
func checkVerdict(body, id, verdict string) bool {
	var rep struct {
		Results []struct{ ID, Verdict, Method string } `json:"results"`
	}
	if json.Unmarshal([]byte(body), &rep) != nil {
		return false
	}
	for _, r := range rep.Results {
		if r.ID == id {
			return r.Verdict == verdict && r.Method == "measured"
		}
	}
	return false
}

// flipSlots flips one byte in the middle of every recorded slot image.
func flipSlots(t *testing.T, state string) {
	t.Helper()
	slots, _ := filepath.Glob(filepath.Join(state, "slots", "slot-*"))
	if len(slots) == 0 {
		slots, _ = filepath.Glob(filepath.Join(state, "slots", "*"))
	}
	flipped := 0
	for _, s := range slots {
		fi, err := os.Stat(s)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() < 1<<20 {
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(s, b, fi.Mode()); err != nil {
			t.Fatal(err)
		}
		flipped++
	}
	if flipped == 0 {
		t.Fatalf("no slot image found under %s", filepath.Join(state, "slots"))
	}
}
