//go:build unix

package main

import (
	"log/slog"
	"os"
	"syscall"
)

// reexec restarts the plug the way a power cycle would: the same program
// with the same arguments replaces this one (the state lock, the listening
// socket and every other descriptor close on exec). Everything the reset
// wrote is already durable, so nothing needs closing first. A plug run by
// a supervisor that restarts it would simply exit instead.
func reexec(log *slog.Logger) {
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, os.Environ())
	}
	log.Error("restart after factory reset failed; exiting so that the next start finishes it", "err", err)
	os.Exit(1)
}
