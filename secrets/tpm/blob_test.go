package tpm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/iotbaseline/baseline/secrets"
)

func FuzzSplitBlob(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0xaa, 0, 1, 0xbb})
	f.Add([]byte{0, 1, 0xaa, 0, 1, 0xbb, 0})
	f.Add([]byte{0xff, 0xff, 1})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, priv, err := splitBlob(b)
		if err != nil {
			if !errors.Is(err, secrets.ErrWrongKEK) {
				t.Fatalf("error %v does not wrap ErrWrongKEK", err)
			}
			return
		}
		// What parses re-encodes to the input.
		re := append([]byte{byte(len(pub) >> 8), byte(len(pub))}, pub...)
		re = append(re, byte(len(priv)>>8), byte(len(priv)))
		re = append(re, priv...)
		if !bytes.Equal(re, b) {
			t.Fatalf("round trip mismatch")
		}
	})
}
