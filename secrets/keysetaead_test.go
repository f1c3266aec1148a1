package secrets

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// The store's own keyset primitive must read and write exactly what Tink's
// generic one does for the same keyset, since stores sealed by earlier
// releases (which used aead.New) must still open, and must drop disabled keys
// as Tink's does.
func TestKeysetAEADMatchesTink(t *testing.T) {
	m := keyset.NewManager()
	old, err := addPrimary(m)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	tink1, err := aead.New(h1)
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("name")
	ctOld, err := tink1.Encrypt([]byte("old secret"), ad)
	if err != nil {
		t.Fatal(err)
	}

	cur, err := addPrimary(m)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	ours, err := newKeysetAEAD(h2)
	if err != nil {
		t.Fatal(err)
	}
	tink2, err := aead.New(h2)
	if err != nil {
		t.Fatal(err)
	}

	// Old ciphertext (Tink's) opens with ours; ours is under the new primary
	// and opens with Tink's.
	if pt, err := ours.Decrypt(ctOld, ad); err != nil || string(pt) != "old secret" {
		t.Fatalf("ours.Decrypt(Tink's ciphertext under the old key) = %q, %v", pt, err)
	}
	ct, err := ours.Encrypt([]byte("new secret"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, byte(cur >> 24), byte(cur >> 16), byte(cur >> 8), byte(cur)}; !bytes.Equal(ct[:tinkPrefix], want) {
		t.Fatalf("ciphertext prefix %x, want the primary's %x", ct[:tinkPrefix], want)
	}
	if pt, err := tink2.Decrypt(ct, ad); err != nil || string(pt) != "new secret" {
		t.Fatalf("Tink's Decrypt(our ciphertext) = %q, %v", pt, err)
	}

	// Wrong associated data, a flipped prefix, a cut ciphertext: refused.
	if _, err := ours.Decrypt(ct, []byte("other")); err == nil {
		t.Error("Decrypt with other associated data succeeded")
	}
	bad := bytes.Clone(ct)
	bad[4] ^= 1
	if _, err := ours.Decrypt(bad, ad); !errors.Is(err, errNoKey) {
		t.Errorf("Decrypt with an unknown key prefix: %v, want errNoKey", err)
	}
	if _, err := ours.Decrypt(ct[:3], ad); !errors.Is(err, errNoKey) {
		t.Errorf("Decrypt of 3 bytes: %v, want errNoKey", err)
	}

	// A disabled key takes no part, as in Tink's primitive.
	if err := m.Disable(old); err != nil {
		t.Fatal(err)
	}
	h3, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	ours3, err := newKeysetAEAD(h3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ours3.Decrypt(ctOld, ad); !errors.Is(err, errNoKey) {
		t.Errorf("Decrypt under a disabled key: %v, want errNoKey", err)
	}
	if pt, err := ours3.Decrypt(ct, ad); err != nil || string(pt) != "new secret" {
		t.Errorf("Decrypt under the enabled primary after disabling the old key = %q, %v", pt, err)
	}
}
