package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sectionID writes section n as the edition names it.
func sectionID(n int, edition string) string {
	s := ixitSections[n-1]
	if edition == TS103701V2 && s.V2Key != "" {
		return fmt.Sprintf("%d-%s", n, s.V2Key)
	}
	return s.ID()
}

func ts103701Golden() string {
	var sb strings.Builder
	sb.WriteString("# IXIT section\tname (V1.1.1)\tV2.1.1 where different\n")
	for _, s := range IXITSections() {
		v2 := ""
		if s.V2Key != "" {
			v2 = fmt.Sprintf("%d-%s %s", s.Number, s.V2Key, s.V2Name)
		}
		fmt.Fprintf(&sb, "%s\t%s\t%s\n", s.ID(), s.Name, v2)
	}
	sb.WriteString("# provision\tedition\tgroup\tIXIT\tcases\tsource\n")
	for _, p := range Catalog() {
		for _, g := range TestGroups(p.ID) {
			var ids, cases []string
			for _, n := range g.IXIT {
				ids = append(ids, sectionID(n, g.Edition))
			}
			for _, c := range g.Cases {
				cases = append(cases, c.ID+":"+string(c.Kind))
			}
			fmt.Fprintf(&sb, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, g.Edition, g.Group, strings.Join(ids, ","), strings.Join(cases, " "), g.Source)
		}
	}
	return sb.String()
}

// TestTS103701Golden pins the sections and test groups: a change must be
// checked against the sources the entries name (or your copy of the TS)
// and the golden file rewritten on purpose with -update.
func TestTS103701Golden(t *testing.T) {
	got := ts103701Golden()
	path := filepath.Join("testdata", "ts103701.golden")
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
		t.Errorf("TS 103 701 data differs from %s (run go test -run TestTS103701Golden -update after checking it):\n%s", path, diffLines(string(want), got))
	}
}

var (
	sourceRE = regexp.MustCompile(`^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+@[0-9a-f]{12}:[A-Za-z0-9._/-]+$`)
	groupRE  = regexp.MustCompile(`^(.+?)([A-Z]?)$`)
)

func TestTS103701WellFormed(t *testing.T) {
	secs := IXITSections()
	if len(secs) != 29 {
		t.Fatalf("%d sections", len(secs))
	}
	keys := map[string]bool{}
	for i, s := range secs {
		if s.Number != i+1 || s.Key == "" || s.Name == "" || keys[s.Key] || (s.V2Key == "") != (s.V2Name == "") || makerToWrite[i] == "" {
			t.Errorf("section %d: %+v", i+1, s)
		}
		keys[s.Key] = true
	}
	read := map[int]bool{}
	for _, p := range Catalog() {
		gs := TestGroups(p.ID)
		var v1 []TestGroup
		for _, g := range gs {
			if g.Edition == TS103701V1 {
				v1 = append(v1, g)
			}
		}
		// V1.1.1 has exactly one group per provision, numbered like it.
		if len(v1) != 1 || v1[0].Group != p.ID || v1[0].Source == "" {
			t.Errorf("%s: V1.1.1 groups %+v", p.ID, v1)
		}
		for _, g := range gs {
			if g.Edition != TS103701V1 && g.Edition != TS103701V2 {
				t.Errorf("%s: edition %q", g.Group, g.Edition)
			}
			if m := groupRE.FindStringSubmatch(g.Group); g.Provision != p.ID || m == nil || m[1] != p.ID {
				t.Errorf("%s: group %q of provision %q", p.ID, g.Group, g.Provision)
			}
			if g.Source != "" && !sourceRE.MatchString(g.Source) {
				t.Errorf("%s: source %q is not owner/repo@commit:path", g.Group, g.Source)
			}
			if len(g.Cases) == 0 {
				t.Errorf("%s: no test case", g.Group)
			}
			for i, c := range g.Cases {
				if c.ID != fmt.Sprintf("%s-%d", g.Group, i+1) || !strings.HasPrefix(c.ID, g.Group+"-") {
					t.Errorf("%s: case %d is %q", g.Group, i+1, c.ID)
				}
				if c.Kind != Conceptual && c.Kind != Functional && c.Kind != ConceptualFunctional {
					t.Errorf("%s: kind %q", c.ID, c.Kind)
				}
			}
			if !slices.IsSorted(g.IXIT) || len(slices.Compact(slices.Clone(g.IXIT))) != len(g.IXIT) {
				t.Errorf("%s: IXIT %v not sorted and unique", g.Group, g.IXIT)
			}
			for _, n := range g.IXIT {
				if n < 1 || n > 29 {
					t.Errorf("%s: IXIT section %d", g.Group, n)
				}
				if g.Edition == TS103701V1 {
					read[n] = true
				}
			}
		}
	}
	for _, s := range secs {
		if !read[s.Number] {
			t.Errorf("no V1.1.1 group reads IXIT %s", s.ID())
		}
	}
	for _, d := range testGroupData {
		if _, ok := catalogIndex[d.provision]; !ok {
			t.Errorf("test group %s for %s, not in the catalog", d.group, d.provision)
		}
	}
	if len(TestGroups("5.1-2A")) != 0 || len(TestGroups("6-6")) != 0 || len(TestGroups("nope")) != 0 {
		t.Error("groups for a provision outside the catalog")
	}
}

