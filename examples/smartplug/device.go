package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/conformance/securitytxt"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/iface"
	"github.com/iotbaseline/baseline/privacy"
	"github.com/iotbaseline/baseline/secrets"
)

// profileJSON is the device's conformance profile (the manufacturer's
// answers, provision by provision). The device serves the ICS built from it
// joined with its live self-check results, and takes its model designation,
// support period and disclosure contact from it, so what the device says
// and what the statement says cannot drift apart.
//
//go:embed profile.json
var profileJSON []byte

// identityFile is the device's non-secret identity (serial, device ID),
// kept beside the sealed store.
type identityFile struct {
	Serial   string    `json:"serial"`
	DeviceID string    `json:"device_id"`
	Model    string    `json:"model"`
	Source   string    `json:"source"` // "factory record" or "self-provisioned"
	Created  time.Time `json:"created"`
}

const maxSmallFile = 16 << 10

// device is the running smart plug: every SDK package wired together.
type device struct {
	dir string
	log *slog.Logger

	profile      *conformance.Profile
	model        string
	manufacturer string
	supportEnd   string
	securityTxt  []byte
	ident        identityFile
	notice       *privacy.Notice
	labelJSON    []byte

	kek   secrets.KEK
	store *secrets.Sealed
	owner *ownerAuth

	plug    *plug
	updates *updater
	cloud   *cloudLink

	web     webUI
	restart context.CancelCauseFunc // ends serving; main then restarts (*errReboot)

	trim memTrimmer

	integ integrity // the start-up check of the running image (integrity.go)
	sec   *security // the security log and anomaly detectors (security.go)

	reset resetPart // factory reset (reset.go)

	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
}

// webUI is the plug's web interface: its address, TLS, server, the
// auth gate's self-check, the self-check report and the interface
// inventory (web*.go).
type webUI struct {
	addr        string // the address the web UI serves on
	tlsCert     tls.Certificate
	tlsConfig   *tls.Config
	srv         *iface.Server
	gateChecker conformance.Checker
	report      *conformance.ReportHandler
	invMu       sync.Mutex
	inv         *iface.Inventory
}

// resetPart is the factory reset (reset.go). updateBusy, set by the update
// code, reports an install in progress (nil: never busy). deleteAtService
// carries deletion requests to the associated service (nil: none
// configured); it must be set before openReset runs, and its queue lives
// outside every registered store (state/erase-requests, not state/outbox,
// which the reset erases before it enqueues the requests). afterReset,
// when set (tests), replaces the restart after a reset.
type resetPart struct {
	resetter        *erase.Resetter
	resetting       atomic.Bool
	updateBusy      func() bool
	deleteAtService erase.Outbox
	afterReset      func()
}

func (d *device) path(name string) string { return filepath.Join(d.dir, name) }
func (d *device) certPath() string        { return d.path("tls-cert.pem") }

// openDevice opens (or on first start creates) the device's state. label
// is non-empty only on the very first start of a device that was not
// given a factory record: it is the setup secret as the label shows it.
func openDevice(ctx context.Context, dir string, o options, log *slog.Logger) (*device, string, error) {
	d := &device{dir: dir, log: log}
	if err := d.loadProfile(); err != nil {
		return nil, "", err
	}
	if err := d.loadPrivacy(); err != nil {
		return nil, "", err
	}
	kek, err := openKEK(ctx, dir, log)
	if err != nil {
		return nil, "", fmt.Errorf("key-encryption key: %w", err)
	}
	d.kek = kek
	log.Info("sealed store", "kek_backend", backendName)
	d.store, err = secrets.Open(ctx, secrets.Config{Dir: d.path("secrets"), KEK: kek, Logger: log})
	if err != nil {
		return nil, "", fmt.Errorf("sealed store: %w", err)
	}
	// Before anything else opens a store: finish an interrupted reset.
	// With an associated service, its deletion requests go through a
	// queue the reset does not erase (cloud_erase.go).
	if o.cloud != "" {
		d.reset.deleteAtService = d.deletionQueue()
	}
	if err := d.openReset(ctx); err != nil {
		return nil, "", fmt.Errorf("factory reset: %w", err)
	}
	label, err := d.loadIdentity(ctx, o.provision)
	if err != nil {
		return nil, "", err
	}
	if d.plug, err = openPlug(durable.OS, dir); err != nil {
		return nil, "", fmt.Errorf("plug state: %w", err)
	}
	if d.updates, err = newUpdater(ctx, d, o); err != nil {
		return nil, "", fmt.Errorf("updates: %w", err)
	}
	if d.cloud, err = newCloudLink(ctx, d, o, log); err != nil {
		return nil, "", fmt.Errorf("cloud link: %w", err)
	}
	if err := d.openSecurity(ctx); err != nil {
		return nil, "", err
	}
	return d, label, nil
}

