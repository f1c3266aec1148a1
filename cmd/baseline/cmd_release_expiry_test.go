package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// snapshotDir returns every file of dir (relative name → content).
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			m[rel] = string(b)
		}
		return nil
	})
	return m
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReleaseIdempotentAndExpiry: an identical add or rotate changes
// nothing; list flags roles that expired or expire within 30 days, and add
// refuses a repository whose root has expired, naming the command to run.
func TestReleaseIdempotentAndExpiry(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o700)
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte("release passphrase\n"), 0o600)
	keygenFiles(t, keys, passFile, "root", "targets", "snapshot", "timestamp", "targets2")
	k := func(n string) string { return filepath.Join(keys, n+".key") }
	repo := filepath.Join(dir, "repo")
	all := []string{"-repo", repo, "-root-key", k("root"), "-targets-key", k("targets"),
		"-snapshot-key", k("snapshot"), "-timestamp-key", k("timestamp"), "-passphrase-file", passFile}
	if code, _, stderr := releaseCmd(t, append([]string{"release", "init"}, all...)...); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	img := filepath.Join(dir, "fw.bin")
	os.WriteFile(img, []byte(strings.Repeat("firmware", 3000)), 0o644)
	add := func(version string) (int, string, string) {
		return releaseCmd(t, append(append([]string{"release", "add"}, all...),
			"-image", img, "-path", "plug/fw.bin", "-hardware-id", "plug-v1", "-counter", "2", "-version", version, "-reboot")...)
	}
	if code, _, stderr := add("1.2"); code != 0 || strings.Contains(stderr, "WARNING") {
		t.Fatalf("add into a fresh repository: exit %d, stderr %q (no warning expected)", code, stderr)
	}
	before := snapshotDir(t, repo)
	code, out, stderr := add("1.2")
	if code != 0 || !strings.Contains(out, "nothing changed") {
		t.Fatalf("identical add: exit %d: %s %s", code, out, stderr)
	}
	if !sameFiles(before, snapshotDir(t, repo)) {
		t.Fatal("an identical add changed the repository")
	}
	// The same path with another setting is not a no-op.
	if code, out, _ := add("1.2-b"); code == 0 && strings.Contains(out, "nothing changed") {
		t.Fatal("a changed release was taken for the same one")
	}

	rotate := func() (int, string, string) {
		return releaseCmd(t, append(append([]string{"release", "rotate"}, all...), "-role", "targets", "-new-key", k("targets2"))...)
	}
	if code, _, stderr := rotate(); code != 0 {
		t.Fatalf("rotate: %s", stderr)
	}
	before = snapshotDir(t, repo)
	if code, out, stderr := rotate(); code != 0 || !strings.Contains(out, "nothing changed") {
		t.Fatalf("identical rotate: exit %d: %s %s", code, out, stderr)
	}
	if !sameFiles(before, snapshotDir(t, repo)) {
		t.Fatal("an identical rotate changed the repository")
	}

	// The root's expiry, from the newest root file.
	var newest string
	for name := range before {
		if strings.HasSuffix(name, ".root.json") && name > newest && len(name) >= len(newest) {
			newest = name
		}
	}
	var root struct {
		Signed struct {
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if err := json.Unmarshal([]byte(before[newest]), &root); err != nil || root.Signed.Expires.IsZero() {
		t.Fatalf("root %s: %v", newest, err)
	}
	defer func(c func() time.Time) { releaseClock = c }(releaseClock)

	releaseClock = func() time.Time { return root.Signed.Expires.Add(-10 * 24 * time.Hour) }
	code, out, stderr = releaseCmd(t, "release", "list", "-repo", repo)
	if code != 0 || !strings.Contains(out, "EXPIRES SOON") || !strings.Contains(stderr, "WARNING: root expires in") ||
		!strings.Contains(stderr, "baseline release resign -role root") {
		t.Fatalf("list 10 days before the root expires: exit %d\n%s\n%s", code, out, stderr)
	}

	releaseClock = func() time.Time { return root.Signed.Expires.Add(time.Hour) }
	if code, out, _ := releaseCmd(t, "release", "list", "-repo", repo); code != 0 || !strings.Contains(out, "EXPIRED") {
		t.Fatalf("list after the root expired: %s", out)
	}
	before = snapshotDir(t, repo)
	code, _, stderr = releaseCmd(t, append(append([]string{"release", "add"}, all...),
		"-image", img, "-path", "plug/fw-3.bin", "-hardware-id", "plug-v1", "-counter", "3", "-version", "1.3")...)
	if code != 1 || !strings.Contains(stderr, "baseline release resign -role root") {
		t.Fatalf("add into a repository with an expired root: exit %d: %s", code, stderr)
	}
	if !sameFiles(before, snapshotDir(t, repo)) {
		t.Fatal("a refused add changed the repository")
	}
}

// TestReleaseBundle: `baseline release bundle` writes the offline bundle
// a device opens and verifies with update.Client.OpenBundle, without any Go
// code of the maker's; an unpublished path and an existing file are refused.
func TestReleaseBundle(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o700)
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte("release passphrase\n"), 0o600)
	keygenFiles(t, keys, passFile, "root", "targets", "snapshot", "timestamp")
	k := func(n string) string { return filepath.Join(keys, n+".key") }
	repo := filepath.Join(dir, "repo")
	all := []string{"-repo", repo, "-root-key", k("root"), "-targets-key", k("targets"),
		"-snapshot-key", k("snapshot"), "-timestamp-key", k("timestamp"), "-passphrase-file", passFile}
	if code, _, stderr := releaseCmd(t, append([]string{"release", "init"}, all...)...); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	image := []byte(strings.Repeat("firmware image ", 2000))
	img := filepath.Join(dir, "fw.bin")
	os.WriteFile(img, image, 0o644)
	if code, _, stderr := releaseCmd(t, append(append([]string{"release", "add"}, all...),
		"-image", img, "-path", "plug/fw-2.bin", "-hardware-id", "plug-v1", "-counter", "2", "-version", "2.0")...); code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	// The image is stored once: the plain name is a link to the
	// hash-prefixed one that consistent-snapshot clients fetch.
	hashed, _ := filepath.Glob(filepath.Join(repo, "targets", "plug", "*.fw-2.bin"))
	plainFI, err1 := os.Stat(filepath.Join(repo, "targets", "plug", "fw-2.bin"))
	if len(hashed) != 1 || err1 != nil {
		t.Fatalf("targets: %v %v", hashed, err1)
	}
	if hashedFI, err := os.Stat(hashed[0]); err != nil || !os.SameFile(plainFI, hashedFI) {
		t.Errorf("the image is stored twice (%s and its plain name are different files)", hashed[0])
	}
	out := filepath.Join(dir, "usb", "fw-2.bundle")
	os.Mkdir(filepath.Dir(out), 0o755)
	if code, _, stderr := releaseCmd(t, "release", "bundle", "-repo", repo, "-path", "plug/fw-2.bin", "-out", out); code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, stderr)
	}
	if code, _, stderr := releaseCmd(t, "release", "bundle", "-repo", repo, "-path", "plug/fw-2.bin", "-out", out); code == 0 {
		t.Fatalf("bundle over an existing file: exit 0 %s", stderr)
	}
	if code, _, stderr := releaseCmd(t, "release", "bundle", "-repo", repo, "-path", "plug/none.bin", "-out", out+"2"); code != 1 || !strings.Contains(stderr, "not published") {
		t.Fatalf("bundle of an unpublished path: exit %d %s", code, stderr)
	}

	// The device side: only the pinned root, no network.
	root, err := os.ReadFile(filepath.Join(repo, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := update.New(update.Config{TrustedRoot: root, RepositoryURL: "https://updates.invalid", HardwareID: "plug-v1",
		Dir: filepath.Join(dir, "device"), InstalledCounter: func() uint64 { return 1 }})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	slot, err := update.OpenFileSlot(durable.OS, filepath.Join(dir, "slot"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.OpenBundle(context.Background(), f, slot)
	if err != nil {
		t.Fatalf("the device refused the CLI's bundle: %v", err)
	}
	slot.Close()
	if got, _ := os.ReadFile(filepath.Join(dir, "slot")); !bytes.Equal(got, image) || v == nil {
		t.Fatal("the slot does not hold the published image")
	}

	// -cosign-sig: a maker who also signs with cosign puts the sign-blob
	// signature (base64 DER ECDSA over the image) into the bundle; a device
	// configured with the cosign public key opens that bundle and refuses
	// the one without it and one signed by another key.
	cosignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256(image)
	sigOf := func(k *ecdsa.PrivateKey, name string) string {
		der, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(der)+"\n"), 0o644)
		return p
	}
	signed, forged := filepath.Join(dir, "usb", "signed.bundle"), filepath.Join(dir, "usb", "forged.bundle")
	for out, sig := range map[string]string{signed: sigOf(cosignKey, "fw.sig"), forged: sigOf(otherKey, "other.sig")} {
		if code, _, stderr := releaseCmd(t, "release", "bundle", "-repo", repo, "-path", "plug/fw-2.bin", "-out", out, "-cosign-sig", sig); code != 0 {
			t.Fatalf("bundle -cosign-sig: exit %d: %s", code, stderr)
		}
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&cosignKey.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	for i, tc := range []struct {
		bundle string
		ok     bool
	}{{signed, true}, {out, false}, {forged, false}} {
		c, err := update.New(update.Config{TrustedRoot: root, RepositoryURL: "https://updates.invalid", HardwareID: "plug-v1",
			Dir: filepath.Join(dir, fmt.Sprintf("cosign-device-%d", i)), InstalledCounter: func() uint64 { return 1 }, CosignPublicKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(tc.bundle)
		if err != nil {
			t.Fatal(err)
		}
		slot, err := update.OpenFileSlot(durable.OS, filepath.Join(dir, fmt.Sprintf("cosign-slot-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.OpenBundle(context.Background(), f, slot)
		slot.Close()
		f.Close()
		if tc.ok && err != nil {
			t.Errorf("%s: the device refused the cosign-signed bundle: %v", filepath.Base(tc.bundle), err)
		}
		if !tc.ok && !errors.Is(err, update.ErrSignature) {
			t.Errorf("%s: opened with a cosign key required: %v", filepath.Base(tc.bundle), err)
		}
	}
}

// TestReleaseKeyOwnPassphrase: each custodian's key opens with its own
// passphrase (-key-passphrase-file), the others with the run's; a wrong one
// is refused without printing either.
func TestReleaseKeyOwnPassphrase(t *testing.T) {
	dir := t.TempDir()
	passA, passB := filepath.Join(dir, "passA"), filepath.Join(dir, "passB")
	os.WriteFile(passA, []byte("release team passphrase\n"), 0o600)
	os.WriteFile(passB, []byte("root custodian passphrase\n"), 0o600)
	for n, pf := range map[string]string{"root": passB, "targets": passA, "snapshot": passA, "timestamp": passA} {
		if code, _, stderr := releaseCmd(t, "keygen", "-alg", "ecdsa-p256", "-out", filepath.Join(dir, n), "-passphrase-file", pf); code != 0 {
			t.Fatalf("keygen %s: %s", n, stderr)
		}
	}
	k := func(n string) string { return filepath.Join(dir, n+".key") }
	args := func(extra ...string) []string {
		return append([]string{"release", "init", "-repo", filepath.Join(dir, "repo"), "-root-key", k("root"), "-targets-key", k("targets"),
			"-snapshot-key", k("snapshot"), "-timestamp-key", k("timestamp"), "-passphrase-file", passA}, extra...)
	}
	code, _, stderr := releaseCmd(t, args()...)
	if code != 1 || strings.Contains(stderr, "custodian") || strings.Contains(stderr, "release team") {
		t.Fatalf("root key with the team's passphrase: exit %d: %s", code, stderr)
	}
	if code, _, stderr := releaseCmd(t, args("-key-passphrase-file", "bad")...); code != 2 || !strings.Contains(stderr, "KEYFILE=PASSFILE") {
		t.Fatalf("malformed -key-passphrase-file: exit %d: %s", code, stderr)
	}
	if code, _, stderr := releaseCmd(t, args("-key-passphrase-file", k("root")+"="+passB)...); code != 0 {
		t.Fatalf("each key with its own passphrase: exit %d: %s", code, stderr)
	}
}
