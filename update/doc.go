// Package update keeps a device's view of a TUF repository current and
// downloads firmware images so that no unverified byte reaches the slot: the
// result of a download is a [Verified] value, the only thing an installer
// accepts. [NewFileAB] is an A/B installer over two slot files (or block
// devices): [Client.Apply] downloads into the inactive slot and switches to
// it for a trial boot; the launcher's [FileAB.Boot] counts trial attempts and
// rolls back after too many; the new firmware commits after its health
// check ([FileAB.Commit]) or gives up ([FileAB.Rollback]).
//
// Start with [New] and [Client.Check]; then [Client.Apply] the returned
// [Release] through [Config.Installer], or [Client.Download] it into a [Slot]
// of your own ([OpenFileSlot] for a file).
// Offline (USB, local file) use [Client.OpenBundle] with a bundle written by
// `baseline release bundle` (release.WriteBundle). Everything that writes
// the formats — descriptors, chunk hashes, co-signatures, bundles — is in
// package update/release; this package only reads and verifies them.
//
// # Provisions
//
//   - 5.3-4, 5.3-5, 5.3-6, 5.3-8 (automatic, timely updates the owner
//     controls): [Scheduler] checks at start and every 24 h with jitter,
//     backs off without giving up, and installs when the [UpdatePolicy]
//     allows and the device's SafeToDisrupt hook agrees; the policy
//     ([OpenPolicyStore], crash-safe) has automatic install and
//     notifications on by default, and postponement that is capped for
//     security releases ([DefaultMaxSecurityPostpone]).
//   - 5.3-2  (a secure update mechanism): [Client.Apply] with an [Installer];
//     [NewFileAB] journals every transition through durable (crash-tested at
//     every write/fsync boundary), counts trial boots only while a trial is
//     pending, raises the anti-rollback counter only at commit and never
//     offers a release that failed its trial again; self-checks
//     update.install-gate and update.installed-image.
//   - 5.3-3  (update from a local bundle): [Client.OpenBundle] (bundles from release.WriteBundle);
//     cosign signatures for makers who sign with cosign: [ParseCosignPublicKey],
//     [VerifyCosign], [VerifySigstoreBundle], [Config.CosignPublicKey].
//   - 5.3-7  (cryptographic update mechanism): TUF threshold signatures via
//     go-tuf's trustedmetadata, SHA-256/384/512, optional ML-DSA-65
//     co-signature ([Config.CoSignKey], [VerifyCoSignature]; release.CoSign makes it);
//     self-checks update.verification and update.metadata-fresh.
//   - 5.3-9  (verify before trusting): signed length, each chunk checked
//     against its signed SHA-256 chaining value before it is written, the
//     whole-image SHA-256 (the chain's end) before the last chunk is
//     written, other listed whole-image hashes at the end
//     ([Client.Download]).
//   - 5.3-10 (trust relationship): [Config.TrustedRoot] pinned in firmware,
//     rotations followed only through signed chains; check update.trust-root.
//   - 5.3-11 (security updates announced with risks): [Descriptor.Security],
//     [Descriptor.Risks], event [SecurityUpdate] from [Release.Events].
//   - 5.3-12 (disruption announced): [Descriptor.Reboot],
//     [Descriptor.Downtime], event [Disruption].
//   - Events for the device's UI ([Event]): the Scheduler, the PolicyStore
//     and FileAB send them on a channel (SchedulerConfig.Notify,
//     PolicyConfig.Notify, FileABConfig.Notify) without ever blocking, so a
//     slow or absent UI never holds up an update.
//   - 5.3-13 (support period published): [Descriptor.SupportUntil] in signed
//     metadata; check update.support-period.
//   - 5.5-3  (algorithm identifiers): the descriptor names its chunk hash
//     (sha256-chain), its format version and the co-signature algorithm
//     (ml-dsa-65); TUF keys name their scheme.
//   - 5.7-1, 5.7-2 (boot integrity; on a change, alert and restrict the
//     network): [FileAB.VerifyRunning] at the firmware's start reads the
//     running slot through SHA-256 (constant memory) and compares it with
//     the length and digest recorded when the image was installed from its
//     verified release; on a mismatch it calls the device's
//     [BootIntegrity] hooks, Restrict (only the alert and update endpoints
//     stay reachable) and then Alert. [FileABConfig.VerifyBoot] makes the
//     launcher's [FileAB.Boot] do the same read before it starts a slot.
//     Measured self-check update.boot-integrity. What this does and does
//     not protect against is under Security considerations. The same
//     comparison is [VerifyImage], for backends with their own record;
//     the RAUC adapter's System.VerifyRunning (update/rauc) uses it with
//     the checksum RAUC recorded, for raw slots.
//   - 5.3-14, 5.3-15 (a part whose software cannot be updated): not this
//     package's to enforce. The maker declares the part in the device
//     profile (conformance.NonUpdatable, "non_updatable": what it is, why
//     it cannot be updated, how it is isolated, how it is replaced); the
//     statement names it and the self-check conformance.non-updatable
//     reports it as DECLARED, never as tested.
//
// # Quick start
//
//	c, err := update.New(update.Config{
//		TrustedRoot:      rootJSON,          // embedded in the firmware
//		RepositoryURL:    "https://updates.example.com/plug",
//		HardwareID:       "acme-plug-v2",
//		Installer:        ab,                // *update.FileAB (its counter is the installed one)
//		Dir:              "/data/update",
//		BuildTime:        buildTime,
//	})
//	rel, err := c.Check(ctx)           // nil, nil when up to date
//	for _, ev := range rel.Events() { ui.Announce(ev) }
//	err = c.Apply(ctx, rel) // Config.Installer: ab, from update.NewFileAB
//	// or let the scheduler decide when: check, announce, install
//	policy, err := update.OpenPolicyStore(update.PolicyConfig{FS: durable.OS, Path: "/data/update/policy.json"})
//	events := make(chan update.Event, 8) // the UI reads it: ui.Show(<-events)
//	s, err := update.NewScheduler(update.SchedulerConfig{Updater: c, Policy: policy, SafeToDisrupt: idle, Notify: events})
//	go s.Run(ctx)
//	// … restart when it suits the user; the launcher calls ab.Boot(ctx) to
//	// learn which slot to start; the new firmware runs its health check:
//	ab.Commit(ctx) // or ab.Rollback(ctx, reason)
//	// At every start, before the device's normal network functions:
//	err = ab.VerifyRunning(ctx, update.BootIntegrity{
//		Restrict: firewall.AlertAndUpdateOnly, // the device's own hooks
//		Alert:    ui.RaiseTamperAlarm,
//	})
//
// # Security considerations
//
// Trust starts at the pinned root; a newer root is accepted only when
// signed by the threshold of the previous root and of itself, and is
// persisted (crash-safe, through durable) so the chain is replayed
// on start. Timestamp, snapshot and targets are persisted once verified,
// which is what stops a mirror from rolling the device back to older
// metadata; when a root rotation changes the timestamp or snapshot keys,
// the local copies are dropped (fast-forward recovery).
//
// Expiry is checked at the trusted time: the clock, but never earlier than
// [Config.BuildTime] or the clock's time at the last successful refresh, so
// setting the clock back does not revive expired metadata (indefinite-freeze
// attack). A clock set far forward cannot raise the floor: the floor moves
// only after metadata verified at that time.
//
// Each target carries a [Descriptor] in its signed "custom" field. A target
// for other hardware ([ErrHardware]) or whose release counter is not above
// the installed one ([ErrRollback]) is refused whatever its version string.
// With [Config.CoSignKey] set, a target also needs an ML-DSA-65 signature
// over the target (see [VerifyCoSignature]) by the pinned key: TUF threshold AND ML-DSA, so a
// release stays sound if the classical keys fall.
//
// Chunks are verified with one SHA-256 pass over the image (descriptor
// format 2). [Descriptor.Chunks] lists, for every chunk but the last, the
// SHA-256 chaining value (the eight state words) of the whole-image hash
// after that chunk, and for the last chunk the image's SHA-256, which must
// equal the target's signed TUF sha256. Chunk sizes are multiples of
// SHA-256's 64-byte block, so a chunk boundary is a compression-function
// boundary: the device feeds chunk i into the running hash, which starts
// from the signed value of chunk i-1, and compares the resulting state
// with the signed value of chunk i before writing it. Making a chunk other
// than the release's pass means producing, from a given chaining value,
// a different sequence of blocks that reaches the same signed chaining
// value: a second preimage (or, for a release author, a collision) of
// SHA-256's iterated compression function from a known chaining input, the
// property the Merkle–Damgård argument for SHA-256's own collision and
// second-preimage resistance rests on (and no easier than attacking SHA-256
// itself is known to be). Chunk lengths are fixed by the signed chunk size
// and length, so no padding or length trick applies, and the order is
// bound as each value depends on all earlier bytes. A resumed download rebuilds the hash state from the
// signed value and the byte count, so the journal holds no SHA-256 state
// that a corrupted journal could bend; it holds only the chunk count and
// the states of extra listed hashes (sha384, sha512), which are computed
// beside the writes and compared at the end.
//
// Downloads are bounded (signed length, per-role metadata limits), refuse
// redirects to another origin and HTML responses, give up on a transfer
// slower than [Config.MinRate], never retry a 4xx, and use a copy of the
// caller's http.Client (never http.DefaultClient). Two chunk buffers are
// held in RAM (one for chunks above 4 MiB, so never more than
// [MaxChunkSize]): the next chunk is read and verified while the previous,
// already verified one is written to the slot; no byte of a chunk is
// written before the whole chunk matched its signed chaining value.
// Progress is journaled at a coarser cadence than the chunks: before the
// verified bytes written since the last record would exceed 16 MiB, every
// 2 s, and when a download ends early; each record follows an fsync of the
// slot, so the journal never claims more than the slot durably holds, and
// power loss costs at most 16 MiB or 2 s of transfer (plus the chunk being
// read), fetched and verified again on resume. With a [FileSlot] or the
// slot [FileAB.Begin] hands out, whose Sync may run beside a write, the
// sync and the journal append run in the background, started once half
// that much is unjournaled, and the writer waits for one only when its
// next chunk would break the bound; any other Slot is synced between
// writes. The slot is synced once
// more before [Verified] is returned. A download resumes after power loss
// only into the same slot ([SlotIdentifier]); the chunks written before the
// reboot are trusted to still be in the slot (they are not read back; the
// installer can run [Verified.Reverify]), as is the journal: both live on
// the device's own storage.
//
// Targets from other TUF tools that carry no descriptor are refused unless
// [Config.InsecureAllowNoDescriptor] is set; then only TUF's checks apply
// and the image must fit in one chunk.
//
// Delegated targets roles are not consulted: releases must be listed in the
// top-level targets role.
//
// Boot integrity ([FileAB.VerifyRunning]) compares the running slot with
// the length and SHA-256 the installer recorded in its journal when it
// installed the image from a verified release (and read it back). It
// detects a change by anyone who can write the slot but not the journal:
// failing flash, another tool, a slot reachable through a debug or
// mass-storage interface while the journal's partition is not. It does
// not stop an attacker who can rewrite the journal too (it is CRC-framed,
// not signed), nor code already running as the firmware, which can skip
// the call: a root of trust (boot ROM, signed bootloader) must verify the
// stage that starts the slot, and that stage should verify the slot
// ([FileABConfig.VerifyBoot]). A slot that cannot be read counts as
// changed (fail closed).
package update
