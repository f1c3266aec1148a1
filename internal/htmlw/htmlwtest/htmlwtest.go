// Package htmlwtest holds the checks the tests of packages that write
// pages with internal/htmlw share: that markup comes only from constants,
// and that a page equals the html/template page it replaced.
package htmlwtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ConstantMarkup parses the non-test Go files in dir and fails t for every
// call of a method named M whose argument is not a string constant (a
// literal, a concatenation of literals, or one of the named constants).
// It fails too when fewer than atLeast calls were found, so a check that
// looks at the wrong files cannot pass.
func ConstantMarkup(t testing.TB, dir string, atLeast int, constants ...string) {
	t.Helper()
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "M" && len(c.Args) == 1 {
				calls++
				if !constString(c.Args[0], constants) {
					t.Errorf("%s: M called with a non-constant argument", fset.Position(c.Pos()))
				}
			}
			return true
		})
	}
	if calls < atLeast {
		t.Fatalf("only %d M calls found in %s: the check is not looking at the pages", calls, dir)
	}
}

func constString(e ast.Expr, constants []string) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.Ident:
		for _, c := range constants {
			if e.Name == c {
				return true
			}
		}
	case *ast.BinaryExpr:
		return e.Op == token.ADD && constString(e.X, constants) && constString(e.Y, constants)
	case *ast.ParenExpr:
		return constString(e.X, constants)
	}
	return false
}

var blankLines = regexp.MustCompile(`\n\s*\n`)

// SameDocument fails t unless got equals old line by line, once runs of
// blank lines (which html/template's action lines leave behind) are
// collapsed; it names the first line that differs.
func SameDocument(t testing.TB, name, old, got string) {
	t.Helper()
	norm := func(s string) []string {
		return strings.Split(strings.TrimSpace(blankLines.ReplaceAllString(s, "\n")), "\n")
	}
	o, g := norm(old), norm(got)
	for i := range max(len(o), len(g)) {
		var ol, gl string
		if i < len(o) {
			ol = o[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if ol != gl {
			t.Fatalf("%s differs from the html/template version at line %d:\n before: %q\n now:    %q", name, i+1, ol, gl)
		}
	}
}
