//go:build linux

package update

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache tells the kernel that the clean cached pages of f in [off,
// off+n) will not be needed (posix_fadvise DONTNEED). A hint: errors are
// of no consequence.
func dropCache(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
