package pkcs11_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/secrets/pkcs11"
)

// modules are where distributions install SoftHSM2's PKCS#11 library.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
}

var (
	hsmOnce   sync.Once
	hsmDir    string
	hsmErr    string
	hsmModule string
	tokenMu   sync.Mutex
	tokenN    int
)

func TestMain(m *testing.M) {
	code := m.Run()
	if hsmDir != "" {
		os.RemoveAll(hsmDir)
	}
	os.Exit(code)
}

// newToken initialises a fresh SoftHSM2 token (in a temporary token
// directory that SOFTHSM2_CONF points to) and returns the KEK config for
// it.
func newToken(t *testing.T) pkcs11.Config {
	t.Helper()
	util := testenv.LookPath(t, "softhsm2-util")
	hsmOnce.Do(func() {
		for _, m := range modules {
			if _, err := os.Stat(m); err == nil {
				hsmModule = m
				break
			}
		}
		if hsmModule == "" {
			hsmErr = "SoftHSM2's libsofthsm2.so not found"
			return
		}
		dir, err := os.MkdirTemp("", "softhsm")
		if err != nil {
			hsmErr = err.Error()
			return
		}
		hsmDir = dir
		tokens := filepath.Join(dir, "tokens")
		os.Mkdir(tokens, 0o700)
		conf := filepath.Join(dir, "softhsm2.conf")
		os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
		// Set for the whole process: the module reads it when it is
		// initialised, which crypto11 does once per process.
		os.Setenv("SOFTHSM2_CONF", conf)
	})
	if hsmErr != "" {
		testenv.Unavailable(t, hsmErr)
	}
	tokenMu.Lock()
	tokenN++
	label := fmt.Sprintf("baseline-test-%d", tokenN)
	tokenMu.Unlock()
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", "87654321").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return pkcs11.Config{Module: hsmModule, TokenLabel: label, PIN: "87654321"}
}
