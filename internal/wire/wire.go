// Package wire reads and writes the SDK's small binary records (the auth
// throttle log and session tokens, the resilience outbox segments): varints
// and length-prefixed fields. A read past the end or over a caller's limit
// never panics: it marks the [Reader] failed and returns a zero value, so a
// decoder reads every field and checks [Reader.Failed] once.
package wire

import "encoding/binary"

// Reader decodes fields from a byte slice it does not copy.
type Reader struct {
	b      []byte
	failed bool
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Failed reports whether any read ran past the end, met a malformed varint or
// exceeded its limit, or Fail was called.
func (r *Reader) Failed() bool { return r.failed }

// Fail marks the reader failed, for a decoder that finds a field it refuses.
func (r *Reader) Fail() { r.failed = true }

// Len returns the number of bytes not yet read.
func (r *Reader) Len() int { return len(r.b) }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.failed = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.failed = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.failed = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads a length-prefixed field of at most max bytes. The result
// aliases the input (its capacity is cut to its length, so appending to it
// cannot overwrite what follows).
func (r *Reader) Bytes(max int) []byte {
	n := r.Uvarint()
	if r.failed || n > uint64(max) || n > uint64(len(r.b)) {
		r.failed = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// String reads a length-prefixed field of at most max bytes as a string.
func (r *Reader) String(max int) string { return string(r.Bytes(max)) }

// AppendBytes appends p with its length prefix, as Reader.Bytes reads it.
func AppendBytes(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// AppendString appends s with its length prefix, as Reader.String reads it.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
