package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/iotbaseline/baseline/durable"
)

// Erase crypto-erases the store, the hook a factory reset calls (5.4-1 with
// erase's 5.11 provisions): following NIST SP 800-88 and Android's reset, it
// destroys the keys first — a durable "erasing" marker, then the KEK (when
// it is a [Destroyer]: TPM handle evicted, token object destroyed, soft seed
// overwritten and removed), then the sealed keyset — and only then removes
// every envelope. Power loss at any point leaves nothing readable: [Open]
// finds the marker and returns a store in the erased state, and calling
// Erase again finishes the job (Erase is idempotent).
//
// Afterwards every call fails with [ErrErased]; after the device restarts,
// a new KEK and an empty store are created. If the KEK cannot be destroyed,
// Erase still removes the wrapped keyset, but flash may retain old copies:
// [Sealed.VerifyErased] tells the two cases apart.
func (s *Sealed) Erase(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.erase(ctx); err != nil {
		return &Error{Op: "erase", Err: err}
	}
	return nil
}

func (s *Sealed) erase(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.erased = true
	s.aead, s.handle, s.ident = nil, nil, nil
	if err := durable.WriteFile(s.fsys, s.file(erasedFile), []byte("erasing\n"), 0o600); err != nil {
		return err
	}
	if d, ok := s.kek.(Destroyer); ok {
		if err := d.Destroy(ctx); err != nil {
			return fmt.Errorf("destroying KEK: %w", err)
		}
	} else {
		s.log.Warn("secrets: KEK cannot be destroyed; erase removes the wrapped keyset only", "kek", s.info.Backend)
	}
	if err := durable.Remove(s.fsys, s.file(keysetFile)); err != nil {
		return err
	}
	ents, err := s.fsys.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if n != erasedFile && s.owned(n) {
			if err := s.fsys.Remove(s.file(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := s.fsys.SyncDir(s.dir); err != nil {
		return err
	}
	if err := durable.Remove(s.fsys, s.file(erasedFile)); err != nil {
		return err
	}
	s.log.Info("secrets: store crypto-erased", "dir", s.dir, "kek", s.info.Backend)
	return nil
}

// owned reports whether a file in the directory belongs to the store.
func (s *Sealed) owned(n string) bool {
	return strings.HasSuffix(n, secretExt) || strings.HasPrefix(n, ".")
}

// VerifyErased checks that an erase is complete: no envelope, keyset, marker
// or temporary file remains in the directory, and a destroyable KEK refuses
// to wrap. It returns nil when the store is empty in that sense, and an
// error naming what remains otherwise. It is what a factory reset's receipt
// records.
func (s *Sealed) VerifyErased(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ents, err := s.fsys.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Error{Op: "verify-erased", Err: err}
	}
	var left []string
	for _, e := range ents {
		if s.owned(e.Name()) {
			left = append(left, e.Name())
		}
	}
	if len(left) > 0 {
		return &Error{Op: "verify-erased", Err: fmt.Errorf("%d store file(s) remain: %q", len(left), left)}
	}
	if _, ok := s.kek.(Destroyer); ok {
		if _, err := s.kek.Wrap(ctx, make([]byte, kwkLen)); err == nil {
			return &Error{Op: "verify-erased", Err: errors.New("KEK still usable")}
		}
	} else {
		return &Error{Op: "verify-erased", Err: fmt.Errorf("%w: KEK (%s) cannot be destroyed; only the wrapped keyset was removed", errors.ErrUnsupported, s.info.Backend)}
	}
	return nil
}
