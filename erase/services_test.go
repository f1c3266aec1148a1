package erase

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

func TestDeletionRequestsThroughOutbox(t *testing.T) {
	ctx := context.Background()
	r, rc, ob := resetWithService(t)
	id := rc.ID + ".cloud"
	if len(ob.keys) != 1 || ob.keys[0] != id || ob.topics[0] != DefaultTopic {
		t.Fatalf("outbox got keys %v topics %v, want one request %s", ob.keys, ob.topics, id)
	}
	var req DeletionRequest
	if err := decodeStrict(ob.payloads[0], &req); err != nil {
		t.Fatal(err)
	}
	if req.RequestID != id || req.Service != "cloud" || req.ResetID != rc.ID || req.Type != "erase.request" {
		t.Errorf("request payload = %+v", req)
	}
	if s := rc.Services[0]; s.Status != Pending || s.RequestID != id {
		t.Errorf("service status = %+v", s)
	}

	if err := r.UpdateService(ctx, "nope", Completed, ""); !errors.Is(err, ErrUnknownRequest) {
		t.Errorf("unknown request: %v", err)
	}
	if err := r.UpdateService(ctx, id, InProgress, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateService(ctx, id, Completed, "bad\nref"); err == nil {
		t.Error("a confirmation with a control character was accepted")
	}
	if err := r.UpdateService(ctx, id, Completed, "DSR-2026-0042"); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateService(ctx, id, Failed, "late"); !errors.Is(err, ErrRequestFinal) {
		t.Errorf("update after completion: %v", err)
	}
	// The service's confirmation is durable: it is in the receipt after a restart.
	r.Close()
	r2, err := Open(ctx, Config{FS: r.fsys.(*durable.CrashFS).Reboot(durable.DropUnsynced), Journal: journalPath, Registry: r.cfg.Registry, Outbox: ob})
	if err != nil {
		t.Fatal(err)
	}
	rc2, err := r2.Receipt()
	if err != nil {
		t.Fatal(err)
	}
	if s := rc2.Services[0]; s.Status != Completed || s.Confirmation != "DSR-2026-0042" || !rc2.Complete() {
		t.Errorf("service status after restart = %+v", s)
	}
}

// TestOutboxFailureRetried: an outbox that refuses leaves the reset
// pending with the service named; Resume sends the request, once.
func TestOutboxFailureRetried(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	reg, _ := dirRegistry(fsys)
	reg.AddService(Service{Name: "cloud", Topic: "dsr"})
	ob := &memOutbox{fail: errors.New("disk full")}
	r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg, Outbox: ob})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Reset(ctx)
	var se *StoreError
	if !errors.Is(err, ErrIncomplete) || !errors.As(err, &se) || se.Store != "cloud" || se.Op != "request" {
		t.Fatalf("Reset = %v", err)
	}
	ob.fail = nil
	rc, err := r.Resume(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ob.keys) != 1 || ob.topics[0] != "dsr" || rc.Services[0].Status != Pending {
		t.Errorf("after resume: keys %v, receipt %+v", ob.keys, rc.Services)
	}
}

// TestResetWithServiceCrashAtEveryBoundary: after power loss anywhere, the
// resumed reset has enqueued exactly one request per service (the outbox
// deduplicates on the request ID, which is the same after the reboot).
func TestResetWithServiceCrashAtEveryBoundary(t *testing.T) {
	ctx := context.Background()
	var ob *memOutbox
	open := func(fsys durable.FS) (*Resetter, error) {
		reg, _ := dirRegistry(fsys)
		reg.AddService(Service{Name: "cloud"}).AddService(Service{Name: "voice"})
		return Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg, Outbox: ob})
	}
	setup := func(fsys *durable.CrashFS) {
		ob = &memOutbox{} // survives the "reboot", as a durable outbox does
		plant(t, fsys, "/data/wifi", 2)
	}
	run := func(fsys *durable.CrashFS) error {
		r, err := open(fsys)
		if err != nil {
			return err
		}
		_, err = r.Reset(ctx)
		return err
	}
	durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		r, err := open(fsys)
		if err != nil {
			t.Fatalf("crash at %d: %v", point, err)
		}
		rc, err := r.Resume(ctx)
		if err != nil {
			t.Fatalf("crash at %d: %v", point, err)
		}
		if rc == nil {
			if rc, err = r.Receipt(); err != nil {
				if len(ob.keys) != 0 {
					t.Errorf("crash at %d: requests sent for a reset that never started", point)
				}
				return
			}
		}
		if len(ob.keys) != 2 || len(rc.Services) != 2 {
			t.Errorf("crash at %d (%v): outbox keys %v, receipt services %v", point, mode, ob.keys, rc.Services)
		}
		for i, p := range ob.payloads {
			var req DeletionRequest
			json.Unmarshal(p, &req)
			if req.ResetID != rc.ID || ob.keys[i] != req.RequestID {
				t.Errorf("crash at %d: request %+v does not belong to reset %s", point, req, rc.ID)
			}
		}
	})
}
