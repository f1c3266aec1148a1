package rauc_test

import (
	"os"
	"testing"

	"github.com/iotbaseline/baseline/update/rauc"
)

func FuzzParseStatus(f *testing.F) {
	for _, name := range []string{"testdata/status-1.8.json", "testdata/status-1.8-detailed.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"booted":"A","slots":[]}`))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte(`{"booted":"A","slots":[]}}`))
	f.Add([]byte(`{"booted":"A","slots":[]}]`))
	f.Add([]byte(`{"booted":"A","boot_primary":null,"slots":[{"a":{"state":"booted","boot_status":null}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := rauc.ParseStatus(b)
		if err != nil {
			return
		}
		if len(st.Slots) > rauc.MaxSlots {
			t.Fatalf("%d slots", len(st.Slots))
		}
		booted := 0
		names := map[string]bool{}
		for _, s := range st.Slots {
			if names[s.Name] {
				t.Fatalf("duplicate slot %q", s.Name)
			}
			names[s.Name] = true
			switch s.State {
			case "booted":
				booted++
			case "active", "inactive":
			default:
				t.Fatalf("state %q", s.State)
			}
			if s.BootStatus != "" && s.BootStatus != "good" && s.BootStatus != "bad" {
				t.Fatalf("boot status %q", s.BootStatus)
			}
		}
		if booted > 1 || (st.Primary != "" && !names[st.Primary]) {
			t.Fatalf("inconsistent status accepted: %+v", st)
		}
		st.PendingReboot()
	})
}
