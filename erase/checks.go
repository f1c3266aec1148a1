package erase

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

// Checks implements conformance.Checker: "erase.factory-reset" for 5.11-1,
// measured on the running device. It passes when
//
//   - at least one store is registered, and every registered store has an
//     Eraser and a Verifier (so a reset can prove each one empty);
//   - no reset is left pending; and
//   - a self-test plants a file in a scratch DirStore beside the journal,
//     erases it with the same code a reset uses and verifies it empty, on
//     the device's own file system.
//
// It does not erase or read any registered store: it cannot observe that
// a store's Eraser removes everything, only that each has one and that the
// verifier the receipt relies on exists.
func (r *Resetter) Checks() []conformance.Check {
	return []conformance.Check{{
		ID:         "erase.factory-reset",
		Provisions: []string{"5.11-1"},
		Title:      "A factory reset erases every store of user data and verifies it empty",
		Method:     conformance.Measured,
		Run:        r.checkReset,
	}}
}

func (r *Resetter) checkReset(ctx context.Context) conformance.Result {
	fail := func(detail string) conformance.Result {
		return conformance.Result{Verdict: conformance.Fail, Detail: detail}
	}
	entries := r.cfg.Registry.entries
	if len(entries) == 0 {
		return fail("no store of user data is registered for the factory reset")
	}
	var noVerifier []string
	crypto := 0
	for _, e := range entries {
		if _, ok := e.Eraser.(Verifier); !ok {
			noVerifier = append(noVerifier, e.Eraser.Name())
		}
		if methodOf(e.Eraser) == CryptoErase {
			crypto++
		}
	}
	if len(noVerifier) > 0 {
		return fail("stores without a verifier (their erase cannot be confirmed): " + strings.Join(noVerifier, ", "))
	}
	if r.Pending() {
		return fail("a factory reset was started and has not completed")
	}
	if err := r.selfTest(ctx); err != nil {
		return fail("self-test on a scratch store failed: " + err.Error())
	}
	return conformance.Result{
		Verdict: conformance.Pass,
		Observed: fmt.Sprintf("%d stores registered (%d by crypto erase), each with an eraser and a verifier; "+
			"a scratch store was erased and verified empty", len(entries), crypto),
	}
}

// selfTest erases a scratch DirStore next to the journal and verifies it.
func (r *Resetter) selfTest(ctx context.Context) error {
	dir := filepath.Join(filepath.Dir(r.cfg.Journal), ".erase-selftest")
	if err := r.fsys.MkdirAll(path.Join(filepath.ToSlash(dir), "sub"), 0o700); err != nil {
		return err
	}
	marker := []byte(fmt.Sprintf("erase self-test %d", time.Now().UnixNano()))
	for _, name := range []string{"a", "sub/b"} {
		if err := durable.WriteFile(r.fsys, filepath.Join(dir, name), marker, 0o600); err != nil {
			return err
		}
	}
	d := &DirStore{StoreName: "selftest", Dir: dir, FS: r.fsys}
	if err := d.Verify(ctx); err == nil {
		return errors.New("verifier reports a store holding files as empty")
	}
	sr, err := d.Erase(ctx)
	if err != nil {
		return err
	}
	if sr.Items != 2 {
		return fmt.Errorf("erased %d of 2 planted files", sr.Items)
	}
	if err := d.Verify(ctx); err != nil {
		return err
	}
	if err := r.fsys.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return r.fsys.SyncDir(filepath.Dir(dir))
}
