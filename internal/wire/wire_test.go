package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = AppendBytes(b, []byte("payload"))
	b = AppendString(b, "key")
	r := NewReader(b)
	if r.Byte() != 7 || r.Uvarint() != 300 || r.Varint() != -5 || !bytes.Equal(r.Bytes(16), []byte("payload")) || r.String(3) != "key" {
		t.Fatal("round trip differs")
	}
	if r.Failed() || r.Len() != 0 {
		t.Fatalf("failed %v, %d bytes left", r.Failed(), r.Len())
	}
}

func TestLimitsAndTruncation(t *testing.T) {
	b := AppendString(nil, "four")
	if r := NewReader(b); r.String(3) != "" || !r.Failed() {
		t.Fatal("field over its limit accepted")
	}
	if r := NewReader(b[:3]); r.String(10) != "" || !r.Failed() {
		t.Fatal("truncated field accepted")
	}
	r := NewReader(nil)
	if r.Byte() != 0 || r.Uvarint() != 0 || r.Varint() != 0 || !r.Failed() {
		t.Fatal("reads past the end did not fail")
	}
	v := NewReader(AppendBytes(nil, []byte("ab"))).Bytes(2)
	if cap(v) != 2 {
		t.Fatalf("Bytes result has capacity %d: appending would overwrite the input", cap(v))
	}
}

// FuzzReader: no input makes a read panic, and a failed reader stays failed.
func FuzzReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendString([]byte{1, 2}, "abc"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		for range 8 {
			r.Byte()
			r.Uvarint()
			r.Varint()
			if v := r.Bytes(64); len(v) > 64 {
				t.Fatalf("Bytes returned %d bytes over a limit of 64", len(v))
			}
		}
		if r.Len() > len(b) {
			t.Fatal("reader grew")
		}
	})
}
