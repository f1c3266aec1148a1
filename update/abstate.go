package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// The A/B installer's journal holds one record per transition, and every
// record is the whole state after it: the last whole record is the state
// (and its "current" field the boot pointer). A record is appended with one
// write and one fsync (durable.Log), so a transition is atomic — after power
// loss the log's torn tail is cut and the previous record is the state.

const (
	abFormat = 1
	// abMaxRecord bounds one journal record (and what replay allocates).
	abMaxRecord = 64 << 10
	// abCompactAfter: Begin rewrites the journal as one record once it
	// holds more than this many.
	abCompactAfter = 32
	// MaxRejected bounds how many failed releases the A/B installer
	// remembers; past it the oldest entry is dropped.
	MaxRejected = 64
	// maxReason bounds a rollback reason, in bytes.
	maxReason = 256
	// maxImageText bounds an image's path and version in the journal.
	maxImageText = 1024
	// MaxTrialBoots is the largest FileABConfig.MaxAttempts.
	MaxTrialBoots = 100
)

// Transitions, as recorded in the journal's "op" field.
const (
	opFactory      = "factory" // never written: the state of an empty journal
	opBegin        = "begin"
	opInstall      = "install"
	opBoot         = "boot"
	opCommit       = "commit"
	opRollback     = "rollback"
	opAutoRollback = "auto-rollback"
	opFlash        = "flash"
)

var abSlotNames = [2]string{"a", "b"}

// imageRec is an image as the journal records it.
type imageRec struct {
	Path     string `json:"path,omitempty"`
	Version  string `json:"version,omitempty"`
	Counter  uint64 `json:"counter"`
	Length   int64  `json:"length,omitempty"`
	SHA256   string `json:"sha256,omitempty"` // lowercase hex; "" when not known (a factory image)
	Security bool   `json:"security,omitempty"`
}

// rejectRec is a release that failed its trial on this device.
type rejectRec struct {
	Image  imageRec `json:"image"`
	Reason string   `json:"reason"`
	Auto   bool     `json:"auto,omitempty"`
}

// abState is the whole installer state. Slot "current" is the committed
// one; the other is "inactive": being written (Writing), installed and on
// trial (Trial), or holding an older image (or nothing).
type abState struct {
	Format  int         `json:"format"`
	Seq     uint64      `json:"seq"`
	Op      string      `json:"op"`
	Current string      `json:"current"`
	Images  []*imageRec `json:"images"` // [a, b]; nil: no complete, verified image
	Writing *imageRec   `json:"writing,omitempty"`
	Trial   bool        `json:"trial,omitempty"`
	// Attempts counts trial boots of the inactive slot; it exists only
	// while Trial is set.
	Attempts int         `json:"attempts,omitempty"`
	Rejected []rejectRec `json:"rejected,omitempty"`
}

func (s *abState) cur() int {
	if s.Current == "b" {
		return 1
	}
	return 0
}

func (s *abState) inactive() int { return 1 - s.cur() }

func (s *abState) installed() *imageRec { return s.Images[s.cur()] }

// next returns a deep copy of s for the transition op.
func (s *abState) next(op string) *abState {
	n := *s
	n.Seq++
	n.Op = op
	n.Images = make([]*imageRec, 2)
	for i, im := range s.Images {
		if im != nil {
			c := *im
			n.Images[i] = &c
		}
	}
	if s.Writing != nil {
		w := *s.Writing
		n.Writing = &w
	}
	n.Rejected = slices.Clone(s.Rejected)
	return &n
}

// rejected reports whether the image failed a trial on this device: same
// release counter and same image (SHA-256).
func (s *abState) rejected(im *imageRec) *rejectRec {
	for i := range s.Rejected {
		r := &s.Rejected[i]
		if r.Image.Counter == im.Counter && r.Image.SHA256 == im.SHA256 {
			return r
		}
	}
	return nil
}

// reject records im as failed, keeping at most MaxRejected entries.
func (s *abState) reject(im imageRec, reason string, auto bool) {
	s.Rejected = append(s.Rejected, rejectRec{Image: im, Reason: clip(strings.ToValidUTF8(reason, "\uFFFD"), maxReason), Auto: auto})
	if len(s.Rejected) > MaxRejected {
		s.Rejected = slices.Delete(s.Rejected, 0, len(s.Rejected)-MaxRejected)
	}
}

