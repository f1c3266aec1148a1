package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/erase"
)

// The plug's factory reset (5.11-1 … 5.11-4), built on erase: a registry of
// every store of the owner's data in the state directory, a Resetter whose
// journal sits beside them (state/reset.journal, never erased), and a
// restart once the reset is done, so that every package opens its store
// empty and the plug is back where it left the factory: unprovisioned,
// waiting for the setup secret on its label.
//
// What the state directory holds, and what a reset does with it:
//
//	secrets/auth.owner.sec        owner's password verifier   erased (owner-login)
//	secrets/auth.pepper.sec       the verifier's pepper       erased (owner-login)
//	secrets/auth.session-key.sec  signs the owner's sessions  erased (owner-login)
//	auth/throttle.log             sign-in attempts by address erased (sign-in-log)
//	plug.json                     on/off and when switched    erased (switch-state)
//	outbox/                       queued switch reports, telemetry, consent
//	                              receipts, command results   erased (outbox)
//	privacy/consent.log           the owner's consent decisions  erased (consent)
//	security/log                  security events (sign-ins by address, setup,
//	                              password changes, updates)  erased (security-log)
//	update/policy.json            auto-install on/off, postponed releases
//	                                                          erased (update-settings)
//	erase-requests/               deletion requests for the service, until
//	                              they are in the outbox (cloud_erase.go)  kept
//	mqtt/                         highest sequence number of the service's
//	                              signed commands (replay protection)      kept
//	secrets/.identity.sec, .keyset, kek.seed  device identity and keys   kept
//	secrets/auth.setup-verifier.sec  the label's setup secret  kept
//	secrets/update.root-pin.sec, update/ (but policy.json), demo-repo/,
//	slots/                        firmware and update trust   kept
//	identity.json, tls-cert.pem   serial, device ID, HTTPS certificate  kept
//	reset.journal, lock           the reset's own record, the state lock  kept
//
// mqtt/ is kept on purpose: it holds one number about the service's
// commands, nothing of the owner's, and erasing it would let a broker run
// the service's earlier signed commands (set-telemetry-interval,
// erase.confirm) once more until they expire.
//
// The sealed store cannot be crypto-erased as a whole, as erase.Crypto
// would: it also holds the device identity (which signs the receipt and
// the HTTPS certificate), the verifier of the setup secret printed on the
// label, and the pinned update root, all of which the plug must keep. So
// the owner's three entries are deleted from it and the store's data key
// is rotated (secrets.Sealed.Rotate): the key that encrypted the deleted
// envelopes is destroyed, which is a crypto erase of those entries.
const (
	resetJournalFile = "reset.journal"
	// resetWord is what the owner types to confirm a reset. The password
	// is not asked again: a wrong one would have to be counted as a failed
	// sign-in (else the form is a password oracle), and a refused reset
	// must change nothing. The word guards against a slip of the mouse;
	// the session and the cross-origin protection guard against others.
	resetWord = "RESET"
	// resetTimeout bounds a reset once confirmed; it does not depend on the
	// browser staying connected.
	resetTimeout = 2 * time.Minute
)

// ownerSecrets are auth's entries in the sealed store that belong to the
// owner (auth's default vault prefix "auth."). auth recreates the pepper
// and the session key, empty of any owner, at the next start.
var ownerSecrets = []string{"auth.owner", "auth.pepper", "auth.session-key"}

// switchState is a category the SDK does not name; shown as written.
const switchState erase.Category = "whether the plug is on and when it was last switched"

