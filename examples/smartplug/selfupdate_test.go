package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/update"
)

// The self-update tests run the real thing: plug binaries built with
// -ldflags (version, release counter), a TUF repository written by the
// baseline CLI and served over HTTP on loopback, the plug's real HTTPS API,
// and restarts by syscall.Exec inside the plug's own process.

// buildPlug builds the plug as release version/counter with the given
// build tags, once per test run.
func buildPlug(t *testing.T, version string, counter int, tags string) string {
	t.Helper()
	testenv.Short(t, "smartplug self-update test (builds and runs the device)")
	buildMu.Lock()
	defer buildMu.Unlock()
	ld := fmt.Sprintf("-s -w -X main.version=%s -X main.releaseCounter=%d", version, counter)
	key := "plug|" + tags + "|" + ld
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
	out, err := exec.Command("go", "build", "-tags", tags, "-ldflags", ld, "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags %q -ldflags %q: %v\n%s", tags, ld, err, out)
	}
	built[key] = bin
	return bin
}

// makerRepo is a maker's update repository made with the baseline CLI.
type makerRepo struct {
	t    *testing.T
	cli  string
	dir  string
	key  string
	root string // 1.root.json: what the plug trusts
	url  string
}

func newMakerRepo(t *testing.T) *makerRepo {
	t.Helper()
	_, cli := binaries(t)
	dir := t.TempDir()
	m := &makerRepo{t: t, cli: cli, dir: filepath.Join(dir, "repo"), key: filepath.Join(dir, "k")}
	m.run("keygen", "-alg", "ecdsa-p256", "-out", m.key, "-insecure-plaintext")
	m.key += ".key"
	m.run("release", "init", "-repo", m.dir, "-root-key", m.key, "-targets-key", m.key, "-snapshot-key", m.key, "-timestamp-key", m.key)
	m.root = filepath.Join(m.dir, "metadata", "1.root.json")
	srv := httptest.NewServer(http.FileServer(http.Dir(m.dir)))
	t.Cleanup(srv.Close)
	m.url = srv.URL
	return m
}

