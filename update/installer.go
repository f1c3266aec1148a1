package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/iotbaseline/baseline/durable"
)

// Installer is the slot backend that [Client.Apply] drives. This module
// has two: A/B slot files ([NewFileAB]) and RAUC (package update/rauc); a
// device with its own scheme (raw A/B partitions, say) implements it.
//
// Its contract follows golang.org/x/mod/sumdb/note: the only thing that can
// be activated is a [*Verified], which only [Client.Download] and
// [Client.OpenBundle] produce, and only into the slot Begin handed out. An
// implementation refuses anything else (check [Verified.Valid]).
//
// A backend also has the trial-boot side that the running firmware calls
// after its health check (for [FileAB]: [FileAB.Boot], [FileAB.Commit],
// [FileAB.Rollback]); Apply does not need it, so it is not part of this
// interface.
type Installer interface {
	// Begin prepares the inactive slot for r and returns it, for
	// Client.Download to write into. It refuses a release that is not
	// newer than the installed one, one that failed its trial on this
	// device, and any release while another awaits its trial boot. From
	// Begin on, the inactive slot no longer counts as holding an image.
	Begin(ctx context.Context, r *Release) (Slot, error)
	// Install activates v for a trial boot: after the next reboot the
	// device starts it, and keeps it only if the firmware commits. It
	// accepts only a *Verified produced by verification into the slot the
	// last Begin returned.
	Install(ctx context.Context, v *Verified) error
}

var _ Installer = (*FileAB)(nil)

// Errors of the installer. Refusals of a release are wrapped in a
// [*ReleaseError].
var (
	// ErrUnverified: Install was given something other than a *Verified
	// that verification produced into the slot Begin returned.
	ErrUnverified = errors.New("update: image was not produced by verification into this installer's slot")
	// ErrTrialPending: an installed release awaits its trial boot and
	// commit (or rollback); no other install starts until then.
	ErrTrialPending = errors.New("update: an installed release awaits its trial boot and commit")
	// ErrNoTrial: Commit or Rollback without a release on trial (or
	// before the trial boot).
	ErrNoTrial = errors.New("update: no release on trial")
	// ErrRejected: the release failed its trial on this device before and
	// is never installed again.
	ErrRejected = errors.New("update: release failed its trial on this device")
	// ErrSlotClosed: a write to a slot that was installed, closed or
	// superseded by a later Begin.
	ErrSlotClosed = errors.New("update: slot no longer accepts writes")
	// ErrImageCorrupt: a slot's content does not match the image recorded
	// for it (length or SHA-256).
	ErrImageCorrupt = errors.New("update: slot image does not match its recorded hash")
	// ErrBusy: Apply was called while another Apply runs.
	ErrBusy = errors.New("update: an install is already in progress")
	// ErrInstallerClosed: the installer was closed.
	ErrInstallerClosed = errors.New("update: installer closed")
)

// defaultMaxAttempts is how many trial boots a new image gets before
// [FileAB.Boot] rolls back, unless [FileABConfig.MaxAttempts] says otherwise.
const defaultMaxAttempts = 3

// Image describes what a slot holds, as recorded when it was installed.
type Image struct {
	// Path is the release's TUF target path ("" for a factory image).
	Path string
	// Version is the human-readable version from the descriptor.
	Version string
	// Counter is the release counter (anti-rollback).
	Counter uint64
	// Length is the image's length in bytes (0 when not recorded).
	Length int64
	// SHA256 is the image's SHA-256 (nil when not recorded).
	SHA256 []byte
	// Security marks a security update.
	Security bool
}

func recOf(im Image) imageRec {
	r := imageRec{Path: im.Path, Version: im.Version, Counter: im.Counter, Length: im.Length, Security: im.Security}
	if im.SHA256 != nil {
		r.SHA256 = hex.EncodeToString(im.SHA256)
	}
	return r
}

func (im *imageRec) export() Image {
	out := Image{Path: im.Path, Version: im.Version, Counter: im.Counter, Length: im.Length, Security: im.Security}
	if im.SHA256 != "" {
		out.SHA256, _ = hex.DecodeString(im.SHA256)
	}
	return out
}

