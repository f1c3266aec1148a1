package rauc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeState: the adapter's state file is read back at every start.
// Whatever it holds, decodeState returns a state that validates and
// re-encodes to something it accepts again, or ErrState; it never panics.
func FuzzDecodeState(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	rel := `{"path":"fw.raucb","version":"1.4.0","counter":8,"length":4096,"sha256":"` + sum + `","security":true}`
	for _, s := range []string{
		`{"format":1}`,
		`{"format":1,"staging":` + rel + `,"epoch":3}`,
		`{"format":1,"trial":{"release":` + rel + `,"from":"rootfs.0"}}`,
		`{"format":1,"trial":{"release":` + rel + `,"from":"rootfs.0","done":true,"slot":"rootfs.1"}}`,
		`{"format":1,"rejected":[{"release":` + rel + `,"reason":"health check failed","auto":true}]}`,
		`{"format":1,"installed":{"release":` + rel + `,"slot":"rootfs.1"}}`,
		`{"format":1,"installed":{"release":` + rel + `}}`,
		`{"format":2}`,
		`{"format":1,"installed":{"release":{"path":"x","counter":1,"length":0,"sha256":""}}}`,
		`{"format":1,"trial":{"release":` + rel + `,"from":"A","done":true}}`,
		`{"format":1,"unknown":1}`,
		`{"format":1} {"format":1}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		if err := st.validate(); err != nil {
			t.Fatalf("decoded state does not validate: %v", err)
		}
		again, err := json.Marshal(st.clone())
		if err != nil {
			t.Fatal(err)
		}
		st2, err := decodeState(again)
		if err != nil {
			t.Fatalf("re-encoded state refused: %v\n%s", err, again)
		}
		if b2, _ := json.Marshal(st2); !bytes.Equal(b2, again) {
			t.Fatalf("round trip changed the state:\n%s\n%s", again, b2)
		}
	})
}
