//go:build unix

package argon2

import (
	"syscall"
	"unsafe"
)

// allocBlocks maps n blocks of anonymous memory outside the Go heap,
// falling back to the heap if the mapping fails.
func allocBlocks(n uint32) ([]block, func()) {
	mem, err := syscall.Mmap(-1, 0, int(n)*blockLength*8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil || len(mem) == 0 {
		return make([]block, n), nil
	}
	return unsafe.Slice((*block)(unsafe.Pointer(&mem[0])), n), func() { syscall.Munmap(mem) }
}
