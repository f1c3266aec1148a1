package erase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outbox carries deletion requests to associated services (5.11-2). It has
// the contract of resilience.Outbox.Enqueue: when Enqueue returns nil the
// message is on flash and will be delivered at least once, carrying key as
// its idempotency key; enqueueing a key already pending is a no-op. erase
// cannot import resilience, so the device's main adapts it (PriorityCritical:
// a deletion request must never be dropped to make room):
//
//	erase.OutboxFunc(func(ctx context.Context, key, topic string, payload []byte) error {
//		return outbox.Enqueue(ctx, resilience.Message{
//			Key: key, Topic: topic, Payload: payload, Priority: resilience.PriorityCritical})
//	})
type Outbox interface {
	Enqueue(ctx context.Context, key, topic string, payload []byte) error
}

// OutboxFunc adapts a function to [Outbox].
type OutboxFunc func(ctx context.Context, key, topic string, payload []byte) error

// Enqueue implements Outbox.
func (f OutboxFunc) Enqueue(ctx context.Context, key, topic string, payload []byte) error {
	return f(ctx, key, topic, payload)
}

// DefaultTopic is the outbox topic of deletion requests when
// Service.Topic is empty.
const DefaultTopic = "erase.request"

// RequestStatus is where a deletion request at a service stands.
type RequestStatus string

const (
	// Pending: the request is on flash in the outbox, not yet confirmed.
	Pending RequestStatus = "pending"
	// InProgress: the service acknowledged the request and is deleting.
	InProgress RequestStatus = "in-progress"
	// Completed: the service confirmed the deletion.
	Completed RequestStatus = "completed"
	// Failed: the service refused or could not delete.
	Failed RequestStatus = "failed"
)

func (s RequestStatus) valid() bool {
	return s == Pending || s == InProgress || s == Completed || s == Failed
}

func (s RequestStatus) final() bool { return s == Completed || s == Failed }

// ServiceStatus is the state of one deletion request.
type ServiceStatus struct {
	// Service is the Service's Name.
	Service string `json:"service"`
	// RequestID identifies the request at the service; it is also the
	// outbox idempotency key.
	RequestID string        `json:"request_id"`
	Status    RequestStatus `json:"status"`
	// Confirmation is the service's reference for a completed (or the
	// reason code of a failed) deletion, as the service sent it: at most
	// MaxConfirmation printable ASCII bytes, never user data.
	Confirmation string    `json:"confirmation,omitempty"`
	Requested    time.Time `json:"requested"`
	Updated      time.Time `json:"updated"`
}

// MaxConfirmation bounds a service's confirmation reference.
const MaxConfirmation = 256

// DeletionRequest is the payload of the outbox message a service receives
// (JSON).
type DeletionRequest struct {
	Type      string    `json:"type"` // "erase.request"
	RequestID string    `json:"request_id"`
	Service   string    `json:"service"`
	ResetID   string    `json:"reset_id"`
	Requested time.Time `json:"requested"`
}

var (
	// ErrUnknownRequest: no deletion request of the last reset has that ID.
	ErrUnknownRequest = errors.New("erase: unknown deletion request")
	// ErrRequestFinal: the request already completed or failed.
	ErrRequestFinal = errors.New("erase: deletion request already final")
)

func requestID(resetID, service string) string { return resetID + "." + service }

func (r *Resetter) request(ctx context.Context, resetID, name string) error {
	svc, ok := r.cfg.Registry.service(name)
	if !ok {
		return errors.New("service in the journal's plan is not registered")
	}
	topic := svc.Topic
	if topic == "" {
		topic = DefaultTopic
	}
	now := r.now().UTC()
	id := requestID(resetID, name)
	payload, err := json.Marshal(DeletionRequest{Type: DefaultTopic, RequestID: id, Service: name, ResetID: resetID, Requested: now})
	if err != nil {
		return err
	}
	if err := r.cfg.Outbox.Enqueue(ctx, id, topic, payload); err != nil {
		return err
	}
	st := &ServiceStatus{Service: name, RequestID: id, Status: Pending, Requested: now, Updated: now}
	return r.appendRec(record{Op: opRequested, Service: st, At: now})
}

// UpdateService records a service's answer to a deletion request of the
// last reset: InProgress, Completed or Failed, with the service's
// confirmation reference. It is durable when it returns nil, and shows in
// the next Receipt. Completed and Failed are final.
func (r *Resetter) UpdateService(ctx context.Context, requestID string, status RequestStatus, confirmation string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if status == Pending || !status.valid() {
		return fmt.Errorf("erase: invalid request status %q", status)
	}
	if len(confirmation) > MaxConfirmation || !printable(confirmation) {
		return errors.New("erase: confirmation must be at most 256 printable ASCII bytes")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var cur *ServiceStatus
	if r.st != nil {
		for _, s := range r.st.services {
			if s.RequestID == requestID {
				cur = s
			}
		}
	}
	if cur == nil {
		return ErrUnknownRequest
	}
	if cur.Status.final() {
		return ErrRequestFinal
	}
	next := *cur
	next.Status, next.Confirmation, next.Updated = status, confirmation, r.now().UTC()
	rec := record{Op: opService, Service: &next, At: next.Updated}
	b, err := rec.marshal()
	if err != nil {
		return err
	}
	return r.appendLocked(rec, b)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
