package privacy

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/wire"
)

// Errors returned by the ledger. A damaged ledger is reported as a
// [*LedgerError], which wraps ErrLedgerCorrupt.
var (
	// ErrLedgerCorrupt is wrapped by every [*LedgerError]: the ledger on
	// flash is not what the device wrote.
	ErrLedgerCorrupt = errors.New("privacy: consent ledger corrupt")
	// ErrWrongKey: the ledger was signed by another key than the
	// configured signer's.
	ErrWrongKey = errors.New("privacy: consent ledger signed by another key")
	// ErrDecision: a decision passed to [Ledger.Record] is malformed.
	ErrDecision = errors.New("privacy: invalid consent decision")
	// ErrNoticeMismatch: a decision to give or refuse consent names a
	// notice other than the one in force; the user must have seen the
	// current notice.
	ErrNoticeMismatch = errors.New("privacy: decision not made on the notice in force")
	// ErrNotConsentPurpose: the purpose does not rest on consent in the
	// notice in force, so consent cannot be given or refused for it.
	ErrNotConsentPurpose = errors.New("privacy: purpose does not rest on consent")
	// ErrLedgerClosed is returned by a closed ledger.
	ErrLedgerClosed = errors.New("privacy: consent ledger closed")
)

// LedgerError reports the first bad record of a damaged ledger.
type LedgerError struct {
	// Index is the position of the first bad record: 0 is the ledger's
	// header, 1 its first event (an event's Seq equals its index). -1 means
	// the head file that records how far the ledger was acknowledged.
	Index int64
	// Reason says what is wrong.
	Reason string
}

// Error returns "privacy: consent ledger corrupt: record <n>: <reason>".
func (e *LedgerError) Error() string {
	if e.Index < 0 {
		return "privacy: consent ledger corrupt: head file: " + e.Reason
	}
	return fmt.Sprintf("privacy: consent ledger corrupt: record %d: %s", e.Index, e.Reason)
}

// Unwrap returns [ErrLedgerCorrupt].
func (e *LedgerError) Unwrap() error { return ErrLedgerCorrupt }

