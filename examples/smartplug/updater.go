package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/privacy"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/update"
)

// Update settings of the reference device.
const (
	hardwareID = "sp-100-rev-a"
	// checkEvery is the period of automatic checks after the one at start
	// (5.3-5); update.Scheduler jitters each wait by ±20%.
	checkEvery = update.DefaultCheckPeriod
	// maxSecurityPostpone is the maker's cap on postponing a security
	// release (5.3-8).
	maxSecurityPostpone = update.DefaultMaxSecurityPostpone
	// healthTimeout bounds the new image's health check; a check that has
	// not passed by then is a failure.
	healthTimeout = time.Minute
	// busyAfterSwitch: the plug does not restart itself for an update
	// within this time of the owner switching it (SafeToDisrupt).
	busyAfterSwitch = 2 * time.Minute
)

// updateStatus is what the UI and /api/update show.
type updateStatus struct {
	// Installed is the version of the running firmware.
	Installed string `json:"installed_version"`
	// Committed is the firmware the plug starts after a power cycle: the
	// committed slot's image.
	Committed        string `json:"committed_version"`
	CommittedCounter uint64 `json:"committed_counter"`
	Slot             string `json:"committed_slot"`
	// Phase: idle, downloading, installed-pending-reboot, trial,
	// rolled-back (update.Phase).
	Phase    string          `json:"phase"`
	Pending  string          `json:"pending_version,omitempty"`
	Progress *updateProgress `json:"progress,omitempty"`
	Attempts int             `json:"trial_boots,omitempty"`
	// RolledBack is the last release that failed its trial here.
	RolledBack *rolledBack `json:"rolled_back,omitempty"`

	Source     string    `json:"repository"`
	Checked    time.Time `json:"checked"`
	Error      string    `json:"error,omitempty"`
	Available  bool      `json:"available"`
	Version    string    `json:"version,omitempty"`
	Security   bool      `json:"security,omitempty"`
	Notes      string    `json:"security_notes,omitempty"`
	Disruption string    `json:"disruption,omitempty"`
	Path       string    `json:"target,omitempty"`
	// Placeholder: the release comes from the demo repository and is not
	// a firmware image; it is shown, never installed.
	Placeholder bool `json:"placeholder,omitempty"`

	AutoInstall    bool      `json:"auto_install"`
	PostponedUntil time.Time `json:"postponed_until,omitzero"`
	PostponeCapped bool      `json:"postpone_capped,omitempty"`
	MaxPostpone    string    `json:"max_security_postpone"`
	Deferred       string    `json:"deferred,omitempty"`
	LastInstall    string    `json:"last_install_error,omitempty"`
	// Health is the outcome of this image's health check when it started
	// on trial.
	Health string `json:"health_check,omitempty"`
}

type updateProgress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

type rolledBack struct {
	Version   string `json:"version"`
	Reason    string `json:"reason"`
	Automatic bool   `json:"automatic"`
}

// updater wires the update package into the plug: update.Client (TUF
// metadata verified from the pinned root, streaming verified downloads),
// update.FileAB over the launcher's slots, update.Scheduler with the
// owner's update.PolicyStore, and the new image's health check.
type updater struct {
	d      *device
	client *update.Client
	boot   *bootInfo
	policy *update.PolicyStore
	sched  *update.Scheduler
	events chan update.Event // the Scheduler's and the policy's events
	source string
	demo   bool // the demo repository: its release is a placeholder

	bg context.Context // the background context, for installs the owner starts

	// installing counts the applies running (the Scheduler's and the
	// owner's may overlap; the client lets one through and refuses the
	// other with update.ErrBusy); the factory reset refuses to start while
	// it is not zero (device.reset.updateBusy), and apply refuses to start
	// once a reset has begun. A count, not a flag: the refused apply's
	// exit must not clear what the running one set.
	installing atomic.Int32

	mu     sync.Mutex
	st     updateStatus // check results, progress, deferral
	rel    *update.Release
	health string // outcome of this image's health check
}

