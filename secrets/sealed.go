package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/iotbaseline/baseline/durable"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Files of a sealed store's directory. User names never start with '.', so
// they cannot collide with these.
const (
	keysetFile  = ".keyset"
	erasedFile  = ".erased"
	secretExt   = ".sec"
	identityKey = ".identity" // internal secret name of the soft identity key
	adPrefix    = "baseline/secrets/v1\x00"
	tinkPrefix  = 5 // Tink TINK output prefix: 0x01 + 4-byte key ID
	gcmOverhead = tinkPrefix + 12 + 16
	kwkLen      = 32
	maxKeyset   = 64 << 10
	minRead     = 1024 // internal secrets (the soft identity key) fit in this
)

// Config configures [Open]. The zero value of every optional field is the
// secure default.
type Config struct {
	// FS is the file system the store writes through. Nil means durable.OS.
	FS durable.FS
	// Dir is the store's directory, created (mode 0700) if missing.
	// Required. The store owns every file in it whose name ends in ".sec"
	// or starts with '.'.
	Dir string
	// KEK wraps the store's keyset. Required: a [SoftKEK], a *tpm.KEK or a
	// *pkcs11.KEK.
	KEK KEK
	// MaxValueSize bounds a secret's size in bytes; 0 means
	// [DefaultMaxValueSize] (64 KiB). Files on flash larger than an
	// envelope of that size are refused unread.
	MaxValueSize int
	// Logger receives operational events (keyset created, rotated, store
	// erased); never a secret. Nil discards them.
	Logger *slog.Logger
}

// Sealed is the sealed store: a [Store] that keeps each secret in its own
// file as a Tink AEAD envelope (AES-256-GCM, TINK key-ID prefix), with the
// secret's name bound as associated data so a renamed or swapped file is
// refused. The Tink keyset is itself sealed by a [KEK] — TPM, PKCS#11 token
// or soft seed — so the files on flash are useless without it (5.4-1).
//
// All writes are atomic and durable (durable): after a power loss a
// secret holds its old or its new value, never a mix. A Sealed is safe for
// concurrent use.
type Sealed struct {
	fsys     durable.FS
	dir      string
	kek      KEK
	info     KEKInfo
	maxValue int // Put's limit
	maxRead  int // largest payload read: maxValue, or more for internal secrets
	log      *slog.Logger
	header   []byte // header of every secret envelope

	mu     sync.RWMutex // Get/Put/Delete share it; Rotate and Erase hold it alone
	wmu    sync.Mutex   // serialises writers: one temp file per name
	handle *keyset.Handle
	aead   tink.AEAD
	erased bool
	ident  *Identity
}

// Open opens the sealed store in cfg.Dir, creating it and a fresh keyset
// (one AES-256-GCM key, sealed by cfg.KEK) on first use.
//
// It fails with an error wrapping [ErrWrongKEK] when the keyset was sealed
// by another KEK (the flash was moved to another device), and [ErrCorrupt]
// when the keyset file is damaged. If an erase was interrupted by power
// loss, Open returns a store in the erased state: every call fails with
// [ErrErased] until [Sealed.Erase] is called again to finish.
func Open(ctx context.Context, cfg Config) (*Sealed, error) {
	if cfg.Dir == "" {
		return nil, errors.New("secrets: Config.Dir is required")
	}
	if cfg.KEK == nil {
		return nil, errors.New("secrets: Config.KEK is required")
	}
	s := &Sealed{fsys: cfg.FS, dir: cfg.Dir, kek: cfg.KEK, info: describe(cfg.KEK), maxValue: cfg.MaxValueSize, log: cfg.Logger}
	if s.fsys == nil {
		s.fsys = durable.OS
	}
	if s.maxValue <= 0 {
		s.maxValue = DefaultMaxValueSize
	}
	s.maxRead = max(s.maxValue, minRead) + gcmOverhead
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if !validAlg(s.info.Algorithm) {
		return nil, fmt.Errorf("secrets: KEK algorithm identifier %q is not printable ASCII of at most %d bytes", s.info.Algorithm, maxAlgLen)
	}
	var err error
	if s.header, err = appendHeader(nil, kindSecret, AlgSecret, "", nil); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.fsys.MkdirAll(s.dir, 0o700); err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	if _, err := s.fsys.Stat(s.file(erasedFile)); err == nil {
		s.erased = true
		s.log.Warn("secrets: store found mid-erase; call Erase to finish", "dir", s.dir)
		return s, nil
	}
	s.removeTemps()
	b, err := durable.ReadFile(s.fsys, s.file(keysetFile), maxKeyset)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if n, _ := s.names(); len(n) > 0 {
			// Without the keyset these envelopes can never be opened again;
			// Get reports them as corrupt and Put overwrites them.
			s.log.Error("secrets: keyset missing while envelopes exist; starting a new keyset", "dir", s.dir, "orphaned", len(n))
		}
		h, err := newKeyset()
		if err != nil {
			return nil, &Error{Op: "open", Err: err}
		}
		if err := s.writeKeyset(ctx, h); err != nil {
			return nil, &Error{Op: "open", Err: err}
		}
		if err := s.install(h); err != nil {
			return nil, &Error{Op: "open", Err: err}
		}
		s.log.Info("secrets: new keyset created", "dir", s.dir, "kek", s.info.Backend)
		return s, nil
	case errors.Is(err, durable.ErrTooLarge):
		return nil, &Error{Op: "open", Err: fmt.Errorf("%w: keyset file too large", ErrCorrupt)}
	case err != nil:
		return nil, &Error{Op: "open", Err: err}
	}
	h, err := s.readKeyset(ctx, b)
	if err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	if err := s.install(h); err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	return s, nil
}

