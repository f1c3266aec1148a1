package auth

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Limits of the strict PHC parser. A hash string planted in the vault must
// not make the device allocate or compute without bound.
const (
	maxPHCLen     = 256
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
	maxHashTime   = 64
	maxHashMemory = 1 << 20 // KiB: 1 GiB, further bounded by Config.MaxHashMemory
)

var b64 = base64.RawStdEncoding.Strict()

// phcHash is a parsed Argon2id PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, with salt and key
// in unpadded standard base64.
type phcHash struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// String returns the PHC string. It contains a salt and a derived key, not
// the password; treat it as confidential all the same.
func (h phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.Params.Memory, h.Params.Time, h.Params.Threads,
		b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// parseHash parses an Argon2id PHC string strictly: only argon2id version 19,
// parameters in the order m, t, p as canonical decimals within bounds, salt
// of 8-64 bytes and key of 16-64 bytes in canonical unpadded base64, at most
// 256 bytes in all. Anything else is ErrMalformedHash.
func parseHash(s string) (phcHash, error) {
	var h phcHash
	if len(s) > maxPHCLen {
		return h, fmt.Errorf("%w: too long", ErrMalformedHash)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return h, fmt.Errorf("%w: wrong number of fields", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return h, fmt.Errorf("%w: not argon2id", ErrMalformedHash)
	}
	if parts[2] != "v=19" {
		return h, fmt.Errorf("%w: unsupported version", ErrMalformedHash)
	}
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 {
		return h, fmt.Errorf("%w: want m,t,p", ErrMalformedHash)
	}
	m, err := phcUint(ps[0], "m=", 8, maxHashMemory)
	if err != nil {
		return h, err
	}
	t, err := phcUint(ps[1], "t=", 1, maxHashTime)
	if err != nil {
		return h, err
	}
	p, err := phcUint(ps[2], "p=", 1, 255)
	if err != nil {
		return h, err
	}
	if m < 8*p {
		return h, fmt.Errorf("%w: memory below 8*p", ErrMalformedHash)
	}
	salt, err := phcB64(parts[4], minSaltLen, maxSaltLen)
	if err != nil {
		return h, err
	}
	key, err := phcB64(parts[5], minKeyLen, maxKeyLen)
	if err != nil {
		return h, err
	}
	h.Params = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p), KeyLen: uint32(len(key)), SaltLen: uint32(len(salt))}
	h.Salt, h.Key = salt, key
	return h, nil
}

func phcUint(s, prefix string, lo, hi uint64) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%w: bad %s", ErrMalformedHash, strings.TrimSuffix(prefix, "="))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: bad %s", ErrMalformedHash, strings.TrimSuffix(prefix, "="))
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s out of range", ErrMalformedHash, strings.TrimSuffix(prefix, "="))
	}
	return n, nil
}

func phcB64(s string, lo, hi int) ([]byte, error) {
	if len(s) > b64.EncodedLen(hi) {
		return nil, fmt.Errorf("%w: field too long", ErrMalformedHash)
	}
	// encoding/base64 skips CR and LF even in strict mode; a PHC field
	// holds only the alphabet.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("%w: bad base64 field", ErrMalformedHash)
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) < lo || len(b) > hi {
		return nil, fmt.Errorf("%w: bad base64 field", ErrMalformedHash)
	}
	return b, nil
}
