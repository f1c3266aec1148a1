package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// ErrCrashed is returned by every operation of a [CrashFS] from its crash
// point on: the simulated power is off.
var ErrCrashed = errors.New("durable: simulated power loss")

// CrashMode says what unsynced data a [CrashFS] keeps when it comes back from
// a crash.
type CrashMode int

const (
	// DropUnsynced keeps only what was synced: file data that was not
	// followed by File.Sync and directory changes not followed by SyncDir
	// are lost.
	DropUnsynced CrashMode = iota
	// KeepUnsynced keeps every file's unsynced data as written, including
	// the write that was cut in half by the crash (a torn write), while
	// directory changes not followed by SyncDir are still lost. Together with
	// DropUnsynced it brackets what a real disk may do.
	KeepUnsynced
)

func (m CrashMode) String() string {
	if m == KeepUnsynced {
		return "keep-unsynced"
	}
	return "drop-unsynced"
}

type inode struct {
	data   []byte // what reads see now
	synced []byte // what survives DropUnsynced
	mode   fs.FileMode
	mtime  time.Time
}

// CrashFS is an in-memory [FS] for tests that counts every mutating operation
// (each is a write/fsync boundary: a create, write, truncate, sync, rename,
// remove or directory sync) and can simulate power loss at any one of them.
//
// Use [CrashFS.CrashAt] to arm it, run the code under test, then
// [CrashFS.Reboot] to get the file system as it would be found after power
// returns. [CrashTest] does this at every boundary.
//
// Directories made by MkdirAll are durable at once; reads are not counted.
type CrashFS struct {
	mu      sync.Mutex
	cur     map[string]*inode // namespace as the running program sees it
	durable map[string]*inode // namespace as it survives a crash
	dirs    map[string]bool
	ops     int
	crashAt int // 0: never
	crashed bool
	// FailWrites, when set, makes every write fail with the returned error
	// (for example a full disk) without crashing. It is called with the
	// file's name.
	FailWrites func(name string) error
}

// NewCrashFS returns an empty CrashFS with the root directory present.
func NewCrashFS() *CrashFS {
	return &CrashFS{cur: map[string]*inode{}, durable: map[string]*inode{}, dirs: map[string]bool{"/": true, ".": true}}
}

// Ops returns how many mutating operations have been performed (or attempted,
// counting the one that crashed).
func (c *CrashFS) Ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops
}

// CrashAt arms the FS to lose power at operation number n (1-based, counted
// from now on): that operation fails with ErrCrashed (a write is torn in half
// first) and so does every later one. n <= 0 disarms it.
func (c *CrashFS) CrashAt(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= 0 {
		c.crashAt = 0
		return
	}
	c.crashAt = c.ops + n
}

// Crashed reports whether the simulated power loss has happened.
func (c *CrashFS) Crashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

// Reboot returns a new CrashFS holding what survives a power loss now (or at
// the crash, if one happened) under mode. The receiver is left as it was.
func (c *CrashFS) Reboot(mode CrashMode) *CrashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := NewCrashFS()
	for d := range c.dirs {
		n.dirs[d] = true
	}
	seen := map[*inode]*inode{}
	for name, ino := range c.durable {
		cp, ok := seen[ino]
		if !ok {
			src := ino.synced
			if mode == KeepUnsynced {
				src = ino.data
			}
			b := append([]byte(nil), src...)
			cp = &inode{data: b, synced: append([]byte(nil), b...), mode: ino.mode, mtime: ino.mtime}
			seen[ino] = cp
		}
		n.cur[name] = cp
		n.durable[name] = cp
	}
	return n
}

// Files returns the names of the files that exist now, sorted.
func (c *CrashFS) Files() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.cur {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Contents returns the current content of every file, keyed by name, for
// tests that look for bytes that must never be at rest (a plaintext secret).
func (c *CrashFS) Contents() map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]byte{}
	for n, ino := range c.cur {
		out[n] = append([]byte(nil), ino.data...)
	}
	return out
}

func clean(name string) string {
	name = filepath.ToSlash(name)
	if name == "" {
		return "."
	}
	return path.Clean(name)
}

// step counts one mutating operation; it returns ErrCrashed when power is
// (or just went) off, and torn=true when this is the crashing operation.
func (c *CrashFS) step() (crashNow bool, err error) {
	if c.crashed {
		return false, ErrCrashed
	}
	c.ops++
	if c.crashAt != 0 && c.ops >= c.crashAt {
		c.crashed = true
		return true, ErrCrashed
	}
	return false, nil
}

