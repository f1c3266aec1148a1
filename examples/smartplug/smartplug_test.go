package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/internal/testenv"
)

const ownerPassword = "correct horse battery staple plug"

var (
	buildMu sync.Mutex
	binDir  string
	built   = map[string]string{}
)

// build builds the given main package (with build tags) once per test run
// and returns the binary.
func build(t *testing.T, pkg, tags string) string {
	t.Helper()
	testenv.Short(t, "smartplug integration test (builds and runs the device)")
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "|" + tags
	if b, ok := built[key]; ok {
		return b
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "smartplug-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = d
	}
	bin := filepath.Join(binDir, fmt.Sprintf("bin%d", len(built)))
	out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags %q %s: %v\n%s", tags, pkg, err, out)
	}
	built[key] = bin
	return bin
}

// binaries builds the device (soft backend) and the baseline CLI.
func binaries(t *testing.T) (device, cli string) {
	return build(t, ".", ""), build(t, "../../cmd/baseline", "")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// plugProc is a running device.
type plugProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	state  string
	addr   string
	secret string // "" unless printed
	lines  []string
	stderr *bytes.Buffer
	done   chan struct{}
}

func startPlug(t *testing.T, state string, args ...string) *plugProc {
	t.Helper()
	bin, _ := binaries(t)
	return startBinary(t, bin, nil, state, args...)
}

// startBinary starts a device binary with extra environment variables and
// waits until it serves.
func startBinary(t *testing.T, bin string, env []string, state string, args ...string) *plugProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--state", state, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &plugProc{t: t, cmd: cmd, state: state, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-p.done // cmd.Wait has copied all of stderr: reading it now does not race
				t.Fatalf("device exited before serving; stderr:\n%s", p.stderr)
			}
			p.lines = append(p.lines, l)
			if a, ok := strings.CutPrefix(l, "listening: "); ok {
				p.addr = a
			}
			if s, ok := strings.CutPrefix(l, "setup secret: "); ok {
				p.secret = s
			}
			if strings.HasPrefix(l, "Open the URL") {
				go func() {
					for range lines {
					}
				}()
				if p.addr == "" {
					t.Fatalf("no listening line in %q", p.lines)
				}
				return p
			}
		case <-timeout:
			p.stop()
			<-p.done
			t.Fatalf("device did not start in time; stdout %q stderr:\n%s", p.lines, p.stderr)
		}
	}
}