func (d *device) loadProfile() error {
	p, err := conformance.DecodeProfile(bytes.NewReader(profileJSON), time.Now())
	if err != nil {
		return fmt.Errorf("embedded profile: %w", err)
	}
	d.profile = p
	d.model, d.manufacturer, d.supportEnd = p.Model, p.Manufacturer, p.SupportPeriodEnd
	f := securitytxt.File{Expires: time.Now().Add(180 * 24 * time.Hour).UTC().Truncate(time.Second)}
	c := p.VulnerabilityDisclosure.Contact
	if c != "" && !bytes.ContainsAny([]byte(c), ":") {
		c = "mailto:" + c
	}
	f.Contact = []string{c}
	if p.VulnerabilityDisclosure.PolicyURL != "" {
		f.Policy = []string{p.VulnerabilityDisclosure.PolicyURL}
	}
	f.PreferredLanguages = []string{"en"}
	if d.securityTxt, err = f.Marshal(time.Now()); err != nil {
		return fmt.Errorf("security.txt from profile: %w", err)
	}
	return nil
}

// loadIdentity reads the device's identity, or creates it on first start:
// from a factory record (--provision) or, for a device run on a laptop, by
// acting as its own factory and returning the label's setup secret.
func (d *device) loadIdentity(ctx context.Context, recordFile string) (string, error) {
	b, err := durable.ReadFile(durable.OS, d.path("identity.json"), maxSmallFile)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &d.ident); err != nil {
			return "", fmt.Errorf("identity.json: %w", err)
		}
		if recordFile != "" {
			d.log.Warn("--provision ignored: the device was provisioned before", "serial", d.ident.Serial)
		}
		d.owner, err = openOwnerAuth(ctx, d)
		return "", err
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	var verifier, label string
	if recordFile != "" {
		rec, err := readProvisionRecord(recordFile)
		if err != nil {
			return "", err
		}
		if rec.Model != d.model {
			return "", fmt.Errorf("device record: made for model %q, this firmware is %q", rec.Model, d.model)
		}
		d.ident = identityFile{Serial: rec.Serial, DeviceID: rec.DeviceID, Model: rec.Model, Source: "factory record"}
		verifier = rec.SetupVerifier
	} else {
		if !demoBuild {
			return "", errors.New("this product build does not provision itself: give --provision RECORD (from baseline provision) on the first start")
		}
		var id [16]byte
		rand.Read(id[:])
		d.ident = identityFile{Serial: "DEV-" + hex.EncodeToString(id[:4]), DeviceID: hex.EncodeToString(id[:]), Model: d.model, Source: "self-provisioned"}
		label, verifier, err = newSetupSecret()
		if err != nil {
			return "", err
		}
	}
	d.ident.Created = time.Now().UTC().Truncate(time.Second)
	if d.owner, err = openOwnerAuth(ctx, d); err != nil {
		return "", err
	}
	// The verifier goes in before identity.json: a crash in between leaves
	// a device that starts over as new, never one without a verifier.
	if err := d.owner.provision(ctx, verifier); err != nil {
		return "", err
	}
	b, _ = json.MarshalIndent(d.ident, "", "  ")
	if err := durable.WriteFile(durable.OS, d.path("identity.json"), b, 0o600); err != nil {
		return "", err
	}
	d.log.Info("device provisioned", "serial", d.ident.Serial, "source", d.ident.Source)
	return label, nil
}

