package erase

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

var (
	// ErrInProgress: another reset is running in this process. Nothing was
	// changed by the refused call.
	ErrInProgress = errors.New("erase: a factory reset is already running")
	// ErrBusy: the device's Busy hook said the reset must wait (an update
	// is installing). Nothing was changed. The error is a *BusyError.
	ErrBusy = errors.New("erase: device busy, factory reset refused")
	// ErrIncomplete: some step of the reset failed; the journal keeps it
	// open and Resume (or Reset) retries the steps that did not complete.
	ErrIncomplete = errors.New("erase: factory reset incomplete")
	// ErrJournal: the reset journal holds a record this build cannot read.
	ErrJournal = errors.New("erase: reset journal corrupt")
	// ErrNoReceipt: no reset has completed yet.
	ErrNoReceipt = errors.New("erase: no completed factory reset")
)

// Busy is the hook a device provides so that a reset never races an
// update: while Busy reports true (an image is being written, the A/B
// switch is pending), Reset refuses with a *BusyError and changes nothing.
// reason is shown to the user ("an update is installing").
type Busy interface {
	Busy(ctx context.Context) (busy bool, reason string)
}

// BusyFunc adapts a function to [Busy].
type BusyFunc func(ctx context.Context) (bool, string)

// Busy implements Busy.
func (f BusyFunc) Busy(ctx context.Context) (bool, string) { return f(ctx) }

// BusyError is returned when the Busy hook refused a reset.
type BusyError struct{ Reason string }

func (e *BusyError) Error() string { return "erase: factory reset refused: " + e.Reason }

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// StoreError says which store's step failed.
type StoreError struct {
	Store string
	Op    string // "erase", "verify", "request"
	Err   error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("erase: %s %s: %v", e.Op, e.Store, e.Err)
}

// Unwrap returns the underlying error.
func (e *StoreError) Unwrap() error { return e.Err }

// Config configures [Open].
type Config struct {
	// FS is where the journal lives; nil means durable.OS.
	FS durable.FS
	// Journal is the path of the reset journal (a durable.Log). Required.
	// It must be outside every registered store: it is what survives the
	// reset. It holds store and service names, times and counts, never
	// user data.
	Journal string
	// Registry lists the stores and services. Required.
	Registry *Registry
	// Busy, if set, is asked before a reset starts.
	Busy Busy
	// Outbox carries deletion requests to associated services. Required
	// when the registry has services.
	Outbox Outbox
	// Logger receives progress events; nil discards them.
	Logger *slog.Logger
	// Now is the clock for journal and receipt times; nil means time.Now.
	Now func() time.Time
}

// Resetter runs the device's factory reset (5.11-1): one call erases every
// registered store, crypto-erase stores first, verifies each, sends the
// deletion requests to associated services (5.11-2) and yields a receipt
// (5.11-4). Every step is journaled; after power loss, [Resetter.Resume]
// finishes the reset. It is safe for concurrent use.
type Resetter struct {
	cfg  Config
	fsys durable.FS
	log  *slog.Logger
	now  func() time.Time

	run sync.Mutex // held while a reset runs

	mu      sync.Mutex // guards st and journal appends
	journal *durable.Log
	st      *state
}

// Open opens (or creates) the reset journal and reads the state of the last
// reset. Call it at start-up and, if [Resetter.Pending] reports true, call
// [Resetter.Resume] before anything else uses the stores.
func Open(ctx context.Context, cfg Config) (*Resetter, error) {
	if cfg.Journal == "" {
		return nil, errors.New("erase: Config.Journal is required")
	}
	if cfg.Registry == nil {
		return nil, errors.New("erase: Config.Registry is required")
	}
	if len(cfg.Registry.services) > 0 && cfg.Outbox == nil {
		return nil, errors.New("erase: Config.Outbox is required when the registry has services")
	}
	r := &Resetter{cfg: cfg, fsys: cfg.FS, log: cfg.Logger, now: cfg.Now}
	if r.fsys == nil {
		r.fsys = durable.OS
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.fsys.MkdirAll(filepath.Dir(cfg.Journal), 0o700); err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	l, err := durable.OpenLog(r.fsys, cfg.Journal, durable.LogOptions{MaxRecord: maxRecord})
	if err != nil {
		return nil, fmt.Errorf("erase: journal: %w", err)
	}
	st, err := replay(l)
	if err != nil {
		l.Close()
		return nil, err
	}
	r.journal, r.st = l, st
	return r, nil
}

// Close closes the journal.
func (r *Resetter) Close() error { return r.journal.Close() }

// Pending reports whether a reset was started and has not completed: the
// device must call Resume before it uses any store.
func (r *Resetter) Pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st != nil && !r.st.done
}

