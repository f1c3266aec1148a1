package secrets_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iotbaseline/baseline/secrets"
)

// TestFormatV1Vector opens a store written by the first version of the
// format (testdata/v1: seed, keyset, one secret) so that a change which
// breaks reading devices' existing stores fails here.
func TestFormatV1Vector(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"kek.seed", "secrets/.keyset", "secrets/greeting.sec"} {
		b, err := os.ReadFile(filepath.Join("testdata", "v1", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o700)
		// git does not keep mode 0600, which the seed needs.
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.Open(t.Context(), secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), "greeting")
	if err != nil || string(got) != "sealed by format v1" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}
