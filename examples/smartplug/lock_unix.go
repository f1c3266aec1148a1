//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockState takes an exclusive lock on the state directory for the life
// of the process, so that a second instance started on the same state
// (a second `go run` in another terminal) stops before it opens the
// sealed store or the throttle log, instead of writing them concurrently.
func lockState(dir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state directory %s is in use by another running smartplug", dir)
		}
		return nil, fmt.Errorf("locking the state directory: %w", err)
	}
	return func() { f.Close() }, nil
}
