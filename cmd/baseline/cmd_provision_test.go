package main

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/auth"
)

func provisionBatch(t *testing.T, dir string, extra ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"provision", "--model", "Plug One", "--serial-prefix", "SP1-",
		"--labels", filepath.Join(dir, "labels.csv"), "--records", filepath.Join(dir, "records")}, extra...)
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func dirNames(t *testing.T, dir string) []string {
	ents, _ := os.ReadDir(dir)
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	sort.Strings(n)
	return n
}

func TestProvisionBatch(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	code, out, errs := provisionBatch(t, dir, "--count", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "SP1-000001..SP1-000003") {
		t.Errorf("summary = %q", out)
	}
	if strings.Contains(out, "setup_secret") || strings.Count(out, "-") > 4 {
		t.Errorf("summary may contain secrets: %q", out)
	}
	lf, _ := os.Open(filepath.Join(dir, "labels.csv"))
	rows, err := csv.NewReader(lf).ReadAll()
	lf.Close()
	if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != "serial,model,setup_secret,qr_payload" {
		t.Fatalf("labels = %v, %v", rows, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "labels.csv")); st.Mode().Perm() != 0o600 {
		t.Errorf("label file mode %v; want 0600 (it holds the secrets)", st.Mode().Perm())
	}
	if got := dirNames(t, filepath.Join(dir, "records")); strings.Join(got, " ") != "SP1-000001.json SP1-000002.json SP1-000003.json" {
		t.Fatalf("records = %v", got)
	}
	secrets := map[string]bool{}
	for _, row := range rows[1:] {
		serial, secretText, qr := row[0], row[2], row[3]
		if secrets[secretText] {
			t.Fatalf("secret repeated within the batch")
		}
		secrets[secretText] = true
		u, err := url.Parse(qr)
		if err != nil || u.Scheme != "baseline-setup" || u.Query().Get("serial") != serial || u.Query().Get("secret") != secretText {
			t.Errorf("QR payload %q does not carry serial and secret", qr)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "records", serial+".json"))
		if strings.Contains(string(raw), secretText) || strings.Contains(string(raw), strings.ReplaceAll(secretText, "-", "")) {
			t.Fatalf("record of %s contains its setup secret", serial)
		}
		r, err := auth.DecodeProvisioningRecord(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("record of %s: %v", serial, err)
		}
		s, err := auth.ParseSetupSecret(secretText)
		if err != nil {
			t.Fatalf("label secret of %s does not parse: %v", serial, err)
		}
		if !s.Matches(r.SetupVerifier) || r.Serial != serial || r.Model != "Plug One" {
			t.Fatalf("record of %s does not verify its label secret: %+v", serial, r)
		}
	}
}

func TestProvisionRefusesDuplicatesAndLeavesNothing(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	if code, _, errs := provisionBatch(t, dir, "--count", "2"); code != 0 {
		t.Fatal(errs)
	}
	before := dirNames(t, filepath.Join(dir, "records"))
	labels2 := filepath.Join(dir, "labels2.csv")
	var out, errb bytes.Buffer
	// Overlaps SP1-000002 issued by the first batch.
	code := run([]string{"provision", "--model", "Plug One", "--serial-prefix", "SP1-", "--first", "2", "--count", "2",
		"--labels", labels2, "--records", filepath.Join(dir, "records")}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "serial of device SP1-000002 duplicates SP1-000002.json") {
		t.Fatalf("exit %d, stderr %q; want 1 naming the duplicate serial", code, errb.String())
	}
	if _, err := os.Stat(labels2); !os.IsNotExist(err) {
		t.Error("label file written for a refused batch")
	}
	if after := dirNames(t, filepath.Join(dir, "records")); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("records changed by a refused batch: %v -> %v", before, after)
	}
	// The existing label file is never overwritten.
	old, _ := os.ReadFile(filepath.Join(dir, "labels.csv"))
	if code, _, _ := provisionBatch(t, dir, "--count", "1", "--first", "50"); code != 2 {
		t.Errorf("exit %d; want 2 for an existing label file", code)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "labels.csv")); !bytes.Equal(now, old) {
		t.Error("label file changed")
	}
}

func TestProvisionUsage(t *testing.T) {
	dir := t.TempDir()
	for name, extra := range map[string][]string{
		"no count":    {},
		"zero count":  {"--count", "0"},
		"huge count":  {"--count", "1000000"},
		"bad prefix":  {"--count", "1", "--serial-prefix", "a/b"},
		"bad model":   {"--count", "1", "--model", "\x00"},
		"overflow":    {"--count", "5", "--first", "999998"},
		"extra arg":   {"--count", "1", "x"},
		"unknown flg": {"--count", "1", "--secret", "x"},
		"no workers":  {"--count", "1", "--workers", "0"},
		"ctrl batch":  {"--count", "1", "--batch", "b\x1b[2J"},
		"long batch":  {"--count", "1", "--batch", strings.Repeat("b", 65)},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, _ := provisionBatch(t, dir, extra...); code != 2 {
				t.Fatalf("exit %d; want 2", code)
			}
			if len(dirNames(t, dir)) != 0 {
				t.Fatalf("files written: %v", dirNames(t, dir))
			}
		})
	}
}

// TestProvisionRefusesBadRecordInDir: the records directory is read with
// the device's own strict decoder, so a record a device would refuse (here
// one with a stray '}' after it) stops the batch before anything is made.
func TestProvisionRefusesBadRecordInDir(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	if code, _, errs := provisionBatch(t, dir, "--count", "1"); code != 0 {
		t.Fatal(errs)
	}
	rec := filepath.Join(dir, "records", "SP1-000001.json")
	raw, _ := os.ReadFile(rec)
	os.WriteFile(rec, append(bytes.TrimSpace(raw), '}'), 0o600)
	labels2 := filepath.Join(dir, "labels2.csv")
	var out, errb bytes.Buffer
	code := run([]string{"provision", "--model", "Plug One", "--serial-prefix", "SP1-", "--first", "2", "--count", "1",
		"--labels", labels2, "--records", filepath.Join(dir, "records")}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "SP1-000001.json") || !strings.Contains(errb.String(), "trailing data") {
		t.Fatalf("exit %d, stderr %q; want 2 naming the bad record", code, errb.String())
	}
	if _, err := os.Stat(labels2); !os.IsNotExist(err) {
		t.Error("label file written")
	}
	if got := dirNames(t, filepath.Join(dir, "records")); strings.Join(got, " ") != "SP1-000001.json" {
		t.Errorf("records = %v", got)
	}
}
