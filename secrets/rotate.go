package secrets

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/iotbaseline/baseline/durable"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// Rotate replaces the store's data key (5.5-3): it adds a fresh AES-256-GCM
// key as the keyset's primary, re-encrypts every envelope under it, then
// deletes the old keys, so ciphertext left on flash by earlier writes and
// deletions can no longer be decrypted even with the KEK.
//
// Each step is durable and the keyset always holds every key an envelope on
// flash needs, so power loss at any point loses nothing; calling Rotate
// again after such a loss completes the job. Envelopes that fail
// authentication are left as they are (and reported in the error) rather
// than dropped. Get, Put and Delete wait while Rotate runs.
func (s *Sealed) Rotate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.erased {
		return &Error{Op: "rotate", Err: ErrErased}
	}
	if err := s.rotate(ctx); err != nil {
		return &Error{Op: "rotate", Err: err}
	}
	return nil
}

func (s *Sealed) rotate(ctx context.Context) error {
	m := keyset.NewManagerFromHandle(s.handle)
	id, err := addPrimary(m)
	if err != nil {
		return err
	}
	h, err := m.Handle()
	if err != nil {
		return err
	}
	if err := s.writeKeyset(ctx, h); err != nil {
		return err
	}
	if err := s.install(h); err != nil {
		return err
	}
	names, err := s.names()
	if err != nil {
		return err
	}
	var bad []string
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := durable.ReadFile(s.fsys, s.secretPath(name), int64(maxEnvelopeBase+s.maxRead))
		if err != nil {
			bad = append(bad, name)
			continue
		}
		if env, err := decodeEnvelope(b, s.maxRead); err == nil && len(env.payload) >= tinkPrefix &&
			env.payload[0] == 1 && binary.BigEndian.Uint32(env.payload[1:]) == id {
			continue // already under the new key (an earlier, interrupted Rotate)
		}
		v, err := s.get(name)
		if err != nil {
			bad = append(bad, name)
			continue
		}
		err = s.put(name, v)
		clear(v)
		if err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		// Keep the old keys: they may be what these envelopes need.
		return fmt.Errorf("%w: %d envelope(s) could not be re-encrypted and were kept: %q", ErrCorrupt, len(bad), bad)
	}
	m = keyset.NewManagerFromHandle(h)
	for _, ki := range h.KeysetInfo().GetKeyInfo() {
		if ki.GetKeyId() != id {
			if err := m.Delete(ki.GetKeyId()); err != nil {
				return err
			}
		}
	}
	if h, err = m.Handle(); err != nil {
		return err
	}
	if err := s.writeKeyset(ctx, h); err != nil {
		return err
	}
	if err := s.install(h); err != nil {
		return err
	}
	s.log.Info("secrets: keyset rotated", "dir", s.dir, "envelopes", len(names))
	return nil
}

// KeyCount returns the number of keys in the store's keyset: 1 normally,
// more only while (or after an interrupted) [Sealed.Rotate].
func (s *Sealed) KeyCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.handle == nil {
		return 0
	}
	return s.handle.Len()
}

// Rewrap moves the store to another KEK — for example from the soft KEK to
// a TPM that a newer board revision has, or to a new token — by sealing the
// keyset again under kek in one atomic write. Envelopes are untouched: the
// data keys do not change (call [Sealed.Rotate] afterwards to replace them
// too). After power loss the keyset is sealed by exactly one of the two
// KEKs: open with the new one, and on [ErrWrongKEK] with the old one and
// call Rewrap again. The old KEK is not destroyed; destroy it once Rewrap
// has returned.
func (s *Sealed) Rewrap(ctx context.Context, kek KEK) error {
	if kek == nil {
		return &Error{Op: "rewrap", Err: fmt.Errorf("nil KEK")}
	}
	info := describe(kek)
	if !validAlg(info.Algorithm) {
		return &Error{Op: "rewrap", Err: fmt.Errorf("%w: KEK algorithm identifier %q", ErrUnsupported, info.Algorithm)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.erased {
		return &Error{Op: "rewrap", Err: ErrErased}
	}
	old, oldInfo := s.kek, s.info
	s.kek, s.info = kek, info
	if err := s.writeKeyset(ctx, s.handle); err != nil {
		// On flash is the old keyset, or (if the rename landed before
		// the error) the new one; keep using the KEK that matches it.
		b, rerr := durable.ReadFile(s.fsys, s.file(keysetFile), maxKeyset)
		if rerr != nil {
			s.kek, s.info = old, oldInfo
		} else if _, rerr = s.readKeyset(ctx, b); rerr != nil {
			s.kek, s.info = old, oldInfo
		}
		return &Error{Op: "rewrap", Err: err}
	}
	s.ident = nil // a hardware identity belongs to the KEK
	s.log.Info("secrets: keyset re-sealed under a new KEK", "dir", s.dir, "from", oldInfo.Backend, "to", info.Backend)
	return nil
}
