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
//	--cloud off        make the simulated cloud service unreachable (the plug
//	                   keeps working; reports wait in the durable outbox)
//	--user ACCOUNT     started as root: bind the port, hand the state
//	                   directory to ACCOUNT and run as it, with no
//	                   capabilities (5.6-7); its parents must be searchable.
//	                   A restart into an update keeps running as ACCOUNT,
//	                   so it cannot bind a port below 1024 again: use a
//	                   higher port, or let the service manager bind it
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
//     the plug opens no socket beyond its web UI.
//   - resilience: a Supervisor runs the simulated cloud connection (full
//     jitter, start-up spread, busy signals); switch reports go through the
//     durable Outbox, so the plug works, and remembers what to report,
//     while the cloud is down.
//   - conformance: /selfcheck (and /api/selfcheck) is the live report
//     (5.12-3), including the embedded profile.json's own checks; /ics (and
//     /api/ics) is the ICS from that profile joined with it.
//   - privacy: the privacy notice (/privacy) and label (/privacy/label.json)
//     are generated from the embedded privacy-inventory.json, which declares
//     the personal data the plug processes (password verifier, sign-in
//     attempts by address, switch state and queued reports, addresses in the
//     log lines it writes) and that none of it leaves the plug in this build
//     (6-1); the self-check
//     privacy.notice compares what is served with it. Delivered and expired
//     switch reports are removed from the outbox's files every hour.
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
