package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// The owner updates the plug in a real browser: the update page announces
// the maker's security release with its notes and the restart it causes;
// the owner postpones it (capped for a security release), then "Install now" downloads it, the plug restarts into it, and the page
// (reloaded by the owner) reports the new version, its passed health check
// and the commit. Screenshots go to the test's artifact directory.
func TestLabBrowserSelfUpdate(t *testing.T) {
	testenv.Short(t, "headless browser test")
	w := labStartBrowser(t)
	v100 := buildPlug(t, "1.0.0", 1, "")
	v110 := buildPlug(t, "1.1.0", 2, "")
	repo := newMakerRepo(t)
	p := startBinary(t, v100, nil, filepath.Join(t.TempDir(), "state"), "--update-repo", repo.url, "--update-root", repo.root)
	if r := jsonDo(t, p.client(t), "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	home := fmt.Sprintf("https://127.0.0.1:%d/", labPort(t, p))
	logIn := func() {
		t.Helper()
		w.open(home)
		w.waitText("Log in")
		w.typeInto("#pw", ownerPassword)
		w.click(`form[action="/login"] button[type="submit"]`)
		w.waitText("You are logged in")
	}
	logIn()
	repo.publish(v110, "1.1.0", 2, true)

	w.open(home + "update")
	w.waitText("Software updates", "Running version: 1.0.0")
	w.click(`form[action="/update"] button[type="submit"]`) // Check now
	w.waitText("Update available: version 1.1.0", "a security update", "switch the plug", "the plug restarts", "Install now", "installed automatically")
	t.Logf("screenshot: %s", w.screenshot("update-available.png"))

	// The owner postpones it: the page says until when, and that a
	// security update cannot be put off beyond the maker's cap.
	w.click(`form[action="/update/postpone"] button[type="submit"]`)
	w.waitText("Postponed until", "a security update can be postponed for at most", "Install at the next opportunity")
	t.Logf("screenshot: %s", w.screenshot("update-postponed.png"))

	w.click(`form[action="/update/install"] button[type="submit"]`)
	if s := w.settle("Installing", `{"error"`, "could not be started"); !strings.Contains(s, "Installing") {
		t.Fatalf("Install now did not start the install; the browser shows:\n%.500s", s)
	}
	// The owner reloads the page while the plug restarts (same address).
	var s string
	relogins := 0
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the update page never reported 1.1.0 committed; it shows:\n%.800s", s)
		}
		// Refused while the plug restarts: try again.
		if _, err := labWDCall(t, w.c, "POST", w.base+"/url", map[string]string{"url": home + "update"}); err != nil {
			s = err.Error()
			continue
		}
		s = w.settle("Software updates", "Log in")
		if strings.Contains(s, "Log in") && !strings.Contains(s, "Software updates") && relogins < 3 {
			relogins++
			logIn()
			continue
		}
		if strings.Contains(s, "Running version: 1.1.0") && strings.Contains(s, "committed") && strings.Contains(s, "up to date") {
			break
		}
	}
	if !strings.Contains(s, "Health check of this version: passed") {
		t.Errorf("the page does not report the passed health check:\n%s", s)
	}
	t.Logf("screenshot: %s (logged in again %d times after the restart)", w.screenshot("update-committed.png"), relogins)
}
