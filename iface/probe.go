package iface

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ProbeOptions tunes [ProbeDebug]. The zero value probes the real system.
type ProbeOptions struct {
	// Allow lists process names the device declares on purpose (for
	// example "sshd" on a developer-enabled unit); they are reported but
	// not counted as findings. Nil allows none.
	Allow []string
	// ProcRoot and EtcRoot replace /proc and /etc (tests); "" means the
	// real ones.
	ProcRoot, EtcRoot string
	// RunRoot replaces /run (systemd generator output); "" means /run.
	RunRoot string
}

// DebugFinding is one debug or console interface the probe found.
type DebugFinding struct {
	// Kind is "serial-login", "remote-shell" or "debugger".
	Kind string `json:"kind"`
	// What describes it: a process name and its tty, or the file that
	// enables it.
	What string `json:"what"`
	// PID is the process, 0 for a configuration file.
	PID int `json:"pid,omitempty"`
	// Allowed is true when the device declared it in ProbeOptions.Allow.
	Allowed bool `json:"allowed,omitempty"`
}

// Process names the probe looks for.
var (
	gettyNames   = []string{"getty", "agetty", "mingetty", "mgetty", "uugetty", "fbgetty", "login"}
	shellNames   = []string{"sshd", "sshd-session", "dropbear", "telnetd", "in.telnetd", "utelnetd", "busybox-telnetd", "rlogind", "adbd"}
	debuggerName = []string{"gdbserver", "gdb", "lldb-server", "dlv", "openocd", "strace"}
	// serialTTYPrefixes are device names of serial ports and the console:
	// a login there is a physical debug interface (5.6-4).
	serialTTYPrefixes = []string{"ttyS", "ttyAMA", "ttyUSB", "ttyACM", "ttymxc", "ttyO", "ttySAC", "ttyMSM", "ttyHS", "ttyPS", "hvc", "console"}
)

const (
	maxProcs      = 1 << 15
	maxSmallFile  = 64 << 10
	maxCmdlineLen = 4 << 10
)

// ProbeDebug looks for interfaces a lab with physical access would try:
// a login prompt on a serial tty (running getty processes, /etc/inittab
// entries, systemd serial-getty units) and remote shells or debuggers
// running (sshd, dropbear, telnetd, gdbserver, …). It reads /proc and /etc
// only. On systems without /proc it returns an error wrapping
// errors.ErrUnsupported.
func ProbeDebug(ctx context.Context, o ProbeOptions) ([]DebugFinding, error) {
	proc, etc, run := o.ProcRoot, o.EtcRoot, o.RunRoot
	if proc == "" {
		if defaultProcRoot == "" {
			return nil, errUnsupportedPlatform
		}
		proc = defaultProcRoot
	}
	if etc == "" {
		etc = "/etc"
	}
	if run == "" {
		run = "/run"
	}
	var out []DebugFinding
	add := func(f DebugFinding) {
		name, _, _ := strings.Cut(f.What, " ")
		f.Allowed = slices.Contains(o.Allow, name)
		out = append(out, f)
	}
	d, err := os.Open(proc)
	if err != nil {
		return nil, fmt.Errorf("iface: debug probe: %w", err)
	}
	names, _ := d.Readdirnames(maxProcs)
	d.Close()
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		comm, err := readSmall(filepath.Join(proc, n, "comm"), 256)
		if err != nil {
			continue // exited meanwhile
		}
		c := strings.TrimSpace(string(comm))
		switch {
		case slices.Contains(gettyNames, c):
			cmd, _ := readSmall(filepath.Join(proc, n, "cmdline"), maxCmdlineLen)
			for a := range bytes.SplitSeq(cmd, []byte{0}) {
				if tty := serialTTY(string(a)); tty != "" {
					add(DebugFinding{Kind: "serial-login", What: c + " on " + tty, PID: pid})
					break
				}
			}
		case slices.Contains(shellNames, c):
			add(DebugFinding{Kind: "remote-shell", What: c + " running", PID: pid})
		case slices.Contains(debuggerName, c):
			add(DebugFinding{Kind: "debugger", What: c + " running", PID: pid})
		}
	}
	if b, err := readSmall(filepath.Join(etc, "inittab"), maxSmallFile); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' || !strings.Contains(line, "getty") {
				continue
			}
			for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ':' || r == ' ' || r == '\t' }) {
				if tty := serialTTY(f); tty != "" {
					add(DebugFinding{Kind: "serial-login", What: "inittab getty on " + tty})
					break
				}
			}
		}
	}
	for _, dir := range []string{
		filepath.Join(etc, "systemd", "system", "getty.target.wants"),
		filepath.Join(etc, "systemd", "system", "multi-user.target.wants"),
		filepath.Join(run, "systemd", "generator", "getty.target.wants"),
	} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for i, e := range ents {
			if i >= 1024 {
				break
			}
			if strings.HasPrefix(e.Name(), "serial-getty@") {
				add(DebugFinding{Kind: "serial-login", What: "systemd " + e.Name()})
			}
		}
	}
	return out, nil
}

// serialTTY returns the serial tty named by arg ("ttyS0", "/dev/ttyAMA0"),
// or "".
func serialTTY(arg string) string {
	a := strings.TrimPrefix(arg, "/dev/")
	for _, p := range serialTTYPrefixes {
		if strings.HasPrefix(a, p) {
			return a
		}
	}
	return ""
}

func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
