//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
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

// dropToUser hands the state directory to the named account and switches
// the whole process to it for good (iface.DropPrivileges: groups, GID, UID,
// capabilities gone, checked from /proc). It does nothing without a name or
// when not running as root. Files the device opened before stay open; the
// directory must be reachable by the account (every parent searchable).
func dropToUser(name, stateDir string, log *slog.Logger) error {
	if name == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("--user: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 || gid == 0 {
		return fmt.Errorf("--user %s: not an unprivileged account (uid %s, gid %s)", name, u.Uid, u.Gid)
	}
	err = filepath.WalkDir(stateDir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("--user: handing the state directory to %s: %w", name, err)
	}
	if err := iface.DropPrivileges(uid, gid); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("--user: %w", err)
	}
	log.Info("dropped root", "user", name, "uid", uid, "gid", gid)
	return nil
}
