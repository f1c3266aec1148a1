package update

import (
	"errors"
	"os"
	"sync"

	"github.com/iotbaseline/baseline/durable"
)

// abSlot is the inactive slot as [FileAB.Begin] hands it out: the slot file,
// writable until Install takes it over, Close is called or a later Begin
// supersedes it. Its SlotID is the file's path, so an interrupted download
// resumes into it after a reboot.
type abSlot struct {
	ab    *FileAB
	path  string
	image string // release path, for Downloading events
	total int64

	mu     sync.Mutex
	f      durable.File
	w      slotWriter // writes, and drops the durable pages from the cache (slotwriter.go)
	sealed bool       // no more writes
	closed bool       // file closed or handed to Install
}

func (f *FileAB) openSlot(i int, im imageRec) (*abSlot, error) {
	name := f.paths[i]
	_, statErr := f.fsys.Stat(name)
	file, err := f.fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The new file's directory entry must survive power loss, or a
		// recorded trial could point at a slot that is gone.
		if err := f.fsys.SyncDir(dirOf(name)); err != nil {
			file.Close()
			return nil, err
		}
	}
	return &abSlot{ab: f, path: name, image: im.Path, total: im.Length, f: file, w: newSlotWriter(file)}, nil
}

// SlotID implements SlotIdentifier.
func (s *abSlot) SlotID() string { return s.path }

// WriteAt implements Slot.
func (s *abSlot) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	if s.sealed {
		s.mu.Unlock()
		return 0, ErrSlotClosed
	}
	n, err := s.w.writeAt(p, off)
	s.mu.Unlock()
	if n > 0 {
		s.ab.emit(Downloading{Path: s.image, Done: off + int64(n), Total: s.total})
	}
	return n, err
}

// Sync implements Slot. Like FileSlot's, it may run beside a WriteAt.
func (s *abSlot) Sync() error {
	s.mu.Lock()
	sealed := s.sealed
	s.mu.Unlock()
	if sealed {
		return ErrSlotClosed
	}
	return s.w.sync(&s.mu)
}

func (*abSlot) syncsConcurrently() {}

// ReadAt reads back what was written (Download does not; tests and
// Verified.Reverify may).
func (s *abSlot) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrSlotClosed
	}
	return s.f.ReadAt(p, off)
}

// Close ends writes and closes the file. It is idempotent.
func (s *abSlot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// truncate empties a regular slot file (a block device is left alone).
func (s *abSlot) truncate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := s.f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return err
	}
	return s.f.Truncate(0)
}

// seal ends writes and hands the open file to the installer.
func (s *abSlot) seal() (durable.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed || s.closed {
		return nil, ErrSlotClosed
	}
	s.sealed, s.closed = true, true
	return s.f, nil
}
