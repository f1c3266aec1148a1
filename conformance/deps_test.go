package conformance

import (
	"go/build"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps conformance a leaf every package may import:
// its whole dependency graph is the standard library. Its non-test files
// import the standard library and, besides it, only this module's
// internal/ packages whose own graphs are the standard library alone
// (internal/htmlw, the page writer).
func TestStandardLibraryOnly(t *testing.T) {
	const module = "github.com/iotbaseline/baseline/"
	seen := map[string]bool{}
	var walk func(dir, from string)
	walk = func(dir, from string) {
		pkg, err := build.Default.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkg.Imports) == 0 && from == "conformance" {
			t.Fatal("no imports found; is the package parsed?")
		}
		for _, imp := range pkg.Imports {
			if seen[imp] {
				continue
			}
			seen[imp] = true
			p, err := build.Default.Import(imp, dir, build.FindOnly)
			if err != nil {
				t.Errorf("%s: %v", imp, err)
				continue
			}
			switch {
			case p.Goroot:
			case strings.HasPrefix(imp, module+"internal/"):
				walk(p.Dir, imp)
			default:
				t.Errorf("%s imports %s, which is not in the standard library", from, imp)
			}
		}
	}
	walk(".", "conformance")
}
