package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
	"github.com/iotbaseline/baseline/secrets"
)

// resetDevice is a device with its sealed store, a reset journal and,
// with cloud, the deletion queue as the reset's outbox.
func resetDevice(t testing.TB, dir string, cloud bool) *device {
	t.Helper()
	ctx := context.Background()
	store, err := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: testKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	d := &device{dir: dir, log: slog.New(slog.DiscardHandler), store: store}
	if cloud {
		d.reset.deleteAtService = d.deletionQueue()
	}
	if err := d.openReset(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.reset.resetter.Close() })
	return d
}

func jsonFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n
}

// The deletion request outlives the reset that erases the outbox: it
// waits in state/erase-requests, is moved into the (emptied) outbox at the
// next start exactly once, under the request ID, at the highest priority
// and without expiry; enqueueing it again after a power cut replaces it.
func TestDeletionQueueOutlivesReset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := resetDevice(t, dir, true)
	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: d.path("outbox")})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Enqueue(ctx, resilience.Message{Topic: topicState, Payload: []byte(`{"on":true}`)}); err != nil {
		t.Fatal(err)
	}
	ob.Close()
	os.MkdirAll(d.path("privacy"), 0o700)
	os.WriteFile(d.path("privacy/consent.log"), []byte("decisions"), 0o600)

	rc, err := d.reset.resetter.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"outbox", "privacy"} {
		if ents, _ := os.ReadDir(d.path(sub)); len(ents) != 0 {
			t.Errorf("state/%s not empty after the reset: %d entries", sub, len(ents))
		}
	}
	queue := d.path(eraseQueueDir)
	if n := jsonFiles(t, queue); n != 1 {
		t.Fatalf("%d queued deletion requests after the reset, want 1", n)
	}
	reqID := rc.Services[0].RequestID
	// erase enqueues again when power is lost before it journals the send.
	b, _ := os.ReadFile(filepath.Join(queue, mustOnlyJSON(t, queue)))
	var q queuedRequest
	json.Unmarshal(b, &q)
	if q.Key != reqID || q.Topic != erase.DefaultTopic || bytes.Contains(q.Payload, []byte("on")) {
		t.Fatalf("queued %+v, want request %s", q, reqID)
	}
	if err := d.reset.deleteAtService.Enqueue(ctx, q.Key, q.Topic, q.Payload); err != nil || jsonFiles(t, queue) != 1 {
		t.Fatalf("enqueueing the same request again: %v, %d files", err, jsonFiles(t, queue))
	}

	// The next start: moved to the outbox, once.
	ob, err = resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: d.path("outbox")})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	c := &cloudLink{log: d.log, outbox: ob, broker: "broker.invalid:8883"}
	for i := 0; i < 2; i++ {
		if err := c.forwardDeletionRequests(ctx, queue); err != nil {
			t.Fatal(err)
		}
	}
	msgs := ob.Pending(0)
	if len(msgs) != 1 || msgs[0].Key != reqID || msgs[0].Topic != erase.DefaultTopic || msgs[0].Priority != resilience.PriorityCritical || msgs[0].TTL != 0 {
		t.Fatalf("outbox after forwarding: %+v", msgs)
	}
	if n := jsonFiles(t, queue); n != 0 {
		t.Errorf("%d requests left in the queue after forwarding", n)
	}
	var dr erase.DeletionRequest
	if err := json.Unmarshal(msgs[0].Payload, &dr); err != nil || dr.RequestID != reqID || dr.ResetID != rc.ID {
		t.Errorf("forwarded payload %s: %v", msgs[0].Payload, err)
	}
	// A file the plug did not write is left alone and reported.
	os.WriteFile(filepath.Join(queue, "x.json"), []byte("{not json"), 0o600)
	if err := c.forwardDeletionRequests(ctx, queue); err == nil || len(ob.Pending(0)) != 1 {
		t.Errorf("an unreadable queued file: %v, %d pending", err, len(ob.Pending(0)))
	}
}

