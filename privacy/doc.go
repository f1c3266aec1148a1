// Package privacy derives what a device tells its users about personal data
// — the privacy notice, the machine-readable label, the telemetry manifest —
// and what it does with that data — consent, telemetry export — from one
// declaration, so the two cannot drift apart.
//
// Start with [DecodeInventory] and [NewNotice]; then [OpenLedger] for the
// consent ledger and [NewExporter] for telemetry. The package example shows
// the whole wiring.
//
// # Provisions
//
//   - 6-1 (consumers told which personal data is processed, how, by whom,
//     why): [Inventory] (categories, purposes with legal basis and
//     retention, recipients with third parties and sale, sensors),
//     [DecodeInventory] (strict, field named in every error), [NewNotice]
//     (plain text and HTML, versioned, SHA-256 of the text),
//     [Notice.Handler], [NewLabel] (JSON after the CMU IoT Security &
//     Privacy Label, validating against [LabelJSONSchema]; [DecodeLabel]
//     reads one back strictly and checks it against that schema, for a
//     lab or a store that receives a label). Self-check
//     "privacy.notice" ([Notice.Checks]), measured.
//   - 5.8-3 (external sensing documented): [Sensor] in the inventory, in
//     the notice ("What this device senses") and the label
//     (sensor_data_collection). Same self-check.
//   - 6-2 (valid consent): [Ledger.Record] accepts a Given decision only on
//     the notice in force and only for a purpose that rests on consent;
//     every event is bound to the notice's ID, version and SHA-256, the
//     collection method and time, hash-chained and signed with the device
//     key ([LedgerConfig.Signer]); [Receipt] and [VerifyReceipt] give the
//     user a proof. Self-check "privacy.consent-ledger" ([Ledger.Checks]),
//     measured.
//   - 6-3 (withdrawal at any time): a Withdrawn decision needs no notice,
//     takes effect in [Ledger.Allowed] before it is written, and stops the
//     next telemetry record ([Exporter.Export] asks for every record). Same
//     self-check.
//   - 6-4 (telemetry minimised): [Schema] declares each field's type,
//     purpose, category, recipient and [Rule] (drop, coarsen, bucket, keyed
//     pseudonym — [Pseudonymizer], never a bare hash); [Exporter] drops and
//     counts undeclared fields ([ExportStats]) and keeps a bounded log of
//     what it sent ([Exporter.Sent]). Self-check "privacy.telemetry"
//     ([Exporter.Checks]), measured.
//   - 6-5 (consumers told about telemetry): [NewManifest] generates the
//     telemetry manifest from the same schema and notice the exporter
//     enforces ([Exporter.Manifest]). Same self-check.
//   - 5.8-1, 5.8-2 (personal and sensitive data confidential in transit):
//     [Protect] wraps the device's [Transport]: a message carrying
//     personal data ([Message.Personal]) is sealed in an HPKE envelope
//     ([Sealer], X-Wing = X25519 + ML-KEM-768, HKDF-SHA256, AES-256-GCM;
//     [OpenEnvelope] on the service side) or sent only over TLS whose peer
//     was verified; sensitive data ([Message.Sensitive]) is refused
//     otherwise ([ErrUnprotectedChannel]), other personal data too unless
//     InsecureAllowPersonalInClear. Self-check "privacy.transit"
//     ([Protected.Checks]), measured.
//   - 5.10-1 (telemetry examined for anomalies): [Monitor] runs static
//     allow-lists and learned median/MAD baselines with N-of-M hysteresis
//     over metrics named as AWS IoT Device Defender names them
//     ([MetricAuthFailures] …), and queues alerts while offline
//     ([Monitor.Drain]); [SecurityLog] is the local, bounded, hash-chained
//     log of security events it can count from. Self-check
//     "privacy.anomaly-detection" ([Monitor.Checks]), measured.
//
// # Quick start
//
// Declare the inventory (embed it as JSON: testdata/inventory.json is a
// complete example) and build the notice; serve it and keep it where the
// consent prompt can show it:
//
//	inv, err := privacy.DecodeInventory(bytes.NewReader(inventoryJSON)) // *InventoryError names the field
//	notice, err := privacy.NewNotice(inv)
//	mux.Handle("GET /privacy", notice.Handler())
//	label := privacy.NewLabel(notice, profile) // profile: the device's conformance.Profile, or nil
//
// Open the consent ledger with the device key; ask it before processing:
//
//	ledger, err := privacy.OpenLedger(ctx, privacy.LedgerConfig{
//		Path: "/data/privacy/consent.log", Signer: deviceKey, Notice: notice,
//	}) // a damaged ledger: *LedgerError with the first bad record
//	receipt, err := ledger.Record(ctx, privacy.Decision{
//		Kind: privacy.Given, Subject: account, Purpose: "analytics", Method: "app", Notice: notice.Ref(),
//	})
//	if ledger.Allowed(ctx, account, "analytics") { ... }
//
// Export telemetry through the schema:
//
//	exp, err := privacy.NewExporter(privacy.ExporterConfig{
//		Notice: notice, Schema: schema, Consent: ledger, Transport: mqttTransport,
//	})
//	err = exp.Export(ctx, account, privacy.Record{"power_w": w, "fw_version": v})
//
// Put the 5.8 rule in front of the transport, and run the detectors:
//
//	tr := privacy.Protect(privacy.ProtectConfig{Next: mqttTransport, TLS: link.ConnectionState, Sealer: sealer})
//	mon, err := privacy.NewMonitor(privacy.MonitorConfig{
//		AllowLists: []privacy.AllowList{{Metric: privacy.MetricListeningTCPPorts, Allowed: []string{"443"}}},
//		Baselines:  []privacy.Baseline{{Metric: privacy.MetricAuthFailures, MinDeviation: 5}},
//	})
//	mon.ObserveValue(privacy.MetricAuthFailures, float64(seclog.Count(privacy.SecLoginFailed, time.Now().Add(-time.Hour))))
//
// Register the self-checks: conformance.RunChecks(ctx, notice, ledger, exp, tr, mon).
//
// # Consent and notice versions
//
// Consent is given on one notice: [Ledger.Allowed] honours a Given event only
// while its notice (ID and SHA-256) is the one in force. When the inventory
// changes, bump its Version: every user is asked again, which is the
// conservative reading of GDPR Art. 7 (consent must be informed about the
// processing as it now is). Purposes that rest on another legal basis are
// not asked for and are not stopped by the ledger; the notice says so.
//
// # The ledger on flash
//
// Each event is one record of a durable append log (length + CRC32C
// frames). A record holds the previous record's SHA-256, the event and an
// ECDSA, Ed25519 or RSA signature of the device key over both; record 0
// holds the ledger's random ID and the key. After every append the ledger
// atomically replaces a small head file (count, length, last hash). On
// open, every record is decoded strictly and checked against the one before;
// the signature on the acknowledged head record — which through the chain
// covers every earlier record — and on any record after it is verified;
// the head must match. A record altered, removed, reordered or cut off
// before the head is reported as a [*LedgerError] with its index and the
// file is not touched; a torn tail after the head (power loss during an
// append) is cut. [Ledger.Verify] and the self-check also verify every
// record's own signature. Opening a 10,000-event ledger from disk takes
// 21–43 ms on the shared 2-core development machine (BenchmarkLedgerOpen10k,
// varying with its load); verifying all 10,001 ECDSA P-256 signatures as
// well takes 0.44–1.4 s there (BenchmarkLedgerVerifyAll10k), which is why
// opening relies on the chain and the head's signature.
//
// # Security considerations
//
//   - Rollback: an attacker who can write the flash can replace both the
//     ledger and its head with an older copy (for example from before a
//     withdrawal). Only a hardware monotonic counter can detect that; this
//     package does not use one.
//   - The ledger holds subjects (account names) and is personal data itself;
//     it is kept to prove consent (GDPR Art. 7(1)). A factory reset should
//     remove it (the erase package).
//   - Pseudonym keys live in memory only and are replaced every period
//     (default 24 h) and at every boot: pseudonyms cannot be linked across
//     periods, reboots or devices. A service needing a stable identifier
//     must have it declared as such (and consented to), not derived from a
//     pseudonym.
//   - Inventory and schema documents are bounded (256 KiB, 128 KiB),
//     decoded strictly and fuzzed; the notice HTML escapes every value from
//     the inventory (text and attributes as html/template would, the policy
//     link only http, https or mailto) and is served under a CSP without
//     scripts.
//   - The exporter trusts its [Transport] with what it sends; wrap it with
//     [Protect] so personal data never leaves unprotected. Envelopes are
//     not signed by the device (HPKE base mode): they give confidentiality
//     and integrity against the network, and the channel's client
//     authentication says which device sent them.
//   - The security log is hash-chained but not signed: it shows accidental
//     damage and naive edits, not an attacker who rewrites the whole file.
//     Alerts are queued in memory (bounded); hand them to the device's
//     durable outbox if they must survive a reboot.
package privacy
