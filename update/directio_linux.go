//go:build linux

package update

import (
	"errors"
	"os"
	"syscall"
)

// openDirect opens name a second time for writing with O_DIRECT, or
// returns nil when the file system refuses it (tmpfs on older kernels,
// some FUSE and network file systems).
func openDirect(name string) *os.File {
	f, err := os.OpenFile(name, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}

// directRefused reports whether a direct write failed because the file
// system or device wants another alignment than directAlign.
func directRefused(err error) bool { return errors.Is(err, syscall.EINVAL) }
