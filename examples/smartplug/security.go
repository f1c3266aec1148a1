package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/privacy"
)

// The plug's security log and anomaly detection (provision 5.10-1).
//
// Every security event (a login that failed or was refused by the
// throttle, with its source address and never the password; a login that
// succeeded; setup; a password change; an update installed or rolled back;
// a boot-integrity finding) is appended to a privacy.SecurityLog in
// state/security/log. A privacy.Monitor watches one metric: login failures
// in the last hour (privacy.MetricAuthFailures), sampled every
// secSampleEvery and after each failure, against a learned baseline. Its
// alerts are kept for the Security page and, with --cloud, published to
// the associated service (topic "alert"); without a service they stay on
// the page.
//
// A login from a source never seen before is not treated as an anomaly:
// an owner's new phone or a DHCP lease change looks exactly like that, and
// the throttle already limits what an unknown source can try. What is
// anomalous for a plug is a burst of failures, which the baseline catches.

const (
	secDir            = "security"
	secLogFile        = "log"
	secSampleEvery    = 5 * time.Minute
	secMinSamples     = 12 // one hour of samples before the detector alerts
	secMinDeviation   = 5  // failures per hour above the usual ones
	secAlertsShown    = 50
	secEventDamaged   = "log-damaged"
	secEventIntegrity = "boot-integrity"
)

// security holds the plug's log, monitor and the alerts shown in the UI.
type security struct {
	log *privacy.SecurityLog
	mon *privacy.Monitor

	mu      sync.Mutex
	alerts  []privacy.Alert // newest last, at most secAlertsShown
	damaged string          // what OpenSecurityLog found at this start, if anything
	kept    string          // where the damaged copy was moved
}

func (d *device) secLogPath() string { return filepath.Join(d.dir, secDir, secLogFile) }

// openSecurity opens the security log and the monitor. A damaged log (its
// hash chain broken: an edited or removed record) is moved aside, a fresh
// log is started with a "log-damaged" event, and the self-check
// smartplug.security-log fails for the rest of this run.
func (d *device) openSecurity(ctx context.Context) error {
	s := &security{}
	cfg := privacy.SecurityLogConfig{Path: d.secLogPath()}
	l, err := privacy.OpenSecurityLog(ctx, cfg)
	if errors.Is(err, privacy.ErrSecurityLogCorrupt) {
		s.damaged = err.Error()
		s.kept = d.secLogPath() + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
		d.log.Error("security log damaged; keeping the copy and starting a new log", "err", err, "kept", s.kept)
		if rerr := os.Rename(d.secLogPath(), s.kept); rerr != nil {
			return fmt.Errorf("security log: %w (and moving it aside: %v)", err, rerr)
		}
		l, err = privacy.OpenSecurityLog(ctx, cfg)
		if err == nil {
			err = l.Append(ctx, secEventDamaged, "plug", oneLine(s.damaged))
		}
	}
	if err != nil {
		return fmt.Errorf("security log: %w", err)
	}
	s.log = l
	s.mon, err = privacy.NewMonitor(privacy.MonitorConfig{
		Baselines: []privacy.Baseline{{Metric: privacy.MetricAuthFailures, MinSamples: secMinSamples, MinDeviation: secMinDeviation}},
	})
	if err != nil {
		l.Close()
		return err
	}
	d.sec = s
	return nil
}

func oneLine(s string) string {
	if len(s) > 250 {
		s = s[:250]
	}
	return s
}

// secEvent appends one event; a nil log (not open yet) or a failed write
// is logged, never fatal to what caused the event.
func (d *device) secEvent(ctx context.Context, kind, source, detail string) {
	if d.sec == nil {
		return
	}
	if err := d.sec.log.Append(context.WithoutCancel(ctx), kind, source, detail); err != nil {
		d.log.Warn("security log", "kind", kind, "err", err)
	}
	if kind == privacy.SecLoginFailed {
		d.secSample(ctx)
	}
}