// Reset performs a factory reset: it writes the plan to the journal,
// crypto-erases the stores whose Method is CryptoErase, then erases the
// others, verifies each store, enqueues a deletion request for every
// associated service and records completion. It returns the receipt.
//
// If a reset is already pending (interrupted), Reset finishes that one.
// Otherwise it first asks the Busy hook, and refuses with a *BusyError
// (matching ErrBusy) while the device is busy, before anything is written.
// A second call while one runs fails at once with ErrInProgress.
//
// If a step fails, Reset still runs the others, then returns an error
// wrapping ErrIncomplete and the *StoreError of each failure; the reset
// stays pending and Resume or Reset retries what did not complete.
//
// The firmware and its trust root are not touched. After the device
// restarts, each package finds its store empty and the device is back in
// its unprovisioned state.
func (r *Resetter) Reset(ctx context.Context) (*Receipt, error) {
	if !r.run.TryLock() {
		return nil, ErrInProgress
	}
	defer r.run.Unlock()
	if !r.Pending() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.cfg.Busy != nil {
			if busy, why := r.cfg.Busy.Busy(ctx); busy {
				if why == "" {
					why = "the device is busy"
				}
				return nil, &BusyError{Reason: why}
			}
		}
		if err := r.start(); err != nil {
			return nil, err
		}
	}
	return r.finish(ctx)
}

// Resume finishes a reset interrupted by power loss or a failed step, and
// returns its receipt; with nothing pending it returns nil, nil. It does not
// ask the Busy hook: a reset that has begun must complete. Call it at
// start-up before anything else opens the stores.
func (r *Resetter) Resume(ctx context.Context) (*Receipt, error) {
	if !r.run.TryLock() {
		return nil, ErrInProgress
	}
	defer r.run.Unlock()
	if !r.Pending() {
		return nil, nil
	}
	r.log.Info("erase: resuming interrupted factory reset")
	return r.finish(ctx)
}

// plan orders the stores: crypto erase first (the keys go before
// anything else is touched), then the rest, in registration order.
func (r *Resetter) plan() []string {
	var crypto, rest []string
	for _, e := range r.cfg.Registry.entries {
		if methodOf(e.Eraser) == CryptoErase {
			crypto = append(crypto, e.Eraser.Name())
		} else {
			rest = append(rest, e.Eraser.Name())
		}
	}
	return append(crypto, rest...)
}

// start replaces the journal with a new plan in one atomic rewrite: after
// power loss it holds either the previous (finished) reset or the plan.
func (r *Resetter) start() error {
	var id [16]byte
	rand.Read(id[:])
	rec := record{Op: opPlan, ID: hex.EncodeToString(id[:]), Stores: r.plan(), At: r.now().UTC()}
	for _, s := range r.cfg.Registry.services {
		rec.Services = append(rec.Services, s.Name)
	}
	b, err := rec.marshal()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.journal.Rewrite([][]byte{b}); err != nil {
		return fmt.Errorf("erase: journal: %w", err)
	}
	st := newState()
	if err := st.apply(rec); err != nil {
		return err
	}
	r.st = st
	r.log.Info("erase: factory reset started", "id", rec.ID, "stores", len(rec.Stores), "services", len(rec.Services))
	return nil
}

// appendRec makes rec durable, then applies it to the state.
func (r *Resetter) appendRec(rec record) error {
	b, err := rec.marshal()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.appendLocked(rec, b)
}

func (r *Resetter) appendLocked(rec record, b []byte) error {
	if err := r.journal.Append(b); err != nil {
		return fmt.Errorf("erase: journal: %w", err)
	}
	return r.st.apply(rec)
}

func (r *Resetter) snapshot() *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.clone()
}