// Rejection is a release that failed its trial on this device and will not
// be installed again.
type Rejection struct {
	Image Image
	// Reason is what the firmware passed to Rollback, or why Boot rolled
	// back by itself.
	Reason string
	// Automatic is set when Boot rolled back (too many trial boots
	// without a commit, or the image no longer matched its hash).
	Automatic bool
}

// Phase is where the A/B installer stands, in words a UI can show.
type Phase string

const (
	// PhaseIdle: the committed image runs; nothing is being installed.
	PhaseIdle Phase = "idle"
	// PhaseDownloading: Begin prepared the inactive slot; the image is
	// being written.
	PhaseDownloading Phase = "downloading"
	// PhasePendingReboot: an image is installed and boots on trial at the
	// next restart.
	PhasePendingReboot Phase = "installed-pending-reboot"
	// PhaseTrial: the new image was started and awaits its commit.
	PhaseTrial Phase = "trial"
	// PhaseRolledBack: the last release failed its trial and the device
	// went back to the committed image (see Status.Rejected).
	PhaseRolledBack Phase = "rolled-back"
)

// Status is a snapshot of the installer's state for a UI.
type Status struct {
	Phase Phase
	// Slot names the committed slot, "a" or "b".
	Slot string
	// Installed is the committed image; its Counter is the installed
	// release counter.
	Installed Image
	// Pending is the release being written, installed or on trial.
	Pending *Image
	// Attempts is how many trial boots the pending image had.
	Attempts int
	// MaxAttempts is FileABConfig.MaxAttempts: trial boots before the
	// automatic rollback.
	MaxAttempts int
	// Rejected lists releases that failed their trial, oldest first.
	Rejected []Rejection
}

// BootDecision is what [FileAB.Boot] tells a launcher to start.
type BootDecision struct {
	// Slot is "a" or "b".
	Slot string
	// Path is the slot file to start.
	Path string
	// Image is what the slot holds.
	Image Image
	// Trial is set when this is a trial boot of a new image: the started
	// firmware must run its health check and call Commit (or Rollback).
	Trial bool
	// Attempt is the trial boot's number, 1..MaxAttempts (0 when not a
	// trial boot).
	Attempt int
	// MaxAttempts is FileABConfig.MaxAttempts: trial boots before the
	// automatic rollback.
	MaxAttempts int
	// RolledBack is set when this Boot rolled a release back by itself.
	RolledBack *Rejection
}

// FileABConfig configures [NewFileAB]. Dir is required; every other zero
// value is the documented default.
type FileABConfig struct {
	// FS holds the journal and the slots; nil means durable.OS.
	FS durable.FS
	// Dir is the directory for the journal (Dir/ab.journal) and, by
	// default, the slot files. It is created if missing.
	Dir string
	// SlotA and SlotB are the two slot files; defaults Dir/slot-a and
	// Dir/slot-b. They must differ. A slot may be a regular file or a
	// block device path (then nothing is truncated and size is not
	// compared).
	SlotA, SlotB string
	// MaxAttempts is how many trial boots a newly installed image gets:
	// when Boot finds that many without a commit, it rolls back. Default
	// 3; at most MaxTrialBoots.
	MaxAttempts int
	// Factory describes the image the device left the factory with in
	// slot a. It is used only while the journal is empty (the first boot,
	// until the first install). Counter is the anti-rollback floor; Length
	// and SHA256, when set, let Boot (VerifyBoot) and the self-check
	// verify the factory image.
	Factory Image
	// VerifyBoot makes Boot read the image it is about to start through
	// SHA-256 and compare it with the recorded hash: a trial image that
	// no longer matches is rolled back; a committed image that does not
	// match is reported as ErrImageCorrupt. It costs one read of the image
	// per boot. (The running firmware's own start-up check, with the alert
	// and network-restriction hooks of 5.7-2, is [FileAB.VerifyRunning].)
	VerifyBoot bool
	// Notify receives the installer's events (Downloading, Installed,
	// TrialBoot, Committed, RolledBack). Sends never block: an event the
	// channel has no room for is dropped, so a slow or absent UI never
	// holds up an update; Status always has the current state.
	Notify chan<- Event
	// Logger receives the installer's logs; nil discards them.
	Logger *slog.Logger
}

