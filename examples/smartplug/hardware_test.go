package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// hardwareRun sets the device up on a hardware backend, restarts it and
// logs in again, and returns the self-check verdicts of the secrets
// checks with their observations.
func hardwareRun(t *testing.T, bin string, env []string) map[string]string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	p := startBinary(t, bin, env, state)
	if p.secret == "" {
		t.Fatalf("no setup secret printed: %q", p.lines)
	}
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": p.secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	p.stop()
	if _, err := os.Stat(filepath.Join(state, "kek.seed")); !os.IsNotExist(err) {
		t.Errorf("a hardware build wrote a soft KEK seed")
	}
	p = startBinary(t, bin, env, state)
	c = p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword}); r.code != 200 {
		t.Fatalf("login after restart = %d %s\nstderr: %s", r.code, r.body, p.stderr)
	}
	r := do(t, c, "GET", p.url("/api/selfcheck"), "", "")
	var rep struct {
		Results []struct{ ID, Verdict, Observed, Detail string }
	}
	if err := json.Unmarshal([]byte(r.body), &rep); err != nil {
		t.Fatalf("selfcheck: %v %s", err, r.body)
	}
	out := map[string]string{}
	for _, res := range rep.Results {
		if strings.HasPrefix(res.ID, "secrets.") {
			out[res.ID] = res.Verdict + " " + res.Observed + " " + res.Detail
		}
	}
	assertNotAtRest(t, state, p.secret, ownerPassword)
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The TPM build keeps the store's keys and the identity key in a TPM 2.0
// (swtpm here). The self-check names the TPM backend and, because swtpm
// reached over TCP is a simulator, does not claim hardware protection: it
// reports INCONCLUSIVE, where a real /dev/tpmrm0 gives PASS.
func TestDeviceTPM(t *testing.T) {
	testenv.Short(t, "TPM device test")
	swtpm := testenv.LookPath(t, "swtpm")
	bin := build(t, ".", "tpm")
	dir := t.TempDir()
	port, ctrl := freePort(t), freePort(t)
	cmd := exec.Command(swtpm, "socket", "--tpm2",
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ctrl),
		"--tpmstate", "dir="+dir, "--flags", "not-need-init,startup-clear")
	if err := cmd.Start(); err != nil {
		testenv.Unavailable(t, "swtpm does not start: "+err.Error())
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("swtpm did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	v := hardwareRun(t, bin, []string{"SMARTPLUG_TPM=tcp:" + addr})
	t.Logf("self-check: %q", v)
	for _, id := range []string{"secrets.sealed-at-rest", "secrets.device-identity"} {
		if !strings.HasPrefix(v[id], "INCONCLUSIVE") || !strings.Contains(v[id], "tpm2") {
			t.Errorf("%s = %q; want INCONCLUSIVE naming the tpm2 backend (simulator)", id, v[id])
		}
	}
	if !strings.Contains(v["secrets.sealed-at-rest"], "simulator") {
		t.Errorf("sealed-at-rest does not say the TPM is a simulator: %q", v["secrets.sealed-at-rest"])
	}
}

// The PKCS#11 build keeps them on a token (SoftHSM2 here, a software
// token, which the self-check must not call hardware).
func TestDevicePKCS11(t *testing.T) {
	testenv.Short(t, "PKCS#11 device test")
	util := testenv.LookPath(t, "softhsm2-util")
	var module string
	for _, m := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(m); err == nil {
			module = m
		}
	}
	if module == "" {
		testenv.Unavailable(t, "SoftHSM2's libsofthsm2.so not found")
	}
	bin := build(t, ".", "pkcs11")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.Mkdir(tokens, 0o700)
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	env := []string{"SOFTHSM2_CONF=" + conf}
	init := exec.Command(util, "--init-token", "--free", "--label", "smartplug", "--so-pin", "12345678", "--pin", "87654321")
	init.Env = append(os.Environ(), env...)
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	pin := filepath.Join(dir, "pin")
	os.WriteFile(pin, []byte("87654321\n"), 0o600)
	v := hardwareRun(t, bin, append(env, "SMARTPLUG_PKCS11_MODULE="+module, "SMARTPLUG_PKCS11_TOKEN=smartplug", "SMARTPLUG_PKCS11_PIN_FILE="+pin))
	t.Logf("self-check: %q", v)
	for _, id := range []string{"secrets.sealed-at-rest", "secrets.device-identity"} {
		if v[id] == "" || strings.HasPrefix(v[id], "FAIL") || strings.HasPrefix(v[id], "PASS") {
			t.Errorf("%s = %q; want a non-failing verdict that does not claim hardware for SoftHSM2", id, v[id])
		}
	}
}
