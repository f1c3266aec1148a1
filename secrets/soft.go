package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/iotbaseline/baseline/durable"
)

// SoftAlgorithm identifies the soft KEK's wrapping scheme in keyset envelopes.
const SoftAlgorithm = "soft-seed/hkdf-sha256/aes256-gcm"

const (
	seedMagic = "BLSK\x01"
	seedLen   = 32
	softInfo  = "baseline/secrets soft KEK v1"
	softAD    = "baseline/secrets soft wrap v1"
)

// ErrSeedPermissions is returned by [NewSoftKEK] when the seed file can be
// read by group or others: the seed must be mode 0600.
var ErrSeedPermissions = errors.New("secrets: soft KEK seed file is accessible to group or others")

// SoftConfig configures [NewSoftKEK].
type SoftConfig struct {
	// FS is where the seed file lives. Nil means durable.OS.
	FS durable.FS
	// Path is the seed file. Required. Keep it outside the store's
	// directory on a partition a factory reset also wipes.
	Path string
}

// SoftKEK is the fallback KEK for devices without a TPM or secure element:
// an AES-256-GCM key derived (HKDF-SHA256) from a 32-byte seed that is
// generated on the device from crypto/rand the first time it starts and
// kept in a 0600 file.
//
// It is weaker than a hardware KEK and says so: the seed sits on the same
// flash as the data it protects, so an attacker who dumps the whole flash
// can unseal every secret. It protects against partial dumps, backups and
// copies of the store directory alone, and keeps every device's secrets
// distinct (5.4-4), but its self-check reports 5.4-1 as INCONCLUSIVE, never
// PASS.
type SoftKEK struct {
	fsys durable.FS
	path string

	mu   sync.RWMutex
	aead cipher.AEAD // nil once destroyed
}

// NewSoftKEK loads the seed file, creating it with a fresh random seed (mode
// 0600, written atomically) if it does not exist. It refuses a seed file that
// is malformed or readable by group or others.
func NewSoftKEK(ctx context.Context, cfg SoftConfig) (*SoftKEK, error) {
	if cfg.Path == "" {
		return nil, errors.New("secrets: SoftConfig.Path is required")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fsys := cfg.FS
	if fsys == nil {
		fsys = durable.OS
	}
	seed, err := loadSeed(fsys, cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		seed = make([]byte, seedLen)
		rand.Read(seed)
		if err := fsys.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
			return nil, fmt.Errorf("secrets: soft KEK: %w", err)
		}
		if err := durable.WriteFile(fsys, cfg.Path, append([]byte(seedMagic), seed...), 0o600); err != nil {
			return nil, fmt.Errorf("secrets: soft KEK: writing seed: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, seed, nil, softInfo, 32)
	clear(seed)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SoftKEK{fsys: fsys, path: cfg.Path, aead: a}, nil
}

func loadSeed(fsys durable.FS, path string) ([]byte, error) {
	fi, err := fsys.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o", ErrSeedPermissions, path, fi.Mode().Perm())
	}
	b, err := durable.ReadFile(fsys, path, int64(len(seedMagic)+seedLen))
	if err != nil {
		if errors.Is(err, durable.ErrTooLarge) {
			return nil, fmt.Errorf("secrets: soft KEK seed %s: %w", path, ErrCorrupt)
		}
		return nil, err
	}
	if len(b) == len(seedMagic)+seedLen && b[0] == 0 {
		// Destroy zeroes the seed in place before removing it, and power
		// was lost in between (possibly mid-write, leaving a zeroed
		// prefix). The seed is gone: start as on first boot.
		return nil, fs.ErrNotExist
	}
	if len(b) != len(seedMagic)+seedLen || string(b[:len(seedMagic)]) != seedMagic {
		return nil, fmt.Errorf("secrets: soft KEK seed %s: %w", path, ErrCorrupt)
	}
	return b[len(seedMagic):], nil
}

// Wrap implements [KEK].
func (k *SoftKEK) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.aead == nil {
		return nil, ErrErased
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(dek)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, dek, []byte(softAD)), nil
}

// Unwrap implements [KEK].
func (k *SoftKEK) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.aead == nil {
		return nil, ErrErased
	}
	ns := k.aead.NonceSize()
	if len(wrapped) < ns+k.aead.Overhead() {
		return nil, ErrWrongKEK
	}
	dek, err := k.aead.Open(nil, wrapped[:ns], wrapped[ns:], []byte(softAD))
	if err != nil {
		return nil, ErrWrongKEK
	}
	return dek, nil
}

// Describe implements [Describer].
func (k *SoftKEK) Describe() KEKInfo {
	return KEKInfo{Algorithm: SoftAlgorithm, Backend: "soft", Hardware: false, Detail: "seed file " + k.path}
}

// Destroy implements [Destroyer]: it overwrites the seed file in place,
// syncs it and removes it. On flash with wear levelling the old blocks may
// survive until reused, which is one reason the soft KEK is reported as
// weaker than hardware.
func (k *SoftKEK) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.aead = nil
	f, err := k.fsys.OpenFile(k.path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return durable.Remove(k.fsys, k.path)
	}
	if err != nil {
		return fmt.Errorf("secrets: destroying soft KEK: %w", err)
	}
	_, werr := f.Write(make([]byte, len(seedMagic)+seedLen))
	if werr == nil {
		werr = f.Sync()
	}
	f.Close()
	if werr != nil {
		return fmt.Errorf("secrets: destroying soft KEK: %w", werr)
	}
	if err := durable.Remove(k.fsys, k.path); err != nil {
		return fmt.Errorf("secrets: destroying soft KEK: %w", err)
	}
	return nil
}

// String never shows key material.
func (k *SoftKEK) String() string { return "secrets.SoftKEK(" + k.path + ")" }