// resetRegistry lists the plug's stores of the owner's data, what a reset
// keeps and why, and the associated service if one is configured.
func (d *device) resetRegistry() *erase.Registry {
	reg := erase.NewRegistry().
		Add(&ownerLogin{d: d}, erase.Credentials).
		Add(&erase.DirStore{StoreName: "sign-in-log", Dir: d.path("auth")}, erase.Logs).
		Add(&fileStore{d: d, name: "switch-state", file: "plug.json", clear: d.clearSwitch}, switchState).
		Add(&erase.DirStore{StoreName: "outbox", Dir: d.path("outbox")}, erase.Telemetry).
		Add(&erase.DirStore{StoreName: "consent", Dir: d.path("privacy")}, erase.Consent).
		Add(&fileStore{d: d, name: "update-settings", file: filepath.Join("update", "policy.json")}, updateSettings).
		Add(&erase.DirStore{StoreName: "security-log", Dir: d.path(secDir)}, erase.Logs).
		Keep("the device identity (serial number, device ID, identity key and its HTTPS certificate)",
			"it belongs to the device, not to you, and signs the receipt of this reset; it holds no personal data").
		Keep("the setup secret printed on the label (the plug keeps only a verifier of it)",
			"so that you, or the next owner, can set the plug up again with the label").
		HowTo("Log in, open Reset, type " + resetWord + " and press \"Reset the plug\". The plug shows a signed receipt, restarts, and waits for the setup secret from its label.")
	if d.reset.deleteAtService != nil {
		reg.AddService(erase.Service{Name: cloudService, Holds: "the switch reports, usage figures and consent receipts the plug sent it, and the plug's link to your account"}).
			Keep("the number of the associated service's last signed command",
				"so that nobody can make the plug run one of the service's old commands again; it holds no personal data").
			Keep("the deletion request for the associated service, until it is sent",
				"so that the service is asked to delete your data even though the plug restarts; it holds only random request numbers and times")
	}
	return reg
}

// openReset opens the reset journal and finishes a reset that power loss
// (or a failed step) left open. openDevice calls it right after the sealed
// store opens, before auth, the plug state or the outbox are opened.
func (d *device) openReset(ctx context.Context) error {
	r, err := erase.Open(ctx, erase.Config{
		Journal:  d.path(resetJournalFile),
		Registry: d.resetRegistry(),
		Busy:     erase.BusyFunc(d.resetBusy),
		Outbox:   d.reset.deleteAtService,
		Logger:   d.log,
	})
	if err != nil {
		return err
	}
	if r.Pending() {
		d.log.Warn("factory reset was interrupted; finishing it before anything else")
		rc, err := r.Resume(ctx)
		if err != nil {
			r.Close()
			return err
		}
		d.log.Info("factory reset finished after an interruption", "receipt", rc.ID)
	}
	d.reset.resetter = r
	return nil
}

// resetBusy is the erase Busy hook: no reset while an update installs.
func (d *device) resetBusy(context.Context) (bool, string) {
	if d.reset.updateBusy != nil && d.reset.updateBusy() {
		return true, "an update is installing; reset the plug once it has finished"
	}
	return false, ""
}