// TestTS103701Facts spot-checks entries against what the sources say, so
// a regenerated table that loses them fails here as well as in the golden.
func TestTS103701Facts(t *testing.T) {
	group := func(provision, edition, id string) TestGroup {
		t.Helper()
		for _, g := range TestGroups(provision) {
			if g.Edition == edition && g.Group == id {
				return g
			}
		}
		t.Fatalf("no %s group %s", edition, id)
		return TestGroup{}
	}
	for _, tc := range []struct {
		provision, edition, group string
		ixit                      []int
		kinds                     []TestKind
	}{
		// "Related IXIT" of the public V2.1.1 documents.
		{"5.5-4", TS103701V2, "5.5-4", []int{1, 13}, []TestKind{Conceptual, Functional}},
		{"5.5-5", TS103701V2, "5.5-5", []int{1, 13, 28}, []TestKind{Conceptual, Functional}},
		{"5.4-1", TS103701V2, "5.4-1", []int{1, 2, 7, 10, 11}, []TestKind{Conceptual, Functional}},
		{"5.4-3", TS103701V2, "5.4-3", []int{1, 10, 11}, []TestKind{Conceptual, Functional}},
		{"5.5-1", TS103701V2, "5.5-1", []int{11}, []TestKind{Conceptual, Functional}},
		{"5.13-1", TS103701V2, "5.13-1A", []int{27, 29}, []TestKind{Conceptual, Functional}},
		{"5.13-1", TS103701V2, "5.13-1B", []int{15, 28, 29}, []TestKind{Conceptual, Functional}},
		{"6-4", TS103701V2, "6-4", []int{21, 24}, []TestKind{Conceptual}},
		{"6-5", TS103701V2, "6-5", []int{2, 24}, []TestKind{Conceptual, Functional}},
		{"5.3-15", TS103701V2, "5.3-15A", []int{9}, []TestKind{Conceptual, Functional}},
		{"5.3-15", TS103701V2, "5.3-15B", []int{9}, []TestKind{Conceptual, Functional}},
		{"5.2-3", TS103701V2, "5.2-3", []int{4, 5}, []TestKind{Conceptual}},
		{"5.3-8", TS103701V2, "5.3-8", []int{4, 8}, []TestKind{Conceptual}},
		{"5.6-9", TS103701V2, "5.6-9", []int{4, 19}, []TestKind{Conceptual}},
		{"5.1-1", TS103701V2, "5.1-1", nil, []TestKind{Conceptual, Functional}},
		// Sections named by the V1.1.1 test cases.
		{"4-1", TS103701V1, "4-1", nil, []TestKind{Conceptual}},
		{"5.1-4", TS103701V1, "5.1-4", []int{1, 2}, []TestKind{Conceptual, Functional}},
		{"5.3-10", TS103701V1, "5.3-10", []int{7}, []TestKind{ConceptualFunctional}},
		{"5.5-5", TS103701V1, "5.5-5", []int{11, 13}, []TestKind{Conceptual, Functional}},
		{"5.6-2", TS103701V1, "5.6-2", []int{15}, []TestKind{Conceptual, Functional}},
		{"5.8-3", TS103701V1, "5.8-3", []int{2, 22}, []TestKind{Functional}},
		{"5.9-3", TS103701V1, "5.9-3", []int{11}, []TestKind{Conceptual, Functional}},
		{"5.12-3", TS103701V1, "5.12-3", []int{2}, []TestKind{Functional}},
		{"5.13-1", TS103701V1, "5.13-1", []int{11, 27, 28, 29}, []TestKind{Conceptual, Functional}},
	} {
		g := group(tc.provision, tc.edition, tc.group)
		var kinds []TestKind
		for _, c := range g.Cases {
			kinds = append(kinds, c.Kind)
		}
		if !slices.Equal(g.IXIT, tc.ixit) || !slices.Equal(kinds, tc.kinds) {
			t.Errorf("%s %s: IXIT %v cases %v, want %v %v", tc.edition, tc.group, g.IXIT, kinds, tc.ixit, tc.kinds)
		}
	}
	// V2.1.1 splits these provisions; V1.1.1 splits none.
	for id, want := range map[string][]string{"5.3-4": {"5.3-4A", "5.3-4B"}, "5.3-6": {"5.3-6A", "5.3-6B"}, "5.3-15": {"5.3-15A", "5.3-15B"},
		"5.6-4": {"5.6-4A", "5.6-4B"}, "5.13-1": {"5.13-1A", "5.13-1B"}, "6-3": {"6-3A", "6-3B"}, "5.5-1": {"5.5-1"}} {
		var got []string
		for _, g := range TestGroups(id) {
			if g.Edition == TS103701V2 {
				got = append(got, g.Group)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: V2.1.1 groups %v, want %v", id, got, want)
		}
	}
	if got := RelatedIXIT("5.5-4"); len(got) != 2 || got[0].ID() != "1-AuthMech" || got[1].ID() != "13-SoftServ" {
		t.Errorf("RelatedIXIT(5.5-4) = %v", got)
	}
	if s := IXITSections()[14]; s.ID() != "15-Intf" || s.V2Key != "PhyIntf" {
		t.Errorf("section 15: %+v", s)
	}
	// The copy is the caller's.
	g := TestGroups("5.5-4")
	g[0].IXIT[0], g[0].Cases[0].ID = 99, "x"
	if again := TestGroups("5.5-4"); again[0].IXIT[0] != 1 || again[0].Cases[0].ID != "5.5-4-1" {
		t.Error("TestGroups hands out its table")
	}
}
