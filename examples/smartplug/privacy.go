package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/privacy"
)

// privacyInventoryJSON declares the personal data the plug processes
// (provision 6-1): what it keeps, why, on what basis, for how long, and that
// none of it leaves the plug in this build. The notice at /privacy and the
// label at /privacy/label.json are generated from it, and the tests check it
// against the files the plug actually writes (TestPrivacyInventoryCoversState).
// Change it, and bump its version, whenever the plug starts keeping or
// sending something new.
//
//go:embed privacy-inventory.json
var privacyInventoryJSON []byte

// loadPrivacy decodes the embedded inventory and builds the notice and the
// label. The controller must be the profile's manufacturer, so the notice
// cannot name someone the rest of the firmware does not.
func (d *device) loadPrivacy() error {
	inv, err := privacy.DecodeInventory(bytes.NewReader(privacyInventoryJSON))
	if err != nil {
		return fmt.Errorf("embedded privacy inventory: %w", err)
	}
	if inv.Controller.Name != d.manufacturer || inv.Product != d.model {
		return fmt.Errorf("embedded privacy inventory: controller %q / product %q, but the profile says %q / %q",
			inv.Controller.Name, inv.Product, d.manufacturer, d.model)
	}
	n, err := privacy.NewNotice(inv)
	if err != nil {
		return fmt.Errorf("privacy notice: %w", err)
	}
	var label bytes.Buffer
	if err := privacy.NewLabel(n, d.profile).WriteJSON(&label); err != nil {
		return fmt.Errorf("privacy label: %w", err)
	}
	d.notice, d.labelJSON = n, label.Bytes()
	return nil
}

// privacyNotice serves the notice (HTML, or plain text for Accept:
// text/plain or ?format=text) without login: a buyer or a guest must be able
// to read it before anyone sets the plug up.
func (d *device) privacyNotice(w http.ResponseWriter, r *http.Request) {
	d.notice.Handler().ServeHTTP(w, r)
}

// privacyLabel serves the machine-readable label.
func (d *device) privacyLabel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(d.labelJSON)
}

// privacyChecks are the notice's own measured self-check, privacy.notice,
// and those of the consent ledger (privacy.consent-ledger) and the
// telemetry exporter (privacy.telemetry).
func (d *device) privacyChecks() []conformance.Check {
	if d.notice == nil {
		return nil
	}
	cs := d.notice.Checks()
	if d.cloud != nil && d.cloud.tel != nil {
		cs = append(cs, d.cloud.tel.Checks()...)
	}
	return cs
}

// reportRetention is how often delivered and expired switch reports are
// removed from flash; the inventory's service-reports purpose promises
// removal within this period of delivery or expiry (plus the reports' 24 h
// time to live).
const reportRetention = time.Hour

// pruneReports removes delivered and expired switch reports from the
// outbox's files at start and then every reportRetention, so that the
// retention the notice states holds: the outbox by itself would keep their
// bytes until its segment fills.
func (c *cloudLink) pruneReports(ctx context.Context) {
	t := time.NewTicker(reportRetention)
	defer t.Stop()
	for {
		if err := c.pruneOnce(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("outbox: removing delivered reports failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneOnce marks expired reports done (Ack without keys does exactly that)
// and rewrites the outbox with only the pending ones.
func (c *cloudLink) pruneOnce(ctx context.Context) error {
	if err := c.outbox.Ack(ctx); err != nil {
		return err
	}
	return c.outbox.Compact(ctx)
}