func mustOnlyJSON(t *testing.T, dir string) string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			return e.Name()
		}
	}
	t.Fatal("no queued request")
	return ""
}

// The service's confirmation: decoded strictly, only a final or
// in-progress status for a request of the last reset, and final once
// completed.
func TestEraseConfirmCommand(t *testing.T) {
	ctx := context.Background()
	d := resetDevice(t, t.TempDir(), true)
	rc, err := d.reset.resetter.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := rc.Services[0].RequestID
	run := func(args string) error {
		return d.eraseConfirmCommand(ctx, mqtt.Command{Name: cmdEraseConfirm, Args: []byte(args), Signed: true, Seq: 1})
	}
	for _, bad := range []string{``, `null`, `[]`, `{"request_id":"` + id + `","status":"pending"}`,
		`{"request_id":"` + id + `","status":"completed","extra":1}`, `{"request_id":"` + id + `","status":"completed"}{}`,
		`{"request_id":"0123","status":"completed"}`, `{"request_id":"` + id + `","status":"completed","confirmation":"` + strings.Repeat("x", erase.MaxConfirmation+1) + `"}`} {
		if err := run(bad); err == nil {
			t.Errorf("%.80s accepted", bad)
		}
	}
	if cur, _ := d.reset.resetter.Receipt(); cur.Services[0].Status != erase.Pending {
		t.Fatalf("a refused confirmation changed the status to %s", cur.Services[0].Status)
	}
	if err := run(fmt.Sprintf(`{"request_id":%q,"status":"in-progress"}`, id)); err != nil {
		t.Fatal(err)
	}
	if err := run(fmt.Sprintf(`{"request_id":%q,"status":"completed","confirmation":"DEL-9"}`, id)); err != nil {
		t.Fatal(err)
	}
	cur, _ := d.reset.resetter.Receipt()
	if s := cur.Services[0]; s.Status != erase.Completed || s.Confirmation != "DEL-9" || !cur.Complete() {
		t.Fatalf("after the confirmation: %+v", s)
	}
	if err := run(fmt.Sprintf(`{"request_id":%q,"status":"failed"}`, id)); !errors.Is(err, erase.ErrRequestFinal) {
		t.Errorf("a second answer after completion: %v", err)
	}
}

// FuzzEraseConfirmArgs: whatever the (signed) arguments say, the plug
// records an answer only for the last reset's request, with a status the
// service may send; anything else changes nothing.
func FuzzEraseConfirmArgs(f *testing.F) {
	for _, s := range []string{`{"request_id":"ID","status":"completed","confirmation":"c"}`, `{"request_id":"ID","status":"in-progress"}`,
		`{"request_id":"ID","status":"pending"}`, `{"request_id":"ID","status":"failed","confirmation":"\u0000"}`, `{"request_id":"","status":"completed"}`,
		`{"request_id":"ID"}`, `null`, `{}`, `{"request_id":1}`, ``} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	d := resetDevice(f, f.TempDir(), true)
	rc, err := d.reset.resetter.Reset(ctx)
	if err != nil {
		f.Fatal(err)
	}
	id := rc.Services[0].RequestID
	f.Fuzz(func(t *testing.T, args []byte) {
		args = bytes.ReplaceAll(args, []byte("ID"), []byte(id))
		before, _ := d.reset.resetter.Receipt()
		err := d.eraseConfirmCommand(ctx, mqtt.Command{Name: cmdEraseConfirm, Args: args, Signed: true, Seq: 1})
		after, _ := d.reset.resetter.Receipt()
		if err != nil {
			if before.Services[0] != after.Services[0] {
				t.Fatalf("%q refused (%v) but changed the status to %+v", args, err, after.Services[0])
			}
			return
		}
		var a eraseConfirmArgs
		if json.Unmarshal(args, &a) != nil || a.RequestID != id || after.Services[0].Status != a.Status || a.Status == erase.Pending {
			t.Fatalf("%q accepted: %+v", args, after.Services[0])
		}
	})
}