// FileAB is an A/B installer over two slot files: one holds the committed
// image, the other receives the next release. A journal (durable.Log, one
// CRC-framed record per transition, each the whole new state) is the boot
// pointer, so a switch is one record — one write and one fsync — and power
// loss at any point leaves the previous or the next state, never a mix.
//
// The cycle: [FileAB.Begin] (marks the inactive slot as being written) →
// [Client.Download] into the returned slot → [FileAB.Install] (checks the
// [*Verified], reads the slot back through the verifier, records a trial) →
// reboot → the launcher calls [FileAB.Boot], which counts the trial boot and
// names the slot to start → the new firmware runs its health check and calls
// [FileAB.Commit], or [FileAB.Rollback] with a reason. After MaxAttempts
// trial boots without a commit, Boot rolls back by itself. An image that
// reaches the device outside this cycle (the factory's, or a developer's
// build flashed by hand) is recorded with [FileAB.Flash].
//
// What the anchors' failures taught, and how FileAB avoids them:
//   - attempts are counted only while a trial is pending: a committed slot
//     has no counter, so brown-outs during ordinary boots cannot drain it
//     (and Boot writes nothing then);
//   - Commit ends the trial instead of resetting a counter to a fixed value;
//   - the installed release counter (anti-rollback) is the committed
//     image's, so it rises only at Commit, never at Install or Boot;
//   - a release that failed its trial is recorded (with its reason) and
//     refused by Begin and Install, and [Client.Check] does not offer it, so
//     it is not reinstalled in a loop;
//   - a slot is started only after its image was verified and recorded;
//     an interrupted write leaves the previous state in force.
//
// One process at a time may use the journal (the launcher, then the
// firmware it starts). A FileAB is safe for concurrent use.
type FileAB struct {
	cfg   FileABConfig
	fsys  durable.FS
	paths [2]string
	log   *slog.Logger

	st atomic.Pointer[abState] // current state; never modified once stored

	mu      sync.Mutex // serialises transitions
	journal *durable.Log
	handle  *abSlot // the slot the last Begin handed out
	closed  bool

	// The gates Install and Begin apply; the self-check probes them. Tests
	// replace them to show the check fails when the gate is broken.
	accept func(v *Verified) error
	admit  func(st *abState, r *Release) (imageRec, error)

	bootState // VerifyRunning's finding and the slot comparison (bootcheck.go)
}

const abJournal = "ab.journal"

