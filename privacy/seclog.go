package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/wire"
)

// Security event kinds a device records. Any ID-shaped kind is accepted;
// these are the ones the SDK's packages and the reference device use.
const (
	SecLoginFailed    = "login-failed"
	SecLoginOK        = "login-ok"
	SecRefused        = "request-refused"
	SecSettingChanged = "setting-changed"
	SecUpdate         = "update"
	SecReset          = "factory-reset"
	SecLoggingOff     = "logging-disabled"
	SecLoggingOn      = "logging-enabled"
)

// ErrSecurityLogCorrupt is wrapped by the errors [OpenSecurityLog] returns
// for a log whose records do not decode or whose hash chain is broken.
var ErrSecurityLogCorrupt = errors.New("privacy: security log corrupt")

// SecurityLogConfig configures [OpenSecurityLog].
type SecurityLogConfig struct {
	// FS is the file system; nil means durable.OS.
	FS durable.FS
	// Path is the log file (required); its directory is created 0700.
	Path string
	// MaxEvents bounds the log; zero means 4096. When it is exceeded the
	// oldest half is removed (the log is rewritten atomically).
	MaxEvents int
	// MaxAge removes events older than this at each compaction; zero
	// means 90 days.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SecurityEvent is one entry of the security log.
type SecurityEvent struct {
	// Seq numbers events from 0; At is when it was recorded; Kind is an
	// ID such as [SecLoginFailed].
	Seq  uint64
	At   time.Time
	Kind string
	// Source is who or what caused it: a client address, an account, a
	// package.
	Source string
	// Detail is a short description; it must never hold a secret.
	Detail string
	// Hash is the SHA-256 of the record, which the next one carries.
	Hash [32]byte
}

// SecurityLog is the device's local security event log (the logging
// mechanism of EN 18031 and CRA Annex I): append-only on flash through the
// durable package, each record carrying the SHA-256 of the one before, so
// that an edit or a removal in the middle is found when it is opened;
// bounded in size and age; and switched off by the owner where the law
// allows ([SecurityLog.SetEnabled], itself recorded). It is the input of
// the anomaly detectors and of the device's UI. It is not signed: it shows
// accidents and naive edits, not an attacker who rewrites the whole file.
type SecurityLog struct {
	cfg     SecurityLogConfig
	fsys    durable.FS
	mu      sync.Mutex
	log     *durable.Log
	next    uint64
	last    [32]byte
	events  []SecurityEvent // in memory, bounded by MaxEvents
	enabled bool
}

const secMaxRecord = 1024

var errSecLogClosed = errors.New("privacy: security log closed")

// OpenSecurityLog opens (or creates) the log, verifies its hash chain and
// loads its events. A torn tail left by power loss is cut; a broken chain
// or an undecodable record is an error wrapping [ErrSecurityLogCorrupt]
// naming the record.
func OpenSecurityLog(ctx context.Context, cfg SecurityLogConfig) (*SecurityLog, error) {
	if cfg.Path == "" {
		return nil, errors.New("privacy: SecurityLogConfig.Path is required")
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 4096
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 90 * 24 * time.Hour
	}
	s := &SecurityLog{cfg: cfg, fsys: cfg.FS, enabled: true}
	if s.fsys == nil {
		s.fsys = durable.OS
	}
	if err := s.fsys.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, err
	}
	// One record per Append: a bad record with more after it is an edit
	// or damage, not power loss (StrictTail), and is reported, not cut.
	l, err := durable.OpenLog(s.fsys, cfg.Path, durable.LogOptions{MaxRecord: secMaxRecord, StrictTail: true})
	if errors.Is(err, durable.ErrLogDamaged) {
		return nil, fmt.Errorf("%w: %v", ErrSecurityLogCorrupt, err)
	}
	if err != nil {
		return nil, err
	}
	i := 0
	err = l.Scan(func(_ int64, rec []byte) error {
		ev, prev, err := decodeSecRecord(rec)
		if err != nil {
			return fmt.Errorf("%w: record %d does not decode", ErrSecurityLogCorrupt, i)
		}
		if i > 0 && (prev != s.last || ev.Seq != s.next) {
			return fmt.Errorf("%w: record %d does not follow record %d", ErrSecurityLogCorrupt, i, i-1)
		}
		s.events = append(s.events, ev)
		s.last, s.next = ev.Hash, ev.Seq+1
		switch ev.Kind {
		case SecLoggingOff:
			s.enabled = false
		case SecLoggingOn:
			s.enabled = true
		}
		i++
		return nil
	})
	if err != nil {
		l.Close()
		return nil, err
	}
	s.log = l
	return s, nil
}

