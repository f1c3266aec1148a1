package baseline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// TestOutsideModule vets and tests testdata/outside, a module of its own
// (example.com/outside) written as a firmware team would: a commissioning
// state machine on auth, secrets, update and durable, with its own crash
// test on the public CrashFS. It shows that the SDK can be used, and its
// power-loss simulator run, from outside this module.
//
// Like TestReferenceDeviceIsATemplate it runs offline on the module cache.
// The module is built in place through -modfile: a go.mod that is its own
// with the replace directive pointing at this checkout, and this module's
// go.sum, so a dependency bump here cannot leave its go.sum stale.
func TestOutsideModule(t *testing.T) {
	testenv.Short(t, "vetting and testing testdata/outside in its own module")
	gobin := testenv.LookPath(t, "go")
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "outside")
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	const rel = "replace " + module + " => ../.."
	if !strings.Contains(string(gomod), rel+"\n") {
		t.Fatalf("testdata/outside/go.mod lacks %q", rel)
	}
	tmp := t.TempDir()
	modfile := filepath.Join(tmp, "go.mod")
	abs := strings.Replace(string(gomod), rel, "replace "+module+" => "+strconv.Quote(root), 1)
	if err := os.WriteFile(modfile, []byte(abs), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(tmp, "go.sum"))

	for _, args := range [][]string{
		{"vet", "-modfile=" + modfile, "./..."},
		{"test", "-modfile=" + modfile, "./..."},
	} {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = templateEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in testdata/outside: %v\n%s", args[0], err, out)
		}
		t.Logf("go %s:\n%s", args[0], out)
	}
}