// NewFileAB opens (creating if needed) the A/B installer's journal in
// cfg.Dir and replays it: the last whole record is the state. An empty
// journal means the factory state: slot a committed, holding cfg.Factory.
// A record that passes its CRC but breaks the state's invariants is refused
// (an error wrapping the cause), never guessed around.
func NewFileAB(cfg FileABConfig) (*FileAB, error) {
	if cfg.FS == nil {
		cfg.FS = durable.OS
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: FileABConfig.Dir is required", ErrConfig)
	}
	if cfg.SlotA == "" {
		cfg.SlotA = filepath.Join(cfg.Dir, "slot-a")
	}
	if cfg.SlotB == "" {
		cfg.SlotB = filepath.Join(cfg.Dir, "slot-b")
	}
	if filepath.Clean(cfg.SlotA) == filepath.Clean(cfg.SlotB) {
		return nil, fmt.Errorf("%w: SlotA and SlotB are the same file", ErrConfig)
	}
	switch {
	case cfg.MaxAttempts == 0:
		cfg.MaxAttempts = defaultMaxAttempts
	case cfg.MaxAttempts < 0 || cfg.MaxAttempts > MaxTrialBoots:
		return nil, fmt.Errorf("%w: MaxAttempts %d outside 1..%d", ErrConfig, cfg.MaxAttempts, MaxTrialBoots)
	}
	fac := recOf(cfg.Factory)
	if err := fac.validate("factory image", false); err != nil {
		return nil, fmt.Errorf("%w: Factory: %v", ErrConfig, err)
	}
	cfg.Factory.SHA256 = slices.Clone(cfg.Factory.SHA256)
	f := &FileAB{cfg: cfg, fsys: cfg.FS, paths: [2]string{cfg.SlotA, cfg.SlotB}, log: cfg.Logger}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.accept = acceptVerified
	f.admit = admitRelease
	f.verifyStream = verifyStream
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	j, err := durable.OpenLog(cfg.FS, filepath.Join(cfg.Dir, abJournal), durable.LogOptions{MaxRecord: abMaxRecord})
	if err != nil {
		return nil, err
	}
	if j.Cut() > 0 {
		f.log.Warn("update: A/B journal had a torn tail (power loss during a transition); the previous state is in force", "bytes", j.Cut())
	}
	st, err := replay(j, fac)
	if err != nil {
		j.Close()
		return nil, err
	}
	f.journal = j
	f.st.Store(st)
	return f, nil
}

func factoryState(fac imageRec) *abState {
	return &abState{Format: abFormat, Op: opFactory, Current: "a", Images: []*imageRec{&fac, nil}}
}

// replay returns the state the journal's last record holds (the factory
// state for an empty journal).
func replay(j *durable.Log, fac imageRec) (*abState, error) {
	var last []byte
	if err := j.Scan(func(_ int64, rec []byte) error {
		last = append(last[:0], rec...)
		return nil
	}); err != nil {
		return nil, err
	}
	if last == nil {
		return factoryState(fac), nil
	}
	return decodeABState(last)
}

func (f *FileAB) state() *abState { return f.st.Load() }

// record makes n the state: validated, appended to the journal (one write,
// one fsync), then published. compact allows rewriting a long journal as
// the one record (two fsyncs), which only Begin does.
func (f *FileAB) record(n *abState, compact bool) error {
	if err := n.validate(); err != nil {
		// A transition must never write what replay would refuse.
		panic("update: A/B transition produced an invalid state: " + err.Error())
	}
	b := encodeABState(n)
	var err error
	if compact && f.journal.Len() >= abCompactAfter {
		err = f.journal.Rewrite([][]byte{b})
	} else {
		err = f.journal.Append(b)
	}
	if err != nil {
		return fmt.Errorf("update: recording %s: %w", n.Op, err)
	}
	f.st.Store(n)
	return nil
}

func (f *FileAB) emit(ev Event) {
	if !trySend(f.cfg.Notify, ev) {
		// Downloading comes many times a second; Status has the state.
		f.log.Debug("update: event dropped, subscriber not keeping up", "event", fmt.Sprintf("%T", ev))
	}
}

// acceptVerified is the gate Install applies first: only a value
// verification produced.
func acceptVerified(v *Verified) error {
	if !v.Valid() {
		return ErrUnverified
	}
	return nil
}

// admitRelease is the gate Begin and Install apply to a release: it must
// carry a release counter and a SHA-256, be newer than the installed image,
// not have failed here before, and no other release may be on trial.
func admitRelease(st *abState, r *Release) (imageRec, error) {
	fail := func(err error) (imageRec, error) { return imageRec{}, &ReleaseError{Path: r.Path, Err: err} }
	if r.Descriptor == nil {
		return fail(fmt.Errorf("%w: the installer needs the descriptor's release counter", ErrNoDescriptor))
	}
	if len(r.Hashes["sha256"]) != sha256.Size || r.Length <= 0 {
		return fail(fmt.Errorf("%w: no sha256 or length", ErrTarget))
	}
	im := imageOf(r)
	if err := im.validate("release", true); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrTarget, err))
	}
	if st.Trial {
		return fail(ErrTrialPending)
	}
	if inst := st.installed().Counter; im.Counter <= inst {
		return fail(fmt.Errorf("%w: %d <= installed %d", ErrRollback, im.Counter, inst))
	}
	if rj := st.rejected(&im); rj != nil {
		return fail(fmt.Errorf("%w: %s", ErrRejected, rj.Reason))
	}
	return im, nil
}

