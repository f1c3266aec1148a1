package update

import (
	"io"
	"os"
	"sync"

	"github.com/iotbaseline/baseline/durable"
)

// slotWriter writes a slot file through the page cache and, once the
// image's pages are durable (after each Sync), asks the kernel to drop
// them (Linux, operating-system files): an image written once and read
// back at most once has no business evicting the device's cached files,
// and the cache never holds more of it than a download writes between
// two checkpoints. Writing with O_DIRECT instead was measured and dropped:
// it costs less CPU, but each write waits for the device, so the reader
// stalls behind it (BENCHMARKS.md). Callers serialise writeAt and
// synced (sync takes the caller's lock for them); the fsync itself may
// run beside a writeAt.
type slotWriter struct {
	f  durable.File
	os *os.File // f, when it is an operating-system file; else nil
	// high is the end of the furthest write; dropped is how far the
	// cache was dropped.
	high, dropped int64
}

func newSlotWriter(f durable.File) slotWriter {
	osf, _ := f.(*os.File)
	return slotWriter{f: f, os: osf}
}

// writeAt writes p at off.
func (w *slotWriter) writeAt(p []byte, off int64) (int, error) {
	var n int
	var err error
	if wa, ok := w.f.(io.WriterAt); ok {
		n, err = wa.WriteAt(p, off)
	} else if _, err = w.f.Seek(off, io.SeekStart); err == nil {
		n, err = w.f.Write(p)
	}
	if n > 0 {
		w.high = max(w.high, off+int64(n))
	}
	return n, err
}

// sync syncs the file, holding mu (which guards w) only around the
// bookkeeping, not the fsync: so a Sync may run beside a writeAt, and
// makes durable at least what was written before it began.
func (w *slotWriter) sync(mu *sync.Mutex) error {
	mu.Lock()
	high := w.high
	mu.Unlock()
	if err := w.f.Sync(); err != nil {
		return err
	}
	mu.Lock()
	w.synced(high)
	mu.Unlock()
	return nil
}

// synced is called after a Sync of the file that began when high was
// w.high: the pages below it are clean and may go.
func (w *slotWriter) synced(high int64) {
	if w.os != nil && high > w.dropped {
		dropCache(w.os, w.dropped, high-w.dropped)
		w.dropped = high
	}
}