// startTLS makes the device certificate from the identity key held by the
// sealed store (or hardware), valid for the names the device is reached by,
// and writes it (public) to tls-cert.pem so a client can pin it.
func (d *device) startTLS(ctx context.Context, addr string) error {
	id, err := d.store.Identity(ctx)
	if err != nil {
		return fmt.Errorf("device identity: %w", err)
	}
	names := []string{"localhost", "127.0.0.1", "::1"}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" && host != "127.0.0.1" && host != "::1" {
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			names = append(names, host)
		}
	}
	// Reuse the stored certificate while it matches the key and names, so
	// a browser's exception survives restarts.
	if b, err := durable.ReadFile(durable.OS, d.certPath(), maxSmallFile); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if c, err := iface.CertificateFromDER(id, blk.Bytes); err == nil && time.Until(c.Leaf.NotAfter) > 30*24*time.Hour && coversNames(c.Leaf, names) {
				d.web.tlsCert = c
				return nil
			}
		}
	}
	c, err := iface.SelfSigned(id, names, 0)
	if err != nil {
		return err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	if err := durable.WriteFile(durable.OS, d.certPath(), pemBytes, 0o644); err != nil {
		return err
	}
	d.web.tlsCert = c
	return nil
}

func coversNames(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// server builds the hardened HTTPS server for the web UI and API.
func (d *device) server() (*iface.Server, error) {
	tc, err := iface.ServerTLS(iface.TLSOptions{Certificates: []tls.Certificate{d.web.tlsCert}})
	if err != nil {
		return nil, err
	}
	h, err := d.routes()
	if err != nil {
		return nil, err
	}
	srv, err := iface.NewServer(iface.ServerConfig{Handler: d.integrityGuard(d.resetGuard(h)), TLS: tc, Logger: d.log, MaxBodyBytes: maxBody})
	if err != nil {
		return nil, err
	}
	d.web.tlsConfig, d.web.srv = tc, srv
	// The self-check report: every checker of the running device plus the
	// embedded profile's own checks. The handler runs the checks at most
	// every 30 s, so the report page cannot be used to keep the plug busy.
	d.web.report = &conformance.ReportHandler{Model: d.model, FirmwareVersion: version}
	d.web.report.Checkers = append(d.checkers(), d.profile, d.web.report, d.reset.resetter, conformance.CheckerFunc(d.resetChecks))
	return srv, nil
}

// declareInterface records the device's one listening service (5.6-1).
func (d *device) declareInterface(addr string) {
	d.web.addr = addr
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	ip, _ := netip.ParseAddr(host)
	if ip.IsUnspecified() {
		ip = netip.Addr{}
	}
	inv, err := iface.NewInventory(iface.Service{
		Name: "web-ui", Network: "tcp", Port: port, Addr: ip, Access: iface.Authenticated, EnabledByDefault: true,
		Purpose: "HTTPS web UI and local API: setup, login, plug switch, updates, self-check; only setup/login, model, support period and security.txt are public",
	})
	if err != nil {
		d.log.Error("interface inventory", "err", err)
		return
	}
	d.web.invMu.Lock()
	d.web.inv = inv
	d.web.invMu.Unlock()
}

func (d *device) inventory() *iface.Inventory {
	d.web.invMu.Lock()
	defer d.web.invMu.Unlock()
	return d.web.inv
}

func (d *device) setupPending() bool { return !d.owner.setUp() }

func (d *device) startBackground(ctx context.Context) {
	bg, cancel := context.WithCancel(ctx)
	d.bgCancel = cancel
	d.bgWG.Add(3)
	go func() { defer d.bgWG.Done(); d.cloud.run(bg) }()
	go func() { defer d.bgWG.Done(); d.cloud.pruneReports(bg) }()
	go func() { defer d.bgWG.Done(); d.updates.run(bg, d.trim.soon) }()
	d.bgWG.Add(1)
	go func() { defer d.bgWG.Done(); d.runSecurity(bg) }()
	d.trim.soon() // start-up: provisioning and auth's dummy hash
}

func (d *device) stopBackground() {
	if d.bgCancel != nil {
		d.bgCancel()
	}
	d.bgWG.Wait()
	d.trim.stop()
}

func (d *device) Close() {
	d.stopBackground()
	if d.owner != nil {
		d.owner.close()
	}
	if d.cloud != nil {
		d.cloud.close()
	}
	if d.updates != nil {
		d.updates.close()
	}
	if d.reset.resetter != nil {
		d.reset.resetter.Close()
	}
	d.closeSecurity()
	if c, ok := d.kek.(interface{ Close() error }); ok {
		c.Close()
	}
}