// resetGuard answers 503 to every request once a reset has begun: nothing
// may write to a store between its erase and the restart.
func (d *device) resetGuard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.reset.resetting.Load() {
			w.Header().Set("Retry-After", "5")
			writeJSONError(w, http.StatusServiceUnavailable, "the plug is resetting to factory settings; it restarts in a moment")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// factoryReset runs the reset the owner confirmed and returns the receipt
// signed with the device identity. A reset the Busy hook refuses, or one
// refused because another is running, changes nothing and returns began
// false. Once one has begun (began true), the plug serves nothing else and
// the caller must restart it when done (restartWhenDone): whatever the
// outcome, the restart either finds the reset complete or finishes it.
func (d *device) factoryReset(ctx context.Context) (rc *erase.Receipt, signed []byte, began bool, err error) {
	// The flag first, then the install check (the updater sets its flag
	// before it looks at this one), so a reset and an install never both
	// start.
	if !d.reset.resetting.CompareAndSwap(false, true) {
		return nil, nil, false, erase.ErrInProgress
	}
	if busy, why := d.resetBusy(ctx); busy {
		d.reset.resetting.Store(false)
		return nil, nil, false, &erase.BusyError{Reason: why}
	}
	// The update checker and the cloud link write to the state directory;
	// they stop before anything is erased (and come back with the restart).
	d.stopBackground()
	// The consent ledger and the outbox keep their files open: close
	// them (and with them the telemetry exporter) before their
	// directories are erased. Nothing uses them again before the restart:
	// resetGuard refuses every request from now on.
	if d.cloud != nil {
		if err := d.cloud.close(); err != nil {
			d.log.Warn("closing the cloud link's stores before the reset", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resetTimeout)
	defer cancel()
	if rc, err = d.reset.resetter.Reset(ctx); err != nil {
		d.log.Error("factory reset", "err", err)
		return nil, nil, true, err
	}
	if signed, err = d.signReceipt(ctx, rc); err != nil {
		d.log.Error("factory reset: signing the receipt", "err", err)
		return nil, nil, true, err
	}
	d.log.Info("factory reset done", "receipt", rc.ID, "complete", rc.Complete())
	return rc, signed, true, nil
}

// signReceipt signs rc with the device identity key, the key of the
// plug's HTTPS certificate (tls-cert.pem), so anyone can check it with
// erase.VerifyReceipt.
func (d *device) signReceipt(ctx context.Context, rc *erase.Receipt) ([]byte, error) {
	id, err := d.store.Identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("device identity: %w", err)
	}
	return erase.Sign(rc, id)
}

// restartWhenDone restarts the plug once the request that ran the reset
// has been answered (its context ends when the handler returns).
func (d *device) restartWhenDone(r *http.Request) {
	go func() {
		<-r.Context().Done()
		// The response was written with its length and flushed; give the
		// kernel a moment to send it before the sockets close.
		time.Sleep(300 * time.Millisecond)
		if d.reset.afterReset != nil {
			d.reset.afterReset()
			return
		}
		if d.updates != nil && d.restart != nil {
			// The same restart as after an update: main executes the
			// committed slot's image, whose launcher starts it afresh.
			d.updates.restart("factory reset")
			return
		}
		d.log.Info("restarting after the factory reset")
		reexec(d.log)
	}()
}

// ownerLogin is the owner's login in the sealed store: the password
// verifier, its pepper and the key that signs sessions.
type ownerLogin struct{ d *device }

func (o *ownerLogin) Name() string         { return "owner-login" }
func (o *ownerLogin) Method() erase.Method { return erase.CryptoErase }

// Erase forgets the owner in the running auth service (every session is
// refused from now on), deletes the owner's entries and rotates the
// store's data key, so the deleted envelopes, wherever flash keeps them,
// are under a key that no longer exists.
func (o *ownerLogin) Erase(ctx context.Context) (erase.StoreReceipt, error) {
	if o.d.owner != nil {
		if err := o.d.owner.svc.Reset(ctx); err != nil {
			return erase.StoreReceipt{}, err
		}
	}
	names, err := o.d.store.List(ctx)
	if err != nil {
		return erase.StoreReceipt{}, err
	}
	n := 0
	for _, name := range ownerSecrets {
		if slices.Contains(names, name) {
			if err := o.d.store.Delete(ctx, name); err != nil {
				return erase.StoreReceipt{}, err
			}
			n++
		}
	}
	if err := o.d.store.Rotate(ctx); err != nil {
		return erase.StoreReceipt{}, err
	}
	return erase.StoreReceipt{Store: o.Name(), Method: erase.CryptoErase, Items: n, At: time.Now()}, nil
}

// Verify checks that the store holds none of the owner's entries and that
// the running auth service no longer knows an owner.
func (o *ownerLogin) Verify(ctx context.Context) error {
	names, err := o.d.store.List(ctx)
	if err != nil {
		return err
	}
	left := 0
	for _, name := range ownerSecrets {
		if slices.Contains(names, name) {
			left++
		}
	}
	if left > 0 {
		return fmt.Errorf("%d owner entries remain in the sealed store", left)
	}
	if o.d.owner != nil && o.d.owner.setUp() {
		return errors.New("the running auth service still has an owner")
	}
	return nil
}

// updateSettings is a category the SDK does not name; shown as written.
const updateSettings erase.Category = "your update settings (auto-install, postponed updates)"

// fileStore is one file of the state directory that holds the owner's
// data: plug.json (the relay's position and when it last changed) and
// update/policy.json (the owner's update settings). clear, if set, also
// empties the running copy.
type fileStore struct {
	d     *device
	name  string
	file  string
	clear func()
}

func (s *fileStore) Name() string         { return s.name }
func (s *fileStore) Method() erase.Method { return erase.Delete }

// Erase removes the file (durably) and clears the running copy.
func (s *fileStore) Erase(ctx context.Context) (erase.StoreReceipt, error) {
	if err := ctx.Err(); err != nil {
		return erase.StoreReceipt{}, err
	}
	n := 0
	if _, err := os.Lstat(s.d.path(s.file)); err == nil {
		n = 1
	}
	// No parent directory (update/ before the updater first ran): there
	// is no file, and no directory entry to sync.
	if _, err := os.Stat(filepath.Dir(s.d.path(s.file))); err == nil {
		if err := durable.Remove(durable.OS, s.d.path(s.file)); err != nil {
			return erase.StoreReceipt{}, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return erase.StoreReceipt{}, err
	}
	if s.clear != nil {
		s.clear()
	}
	return erase.StoreReceipt{Store: s.Name(), Method: erase.Delete, Items: n, At: time.Now()}, nil
}

// Verify checks that the file is gone (and, for the switch state, that
// the running relay is off with no time of a last switch).
func (s *fileStore) Verify(context.Context) error {
	if _, err := os.Lstat(s.d.path(s.file)); !errors.Is(err, fs.ErrNotExist) {
		return errors.New("the " + s.name + " file remains")
	}
	if s.name == "switch-state" {
		if p := s.d.plug; p != nil {
			if st := p.State(); st.On || !st.Changed.IsZero() {
				return errors.New("the running plug still holds a switch state")
			}
		}
	}
	return nil
}

// clearSwitch switches the running relay off, the state of a plug fresh
// from the factory.
func (d *device) clearSwitch() {
	if p := d.plug; p != nil {
		p.mu.Lock()
		p.on, p.changed = false, time.Time{}
		p.mu.Unlock()
	}
}

// resetChecks are the plug's own self-checks of its factory reset, beside
// erase's "erase.factory-reset" (5.11-1).
func (d *device) resetChecks() []conformance.Check {
	return []conformance.Check{
		{ID: "smartplug.reset-instructions", Provisions: []string{"5.11-3"},
			Title: "The reset page's instructions name every kind of data the reset deletes and everything it keeps, with why",
			Run:   d.checkResetInstructions},
		{ID: "smartplug.reset-receipt", Method: conformance.Measured, Provisions: []string{"5.11-4"},
			Title: "The plug signs a reset receipt that verifies with the key of the certificate it serves, and a changed receipt does not",
			Run:   d.checkResetReceipt},
		{ID: "smartplug.reset-service", Method: conformance.Measured, Provisions: []string{"5.11-2"},
			Title: "A reset asks the associated service to delete the owner's data through a queue the reset does not erase, and takes the service's signed confirmation",
			Run:   d.checkResetService},
	}
}

// checkResetInstructions renders the instructions from the registry in
// force, as the reset page does, and looks for each store's category and
// each kept item in them.
func (d *device) checkResetInstructions(ctx context.Context) conformance.Result {
	reg := d.resetRegistry()
	text := reg.Instructions()
	var missing []string
	for _, e := range reg.Entries() {
		if !strings.Contains(text, e.Category.Words()) {
			missing = append(missing, "store "+e.Eraser.Name())
		}
	}
	for _, k := range reg.KeptItems() {
		if !strings.Contains(text, k.What) || !strings.Contains(text, k.Why) {
			missing = append(missing, "kept item "+k.What)
		}
	}
	if len(missing) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Detail: "the instructions leave out: " + strings.Join(missing, ", ")}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("read the registry: %d stores, %d kept items and %d associated services, each named in the instructions on /reset",
		len(reg.Entries()), len(reg.KeptItems()), len(reg.Services()))}
}

// checkResetReceipt signs a receipt of a reset that did not happen (every
// registered store, nothing erased) with the device identity and checks
// it against the public key of the certificate the server presents.
func (d *device) checkResetReceipt(ctx context.Context) conformance.Result {
	if d.web.tlsCert.Leaf == nil {
		return conformance.Result{Verdict: conformance.NotRun, Detail: "the web server's certificate is not loaded"}
	}
	var id [16]byte
	rand.Read(id[:])
	now := time.Now().UTC()
	rc := &erase.Receipt{Format: erase.ReceiptFormat, ID: hex.EncodeToString(id[:]), Started: now, Finished: now}
	for _, e := range d.resetRegistry().Entries() {
		rc.Stores = append(rc.Stores, erase.StoreReceipt{Store: e.Eraser.Name(), Category: e.Category, Method: erase.Delete, Verification: erase.NoVerifier, At: now})
	}
	signed, err := d.signReceipt(ctx, rc)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "signing a receipt failed: " + err.Error()}
	}
	if _, err := erase.VerifyReceipt(signed, d.web.tlsCert.Leaf.PublicKey); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "a receipt the plug signed does not verify with its certificate's key"}
	}
	changed := bytes.Replace(signed, []byte(rc.ID), []byte(strings.Repeat("0", len(rc.ID))), 1)
	if _, err := erase.VerifyReceipt(changed, d.web.tlsCert.Leaf.PublicKey); err == nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "a receipt with a changed ID still verifies"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("a receipt of %d stores signed by the %s identity key verified with the served certificate's key; a changed copy was refused",
		len(rc.Stores), backendName)}
}