func (c *CrashFS) dirExists(d string) bool {
	return c.dirs[d] || d == "." || d == "/"
}

// OpenFile implements FS.
func (c *CrashFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name = clean(name)
	if c.crashed {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrCrashed}
	}
	if c.dirs[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	ino, ok := c.cur[name]
	switch {
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok:
		if !c.dirExists(path.Dir(name)) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		if _, err := c.step(); err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		ino = &inode{mode: perm.Perm(), mtime: time.Now()}
		c.cur[name] = ino
	case flag&os.O_TRUNC != 0 && len(ino.data) > 0:
		if _, err := c.step(); err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		ino.data = ino.data[:0:0]
	}
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	return &memFile{fs: c, name: name, ino: ino, append: flag&os.O_APPEND != 0,
		canRead: acc == os.O_RDONLY || acc == os.O_RDWR, canWrite: acc == os.O_WRONLY || acc == os.O_RDWR}, nil
}

// Rename implements FS.
func (c *CrashFS) Rename(oldname, newname string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldname, newname = clean(oldname), clean(newname)
	ino, ok := c.cur[oldname]
	if !ok {
		if c.crashed {
			return &fs.PathError{Op: "rename", Path: oldname, Err: ErrCrashed}
		}
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	if !c.dirExists(path.Dir(newname)) {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	if _, err := c.step(); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	delete(c.cur, oldname)
	c.cur[newname] = ino
	return nil
}

// Remove implements FS.
func (c *CrashFS) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	name = clean(name)
	if _, ok := c.cur[name]; !ok {
		if c.crashed {
			return &fs.PathError{Op: "remove", Path: name, Err: ErrCrashed}
		}
		if c.dirs[name] {
			for n := range c.cur {
				if path.Dir(n) == name {
					return &fs.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
				}
			}
			delete(c.dirs, name)
			return nil
		}
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if _, err := c.step(); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	delete(c.cur, name)
	return nil
}

// MkdirAll implements FS. Directories are durable at once.
func (c *CrashFS) MkdirAll(name string, perm fs.FileMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return &fs.PathError{Op: "mkdir", Path: name, Err: ErrCrashed}
	}
	name = clean(name)
	for d := name; d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := c.cur[d]; ok {
			return &fs.PathError{Op: "mkdir", Path: d, Err: errors.New("not a directory")}
		}
		c.dirs[d] = true
	}
	return nil
}

