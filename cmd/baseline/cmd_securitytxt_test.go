package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixClock(t *testing.T) {
	t.Helper()
	old := now
	now = func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = old })
}

func TestSecurityTxtGenerateValidate(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "security.txt")
	var out, errb bytes.Buffer
	code := run([]string{"securitytxt", "generate", "--contact", "mailto:psirt@example.com",
		"--contact", "https://example.com/report", "--policy", "https://example.com/policy",
		"--languages", "en, de", "-o", file}, &out, &errb)
	if code != 0 {
		t.Fatalf("generate exit %d: %s", code, errb.String())
	}
	b, _ := os.ReadFile(file)
	for _, want := range []string{"Contact: mailto:psirt@example.com\n", "Expires: 2027-05-25T12:00:00Z\n", "Preferred-Languages: en, de\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %q:\n%s", want, b)
		}
	}
	out.Reset()
	if code := run([]string{"securitytxt", "validate", file}, &out, &errb); code != 0 || !strings.Contains(out.String(), "valid (2 contact(s)") {
		t.Fatalf("validate exit %d: %s", code, out.String())
	}
}

func TestSecurityTxtGenerateRefuses(t *testing.T) {
	fixClock(t)
	for name, args := range map[string][]string{
		"no contact":   {},
		"http contact": {"--contact", "http://example.com"},
		"bad expires":  {"--contact", "mailto:a@b.c", "--expires", "soon"},
		"expired":      {"--contact", "mailto:a@b.c", "--expires", "2020-01-01T00:00:00Z"},
		"extra arg":    {"--contact", "mailto:a@b.c", "oops"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(append([]string{"securitytxt", "generate"}, args...), &out, &errb); code != 2 || out.Len() != 0 {
				t.Fatalf("exit %d, out %q; want 2 and nothing written", code, out.String())
			}
		})
	}
}

func TestSecurityTxtValidateListsProblems(t *testing.T) {
	fixClock(t)
	file := filepath.Join(t.TempDir(), "security.txt")
	os.WriteFile(file, []byte("Contact: http://example.com\nExpires: 2020-01-01T00:00:00Z\nnonsense\n"), 0o644)
	var out, errb bytes.Buffer
	code := run([]string{"securitytxt", "validate", file}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d; want 1", code)
	}
	for _, want := range []string{"line 1: error: Contact", "line 2: error: Expires: the file expired", "line 3: error: not a field", "Contact: required field missing"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Warnings alone do not fail.
	os.WriteFile(file, []byte("Contact: mailto:a@b.c\nExpires: 2028-01-01T00:00:00Z\n"), 0o644)
	out.Reset()
	if code := run([]string{"securitytxt", "validate", file}, &out, &errb); code != 0 || !strings.Contains(out.String(), "warning: Expires") {
		t.Fatalf("exit %d, out %s; want 0 with a warning", code, out.String())
	}
	if code := run([]string{"securitytxt", "validate", filepath.Join(t.TempDir(), "missing")}, &out, &errb); code != 2 {
		t.Fatalf("missing file exit %d; want 2", code)
	}
}

func TestSecurityTxtFromProfile(t *testing.T) {
	fixClock(t)
	var out, errb bytes.Buffer
	code := run([]string{"securitytxt", "generate", "--profile", "../../examples/smartplug/profile.json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Contact: mailto:security@example.com\n", "Policy: https://example.com/security/disclosure-policy\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Flags win over the profile.
	out.Reset()
	run([]string{"securitytxt", "generate", "--profile", "../../examples/smartplug/profile.json", "--contact", "https://example.org/report"}, &out, &errb)
	if strings.Contains(out.String(), "mailto:") || !strings.Contains(out.String(), "Contact: https://example.org/report") {
		t.Errorf("--contact did not replace the profile's contact:\n%s", out.String())
	}
	bad := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(bad, []byte(`{"schema":"nope"}`), 0o644)
	out.Reset()
	if code := run([]string{"securitytxt", "generate", "--profile", bad}, &out, &errb); code != 2 || out.Len() != 0 {
		t.Errorf("bad profile: exit %d, out %q", code, out.String())
	}
}
