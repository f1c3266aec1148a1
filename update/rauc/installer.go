package rauc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

var _ update.Installer = (*System)(nil)

const (
	bundleName = "bundle.raucb"
	// legacyMarker is a file earlier versions of the adapter kept beside
	// the staged bundle; New removes it.
	legacyMarker = "bundle.json"
)

// Begin implements update.Installer. With RAUC the "image" that
// update.Client downloads and verifies is the signed RAUC bundle itself (the
// TUF target is the .raucb file); RAUC writes the inactive slot from it at
// [System.Install]. So the slot Begin returns is a staging file,
// Config.Dir/bundle.raucb, not a partition.
//
// A Begin for the release the staging file holds (a download interrupted
// by an error or a restart) keeps its content, and update.Client
// resumes from its own journal: the slot's update.SlotIdentifier names the
// file and a staging epoch recorded in the state file, which changes
// whenever the file is emptied, so a download never resumes over content
// it did not write. A Begin for another release first records that the
// file holds nothing, then empties it (synced), then records the new
// release and epoch.
//
// Begin refuses a release without a descriptor or a SHA-256 and length,
// one whose release counter is not greater than [System.InstalledCounter]
// (update.ErrRollback), one that failed its trial on this device
// (update.ErrRejected, as update.FileAB), and any release while `rauc
// status` shows that an installed bundle awaits its reboot (the primary
// slot is not the booted one) or while the release the adapter installed
// runs on trial, not yet committed or rolled back (wrapping
// update.ErrTrialPending; Install refuses the same). It runs
// `rauc status` and, like [System.Reconcile], records a release the
// bootloader fell back from before it decides.
func (s *System) Begin(ctx context.Context, r *update.Release) (update.Slot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r == nil || r.Descriptor == nil {
		return nil, errors.New("rauc: Begin needs a release with a descriptor")
	}
	if err := s.gate(r); err != nil {
		return nil, err
	}
	st, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.reconcile(st); err != nil {
		return nil, err
	}
	if err := s.gate(r); err != nil {
		return nil, err
	}
	if err := s.trialOpen(st); err != nil {
		return nil, err
	}
	if s.handle != nil {
		s.handle.Close()
		s.handle = nil
	}
	rec := recOf(r)
	path := filepath.Join(s.cfg.Dir, bundleName)
	cur := s.state()
	if _, err := s.fsys.Stat(path); cur.Staging != nil && *cur.Staging == rec && err == nil {
		f, err := s.fsys.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		s.handle = &bundleSlot{f: f, rec: rec, id: slotID(path, cur.Epoch), emit: s.emit}
		return s.handle, nil
	}
	if cur.Staging != nil {
		n := cur.clone()
		n.Staging = nil
		if err := s.save(n); err != nil {
			return nil, err
		}
	}
	f, err := s.fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	n := s.state().clone()
	n.Staging, n.Epoch = &rec, n.Epoch+1
	if err := s.save(n); err != nil {
		f.Close()
		return nil, err
	}
	s.handle = &bundleSlot{f: f, rec: rec, id: slotID(path, n.Epoch), emit: s.emit}
	return s.handle, nil
}

func slotID(path string, epoch uint64) string { return fmt.Sprintf("rauc-staging:%s#%d", path, epoch) }

// gate is the gate Begin and Install apply; the self-check probes it.
func (s *System) gate(r *update.Release) error {
	if s.admitHook != nil {
		return s.admitHook(r)
	}
	return s.admit(r)
}

// admit is the gate Begin and Install apply to a release; it writes
// nothing and runs no rauc command.
func (s *System) admit(r *update.Release) error {
	fail := func(err error) error { return &update.ReleaseError{Path: r.Path, Err: err} }
	if r.Descriptor == nil {
		return fail(update.ErrNoDescriptor)
	}
	if inst := s.InstalledCounter(); r.Descriptor.ReleaseCounter <= inst {
		return fail(fmt.Errorf("%w: release counter %d is not newer than the installed %d", update.ErrRollback, r.Descriptor.ReleaseCounter, inst))
	}
	rec := recOf(r)
	if err := rec.validate(); err != nil {
		return fail(fmt.Errorf("%w: the installer needs a sha256, a length and a counter in range", update.ErrTarget))
	}
	if rj := s.state().rejected(&rec); rj != nil {
		return fail(fmt.Errorf("%w: %s", update.ErrRejected, rj.Reason))
	}
	return nil
}

// accept is Install's first gate; it writes nothing.
func accept(v *update.Verified) error {
	if !v.Valid() {
		return update.ErrUnverified
	}
	return nil
}