// secAuth records the outcome of an owner operation (op: "login", "setup",
// "password-change") from src. The password is never passed here.
// The source is kept as auth's throttle key (an IPv4 address or an IPv6
// /64, no port), as the privacy notice declares.
func (d *device) secAuth(ctx context.Context, op, src string, err error) {
	var th auth.ErrThrottled
	src = auth.SourceKey(src)
	switch {
	case err == nil && op == "login":
		d.secEvent(ctx, privacy.SecLoginOK, src, "owner logged in")
	case err == nil:
		d.secEvent(ctx, privacy.SecSettingChanged, src, op+" done")
	case errors.As(err, &th):
		d.secEvent(ctx, privacy.SecLoginFailed, src, op+" refused by the throttle")
	case errors.Is(err, auth.ErrBadCredentials):
		d.secEvent(ctx, privacy.SecLoginFailed, src, op+": wrong password or setup secret")
	}
}

// secSample feeds the detector the number of failures in the last hour,
// and hands any queued alert on.
func (d *device) secSample(ctx context.Context) {
	if d.sec == nil {
		return
	}
	n := d.sec.log.Count(privacy.SecLoginFailed, time.Now().Add(-time.Hour))
	a, err := d.sec.mon.ObserveValue(privacy.MetricAuthFailures, float64(n))
	if err != nil {
		d.log.Warn("anomaly detector", "err", err)
		return
	}
	if a != nil {
		d.sec.mu.Lock()
		d.sec.alerts = append(d.sec.alerts, *a)
		if len(d.sec.alerts) > secAlertsShown {
			d.sec.alerts = d.sec.alerts[len(d.sec.alerts)-secAlertsShown:]
		}
		d.sec.mu.Unlock()
		d.log.Warn("security alert", "metric", a.Metric, "raised", a.Raised, "reason", a.Reason)
	}
	d.drainAlerts(ctx)
}

// alertMessage is an alert as the associated service receives it.
type alertMessage struct {
	Kind   string    `json:"kind"` // "anomaly"
	Metric string    `json:"metric"`
	Raised bool      `json:"raised"`
	At     time.Time `json:"at"`
	Value  float64   `json:"value"`
	Median float64   `json:"median"`
	Reason string    `json:"reason"`
}

// drainAlerts queues the monitor's alerts for the service (on flash, in
// the outbox) when --cloud is configured; otherwise they stay queued in
// the monitor and are shown on the Security page.
func (d *device) drainAlerts(ctx context.Context) {
	if d.cloud == nil || !d.cloud.configured() {
		return
	}
	err := d.sec.mon.Drain(context.WithoutCancel(ctx), func(ctx context.Context, a privacy.Alert) error {
		b, _ := json.Marshal(alertMessage{Kind: "anomaly", Metric: a.Metric, Raised: a.Raised, At: a.At.UTC(), Value: a.Value, Median: a.Median, Reason: a.Reason})
		return d.cloud.publish(ctx, topicAlert, b)
	})
	if err != nil {
		d.log.Warn("queueing alerts for the service", "err", err)
	}
}

// runSecurity samples the detector every secSampleEvery and records a
// boot-integrity finding once.
func (d *device) runSecurity(ctx context.Context) {
	if d.sec == nil {
		return
	}
	if restricted, finding := d.integrityState(); restricted {
		d.secEvent(ctx, secEventIntegrity, "plug", finding)
	}
	t := time.NewTicker(secSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.secSample(ctx)
		}
	}
}

func (d *device) closeSecurity() {
	if d.sec != nil {
		d.sec.log.Close()
	}
}

// securityChecks are the monitor's measured check (privacy.anomaly-detection)
// and the plug's check of its log (smartplug.security-log).
func (d *device) securityChecks() []conformance.Check {
	if d.sec == nil {
		return nil
	}
	return append(d.sec.mon.Checks(), conformance.Check{
		ID: "smartplug.security-log", Method: conformance.Measured, Provisions: []string{"5.10-1"},
		Title: "The plug keeps a hash-chained log of security events, and it was intact when the plug started",
		Run:   d.checkSecurityLog,
	})
}

func (d *device) checkSecurityLog(context.Context) conformance.Result {
	d.sec.mu.Lock()
	damaged, kept := d.sec.damaged, d.sec.kept
	d.sec.mu.Unlock()
	if damaged != "" {
		return conformance.Result{Verdict: conformance.Fail, Observed: "security log damaged at start",
			Detail: damaged + "; the damaged copy is kept at " + kept + " and a new log was started"}
	}
	n := len(d.sec.log.Events())
	if !d.sec.log.Enabled() {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: fmt.Sprintf("%d events; recording switched off by the owner", n),
			Detail: "the owner switched the security log off: the anomaly detector sees no login failures until it is switched on"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("%d events, hash chain intact at start, recording", n)}
}
