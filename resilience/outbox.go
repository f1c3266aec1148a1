package resilience

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// Priority orders messages in the [Outbox]: higher priorities are delivered
// first and dropped last.
type Priority uint8

// Message priorities.
const (
	// PriorityLow is for telemetry: delivered last, dropped first.
	PriorityLow Priority = iota
	// PriorityNormal is the default for ordinary events.
	PriorityNormal
	// PriorityHigh is for alerts the user should see.
	PriorityHigh
	// PriorityCritical is for messages that must never be dropped to make
	// room, such as a user's deletion request: when the outbox is full of
	// critical messages, a new one is refused with ErrFull instead.
	PriorityCritical
)

// String returns the priority's name ("low", "normal", "high", "critical").
func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityCritical:
		return "critical"
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// Message is one record of the [Outbox].
type Message struct {
	// Key is the idempotency key the receiving service deduplicates on:
	// delivery is at least once, so the same message may arrive twice (after
	// a power loss between sending and Ack) and always carries the same key.
	// Empty means the outbox generates a random 128-bit key. Enqueueing a
	// key that is already pending is a no-op. 1 to 128 printable ASCII
	// bytes.
	Key string
	// Topic names the destination or kind ("erase.request", "telemetry"):
	// 1 to 255 printable ASCII bytes.
	Topic string
	// Priority orders delivery and eviction. The zero value is PriorityLow.
	Priority Priority
	// TTL is how long the message is worth delivering; zero means it
	// never expires. See the package documentation on clock jumps.
	TTL time.Duration
	// Payload is the message body, at most OutboxConfig.MaxPayload bytes.
	Payload []byte

	// Seq is the outbox's sequence number, set by Enqueue.
	Seq uint64
	// Created is the wall-clock time of Enqueue.
	Created time.Time
}

// DropPolicy says what [Outbox.Enqueue] does when the outbox is full.
type DropPolicy int

const (
	// DropLowestOldest (the default) makes room by dropping the pending
	// messages of lowest priority, oldest first, but only those of a
	// priority no higher than the new message's and never a critical one.
	// When no such message exists the new one is refused with ErrFull.
	// A telemetry stream thus behaves as a ring buffer while alerts and
	// deletion requests survive.
	DropLowestOldest DropPolicy = iota
	// RefuseNew refuses every new message with ErrFull while the outbox is
	// full, keeping what is already there.
	RefuseNew
)

// Defaults of OutboxConfig, documented on its fields.
const (
	defaultMaxRecords   = 10000
	defaultMaxBytes     = 4 << 20
	defaultMaxPayload   = 64 << 10
	defaultSegmentBytes = 1 << 20
)

// Errors of the [Outbox].
var (
	// ErrFull: the outbox is full and the drop policy refused the message.
	ErrFull = errors.New("resilience: outbox full")
	// ErrInvalidMessage: a message broke a limit (key, topic, payload
	// size, priority, TTL).
	ErrInvalidMessage = errors.New("resilience: invalid outbox message")
	// ErrStorage wraps a failure of the flash (a full disk, an I/O error):
	// the operation that returned it stored nothing and acknowledged
	// nothing.
	ErrStorage = errors.New("resilience: outbox storage failed")
	// ErrClosed: the outbox was closed.
	ErrClosed = errors.New("resilience: outbox closed")
	// ErrDraining: another Drain is running.
	ErrDraining = errors.New("resilience: outbox already draining")
)

// OutboxConfig configures [OpenOutbox]. Dir is required; every other zero
// field takes the documented default.
type OutboxConfig struct {
	// FS is where the outbox lives; nil means durable.OS.
	FS durable.FS
	// Dir is the outbox's own directory (created 0700 if missing). Nothing
	// else may write in it.
	Dir string
	// MaxRecords bounds the pending messages (default 10,000).
	MaxRecords int
	// MaxBytes bounds the pending messages' encoded size (default 4 MiB).
	// The files on flash stay below about 2×MaxBytes + 2×SegmentBytes.
	MaxBytes int64
	// MaxPayload bounds one message's payload (default 64 KiB, at most
	// 1 MiB and at most MaxBytes).
	MaxPayload int
	// SegmentBytes is the size at which a new segment file is started
	// (default 1 MiB).
	SegmentBytes int64
	// Drop is the policy when full (default DropLowestOldest).
	Drop DropPolicy
	// Now returns the wall-clock time, stored as a message's creation time
	// and used only at open to age messages across a restart (default
	// time.Now).
	Now func() time.Time
	// Monotonic returns a monotonic elapsed time that wall-clock jumps do
	// not move; expiry while running is measured on it (default the time
	// since OpenOutbox on Go's monotonic clock).
	Monotonic func() time.Duration
	// Logger receives recovery and compaction events; nil discards them.
	Logger *slog.Logger
}

