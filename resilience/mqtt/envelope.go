package mqtt

import (
	"bytes"
	"errors"
)

// MaxKey is the longest idempotency key an envelope carries, the outbox's
// own limit.
const MaxKey = 128

// ErrEnvelope: a payload is not a well-formed envelope.
var ErrEnvelope = errors.New("mqtt: malformed message envelope")

// AppendEnvelope appends the wire form of one outbox message to dst: its
// idempotency key, a line feed, and the payload as given.
//
//	<key> LF <payload>
//
// MQTT 3.1.1 has no message properties, so the key travels in the payload;
// the service splits it off with OpenEnvelope and drops a message whose key
// it has seen. Keys are 1 to 128 printable ASCII bytes, so the first line
// feed always ends the key.
func AppendEnvelope(dst []byte, key string, payload []byte) []byte {
	dst = append(dst, key...)
	dst = append(dst, '\n')
	return append(dst, payload...)
}

// OpenEnvelope splits a message published by a Link into its idempotency
// key and payload, for the service's side. It refuses, with ErrEnvelope,
// a key that is empty, longer than MaxKey or not printable ASCII, and a
// missing line feed. The payload aliases b.
func OpenEnvelope(b []byte) (key string, payload []byte, err error) {
	i := bytes.IndexByte(b[:min(len(b), MaxKey+1)], '\n')
	if i < 1 {
		return "", nil, ErrEnvelope
	}
	for _, c := range b[:i] {
		if c < 0x20 || c > 0x7e {
			return "", nil, ErrEnvelope
		}
	}
	return string(b[:i]), b[i+1:], nil
}
