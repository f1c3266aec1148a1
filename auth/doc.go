// Package auth authenticates a device's owner: per-device setup secrets,
// peppered Argon2id password hashes, brute-force throttling that survives a
// power cut, MAC'd sessions, and a deny-by-default gate for net/http.
//
// Start with [New] for a [*Service] (an [Authenticator]), then
// [NewGate] to put every web route behind a declared [Rule].
//
// # Provisions
//
//   - 5.1-1 (no default password): until the owner sets a password through
//     the setup flow no credential works ([Service.Authenticate] returns
//     [ErrNotProvisioned]) and the [Gate] serves only [Public] and
//     [SetupFlow] routes. Check: "auth.no-default-credential".
//   - 5.1-2 (per-device setup secrets): [NewSetupSecret] draws 80 bits from
//     crypto/rand with rejection sampling (exactly uniform) in Crockford
//     base32 with a check symbol, refuses trivial values, and takes no input
//     it could be derived from. [SetupSecret.Verifier] runs at the factory;
//     the device receives only the verifier, in a [ProvisioningRecord]
//     ([DecodeProvisioningRecord] is strict and fuzzed; [ValidSerial] and
//     [ValidModel] are its rules for the serial and model), and installs it
//     with [Service.Provision].
//   - 5.1-3 (best-practice cryptography): Argon2id PHC strings
//     (the PHC parser is strict and fuzzed), floor m=19 MiB t=2 p=1
//     ([FloorParams], [TuneParams]), a pepper held in the [Vault], constant-time
//     comparison, rehash at login when [Config.Hash] rises, and at most
//     [Config.MaxConcurrentHashes] hashes in flight. Check: "auth.hash-params".
//   - 5.1-4 (change the password): [Service.ChangePassword], needing the
//     current password or the
//     [Config.PresenceProof] hook (a button); every earlier session is
//     revoked.
//   - 5.1-5 (brute force): per-source (IPv6 by /64, bounded table with an
//     explicit overflow policy), per-account and device-wide limits with
//     exponential delays ([ThrottleConfig]); every failure is on flash
//     (durable) before the credential is checked; a throttled
//     attempt returns [ErrThrottled] with RetryAfter and is never hashed; a
//     source that logged in before keeps working during an attack. Check:
//     "auth.throttle" (a live probe from a reserved source).
//   - 5.5-4, 5.5-5 (authenticated access, fresh sessions for security-relevant
//     changes): [Gate] denies any route not declared [Public],
//     [SetupFlow], [Require] or [RequireFresh]: [Gate.Handle] is the only
//     way to add a route, and it takes the rule with the handler, so an
//     undeclared route cannot exist. Check: "auth.routes-declared"
//     ([Gate.Checks]), which sends requests that must be refused through
//     the gate to every non-public route.
//
// # Quick start
//
// At the factory, per device (the baseline provision command does this):
//
//	secret, _ := auth.NewSetupSecret()
//	verifier, _ := secret.Verifier(auth.Params{})
//	// secret.Reveal() goes to the label printer only; the verifier goes to
//	// the device in its record:
//	rec := auth.ProvisioningRecord{Schema: auth.ProvisioningSchema, Serial: serial,
//		Model: model, DeviceID: id, SetupVerifier: verifier, Created: time.Now()}
//	err := rec.WriteJSON(file)
//
// On the device, once, from the record the factory wrote:
//
//	rec, err := auth.DecodeProvisioningRecord(file)
//	// check rec.Model against the firmware's model, keep rec.Serial and
//	// rec.DeviceID, and install rec.SetupVerifier with svc.Provision below.
//
// Then at every start:
//
//	svc, err := auth.New(ctx, auth.Config{
//		Vault:    store, // secrets.Store
//		StateDir: "/var/lib/device/auth",
//		Policy:   auth.Policy{ContextWords: []string{"Acme", "SmartPlug"}},
//	})
//	if svc.State() == auth.Unprovisioned { svc.Provision(ctx, verifierFromFactory) }
//	gate := auth.NewGate(svc)
//	gate.Handle("POST /login", auth.Public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		ses, err := svc.Authenticate(r.Context(), auth.Attempt{Source: auth.SourceFromRequest(r),
//			Account: "owner", Password: auth.Password(r.PostFormValue("password"))})
//		if err != nil { /* ErrThrottled carries RetryAfter; show the form again */ return }
//		auth.SetCookie(w, ses)
//		http.Redirect(w, r, "/", http.StatusSeeOther)
//	}))
//	gate.Handle("GET /api/status", auth.Require("admin"), statusHandler)
//	http.Serve(tlsListener, gate) // and add gate to the self-check
//
// The package Example and [ExampleGate] run these steps; examples/smartplug
// wires them into a whole device (setup, login, password and logout pages
// and their JSON API).
//
// # Security considerations
//
// The vault's not-found convention: [Vault.Get] must return an error
// matching fs.ErrNotExist (secrets.ErrNotFound does); any other error fails
// closed with [ErrVault].
//
// Setup-secret verifiers are not peppered, because the factory cannot know
// the device's pepper; the secret's 80 bits take its place. Password hashes
// are peppered (HMAC-SHA256 of the NFKC password under a 32-byte key from
// the vault), so a dump of the flash without the sealed vault gives an
// attacker nothing to guess against offline.
//
// Each hash runs in one of [Config.MaxConcurrentHashes] arenas of
// [Config.Hash].Memory, allocated on first use and reused (internal/argon2
// is x/crypto's Argon2id taught to work in caller-owned memory, tested
// against upstream), so hashing holds at most [Service.HashMemory] bytes and
// leaves no garbage behind; further attempts wait under their context.
// Arenas are reused, not cleared, between hashes.
//
// Throttling writes one record (one fsync) per admitted attempt, and none
// for a refused one, so an attacker cannot wear the flash faster than the
// throttle lets them try. If the record cannot be written the attempt is
// refused ([ErrThrottleState]). A source that logged in successfully within
// [ThrottleConfig.GoodFor] (30 days by default) is in good standing: it
// skips the per-account and global limits (never its own), so the owner
// keeps access during a distributed attack; an
// attacker behind the owner's own address shares that standing. During a
// large distributed attack a never-seen source may wait for the global
// budget; [Config.PresenceProof] remains available. A source address is kept
// at most [ThrottleConfig.Retention] after its last attempt (30 days and 1
// hour by default), on flash and in memory, erased at the next admitted
// attempt, successful login or restart after that.
//
// The throttle's clock never runs backwards: it is the wall clock, but no
// earlier than the last recorded failure plus the (monotonic) time since
// boot, so a device without a real-time clock that boots in 1970 keeps
// counting its penalties down instead of forgetting or freezing them. Power-off
// time is not credited until the wall clock is set.
//
// Sources are peer addresses; forwarding headers are ignored. Session tokens
// are stateless: logout clears the cookie, and [Service.RevokeSessions] or
// a password change revokes every token at once.
package auth
