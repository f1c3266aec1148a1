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

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

// demoBuild is true in the demo build: the plug may act as its own factory
// (self-provisioning) and its own update repository. -tags nodemo turns
// both off, as a product ships.
const demoBuild = true

// demoRepoHost is the origin of the device's own demo repository; it
// never reaches the network (see localRepoTransport).
const demoRepoHost = "updates.smartplug.invalid"

// demoRepo makes (once) and serves the demo repository in the state
// directory, returning the root to pin and the HTTP client that reaches
// it. Build with -tags nodemo to leave the repository writer out of the
// firmware, as a product would.
func demoRepo(ctx context.Context, d *device, mayCreate bool) (root []byte, cosign *mldsa65.PublicKey, url string, hc *http.Client, err error) {
	dir := d.path("demo-repo")
	if root, err = ensureDemoRepo(ctx, dir, d, mayCreate); err != nil {
		return nil, nil, "", nil, fmt.Errorf("demo repository: %w", err)
	}
	b, err := durable.ReadFile(durable.OS, filepath.Join(dir, cosignKeyFile), mldsa65.PublicKeySize)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("demo repository: %w", err)
	}
	cosign = new(mldsa65.PublicKey)
	if err := cosign.UnmarshalBinary(b); err != nil {
		return nil, nil, "", nil, fmt.Errorf("demo repository co-signing key: %w", err)
	}
	hc = &http.Client{Transport: localRepoTransport{http.FileServer(http.Dir(dir))}, Timeout: time.Minute}
	return root, cosign, "https://" + demoRepoHost, hc, nil
}

// cosignKeyFile holds the public ML-DSA-65 key that co-signs the demo
// releases; a product pins it in its firmware like the TUF root.
const cosignKeyFile = "cosign-mldsa65.pub"

// ensureDemoRepo creates, once, the repository a manufacturer would run:
// keys made here and thrown away after signing (the device keeps only the
// public root and co-signing key), and one co-signed security release for
// this hardware. It returns the root the device pins. The co-signing key
// file is written last and marks a complete repository. Only on a first
// start (mayCreate) is a missing or half-made repository made anew; later,
// a missing one is refused: making a new root then would silently replace
// the one the plug trusts.
func ensureDemoRepo(ctx context.Context, dir string, d *device, mayCreate bool) ([]byte, error) {
	rootPath := filepath.Join(dir, release.MetadataDir, "1.root.json")
	if _, err := os.Stat(filepath.Join(dir, cosignKeyFile)); err == nil {
		return durable.ReadFile(durable.OS, rootPath, release.MaxRootSize)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if !mayCreate {
		return nil, errors.New("the demo repository is missing or incomplete, but this plug already trusts a root: refusing to make and trust a new one (restore the state directory, or delete it to start the plug afresh)")
	}
	// Missing or half made on a first start (power lost while it was
	// written): start over, and forget metadata the client kept.
	os.RemoveAll(dir)
	os.RemoveAll(d.path(filepath.Join("update", "client")))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// The post-quantum co-signature beside TUF's signatures: the device
	// then requires both (update.Config.CoSignKey).
	pqPub, pqKey, err := mldsa65.GenerateKey(rand.Reader)
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
		Path:     "smartplug/smartplug-1.1.0.img",
		Image:    bytes.NewReader(img),
		CoSigner: pqKey,
		Descriptor: update.Descriptor{
			HardwareID: hardwareID, ReleaseCounter: installedCounter + 1, Version: "1.1.0", Security: true,
			Risks:  []string{"someone on your home network could make the plug's web page stop responding for a while"},
			Reboot: true, Downtime: 30 * time.Second, SupportUntil: support,
		},
	})
	if err != nil {
		return nil, err
	}
	pub, _ := pqPub.MarshalBinary()
	if err := durable.WriteFile(durable.OS, filepath.Join(dir, cosignKeyFile), pub, 0o644); err != nil {
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
