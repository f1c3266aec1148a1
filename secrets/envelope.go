package secrets

import (
	"encoding/binary"
	"fmt"
)

// The envelope is the one file format of a sealed store. Every file it writes
// — one per secret, plus the keyset — is an envelope whose header names the
// format version and the algorithms used (provision 5.5-3), so a future SDK
// can read old files, migrate them, and refuse what it does not know:
//
//	magic      4 bytes  "BLSE"
//	version    1 byte   1
//	kind       1 byte   1 = secret, 2 = keyset
//	alg        1-byte length + printable ASCII (<= 64): payload algorithm
//	kek alg    1-byte length + printable ASCII (<= 64): KEK scheme (keyset only)
//	wrapped    2-byte big-endian length + bytes (<= 2048): KEK-wrapped key (keyset only)
//	payload    4-byte big-endian length + bytes
//
// Everything before the payload length is the header, authenticated as
// associated data of the payload's AEAD (with the secret's name, for a
// secret). Nothing may follow the payload.
const (
	envMagic        = "BLSE"
	envVersion      = 1
	kindSecret      = 1
	kindKeyset      = 2
	maxAlgLen       = 64
	maxWrappedLen   = 2048
	envFixedLen     = 4 + 1 + 1 + 1 + 1 + 2 + 4
	maxEnvelopeBase = envFixedLen + 2*maxAlgLen + maxWrappedLen
)

// Algorithm identifiers written in envelope headers.
const (
	// AlgSecret: the payload is a Tink AEAD ciphertext under the store's
	// keyset: AES-256-GCM, TINK output prefix (0x01 + 4-byte key ID), 12-byte
	// random IV, 16-byte tag.
	AlgSecret = "tink-aead/aes256-gcm"
	// AlgKeyset: the payload is a Tink EncryptedKeyset under a fresh
	// AES-256-GCM key-wrapping key, which the KEK wraps.
	AlgKeyset = "tink-keyset/aes256-gcm"
)

// envelope is a decoded envelope. header aliases the decoded input.
type envelope struct {
	kind    byte
	alg     string
	kekAlg  string
	wrapped []byte
	payload []byte
	header  []byte
}

func validAlg(s string) bool {
	if len(s) > maxAlgLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// appendHeader appends the header of an envelope (everything the payload's
// AEAD authenticates) to b.
func appendHeader(b []byte, kind byte, alg, kekAlg string, wrapped []byte) ([]byte, error) {
	if !validAlg(alg) || !validAlg(kekAlg) || len(alg) == 0 {
		return nil, fmt.Errorf("%w: algorithm identifier not printable ASCII of at most %d bytes", ErrUnsupported, maxAlgLen)
	}
	if len(wrapped) > maxWrappedLen {
		return nil, fmt.Errorf("%w: wrapped key of %d bytes exceeds %d", ErrTooLarge, len(wrapped), maxWrappedLen)
	}
	b = append(b, envMagic...)
	b = append(b, envVersion, kind, byte(len(alg)))
	b = append(b, alg...)
	b = append(b, byte(len(kekAlg)))
	b = append(b, kekAlg...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(wrapped)))
	b = append(b, wrapped...)
	return b, nil
}

// appendPayload completes an envelope whose header is already in b.
func appendPayload(b, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// decodeEnvelope parses b, refusing payloads larger than maxPayload. It
// returns an error wrapping ErrCorrupt for anything malformed and
// ErrUnsupported for an unknown version or algorithm; it never panics and
// never allocates more than b.
func decodeEnvelope(b []byte, maxPayload int) (*envelope, error) {
	if len(b) < envFixedLen || string(b[:4]) != envMagic {
		return nil, fmt.Errorf("%w: not an envelope", ErrCorrupt)
	}
	if b[4] != envVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrUnsupported, b[4])
	}
	e := &envelope{kind: b[5]}
	if e.kind != kindSecret && e.kind != kindKeyset {
		return nil, fmt.Errorf("%w: unknown envelope kind %d", ErrCorrupt, e.kind)
	}
	p := 6
	str := func() (string, bool) {
		if p >= len(b) {
			return "", false
		}
		n := int(b[p])
		p++
		if n > maxAlgLen || len(b)-p < n {
			return "", false
		}
		s := string(b[p : p+n])
		p += n
		return s, validAlg(s)
	}
	var ok bool
	if e.alg, ok = str(); !ok {
		return nil, fmt.Errorf("%w: bad algorithm field", ErrCorrupt)
	}
	if e.kekAlg, ok = str(); !ok {
		return nil, fmt.Errorf("%w: bad KEK algorithm field", ErrCorrupt)
	}
	if len(b)-p < 2 {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(b[p:]))
	p += 2
	if n > maxWrappedLen || len(b)-p < n {
		return nil, fmt.Errorf("%w: bad wrapped-key field", ErrCorrupt)
	}
	e.wrapped = b[p : p+n : p+n]
	p += n
	e.header = b[:p:p]
	if len(b)-p < 4 {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	m := binary.BigEndian.Uint32(b[p:])
	p += 4
	if uint64(m) > uint64(maxPayload) {
		return nil, fmt.Errorf("%w: payload length %d exceeds the limit of %d", ErrCorrupt, m, maxPayload)
	}
	if uint64(len(b)-p) != uint64(m) {
		return nil, fmt.Errorf("%w: payload length %d does not match the %d bytes present", ErrCorrupt, m, len(b)-p)
	}
	e.payload = b[p:]
	switch e.kind {
	case kindSecret:
		if e.alg != AlgSecret {
			return nil, fmt.Errorf("%w: secret algorithm %q", ErrUnsupported, e.alg)
		}
		if e.kekAlg != "" || len(e.wrapped) != 0 {
			return nil, fmt.Errorf("%w: secret envelope carries a wrapped key", ErrCorrupt)
		}
	case kindKeyset:
		if e.alg != AlgKeyset {
			return nil, fmt.Errorf("%w: keyset algorithm %q", ErrUnsupported, e.alg)
		}
		if e.kekAlg == "" || len(e.wrapped) == 0 {
			return nil, fmt.Errorf("%w: keyset envelope without wrapped key", ErrCorrupt)
		}
	}
	return e, nil
}
