package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// Deletion requests to the associated service (5.11-2).
//
// A factory reset erases state/outbox, the queue of everything else the
// plug sends (switch reports and telemetry are the owner's data), and only
// then, once every store is verified empty, hands erase its deletion
// requests. They cannot go into that outbox: it is closed for the reset
// (its files are being erased) and a reset resumed after power loss could
// erase it again. So erase's Outbox is a queue of its own,
// state/erase-requests: one small file per request, written atomically
// and durably (durable.WriteFile) before Enqueue returns, named by a hash
// of the request ID (so a request erase enqueues again after power loss
// replaces itself), and not registered with the reset. It holds the
// request and reset IDs, the service's name and a time, no personal data.
//
// At every start with --cloud, before the link connects, the plug moves
// each queued request into the outbox (resilience.PriorityCritical, no
// expiry, the request ID as idempotency key) and only then removes its
// file: a power cut between the two leaves the file, and moving it again
// is a no-op while the first copy is pending (or a duplicate the service
// drops by its key once delivered). Since the plug restarts after every
// reset, the request is on its way as soon as the plug is back; a plug
// restarted without --cloud keeps the file until it is started with it.
// A second reset before the first request was delivered erases that one
// with the outbox; its own request, for the same device, replaces it (and
// the receipt tracks only the last reset's requests).
//
// The service confirms with the signed command "erase.confirm"
// ({"request_id", "status", "confirmation"}), verified against
// --cloud-command-key by resilience/mqtt like every command that changes
// something, and the plug records its answer with Resetter.UpdateService:
// the Reset page and GET /api/reset show it with the last receipt.
const (
	eraseQueueDir = "erase-requests"
	// maxQueuedRequest bounds one queued request file.
	maxQueuedRequest = 8 << 10
	// cmdEraseConfirm is the service's answer to a deletion request.
	cmdEraseConfirm = "erase.confirm"
)

// queuedRequest is one file of state/erase-requests.
type queuedRequest struct {
	Key     string `json:"key"`
	Topic   string `json:"topic"`
	Payload []byte `json:"payload"`
}

// deletionQueue is erase's Outbox on a plug with an associated service.
func (d *device) deletionQueue() erase.Outbox {
	return erase.OutboxFunc(func(ctx context.Context, key, topic string, payload []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := d.path(eraseQueueDir)
		if err := mkdirDurable(dir); err != nil {
			return err
		}
		b, err := json.Marshal(queuedRequest{Key: key, Topic: topic, Payload: payload})
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(key))
		return durable.WriteFile(durable.OS, filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), b, 0o600)
	})
}

// mkdirDurable creates dir if it is missing and syncs its parent, so the
// directory entry survives power loss with the files written in it.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// forwardDeletionRequests moves the queued deletion requests into the
// outbox, each file removed only once its request is on flash there.
func (c *cloudLink) forwardDeletionRequests(ctx context.Context, dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue // durable.WriteFile's temporary files, left by a power cut
		}
		name := filepath.Join(dir, e.Name())
		b, err := durable.ReadFile(durable.OS, name, maxQueuedRequest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var q queuedRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil || q.Key == "" || q.Topic == "" {
			// Not written by this plug as it is; keep it for whoever
			// looks, and say so.
			errs = append(errs, fmt.Errorf("queued deletion request %s unreadable", e.Name()))
			continue
		}
		if err := c.outbox.Enqueue(ctx, resilience.Message{Key: q.Key, Topic: q.Topic, Priority: resilience.PriorityCritical, Payload: q.Payload}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := durable.Remove(durable.OS, name); err != nil {
			errs = append(errs, err)
			continue
		}
		c.log.Info("deletion request queued for the associated service", "request", q.Key)
	}
	return errors.Join(errs...)
}

// eraseConfirmArgs are the arguments of the service's erase.confirm.
type eraseConfirmArgs struct {
	RequestID    string              `json:"request_id"`
	Status       erase.RequestStatus `json:"status"`
	Confirmation string              `json:"confirmation"`
}

