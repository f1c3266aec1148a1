package conformance

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// catalogGolden renders the facts of the catalog that must never drift from
// the standard: ID, status with conditions, evidence kinds and packages.
func catalogGolden() string {
	var sb strings.Builder
	sb.WriteString("# id\tstatus\tevidence\tpackages\n")
	for _, p := range Catalog() {
		fmt.Fprintf(&sb, "%s\t%s\t%s\t%s\n", p.ID, p.statusNotation(), p.evidenceNotation(), strings.Join(p.Packages, ","))
	}
	return sb.String()
}

func TestCatalogGolden(t *testing.T) {
	got := catalogGolden()
	path := filepath.Join("testdata", "catalog.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("catalog differs from %s (run go test -run TestCatalogGolden -update after checking against the standard):\n%s", path, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var sb strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			fmt.Fprintf(&sb, "line %d:\n  want %q\n  got  %q\n", i+1, a, b)
		}
	}
	return sb.String()
}

func TestCatalogTotals(t *testing.T) {
	var mand, rec int
	for _, p := range Catalog() {
		switch p.Status {
		case Mandatory:
			mand++
		case Recommended:
			rec++
		default:
			t.Errorf("%s: status %q", p.ID, p.Status)
		}
	}
	if n := len(Catalog()); n != 68 || mand != 33 || rec != 35 {
		t.Errorf("catalog has %d provisions, %d M and %d R; the standard has 68, 33 M and 35 R", n, mand, rec)
	}
}

// TestCatalogMatchesStandardList checks the IDs and their order against the
// standard's list of provisions.
func TestCatalogMatchesStandardList(t *testing.T) {
	ids := map[string]bool{}
	for _, p := range Catalog() {
		ids[p.ID] = true
	}
	// The list in testdata is our own: one ID a line, taken from the
	// standard's table of provisions (5.12-2 included).
	data, err := os.ReadFile(filepath.Join("testdata", "provision-ids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	cat := Catalog()
	for i, id := range strings.Fields(string(data)) {
		if i < len(cat) && cat[i].ID != id {
			t.Errorf("catalog entry %d is %s; the standard's order has %s", i, cat[i].ID, id)
		}
		if !ids[id] {
			t.Errorf("provision %s missing from the catalog", id)
		}
		seen[id] = true
	}
	for id := range ids {
		if !seen[id] {
			t.Errorf("catalog has %s, which the standard does not", id)
		}
	}
}

func TestCatalogWellFormed(t *testing.T) {
	for _, p := range Catalog() {
		if !strings.HasPrefix(p.ID, p.Clause+"-") {
			t.Errorf("%s: clause %q does not match the ID", p.ID, p.Clause)
		}
		if len(p.Summary) < 20 {
			t.Errorf("%s: summary missing", p.ID)
		}
		for _, n := range p.Conditions {
			if _, ok := LookupCondition(n); !ok {
				t.Errorf("%s: condition %d does not exist", p.ID, n)
			}
		}
		switch p.Evidence {
		case EvidenceEnforced, EvidenceBuild, EvidenceDeclaration:
		default:
			t.Errorf("%s: evidence %q", p.ID, p.Evidence)
		}
		if p.Secondary == p.Evidence {
			t.Errorf("%s: secondary evidence repeats the primary", p.ID)
		}
		q, ok := Lookup(p.ID)
		if !ok || q.ID != p.ID {
			t.Errorf("Lookup(%s) = %v, %v", p.ID, q.ID, ok)
		}
	}
	if _, ok := Lookup("5.99-1"); ok {
		t.Error("Lookup found a provision that does not exist")
	}
	// Catalog returns copies: changing one does not change the catalog.
	cat := Catalog()
	cat[1].Conditions[0] = 99
	cat[1].Packages[0] = "x"
	if p, _ := Lookup(cat[1].ID); p.Conditions[0] == 99 || p.Packages[0] == "x" {
		t.Error("Catalog exposes the catalog's slices")
	}
}

func TestConditions(t *testing.T) {
	cs := Conditions()
	if len(cs) != 13 {
		t.Fatalf("%d conditions", len(cs))
	}
	keys := map[string]bool{}
	for i, c := range cs {
		if c.Number != i+1 || c.Key == "" || c.Description == "" || keys[c.Key] {
			t.Errorf("condition %d malformed: %+v", i+1, c)
		}
		keys[c.Key] = true
	}
	if _, ok := LookupCondition(0); ok {
		t.Error("condition 0 exists")
	}
	if _, ok := LookupCondition(14); ok {
		t.Error("condition 14 exists")
	}
}

// TestCatalogPackagesExist fails when the catalog names, as implementing a
// provision, a package that is not in this tree: a lab reads Packages as
// "the SDK does this".
func TestCatalogPackagesExist(t *testing.T) {
	for _, p := range Catalog() {
		for _, pkg := range p.Packages {
			dir := filepath.Join("..", pkg)
			if pkg == "cmd" {
				dir = filepath.Join("..", "cmd", "baseline")
			}
			if _, err := os.Stat(filepath.Join(dir, "doc.go")); err != nil {
				if _, err2 := os.Stat(filepath.Join(dir, "main.go")); err2 != nil {
					t.Errorf("%s names package %q, which is not in the tree (%v)", p.ID, pkg, err)
				}
			}
		}
	}
}
