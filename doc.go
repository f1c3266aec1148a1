// Package baseline is an SDK that consumer IoT devices link into their
// firmware to meet ETSI EN 303 645 V2.1.1 (cyber security baseline for
// consumer IoT) by construction, and to prove it: every package enforces a
// group of provisions and reports on itself through a self-check, so the
// device's Implementation Conformance Statement (ICS) is backed by evidence
// from the running code rather than by hand-written claims.
//
// This root package holds no code; it is the map. Start with the reference
// device in examples/smartplug, which wires every package together and runs on
// a laptop with nothing to configure:
//
//	go run ./examples/smartplug
//
// # Packages and provisions
//
//	conformance   4-1, 5.12-3 and the declarations: provision catalog, device
//	              profile, applicability and justification rules, ICS and
//	              self-check reports (JSON, Markdown, HTML)
//	              conformance/securitytxt (5.2-1): security.txt (RFC 9116)
//	auth          5.1-1 … 5.1-5, 5.5-4, 5.5-5: setup secrets, password policy,
//	              Argon2id, persisted brute-force throttling, sessions and a
//	              deny-by-default HTTP gate (the Authenticator)
//	secrets       5.4-1 … 5.4-4, 5.5-3: sealed secret store (the SecretStore)
//	              under a KEK held by a TPM 2.0 (secrets/tpm), a PKCS#11 token
//	              (secrets/pkcs11) or an honest soft fallback; device identity
//	update        5.3-2, 5.3-7, 5.3-9, 5.3-10, 5.3-13, 5.5-3: TUF-verified,
//	              streaming, resumable downloads (the Updater), an A/B
//	              installer for slot files with trial boot, commit and
//	              rollback, offline bundles and cosign signatures;
//	              update/release is the manufacturer's repository writer
//	iface         5.5-1, 5.5-6, 5.5-7, 5.6-x, 5.13-1: TLS configurations,
//	              hardened HTTP server, interface inventory and socket
//	              self-audit, strict JSON and form decoding, validators
//	resilience    5.9-1 … 5.9-3: backoff with start-up spread, connectivity
//	              supervisor, durable outbox; resilience/mqtt (5.5-1, 5.5-5,
//	              5.9-x): MQTT over mutual TLS with the device identity,
//	              delivery acknowledged by the broker, signed commands
//	privacy       6-1 … 6-5, 5.8-x, 5.10-1: data inventory, notice and
//	              label, consent ledger, telemetry schema and exporter, HPKE
//	              envelopes, anomaly detectors, security log
//	erase         5.11-1 … 5.11-4: journaled factory reset with crypto
//	              erase (the Eraser), receipts, instructions, deletion
//	              requests to associated services
//	durable       crash-safe files and logs, and the crash-simulating FS
//	              every state machine is tested against
//	cmd/baseline  the manufacturer's CLI: ics (with --device), ixit,
//	              evidence, scan, residue, provision, keygen, release,
//	              securitytxt, sbom
//
// Still to come: the RAUC adapter, the update policy and scheduler, boot-time
// verification (5.3-4 … 5.3-6, 5.7-x), and wiring the installer, privacy,
// erase and the MQTT link into the reference device — until then its profile
// answers those provisions N.
//
// Packages never import each other: they meet in the device's main through
// small interfaces declared by the package that consumes them, so a device
// links only what it uses.
//
// # Quick start
//
// A device's main opens the sealed store with a KEK (soft, TPM or PKCS#11,
// chosen by a build tag in the device's own code), hands it to auth as the
// vault, serves its routes through auth's gate on iface's hardened TLS
// server, runs the update client and the resilience supervisor, and serves
// conformance's report over every package's Checks. examples/smartplug/main.go
// is that main, annotated; its ICS, with the running plug's measured
// verdicts, comes from
//
//	go run ./cmd/baseline ics --profile examples/smartplug/profile.json \
//		--device https://localhost:8443/api/selfcheck \
//		--device-cert smartplug-state/tls-cert.pem --token-file token
package baseline
