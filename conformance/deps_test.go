package conformance

import (
	"go/build"
	"testing"
)

// TestStandardLibraryOnly keeps conformance a leaf every package may import:
// its non-test files import the standard library and nothing else, so its
// whole dependency graph is the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("no imports found; is the package parsed?")
	}
	for _, imp := range pkg.Imports {
		p, err := build.Default.Import(imp, ".", build.FindOnly)
		if err != nil {
			t.Errorf("%s: %v", imp, err)
			continue
		}
		if !p.Goroot {
			t.Errorf("conformance imports %s, which is not in the standard library", imp)
		}
	}
}
