// Package rauc installs updates through RAUC (https://rauc.io): a [System]
// drives a running rauc service with the rauc command line, and implements
// update.Installer so that update.Client.Apply installs a release into the
// inactive RAUC slot. Start with [New], then pass the System as
// update.Config.Installer.
//
// The mapping onto update's A/B lifecycle:
//
//   - The TUF target a release names is a signed RAUC bundle (.raucb).
//     [System.Begin] hands update.Client a staging file in Config.Dir as
//     the update.Slot; the client downloads and verifies the bundle into it
//     (TUF signatures, length, chunk hashes, hardware ID, release counter).
//     A download interrupted by an error or a restart resumes where the
//     client's journal says, into the same file content only.
//   - [System.Install] accepts only the *update.Verified produced into that
//     file, reads the file back through the verifier, and runs `rauc
//     install`. RAUC checks the bundle's own X.509 (CMS) signature against
//     its keyring and writes the inactive slot group; the bootloader starts
//     it at the next restart.
//   - After the restart the new firmware calls [System.Reconcile], runs
//     its health check and calls [System.Commit] (`rauc status mark-good
//     booted`) or [System.Rollback] (`mark-bad booted`, then `mark-active
//     other`).
//
// A release that failed its trial is remembered, as update.FileAB does:
// the adapter keeps a state file, Config.Dir/state.json, replaced
// atomically (durable.WriteFile) at every change, that records which
// release's download the staging file holds, which TUF release (path,
// length, SHA-256, release counter) it handed to `rauc install` and into
// which slot, and the releases that failed here with their reasons (at
// most update.MaxRejected, oldest forgotten first). A release is recorded
// as rejected when the firmware calls [System.Rollback], or when [System.Reconcile] (and Begin, Commit, Rollback, which call it)
// finds that the bootloader gave up on it: its slot is neither booted nor
// primary and is marked bad. [System.Rejected] then reports it, so
// update.Client.Check does not offer it, and Begin and Install refuse it
// with update.ErrRejected. Power loss at any write or fsync of that file
// or of the staged bundle, or while rauc writes the slot, leaves a state
// the next start settles (see [System.Begin], [System.Install] and
// [System.Rollback]); the package's power-loss tests cut power at each of
// those points, with update.Client's own journal on the same flash.
//
// What RAUC does not give, and this adapter therefore does not claim:
// attempt counting and automatic fallback after failed trial boots are the
// bootloader's (barebox bootchooser, U-Boot, GRUB), so a fallback is
// noticed only once the bootloader marks the slot bad; RAUC knows bundle
// versions, not TUF release counters, so the anti-rollback floor is the
// counter the adapter recorded at its last [System.Commit] (in its state
// file), or Config.InstalledCounter for the factory image, whichever is
// greater ([System.InstalledCounter]); update.Client uses it too.
//
// # Why the command line and not D-Bus
//
// rauc's CLI is itself a client of the service's D-Bus interface
// (de.pengutronix.rauc.Installer), so both reach the same checks; the
// adapter runs the CLI because no D-Bus library is among this project's
// dependencies (github.com/godbus/dbus/v5 would be the pure-Go one) and a
// hand-written D-Bus client would be a new parser of its own. What D-Bus
// would add: install progress (the Progress property and its change
// signals, for update's Downloading-style events), Operation and LastError
// as typed properties instead of the "LastError:" line on stdout,
// GetSlotStatus and BootSlot as typed values instead of `rauc status` JSON,
// and no process started per call.
//
// Boot integrity (EN 303 645 5.7-1, 5.7-2) is partly covered: RAUC
// verifies a bundle's signature when it installs it, and records the
// SHA-256 and size of the image it wrote, but it does not read the slot
// again at start. [System.VerifyRunning] does: it reads the booted slot
// against that record and, on a mismatch, calls the device's
// update.BootIntegrity hooks. It compares raw slots only (which hold the
// image byte for byte); for other slot types, and for a slot RAUC did not
// install, it reports that it compared nothing.
//
// # Provisions
//
//   - 5.3-2 (secure update mechanism): [System.Install] activates only a
//     *update.Verified and RAUC verifies the bundle signature again;
//     [System.Checks] reports update.rauc-boot (measured: rauc answers and
//     the booted slot is marked good) and update.rauc-install-gate
//     (measured: the Install and Begin gates refuse unverified images and
//     releases not newer than [System.InstalledCounter]; INCONCLUSIVE
//     while nothing was committed through the adapter and
//     Config.InstalledCounter is not set).
//   - 5.3-11, 5.3-12 (telling the user): Config.Notify receives
//     update.Downloading, Installed (with the descriptor's reboot
//     announcement), Committed and RolledBack, never blocking the update.
//   - 5.7-1, 5.7-2 (boot integrity): [System.VerifyRunning] at start and
//     the measured check update.boot-integrity, as for update.FileAB.
//
// # Quick start
//
//	sys, err := rauc.New(rauc.Config{
//		Dir:              "/data/update/rauc", // state file and staging for one bundle
//		InstalledCounter: factoryCounter,      // the factory image's release counter
//	})
//	_, err = sys.Reconcile(ctx) // at every start: records a release the bootloader gave up on
//	c, err := update.New(update.Config{ /* TUF root, URL, ... */ Installer: sys})
//	rel, err := c.Check(ctx) // never offers a release sys.Rejected reports
//	err = c.Apply(ctx, rel)  // download + verify the bundle, then rauc install
//	// reboot; in the new firmware, after its health check:
//	err = sys.Commit(ctx) // or sys.Rollback(ctx, reason): the release is never offered again
//
// # Security considerations
//
// Between the verifier's read-back and rauc opening the file, another
// process with write access to Config.Dir could change the bundle; RAUC's
// own signature check (and its lease on the file while it installs) is
// what then stands in the way, so keep Config.Dir private (the adapter
// creates it 0700 when missing and its files 0600). The same holds for the
// state file: it is not signed, so whoever can write Config.Dir can make
// the adapter forget a rejected release (update.Client would then offer it
// again) or reject a good one. Errors carry rauc's "LastError" line and the
// end of its stderr, bounded to MaxStderr bytes with control
// characters replaced; the environment (Config.Env) is never included.
//
// RAUC's verity and crypt bundle formats need device-mapper; the package
// tests use plain bundles because the test machines lack
// /dev/mapper/control. The adapter itself passes any format to rauc.
package rauc
