package secrets_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/iotbaseline/baseline/secrets"
)

// TestErrNotFoundIsNotExist: a missing secret is also fs.ErrNotExist, so
// consumers that know only the standard library (auth's vault) need no
// adapter; and it stays distinct from other errors.
func TestErrNotFoundIsNotExist(t *testing.T) {
	wrapped := fmt.Errorf("get wifi-psk: %w", secrets.ErrNotFound)
	if !errors.Is(wrapped, fs.ErrNotExist) || !errors.Is(wrapped, secrets.ErrNotFound) {
		t.Fatal("ErrNotFound does not match fs.ErrNotExist")
	}
	if errors.Is(secrets.ErrCorrupt, fs.ErrNotExist) || errors.Is(fs.ErrNotExist, secrets.ErrNotFound) {
		t.Fatal("matches too much")
	}
}
