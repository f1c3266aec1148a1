package update

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestFileSlotDropsDurablePages: after Sync, the image's pages are no
// longer in the page cache (mincore of a mapping of the file), while
// pages written after the Sync began may still be; the device's cache is
// not filled with an image it will not read. Skipped on file systems
// whose pages cannot be dropped (tmpfs keeps them: they are the file).
func TestFileSlotDropsDurablePages(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		t.Skipf("%s is in memory: its pages are the file and stay cached", dir)
	}
	name := filepath.Join(dir, "slot.img")
	s, err := OpenFileSlot(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size = 8 << 20
	img := randomImage(t, size)
	for off := 0; off < size; off += 1 << 20 {
		if _, err := s.WriteAt(img[off:off+1<<20], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	before := resident(t, name, size)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	after := resident(t, name, size)
	t.Logf("resident pages of the %d-page image: %d after writing, %d after Sync", size/os.Getpagesize(), before, after)
	if before == 0 {
		t.Skip("the written pages were never resident here; nothing to drop")
	}
	if after > before/16 {
		t.Fatalf("%d of %d written pages still cached after Sync", after, before)
	}
}

// resident counts the pages of the first size bytes of name that are in
// the page cache.
func resident(t *testing.T, name string, size int) int {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (size+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(m))), uintptr(len(m)), uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