// Install implements update.Installer. It accepts only a valid
// *update.Verified that update.Client produced into the slot the last
// [System.Begin] returned (else update.ErrUnverified), for a release Begin
// would still admit (not rejected, newer than installed); stops further
// writes to the staging file, cuts it to the verified length, reads it back
// through Verified.Reverify (so a file changed on disk since the download is
// refused), and only then runs `rauc install` on it. RAUC checks the
// bundle's X.509 signature against its own keyring and its compatible
// string a second time and writes the inactive slot; on success the staging
// file is removed and the bootloader starts the new slot at the next
// restart (trial), where the firmware calls [System.Commit] or
// [System.Rollback].
//
// Around `rauc install` the adapter records the release in its state file
// (before: which release and which slot was booted; after: the slot rauc
// made primary), two atomic replacements, so that a rollback after the
// restart, or after power loss at any point, knows which release failed.
//
// Two independent signatures thus guard the slot: TUF's metadata (update)
// and the bundle's CMS signature (RAUC). A bundle that passes TUF but is
// signed by a key RAUC's keyring does not trust is refused by rauc, with
// the slots and boot order unchanged.
func (s *System) Install(ctx context.Context, v *update.Verified) error {
	if err := accept(v); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handle
	if h == nil || v.Slot() != update.Slot(h) {
		return fmt.Errorf("%w: not written into the slot the last Begin returned", update.ErrUnverified)
	}
	rel := v.Release()
	rec := recOf(&rel)
	if rec != h.rec {
		return fmt.Errorf("%w: the last Begin was for another release", update.ErrUnverified)
	}
	if err := s.gate(&rel); err != nil {
		return err
	}
	f := h.seal()
	s.handle = nil
	if f == nil {
		return update.ErrSlotClosed
	}
	path := filepath.Join(s.cfg.Dir, bundleName)
	err := f.Truncate(rel.Length)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		if err = v.Reverify(ctx, f); err != nil {
			err = &update.ReleaseError{Path: rel.Path, Err: err}
		}
	}
	// rauc takes a lease on the bundle (F_SETLEASE) so that nobody can
	// change it while it checks and installs it; that needs every other
	// descriptor closed.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// What the file holds is not what was verified: never resume
		// into it.
		n := s.state().clone()
		n.Staging = nil
		if serr := s.save(n); serr != nil {
			s.log.Warn("rauc: could not discard the staged bundle", "err", serr)
		} else {
			s.fsys.Remove(path)
		}
		return err
	}
	st, err := s.Status(ctx)
	if err != nil {
		return err
	}
	if err := s.trialOpen(st); err != nil {
		return err
	}
	from := ""
	if b := st.BootedSlot(); b != nil {
		from = b.Name
	}
	n := s.state().clone()
	n.Trial = &trialRec{Release: rec, From: from}
	n.Staging = nil // from here on the file goes to rauc, not to a resumed download
	if err := s.save(n); err != nil {
		return err
	}
	if err := s.installBundle(ctx, path); err != nil {
		// rauc refused the bundle or failed writing the slot: the boot
		// order is unchanged, so the release is not on trial.
		n := s.state().clone()
		n.Trial = nil
		if serr := s.save(n); serr != nil {
			s.log.Warn("rauc: could not clear the install record; Reconcile will", "err", serr)
		}
		s.fsys.Remove(path)
		return err
	}
	s.log.Info("rauc: bundle installed; the new slot boots at the next restart", "path", rel.Path)
	// The staged bundle has done its job; a failure to remove it only
	// costs space until the next New or Begin.
	s.fsys.Remove(path)
	after, err := s.Status(ctx)
	if err != nil || after.Primary == "" || after.Primary == from {
		// Reconcile settles the record from what rauc reports later.
		s.log.Warn("rauc: cannot tell which slot rauc made primary; the install record stays open", "err", err)
		s.emit(update.Installed{Image: rec.image(), Reboot: rel.Descriptor.Reboot})
		return nil
	}
	n = s.state().clone()
	n.Trial.Done, n.Trial.Slot = true, after.Primary
	if err := s.save(n); err != nil {
		s.log.Warn("rauc: could not record the installed slot; Reconcile will", "err", err)
	}
	s.emit(update.Installed{Image: rec.image(), Slot: after.Primary, Reboot: rel.Descriptor.Reboot})
	return nil
}

