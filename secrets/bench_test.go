package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/iotbaseline/baseline/secrets"
)

func benchStore(b *testing.B) *secrets.Sealed {
	dir := b.TempDir()
	kek, err := secrets.NewSoftKEK(context.Background(), secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
	if err != nil {
		b.Fatal(err)
	}
	s, err := secrets.Open(context.Background(), secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: kek})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGet256 is the sealed store's Get of a 256-byte secret from a real
// directory. Compare with BenchmarkBaselineReadDecrypt256 (target: < 2x).
func BenchmarkGet256(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	if err := s.Put(ctx, "k", make([]byte, 256)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineReadDecrypt256 is the floor: os.ReadFile plus a bare Tink
// AEAD decrypt of the same size, no envelope, no name check, no lock.
func BenchmarkBaselineReadDecrypt256(b *testing.B) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		b.Fatal(err)
	}
	ct, _ := a.Encrypt(make([]byte, 256), []byte("k"))
	path := filepath.Join(b.TempDir(), "k")
	os.WriteFile(path, ct, 0o600)
	b.ReportAllocs()
	for b.Loop() {
		c, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Decrypt(c, []byte("k")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut256 includes the fsync of the file and of its directory.
func BenchmarkPut256(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	v := make([]byte, 256)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Put(ctx, "k", v); err != nil {
			b.Fatal(err)
		}
	}
}