func (s *Sealed) file(base string) string { return filepath.Join(s.dir, base) }

func (s *Sealed) secretPath(name string) string { return s.file(name + secretExt) }

// ad is the associated data of a secret's envelope: a domain label, the
// name (which cannot contain NUL) and the envelope header.
func (s *Sealed) ad(name string) []byte {
	ad := make([]byte, 0, len(adPrefix)+len(name)+1+len(s.header))
	ad = append(ad, adPrefix...)
	ad = append(ad, name...)
	ad = append(ad, 0)
	return append(ad, s.header...)
}

func (s *Sealed) readKeyset(ctx context.Context, b []byte) (*keyset.Handle, error) {
	env, err := decodeEnvelope(b, maxKeyset)
	if err != nil {
		return nil, fmt.Errorf("keyset: %w", err)
	}
	if env.kind != kindKeyset {
		return nil, fmt.Errorf("%w: keyset file holds a secret envelope", ErrCorrupt)
	}
	if env.kekAlg != s.info.Algorithm {
		return nil, fmt.Errorf("%w: keyset sealed by %q, KEK in use is %q", ErrWrongKEK, env.kekAlg, s.info.Algorithm)
	}
	kwk, err := s.kek.Unwrap(ctx, env.wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrapping keyset: %w", err)
	}
	defer clear(kwk)
	if len(kwk) != kwkLen {
		return nil, fmt.Errorf("%w: unwrapped key has %d bytes", ErrCorrupt, len(kwk))
	}
	ka, err := subtle.NewAESGCM(kwk)
	if err != nil {
		return nil, err
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(env.payload)), ka, env.header)
	if err != nil {
		return nil, fmt.Errorf("%w: keyset does not decrypt", ErrCorrupt)
	}
	return h, nil
}

func (s *Sealed) writeKeyset(ctx context.Context, h *keyset.Handle) error {
	kwk := make([]byte, kwkLen)
	rand.Read(kwk)
	defer clear(kwk)
	wrapped, err := s.kek.Wrap(ctx, kwk)
	if err != nil {
		return fmt.Errorf("wrapping keyset: %w", err)
	}
	header, err := appendHeader(nil, kindKeyset, AlgKeyset, s.info.Algorithm, wrapped)
	if err != nil {
		return err
	}
	ka, err := subtle.NewAESGCM(kwk)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), ka, header); err != nil {
		return err
	}
	return durable.WriteFile(s.fsys, s.file(keysetFile), appendPayload(header, buf.Bytes()), 0o600)
}

// install checks that every key is AES-256-GCM with a TINK prefix (never
// RAW: the prefix is how rotation finds each envelope's key) and makes h
// the store's keyset.
func (s *Sealed) install(h *keyset.Handle) error {
	for i := 0; i < h.Len(); i++ {
		e, err := h.Entry(i)
		if err != nil {
			return err
		}
		k, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return fmt.Errorf("%w: keyset key of type %T", ErrUnsupported, e.Key())
		}
		p, ok := k.Parameters().(*aesgcm.Parameters)
		if !ok || p.KeySizeInBytes() != 32 || p.Variant() != aesgcm.VariantTink || p.IVSizeInBytes() != 12 || p.TagSizeInBytes() != 16 {
			return fmt.Errorf("%w: keyset key is not AES-256-GCM with a TINK prefix", ErrUnsupported)
		}
	}
	a, err := newKeysetAEAD(h)
	if err != nil {
		return err
	}
	s.handle, s.aead = h, a
	return nil
}

