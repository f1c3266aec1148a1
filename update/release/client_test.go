package release_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/update"
)

// buildCLI builds the real `baseline` binary for the test.
func buildCLI(t *testing.T) string {
	t.Helper()
	// go test puts its own GOROOT/bin first on the test's PATH.
	goTool := testenv.LookPath(t, "go")
	bin := filepath.Join(t.TempDir(), "baseline")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/iotbaseline/baseline/cmd/baseline")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func cli(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("baseline %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out.String()
}

func device(t *testing.T, url string, root []byte, hw string, installed uint64, pinned *mldsa65.PublicKey) *update.Client {
	t.Helper()
	c, err := update.New(update.Config{
		TrustedRoot:      root,
		RepositoryURL:    url,
		HardwareID:       hw,
		InstalledCounter: func() uint64 { return installed },
		CoSignKey:        pinned,
		FS:               durable.NewCrashFS(),
		Dir:              "update",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCLIRepositoryAcceptedByUpdateClient is the "done when": keys
// from `baseline keygen` and a repository from `baseline release`, served
// over HTTP on loopback, are accepted by update.Client end to end (check,
// chunk-verified download, ML-DSA co-signature), including after a key
// rotation and a timestamp re-signing.
func TestCLIRepositoryAcceptedByUpdateClient(t *testing.T) {
	testenv.Short(t, "building the baseline CLI")
	bin := buildCLI(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o700)
	pass := filepath.Join(dir, "passphrase")
	os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600)
	for _, k := range []struct{ name, alg string }{
		{"root", "ecdsa-p256"}, {"targets", "ed25519"}, {"snapshot", "ed25519"},
		{"timestamp", "ecdsa-p256"}, {"targets2", "ecdsa-p256"}, {"pq", "ml-dsa-65"},
	} {
		// Root and the ML-DSA key encrypted; the others in the clear to
		// keep the test quick (each encrypted key costs an Argon2id
		// derivation per run; the keyfile and keygen tests cover them).
		protect := []string{"-insecure-plaintext"}
		if k.name == "root" || k.name == "pq" {
			protect = []string{"-passphrase-file", pass}
		}
		cli(t, bin, append([]string{"keygen", "-alg", k.alg, "-out", filepath.Join(keys, k.name)}, protect...)...)
	}
	key := func(n string) string { return filepath.Join(keys, n+".key") }
	repo := filepath.Join(dir, "repo")
	roles := []string{"-repo", repo, "-passphrase-file", pass, "-root-key", key("root"), "-targets-key", key("targets"),
		"-snapshot-key", key("snapshot"), "-timestamp-key", key("timestamp")}
	cli(t, bin, append([]string{"release", "init"}, roles...)...)

	img := releaseImage(3*update.MinChunkSize + 123)
	imgFile := filepath.Join(dir, "fw.bin")
	os.WriteFile(imgFile, img, 0o644)
	add := func(roles []string, counter int) {
		cli(t, bin, append(append([]string{"release", "add"}, roles...),
			"-image", imgFile, "-path", fmt.Sprintf("plug/fw-%d.bin", counter), "-hardware-id", "plug-v2",
			"-counter", fmt.Sprint(counter), "-version", fmt.Sprintf("2.%d.0", counter),
			"-security", "-risk", "LAN attacker could take over the device", "-reboot", "-downtime", "40s",
			"-support-until", "2031-12-31", "-chunk-size", fmt.Sprint(update.MinChunkSize), "-mldsa-key", key("pq"))...)
	}
	// Adding needs no root key: keep it offline.
	addRoles := []string{"-repo", repo, "-passphrase-file", pass, "-targets-key", key("targets"),
		"-snapshot-key", key("snapshot"), "-timestamp-key", key("timestamp")}
	add(addRoles, 8)

	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	defer srv.Close()
	root, err := os.ReadFile(filepath.Join(repo, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	pqPub, err := keyfile.ReadPublic(durable.OS, filepath.Join(keys, "pq.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := pqPub.(*mldsa65.PublicKey)
	ctx := context.Background()

	c := device(t, srv.URL, root, "plug-v2", 7, pinned)
	fetch := func(c *update.Client, wantPath string) {
		t.Helper()
		rel, err := c.Check(ctx)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if rel == nil || rel.Path != wantPath {
			t.Fatalf("Check offered %+v, want %s", rel, wantPath)
		}
		d := rel.Descriptor
		if !d.Security || d.Risks[0] != "LAN attacker could take over the device" || !d.Reboot || d.SupportUntil.Year() != 2031 {
			t.Fatalf("descriptor: %+v", d)
		}
		fsys := durable.NewCrashFS()
		slot, err := update.OpenFileSlot(fsys, "slot-b")
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Download(ctx, rel, slot)
		if err != nil {
			t.Fatalf("Download: %v", err)
		}
		if !v.Valid() {
			t.Fatal("not verified")
		}
		got := make([]byte, len(img))
		if _, err := slot.ReadAt(got, 0); err != nil || !bytes.Equal(got, img) {
			t.Fatalf("slot content differs (%v)", err)
		}
	}
	fetch(c, "plug/fw-8.bin")

	// Other hardware is offered nothing; a device pinning another ML-DSA
	// key refuses the release.
	if rel, err := device(t, srv.URL, root, "other-hw", 0, nil).Check(ctx); err != nil || rel != nil {
		t.Fatalf("other hardware offered %v, %v", rel, err)
	}
	_, otherPQ, _ := mldsa65.GenerateKey(nil)
	if _, err := device(t, srv.URL, root, "plug-v2", 7, otherPQ.Public().(*mldsa65.PublicKey)).Check(ctx); !errors.Is(err, update.ErrCoSignature) {
		t.Fatalf("foreign co-signing key: %v", err)
	}

	// Daily cron: timestamp only. Then rotate the targets key and publish
	// with the new one; the same client follows root 1 → 2.
	cli(t, bin, "release", "resign", "-repo", repo, "-role", "timestamp", "-timestamp-key", key("timestamp"))
	cli(t, bin, append(append([]string{"release", "rotate"}, roles...), "-role", "targets", "-new-key", key("targets2"))...)
	rotated := append([]string{}, addRoles...)
	for i := range rotated {
		if rotated[i] == key("targets") {
			rotated[i] = key("targets2")
		}
	}
	add(rotated, 9)
	fetch(c, "plug/fw-9.bin")
	// A device built with root v1 today also gets there.
	fetch(device(t, srv.URL, root, "plug-v2", 8, pinned), "plug/fw-9.bin")
}

func releaseImage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 31 >> 3)
	}
	return b
}
