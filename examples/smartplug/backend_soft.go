//go:build !tpm && !pkcs11

package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/iotbaseline/baseline/secrets"
)

// backendName is the KEK backend this build uses.
const backendName = "soft"

// openKEK returns the key-encryption key of the sealed store. This build
// has no hardware backend: the soft KEK keeps its seed in a 0600 file,
// which the self-check reports as INCONCLUSIVE for 5.4-1 (the seed is on
// the same flash as the data). Build with -tags tpm or -tags pkcs11 for a
// hardware KEK.
func openKEK(ctx context.Context, stateDir string, log *slog.Logger) (secrets.KEK, error) {
	return secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: filepath.Join(stateDir, "kek.seed")})
}
