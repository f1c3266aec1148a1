//go:build cgo

package pkcs11_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/pkcs11"
	"github.com/iotbaseline/baseline/secrets/secretstest"
)

func openStore(t *testing.T, ctx context.Context, cfg pkcs11.Config, fsys durable.FS, dir string) (*secrets.Sealed, error) {
	kek, err := pkcs11.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { kek.Close() })
	return secrets.Open(ctx, secrets.Config{FS: fsys, Dir: dir, KEK: kek})
}

func TestSuite(t *testing.T) {
	cfg := newToken(t)
	secretstest.Run(t, func(t *testing.T, fsys durable.FS, dir string) (secrets.Store, error) {
		return openStore(t, t.Context(), cfg, fsys, dir)
	})
}

func TestStoreOnDisk(t *testing.T) {
	cfg := newToken(t)
	ctx := t.Context()
	dir := t.TempDir()
	s, err := openStore(t, ctx, cfg, durable.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "cloud-token", []byte("tok-123")); err != nil {
		t.Fatal(err)
	}
	id, err := s.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id.Backend() != "pkcs11" {
		t.Fatalf("identity backend %q", id.Backend())
	}
	// A restart: a new login, same token.
	s, err = openStore(t, ctx, cfg, durable.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "cloud-token"); err != nil || string(got) != "tok-123" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	id2, err := s.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !id2.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(id.Public()) {
		t.Fatal("identity changed across a restart")
	}
	secretstest.NoPlaintext(t, dir, []byte("tok-123"))
	// SoftHSM2 is a software token: the self-check must not call it
	// hardware protection.
	for _, r := range conformance.RunChecks(ctx, s) {
		if r.Verdict != conformance.Inconclusive || !strings.Contains(r.Observed, "pkcs11") {
			t.Errorf("%s: %s (%s; %s); want INCONCLUSIVE naming the pkcs11 backend", r.ID, r.Verdict, r.Observed, r.Detail)
		}
	}
}

func TestOtherToken(t *testing.T) {
	a, b := newToken(t), newToken(t)
	ctx := t.Context()
	dir := t.TempDir()
	s, err := openStore(t, ctx, a, durable.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(t, ctx, b, durable.OS, dir); !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("opening A's store with B's token: %v; want ErrWrongKEK", err)
	}
}

func TestKEK(t *testing.T) {
	cfg := newToken(t)
	ctx := t.Context()
	kek, err := pkcs11.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Close()
	dek := bytes.Repeat([]byte{9}, 32)
	w1, err := kek.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := kek.Wrap(ctx, dek)
	if len(w1) != 12+32+16 {
		t.Fatalf("wrapped length %d; want 12-byte IV + 32 + 16-byte tag", len(w1))
	}
	if bytes.Equal(w1[:12], w2[:12]) {
		t.Fatal("two wraps used the same GCM IV")
	}
	if bytes.Contains(w1, dek) {
		t.Fatal("wrapped key holds the key in clear")
	}
	if got, err := kek.Unwrap(ctx, w1); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	for i := range w1 {
		bad := bytes.Clone(w1)
		bad[i] ^= 0x40
		if _, err := kek.Unwrap(ctx, bad); !errors.Is(err, secrets.ErrWrongKEK) {
			t.Fatalf("Unwrap with byte %d flipped: %v; want ErrWrongKEK", i, err)
		}
	}
	for _, n := range []int{0, 1, 27, len(w1) - 1} {
		if _, err := kek.Unwrap(ctx, w1[:n]); !errors.Is(err, secrets.ErrWrongKEK) {
			t.Fatalf("Unwrap of %d bytes: %v; want ErrWrongKEK", n, err)
		}
	}
	if s := fmt.Sprintf("%v %+v %v", kek, cfg, cfg); strings.Contains(s, cfg.PIN) {
		t.Fatalf("PIN printed: %s", s)
	}
	if err := kek.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kek.Destroy(ctx); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	// A new login finds no key, generates a new one, and the old blob stays
	// sealed.
	kek2, err := pkcs11.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kek2.Close()
	if _, err := kek2.Unwrap(ctx, w1); !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("Unwrap after Destroy: %v; want ErrWrongKEK", err)
	}
}

func TestBadConfig(t *testing.T) {
	cfg := newToken(t)
	cfg.PIN = "wrong-pin"
	if _, err := pkcs11.New(t.Context(), cfg); err == nil || strings.Contains(err.Error(), "wrong-pin") {
		t.Fatalf("New with a wrong PIN: %v", err)
	}
	cfg = newToken(t)
	cfg.TokenLabel = "no-such-token"
	if _, err := pkcs11.New(t.Context(), cfg); err == nil {
		t.Fatal("New found a token that does not exist")
	}
}