// OutboxStats is a snapshot of the outbox's state.
type OutboxStats struct {
	// Pending is the number of messages awaiting delivery (expired ones
	// excluded), PendingBytes their encoded size.
	Pending      int
	PendingBytes int64
	// Segments and DiskBytes describe the files on flash.
	Segments  int
	DiskBytes int64
	// Recovered is how many pending messages were found at open.
	Recovered int
	// TornBytes is the torn tail cut from the newest segment at open,
	// which is what a power loss during an append leaves.
	TornBytes int64
	// Quarantined lists corrupt segment files renamed aside (*.corrupt) in
	// the outbox directory, including ones from earlier boots.
	Quarantined []string
	// Counters since open.
	Enqueued, Delivered, Dropped, Expired uint64
	// Commits counts the group commits that stored enqueued messages: with
	// concurrent producers it is lower than the number of Enqueue calls.
	Commits uint64
	// LastError is the last storage error, empty when the last write
	// succeeded.
	LastError string
}

type rec struct {
	msg      Message
	size     int64
	seg      uint64
	deadline time.Duration // on the monotonic clock, if expires
	expires  bool
	done     bool
}

func (r *rec) expired(now time.Duration) bool { return r.expires && now >= r.deadline }

type segMeta struct {
	bytes int64
	live  int
}

// Outbox is a durable, bounded, prioritised queue of outgoing messages: the
// local-first half of provision 5.9-2. Messages are stored on flash before
// Enqueue returns, survive power loss, and are delivered at least once, in
// priority order, each carrying an idempotency key the service uses to drop
// duplicates. It is safe for concurrent use; Enqueue calls made at the same
// time share one write and one fsync (group commit).
//
// It is an append-only set of segment files, each a CRC-framed
// internal/durable log of put and done entries. Delivery, drops and expiry
// append done entries; segments whose messages are all done are removed,
// and when dead entries outweigh live ones the live messages are copied into
// a new segment (written atomically) and the old ones removed, oldest first,
// so a power cut at any point leaves every pending message exactly once
// pending.
type Outbox struct {
	cfg    OutboxConfig
	fsys   durable.FS
	log    *slog.Logger
	mono   func() time.Duration
	start  time.Time
	drainM sync.Mutex

	// Group commit of concurrent Enqueue calls.
	lead   chan struct{} // the token of the caller that commits
	qmu    sync.Mutex
	queued []*enqReq

	mu        sync.Mutex
	closed    bool
	active    *durable.Log
	activeNum uint64
	segs      map[uint64]*segMeta
	nextSeq   uint64
	live      map[uint64]*rec
	byKey     map[string]*rec
	queues    [PriorityCritical + 1][]*rec
	bytes     int64
	expiring  int // live messages with a TTL
	notify    chan struct{}
	stats     OutboxStats
	lastErr   error
}

const (
	segPrefix = "seg-"
	segSuffix = ".log"
	quarExt   = ".corrupt"
)

func segName(num uint64) string { return fmt.Sprintf("%s%016x%s", segPrefix, num, segSuffix) }

func parseSegName(n string) (uint64, bool) {
	if !strings.HasPrefix(n, segPrefix) || !strings.HasSuffix(n, segSuffix) || len(n) != len(segPrefix)+16+len(segSuffix) {
		return 0, false
	}
	v, err := strconv.ParseUint(n[len(segPrefix):len(segPrefix)+16], 16, 64)
	return v, err == nil
}

