package erase_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/resilience"
)

// TestRealOutboxAdapter wires a real resilience.Outbox the way a device's
// main does (erase cannot import resilience) and checks that the reset's
// deletion request is on the outbox with the request ID as idempotency key,
// and that a resumed reset does not queue it twice.
func TestRealOutboxAdapter(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{FS: fsys, Dir: "/persist/outbox"})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	adapter := erase.OutboxFunc(func(ctx context.Context, key, topic string, payload []byte) error {
		return ob.Enqueue(ctx, resilience.Message{Key: key, Topic: topic, Payload: payload, Priority: resilience.PriorityCritical})
	})
	reg := erase.NewRegistry().
		Add(&erase.DirStore{StoreName: "wifi", Dir: "/data/wifi", FS: fsys}, erase.WiFi).
		AddService(erase.Service{Name: "cloud"})
	r, err := erase.Open(ctx, erase.Config{FS: fsys, Journal: "/persist/erase.journal", Registry: reg, Outbox: adapter})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Enqueue again with the same key, as a resume after power loss would.
	var req erase.DeletionRequest
	msgs := ob.Pending(0)
	if len(msgs) != 1 {
		t.Fatalf("outbox holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		t.Fatal(err)
	}
	if m.Key != rc.Services[0].RequestID || m.Topic != erase.DefaultTopic || req.RequestID != m.Key || req.ResetID != rc.ID {
		t.Errorf("message key %q topic %q payload %+v; receipt %+v", m.Key, m.Topic, req, rc.Services)
	}
	if err := adapter.Enqueue(ctx, m.Key, m.Topic, m.Payload); err != nil {
		t.Fatal(err)
	}
	if n := len(ob.Pending(0)); n != 1 {
		t.Errorf("re-enqueue of the same request: %d messages", n)
	}
}
