//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/ThalesGroup/crypto11"

	"github.com/iotbaseline/baseline/secrets"
)

const (
	ivLen  = 12
	wrapAD = "baseline/secrets pkcs11 wrap v1"
)

// KEK is a [secrets.KEK] held by a PKCS#11 token (5.4-1): an AES-256 key
// generated on the token (CKA_SENSITIVE, not CKA_EXTRACTABLE), used through
// CKM_AES_GCM so that it never leaves the token. It also holds the device's
// identity key pair ([KEK.IdentityKey]); Destroy deletes both
// (crypto-erase). Safe for concurrent use.
//
// GCM IVs: crypto11 defaults to 16-byte IVs and panics when the token
// refuses an operation; some tokens (CloudHSM) ignore the IV they are given.
// This KEK sets 12-byte IVs drawn from crypto/rand, recovers the panic into
// an error, and opens every blob it seals before returning it, so a token
// that substitutes its own IV fails at Wrap rather than producing blobs no
// one can open.
type KEK struct {
	c        *crypto11.Context
	module   string
	token    string
	keyLabel []byte
	idLabel  []byte
	log      *slog.Logger

	mu        sync.Mutex
	key       *crypto11.SecretKey
	gcm       cipher.AEAD
	destroyed bool
}

var (
	_ secrets.KEK           = (*KEK)(nil)
	_ secrets.Describer     = (*KEK)(nil)
	_ secrets.Destroyer     = (*KEK)(nil)
	_ secrets.IdentityKeyer = (*KEK)(nil)
)

// New logs in to the token and finds the AES KEK, generating it on the
// token on first use. A missing module yields an error wrapping
// errors.ErrUnsupported.
func New(ctx context.Context, cfg Config) (*KEK, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" {
		return nil, errors.New("pkcs11: Config.Module and Config.TokenLabel are required")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := &KEK{module: cfg.Module, token: cfg.TokenLabel, keyLabel: []byte(cfg.KeyLabel), idLabel: []byte(cfg.IdentityLabel), log: cfg.Logger}
	if len(k.keyLabel) == 0 {
		k.keyLabel = []byte(DefaultKeyLabel)
	}
	if len(k.idLabel) == 0 {
		k.idLabel = []byte(DefaultIdentityLabel)
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(cfg.Module); err != nil {
		return nil, fmt.Errorf("pkcs11: module %s: %w (%w)", cfg.Module, errors.ErrUnsupported, err)
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN, GCMIVLength: ivLen})
	if err != nil {
		// crypto11's messages name the module and token, never the PIN.
		return nil, fmt.Errorf("pkcs11: opening token %q: %w", cfg.TokenLabel, err)
	}
	k.c = c
	keys, err := c.FindKeys(nil, k.keyLabel)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pkcs11: finding KEK: %w", err)
	}
	switch len(keys) {
	case 0:
		key, err := c.GenerateSecretKeyWithLabel(k.keyLabel, k.keyLabel, 256, crypto11.CipherAES)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("pkcs11: generating KEK on the token: %w", err)
		}
		k.key = key
		k.log.Info("pkcs11: KEK generated on token", "token", cfg.TokenLabel)
	case 1:
		k.key = keys[0]
	default:
		c.Close()
		return nil, fmt.Errorf("pkcs11: %d keys labelled %q on token %q; refusing to guess", len(keys), k.keyLabel, cfg.TokenLabel)
	}
	if k.gcm, err = k.key.NewGCM(); err != nil {
		c.Close()
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	if k.gcm.NonceSize() != ivLen {
		c.Close()
		return nil, fmt.Errorf("pkcs11: GCM nonce size %d, want %d", k.gcm.NonceSize(), ivLen)
	}
	return k, nil
}

// Close logs out of the token (when this was the last session).
func (k *KEK) Close() error { return k.c.Close() }

// seal calls the token, turning crypto11's panic on a refused operation
// into an error.
func (k *KEK) seal(nonce, pt []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("pkcs11: token refused to encrypt: %v", p)
		}
	}()
	return k.gcm.Seal(nil, nonce, pt, []byte(wrapAD)), nil
}