// Begin implements [Installer]. It records that the inactive slot is being
// written for r (one journal record, one fsync) before handing the slot out,
// so the slot's previous image stops counting as an image from then on, and
// then empties the slot file.
// Beginning the same release again (after a failed or interrupted
// download) writes nothing and returns the same slot, so
// [Client.Download] resumes where its journal says. A slot handed out by an
// earlier Begin stops accepting writes.
func (f *FileAB) Begin(ctx context.Context, r *Release) (Slot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("update: Begin needs a release")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrInstallerClosed
	}
	st := f.state()
	im, err := f.admit(st, r)
	if err != nil {
		return nil, err
	}
	ina := st.inactive()
	if f.handle != nil {
		f.handle.Close()
		f.handle = nil
	}
	fresh := !sameImage(st.Writing, &im)
	if fresh {
		n := st.next(opBegin)
		n.Images[ina] = nil
		n.Writing = &im
		if err := f.record(n, true); err != nil {
			return nil, err
		}
	}
	h, err := f.openSlot(ina, im)
	if err != nil {
		return nil, err
	}
	if fresh {
		// Drop the old image now, after the record says the slot holds
		// none, so that the switch need not cut a longer file. The first
		// chunk's sync makes the cut durable; Install cuts again if it
		// was lost.
		if err := h.truncate(); err != nil {
			h.Close()
			return nil, err
		}
	}
	f.handle = h
	return h, nil
}

// Install implements [Installer]. It refuses anything but a valid
// *Verified written into the slot the last Begin returned, for the release
// that Begin was for (and admitted again: newer than installed, not
// rejected, nothing on trial). It stops further writes to the slot, cuts a
// longer old file to the image's length, reads the image back through
// [Verified.Reverify], and only then records the trial (one journal record,
// one fsync): the next Boot starts it.
func (f *FileAB) Install(ctx context.Context, v *Verified) error {
	if err := f.accept(v); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrInstallerClosed
	}
	h := f.handle
	if h == nil || v.Slot() != Slot(h) {
		return fmt.Errorf("%w: not written into the slot the last Begin returned", ErrUnverified)
	}
	rel := v.Release()
	st := f.state()
	im, err := f.admit(st, &rel)
	if err != nil {
		return err
	}
	if !sameImage(st.Writing, &im) {
		return fmt.Errorf("%w: the last Begin was for another release", ErrUnverified)
	}
	file, err := h.seal()
	f.handle = nil
	if err != nil {
		return err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().IsRegular() && fi.Size() > im.Length { // Begin's cut was lost to power loss
		if err := file.Truncate(im.Length); err != nil {
			return err
		}
		if err := file.Sync(); err != nil {
			return err
		}
	}
	if err := v.Reverify(ctx, file); err != nil {
		return &ReleaseError{Path: rel.Path, Err: err}
	}
	ina := st.inactive()
	n := st.next(opInstall)
	n.Writing = nil
	n.Images[ina] = &im
	n.Trial, n.Attempts = true, 0
	if err := f.record(n, false); err != nil {
		return err
	}
	f.log.Info("update: installed; boots on trial at the next restart", "path", im.Path, "version", im.Version, "slot", abSlotNames[ina])
	f.emit(Installed{Image: im.export(), Slot: abSlotNames[ina], Reboot: rel.Descriptor.Reboot})
	return nil
}

