//go:build linux

package iface

import (
	"errors"
	"fmt"
	"syscall"
)

const prSetNoNewPrivs = 38 // PR_SET_NO_NEW_PRIVS from <linux/prctl.h>

// SetNoNewPrivs sets no_new_privs on every thread of the process, so no
// later exec can gain privileges (setuid binaries, file capabilities). It
// cannot be undone. In cgo builds the Go runtime cannot apply it to all
// threads and it returns an error wrapping errors.ErrUnsupported: set it
// in the service manager instead (systemd NoNewPrivileges=yes).
func SetNoNewPrivs() error {
	_, _, e := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0)
	if e == syscall.ENOTSUP {
		return fmt.Errorf("iface: no_new_privs on all threads needs a non-cgo build: %w", errors.ErrUnsupported)
	}
	if e != 0 {
		return fmt.Errorf("iface: prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	return nil
}

// DropPrivileges switches the whole process to uid and gid for good, after
// it has bound its privileged ports: supplementary groups cleared, GID then
// UID set (real, effective and saved, so the change cannot be reverted),
// which also empties the capability sets, then no_new_privs set with
// [SetNoNewPrivs]. It verifies the result from /proc/self/status and
// returns an error if the process still runs as root or keeps any
// capability. uid and gid must not be 0. If only no_new_privs could not be
// set (cgo builds) the identity change has still happened and the error
// wraps errors.ErrUnsupported.
func DropPrivileges(uid, gid int) error {
	if uid <= 0 || gid <= 0 {
		return errors.New("iface: DropPrivileges needs a non-root uid and gid")
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("iface: setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("iface: setresgid: %w", err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("iface: setresuid: %w", err)
	}
	nnpErr := SetNoNewPrivs()
	p, err := CurrentPrivileges()
	if err != nil {
		return err
	}
	if p.UID != uid || p.EUID != uid || p.GID != gid || p.EGID != gid || p.CapEff != 0 || p.CapPrm != 0 {
		return fmt.Errorf("iface: privileges not dropped: uid=%d euid=%d gid=%d egid=%d capeff=%#x", p.UID, p.EUID, p.GID, p.EGID, p.CapEff)
	}
	return nnpErr
}
