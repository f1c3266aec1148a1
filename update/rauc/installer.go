package rauc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/iotbaseline/baseline/update"
)

var _ update.Installer = (*System)(nil)

const (
	bundleName = "bundle.raucb"
	markerName = "bundle.json"
)

// marker records which release the staged bundle file belongs to, so a
// Begin for the same release keeps what an interrupted download wrote
// (update.Client resumes from its own journal) and a Begin for another
// release starts from an empty file.
type marker struct {
	Path    string `json:"path"`
	Length  int64  `json:"length"`
	Counter uint64 `json:"counter"`
}

func markerOf(r *update.Release) marker {
	m := marker{Path: r.Path, Length: r.Length}
	if r.Descriptor != nil {
		m.Counter = r.Descriptor.ReleaseCounter
	}
	return m
}

// Begin implements update.Installer. With RAUC the "image" that
// update.Client downloads and verifies is the signed RAUC bundle itself (the
// TUF target is the .raucb file); RAUC writes the inactive slot from it at
// [System.Install]. So the slot Begin returns is a staging file,
// Config.Dir/bundle.raucb, not a partition.
//
// Begin refuses a release without a descriptor, one whose release counter
// is not greater than Config.InstalledCounter, and any release while
// `rauc status` shows that an installed bundle awaits its reboot (the
// primary slot is not the booted one) — wrapping update.ErrTrialPending. It
// needs the rauc service to answer.
func (s *System) Begin(ctx context.Context, r *update.Release) (update.Slot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r == nil || r.Descriptor == nil {
		return nil, errors.New("rauc: Begin needs a release with a descriptor")
	}
	if err := s.admit(r); err != nil {
		return nil, err
	}
	st, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.PendingReboot() {
		return nil, fmt.Errorf("%w (rauc: primary slot %s is not the booted one)", update.ErrTrialPending, st.Primary)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handle != nil {
		s.handle.Close()
		s.handle = nil
	}
	want := markerOf(r)
	mpath := filepath.Join(s.cfg.Dir, markerName)
	var have marker
	fresh := true
	if b, err := os.ReadFile(mpath); err == nil && len(b) < 64<<10 && json.Unmarshal(b, &have) == nil && have == want {
		fresh = false
	}
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, bundleName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if fresh {
		// The marker goes first, naming the new release over an empty
		// file: power loss in between leaves a marker for an empty file,
		// which the download journal then refills from the start.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		b, _ := json.Marshal(want)
		if err := writeFileSync(mpath, b); err != nil {
			f.Close()
			return nil, err
		}
	}
	s.handle = &bundleSlot{f: f, m: want}
	return s.handle, nil
}

// admit is Begin's anti-rollback gate; it writes nothing.
func (s *System) admit(r *update.Release) error {
	if s.cfg.InstalledCounter != nil {
		if inst := s.cfg.InstalledCounter(); r.Descriptor.ReleaseCounter <= inst {
			return &update.ReleaseError{Path: r.Path, Err: fmt.Errorf("%w: release counter %d is not newer than the installed %d", update.ErrRollback, r.Descriptor.ReleaseCounter, inst)}
		}
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
// [System.Begin] returned (else update.ErrUnverified); stops further
// writes to the staging file, cuts it to the verified length, reads it back
// through Verified.Reverify (so a file changed on disk since the download
// is refused), and only then runs `rauc install` on it. RAUC checks the
// bundle's X.509 signature against its own keyring and its compatible
// string a second time and writes the inactive slot; on success the
// staging file is removed and the bootloader starts the new slot at the
// next restart (trial), where the firmware calls [System.Commit] or
// [System.Rollback].
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
	if markerOf(&rel) != h.m {
		return fmt.Errorf("%w: the last Begin was for another release", update.ErrUnverified)
	}
	f := h.seal()
	s.handle = nil
	if f == nil {
		return update.ErrSlotClosed
	}
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
		return err
	}
	path := filepath.Join(s.cfg.Dir, bundleName)
	if err := s.InstallBundle(ctx, path); err != nil {
		return err
	}
	s.log.Info("rauc: bundle installed; the new slot boots at the next restart", "path", rel.Path)
	// The staged bundle has done its job; a failure to remove it only
	// costs space until the next Begin truncates it.
	os.Remove(filepath.Join(s.cfg.Dir, markerName))
	os.Remove(path)
	return nil
}

// Commit marks the booted slot good (`rauc status mark-good booted`): the
// firmware's health check passed on the trial boot. RAUC keeps no trial
// state of its own; what "good" means for the attempt counter is the
// bootloader's (barebox, U-Boot, GRUB, or a custom backend).
func (s *System) Commit(ctx context.Context) error { return s.MarkGood(ctx) }

// Rollback marks the booted slot bad (`rauc status mark-bad booted`) and
// makes the other slot the primary (`rauc status mark-active other`), so
// the next restart starts the previous image. reason is logged only: RAUC
// has nowhere to record it.
func (s *System) Rollback(ctx context.Context, reason string) error {
	if err := s.MarkBad(ctx); err != nil {
		return err
	}
	s.log.Warn("rauc: booted slot marked bad; rolling back to the other slot", "reason", reason)
	return s.MarkActive(ctx, "other")
}

// bundleSlot is the staging file handed out as update.Slot.
type bundleSlot struct {
	m  marker
	mu sync.Mutex
	f  *os.File
}

func (b *bundleSlot) WriteAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.f == nil {
		return 0, update.ErrSlotClosed
	}
	return b.f.WriteAt(p, off)
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
func (b *bundleSlot) seal() *os.File {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.f
	b.f = nil
	return f
}

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