// Boot is the boot-time entry point: a launcher calls it once per start to
// learn which slot to start. With no trial pending it names the committed
// slot and writes nothing. With a trial pending it counts the trial boot
// (one journal record, one fsync) before naming the new slot, so every trial
// boot is counted even if power fails right after; once MaxAttempts trial
// boots passed without a commit it rolls the release back instead (recorded
// as rejected) and names the committed slot.
//
// With VerifyBoot, the chosen image is read through SHA-256 first: a trial
// image that does not match is rolled back; for a committed image that does
// not match, Boot returns the decision together with an error wrapping
// ErrImageCorrupt, and the launcher decides (alert, refuse to start).
func (f *FileAB) Boot(ctx context.Context) (BootDecision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return BootDecision{}, ErrInstallerClosed
	}
	st := f.state()
	max := f.cfg.MaxAttempts
	if st.Trial {
		ina := st.inactive()
		reason := ""
		if st.Attempts >= max {
			reason = fmt.Sprintf("not committed after %d trial boots", st.Attempts)
		} else if f.cfg.VerifyBoot {
			if err := f.verifyImage(ctx, f.paths[ina], st.Images[ina]); err != nil {
				if !errors.Is(err, ErrImageCorrupt) {
					return BootDecision{}, err
				}
				reason = "trial image does not match its recorded hash"
			}
		}
		if reason == "" {
			n := st.next(opBoot)
			n.Attempts++
			if err := f.record(n, false); err != nil {
				return BootDecision{}, err
			}
			im := n.Images[ina]
			f.log.Info("update: trial boot", "path", im.Path, "attempt", n.Attempts, "max", max)
			f.emit(TrialBoot{Image: im.export(), Attempt: n.Attempts, MaxAttempts: max})
			return BootDecision{Slot: abSlotNames[ina], Path: f.paths[ina], Image: im.export(), Trial: true, Attempt: n.Attempts, MaxAttempts: max}, nil
		}
		n := rollbackState(st, opAutoRollback, reason)
		if err := f.record(n, false); err != nil {
			return BootDecision{}, err
		}
		rj := n.Rejected[len(n.Rejected)-1]
		rej := Rejection{Image: rj.Image.export(), Reason: rj.Reason, Automatic: true}
		f.log.Warn("update: rolled back", "path", rj.Image.Path, "reason", rj.Reason)
		f.emit(RolledBack(rej))
		st = n
		d := f.decision(st)
		d.RolledBack = &rej
		return d, f.verifyCommitted(ctx, st)
	}
	return f.decision(st), f.verifyCommitted(ctx, st)
}

func (f *FileAB) decision(st *abState) BootDecision {
	c := st.cur()
	return BootDecision{Slot: abSlotNames[c], Path: f.paths[c], Image: st.Images[c].export(), MaxAttempts: f.cfg.MaxAttempts}
}

func (f *FileAB) verifyCommitted(ctx context.Context, st *abState) error {
	if !f.cfg.VerifyBoot {
		return nil
	}
	im := st.installed()
	if im.SHA256 == "" {
		return nil // a factory image configured without a hash: nothing to compare
	}
	return f.verifyImage(ctx, f.paths[st.cur()], im)
}

func rollbackState(st *abState, op, reason string) *abState {
	ina := st.inactive()
	n := st.next(op)
	n.reject(*n.Images[ina], reason, op == opAutoRollback)
	n.Images[ina] = nil
	n.Trial, n.Attempts = false, 0
	return n
}

// Commit ends the trial of the running image: it becomes the committed one,
// and its release counter the installed counter (anti-rollback), in one
// journal record (one fsync). The firmware calls it after its health check
// passed. It returns ErrNoTrial when no release is on trial or the trial
// image has not been booted yet (commit only what ran).
func (f *FileAB) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrInstallerClosed
	}
	st := f.state()
	if !st.Trial {
		return ErrNoTrial
	}
	if st.Attempts == 0 {
		return fmt.Errorf("%w: the installed image has not been booted yet; restart first", ErrNoTrial)
	}
	n := st.next(opCommit)
	n.Current = abSlotNames[st.inactive()]
	n.Trial, n.Attempts = false, 0
	n.prune()
	if err := f.record(n, false); err != nil {
		return err
	}
	im := n.installed()
	f.log.Info("update: committed", "path", im.Path, "version", im.Version, "counter", im.Counter)
	f.emit(Committed{Image: im.export()})
	return nil
}

