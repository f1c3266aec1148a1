package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

// A product build (-tags nodemo: no repository writer in the firmware)
// checks the repository named by --update-repo against the TUF root built
// into it (-ldflags), over the network, and shows the security release.
func TestDeviceExternalRepository(t *testing.T) {
	noRoot := build(t, ".", "nodemo")
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ks := []crypto.Signer{key}
	ctx := context.Background()
	repo, err := release.Init(ctx, repoDir, release.Config{Keys: release.Keys{Root: ks, Targets: ks, Snapshot: ks, Timestamp: ks}})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := repo.RootJSON()
	rootFile := filepath.Join(dir, "root.json")
	os.WriteFile(rootFile, root, 0o644)
	// The product build trusts only a root built into it (5.3-10). It is
	// built exactly as doc.go recommends for a product: static, without
	// HTTP/2, inlining only in crypto and the runtime.
	bin := filepath.Join(dir, "plug-nodemo")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "nodemo,nethttpomithttp2",
		"-gcflags=all=-l", "-gcflags=crypto/...=", "-gcflags=runtime=", "-o", bin,
		"-ldflags", "-s -w -X main.updateRootBase64="+base64.StdEncoding.EncodeToString(root), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()

	// A product build does not provision itself: it gets a factory record.
	_, cli := binaries(t)
	labels, records := filepath.Join(dir, "labels.csv"), filepath.Join(dir, "records")
	if out, err := exec.Command(cli, "provision", "--model", "SP-100 Smart Plug", "--count", "1", "--serial-prefix", "SP100-",
		"--labels", labels, "--records", records).CombinedOutput(); err != nil {
		t.Fatalf("baseline provision: %v\n%s", err, out)
	}
	lb, _ := os.ReadFile(labels)
	secret := strings.Split(strings.Split(strings.TrimSpace(string(lb)), "\n")[1], ",")[2]
	state := filepath.Join(dir, "state")
	record := filepath.Join(records, "SP100-000001.json")
	// Without a built-in root the product build refuses to start, and a
	// root file on the command line is not a substitute.
	for _, tc := range []struct {
		bin  string
		args []string
		want string
	}{
		{noRoot, nil, "no TUF root built in"},
		{bin, []string{"--update-root", rootFile}, "--update-root is not accepted by a product build"},
	} {
		out, err := exec.Command(tc.bin, append([]string{"--state", state, "--listen", "127.0.0.1:0", "--update-repo", srv.URL, "--provision", record}, tc.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Fatalf("product build %v: %v\n%s", tc.args, err, out)
		}
		if _, err := os.Stat(filepath.Join(state, "update", "client")); !os.IsNotExist(err) {
			t.Fatalf("the refused start wrote update state")
		}
	}
	p := startBinary(t, bin, nil, state, "--update-repo", srv.URL, "--provision", record)
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	// The owner turns automatic installation off before the maker
	// publishes, so that the release below (not a real plug image) is only
	// announced.
	if r := jsonDo(t, c, "PUT", p.url("/api/update/policy"), map[string]bool{"auto_install": false}); r.code != 200 {
		t.Fatalf("policy = %d %s", r.code, r.body)
	}
	err = repo.AddTargets(ctx, []release.Target{
		{Path: "smartplug/other-hw.img", Image: bytes.NewReader(make([]byte, 5000)),
			Descriptor: update.Descriptor{HardwareID: "another-board", ReleaseCounter: 9, Version: "9.0.0"}},
		{Path: "smartplug/smartplug-1.2.0.img", Image: bytes.NewReader(bytes.Repeat([]byte("fw"), 4000)),
			Descriptor: update.Descriptor{HardwareID: hardwareID, ReleaseCounter: 3, Version: "1.2.0", Security: true,
				Risks: []string{"an attacker on the network could read the plug's schedule"}, Downtime: 20 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := jsonDo(t, c, "POST", p.url("/api/update/check"), nil)
	for _, want := range []string{`"available": true`, `"version": "1.2.0"`, `"security": true`, "read the plug's schedule", "off for about 20s"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("update status lacks %q: %s", want, r.body)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "demo-repo")); !os.IsNotExist(err) {
		t.Error("a nodemo build made a demo repository")
	}

	// A repository signed by another key is refused: nothing is offered.
	other := filepath.Join(dir, "other")
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ks2 := []crypto.Signer{k2}
	if _, err := release.Init(ctx, other, release.Config{Keys: release.Keys{Root: ks2, Targets: ks2, Snapshot: ks2, Timestamp: ks2}}); err != nil {
		t.Fatal(err)
	}
	p.stop()
	os.RemoveAll(repoDir)
	os.Rename(other, repoDir)
	p = startBinary(t, bin, nil, state, "--update-repo", srv.URL)
	c = p.client(t)
	jsonDo(t, c, "POST", p.url("/api/login"), map[string]string{"password": ownerPassword})
	r = jsonDo(t, c, "POST", p.url("/api/update/check"), nil)
	if strings.Contains(r.body, `"available": true`) || !strings.Contains(r.body, `"error"`) {
		t.Errorf("a repository signed by an unknown key was not refused: %s", r.body)
	}
}
