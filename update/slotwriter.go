package update

import (
	"io"
	"os"
	"unsafe"

	"github.com/iotbaseline/baseline/durable"
)

// directAlign is the offset, length and buffer alignment of direct
// writes: the page size, a multiple of the logical block size of the
// devices and file systems a slot lives on.
const directAlign = 4096

// slotWriter writes a slot file: whole directAlign blocks from aligned
// buffers at aligned offsets through a second descriptor opened with
// O_DIRECT (Linux, operating-system files only), everything else through
// the durable.File. Copying an image into the page cache was most of a
// download's CPU time (BENCHMARKS.md), and an image written once and read
// back at most once has no business evicting the device's cached files.
// Callers serialise the calls.
type slotWriter struct {
	f      durable.File
	direct *os.File // nil: ordinary writes only
}

// newSlotWriter wraps f, the file name opened in fsys; direct writes are
// tried only when fsys is [durable.OS].
func newSlotWriter(fsys durable.FS, name string, f durable.File) slotWriter {
	w := slotWriter{f: f}
	if fsys == durable.OS {
		w.direct = openDirect(name)
	}
	return w
}

// writeAt writes p at off.
func (w *slotWriter) writeAt(p []byte, off int64) (int, error) {
	done := 0
	if n := len(p) &^ (directAlign - 1); w.direct != nil && n > 0 && off%directAlign == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(p)))%directAlign == 0 {
		m, err := w.direct.WriteAt(p[:n], off)
		switch {
		case err == nil:
			done = m
		case m == 0 && directRefused(err):
			// This file system or device wants another alignment: write
			// through the page cache from now on.
			w.direct.Close()
			w.direct = nil
		default:
			return m, err
		}
	}
	if done == len(p) {
		return done, nil
	}
	if wa, ok := w.f.(io.WriterAt); ok {
		m, err := wa.WriteAt(p[done:], off+int64(done))
		return done + m, err
	}
	if _, err := w.f.Seek(off+int64(done), io.SeekStart); err != nil {
		return done, err
	}
	m, err := w.f.Write(p[done:])
	return done + m, err
}

// closeDirect closes the O_DIRECT descriptor (the durable.File stays
// open). fsync of the file covers what was written through either.
func (w *slotWriter) closeDirect() {
	if w.direct != nil {
		w.direct.Close()
		w.direct = nil
	}
}
