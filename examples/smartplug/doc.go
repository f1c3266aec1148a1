// Command smartplug is the reference device of the baseline SDK: a smart
// plug that runs on a laptop and wires every package together the way a
// product's firmware would, so that it already meets the provisions of
// ETSI EN 303 645 the SDK covers.
//
// # Walk-through
//
// Start it (nothing to configure; state goes to ./smartplug-state):
//
//	go run ./examples/smartplug
//
// On its first start it prints its address and, as the label on a real
// plug would show it, its one-time setup secret:
//
//	smartplug 1.0.0 (SP-100 Smart Plug) serving on https://localhost:8443/
//	listening: 127.0.0.1:8443
//	device certificate: /home/you/smartplug-state/tls-cert.pem
//	setup secret: QJP7-YQJV-RVJ5-N4BV-0
//
// Open the URL. The plug's certificate is its own (self-signed from its
// identity key), so the browser asks you to accept it; a companion app
// would pin tls-cert.pem instead. Until it is set up the plug serves only
// the setup page: type the setup secret and choose a password of at least
// 15 characters. You are then logged in and can switch the plug, change
// the password, see whether a security update is available (the plug made
// and checks its own small TUF repository; its release is a placeholder
// that is announced, never installed) and read its self-check, which
// says in plain words what the plug verified about itself. Restart it:
// the setup secret is not printed again (the plug kept only its verifier),
// and your password still works.
//
// Reset it: the Reset page says what a factory reset deletes, what it keeps
// and why; type RESET to confirm. The page then shows the receipt (what was
// erased, how, and that each store was checked empty) and the same receipt
// as JSON signed with the plug's identity key, to keep. The plug restarts
// by itself and asks for the setup secret from its label again: the label's
// secret survives the reset, your password does not. The API does the same
// with POST /api/reset {"confirm": "RESET"}; check the receipt it returns
// with erase.VerifyReceipt and the key of tls-cert.pem. After the next
// setup, the Reset page also shows the last reset's receipt, with each
// associated service's deletion status as it stands then.
//
// The same is available as a JSON API (log in with POST /api/login
// {"password": …} and send the returned token as "Authorization: Bearer"):
//
//	curl --cacert smartplug-state/tls-cert.pem https://localhost:8443/api/info
//	curl --cacert smartplug-state/tls-cert.pem -H "Authorization: Bearer $TOKEN" https://localhost:8443/api/selfcheck
//
// A factory batch instead gets its setup secrets from `baseline provision`
// (labels to the printer, verifiers to the devices):
//
//	go run ./cmd/baseline provision --model "SP-100 Smart Plug" --count 10 \
//	    --serial-prefix SP100- --labels labels.csv --records records
//	go run ./examples/smartplug --state plug1 --provision records/SP100-000001.json
//
// # Updating itself: A/B slots
//
// The plug's firmware image is its own executable. At every start a small
// launcher (launcher.go, the plug's "bootloader") runs first: state/slots
// holds two slot files and the journal of update.FileAB, which is the boot
// pointer. On the first start the running executable is recorded there as
// the factory image (FileAB.Flash). FileAB.Boot then names the slot to
// start; if that slot's image is not the running executable, the launcher
// executes it in the same process (syscall.Exec, so memory is not doubled).
// Installing an update downloads and verifies it into the inactive slot
// (update.Client's Apply), then "reboots": the plug shuts down and executes
// the committed slot's image, whose launcher starts the new one on trial.
// The new version runs its health check (it serves its web UI over TLS with
// its own certificate, its sealed store opens, the installer's self-checks
// pass) and commits, or rolls back and restarts into the previous version.
// A power cut (kill -9, then a fresh start) during a trial counts a trial
// start; after 3 without a commit the launcher rolls back by itself. A
// rolled-back release is never offered or installed again.
//
// A maker ships a release by building the plug with its version and
// release counter and publishing the binary; that is all:
//
//	go run ./cmd/baseline keygen -out k -insecure-plaintext
//	go run ./cmd/baseline release init -repo repo -root-key k.key -targets-key k.key \
//	    -snapshot-key k.key -timestamp-key k.key
//	go build -o plug-1.1.0 -ldflags "-X main.version=1.1.0 -X main.releaseCounter=2" ./examples/smartplug
//	go run ./cmd/baseline release add -repo repo -image plug-1.1.0 -path smartplug/1.1.0 \
//	    -version 1.1.0 -counter 2 -hardware-id sp-100-rev-a -reboot -downtime 5s \
//	    -targets-key k.key -snapshot-key k.key -timestamp-key k.key
//
// Serve repo/ over HTTP(S) and start the plug with --update-repo URL and
// --update-root repo/metadata/1.root.json. The plug checks at start and
// about daily (update.Scheduler) and installs automatically unless the
// owner switched that off or postponed the release on /update (a security
// release at most 72 hours); it waits while the plug is in use (switched in
// the last two minutes). /update and GET /api/update show the release, its
// security notes and the restart it causes, the download's progress, the
// trial, the commit or the rollback with its reason. To try a release whose
// health check fails, build it with -tags healthfail (a test-only tag).
//
// Developer workflow: `go run ./examples/smartplug` after an edit runs the
// new code. A build started by hand that the journal does not know (not the
// committed image, not a pending or rejected release) and whose release
// counter is not below the committed one is recorded as the committed image
// — a factory re-flash, logged as such — and runs. A build with a lower
// counter is never recorded (that would be a rollback past the
// anti-rollback counter): the launcher starts the committed image and logs
// why; raise -X main.releaseCounter, or start from an empty state
// directory.
//
// # Flags
//
//	--state DIR        state directory (default ./smartplug-state), created 0700
//	--listen ADDR      HTTPS address (default 127.0.0.1:8443; port 0 picks one)
//	--provision FILE   device record from `baseline provision` (first start only)
//	--update-repo URL  TUF repository to check and install from, instead of
//	                   the built-in demo one
//	--update-root FILE root.json trusted for --update-repo (demo build only;
//	                   pinned in the sealed store at first start)
//	--cloud mqtts://HOST[:PORT]
//	                   connect to the associated service (MQTT over mutual
//	                   TLS; default: none, the plug runs fully local and
//	                   sends nothing anywhere). Any other scheme is refused.
//	--cloud-ca FILE    PEM CA(s) the broker's certificate must chain to
//	--cloud-cert FILE  the device certificate issued for -identity-csr
//	--cloud-command-key FILE
//	                   the service's ECDSA P-256 public key (PEM); commands
//	                   that change a setting run only when signed by it
//	--cloud-fleet-size N, --cloud-capacity R
//	                   the fleet and the service's connections per second,
//	                   which size the start-up spread (defaults 50000, 1000)
//	--telemetry-interval D
//	                   telemetry period (default 1h, 1s to 24h)
//	-identity-csr      print a CSR for the identity key (CN = device ID) and
//	                   exit; needs a provisioned plug (or --provision)
//	--user ACCOUNT     started as root: bind the port, hand the state
//	                   directory to ACCOUNT and run as it, with no
//	                   capabilities (5.6-7); its parents must be searchable.
//	                   A restart into an update keeps running as ACCOUNT,
//	                   so it cannot bind a port below 1024 again: use a
//	                   higher port, or let the service manager bind it
//
// # Associated service
//
// The plug's client certificate comes from the maker's CA, for a request
// the plug signs with its identity key (which never leaves the sealed
// store, TPM or token):
//
//	smartplug --state plug1 --provision records/SP100-000001.json -identity-csr > plug1.csr
//	openssl x509 -req -in plug1.csr -CA maker-ca.pem -CAkey maker-ca.key -days 825 \
//	    -extfile <(echo extendedKeyUsage=clientAuth) -out plug1-cert.pem
//	smartplug --state plug1 --cloud mqtts://mqtt.example.com:8883 \
//	    --cloud-ca broker-ca.pem --cloud-cert plug1-cert.pem
//
// The certificate's common name is the plug's device ID, which is also its
// MQTT client ID and topic level; the plug refuses at start a certificate
// for another key or device. A Mosquitto that confines each plug to its own
// topics is configured as in go doc ./resilience/mqtt (require_certificate,
// use_identity_as_username, "pattern readwrite devices/%u/#").
//
// # Build tags
//
//	-tags tpm     KEK and identity key in a TPM 2.0 (SMARTPLUG_TPM: device
//	              path, default /dev/tpmrm0, or tcp:HOST:PORT for swtpm)
//	-tags pkcs11  KEK and identity key on a PKCS#11 token
//	              (SMARTPLUG_PKCS11_MODULE, _TOKEN, _PIN_FILE)
//	-tags nodemo  the product build: no demo repository writer, no
//	              self-provisioning; --update-repo is required and the TUF
//	              root comes from the binary only (trust/root.json, or
//	              -ldflags "-X main.updateRootBase64=…"); without one it
//	              refuses to start
//	-tags healthfail  test only: an image that fails its health check
//
// Build the product static (unless it uses -tags pkcs11: loading a PKCS#11
// module needs cgo), without HTTP/2 and with inlining only where it pays:
//
//	CGO_ENABLED=0 go build -trimpath -tags nodemo,nethttpomithttp2 \
//	    -gcflags=all=-l -gcflags=crypto/...= -gcflags=runtime= \
//	    -ldflags "-s -w -X main.updateRootBase64=…" ./examples/smartplug
//
// A static plug needs no C library on the device (which also keeps it out
// of the plug's memory) and sets no_new_privs on every thread itself; a cgo
// build can set it only on one thread and re-executes itself to spread it,
// unless the service unit already set it (NoNewPrivileges=yes).
// nethttpomithttp2 leaves net/http's HTTP/2 out: the web UI offers only
// HTTP/1.1 anyway, and the update client then fetches over HTTP/1.1.
// -gcflags=all=-l turns the compiler's inlining off, and the two patterns
// after it turn it back on for the standard library's cryptography and the
// runtime. Measured (bench/smartplug and the packages' benchmarks; see
// BENCHMARKS.md): 11.8 MB instead of 13.3 MB with -tags nodemo alone (12.7
// MB without HTTP/2); about 14 MiB resident when idle; TLS handshakes,
// downloads and sealed-secret reads as fast as with inlining; strict
// decoding of a 2 KiB JSON body 1.6 times as slow (about 70 µs).
//
// # What is wired where
//
//   - secrets: the sealed store under state/secrets holds the owner's
//     password hash, the auth pepper and session key, the setup verifier
//     and the device identity key. Its KEK comes from backend_soft.go by
//     default; build with -tags tpm or -tags pkcs11 for hardware.
//   - auth: setup secret → owner password, login, logout (revokes every
//     session), change password (needs the current one), persisted
//     throttling; every route is declared in routeTable and the gate
//     denies the rest.
//   - iface: the hardened HTTPS server (TLS 1.3/1.2 AEAD+ECDHE, no
//     banners, uniform errors, limits), strict JSON decoding, the declared
//     interface inventory and its socket audit, all in the self-check.
//   - update: the launcher and update.FileAB (A/B slots, trial boots,
//     rollback); update.Scheduler with the owner's update.PolicyStore
//     checks at start and about daily and installs; the health check then
//     commits. The demo repository's release is TUF-signed and ML-DSA-65
//     co-signed, and the plug requires both; it is served in-process, so
//     the plug opens no socket beyond its web UI. At every start the
//     launcher reads the slot it starts, and the firmware reads its running
//     image again before it listens (FileAB.VerifyRunning, integrity.go);
//     on a mismatch the plug runs restricted until the next start (web UI:
//     login, self-check and updates only; cloud: alerts only) and raises
//     the alert (5.7-1, 5.7-2; self-check update.boot-integrity).
//   - resilience, resilience/mqtt: with --cloud, a Supervisor runs the MQTT
//     link to the associated service (full jitter, start-up spread, busy
//     signals); switch reports, telemetry and command results go through
//     the durable Outbox and are published with QoS 1 under
//     devices/<device-id>/msg/<topic>, each with its idempotency key, so the
//     plug works, and remembers what to send, while the service is down.
//     The service may send "ping" (unsigned, harmless) and, with
//     --cloud-command-key, "set-telemetry-interval" (signed; it can only
//     lengthen the period --telemetry-interval set); each result
//     comes back on msg/cmd.result. cloudLink.publish is how other parts of
//     the plug queue a message that must reach the service however late.
//     Without --cloud there is no link: nothing is queued and the link's
//     self-checks say so instead of passing.
//   - erase: the factory reset (reset.go, web_reset.go). Its registry holds
//     the owner's login in the sealed store (deleted, then the store's data
//     key rotated: a crypto erase of those entries; the store itself stays,
//     since it also holds the device identity, the label's setup-secret
//     verifier and the pinned update root), the sign-in log under
//     state/auth, the switch state (plug.json), the queued reports and
//     telemetry (state/outbox), the consent ledger (state/privacy) and the
//     update settings (state/update/policy.json); the ledger and the outbox
//     are closed before they are erased. The journal, state/reset.journal,
//     is resumed at every start before any of those stores opens, so a
//     reset cut by power loss is finished first. While a reset runs and
//     until the restart that follows it, the plug answers every request
//     with 503. With --cloud the reset also asks the associated service to
//     delete what it holds (5.11-2): the deletion request waits in
//     state/erase-requests, which the reset does not erase, is moved into
//     the outbox at the next start and sent over MQTT; the service answers
//     with the signed command erase.confirm, and the Reset page and GET
//     /api/reset show its confirmation with the last receipt
//     (cloud_erase.go). Without --cloud the receipt names no associated
//     service: the plug sent nothing to any. The replay record of the
//     service's signed commands (state/mqtt) is kept: it holds one number,
//     nothing of the owner's, and erasing it would let old signed commands
//     run again. Self-checks erase.factory-reset,
//     smartplug.reset-instructions, smartplug.reset-receipt and
//     smartplug.reset-service.
//   - conformance: /selfcheck (and /api/selfcheck) is the live report
//     (5.12-3), including the embedded profile.json's own checks; /ics (and
//     /api/ics) is the ICS from that profile joined with it.
//   - privacy: the privacy notice (/privacy) and label (/privacy/label.json)
//     are generated from the embedded privacy-inventory.json, which declares
//     the personal data the plug processes (password verifier, sign-in
//     attempts by address, switch state and reports, usage figures and
//     running time sent only with consent, consent decisions, addresses in
//     the log lines it writes) and who receives what (6-1); the self-check
//     privacy.notice compares what is served with it. /privacy/settings (owner
//     only) gives and withdraws consent per purpose on the notice shown with
//     it, through the signed, crash-safe consent ledger (privacy.Ledger, with
//     a signed receipt per decision at /privacy/receipt/N), and shows the
//     telemetry manifest and the last messages queued; GET and POST
//     /api/privacy(/consent) are the same for apps. Telemetry
//     (telemetry-schema.json) leaves only through privacy.Exporter, which
//     asks the ledger before every record and minimises each field; a
//     withdrawal also discards that purpose's messages still queued, and
//     each decision's signed receipt is queued for the service
//     (msg/consent).
//     Delivered and expired messages are removed from the outbox's files
//     every hour. The security log and anomaly detection (privacy.Monitor)
//     are not wired into the plug yet.
//
// Public without login: the front page (setup or login form), POST /login
// and POST /api/login, POST /setup and /api/setup until set up (then 409),
// /about and /api/info (model and support period, 5.3-13, 5.3-16),
// /style.css, /favicon.ico (empty), /.well-known/security.txt (5.2-1) and
// the privacy notice /privacy with its label /privacy/label.json (6-1).
// Everything else needs the owner's session; /api/* answers 401 without
// one (403 before setup). The plug runs with no_new_privs set (5.6-7);
// started as root without --user, its self-check reports that as a
// failure, as it should; with --user it gives root up once its port is bound.
package main
