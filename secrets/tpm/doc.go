// Package tpm provides a [secrets.KEK] held by a TPM 2.0: data keys are
// sealed in TPM objects under a persistent storage key that never leaves
// the chip, and the device's identity key is generated and kept inside it.
//
// Start with [New]; with a zero [Config] it opens /dev/tpmrm0 (the kernel's
// resource manager) and creates, on first use, an ECC P-256 storage key at
// persistent handle [DefaultKEKHandle] from a random template — so the key
// cannot be re-derived once evicted. It uses go-tpm's direct tpm2 API.
//
// # Provisions
//
//   - 5.4-1: [KEK.Wrap] seals the sealed store's data key under the TPM;
//     the secrets.sealed-at-rest self-check reports PASS for it on a TPM
//     device, and INCONCLUSIVE for a simulator reached with [DialTCP].
//   - 5.4-2, 5.4-4: [KEK.IdentityKey], an ECDSA P-256 key with fixedTPM,
//     fixedParent and sensitiveDataOrigin (generated in, and never
//     exportable from, this TPM), persistent at [DefaultIdentityHandle].
//   - 5.5-3: the envelope records [Algorithm].
//
// # Quick start
//
// In a device's main, behind a build tag (see package secrets, # Backends):
//
//	//go:build tpm
//
//	kek, err := tpm.New(ctx, tpm.Config{})
//	if err != nil { ... } // errors.Is(err, errors.ErrUnsupported): no TPM here
//	defer kek.Close()
//	store, err := secrets.Open(ctx, secrets.Config{Dir: "/data/secrets", KEK: kek})
//
// Tests and development boards without a TPM can run swtpm and connect with
// [DialTCP]:
//
//	swtpm socket --tpm2 --server type=tcp,port=2321 --ctrl type=tcp,port=2322 \
//	    --tpmstate dir=/tmp/tpm --flags not-need-init,startup-clear
//	tr, err := tpm.DialTCP(ctx, "127.0.0.1:2321")
//	kek, err := tpm.New(ctx, tpm.Config{Transport: tr})
//
// # Security considerations
//
//   - Data keys travel to and from the TPM inside HMAC sessions salted to the
//     storage key with AES-128-CFB parameter encryption, so a bus sniffer
//     does not see them.
//   - The storage key and identity key use empty authorisation and noDA:
//     their protection is that they are bound to this chip. An attacker with
//     code execution on the running device can use them (as the firmware
//     does) but cannot take them away; a flash dump, or the flash moved to
//     another board, yields nothing ([secrets.ErrWrongKEK]).
//   - [KEK.Destroy] evicts both keys; every blob sealed under the storage key
//     is then unreadable by anyone, which is what makes the sealed store's
//     Erase a cryptographic erase.
//   - Persistent handles are checked before use: an object at the configured
//     handle that is not a non-exportable key of the expected kind is
//     refused rather than used.
//   - The owner hierarchy is assumed to have empty authorisation, as
//     shipped; set [Config.OwnerAuth] otherwise.
package tpm