// OpenOutbox opens (or creates) the outbox in cfg.Dir and recovers it:
// every message whose Enqueue returned nil and that was not acknowledged is
// pending again. The torn tail a power loss leaves is cut; a segment that is
// corrupt beyond that (bit rot, a planted file) is renamed aside to
// "*.corrupt", the messages before the corruption are kept, and it is listed
// in Stats().Quarantined and reported by Checks.
func OpenOutbox(ctx context.Context, cfg OutboxConfig) (*Outbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("resilience: OutboxConfig.Dir is required")
	}
	if cfg.FS == nil {
		cfg.FS = durable.OS
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = defaultMaxRecords
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultMaxBytes
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	cfg.MaxPayload = min(cfg.MaxPayload, maxPayloadHard, int(min(cfg.MaxBytes, maxPayloadHard)))
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = defaultSegmentBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := &Outbox{
		cfg: cfg, fsys: cfg.FS, log: cfg.Logger, start: time.Now(),
		segs: map[uint64]*segMeta{}, live: map[uint64]*rec{}, byKey: map[string]*rec{},
		notify: make(chan struct{}), lead: make(chan struct{}, 1),
	}
	o.lead <- struct{}{}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	o.mono = cfg.Monotonic
	if o.mono == nil {
		o.mono = func() time.Duration { return time.Since(o.start) }
	}
	if err := o.recover(); err != nil {
		if o.active != nil {
			o.active.Close()
		}
		return nil, err
	}
	return o, nil
}

func (o *Outbox) path(name string) string { return path.Join(o.cfg.Dir, name) }

func (o *Outbox) logOpts() durable.LogOptions {
	return durable.LogOptions{MaxRecord: maxPayloadHard + 2*maxKeyLen + 64}
}

// maxSegmentFile bounds a segment file read at open; a larger one cannot
// have been written by this outbox and is quarantined unread.
func (o *Outbox) maxSegmentFile() int64 {
	return 4 * (o.cfg.SegmentBytes + o.cfg.MaxBytes + maxPayloadHard)
}

type scanned struct {
	num     uint64
	entries []entry
	size    int64
	corrupt string // why, if corrupt
	cut     int64
}

