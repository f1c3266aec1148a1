package main

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/update/release"
)

func releaseCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeygenEncrypted(t *testing.T) {
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte("s3cret passphrase\n"), 0o600)
	prefix := filepath.Join(dir, "targets")
	code, out, stderr := releaseCmd(t, "keygen", "-alg", "ecdsa-p256", "-out", prefix, "-passphrase-file", passFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "tuf key id: ") || !strings.Contains(out, `"scheme":"ecdsa-sha2-nistp256"`) {
		t.Fatalf("no TUF key printed:\n%s", out)
	}
	if strings.Contains(out+stderr, "s3cret") {
		t.Fatal("passphrase printed")
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(prefix + ".key")
	if !keyfile.IsEncrypted(data) {
		t.Fatal("private key not encrypted")
	}
	key, err := keyfile.DecodePrivate(data, []byte("s3cret passphrase"))
	if err != nil {
		t.Fatalf("trailing newline not removed from passphrase file: %v", err)
	}
	if _, err := keyfile.DecodePrivate(data, []byte("wrong")); !errors.Is(err, keyfile.ErrDecrypt) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	pub, err := keyfile.ReadPublic(durable.OS, prefix+".pub")
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatal("public key file is not the private key's")
	}
}

func TestKeygenRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "root")
	if code, _, stderr := releaseCmd(t, "keygen", "-alg", "ed25519", "-out", prefix, "-insecure-plaintext"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	before, _ := os.ReadFile(prefix + ".key")
	code, _, stderr := releaseCmd(t, "keygen", "-alg", "ed25519", "-out", prefix, "-insecure-plaintext")
	if code != 1 || !strings.Contains(stderr, "refusing to overwrite") {
		t.Fatalf("second keygen: exit %d, %s", code, stderr)
	}
	after, _ := os.ReadFile(prefix + ".key")
	if !bytes.Equal(before, after) {
		t.Fatal("existing key overwritten")
	}
	// Only the .pub existing also refuses, and writes no .key.
	os.Remove(prefix + ".key")
	if code, _, _ := releaseCmd(t, "keygen", "-alg", "ed25519", "-out", prefix, "-insecure-plaintext"); code != 1 {
		t.Fatalf("exit %d with existing .pub", code)
	}
	if _, err := os.Stat(prefix + ".key"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused keygen left a private key behind")
	}
}

func TestKeygenMLDSAFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BASELINE_TEST_PASS", "pq passphrase")
	prefix := filepath.Join(dir, "pq")
	code, out, stderr := releaseCmd(t, "keygen", "-alg", "ml-dsa-65", "-out", prefix, "-passphrase-env", "BASELINE_TEST_PASS")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "tuf key") {
		t.Fatal("ML-DSA key presented as a TUF key")
	}
	if !strings.Contains(out, "ml-dsa key id: ") {
		t.Fatalf("no ML-DSA key ID printed:\n%s", out)
	}
	k, err := keyfile.ReadPrivate(durable.OS, prefix+".key", []byte("pq passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	if alg, _ := keyfile.AlgorithmOf(k.Public()); alg != keyfile.MLDSA65 {
		t.Fatalf("algorithm %q", alg)
	}
	if !strings.Contains(out, release.MLDSAKeyID(k.Public().(*mldsa65.PublicKey))) {
		t.Fatal("printed ML-DSA key ID is not the key's")
	}
}

func TestKeygenUsageErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for name, args := range map[string][]string{
		"no out":        {"keygen", "-insecure-plaintext"},
		"no passphrase": {"keygen", "-out", filepath.Join(dir, "a")},
		"both":          {"keygen", "-out", filepath.Join(dir, "b"), "-insecure-plaintext", "-passphrase-env", "HOME"},
		"unknown alg":   {"keygen", "-alg", "rsa", "-out", filepath.Join(dir, "c"), "-insecure-plaintext"},
		"empty pass":    {"keygen", "-out", filepath.Join(dir, "d"), "-passphrase-file", empty},
		"unset env":     {"keygen", "-out", filepath.Join(dir, "e"), "-passphrase-env", "BASELINE_SURELY_UNSET_VAR"},
		"bad flag":      {"keygen", "-nope"},
		"extra arg":     {"keygen", "-out", filepath.Join(dir, "f"), "-insecure-plaintext", "extra"},
	} {
		if code, _, _ := releaseCmd(t, args...); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("usage errors wrote files: %v", entries)
	}
}

// TestKeygenPassphraseRules: a new key's passphrase has at least 12
// characters, and a passphrase file others can read is refused; no key
// file is written in either case.
func TestKeygenPassphraseRules(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("elevenchars\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("a long enough passphrase\n"), 0o644)
	for name, tt := range map[string]struct{ file, want string }{
		"short":          {short, "at least 12 characters"},
		"world-readable": {open, "can be read by other users"},
	} {
		t.Run(name, func(t *testing.T) {
			prefix := filepath.Join(dir, name)
			code, _, stderr := releaseCmd(t, "keygen", "-alg", "ecdsa-p256", "-out", prefix, "-passphrase-file", tt.file)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
			if _, err := os.Stat(prefix + ".key"); !os.IsNotExist(err) {
				t.Error("a key file was written")
			}
			if strings.Contains(stderr, "elevenchars") || strings.Contains(stderr, "long enough") {
				t.Error("the passphrase appears in the error")
			}
		})
	}
}
