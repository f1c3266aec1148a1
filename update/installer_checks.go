package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Checks returns the A/B installer's self-checks. Three are
// [conformance.Measured]:
//
//   - update.install-gate (5.3-2, 5.3-9): probes go through the same gates
//     Install and Begin apply, on a copy of the state, writing nothing: an
//     unverified image (nil and a zero Verified) must be refused by
//     Install's gate; a release with the installed release counter, and
//     one below it, by Begin's gate (anti-rollback); the most recently
//     rejected release, if any, must be refused as rejected; and while a
//     trial is pending, any new release must be refused.
//   - update.installed-image (5.3-2): the journal is read back from its
//     file and replayed, and must agree with the state the installer runs
//     on (the boot pointer); the committed slot's file is read through
//     SHA-256 and must match the length and hash recorded when it was
//     installed, and so must the image on trial, if any. INCONCLUSIVE
//     while the committed image is the factory image configured without
//     a hash (FileABConfig.Factory).
//   - update.boot-integrity (5.7-1, 5.7-2): what [FileAB.VerifyRunning]
//     found when it read the running slot at start: PASS when the slot
//     matched its record, FAIL when it did not (and whether Restrict put
//     the restriction in force), INCONCLUSIVE before VerifyRunning ran or
//     for a factory image without a hash. Each run first probes the
//     comparison itself with a small sample: intact it must match; with its
//     first, middle or last byte changed, one byte short or one long it
//     must not. It reads no slot and writes nothing.
//
// One reads the configuration ([conformance.Configured]):
//
//   - update.trial-boot (5.3-2): how many trial boots a new image gets
//     before the automatic rollback, and where the installer stands.
func (f *FileAB) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "update.install-gate", Method: conformance.Measured, Provisions: []string{"5.3-2", "5.3-9"},
			Title: "Only a verified image is installed, never an older or a rejected release", Run: f.checkGate},
		{ID: "update.installed-image", Method: conformance.Measured, Provisions: []string{"5.3-2"},
			Title: "The boot pointer on storage is the one in force and the committed slot holds the image recorded at install", Run: f.checkImage},
		{ID: "update.trial-boot", Provisions: []string{"5.3-2"},
			Title: "The installer is configured to boot a new image on trial and roll it back after its trial-boot limit unless it commits", Run: f.checkTrial},
		f.bootCheck(),
	}
}

func (f *FileAB) checkGate(ctx context.Context) conformance.Result {
	st := f.state()
	inst := st.installed().Counter
	var obs, bad []string
	for name, v := range map[string]*Verified{"nil image": nil, "unverified image": {}} {
		if err := f.accept(v); !errors.Is(err, ErrUnverified) {
			bad = append(bad, name+" accepted for install")
		}
	}
	obs = append(obs, "unverified image refused by Install's gate")
	// The counter and rejection checks are probed with no trial pending, so
	// the trial check cannot mask them.
	idle := st.next("probe")
	idle.Trial, idle.Attempts = false, 0
	probe := func(counter uint64, sha []byte) *Release {
		return &Release{Path: "self-check-probe", Length: 1, Hashes: metadata.Hashes{"sha256": sha},
			Descriptor: &Descriptor{ReleaseCounter: counter, Version: "probe"}}
	}
	zero := make([]byte, sha256.Size)
	counters := []uint64{inst}
	if inst > 0 {
		counters = append(counters, inst-1)
	}
	for _, n := range counters {
		if _, err := f.admit(idle, probe(n, zero)); !errors.Is(err, ErrRollback) {
			bad = append(bad, fmt.Sprintf("release counter %d admitted with %d installed", n, inst))
		}
	}
	obs = append(obs, fmt.Sprintf("counter %d (installed) refused by Begin's gate", inst))
	if n := len(st.Rejected); n > 0 {
		r := st.Rejected[n-1].Image
		sha, _ := hex.DecodeString(r.SHA256)
		if _, err := f.admit(idle, probe(r.Counter, sha)); !errors.Is(err, ErrRejected) {
			bad = append(bad, fmt.Sprintf("rejected release %d admitted", r.Counter))
		}
		obs = append(obs, fmt.Sprintf("rejected release %d refused", r.Counter))
	}
	if st.Trial {
		if _, err := f.admit(st, probe(MaxReleaseCounter, zero)); !errors.Is(err, ErrTrialPending) {
			bad = append(bad, "a new release admitted while another is on trial")
		}
		obs = append(obs, "new release refused while one is on trial")
	}
	res := conformance.Result{Verdict: conformance.Pass, Observed: strings.Join(obs, "; ")}
	if len(bad) > 0 {
		res.Verdict, res.Detail = conformance.Fail, strings.Join(bad, "; ")
	}
	return res
}

func (f *FileAB) checkImage(ctx context.Context) conformance.Result {
	f.mu.Lock()
	st := f.state()
	var disk *abState
	var err error
	if f.closed {
		err = ErrInstallerClosed
	} else {
		disk, err = replay(f.journal, recOf(f.cfg.Factory))
	}
	f.mu.Unlock()
	obs := fmt.Sprintf("slot %s committed (release counter %d)", st.Current, st.installed().Counter)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the journal could not be read back: " + err.Error()}
	}
	if !bytes.Equal(encodeABState(disk), encodeABState(st)) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs,
			Detail: fmt.Sprintf("the journal on storage (slot %s committed, transition %d %q) is not the state in force (transition %d %q)", disk.Current, disk.Seq, disk.Op, st.Seq, st.Op)}
	}
	obs += fmt.Sprintf("; journal read back agrees (transition %d)", st.Seq)
	im := st.installed()
	if im.SHA256 == "" {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "the committed image is the factory image and no hash was configured for it (FileABConfig.Factory.SHA256), so it cannot be compared"}
	}
	c := st.cur()
	if err := f.verifyImage(ctx, f.paths[c], im); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "committed slot " + st.Current + ": " + err.Error()}
	}
	obs += fmt.Sprintf("; slot %s: %d bytes, SHA-256 matches", st.Current, im.Length)
	if st.Trial {
		i := st.inactive()
		if err := f.verifyImage(ctx, f.paths[i], st.Images[i]); err != nil {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "slot " + abSlotNames[i] + " on trial: " + err.Error()}
		}
		obs += fmt.Sprintf("; slot %s on trial: SHA-256 matches", abSlotNames[i])
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func (f *FileAB) checkTrial(ctx context.Context) conformance.Result {
	s := f.Status()
	obs := fmt.Sprintf("automatic rollback after %d trial boots without a commit; phase %s", s.MaxAttempts, s.Phase)
	if s.Pending != nil && (s.Phase == PhaseTrial || s.Phase == PhasePendingReboot) {
		obs += fmt.Sprintf(" (release counter %d, %d of %d trial boots)", s.Pending.Counter, s.Attempts, s.MaxAttempts)
	}
	obs += fmt.Sprintf("; %d release(s) refused after a failed trial", len(s.Rejected))
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}