func (o *Outbox) recover() error {
	if err := o.fsys.MkdirAll(o.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	des, err := o.fsys.ReadDir(o.cfg.Dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	var nums []uint64
	for _, de := range des {
		n := de.Name()
		switch {
		case strings.HasSuffix(n, quarExt):
			o.stats.Quarantined = append(o.stats.Quarantined, n)
		case strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp"):
			// A compaction's temporary file that power loss left behind:
			// never renamed into place, so nothing refers to it.
			if err := durable.Remove(o.fsys, o.path(n)); err != nil {
				return fmt.Errorf("%w: %w", ErrStorage, err)
			}
		default:
			if v, ok := parseSegName(n); ok {
				nums = append(nums, v)
			}
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })

	var segs []scanned
	for i, num := range nums {
		s, err := o.scanSegment(num, i == len(nums)-1)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		segs = append(segs, s)
	}

	// Rebuild: every put (newest copy wins), minus every done.
	type found struct {
		msg Message
		seg uint64
	}
	puts := map[uint64]found{}
	done := map[uint64]bool{}
	var maxSeq uint64
	for _, s := range segs {
		for _, e := range s.entries {
			switch e.kind {
			case kindHeader:
				if e.next > 0 {
					maxSeq = max(maxSeq, e.next-1)
				}
			case kindPut:
				puts[e.msg.Seq] = found{e.msg, s.num}
				maxSeq = max(maxSeq, e.msg.Seq)
			case kindDone:
				for _, q := range e.seqs {
					done[q] = true
					maxSeq = max(maxSeq, q)
				}
			}
		}
	}
	o.nextSeq = maxSeq + 1

	// The active segment: the newest unless it is corrupt.
	var rescue []*rec
	newest := len(segs) - 1
	for i, s := range segs {
		if s.corrupt != "" {
			continue
		}
		o.segs[s.num] = &segMeta{bytes: s.size - s.cut}
		if i == newest {
			l, err := durable.OpenLog(o.fsys, o.path(segName(s.num)), o.logOpts())
			if err != nil {
				return fmt.Errorf("%w: %w", ErrStorage, err)
			}
			o.active, o.activeNum = l, s.num
			o.stats.TornBytes = l.Cut()
			o.segs[s.num].bytes = l.Size()
		}
	}
	if o.active == nil {
		if err := o.newActive(maxSeqNum(nums) + 1); err != nil {
			return err
		}
	}

	seqs := make([]uint64, 0, len(puts))
	for q := range puts {
		if !done[q] {
			seqs = append(seqs, q)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	corrupt := map[uint64]bool{}
	for _, s := range segs {
		if s.corrupt != "" {
			corrupt[s.num] = true
		}
	}
	now, mono := o.cfg.Now(), o.mono()
	recs := make([]*rec, 0, len(seqs))
	for _, q := range seqs {
		f := puts[q]
		r := &rec{msg: f.msg, seg: f.seg}
		r.size = int64(len(appendPut(nil, &r.msg))) + 8
		r.deadline, r.expires = o.deadlineAtOpen(&r.msg, now, mono)
		if corrupt[f.seg] {
			rescue = append(rescue, r)
		}
		recs = append(recs, r)
	}
	// Messages before the corruption in a quarantined segment are copied
	// into the active one before the file is renamed aside.
	if len(rescue) > 0 {
		var ents [][]byte
		for _, r := range rescue {
			ents = append(ents, appendPut(nil, &r.msg))
		}
		if err := o.appendLocked(ents); err != nil {
			return err
		}
		for _, r := range rescue {
			r.seg = o.activeNum
		}
	}
	for _, r := range recs {
		o.insert(r)
	}
	for _, s := range segs {
		if s.corrupt == "" {
			continue
		}
		name := segName(s.num)
		if err := o.fsys.Rename(o.path(name), o.path(name+quarExt)); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		if err := o.fsys.SyncDir(o.cfg.Dir); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		o.stats.Quarantined = append(o.stats.Quarantined, name+quarExt)
		o.log.Warn("resilience: outbox segment quarantined", "file", name+quarExt, "reason", s.corrupt)
	}
	sort.Strings(o.stats.Quarantined)
	o.stats.Recovered = len(o.live)
	// A segment left fully delivered by a power cut is removed now; if
	// that fails the outbox still works (Checks reports it).
	_ = o.gcLocked()
	return nil
}

func maxSeqNum(nums []uint64) uint64 {
	if len(nums) == 0 {
		return 0
	}
	return nums[len(nums)-1]
}

// deadlineAtOpen converts a stored message's expiry to the monotonic clock.
// The wall clock is the only measure of the time the device was off; a
// creation time in the future (the clock went back) or before 2024 (a clock
// that was not set when the message was made) restarts the message's TTL
// instead of expiring it.
func (o *Outbox) deadlineAtOpen(m *Message, now time.Time, mono time.Duration) (time.Duration, bool) {
	if m.TTL <= 0 {
		return 0, false
	}
	age := now.Sub(m.Created)
	if age < 0 || m.Created.Before(plausibleWall) {
		age = 0
	}
	return mono + min(m.TTL-age, m.TTL), true
}

var plausibleWall = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// scanSegment reads a segment through a read-only view, so that a corrupt
// file is seen as the device found it and can be quarantined unchanged.
func (o *Outbox) scanSegment(num uint64, newest bool) (scanned, error) {
	s := scanned{num: num}
	name := o.path(segName(num))
	fi, err := o.fsys.Stat(name)
	if err != nil {
		return s, err
	}
	s.size = fi.Size()
	if !fi.Mode().IsRegular() {
		s.corrupt = "not a regular file"
		return s, nil
	}
	if s.size > o.maxSegmentFile() {
		s.corrupt = fmt.Sprintf("file of %d bytes exceeds the %d-byte bound", s.size, o.maxSegmentFile())
		return s, nil
	}
	l, err := durable.OpenLog(readOnlyFS{o.fsys}, name, o.logOpts())
	if err != nil {
		return s, err
	}
	defer l.Close()
	s.cut = l.Cut()
	err = l.Scan(func(off int64, b []byte) error {
		e, err := decodeEntry(b)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		s.entries = append(s.entries, e)
		return nil
	})
	switch {
	case err != nil:
		s.corrupt = err.Error()
	case s.cut > 0 && !newest:
		// Only the newest segment is appended to; an older one was
		// complete and synced before the next was started.
		s.corrupt = fmt.Sprintf("%d bytes after offset %d fail their checksum", s.cut, s.size-s.cut)
	}
	return s, nil
}

// newActive starts segment num as the active segment. Its header is written
// with the first append.
func (o *Outbox) newActive(num uint64) error {
	l, err := durable.OpenLog(o.fsys, o.path(segName(num)), o.logOpts())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if o.active != nil {
		o.active.Close()
	}
	o.active, o.activeNum = l, num
	o.segs[num] = &segMeta{bytes: l.Size()}
	return nil
}

// appendLocked writes entries with one group commit, first starting a new
// segment if the active one is full. On error nothing in memory changed
// except possibly the (empty) active segment.
func (o *Outbox) appendLocked(ents [][]byte) error {
	if o.active.Size() >= o.cfg.SegmentBytes || o.active.Size() == 0 {
		if o.active.Size() > 0 {
			if err := o.newActive(o.activeNum + 1); err != nil {
				o.lastErr = err
				return err
			}
		}
		ents = append([][]byte{appendHeader(nil, o.nextSeq)}, ents...)
	}
	before := o.active.Size()
	if err := o.active.Append(ents...); err != nil {
		err = fmt.Errorf("%w: %w", ErrStorage, err)
		o.lastErr = err
		o.log.Error("resilience: outbox write failed", "err", err)
		return err
	}
	o.segs[o.activeNum].bytes += o.active.Size() - before
	o.lastErr = nil
	return nil
}

func (o *Outbox) insert(r *rec) {
	o.live[r.msg.Seq] = r
	o.byKey[r.msg.Key] = r
	o.queues[r.msg.Priority] = append(o.queues[r.msg.Priority], r)
	o.bytes += r.size
	if r.expires {
		o.expiring++
	}
	if m := o.segs[r.seg]; m != nil {
		m.live++
	}
}

func (o *Outbox) finish(r *rec) {
	r.done = true
	delete(o.live, r.msg.Seq)
	if o.byKey[r.msg.Key] == r {
		delete(o.byKey, r.msg.Key)
	}
	o.bytes -= r.size
	if r.expires {
		o.expiring--
	}
	if m := o.segs[r.seg]; m != nil {
		m.live--
	}
	q := o.queues[r.msg.Priority]
	i := 0
	for i < len(q) && q[i].done {
		q[i] = nil
		i++
	}
	o.queues[r.msg.Priority] = q[i:]
}

func (o *Outbox) expiredLocked(now time.Duration) []*rec {
	if o.expiring == 0 {
		return nil
	}
	var out []*rec
	for _, r := range o.live {
		if r.expired(now) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].msg.Seq < out[j].msg.Seq })
	return out
}

func seqsOf(rs []*rec) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.msg.Seq
	}
	return out
}