func newUpdater(ctx context.Context, d *device, o options) (*updater, error) {
	if o.boot == nil {
		return nil, errors.New("updates: the plug was not started through its launcher")
	}
	u := &updater{d: d, boot: o.boot, events: make(chan update.Event, 16)}
	d.reset.updateBusy = u.busy
	dir := d.path("update")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var root []byte
	var hc *http.Client
	var cosign *mldsa65.PublicKey
	pin, err := d.store.Get(ctx, rootPinName)
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return nil, err
	}
	_, statErr := os.Stat(filepath.Join(dir, "client"))
	firstStart := pin == nil && errors.Is(statErr, fs.ErrNotExist)
	repoURL := o.updateRepo
	switch {
	case !demoBuild:
		// The product build trusts only the root built into it (5.3-10).
		if o.updateRoot != "" {
			return nil, errors.New("--update-root is not accepted by a product build: it trusts only the TUF root built into it")
		}
		if root, err = builtInRoot(); err != nil {
			return nil, err
		}
		if repoURL == "" {
			return nil, errors.New("this product build has no demo update repository: give --update-repo")
		}
		u.source = repoURL
	case repoURL == "":
		if root, cosign, repoURL, hc, err = demoRepo(ctx, d, firstStart); err != nil {
			return nil, err
		}
		u.source = "the plug's own demo repository (" + d.path("demo-repo") + ")"
		u.demo = true
	default:
		if o.updateRoot == "" {
			return nil, errors.New("--update-repo needs --update-root: the TUF root the device trusts")
		}
		if root, err = durable.ReadFile(durable.OS, o.updateRoot, update.DefaultMaxRootSize); err != nil {
			return nil, err
		}
		u.source = repoURL
	}
	if demoBuild {
		// The demo build reads its root from a file: pin it in the sealed
		// store at first start and refuse any other later. A product's
		// root is part of its signed image instead.
		if err := checkRootPin(ctx, d, root, pin, firstStart); err != nil {
			d.log.Error("update: refusing the TUF root", "err", err)
			return nil, err
		}
	}
	if u.policy, err = update.OpenPolicyStore(update.PolicyConfig{
		FS: durable.OS, Path: filepath.Join(dir, "policy.json"), MaxSecurityPostpone: maxSecurityPostpone,
		Notify: u.events,
	}); err != nil {
		return nil, err
	}
	c, err := update.New(update.Config{
		TrustedRoot:   root,
		RepositoryURL: repoURL,
		HardwareID:    hardwareID,
		Installer:     u.boot.ab, // also the installed counter and the rejected releases
		Dir:           filepath.Join(dir, "client"),
		HTTPClient:    hc,
		CoSignKey:     cosign,
		Logger:        d.log,
	})
	if err != nil {
		return nil, err
	}
	u.client = c
	if u.sched, err = update.NewScheduler(update.SchedulerConfig{
		Updater:       schedUpdater{u},
		Policy:        u.policy,
		SafeToDisrupt: u.safeToDisrupt,
		CheckPeriod:   checkEvery,
		Notify:        u.events,
		Logger:        d.log,
	}); err != nil {
		return nil, err
	}
	return u, nil
}

// rootPinName is the sealed-store entry holding the SHA-256 of the TUF root
// the plug trusted at its first start. Sealed, so replacing a file in the
// state directory cannot change which root the plug trusts.
const rootPinName = "update.root-pin"

// checkRootPin pins the root on the first start and afterwards refuses any
// other: a root file removed or replaced in the state directory (or a
// different --update-root) must not be trusted silently. Root rotations go
// through TUF's signed chain, not through this file.
func checkRootPin(ctx context.Context, d *device, root, pin []byte, firstStart bool) error {
	sum := sha256.Sum256(root)
	switch {
	case pin == nil && firstStart:
		return d.store.Put(ctx, rootPinName, sum[:])
	case pin == nil:
		return errors.New("update state exists but no TUF root is pinned in the sealed store: refusing to trust a root now (restore the state directory, or delete it to start the plug afresh)")
	case !bytes.Equal(pin, sum[:]):
		return errors.New("the TUF root differs from the one pinned at first start: refusing to trust it (a root file removed or replaced in the state directory, or another --update-root)")
	}
	return nil
}

