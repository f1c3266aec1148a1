package update

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
)

// Flash records an image that reached the device outside the update path —
// the factory programming its first firmware, or a developer flashing a
// build by hand — as the committed image, so that Boot, the self-check and
// VerifyBoot know it from then on (an empty journal knows only
// FileABConfig.Factory, and that only until the first transition).
//
// It writes r into the inactive slot, checking length and SHA-256 against
// im as it writes, syncs the slot, and then makes that slot the committed
// one in a single journal record (one fsync). If the inactive slot held an
// image or a download, one record first marks it empty (one more fsync), so
// power loss during the copy leaves the previous committed image in force
// and the half-written slot counting as holding nothing.
//
// Flash never lowers the anti-rollback floor: an image whose counter is
// below the installed one is refused (ErrRollback), as is an image that
// failed its trial here (ErrRejected); an equal counter is allowed (a
// rebuild of the same release). While a release is installed and awaits its
// trial boot or commit, Flash is refused (ErrTrialPending): finish or roll
// back the trial first. A download in progress is abandoned. Flashing the
// committed image again writes nothing.
//
// im must carry Length and SHA256; its Path may be empty. Flash is for the
// device's own provisioning code (a launcher, a factory station), never for
// images from the network: those go through [Client.Apply].
func (f *FileAB) Flash(ctx context.Context, im Image, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rec := recOf(im)
	if err := rec.validate("flashed image", true); err != nil {
		return fmt.Errorf("%w: Flash: %v", ErrConfig, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrInstallerClosed
	}
	st := f.state()
	if cur := st.installed(); cur.SHA256 == rec.SHA256 && cur.Length == rec.Length && cur.Counter == rec.Counter {
		return nil
	}
	if st.Trial {
		return ErrTrialPending
	}
	if inst := st.installed().Counter; rec.Counter < inst {
		return fmt.Errorf("%w: flashed image counter %d < installed %d", ErrRollback, rec.Counter, inst)
	}
	if rj := st.rejected(&rec); rj != nil {
		return fmt.Errorf("%w: %s", ErrRejected, rj.Reason)
	}
	ina := st.inactive()
	if f.handle != nil {
		f.handle.Close()
		f.handle = nil
	}
	if st.Images[ina] != nil || st.Writing != nil {
		n := st.next(opFlash)
		n.Images[ina] = nil
		n.Writing = nil
		if err := f.record(n, true); err != nil {
			return err
		}
		st = n
	}
	if err := f.writeSlot(ctx, f.paths[ina], &rec, r); err != nil {
		return err
	}
	n := st.next(opFlash)
	n.Images[ina] = &rec
	n.Current = abSlotNames[ina]
	n.prune()
	if err := f.record(n, false); err != nil {
		return err
	}
	f.log.Info("update: flashed image recorded as committed", "version", rec.Version, "counter", rec.Counter, "slot", n.Current)
	return nil
}

// writeSlot copies im's bytes from r into the slot file, checking length
// and SHA-256, and syncs it (and its directory entry if it is new).
func (f *FileAB) writeSlot(ctx context.Context, name string, im *imageRec, r io.Reader) error {
	want := im.export().SHA256
	_, statErr := f.fsys.Stat(name)
	file, err := f.fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer file.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		if err := f.fsys.SyncDir(dirOf(name)); err != nil {
			return err
		}
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	lr := io.LimitReader(r, im.Length+1)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, rerr := lr.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			if _, err := file.Write(buf[:k]); err != nil {
				return err
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if n != im.Length || subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return fmt.Errorf("%w: the flashed bytes do not match the image's length and SHA-256", ErrImageCorrupt)
	}
	return file.Sync()
}
