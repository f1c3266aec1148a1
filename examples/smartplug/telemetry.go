package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/privacy"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// telemetrySchemaJSON declares every telemetry field the plug may send:
// its purpose (both telemetry purposes rest on consent), its category in
// privacy-inventory.json, who receives it and how it is minimised. The
// exporter sends nothing else, and the manifest on /privacy/settings is
// generated from it (6-4, 6-5).
//
//go:embed telemetry-schema.json
var telemetrySchemaJSON []byte

// consentSubject is whose consent governs telemetry: the plug has one
// account, the owner's.
const consentSubject = ownerAccount

// telemetry counts what the plug does over each period and, at its end,
// hands the record to the privacy exporter, which keeps only the fields
// whose purpose the owner consented to (asking the consent ledger for
// every record), minimises them and queues one message in the durable
// outbox for the MQTT link. Without an associated service it exports
// nothing. The consent ledger is kept either way, so the owner can decide
// before the plug is ever connected.
type telemetry struct {
	log    *slog.Logger
	cloud  *cloudLink
	notice *privacy.Notice
	ledger *privacy.Ledger
	exp    *privacy.Exporter

	interval atomic.Int64  // time.Duration; set by the flag, and by a signed command until restart
	floor    time.Duration // the flag's period: no command makes it shorter
	reset    chan struct{}
	started  time.Time

	mu          sync.Mutex
	periodStart time.Time
	switches    int
	on          bool
	onSince     time.Time
	onFor       time.Duration
	lastSwitch  time.Time
}

func openTelemetry(ctx context.Context, d *device, c *cloudLink, interval time.Duration) (*telemetry, error) {
	schema, err := privacy.DecodeSchema(bytes.NewReader(telemetrySchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("embedded telemetry schema: %w", err)
	}
	id, err := d.store.Identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("device identity: %w", err)
	}
	ledger, err := privacy.OpenLedger(ctx, privacy.LedgerConfig{
		Path: d.path("privacy/consent.log"), Signer: id, Notice: d.notice,
		WithdrawalMethod: "on the plug's Privacy settings page (/privacy/settings)", Logger: d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("consent ledger: %w", err)
	}
	now := time.Now()
	st := d.plug.State()
	t := &telemetry{log: d.log, cloud: c, notice: d.notice, ledger: ledger, reset: make(chan struct{}, 1),
		started: now, periodStart: now, on: st.On, onSince: now, lastSwitch: st.Changed}
	t.interval.Store(int64(interval))
	t.floor = interval
	t.exp, err = privacy.NewExporter(privacy.ExporterConfig{Notice: d.notice, Schema: schema, Consent: ledger, Transport: t, Logger: d.log})
	if err != nil {
		ledger.Close()
		return nil, fmt.Errorf("telemetry exporter: %w", err)
	}
	return t, nil
}

func (t *telemetry) close() error { return t.ledger.Close() }

func (t *telemetry) period() time.Duration { return time.Duration(t.interval.Load()) }

// run exports a record at the end of every period until ctx ends.
func (t *telemetry) run(ctx context.Context) {
	for {
		timer := time.NewTimer(t.period())
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-t.reset:
			timer.Stop()
			continue
		case <-timer.C:
		}
		t.exportNow(ctx)
	}
}

// exportNow closes the current period and exports its record.
func (t *telemetry) exportNow(ctx context.Context) {
	if !t.cloud.configured() {
		return
	}
	if err := t.exp.Export(ctx, consentSubject, t.collect(time.Now())); err != nil {
		t.log.Warn("telemetry not queued", "err", err)
	}
}

// collect returns the period's record and starts a new period. It holds
// every field the schema declares; the exporter decides what leaves.
func (t *telemetry) collect(now time.Time) privacy.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	span, onFor := now.Sub(t.periodStart), t.onFor
	if t.on {
		onFor += now.Sub(t.onSince)
	}
	share := 0.0
	if span > 0 {
		share = min(1, onFor.Seconds()/span.Seconds())
	}
	rec := privacy.Record{
		"switch_count": t.switches,
		"on_share":     share,
		"uptime_h":     int(now.Sub(t.started) / time.Hour),
		"fw_version":   version,
	}
	if !t.lastSwitch.IsZero() {
		rec["last_switch_at"] = t.lastSwitch
	}
	t.periodStart, t.switches, t.onFor, t.onSince = now, 0, 0, now
	return rec
}

// switched counts one switch of the plug.
func (t *telemetry) switched(st plugState) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if st.On != t.on {
		if t.on {
			t.onFor += now.Sub(t.onSince)
		}
		t.on, t.onSince = st.On, now
	}
	t.switches++
	t.lastSwitch = st.Changed
}

// telemetryPayload is what the service receives on
// devices/<device-id>/msg/telemetry (inside the link's envelope).
type telemetryPayload struct {
	Recipient string          `json:"recipient"`
	Purposes  []string        `json:"purposes"`
	Body      json.RawMessage `json:"body"`
}

