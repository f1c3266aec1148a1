// Package pkcs11 provides a [secrets.KEK] held by a PKCS#11 token or secure
// element: an AES-256 key generated on the token, marked sensitive and not
// extractable, used through CKM_AES_GCM so it never leaves the token. The
// device's identity key pair is generated on the token as well.
//
// Start with [New]. It uses crypto11 (and therefore cgo); a build without
// cgo returns an error wrapping errors.ErrUnsupported.
//
// # Provisions
//
//   - 5.4-1: [KEK.Wrap] wraps the sealed store's data key on the token. The
//     secrets.sealed-at-rest self-check reports PASS for a hardware token
//     and INCONCLUSIVE for a software one (SoftHSM2).
//   - 5.4-2, 5.4-4: [KEK.IdentityKey], an ECDSA P-256 key pair generated on
//     the token (private key sensitive, not extractable).
//   - 5.5-3: the envelope records [Algorithm].
//
// # Quick start
//
// In a device's main, behind a build tag (see package secrets, # Backends):
//
//	//go:build pkcs11
//
//	kek, err := pkcs11.New(ctx, pkcs11.Config{
//		Module:     "/usr/lib/vendor/libse050-pkcs11.so",
//		TokenLabel: "device",
//		PIN:        pin, // from the secure element's provisioning, never a constant
//	})
//	if err != nil { ... }
//	defer kek.Close()
//	store, err := secrets.Open(ctx, secrets.Config{Dir: "/data/secrets", KEK: kek})
//
// # Security considerations
//
//   - GCM IV handling: crypto11 defaults to 16-byte IVs and panics when a
//     token refuses an operation, and some tokens ignore the IV given to
//     them. This package uses 12-byte IVs from crypto/rand (one per Wrap;
//     wraps are rare, far below the 2^32 bound for random IVs under one
//     key), recovers crypto11's panic into an error, and opens each blob
//     with the IV it recorded before returning it, so a token that
//     substitutes its own IV fails at once instead of producing blobs that
//     cannot be opened later.
//   - The PIN is used to log in once per [New] and is never logged or
//     printed ([Config.String] redacts it).
//   - [KEK.Destroy] deletes the AES key and the identity key pair from the
//     token: the sealed store's Erase is then a cryptographic erase.
//   - A token whose module is a known software token (SoftHSM2) is reported
//     as not hardware ([KEK.Describe]): its keys are files on the device.
package pkcs11