func newKey() string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("resilience: no randomness for an idempotency key: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Enqueue stores msgs durably with one group commit (one write and one
// fsync for the whole batch, shared with any Enqueue calls running at the
// same time): when it returns nil every message is on flash and will be
// delivered, unless it expires or a later Enqueue drops it under the drop
// policy. On error nothing of this call was stored and nothing dropped for
// it — a refused batch leaves the outbox as it was. Messages whose Key is
// already pending are skipped (idempotent enqueue). ctx is checked before
// the batch is queued for commit; once queued, Enqueue waits for the
// outcome so that its answer is always true.
func (o *Outbox) Enqueue(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := o.cfg.Now()
	add := make([]*rec, 0, len(msgs))
	for _, m := range msgs {
		if m.Key == "" {
			m.Key = newKey()
		}
		if err := validKey(m.Key); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
		}
		if err := validTopic(m.Topic); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
		}
		if m.Priority > PriorityCritical {
			return fmt.Errorf("%w: priority %d", ErrInvalidMessage, m.Priority)
		}
		if m.TTL < 0 {
			return fmt.Errorf("%w: negative TTL", ErrInvalidMessage)
		}
		if len(m.Payload) > o.cfg.MaxPayload {
			return fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrInvalidMessage, len(m.Payload), o.cfg.MaxPayload)
		}
		m.Payload = append([]byte(nil), m.Payload...)
		m.Created = now
		add = append(add, &rec{msg: m})
	}

	// Leader/follower group commit: the caller holding the lead token
	// commits every queued request with one append; the others wait for
	// their result or for the token.
	req := &enqReq{recs: add, done: make(chan error, 1)}
	o.qmu.Lock()
	o.queued = append(o.queued, req)
	o.qmu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-o.lead:
	}
	select {
	case err := <-req.done:
		o.lead <- struct{}{}
		return err
	default:
	}
	o.qmu.Lock()
	batch := o.queued
	o.queued = nil
	o.qmu.Unlock()
	o.commitEnqueues(batch)
	o.lead <- struct{}{}
	return <-req.done
}

