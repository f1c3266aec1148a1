package tpm_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/secretstest"
	"github.com/iotbaseline/baseline/secrets/tpm"
)

func openStore(ctx context.Context, tr transport.TPM, fsys durable.FS, dir string) (*secrets.Sealed, error) {
	kek, err := tpm.New(ctx, tpm.Config{Transport: tr})
	if err != nil {
		return nil, err
	}
	return secrets.Open(ctx, secrets.Config{FS: fsys, Dir: dir, KEK: kek})
}

func TestSuite(t *testing.T) {
	sw := startSWTPM(t)
	tr := sw.dial(t)
	secretstest.Run(t, func(t *testing.T, fsys durable.FS, dir string) (secrets.Store, error) {
		return openStore(t.Context(), tr, fsys, dir)
	})
}

// TestRestart writes secrets, restarts swtpm (state kept, as a reboot
// does) and reads them back from a real directory.
func TestRestart(t *testing.T) {
	sw := startSWTPM(t)
	dir := t.TempDir()
	ctx := t.Context()
	s, err := openStore(ctx, sw.dial(t), durable.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	v := bytes.Repeat([]byte("wifi-psk "), 10)
	if err := s.Put(ctx, "wifi", v); err != nil {
		t.Fatal(err)
	}
	id, err := s.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// swtpm is software: the store must not call it hardware.
	if id.Hardware() || id.Backend() != "tpm2" {
		t.Fatalf("identity %v: want a tpm2 key reported as not hardware (simulator)", id)
	}

	sw.restart(t)
	s, err = openStore(ctx, sw.dial(t), durable.OS, dir)
	if err != nil {
		t.Fatalf("reopening after swtpm restart: %v", err)
	}
	got, err := s.Get(ctx, "wifi")
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Get after restart = %q, %v", got, err)
	}
	id2, err := s.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !id2.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(id.Public()) {
		t.Fatal("identity key changed across a TPM restart")
	}
	secretstest.NoPlaintext(t, dir, v)
	for _, r := range conformance.RunChecks(ctx, s) {
		if r.Verdict != conformance.Inconclusive || !strings.Contains(r.Observed, "tpm2") {
			t.Errorf("%s: %s (%s; %s); want INCONCLUSIVE for the tpm2 simulator", r.ID, r.Verdict, r.Observed, r.Detail)
		}
	}
}

// TestOtherDevice: a store directory copied to another device (another
// TPM) does not open there, and nothing is written to it.
func TestOtherDevice(t *testing.T) {
	a, b := startSWTPM(t), startSWTPM(t)
	dir := t.TempDir()
	ctx := t.Context()
	ta := a.dial(t)
	s, err := openStore(ctx, ta, durable.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "token", []byte("device A's token")); err != nil {
		t.Fatal(err)
	}
	_, err = openStore(ctx, b.dial(t), durable.OS, dir)
	if !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("opening A's store with B's TPM: %v; want ErrWrongKEK", err)
	}
	// A still reads it.
	s, err = openStore(ctx, ta, durable.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "token"); err != nil || string(got) != "device A's token" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

func TestDestroy(t *testing.T) {
	sw := startSWTPM(t)
	tr := sw.dial(t)
	ctx := t.Context()
	kek, err := tpm.New(ctx, tpm.Config{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{7}, 32)
	blob, err := kek.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, dek) {
		t.Fatal("sealed blob holds the key in clear")
	}
	if got, err := kek.Unwrap(ctx, blob); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	if _, err := kek.Wrap(ctx, make([]byte, 129)); err == nil {
		t.Fatal("Wrap accepted 129 bytes")
	}
	for _, bad := range [][]byte{nil, {0}, blob[:len(blob)/2], append(bytes.Clone(blob), 0), flip(blob, len(blob)-5), flip(blob, 40)} {
		if _, err := kek.Unwrap(ctx, bad); err == nil {
			t.Fatalf("Unwrap accepted a damaged blob")
		}
	}
	if err := kek.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kek.Destroy(ctx); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if _, err := kek.Unwrap(ctx, blob); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("Unwrap after Destroy: %v", err)
	}
	// A new KEK on the same TPM is a new key: the old blob stays sealed.
	kek2, err := tpm.New(ctx, tpm.Config{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kek2.Unwrap(ctx, blob); !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("Unwrap of a blob sealed under the evicted key: %v; want ErrWrongKEK", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestNoDevice(t *testing.T) {
	_, err := tpm.New(t.Context(), tpm.Config{Device: "/nonexistent/tpmrm0"})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("New without a TPM: %v; want an error wrapping errors.ErrUnsupported", err)
	}
}

// TestForeignHandle: an object at the configured handle that is not the kind
// of key this package creates (here, the identity signing key) is refused,
// not used as a storage key.
func TestForeignHandle(t *testing.T) {
	sw := startSWTPM(t)
	tr := sw.dial(t)
	ctx := t.Context()
	kek, err := tpm.New(ctx, tpm.Config{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kek.IdentityKey(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = tpm.New(ctx, tpm.Config{Transport: tr, KEKHandle: tpm.DefaultIdentityHandle, IdentityHandle: tpm.DefaultIdentityHandle + 1})
	if err == nil || !strings.Contains(err.Error(), "not a non-exportable key of the expected kind") {
		t.Fatalf("New over a signing key's handle: %v", err)
	}
}

// TestRewrapFromSoft moves a store sealed by the soft KEK under the TPM, as a
// firmware update that starts using the TPM does.
func TestRewrapFromSoft(t *testing.T) {
	sw := startSWTPM(t)
	ctx := t.Context()
	dir := t.TempDir()
	soft, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: dir + "/kek.seed"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.Open(ctx, secrets.Config{Dir: dir + "/secrets", KEK: soft})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "psk", []byte("kept across the move")); err != nil {
		t.Fatal(err)
	}
	tr := sw.dial(t)
	kek, err := tpm.New(ctx, tpm.Config{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rewrap(ctx, kek); err != nil {
		t.Fatal(err)
	}
	if err := soft.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = openStore(ctx, tr, durable.OS, dir+"/secrets")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "psk"); err != nil || string(got) != "kept across the move" {
		t.Fatalf("Get after moving to the TPM = %q, %v", got, err)
	}
	if r := conformance.RunChecks(ctx, s); r[1].ID != "secrets.sealed-at-rest" || !strings.Contains(r[1].Observed, "kek=tpm2") {
		t.Fatalf("at-rest check after the move: %+v", r[1])
	}
}
