package erase

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// memOutbox records enqueued messages, deduplicating on key like
// resilience.Outbox.
type memOutbox struct {
	keys     []string
	topics   []string
	payloads [][]byte
	fail     error
}

func (m *memOutbox) Enqueue(ctx context.Context, key, topic string, payload []byte) error {
	if m.fail != nil {
		return m.fail
	}
	for _, k := range m.keys {
		if k == key {
			return nil
		}
	}
	m.keys, m.topics, m.payloads = append(m.keys, key), append(m.topics, topic), append(m.payloads, payload)
	return nil
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func resetWithService(t *testing.T) (*Resetter, *Receipt, *memOutbox) {
	t.Helper()
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	plant(t, fsys, "/data/wifi", 2)
	plant(t, fsys, "/data/logs", 1)
	reg, _ := dirRegistry(fsys)
	reg.AddService(Service{Name: "cloud", Holds: "your usage history"})
	ob := &memOutbox{}
	r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg, Outbox: ob, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r, rc, ob
}

func testKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestReceiptSignVerify(t *testing.T) {
	_, rc, _ := resetWithService(t)
	key := testKey(t)
	data, err := Sign(rc, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyReceipt(data, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rc.ID || len(got.Stores) != 2 || len(got.Services) != 1 || got.Services[0].Status != Pending {
		t.Errorf("verified receipt = %+v", got)
	}
	if !got.Stores[0].Verified() || got.Stores[0].Items != 2 || got.Stores[0].Category != WiFi {
		t.Errorf("store receipt = %+v", got.Stores[0])
	}
	// No personal data: the planted contents and file names are absent.
	var body signedReceipt
	json.Unmarshal(data, &body)
	if bytes.Contains(body.Receipt, []byte("USERDATA")) || bytes.Contains(body.Receipt, []byte("sub")) {
		t.Errorf("receipt carries user data: %s", body.Receipt)
	}

	other := testKey(t)
	if _, err := VerifyReceipt(data, &other.PublicKey); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("other key: %v", err)
	}
	if _, err := VerifyReceipt(append(bytes.Clone(data), ` {}`...), &key.PublicKey); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("trailing data accepted: %v", err)
	}
	// Tampering with the signed bytes: claim a store was verified that was not.
	var sr signedReceipt
	json.Unmarshal(data, &sr)
	sr.Receipt = bytes.Replace(sr.Receipt, []byte(`"items":2`), []byte(`"items":9`), 1)
	forged, _ := json.Marshal(sr)
	if _, err := VerifyReceipt(forged, &key.PublicKey); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("tampered receipt accepted: %v", err)
	}
	// An unknown field inside a correctly signed receipt is refused.
	var m map[string]any
	json.Unmarshal(sr.Receipt, &m)
	m["name"] = "Alice"
	newBody, _ := json.Marshal(m)
	if _, err := VerifyReceipt(resign(t, newBody, key), &key.PublicKey); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("unknown field accepted: %v", err)
	}
	if _, err := VerifyReceipt(bytes.Repeat([]byte(" "), MaxReceiptSize+1), &key.PublicKey); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("oversized input: %v", err)
	}
}

func resign(t *testing.T, body []byte, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	sig, err := signBody(body, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(signedReceipt{Receipt: body, Alg: algECDSA, Sig: sig})
	return b
}

func TestConfirmationText(t *testing.T) {
	r, rc, _ := resetWithService(t)
	txt := rc.Confirmation()
	for _, want := range []string{
		"completed on 2026-03-01 12:00 UTC",
		"Wi-Fi networks and their passwords: deleted, checked: empty.",
		"event and security logs: overwritten and deleted, checked: empty.",
		"cloud (request " + rc.ID + ".cloud): deletion requested, waiting for the service to confirm.",
		"Some deletions are not yet confirmed",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, txt)
		}
	}
	if err := r.UpdateService(context.Background(), rc.ID+".cloud", Completed, "DSR-77"); err != nil {
		t.Fatal(err)
	}
	rc2, _ := r.Receipt()
	txt = rc2.Confirmation()
	if !strings.Contains(txt, "the service confirmed the deletion, reference DSR-77.") || !strings.Contains(txt, "All your data was deleted.") {
		t.Errorf("confirmation after the service confirmed:\n%s", txt)
	}
}