// Rollback abandons the release on trial: it is recorded as rejected with
// reason (never installed again), its slot stops counting as holding an
// image, and the next Boot starts the committed slot again — restart the
// device after Rollback returns. The firmware calls it when its health
// check failed. It returns ErrNoTrial when no release is installed or on
// trial. The reason is shown to the user; at most 256 bytes are kept.
func (f *FileAB) Rollback(ctx context.Context, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrInstallerClosed
	}
	st := f.state()
	if !st.Trial {
		return ErrNoTrial
	}
	n := rollbackState(st, opRollback, reason)
	if err := f.record(n, false); err != nil {
		return err
	}
	rj := n.Rejected[len(n.Rejected)-1]
	f.log.Warn("update: rolled back", "path", rj.Image.Path, "reason", rj.Reason)
	f.emit(RolledBack{Image: rj.Image.export(), Reason: rj.Reason})
	return nil
}

// InstalledCounter returns the release counter of the committed image. It
// rises only at Commit. [Config.InstalledCounter] uses it when
// [Config.Installer] is a FileAB and InstalledCounter is nil.
func (f *FileAB) InstalledCounter() uint64 { return f.state().installed().Counter }

// Rejected reports whether r failed its trial on this device (same release
// counter and image SHA-256). [Client.Check] skips such releases when
// [Config.Installer] is a FileAB.
func (f *FileAB) Rejected(r *Release) bool {
	if r == nil || r.Descriptor == nil {
		return false
	}
	im := imageOf(r)
	return f.state().rejected(&im) != nil
}

// Status returns the installer's state for a UI. It never waits for a
// transition in progress.
func (f *FileAB) Status() Status {
	st := f.state()
	out := Status{Slot: st.Current, Installed: st.installed().export(), Attempts: st.Attempts, MaxAttempts: f.cfg.MaxAttempts}
	for _, r := range st.Rejected {
		out.Rejected = append(out.Rejected, Rejection{Image: r.Image.export(), Reason: r.Reason, Automatic: r.Auto})
	}
	switch {
	case st.Writing != nil:
		out.Phase = PhaseDownloading
		p := st.Writing.export()
		out.Pending = &p
	case st.Trial:
		out.Phase = PhasePendingReboot
		if st.Attempts > 0 {
			out.Phase = PhaseTrial
		}
		p := st.Images[st.inactive()].export()
		out.Pending = &p
	case st.Op == opRollback || st.Op == opAutoRollback:
		out.Phase = PhaseRolledBack
	default:
		out.Phase = PhaseIdle
	}
	return out
}

// Close closes the journal and any slot handed out. Later calls fail with
// ErrInstallerClosed.
func (f *FileAB) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	if f.handle != nil {
		f.handle.Close()
		f.handle = nil
	}
	return f.journal.Close()
}

// verifyImage streams the slot file through SHA-256 and compares length
// and digest with im (constant memory, ctx checked between reads).
func (f *FileAB) verifyImage(ctx context.Context, path string, im *imageRec) error {
	want, err := hex.DecodeString(im.SHA256)
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("update: no recorded hash for %s", path)
	}
	file, err := f.fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s is missing", ErrImageCorrupt, path)
		}
		return err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	// A regular file must hold exactly the image; a block device is
	// larger than its image, and only the image's bytes are compared.
	exact := fi.Mode().IsRegular()
	if exact && fi.Size() != im.Length {
		return fmt.Errorf("%w: %s holds %d bytes, the image has %d", ErrImageCorrupt, path, fi.Size(), im.Length)
	}
	n := im.Length
	if exact {
		n++ // lets the comparison see a file that grew after the Stat
	}
	if err := f.verifyStream(ctx, io.NewSectionReader(file, 0, n), im.Length, want, exact); err != nil {
		if errors.Is(err, ErrImageCorrupt) {
			return fmt.Errorf("%w (%s)", err, path)
		}
		return err
	}
	return nil
}
