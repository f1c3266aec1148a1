package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ixitGolden() string {
	var sb strings.Builder
	sb.WriteString("# provision\tIXIT sections\n")
	for _, p := range Catalog() {
		var ids []string
		for _, s := range RelatedIXIT(p.ID) {
			ids = append(ids, s.ID())
		}
		fmt.Fprintf(&sb, "%s\t%s\n", p.ID, strings.Join(ids, ","))
	}
	return sb.String()
}

// TestIXITGolden pins the provision → IXIT mapping: a change must be
// checked against TS 103 701 and the golden file updated on purpose.
func TestIXITGolden(t *testing.T) {
	got := ixitGolden()
	path := filepath.Join("testdata", "ts103701.golden")
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("mapping differs from %s:\n%s", path, diffLines(string(want), got))
	}
}

func TestIXITWellFormed(t *testing.T) {
	secs := IXITSections()
	if len(secs) != 29 {
		t.Fatalf("%d sections", len(secs))
	}
	keys := map[string]bool{}
	read := map[int]bool{}
	for i, s := range secs {
		if s.Number != i+1 || s.Key == "" || s.Name == "" || keys[s.Key] || makerOnly[s.Number] == "" {
			t.Errorf("section %d: %+v", i, s)
		}
		keys[s.Key] = true
	}
	for id, ns := range provisionIXIT {
		if _, ok := catalogIndex[id]; !ok {
			t.Errorf("mapping names %s, not in the catalog", id)
		}
		for _, n := range ns {
			if n < 1 || n > 29 {
				t.Errorf("%s: section %d", id, n)
			}
			read[n] = true
		}
	}
	for _, p := range catalog {
		if _, ok := provisionIXIT[p.ID]; !ok && p.ID != "4-1" {
			t.Errorf("%s has no IXIT mapping", p.ID)
		}
	}
	for _, s := range secs {
		if !read[s.Number] {
			t.Errorf("no provision reads IXIT %s", s.ID())
		}
	}
}

func TestBuildIXIT(t *testing.T) {
	p := exampleProfile(t)
	// Profile only: every row is the maker's declaration.
	x := BuildIXIT(NewStatement(p))
	if x.ChecksAttached || len(x.Sections) != 29 || x.Schema != IXITSchema {
		t.Fatalf("%+v", x)
	}
	for _, d := range x.Sections {
		for _, r := range d.Rows {
			if r.Source != "declared by the maker" {
				t.Errorf("%s: row from %q without device results", d.ID(), r.Source)
			}
		}
		if len(d.MakerToWrite) == 0 || !strings.HasPrefix(d.MakerToWrite[0], "MAKER TO WRITE: ") {
			t.Errorf("%s: nothing left for the maker", d.ID())
		}
	}
	// With device results, the checks' observations fill the sections
	// their provisions read, each labelled with its method.
	s := NewStatement(p)
	s.Attach(append(backing("5.1-5"), CheckResult{ID: "auth.throttle", Title: "Throttle", Provisions: []string{"5.1-5"}, Method: Measured,
		Result: Result{Verdict: Pass, Observed: "5 free, then 1s doubling to 15m"}}))
	x = BuildIXIT(s)
	auth := x.Sections[0]
	if auth.Key != "AuthMech" {
		t.Fatalf("first section %s", auth.Key)
	}
	found := false
	for _, r := range auth.Rows {
		if r.Source == "check auth.throttle (measured)" && strings.Contains(r.Text, "1s doubling to 15m") && r.Provision == "5.1-5" {
			found = true
		}
	}
	if !found {
		t.Errorf("throttle observation not in AuthMech: %+v", auth.Rows)
	}
	var js bytes.Buffer
	if err := x.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back IXIT
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Sections) != 29 || back.Sections[6].Key != "UpdMech" {
		t.Fatalf("JSON: %v", err)
	}
	var md bytes.Buffer
	hostile := hostileProfile(t)
	if err := BuildIXIT(NewStatement(hostile)).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if n, esc := strings.Count(md.String(), "<"), strings.Count(md.String(), `\<`); n != esc || n == 0 || !strings.Contains(md.String(), "## IXIT 29-InpVal: Data Input Validation") {
		t.Errorf("Markdown:\n%.500s", md.String())
	}
}