func (p *plugProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// client trusts exactly the device's certificate, read from its state
// directory (pinning, as a companion app would).
func (p *plugProc) client(t *testing.T) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(p.state, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("tls-cert.pem holds no certificate")
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       60 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (p *plugProc) url(path string) string { return "https://" + p.addr + path }

type resp struct {
	code int
	body string
	hdr  http.Header
}

func do(t *testing.T, c *http.Client, method, u, ctype, body string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(b), r.Header}
}

func jsonDo(t *testing.T, c *http.Client, method, u string, v any, hdr ...string) resp {
	t.Helper()
	b, _ := json.Marshal(v)
	return do(t, c, method, u, "application/json", string(b), hdr...)
}

// snapshot returns every file of the state directory with its content,
// except those under the skipped prefixes.
func snapshot(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if strings.HasPrefix(rel, s) {
				return nil
			}
		}
		b, _ := os.ReadFile(p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func sameSnapshot(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			diff = append(diff, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, k)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("%s changed the state directory: %v", what, diff)
	}
}

// assertNotAtRest greps every file of the state directory for the needles.
func assertNotAtRest(t *testing.T, dir string, needles ...string) {
	t.Helper()
	for name, content := range snapshot(t, dir) {
		for _, n := range needles {
			if n != "" && strings.Contains(content, n) {
				t.Errorf("%s holds a secret in plaintext (%d bytes matched)", name, len(n))
			}
		}
	}
}

func TestDeviceSetupLoginRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	p := startPlug(t, state)
	if p.secret == "" {
		t.Fatalf("first start printed no setup secret: %q", p.lines)
	}
	c := p.client(t)

	// A second instance on the same state directory stops at once.
	bin, _ := binaries(t)
	if out, err := exec.Command(bin, "--state", state, "--listen", "127.0.0.1:0").CombinedOutput(); err == nil || !strings.Contains(string(out), "in use by another running smartplug") {
		t.Errorf("second instance on the same state: %v\n%s", err, out)
	}

	// Before setup: public info says so; owner routes refuse.
	if r := do(t, c, "GET", p.url("/api/info"), "", ""); r.code != 200 || !strings.Contains(r.body, `"setup_required": true`) || !strings.Contains(r.body, `"support_period_end"`) {
		t.Fatalf("/api/info = %d %s", r.code, r.body)
	}
	if r := do(t, c, "GET", p.url("/api/plug"), "", ""); r.code != 401 && r.code != 403 {
		t.Fatalf("owner API before setup = %d; want refused", r.code)
	}
	if r := do(t, c, "GET", p.url("/"), "", ""); r.code != 200 || !strings.Contains(r.body, `action="/setup"`) || strings.Contains(r.body, `action="/login"`) {
		t.Fatalf("front page before setup = %d, want the setup form:\n%.500s", r.code, r.body)
	}
	if r := do(t, c, "POST", p.url("/login"), "application/x-www-form-urlencoded", "password=anything-at-all-here"); !strings.Contains(r.body, "not set up yet") {
		t.Errorf("login before setup = %d %.300s", r.code, r.body)
	}
	if r := do(t, c, "GET", p.url("/.well-known/security.txt"), "", ""); r.code != 200 || !strings.Contains(r.body, "Contact: mailto:") || !strings.Contains(r.body, "Expires: ") {
		t.Fatalf("security.txt = %d %q", r.code, r.body)
	}

	// Bad input to setup: clear errors, nothing stored. Three directories
	// change by design and are left out: the throttle log (auth/) records
	// failed attempts; the update client (update/) and the cloud outbox
	// (outbox/) write from their background loops.
	before := snapshot(t, state, "auth/", "update/", "outbox/", "security/")
	wrong, _ := auth.NewSetupSecret()
	huge := `{"setup_secret":"` + strings.Repeat("A", 100<<10) + `"}`
	for _, tc := range []struct {
		name, ctype, body string
		code              int
		msg               string
	}{
		{"wrong secret", "application/json", fmt.Sprintf(`{"setup_secret":%q,"password":%q}`, wrong.Reveal(), ownerPassword), 401, "did not match"},
		{"malformed secret", "application/json", fmt.Sprintf(`{"setup_secret":"hello","password":%q}`, ownerPassword), 400, "not a valid setup secret"},
		{"weak password", "application/json", fmt.Sprintf(`{"setup_secret":%q,"password":"short"}`, p.secret), 400, "choose another password"},
		{"malformed JSON", "application/json", `{"setup_secret":`, 400, "invalid input"},
		{"unknown field", "application/json", `{"setup_secret":"x","password":"y","admin":true}`, 400, "unknown field"},
		{"duplicate key", "application/json", `{"password":"a","password":"b"}`, 400, "duplicate"},
		{"wrong type", "text/plain", `setup_secret=x`, 415, ""},
		{"oversized", "application/json", huge, 413, ""},
	} {
		r := do(t, c, "POST", p.url("/api/setup"), tc.ctype, tc.body)
		if r.code != tc.code || !strings.Contains(r.body, tc.msg) {
			t.Errorf("%s: %d %s; want %d containing %q", tc.name, r.code, r.body, tc.code, tc.msg)
		}
	}
	for name, form := range map[string]string{
		"missing field":  "setup_secret=" + url.QueryEscape(p.secret) + "&password=x",
		"repeated field": "setup_secret=a&setup_secret=b&password=x&confirm=x",
		"extra field":    "setup_secret=a&password=x&confirm=x&role=admin",
		"mismatch":       "setup_secret=" + url.QueryEscape(p.secret) + "&password=" + url.QueryEscape(ownerPassword) + "&confirm=other",
	} {
		r := do(t, c, "POST", p.url("/setup"), "application/x-www-form-urlencoded", form)
		if r.code != 200 || !strings.Contains(r.body, `class="msg err"`) || !strings.Contains(r.body, "Set up your plug") {
			t.Errorf("setup form %s: %d, want the setup page with an error:\n%.300s", name, r.code, r.body)
		}
	}
	sameSnapshot(t, "refused setup requests", before, snapshot(t, state, "auth/", "update/", "outbox/", "security/"))
	if r := do(t, c, "GET", p.url("/api/info"), "", ""); !strings.Contains(r.body, `"setup_required": true`) {
		t.Fatalf("refused setups changed the setup state: %s", r.body)
	}

	// Setup through the web form, as a browser does.
	form := "setup_secret=" + url.QueryEscape(strings.ToLower(p.secret)) + "&password=" + url.QueryEscape(ownerPassword) + "&confirm=" + url.QueryEscape(ownerPassword)
	// With the headers a browser sends on a same-origin form post.
	r := do(t, c, "POST", p.url("/setup"), "application/x-www-form-urlencoded", form,
		"Origin", "https://"+p.addr, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate")
	if r.code != 303 || r.hdr.Get("Location") != "/?done=setup" {
		t.Fatalf("setup = %d %s %.300s", r.code, r.hdr.Get("Location"), r.body)
	}
	if r := do(t, c, "GET", p.url("/"), "", ""); r.code != 200 || !strings.Contains(r.body, "Switch on") {
		t.Fatalf("home after setup = %d %.300s", r.code, r.body)
	}

	// Replayed setup: a clear refusal, nothing written.
	before = snapshot(t, state, "update/", "outbox/")
	if r := do(t, c, "POST", p.url("/api/setup"), "application/json", fmt.Sprintf(`{"setup_secret":%q,"password":"another long password here"}`, p.secret)); r.code != 409 || !strings.Contains(r.body, "already set up") {
		t.Errorf("replayed setup = %d %s", r.code, r.body)
	}
	sameSnapshot(t, "replayed setup", before, snapshot(t, state, "update/", "outbox/"))

	// Unauthenticated API requests get 401.
	anon := p.client(t)
	for _, rt := range [][2]string{{"GET", "/api/plug"}, {"PUT", "/api/plug"}, {"GET", "/api/selfcheck"}, {"GET", "/api/ics"}, {"GET", "/api/update"}, {"POST", "/api/password"}} {
		if r := do(t, anon, rt[0], p.url(rt[1]), "application/json", `{}`); r.code != 401 {
			t.Errorf("anonymous %s %s = %d; want 401", rt[0], rt[1], r.code)
		}
	}
	if r := do(t, anon, "GET", p.url("/api/plug"), "", "", "Authorization", "Bearer forged.token"); r.code != 401 {
		t.Errorf("forged token = %d; want 401", r.code)
	}
	if r := do(t, anon, "GET", p.url("/selfcheck"), "", ""); r.code != 303 {
		t.Errorf("anonymous self-check page = %d; want a redirect to the login page", r.code)
	}
	if r := do(t, anon, "GET", p.url("/no/such/page"), "", ""); r.code != 404 {
		t.Errorf("unknown path = %d; want 404", r.code)
	}

	// The owner's session works: switch, self-check, update status.
	if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true}); r.code != 200 || !strings.Contains(r.body, `"on": true`) {
		t.Fatalf("switch on = %d %s", r.code, r.body)
	}
	if r := do(t, c, "PUT", p.url("/api/plug"), "application/json", `{"on":"yes"}`); r.code != 400 {
		t.Errorf("switch with a string = %d; want 400", r.code)
	}
	r = do(t, c, "GET", p.url("/api/selfcheck"), "", "")
	var rep struct {
		Model   string `json:"model"`
		Results []struct {
			ID      string `json:"id"`
			Verdict string `json:"verdict"`
			Detail  string `json:"detail"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.body), &rep); r.code != 200 || err != nil || len(rep.Results) < 8 {
		t.Fatalf("selfcheck = %d %v %.500s", r.code, err, r.body)
	}
	if !strings.Contains(r.body, "ML-DSA-65 co-signature key") {
		t.Errorf("the demo releases are not checked for their ML-DSA-65 co-signature: %.300s", r.body)
	}
	verdicts := map[string]string{}
	for _, res := range rep.Results {
		verdicts[res.ID] = res.Verdict
		if res.Verdict == "FAIL" {
			t.Logf("%s: %s", res.ID, res.Detail)
		}
	}
	for id, want := range map[string]string{"auth.no-default-credential": "PASS", "iface.tls": "PASS", "iface.sockets": "PASS", "smartplug.state-private": "PASS", "smartplug.local-first": "PASS", "secrets.sealed-at-rest": "INCONCLUSIVE",
		"conformance.model": "PASS", "conformance.support-period": "PASS", "conformance.self-check-report": "PASS", "update.trust-root": "PASS", "resilience.outbox": "PASS",
		"iface.input": "PASS", "smartplug.served-identity": "PASS", "smartplug.password-change": "PASS"} {
		if verdicts[id] != want {
			t.Errorf("self-check %s = %q; want %s (all: %v)", id, verdicts[id], want, verdicts)
		}
	}
	if r := do(t, c, "GET", p.url("/selfcheck"), "", ""); r.code != 200 || !strings.Contains(r.body, "OK: the plug tested this on itself") || !strings.Contains(r.body, "Set as required: the plug read this setting") {
		t.Errorf("self-check page = %d %.300s", r.code, r.body)
	}
	if r := do(t, c, "GET", p.url("/api/ics"), "", ""); r.code != 200 || !strings.Contains(r.body, `"checks_attached": true`) {
		t.Errorf("ICS = %d %.300s", r.code, r.body)
	} else {
		// The running plug's statement: every Y it could test is backed by
		// one of its own checks, and every check its profile names ran.
		var st struct {
			Totals struct {
				Unbacked, Measured, Configured int
			} `json:"totals"`
			Problems []struct {
				Provision, Field, Message string
			} `json:"problems"`
		}
		if err := json.Unmarshal([]byte(r.body), &st); err != nil {
			t.Fatal(err)
		}
		if st.Totals.Unbacked != 0 || st.Totals.Measured == 0 {
			t.Errorf("the plug's own ICS: %+v", st.Totals)
		}
		for _, pb := range st.Problems {
			if pb.Field == "evidence" || pb.Field == "checks" {
				t.Errorf("the plug's own ICS: %s: %s: %s", pb.Provision, pb.Field, pb.Message)
			}
		}
	}
	if r := do(t, c, "GET", p.url("/ics"), "", ""); r.code != 200 || !strings.Contains(r.body, "SP-100 Smart Plug") || !strings.Contains(r.body, "5.1-1") ||
		!strings.Contains(r.hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("ICS page = %d csp %q %.300s", r.code, r.hdr.Get("Content-Security-Policy"), r.body)
	}
	r = jsonDo(t, c, "POST", p.url("/api/update/check"), nil)
	if r.code != 200 || !strings.Contains(r.body, `"available": true`) || !strings.Contains(r.body, `"security": true`) || !strings.Contains(r.body, `"version": "1.1.0"`) {
		t.Errorf("update check = %d %s", r.code, r.body)
	}

	// Neither the setup secret nor the password is at rest in plaintext.
	assertNotAtRest(t, state, p.secret, strings.ReplaceAll(p.secret, "-", ""), ownerPassword)

	// Restart: no setup secret printed again; the password still works.
	p.stop()
	p2 := startPlug(t, state)
	if p2.secret != "" || strings.Contains(strings.Join(p2.lines, "\n"), "setup secret") {
		t.Fatalf("restart printed the setup secret again: %q", p2.lines)
	}
	c2 := p2.client(t)
	before = snapshot(t, state, "auth/", "update/", "outbox/", "security/")
	if r := jsonDo(t, c2, "POST", p2.url("/api/login"), map[string]string{"password": "not the password at all"}); r.code != 401 {
		t.Errorf("wrong password = %d %s", r.code, r.body)
	}
	sameSnapshot(t, "wrong password", before, snapshot(t, state, "auth/", "update/", "outbox/", "security/"))
	r = jsonDo(t, c2, "POST", p2.url("/api/login"), map[string]string{"password": ownerPassword})
	if r.code != 200 {
		t.Fatalf("login after restart = %d %s", r.code, r.body)
	}
	var ses struct{ Token string }
	json.Unmarshal([]byte(r.body), &ses)
	if r := do(t, p2.client(t), "GET", p2.url("/api/plug"), "", "", "Authorization", "Bearer "+ses.Token); r.code != 200 || !strings.Contains(r.body, `"on": true`) {
		t.Errorf("plug state after restart (bearer) = %d %s", r.code, r.body)
	}

	// A lab's ICS from the running plug: baseline ics --device joins the
	// profile with the plug's own self-check over the pinned certificate.
	_, cli := binaries(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(ses.Token+"\n"), 0o600)
	ics := exec.Command(cli, "ics", "--profile", "profile.json", "--device", p2.url("/api/selfcheck"),
		"--device-cert", filepath.Join(state, "tls-cert.pem"), "--token-file", tokenFile)
	var icsErr bytes.Buffer
	ics.Stderr = &icsErr
	icsOut, err := ics.Output()
	var live struct {
		ChecksAttached bool `json:"checks_attached"`
		Totals         struct{ Unbacked, Measured, Configured int }
	}
	if json.Unmarshal(icsOut, &live) != nil || !live.ChecksAttached || live.Totals.Unbacked != 0 || live.Totals.Measured < 10 {
		t.Errorf("baseline ics --device: %v %+v\n%s", err, live, icsErr.String())
	}
	if strings.Contains(icsErr.String(), "evidence:") || strings.Contains(icsErr.String(), ": checks:") || strings.Contains(icsErr.String(), ses.Token) {
		t.Errorf("baseline ics --device reports unbacked claims or leaks the token:\n%s", icsErr.String())
	}

	// Change the password: the old one stops working, sessions are renewed.
	newPW := "a different long passphrase for the plug"
	if r := jsonDo(t, c2, "POST", p2.url("/api/password"), map[string]string{"current": "wrong current password", "password": newPW}); r.code != 401 {
		t.Errorf("change with wrong current = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c2, "POST", p2.url("/api/password"), map[string]string{"current": ownerPassword, "password": newPW}); r.code != 200 {
		t.Fatalf("change password = %d %s", r.code, r.body)
	}
	if r := do(t, p2.client(t), "GET", p2.url("/api/plug"), "", "", "Authorization", "Bearer "+ses.Token); r.code != 401 {
		t.Errorf("session from before the password change = %d; want 401", r.code)
	}
	if r := jsonDo(t, p2.client(t), "POST", p2.url("/api/login"), map[string]string{"password": newPW}); r.code != 200 {
		t.Errorf("login with new password = %d", r.code)
	}
	assertNotAtRest(t, state, newPW, ownerPassword)

	// The browser path: log in with the form, log out with the form; the
	// session is revoked on the device, not only forgotten by the browser.
	b := p2.client(t)
	if r := do(t, b, "POST", p2.url("/login"), "application/x-www-form-urlencoded", "password=wrong+password+typed+here"); r.code != 200 || !strings.Contains(r.body, "did not match") {
		t.Errorf("wrong password form = %d %.300s", r.code, r.body)
	}
	if r := do(t, b, "POST", p2.url("/login"), "application/x-www-form-urlencoded", "password="+url.QueryEscape(newPW)); r.code != 303 {
		t.Fatalf("login form = %d %.300s", r.code, r.body)
	}
	u, _ := url.Parse(p2.url("/"))
	var cookie string
	for _, ck := range b.Jar.Cookies(u) {
		cookie = ck.Name + "=" + ck.Value
	}
	if r := do(t, b, "GET", p2.url("/selfcheck"), "", ""); r.code != 200 || !strings.Contains(r.body, "Self-check") {
		t.Errorf("self-check page after form login = %d", r.code)
	}
	if r := do(t, b, "POST", p2.url("/logout"), "application/x-www-form-urlencoded", "", "Origin", "https://"+p2.addr, "Sec-Fetch-Site", "same-origin"); r.code != 303 {
		t.Errorf("logout = %d %.300s", r.code, r.body)
	}
	if r := do(t, p2.client(t), "GET", p2.url("/api/plug"), "", "", "Cookie", cookie); r.code != 401 {
		t.Errorf("cookie after logout = %d; want 401 (revoked on the device)", r.code)
	}
	// A cross-site form post with the owner's cookie is refused.
	if r := do(t, p2.client(t), "POST", p2.url("/plug"), "application/x-www-form-urlencoded", "on=false", "Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); r.code != 403 {
		t.Errorf("cross-site form post = %d; want 403", r.code)
	}
}

// The CLI's SBOM and security.txt tools work on the device: the SBOM of
// its binary lists the SDK's dependencies, and the security.txt it serves
// validates.
func TestDeviceSBOMAndSecurityTxt(t *testing.T) {
	bin, cli := binaries(t)
	out, err := exec.Command(cli, "sbom", bin).Output()
	if err != nil {
		t.Fatalf("baseline sbom: %v", err)
	}
	for _, want := range []string{`"specVersion": "1.6"`, "pkg:golang/github.com/tink-crypto/tink-go/v2@", "pkg:golang/github.com/theupdateframework/go-tuf/v2@", "pkg:golang/stdlib@"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("SBOM of the device lacks %s", want)
		}
	}
	p := startPlug(t, filepath.Join(t.TempDir(), "state"))
	r := do(t, p.client(t), "GET", p.url("/.well-known/security.txt"), "", "")
	if ct := r.hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("security.txt content type %q", ct)
	}
	f := filepath.Join(t.TempDir(), "security.txt")
	os.WriteFile(f, []byte(r.body), 0o644)
	if out, err := exec.Command(cli, "securitytxt", "validate", f).CombinedOutput(); err != nil {
		t.Errorf("the device's security.txt does not validate: %v\n%s", err, out)
	}
}

// Without an associated service (the default) the plug switches and
// queues nothing (5.9-2); TestCloudMQTT covers a service that is down.
func TestDeviceWorksOffline(t *testing.T) {
	p := startPlug(t, filepath.Join(t.TempDir(), "state"))
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil && !strings.Contains(string(st), "NoNewPrivs:\t1") {
		t.Errorf("the device runs without no_new_privs (5.6-7)")
	}
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	for _, on := range []bool{true, false, true} {
		if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": on}); r.code != 200 {
			t.Fatalf("switch while offline = %d %s", r.code, r.body)
		}
	}
	if r := do(t, c, "GET", p.url("/"), "", ""); !strings.Contains(r.body, "runs fully local and sends nothing anywhere") || strings.Contains(r.body, "waiting to be sent") {
		t.Errorf("home page does not say the plug runs fully local:\n%.2000s", r.body)
	}
}

func TestDeviceFromFactoryRecord(t *testing.T) {
	_, cli := binaries(t)
	dir := t.TempDir()
	labels, records := filepath.Join(dir, "labels.csv"), filepath.Join(dir, "records")
	out, err := exec.Command(cli, "provision", "--model", "SP-100 Smart Plug", "--count", "2", "--serial-prefix", "SP100-",
		"--labels", labels, "--records", records).CombinedOutput()
	if err != nil {
		t.Fatalf("baseline provision: %v\n%s", err, out)
	}
	lb, _ := os.ReadFile(labels)
	rows := strings.Split(strings.TrimSpace(string(lb)), "\n")
	secret := strings.Split(rows[1], ",")[2]
	state := filepath.Join(dir, "state")
	p := startPlug(t, state, "--provision", filepath.Join(records, "SP100-000001.json"))
	if p.secret != "" {
		t.Fatalf("a factory-provisioned device printed a setup secret: %q", p.lines)
	}
	c := p.client(t)
	other := strings.Split(rows[2], ",")[2] // the other device's label
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": other, "password": ownerPassword}); r.code != 401 {
		t.Errorf("another device's secret = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup with the label's secret = %d %s", r.code, r.body)
	}
	b, _ := os.ReadFile(filepath.Join(state, "identity.json"))
	if !strings.Contains(string(b), `"serial": "SP100-000001"`) {
		t.Errorf("identity.json = %s", b)
	}
	assertNotAtRest(t, state, secret, strings.ReplaceAll(secret, "-", ""), ownerPassword)
}

func TestDeviceRefusesBadRecord(t *testing.T) {
	bin, _ := binaries(t)
	s, _ := auth.NewSetupSecret()
	v, _ := s.Verifier(auth.Params{})
	for name, rec := range map[string]string{
		"malformed":      `{"schema":"baseline.provision/v1","serial":"../../etc","model":"x","device_id":"00","setup_verifier":"x"}`,
		"other model":    fmt.Sprintf(`{"schema":"baseline.provision/v1","serial":"X-1","model":"Other Plug","device_id":"00112233445566778899aabbccddeeff","setup_verifier":%q}`, v),
		"unknown field":  fmt.Sprintf(`{"schema":"baseline.provision/v1","serial":"X-1","model":"SP-100 Smart Plug","device_id":"00112233445566778899aabbccddeeff","setup_verifier":%q,"setup_secret":%q}`, v, s.Reveal()),
		"trailing brace": fmt.Sprintf(`{"schema":"baseline.provision/v1","serial":"X-1","model":"SP-100 Smart Plug","device_id":"00112233445566778899aabbccddeeff","setup_verifier":%q}}`, v),
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "rec.json")
		os.WriteFile(file, []byte(rec), 0o600)
		state := filepath.Join(dir, "state")
		// A device that accepted the record would serve until killed; the
		// deadline turns that into a failure instead of a hung test.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, "--state", state, "--listen", "127.0.0.1:0", "--provision", file).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "device record") {
			t.Fatalf("%s: record accepted: %v\n%s", name, err, out)
		}
		if _, err := os.Stat(filepath.Join(state, "identity.json")); !os.IsNotExist(err) {
			t.Errorf("%s: identity written for a refused record", name)
		}
	}
}

// TestDeviceRefusesRepinningRoot (lab finding): the TUF root the plug
// trusted at its first start is pinned in the sealed store. Removing the
// demo repository's completion marker, or replacing its root file, must
// make the plug refuse to start rather than make and trust a new root.
func TestDeviceRefusesRepinningRoot(t *testing.T) {
	bin, _ := binaries(t)
	for name, tamper := range map[string]func(t *testing.T, state string){
		"marker removed": func(t *testing.T, state string) {
			if err := os.Remove(filepath.Join(state, "demo-repo", cosignKeyFile)); err != nil {
				t.Fatal(err)
			}
		},
		"root replaced": func(t *testing.T, state string) {
			p := filepath.Join(state, "demo-repo", "metadata", "1.root.json")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, bytes.Replace(b, []byte(`"version"`), []byte(` "version"`), 1), 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			p := startPlug(t, state)
			p.stop()
			tamper(t, state)
			before, _ := os.ReadDir(filepath.Join(state, "demo-repo"))
			out, err := exec.Command(bin, "--state", state, "--listen", "127.0.0.1:0").CombinedOutput()
			if err == nil || !strings.Contains(string(out), "refusing") {
				t.Fatalf("the plug started after its root was tampered with: %v\n%s", err, out)
			}
			after, _ := os.ReadDir(filepath.Join(state, "demo-repo"))
			if len(after) != len(before) {
				t.Errorf("the refused start changed the demo repository (%d → %d entries)", len(before), len(after))
			}
		})
	}
}

// TestProductBuildDoesNotSelfProvision: the product build (-tags nodemo)
// has no demo repository and does not act as its own factory: without a
// factory record it refuses to start, and writes no identity.
func TestProductBuildDoesNotSelfProvision(t *testing.T) {
	bin := build(t, ".", "nodemo")
	state := filepath.Join(t.TempDir(), "state")
	out, err := exec.Command(bin, "--state", state, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not provision itself") {
		t.Fatalf("product build without a record: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "identity.json")); !os.IsNotExist(err) {
		t.Error("identity written by a product build that refused to provision itself")
	}
}
