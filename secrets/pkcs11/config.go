package pkcs11

import (
	"log/slog"
	"path/filepath"
	"strings"
)

// Algorithm identifies the PKCS#11 KEK's wrapping scheme in keyset
// envelopes: AES-256-GCM inside the token (CKM_AES_GCM), 96-bit random IV
// chosen by the SDK, 128-bit tag.
const Algorithm = "pkcs11/aes256-gcm"

// Default object labels on the token.
const (
	DefaultKeyLabel      = "baseline-secrets-kek"
	DefaultIdentityLabel = "baseline-device-identity"
)

// Config configures [New].
type Config struct {
	// Module is the path of the token's PKCS#11 library (for SoftHSM2 on
	// Debian, /usr/lib/softhsm/libsofthsm2.so). Required.
	Module string
	// TokenLabel selects the token. Required.
	TokenLabel string
	// PIN is the user PIN. It is used to log in once per token and never
	// logged or printed.
	PIN string
	// KeyLabel and IdentityLabel name the AES KEK and the identity key
	// pair on the token; empty means the defaults.
	KeyLabel, IdentityLabel string
	// Logger receives key creation and destruction events; nil discards.
	Logger *slog.Logger
}

// String never shows the PIN.
func (c Config) String() string {
	return "pkcs11.Config{Module: " + c.Module + ", TokenLabel: " + c.TokenLabel + ", PIN: [redacted]}"
}

// LogValue keeps the PIN out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// softwareModule reports whether the module is a known software token, whose
// keys live in files rather than in hardware: the self-check must not call
// that hardware protection.
func softwareModule(path string) bool {
	base := strings.ToLower(filepath.Base(path))
	for _, s := range []string{"softhsm", "kryoptic", "swtok"} {
		if strings.Contains(base, s) {
			return true
		}
	}
	return false
}
