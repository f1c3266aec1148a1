package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/iotbaseline/baseline/conformance"
)

// BootIntegrity is what the device does when the image it runs no longer
// matches the one that was installed (provision 5.7-2): restrict its
// network, then alert its user or administrator. Both hooks are the
// device's, and both are required: [FileAB.VerifyRunning] refuses a
// BootIntegrity with either missing, so a device cannot forget the
// reaction.
type BootIntegrity struct {
	// Restrict cuts the device off from every network peer except those
	// it needs to raise the alert and to fetch an update that replaces the
	// image (the alert endpoint and the update repository, say). Typical
	// work: install firewall rules that drop everything else, stop the
	// listeners and cloud connections of the normal function, stop
	// telemetry. The contract:
	//   - it returns nil only when the restriction is in force; an error
	//     means it is not (or not fully), and VerifyRunning returns it and
	//     the self-check fails with it;
	//   - the restriction holds until the device restarts (the next start
	//     verifies again) — not until the next self-check;
	//   - it is called once per detection, before Alert, and may be
	//     called again after a restart: make it idempotent;
	//   - it honours ctx and does not wait for the network.
	Restrict func(ctx context.Context) error
	// Alert tells the user and/or administrator (an LED pattern, the local
	// UI, a message through the endpoint Restrict left open). err says what
	// was found: it wraps ErrImageCorrupt when the slot's bytes differ from
	// the recorded image, or the read error when the slot could not be
	// read; when Restrict failed, its error is joined in. It carries no
	// secret. Alert is called after Restrict, once per detection, and
	// should not block for long.
	Alert func(ctx context.Context, err error)
}

// bootResult is what VerifyRunning found, kept for the boot-integrity
// self-check. It is never modified once stored.
type bootResult struct {
	slot        string
	image       imageRec
	trial       bool
	noHash      bool  // a factory image configured without a hash
	err         error // nil: the slot matched its record
	restrictErr error
}

// VerifyRunning checks, at start, that the running slot still holds the
// image recorded for it (provision 5.7-1), and on a mismatch calls
// h.Restrict and then h.Alert (5.7-2). Call it once, early in the firmware's
// start (before the device's normal network functions start), after the
// launcher's [FileAB.Boot]. The running slot is the image on trial after
// its trial boot, else the committed one.
//
// The slot is read once through SHA-256 in a fixed 64 KiB buffer (constant
// memory whatever the image size) and compared, in constant time, with the
// length and SHA-256 that Install recorded in the journal. Install took
// them from the TUF target that verification produced (threshold-signed by
// the targets role, and the slot read back against them before the trial
// was recorded); for the factory image they come from
// FileABConfig.Factory. A slot of another size, or one that cannot be read,
// counts as a mismatch too: the device fails closed.
//
// It returns nil when the slot matches, and when the committed image is a
// factory image configured without a hash (nothing to compare; the
// self-check says so). On a mismatch it returns an error wrapping
// ErrImageCorrupt (or the read error), joined with Restrict's error if
// that failed. If ctx ends before the read does, it returns ctx's error and
// concludes nothing: no hook is called. A BootIntegrity without both hooks
// is refused (ErrConfig) before anything is read. VerifyRunning writes
// nothing, so power loss during it cannot change the device's state; what
// it found is kept in memory for the self-check update.boot-integrity.
//
// During a trial a mismatch means the new image must not be committed:
// after the hooks ran, call [FileAB.Rollback] (the launcher, with
// FileABConfig.VerifyBoot, would already have rolled it back).
//
// # Threat model
//
// What the check detects: any change to the running slot by a party who
// cannot also rewrite the installer's journal (FileABConfig.Dir) — bit rot
// and failing flash, a write by another tool, and tampering where the
// slot's storage is reachable but the journal's is not (the journal on a
// separate, protected partition, or a slot exposed to a debug or
// mass-storage interface).
//
// What it does not stop:
//   - An attacker who can write the journal as well can record the digest
//     of their own image: the journal is CRC-framed for power loss, not
//     signed. Keep Dir where only the updating process can write (its own
//     user, its own partition), apart from storage that is exposed or
//     shared.
//   - Code that already runs as the firmware can skip the call or replace
//     the hooks. When the running image verifies itself, a modified image
//     may simply not call VerifyRunning: this catches corruption and
//     tampering that left the firmware's start intact, not a deliberate
//     replacement of the firmware. For secure boot proper, the stage that
//     starts the slot must do the check and must itself be verified by the
//     platform's root of trust (boot ROM, signed bootloader): run the
//     launcher from such a stage with FileABConfig.VerifyBoot, which makes
//     [FileAB.Boot] read the slot before starting it. This package gives
//     the link from a verified launcher to the slot, not the root of trust.
//   - A change made after the read (while the firmware runs) is not seen
//     until the next start; the self-check update.installed-image reads
//     the committed slot again whenever it runs.
func (f *FileAB) VerifyRunning(ctx context.Context, h BootIntegrity) error {
	if h.Restrict == nil || h.Alert == nil {
		return fmt.Errorf("%w: BootIntegrity needs both Restrict and Alert", ErrConfig)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrInstallerClosed
	}
	st := f.state()
	f.mu.Unlock()
	// The read runs without the lock: the running slot is never the one
	// Begin hands out, and a long read must not hold up Status or Begin.
	i, trial := st.cur(), false
	if st.Trial && st.Attempts > 0 {
		i, trial = st.inactive(), true
	}
	res := &bootResult{slot: abSlotNames[i], image: *st.Images[i], trial: trial}
	if res.image.SHA256 == "" {
		res.noHash = true
		f.boot.Store(res)
		f.log.Warn("update: the running factory image has no recorded hash; boot integrity not verified (set FileABConfig.Factory.SHA256)")
		return nil
	}
	err := f.verifyImage(ctx, f.paths[i], &res.image)
	if err == nil {
		f.boot.Store(res)
		f.log.Info("update: running slot verified", "slot", res.slot, "bytes", res.image.Length)
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err // interrupted, not a finding
	}
	res.err = err
	f.log.Error("update: the running slot does not match its recorded image; restricting the network", "slot", res.slot, "err", err)
	found := err
	if rerr := h.Restrict(ctx); rerr != nil {
		res.restrictErr = rerr
		found = errors.Join(err, fmt.Errorf("update: network restriction failed: %w", rerr))
	}
	f.boot.Store(res)
	h.Alert(ctx, found)
	return found
}