type enqReq struct {
	recs []*rec
	done chan error
}

// commitEnqueues plans each request against the outbox as the earlier ones
// of the group leave it, writes all the accepted ones with one append, and
// applies them only once that append is durable. It answers every request.
func (o *Outbox) commitEnqueues(reqs []*enqReq) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		for _, r := range reqs {
			r.done <- ErrClosed
		}
		return
	}
	mono := o.mono()
	expired := o.expiredLocked(mono)
	gone := map[*rec]bool{}
	count, bytes := len(o.live), o.bytes
	for _, r := range expired {
		gone[r] = true
		count--
		bytes -= r.size
	}
	var (
		victims, keep []*rec
		enc           []byte // the put entries, back to back
		ends          []int  // where each one ends in enc
		accepted      []*enqReq
		keys          = map[string]bool{}
		seq           = o.nextSeq
	)
	for _, req := range reqs {
		// Where this request starts, to undo it alone if it is refused.
		c0, b0, s0, e0, n0, v0, k0 := count, bytes, seq, len(enc), len(ends), len(victims), len(keep)
		var newKeys []string
		var err error
	recs:
		for _, r := range req.recs {
			if p := o.byKey[r.msg.Key]; (p != nil && !gone[p]) || keys[r.msg.Key] {
				continue
			}
			keys[r.msg.Key] = true
			newKeys = append(newKeys, r.msg.Key)
			r.msg.Seq = seq
			start := len(enc)
			enc = appendPut(enc, &r.msg)
			r.size = int64(len(enc)-start) + 8
			for count+1 > o.cfg.MaxRecords || bytes+r.size > o.cfg.MaxBytes {
				v := o.victimLocked(r.msg.Priority, gone)
				if o.cfg.Drop == RefuseNew || v == nil {
					err = ErrFull
					break recs
				}
				gone[v] = true
				victims = append(victims, v)
				count--
				bytes -= v.size
			}
			count++
			bytes += r.size
			seq++
			if r.msg.TTL > 0 {
				r.deadline, r.expires = mono+r.msg.TTL, true
			}
			keep = append(keep, r)
			ends = append(ends, len(enc))
		}
		if err != nil {
			for _, v := range victims[v0:] {
				delete(gone, v)
			}
			for _, k := range newKeys {
				delete(keys, k)
			}
			count, bytes, seq, enc, ends, victims, keep = c0, b0, s0, enc[:e0], ends[:n0], victims[:v0], keep[:k0]
			req.done <- err
			continue
		}
		accepted = append(accepted, req)
	}
	if len(keep) == 0 && len(expired) == 0 {
		for _, req := range accepted {
			req.done <- nil
		}
		return
	}
	ents := doneEntries(reasonExpired, seqsOf(expired))
	ents = append(ents, doneEntries(reasonDropped, seqsOf(victims))...)
	start := 0
	for _, end := range ends {
		ents = append(ents, enc[start:end:end])
		start = end
	}
	if err := o.appendLocked(ents); err != nil {
		for _, req := range accepted {
			req.done <- err
		}
		return
	}
	o.nextSeq = seq
	for _, r := range expired {
		o.finish(r)
	}
	for _, r := range victims {
		o.finish(r)
		o.log.Warn("resilience: outbox full, message dropped", "topic", r.msg.Topic, "priority", r.msg.Priority.String(), "seq", r.msg.Seq)
	}
	for _, r := range keep {
		r.seg = o.activeNum
		o.insert(r)
	}
	o.stats.Expired += uint64(len(expired))
	o.stats.Dropped += uint64(len(victims))
	o.stats.Enqueued += uint64(len(keep))
	if len(keep) > 0 {
		o.stats.Commits++
		close(o.notify)
		o.notify = make(chan struct{})
	}
	for _, req := range accepted {
		req.done <- nil
	}
}

// victimLocked picks the message to drop for a new one of priority p: the
// oldest of the lowest priority present, at most p and below critical.
func (o *Outbox) victimLocked(p Priority, gone map[*rec]bool) *rec {
	for q := PriorityLow; q <= min(p, PriorityHigh); q++ {
		for _, r := range o.queues[q] {
			if !r.done && !gone[r] {
				return r
			}
		}
	}
	return nil
}

