package erase_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"path"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/secrets"
)

const (
	seedPath   = "/data/kek.seed"
	secretsDir = "/data/secrets"
	journal    = "/persist/erase.journal"
	psk        = "correct-horse-battery-staple-PSK"
)

// device is the part of a device's main that wires the sealed store (soft
// KEK) and a plain directory into the reset, as it does at every start.
type device struct {
	sealed *secrets.Sealed
	wifi   *erase.DirStore
	reset  *erase.Resetter
}

func start(t testing.TB, fsys durable.FS) *device {
	t.Helper()
	ctx := context.Background()
	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{FS: fsys, Path: seedPath})
	if err != nil {
		t.Fatalf("NewSoftKEK: %v", err)
	}
	s, err := secrets.Open(ctx, secrets.Config{FS: fsys, Dir: secretsDir, KEK: kek})
	if err != nil {
		t.Fatalf("secrets.Open: %v", err)
	}
	wifi := &erase.DirStore{StoreName: "wifi", Dir: "/data/wifi", FS: fsys}
	reg := erase.NewRegistry().Add(wifi, erase.WiFi).Add(erase.Crypto("secrets", s), erase.Secrets)
	r, err := erase.Open(ctx, erase.Config{FS: fsys, Journal: journal, Registry: reg})
	if err != nil {
		t.Fatalf("erase.Open: %v", err)
	}
	return &device{sealed: s, wifi: wifi, reset: r}
}

func provision(t testing.TB, fsys durable.FS) {
	t.Helper()
	ctx := context.Background()
	d := start(t, fsys)
	if err := d.sealed.Put(ctx, "wifi-psk", []byte(psk)); err != nil {
		t.Fatal(err)
	}
	fsys.MkdirAll("/data/wifi", 0o700)
	if err := durable.WriteFile(fsys, "/data/wifi/home.conf", []byte("ssid=Home psk-ref=wifi-psk"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reset.Close()
}

// storeFiles copies the sealed store's directory.
func storeFiles(fsys *durable.CrashFS) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range fsys.Contents() {
		if strings.HasPrefix(name, secretsDir+"/") {
			out[name] = bytes.Clone(b)
		}
	}
	return out
}

// TestSealedCopyUnreadableAfterReset: a copy of the sealed store's files
// taken before the reset cannot be opened after it, because the reset
// destroyed the soft KEK's seed (crypto erase); the device's new KEK does
// not unseal the old keyset.
func TestSealedCopyUnreadableAfterReset(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	provision(t, fsys)
	copyBefore := storeFiles(fsys)
	oldSeed := fsys.Contents()[seedPath]
	if len(copyBefore) == 0 || len(oldSeed) == 0 {
		t.Fatal("nothing to copy")
	}
	// Sanity: with its seed the copy opens and yields the secret.
	if v, err := start(t, fsys).sealed.Get(ctx, "wifi-psk"); err != nil || string(v) != psk {
		t.Fatalf("before reset: %v", err)
	}

	d := start(t, fsys)
	rc, err := d.reset.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Stores[0].Store != "secrets" || rc.Stores[0].Method != erase.CryptoErase || !rc.Stores[0].Verified() || rc.Stores[0].Items != 1 {
		t.Errorf("receipt for the sealed store = %+v", rc.Stores[0])
	}
	if err := d.sealed.VerifyErased(ctx); err != nil {
		t.Errorf("VerifyErased: %v", err)
	}
	for name, b := range fsys.Contents() {
		if bytes.Contains(b, oldSeed) {
			t.Errorf("old KEK seed still in %s", name)
		}
		if bytes.Contains(b, []byte(psk)) {
			t.Errorf("plaintext secret in %s", name)
		}
	}

	// The device restarts (new seed), and the attacker restores the copy.
	after := fsys.Reboot(durable.DropUnsynced)
	after.MkdirAll(secretsDir, 0o700)
	for name, b := range copyBefore {
		if err := durable.WriteFile(after, name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{FS: after, Path: seedPath})
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.Open(ctx, secrets.Config{FS: after, Dir: secretsDir, KEK: kek})
	if err == nil {
		v, gerr := s.Get(ctx, "wifi-psk")
		if gerr == nil {
			t.Fatalf("old copy opened after reset and returned %d bytes", len(v))
		}
		err = gerr
	}
	if !errors.Is(err, secrets.ErrWrongKEK) {
		t.Errorf("old copy refused with %v, want ErrWrongKEK", err)
	}
}

// TestResetWithSealedStoreCrashAtEveryBoundary: power is cut at every
// write/fsync boundary of a reset that crypto-erases a real sealed store
// (soft KEK) and deletes a directory; after the reboot the device starts,
// resumes, and the old secret is unreadable and the old seed gone — or, if
// the plan never reached flash, nothing was touched.
func TestResetWithSealedStoreCrashAtEveryBoundary(t *testing.T) {
	ctx := context.Background()
	var oldSeed []byte
	var copyBefore map[string][]byte
	setup := func(fsys *durable.CrashFS) {
		provision(t, fsys)
		oldSeed = bytes.Clone(fsys.Contents()[seedPath])
		copyBefore = storeFiles(fsys)
	}
	run := func(fsys *durable.CrashFS) error {
		d := start(t, fsys)
		_, err := d.reset.Reset(ctx)
		return err
	}
	n := durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		seedIntact := bytes.Equal(fsys.Contents()[seedPath], oldSeed)
		d := start(t, fsys)
		pending := d.reset.Pending()
		_, rerr := d.reset.Receipt()
		started := pending || rerr == nil
		if _, err := d.reset.Resume(ctx); err != nil {
			t.Fatalf("crash at %d (%v): Resume: %v", point, mode, err)
		}
		if !started {
			if !seedIntact || !maps.EqualFunc(storeFiles(fsys), copyBefore, bytes.Equal) {
				t.Errorf("crash at %d (%v): no plan on flash but the sealed store changed", point, mode)
			}
			if v, err := d.sealed.Get(ctx, "wifi-psk"); err != nil || string(v) != psk {
				t.Errorf("crash at %d (%v): no plan on flash but the secret is gone: %v", point, mode, err)
			}
			return
		}
		if d.reset.Pending() {
			t.Fatalf("crash at %d (%v): still pending after Resume", point, mode)
		}
		if err := d.wifi.Verify(ctx); err != nil {
			t.Errorf("crash at %d (%v): %v", point, mode, err)
		}
		for name, b := range fsys.Contents() {
			if bytes.Contains(b, oldSeed) {
				t.Errorf("crash at %d (%v): old KEK seed readable in %s", point, mode, name)
			}
			if bytes.Contains(b, []byte("ssid=Home")) {
				t.Errorf("crash at %d (%v): Wi-Fi config readable in %s", point, mode, name)
			}
			if strings.HasPrefix(name, secretsDir+"/") && bytes.Equal(b, copyBefore[name]) && path.Ext(name) == ".sec" {
				t.Errorf("crash at %d (%v): old envelope %s survived", point, mode, name)
			}
		}
		// What the device's store says now: the old secret is gone.
		if _, err := d.sealed.Get(ctx, "wifi-psk"); err == nil {
			t.Errorf("crash at %d (%v): old secret readable after resume", point, mode)
		}
	})
	t.Logf("%d crash points", n)
}
