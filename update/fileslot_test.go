package update

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"
)

// TestFileSlotOnDisk writes through a FileSlot on the real file system the
// way Download does (whole chunks in order, a short tail, Sync beside the
// writes) and the ways it may also be used (an unaligned offset, a
// rewrite of written data), and reads everything back, through the slot
// and after reopening.
func TestFileSlotOnDisk(t *testing.T) {
	name := filepath.Join(t.TempDir(), "slot.img")
	s, err := OpenFileSlot(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 64 << 10
	img := randomImage(t, 5*chunk+1000)
	bufs := [][]byte{make([]byte, chunk), make([]byte, chunk)}
	var wg sync.WaitGroup
	for i, off := 0, 0; off < len(img); i, off = i+1, off+chunk {
		n := min(chunk, len(img)-off)
		b := bufs[i%2][:n]
		copy(b, img[off:])
		if m, err := s.WriteAt(b, int64(off)); err != nil || m != n {
			t.Fatalf("chunk %d: wrote %d of %d: %v", i, m, n, err)
		}
		// As a download's checkpoint does: Sync while the next writes run.
		wg.Go(func() {
			if err := s.Sync(); err != nil {
				t.Errorf("Sync beside a write: %v", err)
			}
		})
	}
	wg.Wait()
	patch := randomImage(t, 3*4096+1)
	copy(img[100:], patch[1:])
	if m, err := s.WriteAt(patch[1:], 100); err != nil || m != len(patch)-1 {
		t.Fatalf("unaligned write: %d, %v", m, err)
	}
	again := randomImage(t, 2*4096)
	copy(img[4096:], again)
	if m, err := s.WriteAt(again, 4096); err != nil || m != len(again) {
		t.Fatalf("rewrite: %d, %v", m, err)
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
