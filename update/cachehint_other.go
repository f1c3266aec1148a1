//go:build !linux

package update

import "os"

// dropCache does nothing where posix_fadvise is not wired up.
func dropCache(*os.File, int64, int64) {}
