package erase

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"testing"
)

// fuzzKey is a fixed P-256 key so that seeds signed with it verify in every
// run (the scalar is arbitrary; it guards nothing).
func fuzzKey() *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("erase fuzz key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	return k
}

// FuzzVerifyReceipt: VerifyReceipt never panics, returns a receipt only
// with a valid signature, and what it returns passes its own checks and
// signs again into something that verifies.
func FuzzVerifyReceipt(f *testing.F) {
	key := fuzzKey()
	rc := &Receipt{
		Format: ReceiptFormat, ID: "00112233445566778899aabbccddeeff",
		Stores: []StoreReceipt{
			{Store: "secrets", Category: Secrets, Method: CryptoErase, Items: 3, Verification: VerifiedEmpty},
			{Store: "wifi", Category: WiFi, Method: Delete, Items: 1, Verification: NoVerifier},
		},
		Services: []ServiceStatus{{Service: "cloud", RequestID: "00112233445566778899aabbccddeeff.cloud", Status: Completed, Confirmation: "DSR-1"}},
	}
	good, err := Sign(rc, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(append(append([]byte(nil), good...), ' ', '{', '}'))
	f.Add(append(append([]byte(nil), good...), '}'))
	f.Add(append(append([]byte(nil), good...), ']'))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte(`{"receipt":{},"alg":"ecdsa-sha256","sig":""}`))
	f.Add([]byte(`{"receipt":null,"alg":"ed25519","sig":"AAAA","x":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := VerifyReceipt(data, &key.PublicKey)
		if err != nil {
			if got != nil {
				t.Fatal("receipt returned with an error")
			}
			return
		}
		if err := got.check(); err != nil {
			t.Fatalf("verified receipt fails its own check: %v", err)
		}
		again, err := Sign(got, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyReceipt(again, &key.PublicKey); err != nil {
			t.Fatalf("re-signed receipt does not verify: %v", err)
		}
	})
}
