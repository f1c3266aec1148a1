package baseline

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// templateTags are the builds of the reference device a maker may copy: the
// soft KEK (default), TPM 2.0 and PKCS#11.
var templateTags = []string{"", "tpm", "pkcs11"}

// listedPackage is what `go list -json` says about a package's files.
type listedPackage struct {
	ImportPath     string
	Dir            string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	CFiles         []string
	HFiles         []string
	SFiles         []string
	SysoFiles      []string
	EmbedFiles     []string
}

// exampleFiles returns, per package under examples/, the files a maker
// copies: every non-test Go file whatever its build constraints, C and
// assembly files, and every file embedded under any of templateTags.
func exampleFiles(t *testing.T, gobin string) map[string]*listedPackage {
	t.Helper()
	pkgs := map[string]*listedPackage{}
	for _, tags := range templateTags {
		out, err := exec.Command(gobin, "list", "-json", "-tags", tags, "./examples/...").Output()
		if err != nil {
			t.Fatalf("go list -tags %q ./examples/...: %v\n%s", tags, err, stderrOf(err))
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var p listedPackage
			if err := dec.Decode(&p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("go list output: %v", err)
			}
			if prev := pkgs[p.Dir]; prev != nil {
				prev.EmbedFiles = append(prev.EmbedFiles, p.EmbedFiles...)
				continue
			}
			pkgs[p.Dir] = &p
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package under examples/")
	}
	return pkgs
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// TestExamplesImportNoInternal: a maker copies examples/ into their own
// module, where the go command refuses any import of this module's
// internal/ packages; so no non-test file of an example may import one.
func TestExamplesImportNoInternal(t *testing.T) {
	gobin := testenv.LookPath(t, "go")
	for _, p := range exampleFiles(t, gobin) {
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles) {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for _, imp := range importsOf(t, filepath.Join(p.Dir, f)) {
				if strings.HasPrefix(imp, module+"/") && strings.Contains(imp+"/", "/internal/") {
					t.Errorf("%s/%s imports %s: a copy of the example in another module cannot build", p.ImportPath, f, imp)
				}
			}
		}
	}
}

func importsOf(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range f.Imports {
		p, err := strconv.Unquote(s.Path.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestReferenceDeviceIsATemplate copies examples/smartplug as a maker
// would (its non-test Go files and everything it embeds) into a module of
// its own, example.com/myplug, that requires this module through a replace
// directive, and builds it with each KEK backend. It runs offline: the
// module cache already holds every dependency, and the copy takes this
// module's go.sum.
func TestReferenceDeviceIsATemplate(t *testing.T) {
	testenv.Short(t, "building a copy of the reference device in its own module")
	gobin := testenv.LookPath(t, "go")
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "examples", "smartplug")
	var pkg *listedPackage
	for dir, p := range exampleFiles(t, gobin) {
		if dir == src {
			pkg = p
		}
	}
	if pkg == nil {
		t.Fatalf("go list did not report %s", src)
	}
	dst := t.TempDir()
	files := slices.Concat(pkg.GoFiles, pkg.CgoFiles, pkg.IgnoredGoFiles, pkg.CFiles, pkg.HFiles, pkg.SFiles, pkg.SysoFiles, pkg.EmbedFiles)
	slices.Sort(files)
	files = slices.Compact(files)
	copied := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		copyFile(t, filepath.Join(src, f), filepath.Join(dst, f))
		copied++
	}
	if !slices.Contains(files, "profile.json") || !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, "templates/") }) {
		t.Fatalf("the copy lacks the embedded profile or templates: %v", files)
	}
	gomod := "module example.com/myplug\n\ngo 1.26.0\n\n" +
		"require github.com/iotbaseline/baseline v0.0.0\n\n" +
		"replace github.com/iotbaseline/baseline => " + strconv.Quote(root) + "\n"
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(dst, "go.sum"))
	t.Logf("copied %d files of examples/smartplug to %s", copied, dst)

	for _, tags := range templateTags {
		name := tags
		if name == "" {
			name = "soft"
		}
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(gobin, "build", "-tags", tags, "-o", t.TempDir()+string(filepath.Separator), "./...")
			cmd.Dir = dst
			cmd.Env = templateEnv()
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("a copy of the reference device does not build in its own module (go build -tags %q): %v\n%s", tags, err, out)
			}
			t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// templateEnv is the environment of the copy's build: offline (GOPROXY=off,
// the module cache has everything), -mod=mod so that go.mod may be
// completed from the cache, no workspace and no toolchain switch.
func templateEnv() []string {
	var flags []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if !strings.HasPrefix(f, "-mod=") {
			flags = append(flags, f)
		}
	}
	flags = append(flags, "-mod=mod")
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "GOFLAGS" || k == "GOPROXY" || k == "GOWORK" || k == "GOTOOLCHAIN"
	})
	return append(env, "GOFLAGS="+strings.Join(flags, " "), "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