func (r *Resetter) finish(ctx context.Context) (*Receipt, error) {
	var errs []error
	// A store found not empty is erased once more: after a restart the
	// store may have been recreated (a sealed store makes a fresh keyset
	// when it opens) between its erase and the journal record of it.
	for pass := 0; pass < 2; pass++ {
		var perr []error
		if err := r.eraseAndVerify(ctx, &perr); err != nil {
			return nil, errors.Join(append(perr, err)...)
		}
		errs = perr
		if !slices.ContainsFunc(errs, func(err error) bool {
			var se *StoreError
			return errors.As(err, &se) && se.Op == "verify"
		}) {
			break
		}
	}

	// 3. Deletion requests to associated services, after the local erase
	// (an outbox kept in an erased store would lose them otherwise).
	st := r.snapshot()
	for _, name := range st.serviceOrder {
		if _, ok := st.services[name]; ok {
			continue
		}
		if err := r.request(ctx, st.id, name); err != nil {
			errs = append(errs, &StoreError{Store: name, Op: "request", Err: err})
		}
	}

	if len(errs) > 0 {
		r.log.Warn("erase: factory reset incomplete", "failures", len(errs))
		return nil, fmt.Errorf("%w: %w", ErrIncomplete, errors.Join(errs...))
	}
	if err := r.appendRec(record{Op: opDone, At: r.now().UTC()}); err != nil {
		return nil, err
	}
	r.log.Info("erase: factory reset complete", "id", st.id)
	return r.Receipt()
}

// Receipt returns the receipt of the last completed reset, with the
// associated services' status as it stands now. It fails with ErrNoReceipt
// when no reset has completed (or one is pending).
func (r *Resetter) Receipt() (*Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil || !r.st.done {
		return nil, ErrNoReceipt
	}
	st := r.st
	rc := &Receipt{Format: ReceiptFormat, ID: st.id, Started: st.started, Finished: st.finished}
	for _, name := range st.order {
		sr := st.receipts[name]
		sr.Verification = st.verification[name]
		rc.Stores = append(rc.Stores, sr)
	}
	for _, name := range st.serviceOrder {
		rc.Services = append(rc.Services, *st.services[name])
	}
	return rc, nil
}

// orderOf is for tests: the plan order of the pending or last reset.
func (r *Resetter) orderOf() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil {
		return nil
	}
	return slices.Clone(r.st.order)
}

// eraseAndVerify runs steps 1 and 2 of a reset: erase, in plan order
// (crypto erase first), every store not yet verified empty, then verify
// each. Store failures are added to *errsp; a journal failure is returned.
func (r *Resetter) eraseAndVerify(ctx context.Context, errsp *[]error) error {
	st := r.snapshot()
	errs := *errsp
	defer func() { *errsp = errs }()

	// 1. Erase, in plan order (crypto erase first), every store not yet
	// verified empty.
	for _, name := range st.order {
		if st.verified[name] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ent, ok := r.cfg.Registry.entry(name)
		if !ok {
			errs = append(errs, &StoreError{Store: name, Op: "erase", Err: errors.New("store in the journal's plan is not registered")})
			continue
		}
		if st.erased[name] {
			continue
		}
		sr, err := ent.Eraser.Erase(ctx)
		if err != nil {
			errs = append(errs, &StoreError{Store: name, Op: "erase", Err: err})
			continue
		}
		sr.Store, sr.Category, sr.At, sr.Verification = name, ent.Category, r.now().UTC(), ""
		if !sr.Method.valid() {
			sr.Method = methodOf(ent.Eraser)
		}
		if err := r.appendRec(record{Op: opErased, Store: name, Receipt: &sr, At: sr.At}); err != nil {
			return err
		}
		r.log.Info("erase: store erased", "store", name, "method", sr.Method, "items", sr.Items)
	}

	// 2. Verify each erased store.
	st = r.snapshot()
	for _, name := range st.order {
		if st.verified[name] || !st.erased[name] {
			continue
		}
		ent, _ := r.cfg.Registry.entry(name)
		v := NoVerifier
		var verr error
		if vf, ok := ent.Eraser.(Verifier); ok {
			if verr = vf.Verify(ctx); verr == nil {
				v = VerifiedEmpty
			} else {
				v = NotEmpty
			}
		}
		if v == NotEmpty {
			// Not empty after erasing: erase again on the next try.
			errs = append(errs, &StoreError{Store: name, Op: "verify", Err: verr})
			if err := r.appendRec(record{Op: opUnverified, Store: name, At: r.now().UTC()}); err != nil {
				return err
			}
			continue
		}
		if err := r.appendRec(record{Op: opVerified, Store: name, Verification: v, At: r.now().UTC()}); err != nil {
			return err
		}
	}

	return nil
}
