//go:build pkcs11 && !tpm

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/pkcs11"
)

// backendName is the KEK backend this build uses.
const backendName = "pkcs11"

// openKEK returns a KEK held by a PKCS#11 token (secure element, HSM):
// an AES-256 key that never leaves the token, which also holds the device
// identity key. SMARTPLUG_PKCS11_MODULE is the token's library,
// SMARTPLUG_PKCS11_TOKEN its label and SMARTPLUG_PKCS11_PIN_FILE a file
// holding the user PIN (never an environment variable or a flag, which
// other processes can read).
func openKEK(ctx context.Context, stateDir string, log *slog.Logger) (secrets.KEK, error) {
	module, token, pinFile := os.Getenv("SMARTPLUG_PKCS11_MODULE"), os.Getenv("SMARTPLUG_PKCS11_TOKEN"), os.Getenv("SMARTPLUG_PKCS11_PIN_FILE")
	if module == "" || token == "" || pinFile == "" {
		return nil, errors.New("pkcs11 build: set SMARTPLUG_PKCS11_MODULE, SMARTPLUG_PKCS11_TOKEN and SMARTPLUG_PKCS11_PIN_FILE")
	}
	pin, err := durable.ReadFile(durable.OS, pinFile, 256)
	if err != nil {
		return nil, fmt.Errorf("PIN file: %w", err)
	}
	return pkcs11.New(ctx, pkcs11.Config{Module: module, TokenLabel: token, PIN: strings.TrimSpace(string(pin)), Logger: log})
}
