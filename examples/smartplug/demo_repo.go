//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/iotbaseline/baseline/internal/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

// demoRepoHost is the origin of the device's own demo repository; it
// never reaches the network (see localRepoTransport).
const demoRepoHost = "updates.smartplug.invalid"

// demoRepo makes (once) and serves the demo repository in the state
// directory, returning the root to pin and the HTTP client that reaches
// it. Build with -tags nodemo to leave the repository writer out of the
// firmware, as a product would.
func demoRepo(ctx context.Context, d *device) (root []byte, url string, hc *http.Client, err error) {
	dir := d.path("demo-repo")
	if root, err = ensureDemoRepo(ctx, dir, d); err != nil {
		return nil, "", nil, fmt.Errorf("demo repository: %w", err)
	}
	hc = &http.Client{Transport: localRepoTransport{http.FileServer(http.Dir(dir))}, Timeout: time.Minute}
	return root, "https://" + demoRepoHost, hc, nil
}

// ensureDemoRepo creates, once, the repository a manufacturer would run:
// keys made here and thrown away after signing (the device keeps only the
// public root), and one security release for this hardware. It returns
// the root the device pins.
func ensureDemoRepo(ctx context.Context, dir string, d *device) ([]byte, error) {
	rootPath := filepath.Join(dir, release.MetadataDir, "1.root.json")
	if b, err := durable.ReadFile(durable.OS, rootPath, release.MaxRootSize); err == nil {
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	os.RemoveAll(dir) // a half-made repository from a crash during Init
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k := release.Keys{Root: []crypto.Signer{key}, Targets: []crypto.Signer{key}, Snapshot: []crypto.Signer{key}, Timestamp: []crypto.Signer{key}}
	repo, err := release.Init(ctx, dir, release.Config{Keys: k, Expiry: release.Expiry{Timestamp: 365 * 24 * time.Hour, Snapshot: 365 * 24 * time.Hour}})
	if err != nil {
		return nil, err
	}
	support, _ := time.Parse("2006-01-02", d.supportEnd)
	img := bytes.Repeat([]byte("smartplug demo firmware 1.1.0\n"), 2048)
	err = repo.AddTarget(ctx, release.Target{
		Path:  "smartplug/smartplug-1.1.0.img",
		Image: bytes.NewReader(img),
		Descriptor: update.Descriptor{
			HardwareID: hardwareID, ReleaseCounter: installedCounter + 1, Version: "1.1.0", Security: true,
			Risks:  []string{"someone on your home network could make the plug's web page stop responding for a while"},
			Reboot: true, Downtime: 30 * time.Second, SupportUntil: support,
		},
	})
	if err != nil {
		return nil, err
	}
	return repo.RootJSON()
}

// localRepoTransport serves the demo repository in-process: the device's
// update client runs its real fetch-and-verify path, without the example
// opening a second listening socket that would need declaring (5.6-1).
type localRepoTransport struct{ h http.Handler }

func (t localRepoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != demoRepoHost {
		return nil, fmt.Errorf("smartplug: demo transport refuses host %q", r.URL.Host)
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