// eraseConfirmCommand records the service's answer to a deletion request
// of the last reset. It is registered only with --cloud-command-key, so
// it runs only when signed by the service (a broker cannot mark a
// deletion done).
func (d *device) eraseConfirmCommand(ctx context.Context, cmd mqtt.Command) error {
	var a eraseConfirmArgs
	dec := json.NewDecoder(bytes.NewReader(cmd.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return errors.New("erase.confirm: arguments must be {\"request_id\", \"status\", \"confirmation\"}")
	}
	if dec.More() {
		return errors.New("erase.confirm: trailing data after the arguments")
	}
	switch a.Status {
	case erase.InProgress, erase.Completed, erase.Failed:
	default:
		return errors.New("erase.confirm: status must be in-progress, completed or failed")
	}
	if d.reset.resetter == nil {
		return errors.New("erase.confirm: no factory reset on record")
	}
	if err := d.reset.resetter.UpdateService(ctx, a.RequestID, a.Status, a.Confirmation); err != nil {
		return fmt.Errorf("erase.confirm: %w", err)
	}
	d.log.Info("associated service answered a deletion request", "request", a.RequestID, "status", a.Status)
	return nil
}

// checkResetService is the self-check smartplug.reset-service (5.11-2):
// with an associated service, the reset registers it, its deletion
// requests go to state/erase-requests, which lies outside every store the
// reset erases and takes a durable write now, and the service's signed
// confirmation has a command to arrive by. Without --cloud it passes only
// when nothing waits for a service from an earlier start with --cloud: the
// running plug then sends nothing to any service, and its receipt says
// there is nothing to delete elsewhere.
func (d *device) checkResetService(ctx context.Context) conformance.Result {
	reg := d.resetRegistry()
	queue := d.path(eraseQueueDir)
	if d.reset.deleteAtService == nil {
		// Fully local: the running plug has no link and queues nothing
		// for any service (cloudLink.report, publish and the telemetry
		// exporter send nothing without --cloud), so no service holds
		// anything from this run. What an earlier start with --cloud left
		// waiting shows that a service was configured before.
		waiting := countJSON(queue)
		if d.cloud != nil {
			waiting += d.cloud.outbox.Stats().Pending
		}
		if d.cloud != nil && d.cloud.configured() || len(reg.Services()) != 0 {
			return conformance.Result{Verdict: conformance.Fail, Detail: "the plug has a link to a service but its reset would not ask it to delete anything"}
		}
		if waiting > 0 {
			return conformance.Result{Verdict: conformance.Inconclusive, Observed: fmt.Sprintf("--cloud not given; %d message(s) for an associated service wait from an earlier start with --cloud", waiting),
				Detail: "the plug was connected to an associated service before: start it with --cloud so that what waits (deletion requests among it) is delivered, and so that a reset asks the service to delete"}
		}
		return conformance.Result{Verdict: conformance.Pass, Observed: "--cloud not given: the running plug has no link to any service and nothing queued for one, its reset registry names no service, and its receipt says there is nothing to delete elsewhere"}
	}
	if len(reg.Services()) != 1 || reg.Services()[0].Name != cloudService {
		return conformance.Result{Verdict: conformance.Fail, Detail: "the plug has an associated service but the reset registry does not name it"}
	}
	for _, e := range reg.Entries() {
		var p string
		switch s := e.Eraser.(type) {
		case *erase.DirStore:
			p = s.Dir
		case *fileStore:
			p = d.path(s.file)
		default:
			continue
		}
		if rel, err := filepath.Rel(p, queue); err == nil && !strings.HasPrefix(rel, "..") {
			return conformance.Result{Verdict: conformance.Fail, Detail: "the deletion requests' queue lies inside the store " + e.Eraser.Name() + ", which the reset erases before it queues them"}
		}
	}
	if err := mkdirDurable(queue); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "the deletion requests' queue cannot be created: " + err.Error()}
	}
	probe := filepath.Join(queue, "selfcheck.probe") // not .json: never forwarded
	if err := durable.WriteFile(durable.OS, probe, []byte("probe"), 0o600); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "a durable write to the deletion requests' queue failed"}
	}
	if err := durable.Remove(durable.OS, probe); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "the self-check's probe could not be removed from the deletion requests' queue"}
	}
	queued := countJSON(queue)
	obs := fmt.Sprintf("the reset names the associated service %q; its deletion requests go to state/%s, outside all %d erased stores, which took a durable write; %d request(s) wait there for the next start with --cloud",
		cloudService, eraseQueueDir, len(reg.Entries()), queued)
	if d.reset.resetter != nil {
		if rc, err := d.reset.resetter.Receipt(); err == nil {
			for _, s := range rc.Services {
				obs += fmt.Sprintf("; last reset's request to %s: %s", s.Service, s.Status)
			}
		}
	}
	if d.cloud == nil || d.cloud.link == nil || !d.cloud.signedCommands {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "the plug sends deletion requests, but without --cloud-command-key it cannot take the service's signed confirmation, so a deletion is never shown as completed"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs + "; the service's confirmation arrives as the signed command " + cmdEraseConfirm}
}

// countJSON counts the queued requests (.json files) in dir.
func countJSON(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n
}
