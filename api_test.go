package baseline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// isInternal reports whether an import path is an internal package of this
// module, which another module cannot import.
func isInternal(path string) bool {
	return (path == module || strings.HasPrefix(path, module+"/")) && strings.Contains(path+"/", "/internal/")
}

// publicPackage reports whether a package is one a maker's module may import:
// everything of this module except internal/ packages, commands and
// examples (main packages have no API).
func publicPackage(path, name string) bool {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	return name != "main" && !isInternal(path) &&
		rel != "cmd" && !strings.HasPrefix(rel, "cmd/") && rel != "examples" && !strings.HasPrefix(rel, "examples/")
}

type exportedPackage struct {
	ImportPath string
	Name       string
	Export     string
	DepOnly    bool
}

// TestPublicAPIMentionsNoInternalType: rule 2 of ARCHITECTURE.md. No
// exported function, method (promoted ones included), struct field,
// variable, constant or type of a public package mentions a type declared
// in an internal/ package, which a maker's module could neither name nor
// construct. The packages are type-checked from the export data the go
// command builds (`go list -export`).
func TestPublicAPIMentionsNoInternalType(t *testing.T) {
	gobin := testenv.LookPath(t, "go")
	// The default build and the one with the debug handler (iface's
	// baseline_debug tag), whose files add exported declarations.
	for _, tags := range []string{"", "baseline_debug"} {
		name := tags
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) { checkPublicAPI(t, gobin, tags) })
	}
}

func checkPublicAPI(t *testing.T, gobin, tags string) {
	cmd := exec.Command(gobin, "list", "-tags", tags, "-export", "-deps", "-json=ImportPath,Name,Export,DepOnly", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	var public []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p exportedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if !p.DepOnly && publicPackage(p.ImportPath, p.Name) {
			public = append(public, p.ImportPath)
		}
	}
	if len(public) < 5 {
		t.Fatalf("only %d public packages found: %v", len(public), public)
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	for _, path := range public {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for _, leak := range internalMentions(pkg) {
			t.Errorf("%s", leak)
		}
	}
}

// internalMentions lists every exported declaration of pkg whose type
// mentions an internal type, as "pkg.Name: where: type".
func internalMentions(pkg *types.Package) []string {
	w := &apiWalker{pkg: pkg, seen: map[types.Type]bool{}}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		w.where = pkg.Name() + "." + name
		switch obj := obj.(type) {
		case *types.TypeName:
			if obj.IsAlias() {
				w.walk(obj.Type())
				continue
			}
			named, ok := obj.Type().(*types.Named)
			if !ok {
				w.walk(obj.Type())
				continue
			}
			w.walkNamedAPI(named)
		default: // *types.Func, *types.Var, *types.Const
			w.walk(obj.Type())
		}
	}
	sort.Strings(w.leaks)
	return slices.Compact(w.leaks) // T's and *T's method sets repeat methods
}

type apiWalker struct {
	pkg   *types.Package
	where string
	seen  map[types.Type]bool
	leaks []string
}

func (w *apiWalker) leak(what string) {
	w.leaks = append(w.leaks, w.where+" mentions "+what)
}

// walkNamedAPI walks what a user of a named type sees: its type
// parameters, its underlying type (exported fields, interface methods)
// and the exported methods of T and *T, promoted ones included.
func (w *apiWalker) walkNamedAPI(named *types.Named) {
	if w.seen[named] {
		return
	}
	w.seen[named] = true
	for i := range named.TypeParams().Len() {
		w.walk(named.TypeParams().At(i).Constraint())
	}
	w.walk(named.Underlying())
	where := w.where
	for _, t := range []types.Type{named, types.NewPointer(named)} {
		ms := types.NewMethodSet(t)
		for i := range ms.Len() {
			m := ms.At(i).Obj()
			if !m.Exported() {
				continue
			}
			w.where = where + "." + m.Name()
			w.walk(m.Type())
		}
	}
	w.where = where
}