// LedgerConfig configures [OpenLedger].
type LedgerConfig struct {
	// FS is the file system; nil means durable.OS. Tests pass a
	// *durable.CrashFS.
	FS durable.FS
	// Path is the ledger file (required). The acknowledged head is kept
	// beside it in Path + ".head". Its directory is created 0700.
	Path string
	// Signer is the device key that signs every record (required): ECDSA,
	// Ed25519 or RSA. The ledger remembers the key it was created with and
	// refuses to open under another one ([ErrWrongKey]).
	Signer crypto.Signer
	// Notice is the notice in force (required). Consent is given and
	// refused only on it, and [Ledger.Allowed] honours only consent given
	// on it: a new notice version asks every user again.
	Notice *Notice
	// WithdrawalMethod tells the user, in receipts, how to withdraw
	// ("Settings > Privacy in the Acme app"). Empty means "on the device's
	// privacy page".
	WithdrawalMethod string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Decision is what the user decided, passed to [Ledger.Record].
type Decision struct {
	// Kind is Given, Refused, Withdrawn or Expired.
	Kind Kind
	// Subject is whom the decision is about: an account name or a
	// pseudonymous user ID (at most [MaxSubjectLen] bytes).
	Subject string
	// Purpose is a purpose ID of the inventory.
	Purpose string
	// Method says how the decision was collected: "app", "web-ui",
	// "button" (at most [MaxMethodLen] bytes).
	Method string
	// Notice is the notice the user saw. For Given and Refused it must be
	// the notice in force ([Notice.Ref]). For Withdrawn and Expired it may
	// be zero: the event is then bound to the notice the consent was given
	// on, or to the notice in force if there is none.
	Notice NoticeRef
	// Expires optionally ends a Given consent; it must lie in the future.
	Expires time.Time
}

type consentKey struct{ subject, purpose string }

// Ledger is the device's consent ledger (provisions 6-2 and 6-3): an
// append-only file of consent events, each bound to the notice the user
// saw, chained to the one before by its SHA-256 and signed by the device
// key, kept through the durable package so that power loss at any moment
// leaves it with or without the last event and never corrupt.
//
// [Ledger.Allowed] is the one question the rest of the device asks. A Ledger
// is safe for concurrent use.
type Ledger struct {
	cfg    LedgerConfig
	fsys   durable.FS
	pub    crypto.PublicKey
	spki   []byte
	ref    NoticeRef
	logger *slog.Logger

	mu        sync.Mutex // serialises appends and verification
	log       *durable.Log
	n         uint64 // records, header included: the next event's seq
	size      int64
	last      [32]byte
	id        [ledgerIDSize]byte
	headStale bool
	closed    bool

	smu   sync.RWMutex
	state map[consentKey]Event
	stats ledgerStats
}

type ledgerStats struct {
	opened           time.Time
	verifiedAtOpen   uint64
	signaturesAtOpen int
	cut              int64
}

// OpenLedger opens the ledger at cfg.Path, creating it if absent, and
// verifies it before returning: every record decodes strictly, follows the
// one before (sequence number and SHA-256 chain), and the device key's
// signature holds on the newest acknowledged record (which through the
// chain covers every earlier one) and on every record after it. A
// tampered, truncated or reordered ledger returns a [*LedgerError] naming
// the first bad record, and the file is left as it was found. A torn tail
// that power loss left after the last acknowledged record is cut.
//
// [Ledger.Verify] checks every record's signature as well.
func OpenLedger(ctx context.Context, cfg LedgerConfig) (*Ledger, error) {
	if cfg.Path == "" || cfg.Signer == nil || cfg.Notice == nil {
		return nil, errors.New("privacy: LedgerConfig needs Path, Signer and Notice")
	}
	l := &Ledger{cfg: cfg, fsys: cfg.FS, pub: cfg.Signer.Public(), ref: cfg.Notice.Ref(), logger: cfg.Logger, state: map[consentKey]Event{}}
	if l.fsys == nil {
		l.fsys = durable.OS
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	switch l.pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("privacy: unsupported signer key %T", l.pub)
	}
	var err error
	if l.spki, err = x509.MarshalPKIXPublicKey(l.pub); err != nil {
		return nil, fmt.Errorf("privacy: signer key: %w", err)
	}
	if err := l.fsys.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, err
	}
	h, err := readHead(l.fsys, cfg.Path+".head")
	if err != nil {
		return nil, err
	}
	res, err := scanLedger(ctx, l.fsys, cfg.Path, l.pub, l.spki, h, false, func(r *record) error {
		if r.typ == recEvent {
			l.apply(r.event())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	lg, err := durable.OpenLog(l.fsys, cfg.Path, durable.LogOptions{MaxRecord: MaxLedgerRecord})
	if err != nil {
		return nil, err
	}
	if uint64(lg.Len()) != res.n || lg.Size() != res.end {
		lg.Close()
		return nil, fmt.Errorf("privacy: consent ledger changed while it was opened (%d records, expected %d)", lg.Len(), res.n)
	}
	l.log, l.n, l.size, l.last, l.id = lg, res.n, res.end, res.last, res.id
	l.stats = ledgerStats{opened: l.now(), verifiedAtOpen: res.n, signaturesAtOpen: res.sigs, cut: lg.Cut()}
	if l.n == 0 {
		if err := l.create(); err != nil {
			lg.Close()
			return nil, err
		}
	} else if h == nil || h.count != l.n {
		if err := l.writeHead(); err != nil {
			lg.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *Ledger) now() time.Time {
	if l.cfg.Now != nil {
		return l.cfg.Now()
	}
	return time.Now()
}

// create writes the header record: the ledger's random ID and the public
// key that signs it.
func (l *Ledger) create() error {
	r := &record{typ: recHeader, at: l.now().UnixMilli(), spki: l.spki}
	if _, err := rand.Read(r.ledgerID[:]); err != nil {
		return err
	}
	if err := l.appendRecord(r); err != nil {
		return err
	}
	l.id = r.ledgerID
	return nil
}

// appendRecord signs r as the next record, appends it durably and moves the
// head. Called with l.mu held.
func (l *Ledger) appendRecord(r *record) error {
	r.seq, r.prev = l.n, l.last
	body := r.appendBody(make([]byte, 0, 256))
	sig, err := signDigest(l.cfg.Signer, sigDigest(body))
	if err != nil {
		return fmt.Errorf("privacy: signing consent record: %w", err)
	}
	if len(sig) == 0 || len(sig) > maxSigLen {
		return fmt.Errorf("privacy: signer returned a %d-byte signature", len(sig))
	}
	r.bodyLen = len(body)
	r.raw = wire.AppendBytes(body, sig)
	r.sig = r.raw[r.bodyLen:]
	if len(r.raw) > MaxLedgerRecord {
		return fmt.Errorf("%w: record of %d bytes", ErrDecision, len(r.raw))
	}
	if err := l.log.Append(r.raw); err != nil {
		return err
	}
	l.n++
	l.size += int64(8 + len(r.raw))
	l.last = r.sum()
	// The record is durable: it is accepted on the next open even if the
	// head is not moved. The head only lets an open tell a truncated
	// ledger from a torn tail, so a failure to move it is retried.
	if err := l.writeHead(); err != nil {
		l.headStale = true
		l.logger.Warn("privacy: consent ledger head not updated; retried on the next event", "err", err)
	} else {
		l.headStale = false
	}
	return nil
}

// Record appends one decision to the ledger and returns its receipt. When it
// returns nil the event is on flash. A Refused, Withdrawn or Expired
// decision takes effect in [Ledger.Allowed] before it is written, so a
// purpose stops at once even if the write then fails (the error says so,
// and the device should tell the user it could not be saved).
func (l *Ledger) Record(ctx context.Context, d Decision) (*Receipt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.Kind < Given || d.Kind > Expired {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrDecision, d.Kind)
	}
	if !validSubject(d.Subject) {
		return nil, fmt.Errorf("%w: subject must be 1…%d bytes of printable text", ErrDecision, MaxSubjectLen)
	}
	if !isID(d.Purpose) {
		return nil, fmt.Errorf("%w: purpose %q is not an inventory ID", ErrDecision, clip(d.Purpose))
	}
	if !validMethod(d.Method) {
		return nil, fmt.Errorf("%w: method must be 1…%d bytes of printable text", ErrDecision, MaxMethodLen)
	}
	now := l.now()
	if !d.Expires.IsZero() && (d.Kind != Given || !d.Expires.After(now)) {
		return nil, fmt.Errorf("%w: only a given consent may expire, and not in the past", ErrDecision)
	}
	key := consentKey{d.Subject, d.Purpose}
	switch d.Kind {
	case Given, Refused:
		p, ok := l.cfg.Notice.inv.Purpose(d.Purpose)
		if !ok || p.LegalBasis != BasisConsent {
			return nil, fmt.Errorf("%w: %q", ErrNotConsentPurpose, d.Purpose)
		}
		if d.Notice != l.ref {
			return nil, fmt.Errorf("%w: decision names %s v%s (%.12s…), in force is %s v%s (%.12s…)", ErrNoticeMismatch,
				d.Notice.ID, d.Notice.Version, d.Notice.SHA256, l.ref.ID, l.ref.Version, l.ref.SHA256)
		}
	default:
		if d.Notice == (NoticeRef{}) {
			d.Notice = l.ref
			l.smu.RLock()
			if prev, ok := l.state[key]; ok && prev.Kind == Given {
				d.Notice = prev.Notice
			}
			l.smu.RUnlock()
		}
	}
	nh, err := hex.DecodeString(d.Notice.SHA256)
	if err != nil || len(nh) != 32 || !isID(d.Notice.ID) || d.Notice.Version == "" || len(d.Notice.Version) > MaxNameLen || !cleanText(d.Notice.Version, false) {
		return nil, fmt.Errorf("%w: malformed notice reference", ErrDecision)
	}
	r := &record{typ: recEvent, at: now.UnixMilli(), kind: d.Kind, subject: d.Subject, purpose: d.Purpose,
		method: d.Method, notice: d.Notice.ID, version: d.Notice.Version}
	copy(r.noticeH[:], nh)
	if !d.Expires.IsZero() {
		r.expires = d.Expires.UnixMilli()
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrLedgerClosed
	}
	if d.Kind != Given {
		// Fail closed: the purpose stops now, whatever the flash does.
		l.smu.Lock()
		l.state[key] = Event{Seq: l.n, Kind: d.Kind, Subject: d.Subject, Purpose: d.Purpose, Method: d.Method, Notice: d.Notice, At: time.UnixMilli(r.at).UTC()}
		l.smu.Unlock()
	}
	if l.headStale {
		if err := l.writeHead(); err == nil {
			l.headStale = false
		}
	}
	if err := l.appendRecord(r); err != nil {
		return nil, fmt.Errorf("privacy: consent event not saved: %w", err)
	}
	ev := r.event()
	l.apply(ev)
	return l.receipt(r), nil
}

func (l *Ledger) apply(ev Event) {
	l.smu.Lock()
	l.state[consentKey{ev.Subject, ev.Purpose}] = ev
	l.smu.Unlock()
}

// Allowed reports whether subject's consent for purpose is in force now:
// the latest event for them is Given, on the notice in force, and not past
// its end. Anything else — no decision, refused, withdrawn, expired, given
// on an earlier notice, a closed ledger — is false. It never blocks on
// flash.
//
// Allowed answers only for consent: a purpose resting on another legal
// basis is never Given here (see [Exporter], which asks only for purposes
// resting on consent).
func (l *Ledger) Allowed(ctx context.Context, subject, purpose string) bool {
	l.smu.RLock()
	ev, ok := l.state[consentKey{subject, purpose}]
	closed := l.state == nil
	l.smu.RUnlock()
	if !ok || closed || ev.Kind != Given || ev.Notice != l.ref {
		return false
	}
	return ev.Expires.IsZero() || l.now().Before(ev.Expires)
}

// Latest returns the latest event recorded for subject and purpose.
func (l *Ledger) Latest(subject, purpose string) (Event, bool) {
	l.smu.RLock()
	defer l.smu.RUnlock()
	ev, ok := l.state[consentKey{subject, purpose}]
	return ev, ok
}

// Len returns the number of events in the ledger (the header not counted).
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.n) - 1
}

// ExpireDue records an Expired event (method "device") for every given
// consent whose end has passed, and returns how many it recorded. Allowed
// already treats them as ended; this puts the end on the record.
func (l *Ledger) ExpireDue(ctx context.Context) (int, error) {
	now := l.now()
	var due []Event
	l.smu.RLock()
	for _, ev := range l.state {
		if ev.Kind == Given && !ev.Expires.IsZero() && !now.Before(ev.Expires) {
			due = append(due, ev)
		}
	}
	l.smu.RUnlock()
	n := 0
	for _, ev := range due {
		if _, err := l.Record(ctx, Decision{Kind: Expired, Subject: ev.Subject, Purpose: ev.Purpose, Method: "device", Notice: ev.Notice}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Events calls fn with every event on flash, in order, after verifying the
// ledger as [OpenLedger] does; it stops at fn's first error and returns it.
func (l *Ledger) Events(ctx context.Context, fn func(Event) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLedgerClosed
	}
	_, err := l.rescan(ctx, false, func(r *record) error {
		if r.typ != recEvent {
			return nil
		}
		return fn(r.event())
	})
	return err
}

// Receipt returns the receipt of the event with the given sequence number,
// read back from flash.
func (l *Ledger) Receipt(ctx context.Context, seq uint64) (*Receipt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrLedgerClosed
	}
	if seq == 0 || seq >= l.n {
		return nil, fmt.Errorf("privacy: no consent event %d", seq)
	}
	var rc *Receipt
	_, err := l.rescan(ctx, false, func(r *record) error {
		if r.seq == seq {
			rc = l.receipt(r)
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	return rc, nil
}

var errStopScan = errors.New("stop")

// VerifyResult is what [Ledger.Verify] checked.
type VerifyResult struct {
	// Records is the number of records verified, the header included.
	Records uint64
	// Signatures is the number of signatures verified.
	Signatures int
	// Head is the SHA-256 of the newest record.
	Head [32]byte
}

// Verify reads the whole ledger back from flash and checks every record:
// strict decoding, sequence, hash chain, the acknowledged head, and every
// record's signature (spread over the CPUs), and that what is on flash is
// what this Ledger has written. It returns a [*LedgerError] naming the first
// bad record. Appends wait while it runs.
func (l *Ledger) Verify(ctx context.Context) (VerifyResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return VerifyResult{}, ErrLedgerClosed
	}
	res, err := l.rescan(ctx, true, nil)
	if err != nil {
		return VerifyResult{}, err
	}
	return VerifyResult{Records: res.n, Signatures: res.sigs, Head: res.last}, nil
}

// rescan verifies the file on flash against the in-memory head. Called
// with l.mu held.
func (l *Ledger) rescan(ctx context.Context, full bool, fn func(*record) error) (scanResult, error) {
	h, err := readHead(l.fsys, l.cfg.Path+".head")
	if err != nil {
		return scanResult{}, err
	}
	res, err := scanLedger(ctx, l.fsys, l.cfg.Path, l.pub, l.spki, h, full, fn)
	if err != nil {
		return res, err
	}
	if res.n != l.n || res.last != l.last {
		return res, &LedgerError{Index: int64(min(res.n, l.n)), Reason: fmt.Sprintf("flash holds %d records ending in %x…, the device wrote %d ending in %x…", res.n, res.last[:6], l.n, l.last[:6])}
	}
	return res, nil
}

// Close closes the ledger's file. Allowed answers false afterwards.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.smu.Lock()
	l.state = nil
	l.smu.Unlock()
	return l.log.Close()
}

// The head file records how far the ledger was acknowledged: the number of
// records, the byte length they fill and the SHA-256 of the last one. It is
// replaced atomically after every append, so a ledger shorter than its
// head, or whose record at the head differs, was truncated or altered,
// not torn by power loss.
type head struct {
	count uint64
	size  int64
	hash  [32]byte
}

const headMagic = "BPLH\x01"

func (l *Ledger) writeHead() error {
	b := append([]byte(nil), headMagic...)
	b = binary.AppendUvarint(b, l.n)
	b = binary.AppendUvarint(b, uint64(l.size))
	b = append(b, l.last[:]...)
	return durable.WriteFile(l.fsys, l.cfg.Path+".head", b, 0o600)
}

func readHead(fsys durable.FS, name string) (*head, error) {
	b, err := durable.ReadFile(fsys, name, 64)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if errors.Is(err, durable.ErrTooLarge) {
			return nil, &LedgerError{Index: -1, Reason: "head file too large"}
		}
		return nil, err
	}
	rest, ok := bytesCut(b, headMagic)
	if !ok {
		return nil, &LedgerError{Index: -1, Reason: "head file unreadable"}
	}
	var h head
	c, n1 := binary.Uvarint(rest)
	if n1 <= 0 {
		return nil, &LedgerError{Index: -1, Reason: "head file unreadable"}
	}
	s, n2 := binary.Uvarint(rest[n1:])
	if n2 <= 0 || len(rest[n1+n2:]) != 32 || c == 0 || s > 1<<40 {
		return nil, &LedgerError{Index: -1, Reason: "head file unreadable"}
	}
	h.count, h.size = c, int64(s)
	copy(h.hash[:], rest[n1+n2:])
	return &h, nil
}

func bytesCut(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

type scanResult struct {
	n    uint64 // whole, valid records
	end  int64  // offset after them
	last [32]byte
	id   [ledgerIDSize]byte
	sigs int
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// scanLedger reads the ledger file as durable frames (4-byte length, CRC32C,
// payload) without changing it, and checks every record against the one
// before and against the acknowledged head h (nil when there is none).
// It verifies the signature on the record at the head and on every record
// after it, or on every record when full is set. fn, if not nil, sees every
// valid record in order.
func scanLedger(ctx context.Context, fsys durable.FS, path string, pub crypto.PublicKey, spki []byte, h *head, full bool, fn func(*record) error) (scanResult, error) {
	var res scanResult
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		f = nil
	} else if err != nil {
		return res, err
	}
	var br *bufio.Reader
	if f != nil {
		defer f.Close()
		br = bufio.NewReaderSize(f, 64<<10)
	}
	var pool *sigPool
	if full {
		pool = newSigPool(pub)
		defer pool.stop()
	}
	damaged := false // a frame that is torn or fails its checksum
	var prev *record
	var headEnd int64 = -1
	var hdr [8]byte
	for br != nil {
		if res.n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				break
			}
			if err == io.ErrUnexpectedEOF {
				damaged = true
				break
			}
			return res, err
		}
		size := binary.LittleEndian.Uint32(hdr[:4])
		if size > MaxLedgerRecord {
			damaged = true
			break
		}
		raw := make([]byte, size)
		if _, err := io.ReadFull(br, raw); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				damaged = true
				break
			}
			return res, err
		}
		c := crc32.Update(0, castagnoli, hdr[:4])
		if crc32.Update(c, castagnoli, raw) != binary.LittleEndian.Uint32(hdr[4:]) {
			damaged = true
			break
		}
		i := res.n
		r, err := decodeRecord(raw)
		if err != nil {
			return res, &LedgerError{Index: int64(i), Reason: "record does not decode"}
		}
		switch {
		case r.seq != i:
			return res, &LedgerError{Index: int64(i), Reason: fmt.Sprintf("out of order: holds record %d", r.seq)}
		case (i == 0) != (r.typ == recHeader):
			return res, &LedgerError{Index: int64(i), Reason: "header record misplaced"}
		case i == 0 && string(r.spki) != string(spki):
			return res, fmt.Errorf("%w (the ledger's key has SHA-256 %x…)", ErrWrongKey, sha256Prefix(r.spki))
		case i > 0 && r.prev != prev.sum():
			// Which of the two was altered? The first whose own
			// signature fails; if both hold, the earlier one is not
			// the record the later one was chained to.
			bad := i - 1
			if prev.verify(pub) && !r.verify(pub) {
				bad = i
			}
			return res, &LedgerError{Index: int64(bad), Reason: "hash chain broken between records " + fmt.Sprint(i-1, " and ", i)}
		}
		needSig := h == nil || i+1 >= h.count
		if needSig && !full {
			if !r.verify(pub) {
				return res, &LedgerError{Index: int64(i), Reason: "signature does not verify"}
			}
			res.sigs++
		}
		if full {
			if err := pool.submit(i, r); err != nil {
				return res, err
			}
		}
		if i == 0 {
			res.id = r.ledgerID
		}
		res.end += 8 + int64(size)
		res.n++
		res.last = r.sum()
		if h != nil && res.n == h.count {
			headEnd = res.end
			if res.last != h.hash {
				return res, &LedgerError{Index: int64(i), Reason: "differs from the record the device acknowledged"}
			}
		}
		if fn != nil {
			if err := fn(r); err != nil {
				return res, err
			}
		}
		prev = r
	}
	if full {
		n, err := pool.wait()
		if err != nil {
			return res, err
		}
		res.sigs = n
	}
	if h != nil {
		switch {
		case res.n < h.count && damaged:
			return res, &LedgerError{Index: int64(res.n), Reason: fmt.Sprintf("damaged (length or checksum wrong); the device acknowledged %d records", h.count)}
		case res.n < h.count:
			return res, &LedgerError{Index: int64(res.n), Reason: fmt.Sprintf("missing: the ledger was truncated after %d records, the device acknowledged %d", res.n, h.count)}
		case headEnd != h.size:
			return res, &LedgerError{Index: int64(h.count - 1), Reason: "ends at another offset than the device acknowledged"}
		}
	} else if res.n > 1 {
		return res, &LedgerError{Index: -1, Reason: fmt.Sprintf("missing, but the ledger holds %d records", res.n)}
	}
	return res, nil
}

