package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func FuzzDecodeInventory(f *testing.F) {
	good, err := os.ReadFile("testdata/inventory.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"version": "3",`), []byte(`"version": "3", "version": "4",`), 1))
	f.Add(bytes.Replace(good, []byte(`"consent"`), []byte(`"whim"`), 1))
	f.Add(append(bytes.Clone(good), "[]"...))
	f.Add([]byte(`{"schema":"baseline.privacy-inventory/v1","categories":[{"id":"a","storage":["cloud","cloud"]}]}`))
	f.Add([]byte(`[{"a":{"a":1,"a":2}}]`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := DecodeInventory(bytes.NewReader(data))
		if err != nil {
			var ie *InventoryError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInventory) || inv != nil {
				t.Fatalf("error %v (%T) is not an InventoryError, or an inventory came with it", err, err)
			}
			return
		}
		// What decodes is valid, builds a notice, and survives a round trip.
		if err := inv.Validate(); err != nil {
			t.Fatalf("decoded inventory does not validate: %v", err)
		}
		n, err := NewNotice(inv)
		if err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		inv2, err := DecodeInventory(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("re-encoded inventory refused: %v", err)
		}
		n2, _ := NewNotice(inv2)
		if n2.SHA256 != n.SHA256 {
			t.Fatal("round trip changed the notice")
		}
	})
}
