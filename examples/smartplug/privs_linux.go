//go:build linux

package main

import (
	"log/slog"
	"os"
	"runtime"
	"syscall"

	"github.com/iotbaseline/baseline/iface"
)

// ensureNoNewPrivs makes sure no later exec can gain privileges (setuid
// binaries, file capabilities), provision 5.6-7. iface.SetNoNewPrivs sets
// it on every thread, which Go cannot do in a cgo build (the default build
// links cgo through package net); then the flag is set on this thread and
// the program re-executes itself: execve keeps the flag, and every thread
// of the new image inherits it. It returns only if the flag is set or
// cannot be.
func ensureNoNewPrivs(log *slog.Logger) {
	if p, err := iface.CurrentPrivileges(); err == nil && p.NoNewPrivs {
		return
	}
	err := iface.SetNoNewPrivs()
	if err == nil {
		return
	}
	exe, xerr := os.Executable()
	if xerr != nil {
		log.Warn("no_new_privs not set; set NoNewPrivileges=yes in the service unit", "err", err)
		return
	}
	runtime.LockOSThread()
	const prSetNoNewPrivs = 38
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
		runtime.UnlockOSThread()
		log.Warn("no_new_privs not set; set NoNewPrivileges=yes in the service unit", "err", e)
		return
	}
	xerr = syscall.Exec(exe, os.Args, os.Environ())
	runtime.UnlockOSThread()
	log.Warn("no_new_privs set on one thread only; set NoNewPrivileges=yes in the service unit", "err", xerr)
}