func sha256Prefix(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:6]
}

// sigPool verifies signatures on all CPUs and remembers the first (lowest
// index) failure.
type sigPool struct {
	pub  crypto.PublicKey
	jobs chan sigJob
	wg   sync.WaitGroup
	mu   sync.Mutex
	bad  int64
	n    int
	done bool
}

type sigJob struct {
	i uint64
	r *record
}

func newSigPool(pub crypto.PublicKey) *sigPool {
	p := &sigPool{pub: pub, jobs: make(chan sigJob, 256), bad: -1}
	for range runtime.GOMAXPROCS(0) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				ok := j.r.verify(p.pub)
				p.mu.Lock()
				p.n++
				if !ok && (p.bad < 0 || int64(j.i) < p.bad) {
					p.bad = int64(j.i)
				}
				p.mu.Unlock()
			}
		}()
	}
	return p
}

func (p *sigPool) submit(i uint64, r *record) error {
	p.jobs <- sigJob{i, r}
	return nil
}

func (p *sigPool) stop() {
	if !p.done {
		p.done = true
		close(p.jobs)
		p.wg.Wait()
	}
}

func (p *sigPool) wait() (int, error) {
	p.stop()
	if p.bad >= 0 {
		return p.n, &LedgerError{Index: p.bad, Reason: "signature does not verify"}
	}
	return p.n, nil
}