// schedUpdater is what the Scheduler drives: the plug's check (which
// records what the UI shows) and install (which restarts into the new
// image).
type schedUpdater struct{ u *updater }

func (s schedUpdater) Check(ctx context.Context) (*update.Release, error) {
	rel, err := s.u.check(ctx)
	if s.u.demo {
		// The demo repository's release is a placeholder, not a firmware
		// image: it is announced on the update page, never installed.
		return nil, err
	}
	return rel, err
}

func (s schedUpdater) Apply(ctx context.Context, r *update.Release) error {
	return s.u.apply(ctx, r)
}

// check runs one check and records its outcome for the UI.
func (u *updater) check(ctx context.Context) (*update.Release, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rel, err := u.client.Check(ctx)
	u.mu.Lock()
	defer u.mu.Unlock()
	st := &u.st
	st.Checked = time.Now().UTC().Truncate(time.Second)
	st.Error, st.Available, st.Path, st.Version, st.Security, st.Notes, st.Disruption = "", false, "", "", false, "", ""
	st.Placeholder = false
	u.rel = nil
	if rel == nil {
		st.Deferred = ""
	}
	switch {
	case err != nil:
		st.Error = oneLineErr(err)
		u.d.log.Warn("update check failed", "err", err)
	case rel != nil:
		u.rel = rel
		st.Available, st.Path, st.Placeholder = true, rel.Path, u.demo
		for _, ev := range rel.Events() {
			switch e := ev.(type) {
			case update.SecurityUpdate:
				st.Version, st.Security = e.Version, true
				st.Notes = strings.Join(e.Risks, "; ")
			case update.UpdateAvailable:
				st.Version = e.Version
			case update.Disruption:
				// The plug restarts to install any release (it executes
				// the new slot), whatever the descriptor says.
				e.Reboot = true
				st.Disruption = disruptionText(e)
			}
		}
		u.d.log.Info("update available", "version", st.Version, "security", st.Security)
	}
	return rel, err
}

// errNothingToInstall: the owner asked to install, but no release is
// offered (up to date, or only releases that failed here).
var errNothingToInstall = errors.New("no release to install: the plug is up to date")

// errPlaceholder: the demo repository's release is not installed.
// errResetting refuses an install while a factory reset runs.
var errResetting = errors.New("a factory reset is running; nothing was installed, and the plug checks for updates again later")

var errPlaceholder = errors.New("the demo repository's release is a placeholder, not a firmware image: publish a real one with baseline release add and start the plug with --update-repo and --update-root")

// installNow is the owner's "Install now": check, then install in the
// background (the download takes a while); the plug restarts when done.
func (u *updater) installNow(ctx context.Context) error {
	if u.d.reset.resetting.Load() {
		return errResetting // apply checks again, against a reset that starts later
	}
	rel, err := u.check(ctx)
	switch {
	case err != nil:
		return err
	case rel == nil:
		return errNothingToInstall
	case u.demo:
		return errPlaceholder
	}
	u.mu.Lock()
	bg := u.bg
	u.mu.Unlock()
	if bg == nil {
		return errors.New("the plug is still starting; try again in a moment")
	}
	go u.apply(bg, rel)
	return nil
}

// apply downloads and installs rel into the inactive slot; when it is
// installed the plug restarts into it (5.3-12: the disruption was
// announced with the release).
func (u *updater) apply(ctx context.Context, rel *update.Release) error {
	// Set before looking at the reset, which sets its flag before looking
	// at this one: one of the two always sees the other. Refused here, the
	// Scheduler reports the error as an update.CheckFailed event and tries
	// again after its backoff (by then the reset has restarted the plug).
	u.installing.Add(1)
	defer u.installing.Add(-1)
	if u.d.reset.resetting.Load() {
		u.setInstallError(errResetting.Error())
		return errResetting
	}
	if u.demo {
		return errPlaceholder
	}
	u.setInstallError("")
	err := u.client.Apply(ctx, rel)
	if err != nil {
		if !errors.Is(err, update.ErrBusy) && ctx.Err() == nil {
			u.setInstallError(oneLineErr(err))
			u.d.log.Warn("update: install failed", "target", rel.Path, "err", err)
		}
		return err
	}
	v := rel.Path
	if rel.Descriptor != nil {
		v = rel.Descriptor.Version
	}
	u.d.secEvent(ctx, privacy.SecUpdate, rel.Path, "update "+v+" installed; restarting into it")
	u.restart("update " + v + " installed")
	return nil
}

