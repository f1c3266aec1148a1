package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// keygenFiles makes key files with the CLI; only "targets" is encrypted, to
// keep the test fast (each encrypted key costs an Argon2id derivation).
func keygenFiles(t *testing.T, dir, passFile string, names ...string) {
	t.Helper()
	for _, n := range names {
		alg := "ed25519"
		if strings.HasPrefix(n, "pq") {
			alg = "ml-dsa-65"
		}
		args := []string{"keygen", "-alg", alg, "-out", filepath.Join(dir, n)}
		if n == "targets" {
			args = append(args, "-alg", "ecdsa-p256", "-passphrase-file", passFile)
		} else {
			args = append(args, "-insecure-plaintext")
		}
		if code, _, stderr := releaseCmd(t, args...); code != 0 {
			t.Fatalf("keygen %s: exit %d: %s", n, code, stderr)
		}
	}
}

func walkRepo(t *testing.T, repo string, trustedRoot []byte) *trustedmetadata.TrustedMetadata {
	t.Helper()
	tm, err := trustedmetadata.New(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(repo, "metadata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for {
		b, err := os.ReadFile(filepath.Join(repo, "metadata", fmt.Sprintf("%d.root.json", tm.Root.Signed.Version+1)))
		if err != nil {
			break
		}
		if _, err := tm.UpdateRoot(b); err != nil {
			t.Fatalf("root rotation: %v", err)
		}
	}
	if _, err := tm.UpdateTimestamp(read("timestamp.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.UpdateSnapshot(read(fmt.Sprintf("%d.snapshot.json", tm.Timestamp.Signed.Meta["snapshot.json"].Version)), false); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.UpdateTargets(read(fmt.Sprintf("%d.targets.json", tm.Snapshot.Signed.Meta["targets.json"].Version))); err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestReleaseCLI(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o700)
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte("release passphrase\n"), 0o600)
	wrongPass := filepath.Join(dir, "wrong")
	os.WriteFile(wrongPass, []byte("nope\n"), 0o600)
	keygenFiles(t, keys, passFile, "root", "targets", "snapshot", "timestamp", "targets2", "pq")
	k := func(n string) string { return filepath.Join(keys, n+".key") }
	repo := filepath.Join(dir, "repo")
	all := []string{"-repo", repo, "-root-key", k("root"), "-targets-key", k("targets"),
		"-snapshot-key", k("snapshot"), "-timestamp-key", k("timestamp"), "-passphrase-file", passFile}

	code, out, stderr := releaseCmd(t, append([]string{"release", "init"}, all...)...)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "1.root.json") {
		t.Fatalf("init output: %s", out)
	}
	rootV1, err := os.ReadFile(filepath.Join(repo, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := releaseCmd(t, append([]string{"release", "init"}, all...)...); code != 1 {
		t.Fatalf("second init: exit %d, want 1", code)
	}

	img := filepath.Join(dir, "fw.bin")
	os.WriteFile(img, []byte(strings.Repeat("firmware", 3000)), 0o644)
	add := func(counter int, path string, extra ...string) (int, string, string) {
		args := append([]string{"release", "add"}, all...)
		args = append(args, "-image", img, "-path", path, "-hardware-id", "plug-v1",
			"-counter", fmt.Sprint(counter), "-version", fmt.Sprintf("1.%d", counter), "-security",
			"-risk", "authentication bypass", "-reboot", "-downtime", "45s", "-support-until", "2030-06-30",
			"-chunk-size", "4096", "-mldsa-key", k("pq"))
		return releaseCmd(t, append(args, extra...)...)
	}
	if code, out, stderr := add(3, "plug/fw-1.3.bin"); code != 0 {
		t.Fatalf("add: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr := add(3, "plug/fw-1.3b.bin"); code != 1 || !strings.Contains(stderr, "counter") {
		t.Fatalf("same counter: exit %d: %s", code, stderr)
	}
	// Wrong passphrase: refused, exit 1, nothing published.
	wrong := append([]string{}, all...)
	wrong[len(wrong)-1] = wrongPass
	args := append([]string{"release", "add"}, wrong...)
	args = append(args, "-image", img, "-path", "x.bin", "-hardware-id", "plug-v1", "-counter", "9", "-version", "9")
	if code, _, stderr := releaseCmd(t, args...); code != 1 || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("wrong passphrase: exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "nope") {
		t.Fatal("passphrase printed")
	}

	code, out, stderr = releaseCmd(t, "release", "list", "-repo", repo)
	if code != 0 || !strings.Contains(out, "target plug/fw-1.3.bin 24000 bytes hardware=plug-v1 counter=3 version=1.3 security ml-dsa-cosigned") {
		t.Fatalf("list: exit %d: %s %s", code, out, stderr)
	}
	if strings.Contains(out, "x.bin") {
		t.Fatal("refused target listed")
	}

	// Timestamp re-signing with the timestamp key alone.
	code, out, stderr = releaseCmd(t, "release", "resign", "-repo", repo, "-role", "timestamp", "-timestamp-key", k("timestamp"))
	if code != 0 || !strings.HasPrefix(out, "timestamp version 3") {
		t.Fatalf("resign: exit %d: %s %s", code, out, stderr)
	}
	// Cron mode: a timestamp valid for another day is left alone when asked
	// to re-sign only within 12 hours of expiry, re-signed within 48.
	code, out, _ = releaseCmd(t, "release", "resign", "-repo", repo, "-role", "timestamp", "-timestamp-key", k("timestamp"), "-if-expiring-within", "12h")
	if code != 0 || !strings.Contains(out, "not re-signed") {
		t.Fatalf("resign -if-expiring-within 12h: exit %d: %s", code, out)
	}
	code, out, _ = releaseCmd(t, "release", "resign", "-repo", repo, "-role", "timestamp", "-timestamp-key", k("timestamp"), "-if-expiring-within", "48h")
	if code != 0 || !strings.HasPrefix(out, "timestamp version 4") {
		t.Fatalf("resign -if-expiring-within 48h: exit %d: %s", code, out)
	}
	if code, _, _ := releaseCmd(t, "release", "resign", "-repo", repo, "-role", "snapshot", "-timestamp-key", k("timestamp")); code != 1 {
		t.Fatalf("resign snapshot without its key: exit %d", code)
	}

	// Rotate the targets key, publish with the new one.
	args = append([]string{"release", "rotate"}, all...)
	args = append(args, "-role", "targets", "-new-key", k("targets2"))
	if code, out, stderr := releaseCmd(t, args...); code != 0 || !strings.Contains(out, "2.root.json") {
		t.Fatalf("rotate: exit %d: %s %s", code, out, stderr)
	}
	all[5] = k("targets2")
	if code, out, stderr := add(4, "plug/fw-1.4.bin"); code != 0 {
		t.Fatalf("add after rotation: exit %d: %s %s", code, out, stderr)
	}
	tm := walkRepo(t, repo, rootV1)
	if tm.Root.Signed.Version != 2 {
		t.Fatalf("root version %d", tm.Root.Signed.Version)
	}
	for _, p := range []string{"plug/fw-1.3.bin", "plug/fw-1.4.bin"} {
		if _, ok := tm.Targets["targets"].Signed.Targets[p]; !ok {
			t.Fatalf("%s not published", p)
		}
	}
}

func TestReleaseCLIUsage(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no action":      {"release"},
		"unknown action": {"release", "frobnicate"},
		"no repo":        {"release", "list"},
		"not a repo":     {"release", "list", "-repo", dir},
		"init no keys":   {"release", "init", "-repo", filepath.Join(dir, "r")},
		"add no image":   {"release", "add", "-repo", dir},
		"missing key":    {"release", "resign", "-repo", dir, "-timestamp-key", filepath.Join(dir, "none.key")},
		"bad role":       {"release", "resign", "-repo", dir, "-role", "mirror"},
		"rotate no keys": {"release", "rotate", "-repo", dir, "-role", "root"},
		"bad flag":       {"release", "list", "-nope"},
		"stray argument": {"release", "list", "-repo", dir, "extra"},
		"bad date":       {"release", "add", "-repo", dir, "-image", "x", "-path", "p", "-hardware-id", "h", "-counter", "1", "-version", "1", "-support-until", "June"},
		"past support":   {"release", "add", "-repo", dir, "-image", "x", "-path", "p", "-hardware-id", "h", "-counter", "1", "-version", "1", "-support-until", "2020-01-01"},
		"small chunks":   {"release", "add", "-repo", dir, "-image", "x", "-path", "p", "-hardware-id", "h", "-counter", "1", "-version", "1", "-chunk-size", "100"},
		"odd chunks":     {"release", "add", "-repo", dir, "-image", "x", "-path", "p", "-hardware-id", "h", "-counter", "1", "-version", "1", "-chunk-size", "65537"},
		"neg downtime":   {"release", "add", "-repo", dir, "-image", "x", "-path", "p", "-hardware-id", "h", "-counter", "1", "-version", "1", "-downtime", "-5s"},
		"zero threshold": {"release", "init", "-repo", dir, "-root-key", "a", "-targets-key", "b", "-snapshot-key", "c", "-timestamp-key", "d", "-root-threshold", "0"},
	} {
		if code, _, stderr := releaseCmd(t, args...); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("usage errors wrote files: %v", entries)
	}
}

// TestReleaseAddRefusesBadValues: values a release engineer can get wrong
// are refused by name before any key or repository is touched.
func TestReleaseAddRefusesBadValues(t *testing.T) {
	dir := t.TempDir()
	base := []string{"release", "add", "-repo", dir, "-image", "x", "-path", "p", "-hardware-id", "h", "-counter", "1", "-version", "1"}
	for flagv, want := range map[[2]string]string{
		{"-support-until", "2020-01-01"}: "in the past",
		{"-chunk-size", "100"}:           "must be a multiple of 64 from 4096",
		{"-chunk-size", "65537"}:         "must be a multiple of 64",
		{"-downtime", "-5s"}:             "must not be negative",
		{"-expiry-targets", "-1h"}:       "-expiry-targets must be a positive duration",
		{"-expiry-timestamp", "0s"}:      "-expiry-timestamp must be a positive duration",
	} {
		code, _, stderr := releaseCmd(t, append(append([]string(nil), base...), flagv[0], flagv[1])...)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", flagv[0], flagv[1], code, stderr, want)
		}
	}
}
