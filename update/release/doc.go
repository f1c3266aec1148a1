// Package release writes the static TUF repository that devices built on
// package update download their firmware from: the manufacturer's side of
// the update trust relationship. It is what `baseline release` runs.
//
// A repository is a directory of plain files that any web server, object
// store or CDN serves unchanged:
//
//	DIR/metadata/1.root.json … N.root.json, root.json   every root version; 1.root.json goes into the firmware
//	DIR/metadata/N.targets.json, targets.json           the targets role: every image, its hashes and descriptor
//	DIR/metadata/N.snapshot.json, snapshot.json         the snapshot role: the current targets version
//	DIR/metadata/timestamp.json                         the timestamp role: the current snapshot version (re-signed daily)
//	DIR/targets/<path>                                  each image under its target path
//	DIR/targets/<dir>/<sha256>.<name>                   and under its hash-prefixed name
//
// Root metadata sets consistent_snapshot to true: a client reads
// timestamp.json, then exactly the snapshot and targets versions it names
// (N.snapshot.json, N.targets.json), and fetches images by their
// hash-prefixed names, so a CDN that serves a mix of old and new files
// mid-publication still gives every client one consistent release. The
// plain names are written too, for humans and for clients that do not
// prefix (go-tuf's updater with PrefixTargetsWithHash false; its default
// picks the first hash of a map, which may be the SHA-512).
//
// Each target's TUF entry carries its length and SHA-256 (and SHA-512 only
// with [Target.SHA512]: since descriptor format 2 the release tool no
// longer lists it by default, because a device checks every listed hash and
// SHA-512 would cost it several SHA-256 passes), and in "custom" the
// update.Descriptor: hardware ID, release counter, version, security flag
// and risks mitigated, disruption (reboot, downtime), support date, chunk
// size and the SHA-256 chaining value after every chunk (the last entry
// is the image's SHA-256), and optionally an
// ML-DSA-65 co-signature ([CoSign]) for devices that pin a
// post-quantum key beside TUF's classical ones.
//
// The package also holds the writer side of the update formats for makers
// who publish with other TUF tooling: [HashChunks] and [EncodeDescriptor]
// compute a target's "custom" object, [CoSign] its co-signature, and
// [WriteBundle] the offline (USB) bundle that update.Client.OpenBundle
// reads. Package update only decodes and verifies; both share one
// definition of the formats.
//
// # Provisions
//
//   - 5.3-7 (best-practice cryptography for updates): TUF roles with
//     thresholds and expiry, ECDSA P-256 / Ed25519 keys, SHA-256
//     target hashes (SHA-512 on request), optional ML-DSA-65 co-signature — [Init],
//     [Repo.AddTargets].
//   - 5.3-3 (update from a local bundle): [WriteBundle] (`baseline release
//     bundle`).
//   - 5.3-9, 5.3-10 (authenticity and integrity via a trust relationship):
//     the root of trust written by [Init] and carried forward by
//     [Repo.Rotate]; every metadata file is verified against it before it is
//     written ([Open] also verifies what is on disk).
//   - 5.3-11, 5.3-12, 5.3-13 (security notes, disruption, support period):
//     carried in the descriptor of every [Target].
//   - 5.5-3 (updateable cryptography): [Repo.Rotate] replaces any role's
//     keys, including root's, through a chain a device follows; the
//     descriptor names its chunk hash and co-signature algorithms.
//
// # Quick start
//
// Make keys with `baseline keygen` (or [ReadKey] files it wrote; any
// crypto.Signer, such as an HSM key, works), then:
//
//	repo, err := release.Init(ctx, "repo", release.Config{Keys: keys})
//	// embed repo/metadata/1.root.json in the firmware (update.Config.TrustedRoot)
//	err = repo.AddTarget(ctx, release.Target{
//		Path:  "smartplug/fw-1.4.0.bin",
//		Image: f, // streamed, never held in memory
//		Descriptor: update.Descriptor{HardwareID: "smartplug-v2", ReleaseCounter: 14, Version: "1.4.0"},
//	})
//
// Later runs open the repository with [Open] and the keys they need: adding
// targets needs the targets, snapshot and timestamp keys; the cron job
// `baseline release resign -role timestamp -if-expiring-within 12h` needs
// only the timestamp key.
//
// For benchmarks and tests that need a large repository (such as the
// 1,000-target repository package update compares refresh speed on), call
// [Repo.AddTargets] once with every target, or use package releasetest
// (releasetest.Build), which does that with deterministic keys and images.
//
// # Security considerations
//
// Keep the root and targets keys offline (encrypted key files from
// `baseline keygen`, or an HSM); only the timestamp key, and the snapshot
// key if the snapshot is re-signed by cron, need to live where cron runs.
// A release counter must increase per hardware ID, so a device can refuse
// rollback. A published path is never reused and versioned metadata is
// never rewritten once a timestamp names it, so a CDN may cache N.*.json and
// hash-prefixed targets forever; timestamp.json (and the plain root.json,
// snapshot.json, targets.json) must be served with a short cache lifetime,
// or devices see a frozen repository until it expires.
// Every file is replaced atomically and durably; an operation interrupted by
// a crash or a full disk leaves clients on the previous consistent release
// and is simply run again ([Open] reads the repository as clients see it,
// through timestamp.json). Two writers on one repository at once are not
// supported: run releases from one place.
package release
