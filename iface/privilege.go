package iface

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Privileges is what the kernel says this process may do: its user and
// group IDs, effective capability set, and whether no_new_privs is set
// (so no exec can gain privileges through setuid binaries or file
// capabilities).
type Privileges struct {
	UID, EUID, GID, EGID int
	// CapEff is the effective capability mask (bit n = capability n).
	CapEff uint64
	// CapPrm is the permitted mask: capabilities the process could raise.
	CapPrm uint64
	// NoNewPrivs reports the no_new_privs flag.
	NoNewPrivs bool
}

// Root reports whether the process runs with effective UID 0.
func (p Privileges) Root() bool { return p.EUID == 0 }

// capNetBindService is the capability to bind ports below 1024, the one a
// device server may legitimately keep (prefer binding first and then
// calling [DropPrivileges]).
const capNetBindService = 10

var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// capNamesOf names the capabilities in mask ("cap_net_admin", …), lowest
// bit first; unknown bits are shown as "cap_N".
func capNamesOf(mask uint64) []string {
	var out []string
	for mask != 0 {
		n := bits.TrailingZeros64(mask)
		mask &^= 1 << n
		if n < len(capNames) {
			out = append(out, "cap_"+capNames[n])
		} else {
			out = append(out, "cap_"+strconv.Itoa(n))
		}
	}
	return out
}

// errProcStatus reports a /proc/PID/status that does not parse.
var errProcStatus = errors.New("iface: malformed /proc status")

// maxStatusBytes bounds a status file; real ones are about 1.5 KiB.
const maxStatusBytes = 64 << 10

// parseStatus reads the identity and capability lines of a
// /proc/PID/status file (at most 64 KiB). Uid, Gid, CapEff and CapPrm are
// required; NoNewPrivs is false when absent (kernels before 4.10).
func parseStatus(r io.Reader) (Privileges, error) {
	var p Privileges
	var have int
	sc := bufio.NewScanner(io.LimitReader(r, maxStatusBytes))
	sc.Buffer(make([]byte, 0, 1024), 4096)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var err error
		switch k {
		case "Uid", "Gid":
			f := strings.Fields(v)
			if len(f) != 4 {
				return Privileges{}, fmt.Errorf("%w: %s", errProcStatus, k)
			}
			var real, eff uint64
			if real, err = strconv.ParseUint(f[0], 10, 32); err == nil {
				eff, err = strconv.ParseUint(f[1], 10, 32)
			}
			if k == "Uid" {
				p.UID, p.EUID = int(real), int(eff)
				have |= 1
			} else {
				p.GID, p.EGID = int(real), int(eff)
				have |= 2
			}
		case "CapEff":
			p.CapEff, err = parseCapMask(v)
			have |= 4
		case "CapPrm":
			p.CapPrm, err = parseCapMask(v)
			have |= 8
		case "NoNewPrivs":
			p.NoNewPrivs = v == "1"
			if v != "0" && v != "1" {
				err = errProcStatus
			}
		}
		if err != nil {
			return Privileges{}, fmt.Errorf("%w: %s", errProcStatus, k)
		}
	}
	if err := sc.Err(); err != nil {
		return Privileges{}, fmt.Errorf("%w: %v", errProcStatus, err)
	}
	if have != 15 {
		return Privileges{}, fmt.Errorf("%w: missing Uid, Gid, CapEff or CapPrm", errProcStatus)
	}
	return p, nil
}

func parseCapMask(v string) (uint64, error) {
	if len(v) != 16 {
		return 0, errProcStatus
	}
	return strconv.ParseUint(v, 16, 64)
}

// CurrentPrivileges reads this process's privileges from
// /proc/self/status. On systems without /proc it returns an error
// wrapping errors.ErrUnsupported.
func CurrentPrivileges() (Privileges, error) { return readPrivileges("") }

func readPrivileges(root string) (Privileges, error) {
	if root == "" {
		if defaultProcRoot == "" {
			return Privileges{}, errUnsupportedPlatform
		}
		root = defaultProcRoot
	}
	f, err := os.Open(filepath.Join(root, "self", "status"))
	if err != nil {
		return Privileges{}, fmt.Errorf("iface: privileges: %w", err)
	}
	defer f.Close()
	return parseStatus(f)
}
