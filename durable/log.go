package durable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Frame layout: 4-byte little-endian payload length, 4-byte CRC32C
// (Castagnoli) over the length bytes and the payload, then the payload.
const frameHeader = 8

// DefaultMaxRecord is the largest record a [Log] accepts unless
// [LogOptions.MaxRecord] says otherwise.
const DefaultMaxRecord = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrRecordTooLarge is returned by [Log.Append] for a record over the limit.
var ErrRecordTooLarge = errors.New("durable: log record too large")

// ErrClosed is returned by operations on a closed [Log].
var ErrClosed = errors.New("durable: log closed")

// ErrLogDamaged is returned by OpenLog with LogOptions.StrictTail for a log
// damaged before its end.
var ErrLogDamaged = errors.New("durable: log damaged before its end (not a torn append)")

// LogOptions tunes [OpenLog]. The zero value is the default.
type LogOptions struct {
	// MaxRecord bounds a record's size on append and on replay; a frame
	// claiming more is treated as corruption. Zero means DefaultMaxRecord.
	MaxRecord int
	// Perm is the mode of a newly created log file; zero means 0600.
	Perm os.FileMode
	// StrictTail makes OpenLog refuse, with ErrLogDamaged and without
	// cutting anything, a log whose first bad frame is followed by more
	// bytes than that frame claims. Power loss during an append tears only
	// the end of the file, so such a log was damaged or edited in place.
	// Use it for logs written one record per Append (a multi-record
	// Append torn by power loss can look the same).
	StrictTail bool
}

// Log is an append-only file of records, each framed with its length and a
// CRC32C. A record is durable once [Log.Append] returns nil. When the log is
// opened, a torn or corrupt tail — what power loss during an append leaves —
// is cut off at the last whole record, so replay sees exactly the records
// whose append completed, possibly followed by ones whose append was in
// flight, and never a partial record.
//
// A Log is safe for concurrent use.
type Log struct {
	mu   sync.Mutex
	fsys FS
	name string
	f    File
	max  int
	size int64
	n    int
	cut  int64
	buf  []byte
}

// OpenLog opens or creates the log at name, replays its frames to find the
// last whole record, and truncates anything after it (syncing the cut).
func OpenLog(fsys FS, name string, opt LogOptions) (*Log, error) {
	if opt.MaxRecord <= 0 {
		opt.MaxRecord = DefaultMaxRecord
	}
	if opt.Perm == 0 {
		opt.Perm = 0o600
	}
	_, statErr := fsys.Stat(name)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, opt.Perm)
	if err != nil {
		return nil, err
	}
	l := &Log{fsys: fsys, name: name, f: f, max: opt.MaxRecord}
	if created {
		if err := fsys.SyncDir(filepath.Dir(name)); err != nil {
			f.Close()
			return nil, err
		}
	}
	end, n, err := l.scan(nil)
	if err != nil {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if opt.StrictTail && fi.Size()-end > frameHeader {
		var h [frameHeader]byte
		if _, err := f.ReadAt(h[:], end); err == nil {
			claimed := int64(binary.LittleEndian.Uint32(h[:4]))
			if claimed > int64(l.max) || end+frameHeader+claimed < fi.Size() {
				f.Close()
				return nil, fmt.Errorf("%w: %s: bad record at offset %d of %d bytes", ErrLogDamaged, name, end, fi.Size())
			}
		}
	}
	if fi.Size() > end {
		l.cut = fi.Size() - end
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	l.size, l.n = end, n
	return l, nil
}

// Cut returns how many bytes of torn or corrupt tail OpenLog removed.
func (l *Log) Cut() int64 { return l.cut }

// Size returns the log's length in bytes (whole records only).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Len returns the number of records in the log.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// AppendFrame appends rec, framed, to dst.
func AppendFrame(dst, rec []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(rec)))
	c := crc32.Update(0, castagnoli, h[:4])
	c = crc32.Update(c, castagnoli, rec)
	binary.LittleEndian.PutUint32(h[4:], c)
	dst = append(dst, h[:]...)
	return append(dst, rec...)
}

// Append writes the records with one write and one sync (group commit): when
// it returns nil they are all durable. On error the log is cut back to its
// previous length, so a failed append (a full disk, say) leaves no partial
// record behind.
func (l *Log) Append(recs ...[]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	l.buf = l.buf[:0]
	for _, r := range recs {
		if len(r) > l.max {
			return fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, len(r), l.max)
		}
		l.buf = AppendFrame(l.buf, r)
	}
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.f.Seek(l.size, io.SeekStart); err != nil {
		return err
	}
	if _, err := l.f.Write(l.buf); err != nil {
		l.rollback()
		return err
	}
	if err := l.f.Sync(); err != nil {
		l.rollback()
		return err
	}
	l.size += int64(len(l.buf))
	l.n += len(recs)
	if cap(l.buf) > 1<<20 {
		l.buf = nil
	}
	return nil
}

func (l *Log) rollback() {
	if l.f.Truncate(l.size) == nil {
		l.f.Sync()
	}
}

// Scan calls fn for every record in order, with the record's offset. The
// slice passed to fn is only valid during the call. Scan stops at the first
// error fn returns and returns it.
func (l *Log) Scan(fn func(off int64, rec []byte) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	_, _, err := l.scan(fn)
	return err
}

// scan reads frames from the start and returns the offset after the last
// whole, valid frame and the count of such frames.
func (l *Log) scan(fn func(off int64, rec []byte) error) (int64, int, error) {
	var (
		off int64
		n   int
		h   [frameHeader]byte
		rec []byte
	)
	for {
		if _, err := l.f.ReadAt(h[:], off); err != nil {
			if errors.Is(err, io.EOF) {
				return off, n, nil
			}
			return 0, 0, err
		}
		size := binary.LittleEndian.Uint32(h[:4])
		if int64(size) > int64(l.max) {
			return off, n, nil
		}
		if cap(rec) < int(size) {
			rec = make([]byte, size)
		}
		rec = rec[:size]
		if _, err := l.f.ReadAt(rec, off+frameHeader); err != nil {
			if errors.Is(err, io.EOF) {
				return off, n, nil
			}
			return 0, 0, err
		}
		c := crc32.Update(0, castagnoli, h[:4])
		c = crc32.Update(c, castagnoli, rec)
		if c != binary.LittleEndian.Uint32(h[4:]) {
			return off, n, nil
		}
		if fn != nil {
			if err := fn(off, rec); err != nil {
				return 0, 0, err
			}
		}
		off += frameHeader + int64(size)
		n++
	}
}

// Rewrite atomically replaces the whole log with recs (for compaction): after
// a crash the log holds either all the old records or exactly recs.
func (l *Log) Rewrite(recs [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	var buf []byte
	for _, r := range recs {
		if len(r) > l.max {
			return fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, len(r), l.max)
		}
		buf = AppendFrame(buf, r)
	}
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	if err := WriteFile(l.fsys, l.name, buf, fi.Mode().Perm()); err != nil {
		return err
	}
	f, err := l.fsys.OpenFile(l.name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	l.f.Close()
	l.f = f
	l.size = int64(len(buf))
	l.n = len(recs)
	return nil
}

// Close closes the log's file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