// Pending returns up to n messages awaiting delivery (all of them if n <= 0),
// highest priority first, oldest first within a priority, expired ones
// skipped. The messages are copies.
func (o *Outbox) Pending(n int) []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.mono()
	var out []Message
	for p := int(PriorityCritical); p >= 0; p-- {
		for _, r := range o.queues[p] {
			if n > 0 && len(out) >= n {
				return out
			}
			if r.done || r.expired(now) {
				continue
			}
			m := r.msg
			m.Payload = append([]byte(nil), m.Payload...)
			out = append(out, m)
		}
	}
	return out
}

// Ack records that the messages with the given idempotency keys were
// delivered, with one group commit. When it returns nil they will never be
// delivered again; if power is lost before, they are delivered again (at
// least once) under the same keys. Unknown or already acknowledged keys are
// ignored. Fully delivered segments are removed and, when dead records
// outweigh live ones, the outbox is compacted.
func (o *Outbox) Ack(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	var acked []*rec
	seen := map[*rec]bool{}
	for _, k := range keys {
		if r := o.byKey[k]; r != nil && !seen[r] {
			seen[r] = true
			acked = append(acked, r)
		}
	}
	expired := o.expiredLocked(o.mono())
	var exp []*rec
	for _, r := range expired {
		if !seen[r] {
			exp = append(exp, r)
		}
	}
	if len(acked) == 0 && len(exp) == 0 {
		return nil
	}
	sort.Slice(acked, func(i, j int) bool { return acked[i].msg.Seq < acked[j].msg.Seq })
	ents := append(doneEntries(reasonDelivered, seqsOf(acked)), doneEntries(reasonExpired, seqsOf(exp))...)
	if err := o.appendLocked(ents); err != nil {
		return err
	}
	for _, r := range acked {
		o.finish(r)
	}
	for _, r := range exp {
		o.finish(r)
	}
	o.stats.Delivered += uint64(len(acked))
	o.stats.Expired += uint64(len(exp))
	o.maintainLocked()
	return nil
}

// maintainLocked removes dead segments and compacts when garbage dominates.
// Its failures leave the outbox correct (only larger) and are recorded for
// Checks; they do not fail the operation that triggered them.
func (o *Outbox) maintainLocked() {
	o.trimQueuesLocked()
	if o.gcLocked() != nil {
		return
	}
	var disk int64
	for _, m := range o.segs {
		disk += m.bytes
	}
	if disk-o.bytes > o.bytes+o.cfg.SegmentBytes {
		if err := o.compactLocked(); err != nil {
			o.lastErr = err
			o.log.Error("resilience: outbox compaction failed", "err", err)
		}
	}
}

// gcLocked removes, oldest first, segments that hold no pending message.
// Only the oldest may go: its done entries can refer to puts in itself only,
// so removing it cannot bring back a message a newer segment marks done.
func (o *Outbox) gcLocked() error {
	for {
		nums := o.segNums()
		if len(nums) < 2 || nums[0] == o.activeNum || o.segs[nums[0]].live > 0 {
			return nil
		}
		if err := durable.Remove(o.fsys, o.path(segName(nums[0]))); err != nil {
			err = fmt.Errorf("%w: %w", ErrStorage, err)
			o.lastErr = err
			return err
		}
		delete(o.segs, nums[0])
	}
}

// trimQueuesLocked drops delivered messages from the middle of the priority
// queues (finish only trims their fronts), bounding memory.
func (o *Outbox) trimQueuesLocked() {
	for p, q := range o.queues {
		if len(q) < 64 {
			continue
		}
		n := 0
		for _, r := range q {
			if !r.done {
				n++
			}
		}
		if n*2 > len(q) {
			continue
		}
		nq := make([]*rec, 0, n)
		for _, r := range q {
			if !r.done {
				nq = append(nq, r)
			}
		}
		o.queues[p] = nq
	}
}

func (o *Outbox) segNums() []uint64 {
	nums := make([]uint64, 0, len(o.segs))
	for n := range o.segs {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	return nums
}

// Compact copies the pending messages into a new segment, written
// atomically, and removes the older segments oldest first. Ack compacts by
// itself when dead records outweigh live ones; call Compact to reclaim flash
// at a moment of your choosing.
func (o *Outbox) Compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	return o.compactLocked()
}

