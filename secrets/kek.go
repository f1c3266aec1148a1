package secrets

import (
	"context"
	"crypto"
)

// KEK is the key-encryption key that protects a [Sealed] store: it wraps the
// store's data keys so that what is on flash is useless without it. The
// backends are [SoftKEK] (a seed file, the weaker fallback), secrets/tpm
// (sealed under a TPM 2.0) and secrets/pkcs11 (an AES key that never leaves
// a token).
//
// Wrap must be randomised authenticated encryption: Unwrap of a modified
// blob, or of a blob wrapped by another KEK, fails. Both may block on
// hardware and honour ctx. Implementations must be safe for concurrent use.
type KEK interface {
	// Wrap encrypts and authenticates a data key (at most 64 bytes).
	Wrap(ctx context.Context, dek []byte) ([]byte, error)
	// Unwrap reverses Wrap; it fails for any blob Wrap of this KEK did not
	// produce.
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
}

// KEKInfo says what backs a KEK, for envelope headers and self-checks.
type KEKInfo struct {
	// Algorithm identifies the wrapping scheme, recorded in the keyset
	// envelope (provision 5.5-3), e.g. "tpm2-seal/ecc-p256-aes128-cfb".
	Algorithm string
	// Backend is a short name: "soft", "tpm2", "pkcs11".
	Backend string
	// Hardware is true only when the KEK's secret never exists outside a
	// hardware security boundary (TPM, token, secure element).
	Hardware bool
	// Detail describes the instance for a report (device path, handle,
	// token label); never key material.
	Detail string
}

// Describer is implemented by KEKs that say what backs them. A KEK that
// does not is reported as an unknown, non-hardware backend.
type Describer interface {
	Describe() KEKInfo
}

// Destroyer is implemented by KEKs whose key can be destroyed, which is what
// makes [Sealed.Erase] a cryptographic erase. Destroy must be idempotent:
// destroying an already destroyed KEK returns nil, so an erase interrupted
// by power loss can be resumed. After Destroy, Wrap and Unwrap fail.
type Destroyer interface {
	Destroy(ctx context.Context) error
}

// IdentityKeyer is implemented by hardware KEKs that can also hold the
// device's identity key (provisions 5.4-2, 5.4-4): generated inside the
// hardware, never exportable. IdentityKey creates the key on first use and
// returns the same key afterwards. Destroy also destroys it.
type IdentityKeyer interface {
	IdentityKey(ctx context.Context) (crypto.Signer, error)
}

func describe(k KEK) KEKInfo {
	if d, ok := k.(Describer); ok {
		info := d.Describe()
		if info.Algorithm == "" {
			info.Algorithm = "unspecified"
		}
		return info
	}
	return KEKInfo{Algorithm: "unspecified", Backend: "unknown"}
}