// trialOpen refuses a new install while one is unsettled: a bundle
// awaits its reboot (the primary slot is not the booted one), or the
// release the adapter installed runs on trial and was neither committed
// nor rolled back (installing now would overwrite the other slot, the last
// image known to work). The caller holds s.mu.
func (s *System) trialOpen(st *Status) error {
	if st.PendingReboot() {
		return fmt.Errorf("%w (rauc: primary slot %s is not the booted one)", update.ErrTrialPending, st.Primary)
	}
	if t := s.state().Trial; t != nil && t.Done {
		if b := st.BootedSlot(); b != nil && b.Name == t.Slot {
			return fmt.Errorf("%w (rauc: %s runs on trial in %s; Commit or Rollback first)", update.ErrTrialPending, t.Release.Path, t.Slot)
		}
	}
	return nil
}

// Reconcile settles the adapter's record against what `rauc status`
// reports; call it once at start (before update.Client.Check). When the
// release installed last is not running, its slot is not the primary one,
// and the bootloader marks that slot bad — the bootloader gave up on it
// after failed trial boots, or someone ran `rauc status mark-bad` — it is
// recorded as rejected, never offered or installed again, and returned. An
// install that power loss interrupted before rauc finished is forgotten
// (rauc left the boot order unchanged, so the release may be installed
// again). It returns nil, nil when nothing was rejected.
func (s *System) Reconcile(ctx context.Context) (*update.Rejection, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconcile(st)
}

// reconcile is Reconcile on a status already read; the caller holds s.mu.
func (s *System) reconcile(st *Status) (*update.Rejection, error) {
	t := s.state().Trial
	booted := ""
	if b := st.BootedSlot(); b != nil {
		booted = b.Name
	}
	if in := s.state().Installed; t == nil && in != nil && in.Slot != "" && booted != "" && booted != in.Slot && st.Primary != in.Slot {
		// Something other than the adapter switched slots (a bundle
		// installed by hand, or the bootloader's fallback), and the
		// device is not on its way back (a Rollback before the restart
		// leaves the committed slot primary): the slot committed here may
		// be overwritten next, so stop vouching for it.
		n := s.state().clone()
		n.Installed.Slot = ""
		if err := s.save(n); err != nil {
			return nil, err
		}
		s.log.Info("rauc: running a slot the adapter did not commit", "booted", booted, "committed", in.Slot)
	}
	if t == nil {
		return nil, nil
	}
	n := s.state().clone()
	if !t.Done {
		// rauc makes the new slot primary as its last step: a primary (or
		// booted slot) other than the one booted at the install means
		// rauc finished.
		switch {
		case booted != "" && booted != t.From:
			n.Trial.Done, n.Trial.Slot = true, booted
		case st.Primary != "" && st.Primary != t.From:
			n.Trial.Done, n.Trial.Slot = true, st.Primary
		default:
			n.Trial = nil
			s.log.Info("rauc: an install was interrupted before rauc finished; forgetting it", "path", t.Release.Path)
		}
		if err := s.save(n); err != nil {
			return nil, err
		}
		if n.Trial == nil {
			return nil, nil
		}
		t = n.Trial
		n = n.clone()
	}
	slot := st.Slot(t.Slot)
	switch {
	case slot == nil:
		s.log.Warn("rauc: the installed slot is not in rauc's status; forgetting the install record", "slot", t.Slot)
		n.Trial = nil
		return nil, s.save(n)
	case booted == t.Slot, st.Primary == t.Slot:
		return nil, nil // on trial, committed, or awaiting the restart
	case slot.BootStatus != "bad":
		return nil, nil // switched back by hand, not failed: nothing to record
	}
	reason := fmt.Sprintf("the bootloader went back to %s; %s is marked bad", booted, t.Slot)
	n.reject(t.Release, reason, true)
	n.Trial = nil
	if err := s.save(n); err != nil {
		return nil, err
	}
	s.log.Warn("rauc: release failed its trial", "path", t.Release.Path, "reason", reason)
	s.emit(update.RolledBack{Image: t.Release.image(), Reason: reason, Automatic: true})
	return &update.Rejection{Image: t.Release.image(), Reason: reason, Automatic: true}, nil
}