// bootState is embedded in FileAB for the boot-integrity check.
type bootState struct {
	boot atomic.Pointer[bootResult] // what VerifyRunning found; nil until it ran
	// verifyStream is the comparison VerifyRunning and the other slot
	// reads use; the self-check probes it. Tests replace it to show the
	// check fails when the comparison is broken.
	verifyStream func(ctx context.Context, r io.Reader, length int64, want []byte, exact bool) error
}

// VerifyImage reads length bytes from r through SHA-256 and compares the
// digest with want (a SHA-256 recorded for the image, from a source the
// caller trusts) in constant time. It holds one 64 KiB buffer whatever
// the image size, and checks ctx between reads. Fewer than length bytes or
// another digest return an error wrapping ErrImageCorrupt. Bytes after
// length are not read, since a partition is larger than its image; when r
// is a file that must hold exactly the image, compare its size first.
//
// It is the comparison [FileAB.VerifyRunning] uses, for slot backends
// that keep their own record of the installed image (update/rauc's
// System.VerifyRunning uses it with the checksum RAUC recorded).
func VerifyImage(ctx context.Context, r io.Reader, length int64, want []byte) error {
	return verifyStream(ctx, r, length, want, false)
}

// verifyBufSize is the read buffer of a slot verification: the whole
// memory a verification holds, whatever the image size.
const verifyBufSize = 64 << 10

// verifyStream reads length bytes from r through SHA-256 and compares the
// digest with want in constant time. With exact, r must end there: one more
// byte is a mismatch (r should then allow reading length+1 bytes). Fewer
// bytes, more bytes or another digest wrap ErrImageCorrupt; ctx is checked
// between reads.
func verifyStream(ctx context.Context, r io.Reader, length int64, want []byte, exact bool) error {
	if len(want) != sha256.Size || length < 0 {
		return fmt.Errorf("%w: no recorded hash", ErrImageCorrupt)
	}
	h := sha256.New()
	buf := make([]byte, verifyBufSize)
	lr := &io.LimitedReader{R: r, N: length}
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := lr.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if n != length {
		return fmt.Errorf("%w: %d bytes, the image has %d", ErrImageCorrupt, n, length)
	}
	if exact {
		var one [1]byte
		if k, _ := io.ReadFull(r, one[:]); k > 0 {
			return fmt.Errorf("%w: more than the image's %d bytes", ErrImageCorrupt, length)
		}
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return fmt.Errorf("%w: SHA-256 differs", ErrImageCorrupt)
	}
	return nil
}

