package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/update"
)

// Update settings of the reference device.
const (
	hardwareID = "sp-100-rev-a"
	// installedCounter is the release counter of the firmware this binary
	// is; a release must carry a greater one to be offered.
	installedCounter = 1
	// checkEvery is the period of automatic checks after the one at start
	// (5.3-5); each wait is jittered by ±20% so a fleet spreads out.
	checkEvery = 24 * time.Hour
)

// updateStatus is what the UI and /api/update show.
type updateStatus struct {
	Installed  string    `json:"installed_version"`
	Source     string    `json:"repository"`
	Checked    time.Time `json:"checked"`
	Error      string    `json:"error,omitempty"`
	Available  bool      `json:"available"`
	Version    string    `json:"version,omitempty"`
	Security   bool      `json:"security,omitempty"`
	Notes      string    `json:"security_notes,omitempty"`
	Disruption string    `json:"disruption,omitempty"`
	Path       string    `json:"target,omitempty"`
}

// updater checks the update repository with update.Client: TUF metadata
// verified from the root pinned on the device, the newest release for this
// hardware with a counter above the installed one. Installation comes with
// a later version of the example.
type updater struct {
	d      *device
	client *update.Client
	source string
	kick   chan struct{}

	mu sync.Mutex
	st updateStatus
}

func newUpdater(ctx context.Context, d *device, repoURL, rootFile string) (*updater, error) {
	u := &updater{d: d, kick: make(chan struct{}, 1), st: updateStatus{Installed: version}}
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
	if repoURL == "" {
		if root, cosign, repoURL, hc, err = demoRepo(ctx, d, firstStart); err != nil {
			return nil, err
		}
		u.source = "the plug's own demo repository (" + d.path("demo-repo") + ")"
	} else {
		if rootFile == "" {
			return nil, errors.New("--update-repo needs --update-root: the TUF root the device trusts")
		}
		if root, err = durable.ReadFile(durable.OS, rootFile, update.DefaultMaxRootSize); err != nil {
			return nil, err
		}
		u.source = repoURL
	}
	if err := checkRootPin(ctx, d, root, pin, firstStart); err != nil {
		d.log.Error("update: refusing the TUF root", "err", err)
		return nil, err
	}
	u.st.Source = u.source
	c, err := update.New(update.Config{
		TrustedRoot:      root,
		RepositoryURL:    repoURL,
		HardwareID:       hardwareID,
		InstalledCounter: func() uint64 { return installedCounter },
		Dir:              filepath.Join(dir, "client"),
		HTTPClient:       hc,
		CoSignKey:        cosign,
		Logger:           d.log,
	})
	if err != nil {
		return nil, err
	}
	u.client = c
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

func (u *updater) status() updateStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.st
}

// checkNow runs one check and records its outcome.
func (u *updater) checkNow(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rel, err := u.client.Check(ctx)
	st := updateStatus{Installed: version, Source: u.source, Checked: time.Now().UTC().Truncate(time.Second)}
	switch {
	case err != nil:
		st.Error = oneLineErr(err)
		u.d.log.Warn("update check failed", "err", err)
	case rel != nil:
		st.Available, st.Path = true, rel.Path
		for _, ev := range rel.Events() {
			switch e := ev.(type) {
			case update.SecurityUpdate:
				st.Version, st.Security = e.Version, true
				st.Notes = strings.Join(e.Risks, "; ")
			case update.UpdateAvailable:
				st.Version = e.Version
			case update.Disruption:
				st.Disruption = disruptionText(e)
			}
		}
		u.d.log.Info("update available", "version", st.Version, "security", st.Security)
	}
	u.mu.Lock()
	u.st = st
	u.mu.Unlock()
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

// run checks right after start, then periodically (5.3-5).
func (u *updater) run(ctx context.Context, after func()) {
	u.checkNow(ctx)
	after()
	for {
		t := time.NewTimer(jitter(checkEvery))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		u.checkNow(ctx)
		after()
	}
}

func jitter(d time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(d/5)*2+1))
	return d - d/5 + time.Duration(n.Int64())
}

// Checks reports the update mechanism as the device runs it.
func (u *updater) Checks() []conformance.Check {
	var out []conformance.Check
	if c, ok := any(u.client).(conformance.Checker); ok {
		out = c.Checks()
	}
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
			obs := fmt.Sprintf("checked %s at start and every %s; ", st.Checked.Format(time.RFC3339), checkEvery)
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
