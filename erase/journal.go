package erase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// maxRecord bounds one journal record; maxPlan bounds the stores and
// services one plan may name.
const (
	maxRecord = 64 << 10
	maxPlan   = 256
)

// Journal operations.
const (
	opPlan       = "plan"       // ID, Stores (erase order), Services
	opErased     = "erased"     // Store, Receipt
	opVerified   = "verified"   // Store, Verification
	opUnverified = "unverified" // Store: found not empty, erase again
	opRequested  = "requested"  // Service (status pending)
	opService    = "service"    // Service (status update)
	opDone       = "done"
)

// record is one journal entry, JSON in a durable.Log frame.
type record struct {
	Op           string         `json:"op"`
	ID           string         `json:"id,omitempty"`
	Stores       []string       `json:"stores,omitempty"`
	Services     []string       `json:"services,omitempty"`
	Store        string         `json:"store,omitempty"`
	Receipt      *StoreReceipt  `json:"receipt,omitempty"`
	Verification Verification   `json:"verification,omitempty"`
	Service      *ServiceStatus `json:"service,omitempty"`
	At           time.Time      `json:"at"`
}

func (rec record) marshal() ([]byte, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("erase: journal: %w", err)
	}
	return b, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and anything after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// state is what the journal says about the current (or last) reset.
type state struct {
	id                string
	started, finished time.Time
	order             []string
	serviceOrder      []string
	erased            map[string]bool
	verified          map[string]bool
	receipts          map[string]StoreReceipt
	verification      map[string]Verification
	services          map[string]*ServiceStatus
	done              bool
}

func newState() *state {
	return &state{
		erased: map[string]bool{}, verified: map[string]bool{},
		receipts: map[string]StoreReceipt{}, verification: map[string]Verification{},
		services: map[string]*ServiceStatus{},
	}
}

func (s *state) clone() *state {
	c := *s
	c.erased, c.verified = maps.Clone(s.erased), maps.Clone(s.verified)
	c.receipts, c.verification = maps.Clone(s.receipts), maps.Clone(s.verification)
	c.services = map[string]*ServiceStatus{}
	for k, v := range s.services {
		vv := *v
		c.services[k] = &vv
	}
	return &c
}

func (s *state) inPlan(name string) bool {
	for _, n := range s.order {
		if n == name {
			return true
		}
	}
	return false
}

// apply updates the state with one record, refusing records that do not
// fit the plan.
func (s *state) apply(rec record) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s record: %s", ErrJournal, rec.Op, why) }
	if rec.Op != opPlan && s.id == "" {
		return bad("before the plan")
	}
	switch rec.Op {
	case opPlan:
		if s.id != "" {
			return bad("second plan")
		}
		if len(rec.ID) != 32 || len(rec.Stores) > maxPlan || len(rec.Services) > maxPlan {
			return bad("malformed")
		}
		seen := map[string]bool{}
		for _, n := range append(append([]string(nil), rec.Stores...), rec.Services...) {
			if !validName(n) || seen[n] {
				return bad("bad or repeated name")
			}
			seen[n] = true
		}
		s.id, s.started, s.order, s.serviceOrder = rec.ID, rec.At, rec.Stores, rec.Services
	case opErased:
		if !s.inPlan(rec.Store) || rec.Receipt == nil {
			return bad("unknown store")
		}
		s.erased[rec.Store] = true
		s.receipts[rec.Store] = *rec.Receipt
	case opVerified:
		if !s.inPlan(rec.Store) || !s.erased[rec.Store] || !rec.Verification.valid() {
			return bad("unknown or unerased store")
		}
		s.verified[rec.Store] = true
		s.verification[rec.Store] = rec.Verification
	case opUnverified:
		if !s.inPlan(rec.Store) {
			return bad("unknown store")
		}
		s.erased[rec.Store] = false
	case opRequested, opService:
		if rec.Service == nil || !rec.Service.Status.valid() {
			return bad("malformed service status")
		}
		found := false
		for _, n := range s.serviceOrder {
			found = found || n == rec.Service.Service
		}
		if !found {
			return bad("unknown service")
		}
		v := *rec.Service
		s.services[v.Service] = &v
	case opDone:
		s.done, s.finished = true, rec.At
	default:
		return bad("unknown operation")
	}
	return nil
}

// replay reads the journal; nil state means no reset was ever started.
func replay(l *durable.Log) (*state, error) {
	var st *state
	err := l.Scan(func(_ int64, b []byte) error {
		var rec record
		if err := decodeStrict(b, &rec); err != nil {
			return fmt.Errorf("%w: %v", ErrJournal, err)
		}
		if st == nil {
			st = newState()
		}
		return st.apply(rec)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