func (w *apiWalker) walk(t types.Type) {
	switch t := t.(type) {
	case nil, *types.Basic:
	case *types.Alias:
		if obj := t.Obj(); obj.Pkg() != nil && isInternal(obj.Pkg().Path()) {
			w.leak(obj.Pkg().Path() + "." + obj.Name())
			return
		}
		w.walk(types.Unalias(t))
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() != nil && isInternal(obj.Pkg().Path()) {
			w.leak(obj.Pkg().Path() + "." + obj.Name())
			return
		}
		if args := t.TypeArgs(); args != nil {
			for i := range args.Len() {
				w.walk(args.At(i))
			}
		}
		// An unexported type of this package, returned or embedded by an
		// exported declaration, still shows its exported fields and
		// methods; exported types are walked under their own name.
		if obj.Pkg() == w.pkg && !obj.Exported() {
			w.walkNamedAPI(t)
		}
	case *types.Pointer:
		w.walk(t.Elem())
	case *types.Slice:
		w.walk(t.Elem())
	case *types.Array:
		w.walk(t.Elem())
	case *types.Chan:
		w.walk(t.Elem())
	case *types.Map:
		w.walk(t.Key())
		w.walk(t.Elem())
	case *types.Signature:
		if tps := t.TypeParams(); tps != nil {
			for i := range tps.Len() {
				w.walk(tps.At(i).Constraint())
			}
		}
		w.walk(t.Params())
		w.walk(t.Results())
	case *types.Tuple:
		for i := range t.Len() {
			w.walk(t.At(i).Type())
		}
	case *types.Struct:
		where := w.where
		for i := range t.NumFields() {
			f := t.Field(i)
			if !f.Exported() {
				continue // promoted methods are in the method set
			}
			w.where = where + "." + f.Name()
			w.walk(f.Type())
		}
		w.where = where
	case *types.Interface:
		where := w.where
		for i := range t.NumMethods() {
			m := t.Method(i)
			if !m.Exported() {
				continue
			}
			w.where = where + "." + m.Name()
			w.walk(m.Type())
		}
		w.where = where
		for i := range t.NumEmbeddeds() {
			w.walk(t.EmbeddedType(i))
		}
	case *types.Union:
		for i := range t.Len() {
			w.walk(t.Term(i).Type())
		}
	case *types.TypeParam:
		w.walk(t.Constraint())
	default:
		w.leak(fmt.Sprintf("a type the test does not know (%T)", t))
	}
}

// leakySource declares one of each way an exported declaration can mention
// an internal type, and a few that do not.
const leakySource = `package public

import "github.com/iotbaseline/baseline/internal/fake"

func LeakFunc() *fake.T { return nil }

type LeakField struct{ A []fake.T }

type inner struct{}

func (inner) Get() map[string]fake.T { return nil }

type LeakPromoted struct{ inner }

type LeakAlias = fake.T

var LeakVar func(chan fake.T)

type LeakIface interface{ M(x ...fake.T) }

type LeakEmbedsIface interface{ fake.I }

func LeakGeneric[P interface{ *fake.T }]() {}

type hidden struct{ Field fake.T }

func LeakHidden() *hidden { return nil }

type Generic[P any] struct{}

var LeakTypeArg Generic[fake.T]

const LeakConst fake.C = 1

type unexportedField struct{ f fake.T }

func NoLeak(x int) (unexportedField, error) { return unexportedField{}, nil }

type NoLeakStruct struct{ f fake.T; Name string }

func (NoLeakStruct) unexported() fake.T { return fake.T{} }
`

// TestInternalMentionsFindsEveryKind checks the checker: every leak in
// leakySource is reported, and nothing else.
func TestInternalMentionsFindsEveryKind(t *testing.T) {
	fset := token.NewFileSet()
	check := func(path, src string, imp types.Importer) *types.Package {
		f, err := parser.ParseFile(fset, path+".go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, []*ast.File{f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	fake := check(module+"/internal/fake", "package fake\ntype T struct{}\ntype I interface{ Do() }\ntype C int\n", nil)
	pub := check(module+"/public", leakySource, importerFunc(func(path string) (*types.Package, error) {
		if path == fake.Path() {
			return fake, nil
		}
		return nil, fmt.Errorf("unexpected import %s", path)
	}))
	var got []string
	for _, l := range internalMentions(pub) {
		name, _, _ := strings.Cut(l, " ")
		got = append(got, name)
	}
	want := []string{"public.LeakAlias", "public.LeakConst", "public.LeakEmbedsIface", "public.LeakField.A", "public.LeakFunc",
		"public.LeakGeneric", "public.LeakHidden.Field", "public.LeakIface.M", "public.LeakPromoted.Get", "public.LeakTypeArg", "public.LeakVar"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("reported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
