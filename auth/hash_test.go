package auth

import (
	"context"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/auth/internal/argon2"
)

// TestIdleArenasReturnToOS: an arena keeps its memory across a burst of
// hashes and gives it back once hashing has been idle, so an idle device
// does not hold m KiB per hash slot.
func TestIdleArenasReturnToOS(t *testing.T) {
	h := newHasher(2, nil)
	h.idle.after = 20 * time.Millisecond
	defer h.stopIdle()
	p := Params{Memory: 64, Time: 1, Threads: 1}.withDefaults()
	hashOnce := func() {
		if err := h.do(context.Background(), func(a *argon2.Arena) { newHashIn(a, []byte("pw"), p) }); err != nil {
			t.Fatal(err)
		}
	}
	resident := func() (n int) {
		for range cap(h.pool) {
			a := <-h.pool
			n += a.Bytes()
			defer func() { h.pool <- a }()
		}
		return n
	}
	hashOnce()
	if resident() == 0 {
		t.Fatal("arena not allocated by a hash")
	}
	// resident() briefly holds the arenas itself, so a timer that fires
	// just then finds nothing to free; each retry hashes again to re-arm it.
	freed := false
	for range 20 {
		time.Sleep(100 * time.Millisecond)
		if resident() == 0 {
			freed = true
			break
		}
		hashOnce()
	}
	if !freed {
		t.Fatalf("arenas still hold %d bytes after hashing went idle", resident())
	}
	hashOnce() // a freed arena works again
	if resident() == 0 {
		t.Fatal("freed arena did not allocate again")
	}
}