// Get implements [Store].
func (s *Sealed) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName("get", name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.erased {
		return nil, &Error{Op: "get", Name: name, Err: ErrErased}
	}
	v, err := s.get(name)
	if err != nil {
		return nil, &Error{Op: "get", Name: name, Err: err}
	}
	return v, nil
}

func (s *Sealed) get(name string) ([]byte, error) {
	b, err := durable.ReadFile(s.fsys, s.secretPath(name), int64(maxEnvelopeBase+s.maxRead))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		if errors.Is(err, durable.ErrTooLarge) {
			return nil, fmt.Errorf("%w: envelope file larger than any this store writes", ErrCorrupt)
		}
		return nil, err
	}
	env, err := decodeEnvelope(b, s.maxRead)
	if err != nil {
		return nil, err
	}
	if env.kind != kindSecret || !bytes.Equal(env.header, s.header) {
		return nil, fmt.Errorf("%w: not a secret envelope", ErrCorrupt)
	}
	v, err := s.aead.Decrypt(env.payload, s.ad(name))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (damaged, renamed or swapped file)", ErrCorrupt)
	}
	return v, nil
}

// Put implements [Store]. Values larger than the configured limit fail with
// [ErrTooLarge] and leave the stored value untouched.
func (s *Sealed) Put(ctx context.Context, name string, value []byte) error {
	if err := checkName("put", name); err != nil {
		return err
	}
	if len(value) > s.maxValue {
		return &Error{Op: "put", Name: name, Err: ErrTooLarge}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.erased {
		return &Error{Op: "put", Name: name, Err: ErrErased}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.put(name, value); err != nil {
		return &Error{Op: "put", Name: name, Err: err}
	}
	return nil
}

func (s *Sealed) put(name string, value []byte) error {
	ct, err := s.aead.Encrypt(value, s.ad(name))
	if err != nil {
		return err
	}
	out := make([]byte, 0, len(s.header)+4+len(ct))
	out = appendPayload(append(out, s.header...), ct)
	return durable.WriteFile(s.fsys, s.secretPath(name), out, 0o600)
}

// Delete implements [Store]. The envelope is removed durably; its ciphertext
// may linger in unused flash blocks, readable only with the keyset, until
// the next [Sealed.Rotate] or [Sealed.Erase] retires that key.
func (s *Sealed) Delete(ctx context.Context, name string) error {
	if err := checkName("delete", name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.erased {
		return &Error{Op: "delete", Name: name, Err: ErrErased}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := durable.Remove(s.fsys, s.secretPath(name)); err != nil {
		return &Error{Op: "delete", Name: name, Err: err}
	}
	return nil
}

// names lists every envelope in the directory by secret name, including the
// internal ones (which start with '.').
func (s *Sealed) names() ([]string, error) {
	ents, err := s.fsys.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, secretExt) || strings.HasSuffix(n, ".tmp") {
			continue
		}
		out = append(out, strings.TrimSuffix(n, secretExt))
	}
	return out, nil
}

// removeTemps deletes temporary files a write interrupted by power loss left
// behind (they hold ciphertext only).
func (s *Sealed) removeTemps() {
	ents, err := s.fsys.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp") {
			s.fsys.Remove(s.file(n))
		}
	}
}

// List returns the names of the stored secrets, in directory order.
func (s *Sealed) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.erased {
		return nil, &Error{Op: "list", Err: ErrErased}
	}
	all, err := s.names()
	if err != nil {
		return nil, &Error{Op: "list", Err: err}
	}
	out := all[:0]
	for _, n := range all {
		if ValidName(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// String describes the store without any key material.
func (s *Sealed) String() string {
	return fmt.Sprintf("secrets.Sealed(dir=%s kek=%s)", s.dir, s.info.Backend)
}

// KEKInfo reports the KEK the store was opened with.
func (s *Sealed) KEKInfo() KEKInfo { return s.info }

var _ Store = (*Sealed)(nil)