// ReadDir implements FS.
func (c *CrashFS) ReadDir(name string) ([]fs.DirEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name = clean(name)
	if c.crashed {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: ErrCrashed}
	}
	if !c.dirExists(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for n, ino := range c.cur {
		if path.Dir(n) == name {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: path.Base(n), size: int64(len(ino.data)), mode: ino.mode, mtime: ino.mtime}))
		}
	}
	for d := range c.dirs {
		if d != name && path.Dir(d) == name {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: path.Base(d), mode: fs.ModeDir | 0o700}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Stat implements FS.
func (c *CrashFS) Stat(name string) (fs.FileInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name = clean(name)
	if c.crashed {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: ErrCrashed}
	}
	if ino, ok := c.cur[name]; ok {
		return memInfo{name: path.Base(name), size: int64(len(ino.data)), mode: ino.mode, mtime: ino.mtime}, nil
	}
	if c.dirExists(name) {
		return memInfo{name: path.Base(name), mode: fs.ModeDir | 0o700}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// SyncDir implements FS: the directory's current entries become durable.
func (c *CrashFS) SyncDir(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	name = clean(name)
	if !c.crashed && !c.dirExists(name) {
		return &fs.PathError{Op: "sync", Path: name, Err: fs.ErrNotExist}
	}
	if _, err := c.step(); err != nil {
		return &fs.PathError{Op: "sync", Path: name, Err: err}
	}
	for n := range c.durable {
		if path.Dir(n) == name {
			if _, ok := c.cur[n]; !ok {
				delete(c.durable, n)
			}
		}
	}
	for n, ino := range c.cur {
		if path.Dir(n) == name {
			c.durable[n] = ino
		}
	}
	return nil
}

type memInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

type memFile struct {
	fs       *CrashFS
	name     string
	ino      *inode
	off      int64
	append   bool
	canRead  bool
	canWrite bool
	closed   bool
}

func (f *memFile) err(op string, err error) error {
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n, err := f.readAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.readAt(p, off)
}

func (f *memFile) readAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, f.err("read", fs.ErrClosed)
	}
	if f.fs.crashed {
		return 0, f.err("read", ErrCrashed)
	}
	if !f.canRead {
		return 0, f.err("read", errors.New("file not open for reading"))
	}
	if off < 0 {
		return 0, f.err("read", errors.New("negative offset"))
	}
	if off >= int64(len(f.ino.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, f.err("write", fs.ErrClosed)
	}
	if !f.canWrite {
		return 0, f.err("write", errors.New("file not open for writing"))
	}
	if f.fs.FailWrites != nil && !f.fs.crashed {
		if err := f.fs.FailWrites(f.name); err != nil {
			return 0, f.err("write", err)
		}
	}
	if f.append {
		f.off = int64(len(f.ino.data))
	}
	crashNow, err := f.fs.step()
	if err != nil {
		if crashNow && len(p) > 1 {
			f.writeAt(p[:len(p)/2]) // the torn write
		}
		return 0, f.err("write", err)
	}
	f.writeAt(p)
	return len(p), nil
}

func (f *memFile) writeAt(p []byte) {
	end := f.off + int64(len(p))
	if end > int64(len(f.ino.data)) {
		nd := make([]byte, end)
		copy(nd, f.ino.data)
		f.ino.data = nd
	}
	copy(f.ino.data[f.off:], p)
	f.off = end
	f.ino.mtime = time.Now()
}

func (f *memFile) Seek(offset int64, whence int) (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, f.err("seek", fs.ErrClosed)
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.off + offset
	case io.SeekEnd:
		abs = int64(len(f.ino.data)) + offset
	default:
		return 0, f.err("seek", fmt.Errorf("bad whence %d", whence))
	}
	if abs < 0 {
		return 0, f.err("seek", errors.New("negative position"))
	}
	f.off = abs
	return abs, nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return f.err("truncate", fs.ErrClosed)
	}
	if size < 0 {
		return f.err("truncate", errors.New("negative size"))
	}
	if _, err := f.fs.step(); err != nil {
		return f.err("truncate", err)
	}
	if size <= int64(len(f.ino.data)) {
		f.ino.data = f.ino.data[:size:size]
	} else {
		nd := make([]byte, size)
		copy(nd, f.ino.data)
		f.ino.data = nd
	}
	return nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return f.err("sync", fs.ErrClosed)
	}
	if _, err := f.fs.step(); err != nil {
		return f.err("sync", err)
	}
	f.ino.synced = append(f.ino.synced[:0:0], f.ino.data...)
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return memInfo{name: path.Base(f.name), size: int64(len(f.ino.data)), mode: f.ino.mode, mtime: f.ino.mtime}, nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return f.err("close", fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// CrashTest runs a power-loss test at every write/fsync boundary of run.
//
// It first runs setup (if not nil) and then run once on a fresh CrashFS
// without crashing, to count run's boundaries. Then for every boundary i and
// for both crash modes it runs setup and run again on a fresh CrashFS armed to
// crash at i, reboots the FS, and calls check with the rebooted FS, the
// boundary, the mode and run's error. check asserts the invariants (old or
// new content, never a mix; nothing acknowledged lost). Finally check is also
// called once with crash point 0 for the run that did not crash.
//
// run should report, through state it shares with check, what it had
// acknowledged before the crash.
func CrashTest(t interface {
	Helper()
	Fatalf(string, ...any)
	Logf(string, ...any)
}, setup func(fsys *CrashFS), run func(fsys *CrashFS) error, check func(fsys *CrashFS, point int, mode CrashMode, runErr error)) int {
	t.Helper()
	fsys := NewCrashFS()
	if setup != nil {
		setup(fsys)
	}
	start := fsys.Ops()
	if err := run(fsys); err != nil {
		t.Fatalf("run without crash failed: %v", err)
	}
	n := fsys.Ops() - start
	check(fsys.Reboot(DropUnsynced), 0, DropUnsynced, nil)
	for i := 1; i <= n; i++ {
		for _, mode := range []CrashMode{DropUnsynced, KeepUnsynced} {
			fsys := NewCrashFS()
			if setup != nil {
				setup(fsys)
			}
			fsys.CrashAt(i)
			err := run(fsys)
			check(fsys.Reboot(mode), i, mode, err)
		}
	}
	return n
}

// IsCrash reports whether err comes from a simulated power loss.
func IsCrash(err error) bool { return errors.Is(err, ErrCrashed) }