// bootCheck is the measured check update.boot-integrity (5.7-1, 5.7-2).
func (f *FileAB) bootCheck() conformance.Check {
	return conformance.Check{ID: "update.boot-integrity", Method: conformance.Measured, Provisions: []string{"5.7-1", "5.7-2"},
		Title: "At start the running slot was read and matched the image installed from a signed release; a mismatch restricts the network and alerts",
		Run:   f.checkBoot}
}

// probeVerifier offers the slot comparison a small random sample: intact
// it must match, and with its first, middle or last byte changed, one byte
// short or one byte long it must not.
func (f *FileAB) probeVerifier(ctx context.Context) error {
	const size = 3*verifyBufSize/2 + 17 // spans a buffer boundary
	sample := make([]byte, size+1)
	for i := range sample {
		sample[i] = byte(i*131 + i>>8)
	}
	sum := sha256.Sum256(sample[:size])
	cmp := func(b []byte, length int64) error {
		return f.verifyStream(ctx, bytes.NewReader(b), length, sum[:], true)
	}
	if err := cmp(sample[:size], size); err != nil {
		return fmt.Errorf("an intact sample was refused: %v", err)
	}
	for _, off := range []int{0, size / 2, size - 1} {
		changed := append([]byte(nil), sample[:size]...)
		changed[off] ^= 0x01
		if err := cmp(changed, size); !errors.Is(err, ErrImageCorrupt) {
			return fmt.Errorf("a sample with byte %d changed was accepted", off)
		}
	}
	if err := cmp(sample[:size-1], size); !errors.Is(err, ErrImageCorrupt) {
		return errors.New("a sample one byte short was accepted")
	}
	if err := cmp(sample, size); !errors.Is(err, ErrImageCorrupt) {
		return errors.New("a sample one byte long was accepted")
	}
	return nil
}

func (f *FileAB) checkBoot(ctx context.Context) conformance.Result {
	if err := f.probeVerifier(ctx); err != nil {
		if ctx.Err() != nil {
			return conformance.Result{Verdict: conformance.NotRun, Detail: "interrupted: " + ctx.Err().Error()}
		}
		return conformance.Result{Verdict: conformance.Fail, Observed: "the slot comparison was probed with changed samples",
			Detail: "the comparison used at start is broken: " + err.Error()}
	}
	probe := "comparison probed: changed first, middle and last byte, one byte short and one long all refused"
	res := f.boot.Load()
	if res == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: probe,
			Detail: "the running slot has not been verified since this firmware started: call FileAB.VerifyRunning at start"}
	}
	what := fmt.Sprintf("slot %s (%s, release counter %d", res.slot, imageName(&res.image), res.image.Counter)
	if res.trial {
		what += ", on trial"
	}
	what += ")"
	if res.noHash {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: what + "; " + probe,
			Detail: "the running image is the factory image and no hash was configured for it (FileABConfig.Factory.SHA256), so it was not compared"}
	}
	if res.err == nil {
		record := "the record made at install"
		if res.image.Path == "" {
			record = "the hash configured for the factory image (FileABConfig.Factory)"
		}
		return conformance.Result{Verdict: conformance.Pass,
			Observed: fmt.Sprintf("at start, %s was read: %d bytes, SHA-256 matches %s; %s", what, res.image.Length, record, probe)}
	}
	reaction := "network restricted to alert and update endpoints (Restrict returned nil), then the alert raised"
	if res.restrictErr != nil {
		reaction = "the network restriction FAILED (" + res.restrictErr.Error() + "), the alert raised"
	}
	return conformance.Result{Verdict: conformance.Fail, Observed: fmt.Sprintf("at start, %s was read and does not match: %s", what, reaction),
		Detail: "the running image is not the one installed: " + res.err.Error()}
}

func imageName(im *imageRec) string {
	switch {
	case im.Path != "" && im.Version != "":
		return im.Path + " " + im.Version
	case im.Path != "":
		return im.Path
	case im.Version != "":
		return "factory image " + im.Version
	}
	return "factory image"
}