// Wrap implements [secrets.KEK]: AES-256-GCM on the token with a fresh
// random 96-bit IV, returned as IV || ciphertext || tag.
func (k *KEK) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, secrets.ErrErased
	}
	nonce := make([]byte, ivLen)
	rand.Read(nonce)
	ct, err := k.seal(nonce, dek)
	if err != nil {
		return nil, err
	}
	if len(ct) != len(dek)+k.gcm.Overhead() {
		return nil, fmt.Errorf("pkcs11: token returned %d bytes of GCM output for %d bytes of input", len(ct), len(dek))
	}
	// Prove the blob opens with the IV we chose before anyone relies on it.
	back, err := k.gcm.Open(nil, nonce, ct, []byte(wrapAD))
	if err != nil || !bytes.Equal(back, dek) {
		return nil, errors.New("pkcs11: token's GCM output does not open with the supplied IV (does it generate its own IVs?)")
	}
	clear(back)
	return append(nonce, ct...), nil
}

// Unwrap implements [secrets.KEK]. A blob from another token or KEK fails
// with an error wrapping secrets.ErrWrongKEK.
func (k *KEK) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, secrets.ErrErased
	}
	if len(wrapped) < ivLen+k.gcm.Overhead() {
		return nil, fmt.Errorf("%w: pkcs11: wrapped key too short", secrets.ErrWrongKEK)
	}
	dek, err := k.gcm.Open(nil, wrapped[:ivLen], wrapped[ivLen:], []byte(wrapAD))
	if err != nil {
		return nil, fmt.Errorf("%w: pkcs11: %v", secrets.ErrWrongKEK, err)
	}
	return dek, nil
}

// Describe implements [secrets.Describer]. A known software token (SoftHSM2)
// is reported as not hardware.
func (k *KEK) Describe() secrets.KEKInfo {
	detail := fmt.Sprintf("module %s, token %q, key %q", k.module, k.token, k.keyLabel)
	hw := !softwareModule(k.module)
	if !hw {
		detail += " (software token: keys are files on the device)"
	}
	return secrets.KEKInfo{Algorithm: Algorithm, Backend: "pkcs11", Hardware: hw, Detail: detail}
}

// Destroy implements [secrets.Destroyer]: it deletes the AES KEK and the
// identity key pair from the token. Destroying twice is not an error.
func (k *KEK) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.destroyed = true
	keys, err := k.c.FindKeys(nil, k.keyLabel)
	if err != nil {
		return fmt.Errorf("pkcs11: finding KEK: %w", err)
	}
	for _, key := range keys {
		if err := key.Delete(); err != nil {
			return fmt.Errorf("pkcs11: deleting KEK: %w", err)
		}
	}
	pairs, err := k.c.FindKeyPairs(nil, k.idLabel)
	if err != nil {
		return fmt.Errorf("pkcs11: finding identity key: %w", err)
	}
	for _, p := range pairs {
		if d, ok := p.(interface{ Delete() error }); ok {
			if err := d.Delete(); err != nil {
				return fmt.Errorf("pkcs11: deleting identity key: %w", err)
			}
		}
	}
	k.log.Info("pkcs11: KEK and identity key deleted from token", "token", k.token)
	return nil
}

// IdentityKey implements [secrets.IdentityKeyer]: an ECDSA P-256 key pair
// generated on the token (private key sensitive, not extractable), created
// on first call.
func (k *KEK) IdentityKey(ctx context.Context) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, secrets.ErrErased
	}
	pairs, err := k.c.FindKeyPairs(nil, k.idLabel)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: finding identity key: %w", err)
	}
	switch len(pairs) {
	case 0:
	case 1:
		return pairs[0], nil
	default:
		return nil, fmt.Errorf("pkcs11: %d key pairs labelled %q on token %q; refusing to guess", len(pairs), k.idLabel, k.token)
	}
	s, err := k.c.GenerateECDSAKeyPairWithLabel(k.idLabel, k.idLabel, elliptic.P256())
	if err != nil {
		return nil, fmt.Errorf("pkcs11: generating identity key on the token: %w", err)
	}
	k.log.Info("pkcs11: identity key generated on token", "token", k.token)
	return s, nil
}

// String never shows the PIN or key material.
func (k *KEK) String() string { return fmt.Sprintf("pkcs11.KEK(token %q)", k.token) }
