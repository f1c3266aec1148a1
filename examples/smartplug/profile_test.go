package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestProfileNamesOnlyWhatExists fails whenever an answer of the plug's
// profile names an API, command, package, flag or build tag that is not in
// this tree: a profile answer is evidence, and one that describes missing
// code is the worst defect the project can have. Names in answers are
// written in backquotes: `baseline CMD` for a command, `pkg` or `pkg/sub`
// for a package, `pkg.Name` for an exported identifier. Flags (--name) and
// build tags (-tags name) are checked wherever they appear.
func TestProfileNamesOnlyWhatExists(t *testing.T) {
	var prof struct {
		Provisions []struct {
			ID            string   `json:"id"`
			Support       string   `json:"support"`
			Detail        string   `json:"detail"`
			Justification string   `json:"justification"`
			Checks        []string `json:"checks"`
		} `json:"provisions"`
	}
	data, err := os.ReadFile("profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &prof); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..")
	quoted := regexp.MustCompile("`([^`]+)`")
	flagRe := regexp.MustCompile(`(?:^|[\s(])--([a-z][a-z-]+)`)
	tagRe := regexp.MustCompile(`-tags ([a-z0-9_]+)`)
	apiRe := regexp.MustCompile(`^([a-z][a-z0-9/]*)\.([A-Z][A-Za-z0-9]*)$`)
	pkgRe := regexp.MustCompile(`^[a-z][a-z0-9]*(/[a-z0-9]+)*$`)
	deviceSrc := readGoSources(t, ".")
	allSrc := readGoSources(t, root, "auth", "secrets", "secrets/tpm", "secrets/pkcs11", "update", "iface", "resilience", "cmd/baseline", "examples/smartplug")
	checked := 0
	for _, a := range prof.Provisions {
		text := a.Detail + " " + a.Justification
		for _, m := range quoted.FindAllStringSubmatch(text, -1) {
			ref := m[1]
			checked++
			switch {
			case strings.HasPrefix(ref, "baseline "):
				cmd := strings.Fields(ref)[1]
				if _, err := os.Stat(filepath.Join(root, "cmd", "baseline", "cmd_"+cmd+".go")); err != nil {
					t.Errorf("%s names the command %q, which cmd/baseline does not have", a.ID, ref)
				}
			case apiRe.MatchString(ref):
				sm := apiRe.FindStringSubmatch(ref)
				if !exportedIn(t, filepath.Join(root, sm[1]), sm[2]) {
					t.Errorf("%s names %s, which package %s does not export", a.ID, ref, sm[1])
				}
			case pkgRe.MatchString(ref):
				if !hasGoFiles(filepath.Join(root, ref)) {
					t.Errorf("%s names the package %q, which is not in the tree", a.ID, ref)
				}
			default:
				t.Errorf("%s: cannot check the reference `%s`: write `baseline CMD`, `pkg` or `pkg.Name`", a.ID, ref)
			}
		}
		for _, m := range flagRe.FindAllStringSubmatch(text, -1) {
			checked++
			if !strings.Contains(deviceSrc, `"`+m[1]+`"`) {
				t.Errorf("%s names the flag --%s, which the plug does not define", a.ID, m[1])
			}
		}
		for _, m := range tagRe.FindAllStringSubmatch(text, -1) {
			checked++
			if !strings.Contains(allSrc, "//go:build "+m[1]) && !strings.Contains(allSrc, "//go:build !"+m[1]) {
				t.Errorf("%s names the build tag %s, which no file uses", a.ID, m[1])
			}
		}
		if a.Support != "Y" && len(a.Checks) > 0 {
			t.Errorf("%s names checks for a %s answer", a.ID, a.Support)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d references checked: the patterns no longer match the profile", checked)
	}
}

func hasGoFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}

// exportedIn reports whether the package in dir declares the exported
// top-level name (function, type, variable or constant).
func exportedIn(t *testing.T, dir, name string) bool {
	t.Helper()
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == name {
					return ast.IsExported(name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						if sp.Name.Name == name {
							return ast.IsExported(name)
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.Name == name {
								return ast.IsExported(name)
							}
						}
					}
				}
			}
		}
	}
	return false
}

func readGoSources(t *testing.T, root string, dirs ...string) string {
	t.Helper()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	var b strings.Builder
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(root, d, "*.go"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
	}
	return b.String()
}
