package update

import (
	"reflect"
	"testing"
)

// FuzzDecodePolicy: decodePolicy never panics, and whatever it accepts
// encodes and decodes back to the same policy.
func FuzzDecodePolicy(f *testing.F) {
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte(`{"v":1,"autoInstallOff":true}}`))
	f.Add([]byte(`{"v":1,"autoInstallOff":true}]`))
	for _, s := range []string{
		`{"v":1}`,
		`{"v":1,"autoInstallOff":true,"notificationsOff":true}`,
		`{"v":1,"postponed":{"counter":3,"security":true,"at":"2026-03-01T12:00:00Z","until":"2026-03-04T12:00:00Z"}}`,
		`{"v":1,"postponed":{"counter":5,"at":"2026-03-01T12:00:00Z"}}`,
		`{"v":1}{"v":1}`,
		`{"v":1,"x":0}`,
		`{"v":2}`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePolicy(data)
		if err != nil {
			return
		}
		enc, err := encodePolicy(p)
		if err != nil {
			t.Fatalf("accepted policy does not encode: %v", err)
		}
		q, err := decodePolicy(enc)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", p, enc, q, err)
		}
	})
}