func (o *Outbox) compactLocked() error {
	recs := make([]*rec, 0, len(o.live))
	for _, r := range o.live {
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].msg.Seq < recs[j].msg.Seq })
	buf := durable.AppendFrame(nil, appendHeader(nil, o.nextSeq))
	for _, r := range recs {
		buf = durable.AppendFrame(buf, appendPut(nil, &r.msg))
	}
	num := o.activeNum + 1
	name := o.path(segName(num))
	if err := durable.WriteFile(o.fsys, name, buf, 0o600); err != nil {
		err = fmt.Errorf("%w: %w", ErrStorage, err)
		o.lastErr = err
		return err
	}
	l, err := durable.OpenLog(o.fsys, name, o.logOpts())
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrStorage, err)
		o.lastErr = err
		return err
	}
	old := o.segNums()
	o.active.Close()
	o.active, o.activeNum = l, num
	o.segs[num] = &segMeta{bytes: l.Size()}
	for _, n := range old {
		o.segs[n].live = 0
	}
	for _, r := range recs {
		r.seg = num
		o.segs[num].live++
	}
	return o.gcLocked()
}

// Drain delivers pending messages through send, highest priority first,
// and acknowledges each batch that send accepted; it waits for new messages
// when the outbox is empty. It returns send's first error (after
// acknowledging what was sent before it), a storage error, or ctx's error.
// Run it inside the supervisor's connect function so that it stops when the
// connection drops. Only one Drain runs at a time; a second returns
// ErrDraining.
//
// send must return nil only once the service has accepted the message; the
// message may still be sent again after a power loss, under the same Key.
func (o *Outbox) Drain(ctx context.Context, send func(ctx context.Context, m Message) error) error {
	if !o.drainM.TryLock() {
		return ErrDraining
	}
	defer o.drainM.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return ErrClosed
		}
		wait := o.notify
		o.mu.Unlock()
		batch := o.Pending(64)
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wait:
				continue
			}
		}
		var sent []string
		var sendErr error
		for _, m := range batch {
			if sendErr = send(ctx, m); sendErr != nil {
				break
			}
			sent = append(sent, m.Key)
		}
		if err := o.Ack(context.WithoutCancel(ctx), sent...); err != nil {
			return err
		}
		if sendErr != nil {
			return sendErr
		}
	}
}

// Stats returns a snapshot of the outbox's state.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats
	s.Quarantined = append([]string(nil), s.Quarantined...)
	now := o.mono()
	for _, r := range o.live {
		if r.expired(now) {
			continue
		}
		s.Pending++
		s.PendingBytes += r.size
	}
	s.Segments = len(o.segs)
	for _, m := range o.segs {
		s.DiskBytes += m.bytes
	}
	if o.lastErr != nil {
		s.LastError = o.lastErr.Error()
	}
	return s
}

// Close closes the outbox. Pending messages stay on flash for the next
// OpenOutbox.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	close(o.notify)
	o.notify = make(chan struct{})
	return o.active.Close()
}

// readOnlyFS opens files for reading only and gives them a virtual
// truncation, so durable.OpenLog can find a log's torn tail without cutting
// it from the file.
type readOnlyFS struct{ durable.FS }

var errReadOnly = errors.New("resilience: read-only view")

func (r readOnlyFS) OpenFile(name string, flag int, perm fs.FileMode) (durable.File, error) {
	f, err := r.FS.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return &roFile{File: f, limit: -1}, nil
}

func (readOnlyFS) SyncDir(string) error { return errReadOnly }

type roFile struct {
	durable.File
	limit int64
}

func (f *roFile) ReadAt(p []byte, off int64) (int, error) {
	if f.limit >= 0 {
		if off >= f.limit {
			return 0, io.EOF
		}
		if off+int64(len(p)) > f.limit {
			n, err := f.File.ReadAt(p[:f.limit-off], off)
			if err == nil {
				err = io.EOF
			}
			return n, err
		}
	}
	return f.File.ReadAt(p, off)
}

func (f *roFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (f *roFile) Truncate(n int64) error    { f.limit = n; return nil }
func (f *roFile) Sync() error               { return nil }
