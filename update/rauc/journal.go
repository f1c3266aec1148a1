package rauc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// The adapter's own state lives in one file, Config.Dir/state.json,
// replaced whole by durable.WriteFile (temporary file, fsync, rename, fsync
// of the directory) at every change: after power loss it holds the old or
// the new state, never a mix. RAUC keeps slots and boot order; this file
// keeps what RAUC cannot: which TUF release went into which slot, and which
// releases failed their trial here.

const (
	stateName   = "state.json"
	stateFormat = 1
	// maxStateBytes bounds what New reads of the state file.
	maxStateBytes = 256 << 10
	// maxReason bounds a rollback reason, in bytes (as update.FileAB).
	maxReason = 256
	// maxText bounds a release's path and version.
	maxText = 1024
)

// ErrState: the state file in Config.Dir is not one this package wrote.
// New refuses it rather than guess (a guess could offer a release that
// failed here again, or hide one that did not).
var ErrState = errors.New("rauc: state file invalid")

// relRec is a release as the state file records it: the TUF target's
// identity (path, length, SHA-256) and the descriptor's counter.
type relRec struct {
	Path     string `json:"path"`
	Version  string `json:"version,omitempty"`
	Counter  uint64 `json:"counter"`
	Length   int64  `json:"length"`
	SHA256   string `json:"sha256"` // lowercase hex
	Security bool   `json:"security,omitempty"`
}

// trialRec is the release handed to `rauc install`. Done is false from just
// before rauc runs until it returned success; then Slot is the slot rauc
// made primary (where the release boots on trial).
type trialRec struct {
	Release relRec `json:"release"`
	// From is the slot that was booted when the install started.
	From string `json:"from"`
	Done bool   `json:"done,omitempty"`
	Slot string `json:"slot,omitempty"`
}

// installedRec is the release the adapter last committed, and the slot
// it was committed in. Slot is cleared when anything else may have been
// written there (InstallBundle called directly); Release.Counter stays.
type installedRec struct {
	Release relRec `json:"release"`
	Slot    string `json:"slot,omitempty"`
}

type rejectRec struct {
	Release relRec `json:"release"`
	Reason  string `json:"reason"`
	Auto    bool   `json:"auto,omitempty"`
}

type state struct {
	Format int `json:"format"`
	// Staging names the release whose download the staging file holds
	// (a prefix of it, as far as update.Client's journal says), written
	// under staging epoch Epoch; nil when the file holds nothing to
	// resume. Epoch rises at every Begin that empties the file, and is
	// part of the slot's SlotID, so update.Client resumes a download only
	// into the very file content it wrote.
	Staging  *relRec     `json:"staging,omitempty"`
	Epoch    uint64      `json:"epoch,omitempty"`
	Trial    *trialRec   `json:"trial,omitempty"`
	Rejected []rejectRec `json:"rejected,omitempty"`
	// Installed is the release committed last through the adapter; its
	// counter is the adapter's anti-rollback floor and never falls.
	Installed *installedRec `json:"installed,omitempty"`
}

func (st *state) clone() *state {
	n := &state{Format: stateFormat, Epoch: st.Epoch, Rejected: slices.Clone(st.Rejected)}
	if st.Trial != nil {
		t := *st.Trial
		n.Trial = &t
	}
	if st.Staging != nil {
		r := *st.Staging
		n.Staging = &r
	}
	if st.Installed != nil {
		r := *st.Installed
		n.Installed = &r
	}
	return n
}

func recOf(r *update.Release) relRec {
	rec := relRec{Path: r.Path, Length: r.Length, SHA256: hex.EncodeToString(r.Hashes["sha256"])}
	if d := r.Descriptor; d != nil {
		rec.Version, rec.Counter, rec.Security = d.Version, d.ReleaseCounter, d.Security
	}
	return rec
}

// same is the identity update.FileAB uses: release counter and image
// SHA-256 (and length).
func (r *relRec) same(o *relRec) bool {
	return r.Counter == o.Counter && r.SHA256 == o.SHA256 && r.Length == o.Length
}

