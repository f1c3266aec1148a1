package update

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestFileSlotOnDisk writes through a FileSlot on the real file system the
// way Download does (aligned whole chunks, then a short tail), and the
// ways it may also be used (an offset and a buffer that are not 4 KiB
// aligned, a rewrite of written data), and reads everything back, through
// the slot and after reopening. On Linux the aligned writes go through
// O_DIRECT where the file system allows it; the content must be the same
// either way.
func TestFileSlotOnDisk(t *testing.T) {
	name := filepath.Join(t.TempDir(), "slot.img")
	s, err := OpenFileSlot(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("O_DIRECT: %v", s.w.direct != nil)
	const chunk = 64 << 10
	img := randomImage(t, 5*chunk+1000)
	bufs := [][]byte{make([]byte, chunk), make([]byte, chunk)}
	for i, off := 0, 0; off < len(img); i, off = i+1, off+chunk {
		n := min(chunk, len(img)-off)
		b := bufs[i%2][:n]
		copy(b, img[off:])
		if m, err := s.WriteAt(b, int64(off)); err != nil || m != n {
			t.Fatalf("chunk %d: wrote %d of %d: %v", i, m, n, err)
		}
	}
	// Unaligned offset and unaligned buffer: ordinary writes.
	patch := randomImage(t, 3*directAlign+1)
	copy(img[100:], patch[1:])
	if m, err := s.WriteAt(patch[1:], 100); err != nil || m != len(patch)-1 {
		t.Fatalf("unaligned write: %d, %v", m, err)
	}
	// An aligned rewrite after the ordinary one covered the same pages.
	again := make([]byte, 2*directAlign)
	copy(again, randomImage(t, len(again)))
	copy(img[directAlign:], again)
	if m, err := s.WriteAt(again, directAlign); err != nil || m != len(again) {
		t.Fatalf("aligned rewrite: %d, %v", m, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(img)+10)
	if n, _ := s.ReadAt(got, 0); n != len(img) || !bytes.Equal(got[:n], img) {
		t.Fatalf("read back %d bytes, different from what was written", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileSlot(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.ReadAt(got, 0); n != len(img) || !bytes.Equal(got[:n], img) {
		t.Fatal("after reopening the slot holds other bytes")
	}
}
