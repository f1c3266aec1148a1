// Package update keeps a device's view of a TUF repository current and
// downloads firmware images so that no unverified byte reaches the slot: the
// result of a download is a [Verified] value, the only thing an installer
// accepts.
//
// Start with [New] and [Client.Check]; then [Client.Download] the returned
// [Release] into the inactive slot (any [Slot]; [OpenFileSlot] for a file).
// Offline (USB, local file) use [Client.OpenBundle] with a bundle written by
// [WriteBundle].
//
// # Provisions
//
//   - 5.3-3  (update from a local bundle): [Client.OpenBundle], [WriteBundle];
//     cosign signatures for makers who sign with cosign: [ParseCosignPublicKey],
//     [VerifyCosign], [VerifySigstoreBundle], [Config.CosignPublicKey].
//   - 5.3-7  (cryptographic update mechanism): TUF threshold signatures via
//     go-tuf's trustedmetadata, SHA-256/384/512, optional ML-DSA-65
//     co-signature ([Config.CoSignKey], [CoSign], [VerifyCoSignature]);
//     self-checks update.verification and update.metadata-fresh.
//   - 5.3-9  (verify before trusting): signed length, per-chunk SHA-256 before
//     each write, whole-image hashes at the end ([Client.Download]).
//   - 5.3-10 (trust relationship): [Config.TrustedRoot] pinned in firmware,
//     rotations followed only through signed chains; check update.trust-root.
//   - 5.3-11 (security updates announced with risks): [Descriptor.Security],
//     [Descriptor.Risks], event [SecurityUpdate] from [Release.Events].
//   - 5.3-12 (disruption announced): [Descriptor.Reboot],
//     [Descriptor.Downtime], event [Disruption].
//   - 5.3-13 (support period published): [Descriptor.SupportUntil] in signed
//     metadata; check update.support-period.
//   - 5.5-3  (algorithm identifiers): the descriptor names its chunk hash
//     (sha256), its format version and the co-signature algorithm
//     (ml-dsa-65); TUF keys name their scheme.
//
// # Quick start
//
//	c, err := update.New(update.Config{
//		TrustedRoot:      rootJSON,          // embedded in the firmware
//		RepositoryURL:    "https://updates.example.com/plug",
//		HardwareID:       "acme-plug-v2",
//		InstalledCounter: installer.Counter, // release counter of the running image
//		Dir:              "/data/update",
//		BuildTime:        buildTime,
//	})
//	rel, err := c.Check(ctx)           // nil, nil when up to date
//	for _, ev := range rel.Events() { ui.Announce(ev) }
//	v, err := c.Download(ctx, rel, slot)
//	installer.Install(ctx, v)          // accepts only a *update.Verified
//
// # Security considerations
//
// Trust starts at the pinned root; a newer root is accepted only when
// signed by the threshold of the previous root and of itself, and is
// persisted (crash-safe, through internal/durable) so the chain is replayed
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
// over [CoSignedMessage] by the pinned key: TUF threshold AND ML-DSA, so a
// release stays sound if the classical keys fall.
//
// Downloads are bounded (signed length, per-role metadata limits), refuse
// redirects to another origin and HTML responses, give up on a transfer
// slower than [Config.MinRate], never retry a 4xx, and use a copy of the
// caller's http.Client (never http.DefaultClient). Two chunk buffers are
// held in RAM (one being read and verified, one being written; at most
// 2×[MaxChunkSize]); the journal of progress costs one fsync of the slot and
// one of the journal per chunk. A download resumes after power loss only
// into the same slot ([SlotIdentifier]); the chunks written before the
// reboot are trusted to still be in the slot (they are not read back), as
// is the journal that records the whole-image hash state: both live on the
// device's own storage.
//
// Targets from other TUF tools that carry no descriptor are refused unless
// [Config.InsecureAllowNoDescriptor] is set; then only TUF's checks apply
// and the image must fit in one chunk.
//
// Delegated targets roles are not consulted: releases must be listed in the
// top-level targets role.
package update