func (s *SecurityLog) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func appendSecRecord(b []byte, ev *SecurityEvent, prev [32]byte) []byte {
	b = append(b, 1)
	b = binary.AppendUvarint(b, ev.Seq)
	b = binary.AppendVarint(b, ev.At.UnixMilli())
	b = wire.AppendBytes(b, prev[:])
	b = wire.AppendString(b, ev.Kind)
	b = wire.AppendString(b, ev.Source)
	return wire.AppendString(b, ev.Detail)
}

func decodeSecRecord(rec []byte) (SecurityEvent, [32]byte, error) {
	rd := wire.NewReader(rec)
	var ev SecurityEvent
	var prev [32]byte
	if rd.Byte() != 1 {
		return ev, prev, errRecord
	}
	ev.Seq = rd.Uvarint()
	ev.At = time.UnixMilli(rd.Varint()).UTC()
	fixed(rd, prev[:])
	ev.Kind = rd.String(MaxIDLen)
	ev.Source = rd.String(MaxSubjectLen)
	ev.Detail = rd.String(256)
	if rd.Failed() || rd.Len() != 0 || !isID(ev.Kind) || !cleanText(ev.Source, false) || !cleanText(ev.Detail, false) {
		return ev, prev, errRecord
	}
	ev.Hash = sha256.Sum256(rec)
	return ev, prev, nil
}

// Append records one event durably (when it returns nil the event is on
// flash). While the owner has switched logging off it records nothing and
// returns nil. Kind must be an ID ("login-failed"); source and detail are
// cut to 128 and 256 bytes and must be printable text.
func (s *SecurityLog) Append(ctx context.Context, kind, source, detail string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled {
		return nil
	}
	return s.appendLocked(ctx, kind, source, detail)
}

func (s *SecurityLog) appendLocked(ctx context.Context, kind, source, detail string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.log == nil {
		return errSecLogClosed
	}
	source, detail = cut(source, MaxSubjectLen), cut(detail, 256)
	if !isID(kind) || !cleanText(source, false) || !cleanText(detail, false) {
		return fmt.Errorf("privacy: security event: kind must be an ID, source and detail printable text")
	}
	ev := SecurityEvent{Seq: s.next, At: s.now().UTC().Truncate(time.Millisecond), Kind: kind, Source: source, Detail: detail}
	rec := appendSecRecord(nil, &ev, s.last)
	if err := s.log.Append(rec); err != nil {
		return err
	}
	ev.Hash = sha256.Sum256(rec)
	s.events = append(s.events, ev)
	s.last, s.next = ev.Hash, ev.Seq+1
	if len(s.events) > s.cfg.MaxEvents {
		return s.compact()
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !cleanText(s, false) {
		s = s[:len(s)-1]
	}
	return s
}

// compact keeps the newest half of MaxEvents, none older than MaxAge,
// rewriting the file atomically. The first record kept still names the
// hash of the one before it, which is gone: the chain is checked from
// there on.
func (s *SecurityLog) compact() error {
	oldest := s.now().Add(-s.cfg.MaxAge)
	keep := s.events[len(s.events)-s.cfg.MaxEvents/2:]
	for len(keep) > 0 && keep[0].At.Before(oldest) {
		keep = keep[1:]
	}
	recs := make([][]byte, 0, len(keep))
	prev := [32]byte{}
	var out []SecurityEvent
	for i, ev := range keep {
		if i == 0 {
			// Re-encode the first kept record as it was: its prev is the
			// hash of the dropped record before it.
			idx := len(s.events) - len(keep)
			prev = s.events[idx-1].Hash
		}
		rec := appendSecRecord(nil, &ev, prev)
		recs = append(recs, rec)
		prev = sha256.Sum256(rec)
		out = append(out, ev)
	}
	if err := s.log.Rewrite(recs); err != nil {
		return err
	}
	s.events = out
	return nil
}

// SetEnabled switches recording on or off (the owner's opt-out, where the
// law allows it). Switching off is itself recorded, as the last event
// before the silence; switching on is recorded as the first after it.
func (s *SecurityLog) SetEnabled(ctx context.Context, on bool, source string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.enabled {
		return nil
	}
	kind := SecLoggingOff
	if on {
		kind = SecLoggingOn
	}
	if err := s.appendLocked(ctx, kind, source, ""); err != nil {
		return err
	}
	s.enabled = on
	return nil
}

// Enabled reports whether the log is recording.
func (s *SecurityLog) Enabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enabled
}

// Events returns the events kept, oldest first.
func (s *SecurityLog) Events() []SecurityEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SecurityEvent(nil), s.events...)
}

// Count returns how many kept events of kind happened at or after since:
// what a detector samples (for example login failures in the last hour).
func (s *SecurityLog) Count(kind string, since time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := len(s.events) - 1; i >= 0 && !s.events[i].At.Before(since); i-- {
		if s.events[i].Kind == kind {
			n++
		}
	}
	return n
}

// Close closes the log's file.
func (s *SecurityLog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return nil
	}
	err := s.log.Close()
	s.log = nil
	return err
}