// prune drops rejections that can no longer be offered (counter not above
// the installed one), so the list stays short.
func (s *abState) prune() {
	inst := s.installed().Counter
	s.Rejected = slices.DeleteFunc(s.Rejected, func(r rejectRec) bool { return r.Image.Counter <= inst })
	if len(s.Rejected) == 0 {
		s.Rejected = nil
	}
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func sameImage(a, b *imageRec) bool {
	return a != nil && b != nil && a.Path == b.Path && a.Counter == b.Counter && a.Length == b.Length && a.SHA256 == b.SHA256
}

func imageOf(r *Release) imageRec {
	im := imageRec{Path: r.Path, Length: r.Length, SHA256: hex.EncodeToString(r.Hashes["sha256"])}
	if d := r.Descriptor; d != nil {
		im.Version, im.Counter, im.Security = d.Version, d.ReleaseCounter, d.Security
	}
	return im
}

// errJournal is wrapped by every reason a journal record is refused.
var errJournal = errors.New("update: A/B journal record invalid")

func journalErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errJournal, fmt.Sprintf(format, a...))
}

func (im *imageRec) validate(what string, needHash bool) error {
	if im.Counter > MaxReleaseCounter {
		return journalErr("%s: counter out of range", what)
	}
	if im.Length < 0 || len(im.Path) > maxImageText || len(im.Version) > maxImageText ||
		!utf8.ValidString(im.Path) || !utf8.ValidString(im.Version) {
		return journalErr("%s: bad length, path or version", what)
	}
	if im.SHA256 == "" {
		if needHash {
			return journalErr("%s: no sha256", what)
		}
		return nil
	}
	if im.Length <= 0 {
		return journalErr("%s: a hashed image needs a length", what)
	}
	if b, err := hex.DecodeString(im.SHA256); err != nil || len(b) != sha256.Size || im.SHA256 != hex.EncodeToString(b) {
		return journalErr("%s: sha256 is not 64 lowercase hex digits", what)
	}
	return nil
}

// validate checks the invariants every recorded state keeps.
func (s *abState) validate() error {
	if s.Format != abFormat {
		return journalErr("format %d", s.Format)
	}
	switch s.Op {
	case opBegin, opInstall, opBoot, opCommit, opRollback, opAutoRollback, opFlash:
	default:
		return journalErr("unknown op %q", s.Op)
	}
	if s.Current != "a" && s.Current != "b" {
		return journalErr("current slot %q", s.Current)
	}
	if len(s.Images) != 2 {
		return journalErr("%d images, want 2", len(s.Images))
	}
	cur, ina := s.Images[s.cur()], s.Images[s.inactive()]
	if cur == nil {
		return journalErr("committed slot holds no image")
	}
	if err := cur.validate("committed image", false); err != nil {
		return err
	}
	if ina != nil {
		if err := ina.validate("inactive image", s.Trial); err != nil {
			return err
		}
	}
	if s.Writing != nil {
		if s.Trial || ina != nil {
			return journalErr("a slot being written is also marked installed")
		}
		if err := s.Writing.validate("image being written", true); err != nil {
			return err
		}
		if s.Writing.Counter <= cur.Counter {
			return journalErr("image being written is not newer than the installed one")
		}
	}
	if s.Trial {
		if ina == nil || ina.Counter <= cur.Counter {
			return journalErr("trial image missing or not newer than the installed one")
		}
	}
	if s.Attempts < 0 || s.Attempts > MaxTrialBoots || (!s.Trial && s.Attempts != 0) {
		return journalErr("attempts %d", s.Attempts)
	}
	if len(s.Rejected) > MaxRejected {
		return journalErr("%d rejected releases", len(s.Rejected))
	}
	for i := range s.Rejected {
		r := &s.Rejected[i]
		if err := r.Image.validate("rejected image", true); err != nil {
			return err
		}
		if len(r.Reason) > maxReason || !utf8.ValidString(r.Reason) {
			return journalErr("rejection reason")
		}
	}
	return nil
}

func encodeABState(s *abState) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic("update: encoding A/B state: " + err.Error()) // only plain fields: cannot fail
	}
	return b
}

// decodeABState parses and validates one journal record. It is strict:
// unknown fields, trailing data and any broken invariant are refused.
func decodeABState(b []byte) (*abState, error) {
	if len(b) > abMaxRecord {
		return nil, journalErr("record of %d bytes", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s abState
	if err := dec.Decode(&s); err != nil {
		return nil, journalErr("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, journalErr("trailing data")
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}