// busy reports whether an install runs: the factory reset's Busy hook.
func (u *updater) busy() bool { return u.installing.Load() > 0 }

func (u *updater) setInstallError(s string) {
	u.mu.Lock()
	u.st.LastInstall = s
	u.mu.Unlock()
}

// restart ends the plug's serving context; main then executes the
// committed slot's image, whose launcher starts the right slot.
func (u *updater) restart(reason string) {
	st := u.boot.ab.Status()
	u.d.log.Info("restarting", "reason", reason)
	u.d.restart(&errReboot{reason: reason, path: u.boot.slotPath(st.Slot), listen: u.d.web.addr})
}

// safeToDisrupt is the plug's SafeToDisrupt hook: a restart is not
// welcome while the owner is using the plug (switched it within the last
// two minutes). The Scheduler asks again later.
func (u *updater) safeToDisrupt(context.Context) bool {
	ch := u.d.plug.State().Changed
	return ch.IsZero() || time.Since(ch) > busyAfterSwitch
}

// pump records the events of the installer, the Scheduler and the policy
// for the UI. None of them waits for it: an event it is too slow for is
// dropped, and the page reads the installer's Status anyway.
func (u *updater) pump(ctx context.Context) {
	for {
		var ev update.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-u.boot.events:
		case ev = <-u.events:
		}
		u.record(ev)
	}
}

// record applies one event to the update state the UI shows.
func (u *updater) record(ev update.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch e := ev.(type) {
	case update.Downloading:
		u.st.Progress = &updateProgress{Done: e.Done, Total: e.Total}
	case update.Installed, update.Committed, update.RolledBack, update.TrialBoot:
		u.d.log.Info("update event", "event", fmt.Sprintf("%T", e))
	case update.InstallDeferred:
		u.st.Deferred = e.Reason
	case update.ReleasePostponed:
		u.st.Deferred = "postponed"
	case update.CheckFailed:
		u.st.LastInstall = oneLineErr(e.Err)
	case update.PolicyChanged:
		u.st.Deferred = ""
	}
}

// status is the update state for the UI: the installer's (FileAB.Status),
// the last check's, and the owner's policy.
func (u *updater) status() updateStatus {
	u.mu.Lock()
	out := u.st
	out.Health = u.health
	rel := u.rel
	u.mu.Unlock()
	out.Installed = version
	out.Source = u.source
	out.MaxPostpone = maxSecurityPostpone.String()
	as := u.boot.ab.Status()
	out.Phase = string(as.Phase)
	out.Slot = as.Slot
	out.Committed, out.CommittedCounter = as.Installed.Version, as.Installed.Counter
	out.Attempts = as.Attempts
	if as.Pending != nil {
		out.Pending = as.Pending.Version
	}
	if as.Phase != update.PhaseDownloading {
		out.Progress = nil
	}
	if n := len(as.Rejected); n > 0 {
		r := as.Rejected[n-1]
		out.RolledBack = &rolledBack{Version: r.Image.Version, Reason: r.Reason, Automatic: r.Automatic}
	}
	p := u.policy.Policy()
	out.AutoInstall = !p.AutoInstallOff
	if pp := p.Postponed; pp != nil && rel != nil && rel.Descriptor != nil && pp.ReleaseCounter == rel.Descriptor.ReleaseCounter {
		out.PostponedUntil = pp.Until
		if pp.Security {
			if limit := pp.At.Add(maxSecurityPostpone); pp.Until.IsZero() || pp.Until.After(limit) {
				out.PostponedUntil = limit
			}
		}
	}
	return out
}