// Commit marks the booted slot good (`rauc status mark-good booted`): the
// firmware's health check passed on the trial boot. The firmware must call
// it (not only RAUC's rauc-mark-good.service): until Commit or Rollback
// settles a release the adapter installed, Begin and Install refuse the
// next one with update.ErrTrialPending. When the adapter installed a
// release that has not been booted yet, Commit returns update.ErrNoTrial
// and changes nothing (commit only what ran). When the release's slot was
// switched back by hand before it ever ran, Commit marks the booted slot
// good and forgets the install record: the release is neither committed
// (its counter does not become the floor) nor rejected. It records the
// release's counter as the floor and sends update.Committed only when the
// release runs, on its trial boot. RAUC keeps
// no trial state of its own; what "good" means for the attempt counter is
// the bootloader's (barebox, U-Boot, GRUB, or a custom backend).
func (s *System) Commit(ctx context.Context) error {
	st, err := s.Status(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.reconcile(st); err != nil {
		return err
	}
	booted := ""
	if b := st.BootedSlot(); b != nil {
		booted = b.Name
	}
	t := s.state().Trial
	if t != nil && t.Done && booted != t.Slot && st.Primary == t.Slot {
		return fmt.Errorf("%w: the installed release has not been booted yet; restart first", update.ErrNoTrial)
	}
	if err := s.MarkGood(ctx); err != nil {
		return err
	}
	switch {
	case t != nil && t.Done && booted == t.Slot:
		// Power loss before this record leaves the trial open: the next
		// Commit marks the slot good again (harmless) and records it.
		n := s.state().clone()
		n.Trial = nil
		// Begin and Install admitted only a counter above the recorded
		// one, so the floor rises here and never falls.
		n.Installed = &installedRec{Release: t.Release, Slot: t.Slot}
		if err := s.save(n); err != nil {
			return err
		}
		s.log.Info("rauc: release committed", "path", t.Release.Path, "counter", t.Release.Counter, "slot", t.Slot)
		s.emit(update.Committed{Image: t.Release.image()})
	case t != nil && t.Done:
		// The slot was switched back by hand before the release ever
		// ran: what passed the health check is the slot booted now. The
		// release is neither committed (its counter must not become the
		// floor) nor rejected; it may be installed again.
		n := s.state().clone()
		n.Trial = nil
		if err := s.save(n); err != nil {
			return err
		}
		s.log.Info("rauc: the installed release never ran; forgetting its install record", "path", t.Release.Path, "slot", t.Slot, "booted", booted)
	}
	return nil
}

// InstalledCounter returns the anti-rollback floor: the release counter of
// the release committed last through this adapter (recorded by
// [System.Commit] in the state file; it rises only there), or
// Config.InstalledCounter's value if that is greater, for the image the
// device left the factory with. [System.Begin] and [System.Install] refuse
// a release whose counter is not greater, and update.Client uses this
// method when its own Config.InstalledCounter is nil. 0 means nothing
// committed and no Config.InstalledCounter.
func (s *System) InstalledCounter() uint64 {
	var n uint64
	if in := s.state().Installed; in != nil {
		n = in.Release.Counter
	}
	if s.cfg.InstalledCounter != nil {
		n = max(n, s.cfg.InstalledCounter())
	}
	return n
}

// Rollback abandons the running firmware: when it is the release the
// adapter installed, that release is first recorded as rejected with
// reason (at most 256 bytes kept) in the state file, so [System.Rejected]
// reports it, update.Client does not offer it again and Begin and Install
// refuse it with update.ErrRejected. Then it marks the booted slot bad
// (`rauc status mark-bad booted`) and makes the other slot the primary
// (`rauc status mark-active other`), so the next restart starts the
// previous image; restart the device after it returns.
//
// On trial the record comes first: power loss after it but before rauc ran
// leaves the new slot primary; the firmware fails its health check again
// and calls Rollback again, which then only runs rauc.
//
// Called before the restart, while the installed release still awaits its
// trial, it marks the release's slot bad and makes the booted slot the
// primary again, and then records the release as rejected (power loss in
// between leaves that slot bad and not primary, which Reconcile records).
//
// With nothing on trial or pending, and the booted slot the one
// [System.Commit] recorded, it returns update.ErrNoTrial and changes
// nothing, as update.FileAB does: a committed image is not abandoned (a
// health check that fails later is the firmware's to report, not a reason
// to boot the older slot). A slot the adapter has no record of (the factory
// image, or a bundle installed with InstallBundle or `rauc install` by
// hand) it abandons as described above, unless the other slot is marked
// bad (then it returns update.ErrNoTrial too: switching would boot what
// failed there). The record of the committed slot is dropped when
// InstallBundle runs and when Reconcile (at every start) finds another
// slot booted and not about to be left, so a slot rewritten outside the
// adapter is not mistaken for the committed one.
func (s *System) Rollback(ctx context.Context, reason string) error {
	st, err := s.Status(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.reconcile(st); err != nil {
		return err
	}
	booted := ""
	if b := st.BootedSlot(); b != nil {
		booted = b.Name
	}
	t := s.state().Trial
	onTrial := t != nil && t.Done && booted == t.Slot
	pending := t != nil && t.Done && booted != t.Slot && st.Primary == t.Slot
	record := func() error {
		n := s.state().clone()
		n.reject(t.Release, reason, false)
		n.Trial = nil
		if err := s.save(n); err != nil {
			return err
		}
		s.log.Warn("rauc: release rejected", "path", t.Release.Path, "reason", n.Rejected[len(n.Rejected)-1].Reason)
		// Sent once the rejection is durable: were rauc to fail after
		// this, the call that retries has no record left to send it from.
		s.emit(update.RolledBack{Image: t.Release.image(), Reason: n.Rejected[len(n.Rejected)-1].Reason})
		return nil
	}
	if pending {
		// Here rauc goes first: power loss before the record leaves the
		// slot marked bad and not primary, which Reconcile records; the
		// other order could leave a rejected release to boot.
		if _, err := s.run(ctx, maxStdout, false, "status", "mark-bad", t.Slot); err != nil {
			return err
		}
		if err := s.MarkActive(ctx, "booted"); err != nil {
			return err
		}
		return record()
	}
	if onTrial {
		if err := record(); err != nil {
			return err
		}
	} else if in := s.state().Installed; in != nil && in.Slot != "" && in.Slot == booted {
		return fmt.Errorf("%w: %s runs %s, committed here", update.ErrNoTrial, booted, in.Release.Path)
	} else if o := otherSlot(st); o != nil && o.BootStatus == "bad" {
		// `mark-active other` would mark it good again and boot what
		// failed there (a release rejected earlier, say).
		return fmt.Errorf("%w: the other slot %s is marked bad; not switching to it", update.ErrNoTrial, o.Name)
	}
	if err := s.MarkBad(ctx); err != nil {
		return err
	}
	s.log.Warn("rauc: booted slot marked bad; rolling back to the other slot", "reason", reason)
	return s.MarkActive(ctx, "other")
}

// otherSlot is the slot `rauc status mark-active other` means: the one
// other bootable slot of the booted slot's class, or nil when there is not
// exactly one.
func otherSlot(st *Status) *SlotStatus {
	b := st.BootedSlot()
	if b == nil {
		return nil
	}
	var other *SlotStatus
	for i := range st.Slots {
		sl := &st.Slots[i]
		if sl.Class != b.Class || sl.Name == b.Name || sl.Bootname == "" {
			continue
		}
		if other != nil {
			return nil
		}
		other = sl
	}
	return other
}

// Rejected reports whether r failed its trial on this device (same release
// counter, SHA-256 and length), as recorded by [System.Rollback] or
// [System.Reconcile]. update.Client.Check calls it and does not offer such
// a release. It reads only the adapter's state in memory.
func (s *System) Rejected(r *update.Release) bool {
	if r == nil || r.Descriptor == nil {
		return false
	}
	rec := recOf(r)
	return s.state().rejected(&rec) != nil
}

// RejectedReleases lists the releases that failed their trial on this
// device, oldest first (at most update.MaxRejected; past that the oldest
// are forgotten), for a UI.
func (s *System) RejectedReleases() []update.Rejection {
	var out []update.Rejection
	for _, r := range s.state().Rejected {
		out = append(out, update.Rejection{Image: r.Release.image(), Reason: r.Reason, Automatic: r.Auto})
	}
	return out
}

// bundleSlot is the staging file handed out as update.Slot.
type bundleSlot struct {
	rec  relRec
	id   string
	emit func(update.Event)
	mu   sync.Mutex
	f    durable.File
}

// SlotID implements update.SlotIdentifier: the staging file and its epoch.
func (b *bundleSlot) SlotID() string { return b.id }

func (b *bundleSlot) WriteAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.f == nil {
		return 0, update.ErrSlotClosed
	}
	if _, err := b.f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := b.f.Write(p)
	if n > 0 {
		b.emit(update.Downloading{Path: b.rec.Path, Done: off + int64(n), Total: b.rec.Length})
	}
	return n, err
}

// emit sends ev to Config.Notify without blocking.
func (s *System) emit(ev update.Event) {
	if s.cfg.Notify == nil {
		return
	}
	select {
	case s.cfg.Notify <- ev:
	default:
		s.log.Debug("rauc: event dropped, subscriber not keeping up", "event", fmt.Sprintf("%T", ev))
	}
}

func (b *bundleSlot) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.f == nil {
		return update.ErrSlotClosed
	}
	return b.f.Sync()
}

// Close stops writes; update.Client.Apply calls it when it is done.
func (b *bundleSlot) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.f == nil {
		return nil
	}
	err := b.f.Close()
	b.f = nil
	return err
}

// seal takes the file away from the slot: later writes fail.
func (b *bundleSlot) seal() durable.File {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.f
	b.f = nil
	return f
}
