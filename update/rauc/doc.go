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
//   - [System.Install] accepts only the *update.Verified produced into that
//     file, reads the file back through the verifier, and runs `rauc
//     install`. RAUC checks the bundle's own X.509 (CMS) signature against
//     its keyring and writes the inactive slot group; the bootloader starts
//     it at the next restart.
//   - After the restart the new firmware runs its health check and calls
//     [System.Commit] (`rauc status mark-good booted`) or [System.Rollback]
//     (`mark-bad booted`, then `mark-active other`).
//
// What RAUC does not give, and this adapter therefore does not claim:
// attempt counting and automatic fallback after failed trial boots are the
// bootloader's (barebox bootchooser, U-Boot, GRUB); a release that failed
// its trial is not remembered (no Rejected method, so update.Client may
// offer it again); anti-rollback needs Config.InstalledCounter, since RAUC
// knows bundle versions, not TUF release counters.
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
//     old releases).
//   - 5.7-1, 5.7-2 (boot integrity): [System.VerifyRunning] at start and
//     the measured check update.boot-integrity, as for update.FileAB.
//
// # Quick start
//
//	sys, err := rauc.New(rauc.Config{
//		Dir:              "/data/update/rauc", // staging for one bundle
//		InstalledCounter: installedCounter,    // the committed release's counter
//	})
//	c, err := update.New(update.Config{ /* TUF root, URL, ... */ Installer: sys})
//	rel, err := c.Check(ctx)
//	err = c.Apply(ctx, rel) // download + verify the bundle, then rauc install
//	// reboot; in the new firmware, after its health check:
//	err = sys.Commit(ctx) // or sys.Rollback(ctx, reason)
//
// # Security considerations
//
// Between the verifier's read-back and rauc opening the file, another
// process with write access to Config.Dir could change the bundle; RAUC's
// own signature check (and its lease on the file while it installs) is
// what then stands in the way, so keep Config.Dir private (the adapter
// creates it 0700 when missing and the file 0600). Errors carry rauc's "LastError" line
// and the end of its stderr, bounded to MaxStderr bytes with control
// characters replaced; the environment (Config.Env) is never included.
//
// RAUC's verity and crypt bundle formats need device-mapper; the package
// tests use plain bundles because the test machines lack
// /dev/mapper/control. The adapter itself passes any format to rauc.
package rauc