// setAutoInstall and postpone are the owner's controls (5.3-6, 5.3-8).
func (u *updater) setAutoInstall(on bool) error {
	_, err := u.policy.SetAutoInstall(on)
	return err
}

// postpone postpones the offered release for d (capped for a security
// release); resume ends a postponement.
func (u *updater) postpone(d time.Duration) (update.ReleasePostponed, error) {
	u.mu.Lock()
	rel := u.rel
	u.mu.Unlock()
	if rel == nil {
		return update.ReleasePostponed{}, errNothingToInstall
	}
	ev, err := u.policy.Postpone(rel, time.Now().Add(d))
	if err == nil {
		u.mu.Lock()
		u.st.PostponeCapped = ev.Capped
		u.mu.Unlock()
	}
	return ev, err
}

func (u *updater) resume() error {
	_, err := u.policy.Resume()
	u.mu.Lock()
	u.st.PostponeCapped = false
	u.mu.Unlock()
	return err
}

// run is the plug's update work: the new image's health check and commit
// (or rollback and restart), then the Scheduler: a check right after
// start and about daily (5.3-5), installing as the policy allows (5.3-4).
func (u *updater) run(ctx context.Context, after func()) {
	u.mu.Lock()
	u.bg = ctx
	u.mu.Unlock()
	go u.pump(ctx)
	if u.boot.trial {
		if !u.commitOrRollBack(ctx) {
			return
		}
	}
	after()
	u.sched.Run(ctx)
}

// commitOrRollBack runs the health check of an image on trial and commits
// it, or rolls it back and restarts into the committed image. It reports
// whether the plug goes on running.
func (u *updater) commitOrRollBack(ctx context.Context) bool {
	hctx, cancel := context.WithTimeout(ctx, healthTimeout)
	err := u.healthCheck(hctx)
	cancel()
	if ctx.Err() != nil {
		return false // shutting down: the trial stays pending; the next start counts it
	}
	if err == nil {
		if err = u.boot.ab.Commit(ctx); err == nil {
			u.setHealth("passed; version " + version + " committed")
			u.d.log.Info("update: health check passed; committed", "version", version)
			return true
		}
		// The image is good but its commit could not be recorded (a
		// storage error): rejecting it for good would be wrong. It stays
		// on trial; the next start counts that trial boot and tries the
		// commit again, and if the storage never recovers the trial
		// limit rolls it back.
		u.setHealth("passed, but the commit could not be recorded: " + oneLineErr(err) + "; the next start tries again")
		u.d.log.Error("update: commit failed; the image stays on trial", "version", version, "err", err)
		return true
	}
	u.setHealth("failed: " + oneLineErr(err))
	u.d.log.Error("update: health check failed; rolling back", "version", version, "err", err)
	if rerr := u.boot.ab.Rollback(ctx, "health check failed: "+oneLineErr(err)); rerr != nil {
		u.d.log.Error("update: rollback", "err", rerr)
		return true // the next start counts the trial and rolls back by itself
	}
	u.d.secEvent(ctx, privacy.SecUpdate, version, "rolled back: health check failed")
	u.restart("rolled back: health check failed")
	return false
}

func (u *updater) setHealth(s string) {
	u.mu.Lock()
	u.health = s
	u.mu.Unlock()
}

// healthCheck is what a new image must pass before it is committed: it
// serves its web UI over TLS with its own certificate, its sealed store
// opens and decrypts, and the installer's own self-checks (journal and
// slot images, install gate) pass.
func (u *updater) healthCheck(ctx context.Context) error {
	if err := healthProbe(ctx); err != nil {
		return err
	}
	if err := u.servesItself(ctx); err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	if _, err := u.d.store.Identity(ctx); err != nil {
		return fmt.Errorf("sealed store: %w", err)
	}
	for _, c := range u.boot.ab.Checks() {
		if r := c.Run(ctx); r.Verdict == conformance.Fail {
			return fmt.Errorf("self-check %s: %s", c.ID, r.Detail)
		}
	}
	return nil
}

