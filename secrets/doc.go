// Package secrets keeps a device's secrets — passwords, tokens, Wi-Fi keys,
// its identity key — sealed at rest under a key-encryption key (KEK) held by
// a TPM 2.0, a PKCS#11 token or, as a weaker fallback, a per-device seed
// file, so that a dump of the flash reveals none of them.
//
// Start with [Open], which returns the sealed store ([Sealed]), a
// SecretStore. It implements [Store] (Get, Put, Delete), which is all most
// code needs: declare a small interface in the package that consumes
// secrets and let the device's main pass a *Sealed in.
//
// # Provisions
//
//   - 5.4-1 (sensitive security parameters stored securely): [Sealed] —
//     one Tink AEAD envelope per secret (AES-256-GCM, TINK key-ID prefix,
//     never RAW), the name bound as associated data, the keyset sealed by a
//     [KEK]; self-check "secrets.sealed-at-rest" via [Sealed.Checks].
//   - 5.4-2 (hard-coded per-device identity resists tampering):
//     [Sealed.Identity] — generated in the TPM or token, non-exportable;
//     self-check "secrets.device-identity".
//   - 5.4-4 (unique per-device credentials): the KEK seed, keyset and
//     identity key are generated on the device from its own randomness;
//     [Identity.CreateCSR] gives the factory a CSR to certify.
//   - 5.5-3 (best-practice cryptography, algorithm agility): every file is a
//     versioned envelope naming its algorithms ([AlgSecret], [AlgKeyset], the
//     KEK's [KEKInfo.Algorithm]); [Sealed.Rotate] replaces the data key and
//     re-encrypts everything.
//   - 5.5-8 (managing security parameters): the lifecycle — generate on
//     device, rotate, crypto-erase ([Sealed.Erase]) — is in this package;
//     the process around it is the manufacturer's declaration.
//
// # Quick start
//
//	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: "/data/kek.seed"})
//	if err != nil { ... }
//	store, err := secrets.Open(ctx, secrets.Config{Dir: "/data/secrets", KEK: kek})
//	if err != nil { ... }
//	err = store.Put(ctx, "wifi-psk", psk)
//	psk, err = store.Get(ctx, "wifi-psk") // errors.Is(err, secrets.ErrNotFound) if absent
//
// # Backends
//
// The KEK decides how strong the store is. Importing this package links
// neither go-tpm nor crypto11; a device opts in to a hardware backend by
// importing its subpackage, in its own main, behind a build tag:
//
//   - secrets/tpm: the data key is sealed in a TPM 2.0 object under a
//     persistent storage key (/dev/tpmrm0). Nothing useful is on flash.
//   - secrets/pkcs11: AES-256-GCM by a key that never leaves a PKCS#11
//     token or secure element (crypto11).
//   - [SoftKEK]: a 32-byte seed generated on first start, in a 0600 file.
//     It keeps devices' secrets distinct and defeats partial dumps, but a
//     full flash dump recovers everything: its self-check says
//     INCONCLUSIVE, never PASS.
//
// A device selects its backend in two files of its main package. The
// default build uses the soft KEK:
//
//	//go:build !tpm
//
//	package main
//
//	func openKEK(ctx context.Context) (secrets.KEK, error) {
//		return secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: "/data/kek.seed"})
//	}
//
// and `go build -tags tpm` swaps in the TPM:
//
//	//go:build tpm
//
//	package main
//
//	import "github.com/iotbaseline/baseline/secrets/tpm"
//
//	func openKEK(ctx context.Context) (secrets.KEK, error) {
//		return tpm.New(ctx, tpm.Config{}) // /dev/tpmrm0
//	}
//
// main then calls secrets.Open(ctx, secrets.Config{Dir: ..., KEK: kek})
// whichever file was built. A fleet that gains a TPM in a later firmware
// moves existing stores with [Sealed.Rewrap] (then destroys the soft seed). A PKCS#11 build does the same with
// pkcs11.New(ctx, pkcs11.Config{Module: ..., TokenLabel: ..., PIN: ...}).
//
// # Crypto-erase
//
// [Sealed.Erase] is the hook a factory reset calls; the erase package
// declares the interface it needs (Erase(ctx) error and VerifyErased(ctx)
// error), which *Sealed satisfies. Erase destroys the KEK first (TPM key
// evicted, token key deleted, soft seed overwritten and removed), then the
// sealed keyset, then every envelope, behind a durable marker so that power
// loss anywhere leaves nothing readable and calling Erase again finishes
// the job. Afterwards Get returns [ErrErased]; after the device restarts it
// starts with a new KEK and an empty store.
//
// # Security considerations
//
//   - The name of a secret is bound to its ciphertext: a file renamed,
//     swapped with another or replaced by an older copy of another secret
//     is refused with [ErrCorrupt]. Replaying an older version of the same
//     secret's file (rollback) is not detected; [Sealed.Rotate] makes old
//     copies undecryptable.
//   - Names are restricted to ASCII letters, digits, '.', '_' and '-' (no
//     path separators, no NUL, no leading '.'), so no name escapes the
//     directory. They are not secret and may appear in errors and logs;
//     values never do. On case-insensitive file systems names differing
//     only in case collide; use lower-case names.
//   - Every file read is size-bounded ([Config.MaxValueSize], 64 KiB by
//     default) before it is parsed; the envelope decoder is fuzzed.
//   - Writes are atomic and durable (durable): power loss leaves
//     the old or the new value. Delete removes the file, but flash may keep
//     the ciphertext until [Sealed.Rotate] or [Sealed.Erase] retires its key.
//   - A store directory copied to another device does not open there
//     ([ErrWrongKEK]) with the TPM or token backends, nor with the soft KEK
//     unless the seed file was copied too.
//   - Get returns a fresh copy; callers should clear it when done.
package secrets
