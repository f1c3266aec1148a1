package rauc_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/rauc"
)

// raucEnv is a real RAUC system: a private system bus, `rauc service`, a
// custom bootloader backend script keeping primary and states in files, and
// two file-backed raw slots.
type raucEnv struct {
	t       *testing.T
	dir     string
	rauc    string
	conf    string
	busAddr string
	boot    string // the bootloader script's state directory
	slotA   string
	slotB   string
	cert    string
	key     string
	svc     *exec.Cmd
	svcDone chan struct{}
}

const bootScript = `#!/bin/sh
D=%q
echo "$*" >> "$D/calls.log"
case "$1" in
get-primary) cat "$D/primary" ;;
set-primary) echo "$2" > "$D/primary" ;;
get-state) cat "$D/state.$2" ;;
set-state) echo "$3" > "$D/state.$2" ;;
get-current) cat "$D/current" ;;
*) exit 1 ;;
esac
`

const busConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=%s</listen>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`

func newEnv(t *testing.T) *raucEnv {
	t.Helper()
	e := &raucEnv{t: t, rauc: testenv.LookPath(t, "rauc")}
	dbus := testenv.LookPath(t, "dbus-daemon")
	testenv.LookPath(t, "mksquashfs")
	testenv.LookPath(t, "openssl")
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "rauc install loop-mounts the bundle: needs root")
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "rauc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.dir = dir
	e.boot = filepath.Join(dir, "boot")
	must(t, os.MkdirAll(e.boot, 0o700))
	for name, v := range map[string]string{"primary": "A", "current": "A", "state.A": "good", "state.B": "good"} {
		must(t, os.WriteFile(filepath.Join(e.boot, name), []byte(v+"\n"), 0o600))
	}
	script := filepath.Join(dir, "bootloader.sh")
	must(t, os.WriteFile(script, fmt.Appendf(nil, bootScript, e.boot), 0o700))
	e.slotA, e.slotB = filepath.Join(dir, "slotA.img"), filepath.Join(dir, "slotB.img")
	must(t, os.WriteFile(e.slotA, bytes.Repeat([]byte("A"), 1<<20), 0o600))
	must(t, os.WriteFile(e.slotB, bytes.Repeat([]byte("b"), 1<<20), 0o600))
	e.cert, e.key = e.makeCert("signer")
	must(t, os.MkdirAll(filepath.Join(dir, "mnt"), 0o700))
	e.conf = filepath.Join(dir, "system.conf")
	must(t, os.WriteFile(e.conf, fmt.Appendf(nil, `[system]
compatible=baseline-test
bootloader=custom
data-directory=%[1]s/data
mountprefix=%[1]s/mnt

[keyring]
path=%[2]s

[handlers]
bootloader-custom-backend=%[3]s

[slot.rootfs.0]
device=%[4]s
type=raw
bootname=A

[slot.rootfs.1]
device=%[5]s
type=raw
bootname=B
`, dir, e.cert, script, e.slotA, e.slotB), 0o600))

	// The private system bus.
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	must(t, os.WriteFile(conf, fmt.Appendf(nil, busConf, sock), 0o600))
	out, err := exec.Command(dbus, "--config-file="+conf, "--fork", "--print-pid").Output()
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	var busPid int
	if _, err := fmt.Sscan(string(out), &busPid); err != nil || busPid <= 0 {
		t.Fatalf("dbus-daemon printed %q", out)
	}
	t.Cleanup(func() { syscall.Kill(busPid, syscall.SIGTERM) })
	e.busAddr = "unix:path=" + sock
	e.startService("A")
	t.Cleanup(e.stopService)
	return e
}

// startService starts `rauc service`, telling it which slot booted (no
// real bootloader tells it here), and waits until it answers.
func (e *raucEnv) startService(booted string) {
	t := e.t
	must(t, os.WriteFile(filepath.Join(e.boot, "current"), []byte(booted+"\n"), 0o600))
	cmd := exec.Command(e.rauc, "--conf="+e.conf, "service", "--override-boot-slot="+booted)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+e.busAddr)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.svc, e.svcDone = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(e.svcDone)
	sys := e.system(t.TempDir())
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := sys.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if i == 100 {
			t.Fatalf("rauc service does not answer: %v; its log: %s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopService stops the service by its pid, as a reboot would.
func (e *raucEnv) stopService() {
	if e.svc == nil {
		return
	}
	e.svc.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.svcDone:
	case <-time.After(10 * time.Second):
		e.svc.Process.Kill()
		<-e.svcDone
	}
	e.svc = nil
}

// reboot restarts the service as if the device had booted slot bootname.
func (e *raucEnv) reboot(bootname string) {
	e.stopService()
	e.startService(bootname)
}

func (e *raucEnv) system(dir string) *rauc.System {
	return e.systemNotify(dir, nil)
}

// systemNotify is system with Config.Notify set.
func (e *raucEnv) systemNotify(dir string, notify chan<- update.Event) *rauc.System {
	s, err := rauc.New(rauc.Config{Binary: e.rauc, ConfFile: e.conf, Dir: dir,
		Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + e.busAddr}, Notify: notify})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// makeCert makes a self-signed ECDSA P-256 signing certificate (RAUC's
// keyring may hold the signer itself as its trust anchor).
func (e *raucEnv) makeCert(name string) (cert, key string) {
	cert, key = filepath.Join(e.dir, name+".cert.pem"), filepath.Join(e.dir, name+".key.pem")
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-nodes", "-keyout", key, "-out", cert, "-days", "3650", "-subj", "/CN=baseline test "+name).CombinedOutput()
	if err != nil {
		e.t.Fatalf("openssl: %v: %s", err, out)
	}
	return cert, key
}

// bundle builds a plain RAUC bundle holding image for the rootfs class,
// signed with cert and key.
func (e *raucEnv) bundle(name string, image []byte, version, cert, key string) string {
	t := e.t
	content := filepath.Join(e.dir, name+".content")
	must(t, os.MkdirAll(content, 0o700))
	must(t, os.WriteFile(filepath.Join(content, "rootfs.img"), image, 0o600))
	must(t, os.WriteFile(filepath.Join(content, "manifest.raucm"), fmt.Appendf(nil,
		"[update]\ncompatible=baseline-test\nversion=%s\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n", version), 0o600))
	out := filepath.Join(e.dir, name+".raucb")
	if b, err := exec.Command(e.rauc, "bundle", "--cert="+cert, "--key="+key, content, out).CombinedOutput(); err != nil {
		t.Fatalf("rauc bundle: %v: %s", err, b)
	}
	return out
}

// state reads one of the bootloader script's files.
func (e *raucEnv) state(name string) string {
	b, err := os.ReadFile(filepath.Join(e.boot, name))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