// servesItself requests /api/info from the plug's own listener, trusting
// only its own certificate, and requires this build's version.
func (u *updater) servesItself(ctx context.Context) error {
	pemBytes, err := os.ReadFile(u.d.certPath())
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	host, port, err := net.SplitHostPort(u.d.web.addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	var lastErr error
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+net.JoinHostPort(host, port)+"/api/info", nil)
		resp, err := hc.Do(req)
		if err == nil {
			var info infoResponse
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &info) == nil && info.Version == version {
				return nil
			}
			err = fmt.Errorf("/api/info: status %d", resp.StatusCode)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return lastErr
}

func (u *updater) close() {
	if u.boot != nil && u.boot.ab != nil {
		u.boot.ab.Close()
	}
}

func disruptionText(e update.Disruption) string {
	var parts []string
	if e.Reboot {
		parts = append(parts, "the plug restarts")
	}
	if e.Downtime > 0 {
		parts = append(parts, fmt.Sprintf("it is off for about %s", e.Downtime.Round(time.Second)))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " and ")
}

func oneLineErr(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Checks reports the update mechanism as the device runs it.
func (u *updater) Checks() []conformance.Check {
	var out []conformance.Check
	if c, ok := any(u.client).(conformance.Checker); ok {
		out = c.Checks()
	}
	out = append(out, u.boot.ab.Checks()...)
	out = append(out, conformance.Check{
		ID: "smartplug.update-policy", Provisions: []string{"5.3-3", "5.3-4", "5.3-6"},
		Title: "Updates install automatically unless the owner turned that off or postponed one; the owner's choice is kept",
		Run: func(ctx context.Context) conformance.Result {
			if u.demo {
				return conformance.Result{Verdict: conformance.Inconclusive,
					Detail: "this plug runs the demo repository, whose release is a placeholder: nothing is installed automatically until the plug is started with --update-repo"}
			}
			p := u.policy.Policy()
			obs := "automatic installation on (the default)"
			if p.AutoInstallOff {
				obs = "automatic installation switched off by the owner; releases are announced and installed with Install now"
			}
			if p.Postponed != nil {
				obs += fmt.Sprintf("; release %d postponed by the owner", p.Postponed.ReleaseCounter)
			}
			obs += fmt.Sprintf("; a security release can be postponed for at most %s; the policy is kept in %s", maxSecurityPostpone, filepath.Join("update", "policy.json"))
			return conformance.Result{Verdict: conformance.Pass, Observed: obs}
		},
	}, conformance.Check{
		ID: "smartplug.update-disruption", Provisions: []string{"5.3-12"},
		Title: "Before an update, the plug says whether installing it restarts the plug and for how long it is off",
		Run: func(ctx context.Context) conformance.Result {
			st := u.status()
			if !st.Available {
				return conformance.Result{Verdict: conformance.Inconclusive, Detail: "no release is offered now, so there is no announcement to read"}
			}
			d := st.Disruption
			if d == "" {
				d = "installing does not interrupt the plug (the release announces no restart and no downtime)"
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: "release " + st.Version + " is shown on /update and GET /api/update with: " + d}
		},
	})
	return append(out, conformance.Check{
		ID: "smartplug.update-check", Provisions: []string{"5.3-5", "5.3-11"}, Title: "The plug checks for security updates by itself and tells you about them",
		Run: func(ctx context.Context) conformance.Result {
			st := u.status()
			switch {
			case st.Checked.IsZero():
				return conformance.Result{Verdict: conformance.Inconclusive, Detail: "no check has completed yet since the plug started"}
			case st.Error != "":
				return conformance.Result{Verdict: conformance.Inconclusive, Observed: "last check " + st.Checked.Format(time.RFC3339), Detail: "the last check failed: " + st.Error}
			}
			obs := fmt.Sprintf("checked %s at start and about every %s (update.Scheduler); ", st.Checked.Format(time.RFC3339), checkEvery)
			if st.Available {
				obs += "release " + st.Version + " offered"
				if st.Security {
					obs += " with security notes"
				}
			} else {
				obs += "up to date"
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: obs}
		},
	})
}