// Send is the exporter's transport: it queues the message in the outbox,
// to expire after one period (a figure older than that is not worth
// sending late).
func (t *telemetry) Send(ctx context.Context, m privacy.Message) error {
	if !t.cloud.configured() {
		return errNoService
	}
	if m.Sealed || !json.Valid(m.Body) {
		return errors.New("telemetry: the plug sends only JSON bodies")
	}
	b, err := json.Marshal(telemetryPayload{Recipient: m.Recipient, Purposes: m.Purposes, Body: m.Body})
	if err != nil {
		return err
	}
	return t.cloud.outbox.Enqueue(context.WithoutCancel(ctx), resilience.Message{
		Topic: topicTelemetry, Priority: resilience.PriorityLow, TTL: t.period(), Payload: b})
}

// errNoticeChanged: the owner decided on a notice other than the one in
// force (the page was stale).
var errNoticeChanged = errors.New("smartplug: the privacy notice changed since the page was shown")

// decide records the owner's decision for purpose. Consent can be given
// only on the notice in force, whose SHA-256 the page showed (noticeHash).
// A withdrawal stops the next record at once (the ledger answers no before
// it writes) and discards telemetry of that purpose still waiting in the
// outbox, so nothing more of it leaves the plug. With a service, the
// decision's signed receipt is queued for it on topicConsent.
func (t *telemetry) decide(ctx context.Context, purpose string, give bool, noticeHash string) (*privacy.Receipt, error) {
	d := privacy.Decision{Subject: consentSubject, Purpose: purpose, Method: "web-ui"}
	if give {
		if noticeHash != t.notice.Hash() {
			return nil, errNoticeChanged
		}
		d.Kind, d.Notice = privacy.Given, t.notice.Ref()
	} else {
		d.Kind = privacy.Withdrawn
	}
	rc, err := t.ledger.Record(ctx, d)
	if err == nil && t.cloud.configured() {
		// The service learns of every decision, withdrawal above all, with
		// the plug's signature (privacy.VerifyReceipt), however late.
		b, _ := json.Marshal(rc)
		if perr := t.cloud.publish(ctx, topicConsent, b); perr != nil {
			t.log.Warn("consent receipt not queued for the service", "err", perr)
		}
	}
	if !give && !errors.Is(err, privacy.ErrDecision) && !errors.Is(err, privacy.ErrNotConsentPurpose) {
		if n, perr := t.discardPending(ctx, purpose); perr != nil {
			err = errors.Join(err, perr)
		} else if n > 0 {
			t.log.Info("telemetry discarded after withdrawal", "purpose", purpose, "messages", n)
		}
	}
	return rc, err
}

// discardPending removes queued telemetry messages that carry purpose
// (a message carrying other purposes too goes as a whole) and compacts the
// outbox so their bytes leave the flash.
func (t *telemetry) discardPending(ctx context.Context, purpose string) (int, error) {
	var keys []string
	for _, m := range t.cloud.outbox.Pending(0) {
		if m.Topic != topicTelemetry {
			continue
		}
		var p telemetryPayload
		if json.Unmarshal(m.Payload, &p) != nil || slices.Contains(p.Purposes, purpose) {
			keys = append(keys, m.Key)
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if err := t.cloud.outbox.Ack(ctx, keys...); err != nil {
		return 0, err
	}
	return len(keys), t.cloud.outbox.Compact(ctx)
}

// setIntervalCommand is the signed "set-telemetry-interval" command,
// {"seconds": N}. N may lengthen the period up to 24 h but never make it
// shorter than the configured one (--telemetry-interval, the firmware's
// setting): a shorter period would make every figure finer than the
// notice states. The new period holds until the plug restarts.
func (t *telemetry) setIntervalCommand(ctx context.Context, c mqtt.Command) error {
	var args struct {
		Seconds int64 `json:"seconds"`
	}
	dec := json.NewDecoder(bytes.NewReader(c.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&args); err != nil {
		return errors.New("set-telemetry-interval: arguments must be {\"seconds\": N}")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("set-telemetry-interval: trailing data after the arguments")
	}
	p := time.Duration(args.Seconds) * time.Second
	if args.Seconds <= 0 || args.Seconds > int64(maxTelemetryInterval/time.Second) || p < t.floor {
		return fmt.Errorf("set-telemetry-interval: %d s is outside %d to %d", args.Seconds, int64(t.floor/time.Second), int64(maxTelemetryInterval/time.Second))
	}
	t.interval.Store(int64(p))
	select {
	case t.reset <- struct{}{}:
	default:
	}
	t.log.Info("telemetry interval changed by a signed command", "seconds", args.Seconds, "seq", c.Seq)
	return nil
}

// Checks are the consent ledger's (6-2, 6-3) and the exporter's (6-4,
// 6-5) measured self-checks.
func (t *telemetry) Checks() []conformance.Check {
	return append(t.ledger.Checks(), t.exp.Checks()...)
}
