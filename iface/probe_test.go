package iface

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fakeProc(t *testing.T, root string, pid, comm string, args ...string) {
	writeFile(t, filepath.Join(root, pid, "comm"), comm+"\n")
	writeFile(t, filepath.Join(root, pid, "cmdline"), strings.Join(args, "\x00")+"\x00")
}

func TestProbeDebugFixtures(t *testing.T) {
	dir := t.TempDir()
	proc, etc, run := filepath.Join(dir, "proc"), filepath.Join(dir, "etc"), filepath.Join(dir, "run")
	fakeProc(t, proc, "1", "init", "/sbin/init")
	fakeProc(t, proc, "100", "agetty", "/sbin/agetty", "-L", "115200", "ttyS0", "vt100")
	fakeProc(t, proc, "101", "agetty", "/sbin/agetty", "tty1") // a local VT, not a serial port
	fakeProc(t, proc, "102", "dropbear", "dropbear", "-R")
	fakeProc(t, proc, "103", "gdbserver", "gdbserver", ":2345", "/usr/bin/app")
	fakeProc(t, proc, "104", "getty", "getty", "/dev/ttyAMA0")
	writeFile(t, filepath.Join(proc, "self", "comm"), "app\n")
	writeFile(t, filepath.Join(etc, "inittab"), "# ttyS1::respawn:/sbin/getty -L ttyS1 115200 vt100\n::sysinit:/etc/init.d/rcS\nttymxc0::respawn:/sbin/getty -L ttymxc0 115200 vt100\n")
	writeFile(t, filepath.Join(etc, "systemd", "system", "getty.target.wants", "serial-getty@ttyUSB0.service"), "")
	writeFile(t, filepath.Join(run, "systemd", "generator", "getty.target.wants", "serial-getty@hvc0.service"), "")
	writeFile(t, filepath.Join(etc, "systemd", "system", "getty.target.wants", "getty@tty1.service"), "")

	fs, err := ProbeDebug(context.Background(), ProbeOptions{ProcRoot: proc, EtcRoot: etc, RunRoot: run, Allow: []string{"dropbear"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		s := f.Kind + "|" + f.What
		if f.Allowed {
			s += "|allowed"
		}
		got = append(got, s)
	}
	slices.Sort(got)
	want := []string{
		"debugger|gdbserver running",
		"remote-shell|dropbear running|allowed",
		"serial-login|agetty on ttyS0",
		"serial-login|getty on ttyAMA0",
		"serial-login|inittab getty on ttymxc0",
		"serial-login|systemd serial-getty@hvc0.service",
		"serial-login|systemd serial-getty@ttyUSB0.service",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}

	// A clean system has no findings.
	clean := t.TempDir()
	fakeProc(t, filepath.Join(clean, "proc"), "1", "init", "/sbin/init")
	fs, err = ProbeDebug(context.Background(), ProbeOptions{ProcRoot: filepath.Join(clean, "proc"), EtcRoot: filepath.Join(clean, "etc"), RunRoot: filepath.Join(clean, "run")})
	if err != nil || len(fs) != 0 {
		t.Errorf("clean system: %v %v", fs, err)
	}
}

func TestProbeDebugFindsRealProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := ProbeDebug(context.Background(), ProbeOptions{}); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("non-Linux: %v", err)
		}
		return
	}
	// Start a real process named like a debugger and expect the probe of
	// the real /proc to see it.
	dir := t.TempDir()
	sleep := testenv.LookPath(t, "sleep")
	gdb := filepath.Join(dir, "gdbserver")
	if err := os.Symlink(sleep, gdb); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gdb, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	fs, err := ProbeDebug(context.Background(), ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Kind == "debugger" && f.PID == cmd.Process.Pid {
			return
		}
	}
	t.Errorf("probe missed gdbserver pid %d: %+v", cmd.Process.Pid, fs)
}
