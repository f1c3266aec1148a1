package erase

import (
	"bytes"
	"errors"
	"testing"
)

// TestReceiptRefusesTrailingData: a signed receipt, and the receipt inside
// it, are one JSON document and nothing after it, not even a lone '}' or
// ']' (which json.Decoder.More does not report) (issue #12, "Bad input").
// decodeStrict is also what the reset journal is read with.
func TestReceiptRefusesTrailingData(t *testing.T) {
	key := fuzzKey()
	good, err := Sign(&Receipt{
		Format: ReceiptFormat, ID: "00112233445566778899aabbccddeeff",
		Stores: []StoreReceipt{{Store: "wifi", Category: WiFi, Method: Delete, Items: 1, Verification: NoVerifier}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	good = bytes.TrimSpace(good)
	if _, err := VerifyReceipt(append(bytes.Clone(good), '\n'), &key.PublicKey); err != nil {
		t.Fatalf("the valid receipt is refused: %v", err)
	}
	tails := []string{"}", "]", " {}", `{"b":2}`, " x"}
	for _, tail := range tails {
		if _, err := VerifyReceipt(append(bytes.Clone(good), tail...), &key.PublicKey); !errors.Is(err, ErrBadReceipt) {
			t.Errorf("receipt with %q after it: %v; want ErrBadReceipt", tail, err)
		}
		var v struct {
			A int `json:"a"`
		}
		if err := decodeStrict([]byte(`{"a":1}`+tail), &v); err == nil {
			t.Errorf("decodeStrict accepted %q after the document", tail)
		}
	}
}