func (m *makerRepo) run(args ...string) {
	m.t.Helper()
	if out, err := exec.Command(m.cli, args...).CombinedOutput(); err != nil {
		m.t.Fatalf("baseline %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// publish is all a maker does to ship a plug binary.
func (m *makerRepo) publish(bin, version string, counter int, security bool) string {
	m.t.Helper()
	path := "smartplug/smartplug-" + version
	args := []string{"release", "add", "-repo", m.dir, "-image", bin, "-path", path, "-version", version,
		"-counter", strconv.Itoa(counter), "-hardware-id", hardwareID, "-reboot", "-downtime", "5s",
		"-targets-key", m.key, "-snapshot-key", m.key, "-timestamp-key", m.key}
	if security {
		args = append(args, "-security", "-risk", "someone on your network could switch the plug")
	}
	m.run(args...)
	return path
}

// signedSHA256 returns the SHA-256 the newest signed targets metadata
// lists for path.
func (m *makerRepo) signedSHA256(path string) string {
	m.t.Helper()
	files, _ := filepath.Glob(filepath.Join(m.dir, "metadata", "*.targets.json"))
	best, bestN := "", -1
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), ".", 2)[0])
		if err == nil && n > bestN {
			best, bestN = f, n
		}
	}
	b, err := os.ReadFile(best)
	if err != nil {
		m.t.Fatal(err)
	}
	var md struct {
		Signed struct {
			Targets map[string]struct {
				Hashes map[string]string `json:"hashes"`
			} `json:"targets"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		m.t.Fatal(err)
	}
	h := md.Signed.Targets[path].Hashes["sha256"]
	if h == "" {
		m.t.Fatalf("%s lists no sha256 for %s", best, path)
	}
	return h
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// running is what a restarted plug runs: its process image and the state
// its API reports.
type running struct {
	exe, exeHash string
	info         infoResponse
	st           updateStatus
}

// observe reads the running process's image (/proc/PID/exe, which after
// syscall.Exec is the slot file) and the plug's info and update status.
func observe(t *testing.T, p *plugProc, c *http.Client) running {
	t.Helper()
	var r running
	exe := fmt.Sprintf("/proc/%d/exe", p.cmd.Process.Pid)
	r.exe, _ = os.Readlink(exe)
	r.exeHash = fileSHA256(t, exe)
	if resp := do(t, c, "GET", p.url("/api/info"), "", ""); resp.code != 200 || json.Unmarshal([]byte(resp.body), &r.info) != nil {
		t.Fatalf("/api/info = %d %s", resp.code, resp.body)
	}
	if resp := do(t, c, "GET", p.url("/api/update"), "", ""); resp.code != 200 || json.Unmarshal([]byte(resp.body), &r.st) != nil {
		t.Fatalf("/api/update = %d %s", resp.code, resp.body)
	}
	return r
}

func login(t *testing.T, p *plugProc) *http.Client {
	t.Helper()
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("owner login = %d %s", r.code, r.body)
	}
	return c
}

// waitFor polls the plug (which restarts itself in between: connection
// errors are expected) until cond holds, logging in again when the session
// is refused.
func waitFor(t *testing.T, p *plugProc, what string, cond func(c *http.Client) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var c *http.Client
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("waiting for %s: the plug exited; stderr:\n%s", what, p.stderr)
		default:
		}
		if c == nil {
			c = p.client(t)
			c.Timeout = 5 * time.Second
		}
		r, err := c.Get(p.url("/api/update"))
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusUnauthorized {
				if r, err := c.Post(p.url("/api/login"), "application/json", strings.NewReader(`{"password":"`+ownerPassword+`"}`)); err == nil {
					r.Body.Close()
				}
				continue
			}
			if r.StatusCode == 200 && cond(c) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	t.Fatalf("timed out waiting for %s; stderr:\n%s", what, p.stderr)
}

func getStatus(c *http.Client, p *plugProc) (updateStatus, infoResponse, bool) {
	var st updateStatus
	var info infoResponse
	for _, x := range []struct {
		path string
		v    any
	}{{"/api/update", &st}, {"/api/info", &info}} {
		r, err := c.Get(p.url(x.path))
		if err != nil {
			return st, info, false
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || json.Unmarshal(b, x.v) != nil {
			return st, info, false
		}
	}
	return st, info, true
}

// TestSelfUpdate: the maker publishes 1.1.0 with baseline release add; the
// owner installs it through the API; the plug downloads it into its
// inactive slot, restarts into it (same process, same address), passes its
// health check and commits. Then 1.2.0, built to fail its health check, is
// installed by the Scheduler on its own (auto-install is on by default),
// rolled back, and never offered or installed again, also not after a
// power cycle.
func TestSelfUpdate(t *testing.T) {
	v100 := buildPlug(t, "1.0.0", 1, "")
	v110 := buildPlug(t, "1.1.0", 2, "")
	v120 := buildPlug(t, "1.2.0", 3, "healthfail")
	repo := newMakerRepo(t)
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"--update-repo", repo.url, "--update-root", repo.root}

	p := startBinary(t, v100, nil, state, args...)
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	now := observe(t, p, c)
	if now.info.Version != "1.0.0" || now.st.Committed != "1.0.0" || now.exeHash != fileSHA256(t, v100) {
		t.Fatalf("first start: %+v", now)
	}
	// Nothing to install yet: the owner's request is refused.
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 409 {
		t.Errorf("install with nothing published = %d %s", r.code, r.body)
	}
	// Not the owner: no install.
	if r := jsonDo(t, p.client(t), "POST", p.url("/api/update/install"), nil); r.code != 401 {
		t.Errorf("install without a session = %d %s", r.code, r.body)
	}

	path110 := repo.publish(v110, "1.1.0", 2, true)
	r := jsonDo(t, c, "POST", p.url("/api/update/check"), nil)
	for _, want := range []string{`"available": true`, `"version": "1.1.0"`, `"security": true`, "switch the plug", "the plug restarts", `"auto_install": true`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("update status lacks %q: %s", want, r.body)
		}
	}
	// The owner's controls (auto-install off, so that only the owner's
	// requests install): a security release is postponed for at most the
	// maker's cap, whatever the owner asks; a cross-site request installs
	// nothing.
	if r := jsonDo(t, c, "PUT", p.url("/api/update/policy"), map[string]bool{"auto_install": false}); r.code != 200 || !strings.Contains(r.body, `"auto_install": false`) {
		t.Fatalf("policy = %d %s", r.code, r.body)
	}
	var st updateStatus
	r = jsonDo(t, c, "POST", p.url("/api/update/postpone"), map[string]int{"hours": 1000})
	if json.Unmarshal([]byte(r.body), &st); r.code != 200 || !st.PostponeCapped ||
		st.PostponedUntil.After(time.Now().Add(maxSecurityPostpone)) || st.PostponedUntil.Before(time.Now().Add(maxSecurityPostpone-time.Hour)) {
		t.Errorf("postponing a security release by 1000 h = %d %s", r.code, r.body)
	}
	if pg := do(t, c, "GET", p.url("/update"), "", ""); !strings.Contains(pg.body, "Postponed until") || !strings.Contains(pg.body, "Install now") || !strings.Contains(pg.body, "Turn automatic installation on") {
		t.Errorf("update page with a postponed release:\n%s", pg.body)
	}
	if r := jsonDo(t, c, "POST", p.url("/api/update/resume"), nil); r.code != 200 || strings.Contains(r.body, "postponed_until") {
		t.Errorf("resume = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil, "Sec-Fetch-Site", "cross-site"); r.code != 403 {
		t.Errorf("cross-site install = %d %s", r.code, r.body)
	}
	if st, _, _ := getStatus(c, p); st.Phase != "idle" || st.Committed != "1.0.0" {
		t.Errorf("after the refused requests: %+v", st)
	}
	start := time.Now()
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 202 {
		t.Fatalf("install = %d %s", r.code, r.body)
	}
	waitFor(t, p, "1.1.0 committed", func(c *http.Client) bool {
		st, info, ok := getStatus(c, p)
		return ok && info.Version == "1.1.0" && st.Committed == "1.1.0" && st.Phase == "idle"
	})
	t.Logf("1.1.0 from install request to committed: %v", time.Since(start).Round(time.Millisecond))
	c = login(t, p)
	now = observe(t, p, c)
	if now.exeHash != repo.signedSHA256(path110) || !strings.HasPrefix(now.exe, filepath.Join(state, "slots")) {
		t.Errorf("after the update the plug runs %s (%s), not the signed 1.1.0 image from its slot", now.exe, now.exeHash)
	}
	if now.st.CommittedCounter != 2 || !strings.Contains(now.st.Health, "passed") {
		t.Errorf("after the update: %+v", now.st)
	}
	if pg := do(t, c, "GET", p.url("/update"), "", ""); !strings.Contains(pg.body, "Running version: <b>1.1.0</b>") || !strings.Contains(pg.body, "up to date") {
		t.Errorf("update page after the update:\n%s", pg.body)
	}

	// 1.2.0 fails its health check. The Scheduler installs it by itself:
	// a policy change makes it check again.
	path120 := repo.publish(v120, "1.2.0", 3, false)
	for _, on := range []bool{false, true} {
		if r := jsonDo(t, c, "PUT", p.url("/api/update/policy"), map[string]bool{"auto_install": on}); r.code != 200 {
			t.Fatalf("policy = %d %s", r.code, r.body)
		}
	}
	waitFor(t, p, "1.2.0 rolled back", func(c *http.Client) bool {
		st, info, ok := getStatus(c, p)
		return ok && info.Version == "1.1.0" && st.RolledBack != nil && st.RolledBack.Version == "1.2.0"
	})
	c = login(t, p)
	now = observe(t, p, c)
	if !strings.Contains(now.st.RolledBack.Reason, "health check failed") || now.st.Committed != "1.1.0" || now.exeHash != repo.signedSHA256(path110) {
		t.Errorf("after the failed 1.2.0: %+v, running %s", now.st, now.exeHash)
	}
	if pg := do(t, c, "GET", p.url("/update"), "", ""); !strings.Contains(pg.body, "rolled back") || !strings.Contains(pg.body, "health check failed") {
		t.Errorf("update page after the rollback:\n%s", pg.body)
	}
	// Never offered, never installed again.
	if r := jsonDo(t, c, "POST", p.url("/api/update/check"), nil); !strings.Contains(r.body, `"available": false`) {
		t.Errorf("1.2.0 offered again after its rollback: %s", r.body)
	}
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 409 {
		t.Errorf("install after the rollback = %d %s", r.code, r.body)
	}
	_ = path120

	// Power cycle: the factory binary (1.0.0) is started again, as a
	// bootloader would be. It is older than the committed image, so it
	// is not recorded; the launcher starts 1.1.0, which checks at start
	// and still does not install 1.2.0.
	p.stop()
	// The plug's own timeline of the two updates (go test -v).
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		for _, m := range []string{"update: installed", "launcher: starting slot", "update: trial boot", "update: committed", "update: rolled back", "health check"} {
			if strings.Contains(l, m) {
				t.Log(l)
				break
			}
		}
	}
	p = startBinary(t, v100, nil, state, args...)
	c = login(t, p)
	waitFor(t, p, "the check at start", func(c *http.Client) bool {
		st, _, ok := getStatus(c, p)
		return ok && !st.Checked.IsZero()
	})
	now = observe(t, p, c)
	if now.info.Version != "1.1.0" || now.exeHash != repo.signedSHA256(path110) || now.st.Available || now.st.Phase == "downloading" {
		t.Errorf("after a power cycle: %+v", now)
	}
	p.stop()
	if !strings.Contains(p.stderr.String(), "older than the committed image") {
		t.Errorf("the launcher did not say why it did not record the older build")
	}
}

// TestSelfUpdateKill9 cuts the plug's power (kill -9) at random moments
// while it installs 1.1.0: during the download, the install, the restart
// into the new slot and the health check and commit. After every restart
// (of the factory binary, as a bootloader would start) the plug must run a
// complete, verified image — 1.0.0, the factory build, or 1.1.0 with the
// hash the repository signed, each from the slot the journal names — and
// the owner must be able to log in. SMARTPLUG_KILL_CYCLES sets the number
// of cuts (default 50; a bench run uses 200).
func TestSelfUpdateKill9(t *testing.T) {
	cycles := 50
	if s := os.Getenv("SMARTPLUG_KILL_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SMARTPLUG_KILL_CYCLES=%q", s)
		}
		cycles = n
	}
	v100 := buildPlug(t, "1.0.0", 1, "")
	v110 := buildPlug(t, "1.1.0", 2, "")
	repo := newMakerRepo(t)
	args := []string{"--update-repo", repo.url, "--update-root", repo.root}

	// The template: set up, auto-install off (so the plug installs only
	// when told to, and a restart is quiet until then).
	tmpl := filepath.Join(t.TempDir(), "template")
	p := startBinary(t, v100, nil, tmpl, args...)
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c, "PUT", p.url("/api/update/policy"), map[string]bool{"auto_install": false}); r.code != 200 {
		t.Fatalf("policy = %d %s", r.code, r.body)
	}
	p.stop()
	path110 := repo.publish(v110, "1.1.0", 2, true)
	hash100, hash110 := fileSHA256(t, v100), repo.signedSHA256(path110)

	state := filepath.Join(t.TempDir(), "state")
	fresh := func() {
		os.RemoveAll(state)
		if out, err := exec.Command("cp", "-a", tmpl, state).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}

	// One uncut install measures how long the whole sequence takes; the
	// cuts are spread over that time (and a little beyond).
	fresh()
	p = startBinary(t, v100, nil, state, args...)
	c = login(t, p)
	t0 := time.Now()
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 202 {
		t.Fatalf("install = %d %s", r.code, r.body)
	}
	waitFor(t, p, "1.1.0 committed", func(c *http.Client) bool {
		st, info, ok := getStatus(c, p)
		return ok && info.Version == "1.1.0" && st.Phase == "idle"
	})
	span := time.Since(t0)
	t.Logf("install request to committed, uncut: %v", span.Round(time.Millisecond))
	p.stop()

	phases := map[string]int{}
	loop := time.Now()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	fresh()
	p = startBinary(t, v100, nil, state, args...)
	for i := 0; i < cycles; i++ {
		c := login(t, p)
		if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 202 {
			t.Fatalf("cycle %d: install = %d %s", i, r.code, r.body)
		}
		// Stratified: cycle i cuts in the i-th slice of the span.
		delay := time.Duration((float64(i%10) + rng.Float64()) / 10 * 0.7 * float64(span))
		time.Sleep(delay)
		p.cmd.Process.Kill()
		<-p.done
		phases[phaseOnFlash(t, state)]++

		p = startBinary(t, v100, nil, state, args...)
		c = login(t, p) // the owner can log in
		now := observe(t, p, c)
		committedSlot := filepath.Join(state, "slots", "slot-"+now.st.Slot)
		switch {
		case now.info.Version == "1.0.0" && now.exeHash == hash100:
		case now.info.Version == "1.1.0" && now.exeHash == hash110:
		default:
			t.Fatalf("cycle %d (cut after %v): the plug runs %s %s (%s), neither verified image", i, delay, now.info.Version, now.exe, now.exeHash)
		}
		// The committed slot holds exactly its image: the running one,
		// unless this start is the new image's trial.
		if now.st.Phase != "trial" && fileSHA256(t, committedSlot) != now.exeHash {
			t.Fatalf("cycle %d: committed slot %s does not hold the running image", i, now.st.Slot)
		}
		if now.st.RolledBack != nil {
			t.Fatalf("cycle %d: a power cut rolled 1.1.0 back: %+v", i, now.st.RolledBack)
		}
		if now.info.Version == "1.1.0" || now.st.Phase == "trial" {
			// Installed (or committing now): start over from 1.0.0.
			if now.st.Phase == "trial" {
				waitFor(t, p, "the trial's commit", func(c *http.Client) bool {
					st, _, ok := getStatus(c, p)
					return ok && st.Phase == "idle"
				})
			}
			p.stop()
			fresh()
			p = startBinary(t, v100, nil, state, args...)
		}
	}
	p.stop()
	t.Logf("%d power cuts in %v; journal phase found at the cut: %v", cycles, time.Since(loop).Round(time.Millisecond), phases)
}

// phaseOnFlash reads the A/B journal of a plug that is not running, as
// its next start will.
func phaseOnFlash(t *testing.T, state string) string {
	t.Helper()
	ab, err := update.NewFileAB(update.FileABConfig{Dir: filepath.Join(state, "slots"), SlotA: filepath.Join(state, "slots", "slot-a"), SlotB: filepath.Join(state, "slots", "slot-b"), MaxAttempts: maxTrialBoots})
	if err != nil {
		t.Fatalf("journal after the cut: %v", err)
	}
	defer ab.Close()
	st := ab.Status()
	return fmt.Sprintf("%s, committed %s", st.Phase, st.Installed.Version)
}

// TestSelfUpdateDeveloperReflash: `go run` after an edit must run the new
// code. A build started by hand that the journal does not know, with a
// release counter not below the committed one, is recorded as the
// committed image (a factory re-flash) and runs in the same process.
func TestSelfUpdateDeveloperReflash(t *testing.T) {
	first := buildPlug(t, "1.0.0", 1, "")
	edited := buildPlug(t, "1.0.0-dev", 1, "")
	state := filepath.Join(t.TempDir(), "state")
	p := startBinary(t, first, nil, state)
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	p.stop() // stderr is complete once the plug has exited
	if !strings.Contains(p.stderr.String(), "recorded as the factory image") {
		t.Errorf("first start did not record the factory image")
	}

	p = startBinary(t, edited, nil, state)
	c = login(t, p)
	now := observe(t, p, c)
	if now.info.Version != "1.0.0-dev" || now.exe != edited || now.st.Committed != "1.0.0-dev" {
		t.Fatalf("the edited build did not run as itself: %+v", now)
	}
	// The committed slot now holds the edited build: a power cycle that
	// starts the committed image runs the new code.
	if fileSHA256(t, filepath.Join(state, "slots", "slot-"+now.st.Slot)) != fileSHA256(t, edited) {
		t.Error("the committed slot does not hold the re-flashed build")
	}
	p.stop()
	if !strings.Contains(p.stderr.String(), "recorded as a factory re-flash") {
		t.Errorf("the re-flash was not logged")
	}
}

// TestSelfUpdateNotAProgram: a signed release that is not a program for
// this device cannot be started; the launcher rolls it back by itself and
// starts the committed image. Before that, the Scheduler does not install
// it while the owner is using the plug (SafeToDisrupt).
func TestSelfUpdateNotAProgram(t *testing.T) {
	v100 := buildPlug(t, "1.0.0", 1, "")
	repo := newMakerRepo(t)
	state := filepath.Join(t.TempDir(), "state")
	p := startBinary(t, v100, nil, state, "--update-repo", repo.url, "--update-root", repo.root)
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	notAProgram := filepath.Join(t.TempDir(), "readme.txt")
	os.WriteFile(notAProgram, []byte(strings.Repeat("this is not firmware\n", 500)), 0o644)
	repo.publish(notAProgram, "1.1.0", 2, false)

	// The owner just switched the plug: the Scheduler finds the release
	// (a policy change makes it check) but does not install it now.
	if r := jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true}); r.code != 200 {
		t.Fatalf("switch = %d %s", r.code, r.body)
	}
	for _, on := range []bool{false, true} {
		jsonDo(t, c, "PUT", p.url("/api/update/policy"), map[string]bool{"auto_install": on})
	}
	waitFor(t, p, "the install deferred", func(c *http.Client) bool {
		st, _, ok := getStatus(c, p)
		return ok && st.Deferred == update.DeferredNotSafe
	})
	if st, _, _ := getStatus(c, p); st.Phase != "idle" || st.Committed != "1.0.0" {
		t.Fatalf("installed while the owner was using the plug: %+v", st)
	}

	// The owner installs it: it cannot be started, so it is rolled back.
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 202 {
		t.Fatalf("install = %d %s", r.code, r.body)
	}
	waitFor(t, p, "1.1.0 rolled back", func(c *http.Client) bool {
		st, _, ok := getStatus(c, p)
		return ok && st.RolledBack != nil && st.Phase != "downloading"
	})
	c = login(t, p)
	now := observe(t, p, c)
	if now.info.Version != "1.0.0" || now.exeHash != fileSHA256(t, v100) || !strings.Contains(now.st.RolledBack.Reason, "could not be started") || now.st.Available {
		t.Errorf("after a release that is not a program: %+v", now)
	}
}

// TestSelfUpdateTrialBootsRollBack: a new image that never finishes its
// health check (a healthfail build told to hang) is cut off by power loss
// at each of its trial boots; after the third, the launcher's Boot rolls it
// back by itself, and the plug runs its committed image again, for good.
func TestSelfUpdateTrialBootsRollBack(t *testing.T) {
	v100 := buildPlug(t, "1.0.0", 1, "")
	hang := buildPlug(t, "1.2.0", 3, "healthfail")
	repo := newMakerRepo(t)
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"--update-repo", repo.url, "--update-root", repo.root}
	env := []string{"SMARTPLUG_TEST_HEALTH=hang"}
	p := startBinary(t, v100, env, state, args...)
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	if r := jsonDo(t, c, "PUT", p.url("/api/update/policy"), map[string]bool{"auto_install": false}); r.code != 200 {
		t.Fatalf("policy = %d %s", r.code, r.body)
	}
	repo.publish(hang, "1.2.0", 3, false)
	if r := jsonDo(t, c, "POST", p.url("/api/update/install"), nil); r.code != 202 {
		t.Fatalf("install = %d %s", r.code, r.body)
	}
	for attempt := 1; attempt <= maxTrialBoots; attempt++ {
		waitFor(t, p, fmt.Sprintf("trial boot %d", attempt), func(c *http.Client) bool {
			st, info, ok := getStatus(c, p)
			return ok && info.Version == "1.2.0" && st.Phase == "trial" && st.Attempts == attempt
		})
		p.cmd.Process.Kill() // power cut before the health check ends
		<-p.done
		p = startBinary(t, v100, env, state, args...)
	}
	c = login(t, p)
	now := observe(t, p, c)
	rb := now.st.RolledBack
	if now.info.Version != "1.0.0" || now.exeHash != fileSHA256(t, v100) || rb == nil || !rb.Automatic || rb.Version != "1.2.0" ||
		!strings.Contains(rb.Reason, "trial boots") || now.st.Committed != "1.0.0" {
		t.Fatalf("after %d cut trial boots: %+v", maxTrialBoots, now)
	}
	// One more power cycle: no fourth trial.
	p.cmd.Process.Kill()
	<-p.done
	p = startBinary(t, v100, env, state, args...)
	c = login(t, p)
	if now := observe(t, p, c); now.info.Version != "1.0.0" || now.st.Phase == "trial" {
		t.Errorf("after the automatic rollback the plug started the rejected image again: %+v", now)
	}
}