func (r *relRec) image() update.Image {
	im := update.Image{Path: r.Path, Version: r.Version, Counter: r.Counter, Length: r.Length, Security: r.Security}
	im.SHA256, _ = hex.DecodeString(r.SHA256)
	return im
}

func (r *relRec) validate() error {
	if r.Counter > update.MaxReleaseCounter || r.Length <= 0 || len(r.Path) > maxText || len(r.Version) > maxText ||
		!utf8.ValidString(r.Path) || !utf8.ValidString(r.Version) {
		return fmt.Errorf("%w: release record out of bounds", ErrState)
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != r.SHA256 {
		return fmt.Errorf("%w: sha256 is not 64 lowercase hex digits", ErrState)
	}
	return nil
}

func (st *state) validate() error {
	if st.Format != stateFormat {
		return fmt.Errorf("%w: format %d", ErrState, st.Format)
	}
	if st.Staging != nil {
		if err := st.Staging.validate(); err != nil {
			return err
		}
	}
	if t := st.Trial; t != nil {
		if err := t.Release.validate(); err != nil {
			return err
		}
		if len(t.From) > maxText || len(t.Slot) > maxText || t.Done != (t.Slot != "") {
			return fmt.Errorf("%w: trial record", ErrState)
		}
	}
	if in := st.Installed; in != nil {
		if err := in.Release.validate(); err != nil {
			return err
		}
		if len(in.Slot) > maxText {
			return fmt.Errorf("%w: installed record", ErrState)
		}
	}
	if len(st.Rejected) > update.MaxRejected {
		return fmt.Errorf("%w: %d rejected releases", ErrState, len(st.Rejected))
	}
	for i := range st.Rejected {
		if err := st.Rejected[i].Release.validate(); err != nil {
			return err
		}
		if len(st.Rejected[i].Reason) > maxReason || !utf8.ValidString(st.Rejected[i].Reason) {
			return fmt.Errorf("%w: rejection reason", ErrState)
		}
	}
	return nil
}

// decodeState parses the state file strictly: unknown fields, trailing
// data and anything past the bounds are refused.
func decodeState(b []byte) (*state, error) {
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrState, maxStateBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var st state
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrState)
	}
	if err := st.validate(); err != nil {
		return nil, err
	}
	return &st, nil
}

func (st *state) rejected(r *relRec) *rejectRec {
	for i := range st.Rejected {
		if st.Rejected[i].Release.same(r) {
			return &st.Rejected[i]
		}
	}
	return nil
}

// reject records r as failed, keeping at most update.MaxRejected entries
// (the oldest go first).
func (st *state) reject(r relRec, reason string, auto bool) {
	if st.rejected(&r) != nil {
		return
	}
	st.Rejected = append(st.Rejected, rejectRec{Release: r, Reason: clip(strings.ToValidUTF8(reason, "\uFFFD"), maxReason), Auto: auto})
	if len(st.Rejected) > update.MaxRejected {
		st.Rejected = slices.Delete(st.Rejected, 0, len(st.Rejected)-update.MaxRejected)
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// loadState reads the state file; a missing file is the empty state.
func loadState(fsys durable.FS, path string) (*state, error) {
	b, err := durable.ReadFile(fsys, path, maxStateBytes)
	if errors.Is(err, durable.ErrTooLarge) {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrState, maxStateBytes)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &state{Format: stateFormat}, nil
		}
		return nil, err
	}
	return decodeState(b)
}

// save makes n the state: written durably, then published in memory. The
// caller holds s.mu.
func (s *System) save(n *state) error {
	if err := n.validate(); err != nil {
		panic("rauc: transition produced an invalid state: " + err.Error())
	}
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(s.fsys, s.statePath(), b, 0o600); err != nil {
		return fmt.Errorf("rauc: recording state: %w", err)
	}
	s.st.Store(n)
	return nil
}

func (s *System) state() *state { return s.st.Load() }
