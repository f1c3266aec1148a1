package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

func icsFixClock(t *testing.T, at time.Time) {
	t.Helper()
	old := icsNow
	icsNow = func() time.Time { return at }
	t.Cleanup(func() { icsNow = old })
}

var icsToday = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const smartplugProfile = "../../examples/smartplug/profile.json"

func runICSCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(append([]string{"ics"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestICSSmartplugProfile: the reference plug's profile alone is a claim.
// Every Y the plug could test itself is INCONCLUSIVE until its self-check
// is attached, and the capabilities not yet in the tree are answered N, so
// `baseline ics --profile` must not call it conformant (an earlier version
// of this test locked in "complete and conformant" for a profile that
// claimed about twenty capabilities that did not exist).
func TestICSSmartplugProfile(t *testing.T) {
	icsFixClock(t, icsToday)
	code, out, errs := runICSCmd("--profile", smartplugProfile, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errs)
	}
	var st struct {
		Complete       bool `json:"complete"`
		Conformant     bool `json:"conformant"`
		ChecksAttached bool `json:"checks_attached"`
		Totals         struct {
			Pass     int `json:"pass"`
			Unbacked int `json:"unbacked"`
		} `json:"totals"`
		Provisions []struct {
			ID      string  `json:"id"`
			Support *string `json:"support"`
			Verdict string  `json:"verdict"`
		} `json:"provisions"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Complete || st.Conformant || st.ChecksAttached || st.Totals.Pass != 0 || st.Totals.Unbacked == 0 || len(st.Provisions) != 68 {
		t.Fatalf("profile alone: complete=%v conformant=%v attached=%v pass=%d unbacked=%d, %d provisions",
			st.Complete, st.Conformant, st.ChecksAttached, st.Totals.Pass, st.Totals.Unbacked, len(st.Provisions))
	}
	seen := map[string]bool{}
	for _, e := range st.Provisions {
		if e.Support == nil || *e.Support == "" || seen[e.ID] {
			t.Errorf("%s: support %v (duplicate=%v)", e.ID, e.Support, seen[e.ID])
		}
		seen[e.ID] = true
	}
	for _, p := range conformance.Catalog() {
		if !seen[p.ID] {
			t.Errorf("%s missing", p.ID)
		}
	}
	for _, want := range []string{
		"5.1-3: evidence: declared Y, but no self-check results are attached",
		"5.3-2: evidence: declared Y, but no self-check results are attached",
		"5.11-1: evidence: declared Y, but no self-check results are attached",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	for _, f := range []struct{ format, want string }{
		{"markdown", "| 5.12-2 | R |"},
		{"html", "No results from the running device are attached"},
	} {
		code, out, _ := runICSCmd("--profile", smartplugProfile, "--format", f.format)
		if code != 1 || !strings.Contains(out, f.want) {
			t.Errorf("--format %s: exit %d, output lacks %q", f.format, code, f.want)
		}
	}
}

// TestICSSkeletonRefused follows the manufacturer's first steps: the
// skeleton from `ics init` is refused with one line per unanswered
// provision, provision ID first.
func TestICSSkeletonRefused(t *testing.T) {
	icsFixClock(t, icsToday)
	code, skel, errs := runICSCmd("init")
	if code != 0 || errs != "" {
		t.Fatalf("init: exit %d: %s", code, errs)
	}
	for _, p := range conformance.Catalog() {
		if !strings.Contains(skel, `"id": "`+p.ID+`"`) {
			t.Errorf("skeleton lacks %s", p.ID)
		}
	}
	path := writeTemp(t, "profile.json", skel)
	code, out, errs := runICSCmd("--profile", path)
	if code != 1 {
		t.Fatalf("skeleton: exit %d, want 1; stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, `"complete": false`) {
		t.Error("the statement is still printed, marked incomplete")
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	byID := map[string]string{}
	for _, l := range lines {
		id, rest, _ := strings.Cut(l, ": ")
		byID[id] += rest + "\n"
	}
	for _, p := range conformance.Catalog() {
		if !strings.Contains(byID[p.ID], "support: not answered") {
			t.Errorf("no line names unanswered %s", p.ID)
		}
	}
	if !strings.Contains(errs, "\nconditions.telemetry: not answered") {
		t.Error("unanswered conditions not reported")
	}
}

func TestICSNonConformant(t *testing.T) {
	icsFixClock(t, icsToday)
	data, err := os.ReadFile(smartplugProfile)
	if err != nil {
		t.Fatal(err)
	}
	var p conformance.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	for i, a := range p.Provisions {
		switch a.ID {
		case "5.1-3":
			p.Provisions[i] = conformance.Answer{ID: a.ID, Support: conformance.No, Justification: "legacy"}
		case "5.6-8":
			p.Provisions[i] = conformance.Answer{ID: a.ID, Support: conformance.No}
		}
	}
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runICSCmd("--profile", writeTemp(t, "p.json", buf.String()), "--format", "markdown")
	for _, want := range []string{
		"\n5.1-3: support: mandatory and applicable, but answered N: the device does not conform\n",
		"\n5.6-8: justification: recommendation answered N without a justification (4-1 requires one)\n",
	} {
		if code != 1 || !strings.Contains("\n"+errs, want) {
			t.Errorf("exit %d, stderr:\n%s\nlacks:%s", code, errs, want)
		}
	}
}

func TestICSParseErrors(t *testing.T) {
	icsFixClock(t, icsToday)
	data, err := os.ReadFile(smartplugProfile)
	if err != nil {
		t.Fatal(err)
	}
	syntax := writeTemp(t, "syntax.json", "{\n  \"model\": \"x\",\n  \"firmware_version\": }\n")
	unknown := writeTemp(t, "unknown.json", strings.Replace(string(data), `"id": "5.1-2"`, `"id": "5.1-9"`, 1))
	dup := writeTemp(t, "dup.json", strings.Replace(string(data), `"id": "5.1-2"`, `"id": "5.1-1"`, 1))
	tests := []struct {
		name  string
		args  []string
		clock time.Time
		want  string
	}{
		{"syntax error with position", []string{"--profile", syntax}, icsToday, syntax + ":3:23: JSON syntax: invalid character '}' looking for beginning of value\n"},
		{"unknown provision", []string{"--profile", unknown}, icsToday, unknown + ":44:5: provisions[2].id: unknown provision \"5.1-9\""},
		{"duplicate provision", []string{"--profile", dup}, icsToday, dup + ":44:5: provisions[2].id (5.1-1): duplicate entry; provisions[1] already answers 5.1-1\n"},
		{"support period over", []string{"--profile", smartplugProfile}, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), smartplugProfile + ":20:25: support_period_end: 2031-12-31 is in the past"},
		{"missing file", []string{"--profile", filepath.Join(t.TempDir(), "none.json")}, icsToday, "no such file"},
		{"no profile", nil, icsToday, "--profile FILE is required"},
		{"unknown format", []string{"--profile", smartplugProfile, "--format", "pdf"}, icsToday, `unknown format "pdf"`},
		{"unknown flag", []string{"--profil", smartplugProfile}, icsToday, "flag provided but not defined"},
		{"extra argument", []string{"--profile", smartplugProfile, "extra"}, icsToday, `unexpected argument "extra"`},
		{"init with argument", []string{"init", "x"}, icsToday, `unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			icsFixClock(t, tt.clock)
			code, out, errs := runICSCmd(tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q lacks %q", errs, tt.want)
			}
			if out != "" {
				t.Errorf("a refused profile printed a statement: %.80q", out)
			}
		})
	}
}

func TestICSHelp(t *testing.T) {
	code, _, errs := runICSCmd("-h")
	if code != 0 || !strings.Contains(errs, "baseline ics init") {
		t.Errorf("-h: exit %d, %q", code, errs)
	}
}
