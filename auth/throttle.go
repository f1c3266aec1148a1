package auth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/wire"
)

// ThrottleConfig tunes brute-force protection (provision 5.1-5). The zero
// value is the default described on each field.
//
// Three limits apply, in this order, before a credential is hashed:
//
//   - per source (an IPv4 address, an IPv6 /64, or an opaque transport
//     name): SourceFree failures, then exponential delays from BaseDelay
//     doubling up to MaxDelay;
//   - per account: AccountFree failures, then the same exponential delays.
//     A source adds at most SourceFree failures to an account's count, so
//     a single attacking source cannot make the account wait, and sources
//     in good standing (one that logged in successfully within GoodFor)
//     skip it;
//   - device-wide: at most GlobalBudget failures per GlobalWindow from
//     sources not in good standing.
//
// Every failure is written to flash through durable before the
// credential is checked, so pulling the power does not reset a counter.
//
// Retention: a source address is kept at most [ThrottleConfig.Retention]
// after its last login attempt (30 days and 1 hour with the defaults), on
// flash and in memory. Retention is max(ForgetAfter, MaxDelay, GoodFor) plus
// one hour: an address is dropped once its failures are forgotten, its delay
// has run out and its good standing has expired (an address still being
// delayed is never dropped), and the log is compacted at most hourly for
// that. Erasing needs the throttle to run: it happens on the first admitted
// attempt, successful login or restart after that time, so on a device that
// sees none of them the address stays until the first one. Account names in
// the throttle obey the same bound. Time is the throttle's clock, which does
// not credit power-off time until the wall clock is set (see the package
// documentation).
type ThrottleConfig struct {
	// SourceFree is how many failures a source may make before delays
	// start. Zero means 5.
	SourceFree int
	// AccountFree is how many counted failures an account may take before
	// delays start for sources not in good standing. Zero means 10.
	AccountFree int
	// BaseDelay is the first delay. Zero means 1s.
	BaseDelay time.Duration
	// MaxDelay caps the exponential delay. Zero means 15 minutes.
	MaxDelay time.Duration
	// GlobalBudget is how many failures from sources not in good standing
	// the device takes per GlobalWindow. Zero means 100.
	GlobalBudget int
	// GlobalWindow is the window of GlobalBudget. Zero means 1 hour.
	GlobalWindow time.Duration
	// MaxSources bounds the per-source table. Zero means 1024. When it is
	// full, the entry idle longest whose delay has run out is dropped
	// (sources not in good standing first); an entry still being delayed
	// is never dropped, so an attacker cannot flush its own penalty by
	// flooding with new sources. If every entry is still delayed, new
	// sources share one overflow entry (and its penalty) until room frees.
	MaxSources int
	// MaxAccounts bounds the per-account table the same way. Zero means 256.
	MaxAccounts int
	// ForgetAfter is how long after its last failure a source's or
	// account's count is forgotten, once its delay has run out. Zero means
	// 24 hours.
	ForgetAfter time.Duration
	// GoodFor is how long after its last successful login a source stays
	// in good standing (exempt from the per-account and global limits,
	// evicted from a full table last). Zero means 30 days.
	GoodFor time.Duration
}

// compactEvery is the least time between two compactions that run because
// something in the log expired (compactions because the log grew are not
// limited). It is the slack in [ThrottleConfig.Retention] and keeps an idle
// device's flash writes to at most one per hour.
const compactEvery = time.Hour

// Retention returns the longest time a source address is kept after its last
// attempt (see "Retention" on [ThrottleConfig]): max(ForgetAfter, MaxDelay,
// GoodFor) plus one hour, with zero fields at their defaults.
func (c ThrottleConfig) Retention() time.Duration {
	c = c.withDefaults()
	return max(c.ForgetAfter, c.MaxDelay, c.GoodFor) + compactEvery
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.SourceFree, 5)
	def(&c.AccountFree, 10)
	def(&c.GlobalBudget, 100)
	def(&c.MaxSources, 1024)
	def(&c.MaxAccounts, 256)
	defD(&c.BaseDelay, time.Second)
	defD(&c.MaxDelay, 15*time.Minute)
	defD(&c.GlobalWindow, time.Hour)
	defD(&c.ForgetAfter, 24*time.Hour)
	defD(&c.GoodFor, 30*24*time.Hour)
	return c
}

// Reserved table keys; a real source or account never maps to them.
const (
	overflowKey = "\x00overflow"
	probeSource = "\x00probe"
	maxTableKey = 128
)

// SourceKey maps a source address to its throttle key: IPv4 (and
// IPv4-mapped IPv6) addresses as themselves, IPv6 addresses by their /64
// (one subscriber usually holds a whole /64), anything else ("ble:…",
// "uart0") as the string itself, cut to 64 bytes, control bytes dropped and
// non-ASCII bytes shown as '?'. An empty source is "unknown".
func SourceKey(source string) string {
	if ap, err := netip.ParseAddrPort(source); err == nil {
		source = ap.Addr().String()
	}
	if a, err := netip.ParseAddr(source); err == nil {
		a = a.Unmap().WithZone("")
		if a.Is6() {
			p, _ := a.Prefix(64)
			return p.String()
		}
		return a.String()
	}
	if len(source) > 64 {
		source = source[:64]
	}
	// Printable ASCII only: the key goes into logs and the throttle log.
	b := make([]byte, 0, len(source))
	for i := 0; i < len(source); i++ {
		switch c := source[i]; {
		case c < 0x20 || c == 0x7f:
		case c > 0x7f:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	source = string(b)
	if source == "" {
		return "unknown"
	}
	return source
}

type entry struct {
	fails  uint32
	last   int64 // unix nanoseconds of the last failure
	good   bool  // a login from this source succeeded
	goodAt int64 // unix nanoseconds of the last success, if good
}

type table struct {
	max int
	m   map[string]*entry
	// busyUntil caches a fruitless victim scan of a full table: no entry
	// can be dropped before this time (unix ns) unless the table changes.
	// It keeps an attacker who rotates sources against a full table from
	// making every attempt scan it.
	busyUntil int64
}

// record kinds in the throttle log.
const (
	recFail     = 'F'
	recSuccess  = 'S'
	recSnapshot = 'T'
	recForget   = 'P'
)

// record flags.
const (
	flagProbe = 1 << iota
	// flagCounted on a success record: the attempt's failure record was
	// charged to the global budget, so the success gives that unit back.
	flagCounted
)

type throttle struct {
	mu      sync.Mutex
	cfg     ThrottleConfig
	fsys    durable.FS
	name    string
	log     *durable.Log
	now     func() time.Time
	src     table
	acct    table
	gDebt   float64 // failures owed against the global budget
	gAt     int64   // time gDebt was computed at
	tainted bool    // an undecodable record was found: fail closed
	// compactMin is the log length below which it is never compacted.
	compactMin int
	// The throttle's clock never runs backwards (see clock): bootAt is the
	// wall clock when the log was opened, base the time it resumes from,
	// maxAt the latest time in any record.
	bootAt time.Time
	base   int64
	maxAt  int64
	// dueAt is the earliest time (unix ns) at which something in the log
	// may be dropped: no entry in the log becomes droppable before it, so a
	// compaction at or after it erases whatever has expired. compactedAt
	// is when the log was last compacted (its snapshot's time).
	dueAt       int64
	compactedAt int64
}

// clock returns the throttle's time in unix nanoseconds: the wall clock,
// but never earlier than the latest recorded event plus the time elapsed
// since the log was opened (measured on the monotonic clock). A device
// without a real-time clock boots with its clock in the past; penalties then
// keep counting down from where they were (the power-off time is not
// credited) instead of freezing or being forgotten, and a clock set back at
// run time does not extend or shorten them either.
func (t *throttle) clock() int64 {
	now := t.now()
	el := now.Sub(t.bootAt)
	if el < 0 {
		el = 0
	}
	return max(now.UnixNano(), t.base+int64(el))
}

const throttleMaxRecord = 1 << 20

func openThrottle(fsys durable.FS, dir string, cfg ThrottleConfig, now func() time.Time) (*throttle, error) {
	t := &throttle{cfg: cfg.withDefaults(), fsys: fsys, name: filepath.Join(dir, "throttle.log"), now: now, compactMin: 256}
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrThrottleState, err)
	}
	l, err := durable.OpenLog(fsys, t.name, durable.LogOptions{MaxRecord: throttleMaxRecord})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrThrottleState, err)
	}
	t.log = l
	t.reset()
	if err := l.Scan(func(_ int64, rec []byte) error {
		if err := t.apply(rec); err != nil {
			t.tainted = true
		}
		return nil
	}); err != nil {
		l.Close()
		return nil, fmt.Errorf("%w: %w", ErrThrottleState, err)
	}
	t.bootAt = t.now()
	t.base = max(t.bootAt.UnixNano(), t.maxAt)
	if t.tainted {
		// Something in the log could not be read back: assume the worst
		// about the global budget rather than forget failures.
		t.gDebt = math.Max(t.gDebt, float64(t.cfg.GlobalBudget))
		t.gAt = t.clock()
	}
	// Erase what expired while the device was off (or idle).
	t.maybeCompact(t.clock())
	return t, nil
}

func (t *throttle) reset() {
	t.src = table{max: t.cfg.MaxSources, m: map[string]*entry{}}
	t.acct = table{max: t.cfg.MaxAccounts, m: map[string]*entry{}}
	t.gDebt, t.gAt = 0, 0
	t.dueAt = math.MaxInt64
}

func (t *throttle) close() error { return t.log.Close() }

// delay is how long after its last failure an entry with n failures must
// wait, given free failures without delay.
func (t *throttle) delay(n uint32, free int) time.Duration {
	if int(n) < free {
		return 0
	}
	k := int(n) - free
	if k > 40 {
		return t.cfg.MaxDelay
	}
	d := t.cfg.BaseDelay << k
	if d <= 0 || d > t.cfg.MaxDelay {
		d = t.cfg.MaxDelay
	}
	return d
}

// wait returns how long e must still wait at now (0: may try).
func (t *throttle) wait(e *entry, free int, now int64) time.Duration {
	if e == nil {
		return 0
	}
	d := t.delay(e.fails, free)
	if d == 0 {
		return 0
	}
	el := time.Duration(now - e.last)
	if el < 0 {
		// A record from the future (a clock that ran ahead, then was
		// corrected): count the delay from now.
		el = 0
	}
	if el >= d {
		return 0
	}
	return d - el
}

// fails returns e's failure count as of now, forgetting counts older than
// ForgetAfter whose delay has run out.
func (t *throttle) live(e *entry, free int, now int64) uint32 {
	if e == nil {
		return 0
	}
	if t.wait(e, free, now) == 0 && now-e.last > int64(t.cfg.ForgetAfter) {
		return 0
	}
	return e.fails
}

// isGood reports whether e is in good standing at now: a login from its
// source succeeded within GoodFor.
func (t *throttle) isGood(e *entry, now int64) bool {
	return e != nil && e.good && now-e.goodAt <= int64(t.cfg.GoodFor)
}

// dropAt returns the time (unix ns) from which e may be dropped: live
// returns 0 for it and it is no longer in good standing.
func (t *throttle) dropAt(e *entry, free int) int64 {
	at := int64(math.MinInt64)
	if e.fails > 0 {
		at = max(addSat(e.last, t.cfg.ForgetAfter+1), addSat(e.last, t.delay(e.fails, free)))
	}
	if e.good {
		at = max(at, addSat(e.goodAt, t.cfg.GoodFor+1))
	}
	return at
}

// addSat returns a+d, saturated to the int64 range (records come from
// flash and may hold any time).
func addSat(a int64, d time.Duration) int64 {
	if s := a + int64(d); (s > a) == (d > 0) {
		return s
	}
	if d > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// expires notes that e, just changed, may be dropped from dropAt on.
func (t *throttle) expires(e *entry, free int) {
	t.dueAt = min(t.dueAt, t.dropAt(e, free))
}

func (t *throttle) debt(now int64) float64 {
	rate := float64(t.cfg.GlobalBudget) / float64(t.cfg.GlobalWindow)
	el := now - t.gAt
	if el < 0 {
		el = 0
	}
	return math.Max(0, t.gDebt-float64(el)*rate)
}

// victim returns the entry to drop to make room in a full table, or "" if
// every entry is still delaying its source: the one idle longest whose
// delay has run out, sources not in good standing first. An entry still
// being delayed is never dropped, so flooding with new sources cannot reset
// a penalty.
func (t *throttle) victim(tb *table, free int, now int64) string {
	if now < tb.busyUntil {
		return ""
	}
	victim := ""
	earliest := int64(math.MaxInt64)
	var vlast int64
	vgood := true
	for k, e := range tb.m {
		if k == overflowKey {
			continue
		}
		if w := t.wait(e, free, now); w > 0 {
			earliest = min(earliest, now+int64(w))
			continue
		}
		good := t.isGood(e, now)
		if victim == "" || (vgood && !good) || (vgood == good && (e.last < vlast || e.last == vlast && k < victim)) {
			victim, vlast, vgood = k, e.last, good
		}
	}
	if victim == "" {
		tb.busyUntil = earliest
	}
	return victim
}

// lookup finds the entry for key. With create it makes room for a new one
// (see victim) or, if there is none, returns the shared overflow entry.
// Without create it returns what an attempt from key would be judged by: its
// own entry, the overflow entry if a new one could not be made, or nil.
func (t *throttle) lookup(tb *table, key string, free int, now int64, create bool) (string, *entry) {
	if e, ok := tb.m[key]; ok {
		return key, e
	}
	full := len(tb.m) >= tb.max
	if !create {
		if full && t.victim(tb, free, now) == "" {
			return overflowKey, tb.m[overflowKey]
		}
		return key, nil
	}
	tb.busyUntil = 0
	if full {
		if v := t.victim(tb, free, now); v != "" {
			delete(tb.m, v)
			tb.busyUntil = 0
		} else {
			key = overflowKey
			if e, ok := tb.m[key]; ok {
				return key, e
			}
		}
	}
	e := &entry{}
	tb.m[key] = e
	return key, e
}

// ticket is an admitted attempt, already charged as a failure.
type ticket struct {
	src, acct string
	counted   bool // charged to the global budget
}

// admit decides whether an attempt may be checked. If it may, it records
// the attempt as a failure durably first and returns a ticket; Success
// clears it once the credential was right. A refused attempt writes nothing.
func (t *throttle) admit(source, account string) (ticket, error) {
	return t.admitKey(SourceKey(source), account, 0)
}

func (t *throttle) admitKey(src, account string, flags byte) (ticket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	_, se := t.lookup(&t.src, src, t.cfg.SourceFree, now, false)
	if w := t.wait(se, t.cfg.SourceFree, now); w > 0 {
		return ticket{}, ErrThrottled{RetryAfter: w, Limit: "source"}
	}
	good := t.isGood(se, now)
	if !good && flags&flagProbe == 0 {
		_, ae := t.lookup(&t.acct, account, t.cfg.AccountFree, now, false)
		if w := t.wait(ae, t.cfg.AccountFree, now); w > 0 {
			return ticket{}, ErrThrottled{RetryAfter: w, Limit: "account"}
		}
		if d := t.debt(now); d+1 > float64(t.cfg.GlobalBudget) {
			rate := float64(t.cfg.GlobalBudget) / float64(t.cfg.GlobalWindow)
			w := time.Duration((d + 1 - float64(t.cfg.GlobalBudget)) / rate)
			if w <= 0 {
				w = time.Millisecond
			}
			return ticket{}, ErrThrottled{RetryAfter: w, Limit: "global"}
		}
	}
	rec := encodeEvent(recFail, now, src, account, flags)
	if err := t.log.Append(rec); err != nil {
		return ticket{}, fmt.Errorf("%w: %w", ErrThrottleState, err)
	}
	t.apply(rec)
	t.maybeCompact(now)
	return ticket{src: src, acct: account, counted: !good && flags&flagProbe == 0}, nil
}

// success records that the credential of an admitted attempt was right.
func (t *throttle) success(tk ticket) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	var flags byte
	if tk.counted {
		flags = flagCounted
	}
	rec := encodeEvent(recSuccess, now, tk.src, tk.acct, flags)
	if err := t.log.Append(rec); err != nil {
		return fmt.Errorf("%w: %w", ErrThrottleState, err)
	}
	t.apply(rec)
	t.maybeCompact(now)
	return nil
}

// forget drops the entry of a reserved source (the self-check's probe).
func (t *throttle) forget(src string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := encodeEvent(recForget, t.clock(), src, "", 0)
	if err := t.log.Append(rec); err != nil {
		return fmt.Errorf("%w: %w", ErrThrottleState, err)
	}
	t.apply(rec)
	return nil
}

// apply folds one log record into the in-memory state. It is the only
// place state changes, so replay after a reboot rebuilds exactly what the
// running device had.
func (t *throttle) apply(rec []byte) error {
	if len(rec) == 0 {
		return errBadRecord
	}
	switch rec[0] {
	case recSnapshot:
		s, err := decodeSnapshot(rec)
		if err != nil {
			return err
		}
		t.reset()
		t.gDebt, t.gAt = s.gDebt, s.gAt
		t.maxAt = max(t.maxAt, s.gAt)
		t.compactedAt = s.gAt
		for _, e := range s.src {
			ne := &entry{fails: e.fails, last: e.last, good: e.good, goodAt: e.goodAt}
			t.src.m[e.key] = ne
			t.expires(ne, t.cfg.SourceFree)
		}
		for _, e := range s.acct {
			ne := &entry{fails: e.fails, last: e.last, good: e.good, goodAt: e.goodAt}
			t.acct.m[e.key] = ne
			t.expires(ne, t.cfg.AccountFree)
		}
		return nil
	case recFail, recSuccess, recForget:
	default:
		return errBadRecord
	}
	ev, err := decodeEvent(rec)
	if err != nil {
		return err
	}
	now := ev.at
	t.maxAt = max(t.maxAt, now)
	switch ev.kind {
	case recForget:
		delete(t.src.m, ev.src)
		t.src.busyUntil = 0
	case recFail:
		_, se := t.lookup(&t.src, ev.src, t.cfg.SourceFree, now, true)
		prior := t.live(se, t.cfg.SourceFree, now)
		se.fails, se.last = prior+1, now
		t.expires(se, t.cfg.SourceFree)
		if t.isGood(se, now) || ev.flags&flagProbe != 0 {
			return nil
		}
		if int(prior) < t.cfg.SourceFree {
			_, ae := t.lookup(&t.acct, ev.acct, t.cfg.AccountFree, now, true)
			ae.fails, ae.last = t.live(ae, t.cfg.AccountFree, now)+1, now
			t.expires(ae, t.cfg.AccountFree)
		}
		t.gDebt, t.gAt = t.debt(now)+1, now
	case recSuccess:
		t.src.busyUntil, t.acct.busyUntil = 0, 0
		// The record holds the source address: it must be erased by the
		// time the entry it touched expires.
		if se, ok := t.src.m[ev.src]; ok {
			se.fails, se.good, se.goodAt = 0, true, now
			t.expires(se, t.cfg.SourceFree)
		} else if key, se := t.lookup(&t.src, ev.src, t.cfg.SourceFree, now, true); key != overflowKey {
			se.good, se.goodAt = true, now
			t.expires(se, t.cfg.SourceFree)
		} else {
			t.dueAt = min(t.dueAt, now)
		}
		if ae, ok := t.acct.m[ev.acct]; ok {
			ae.fails = 0
		}
		// A success gives the global budget back the unit its attempt
		// was charged: the owner's logins do not use up the budget.
		if ev.flags&flagCounted != 0 {
			t.gDebt, t.gAt = math.Max(0, t.debt(now)-1), now
		}
	}
	return nil
}

// maybeCompact rewrites the log as one snapshot once it has grown, so flash
// use stays bounded by the table sizes, and once something in it has
// expired (at most every compactEvery), so no source address outlives
// Retention. The running state is then rebuilt from the snapshot, exactly
// as a reboot would, so memory forgets what flash forgot.
func (t *throttle) maybeCompact(now int64) {
	limit := 4*(len(t.src.m)+len(t.acct.m)) + t.compactMin
	grown := t.log.Len() >= limit
	expired := now >= t.dueAt && now-t.compactedAt >= int64(compactEvery)
	if !grown && !expired {
		return
	}
	snap := t.snapshot(now)
	if err := t.log.Rewrite([][]byte{snap}); err != nil {
		return // the full log is still there; compaction is retried later
	}
	t.apply(snap)
}

func (t *throttle) snapshot(now int64) []byte {
	s := snapshot{gDebt: t.debt(now), gAt: now}
	add := func(tb *table, free int, out *[]snapEntry) {
		for k, e := range tb.m {
			f := t.live(e, free, now)
			good := t.isGood(e, now)
			if f == 0 && !good {
				continue
			}
			se := snapEntry{key: k, fails: f, last: e.last, good: good}
			if good {
				se.goodAt = e.goodAt
			}
			*out = append(*out, se)
		}
		sort.Slice(*out, func(i, j int) bool { return (*out)[i].key < (*out)[j].key })
	}
	add(&t.src, t.cfg.SourceFree, &s.src)
	add(&t.acct, t.cfg.AccountFree, &s.acct)
	return encodeSnapshot(s)
}

// state returns a source's failure count and remaining wait, for tests and
// the self-check.
func (t *throttle) sourceState(src string) (uint32, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	_, e := t.lookup(&t.src, src, t.cfg.SourceFree, now, false)
	return t.live(e, t.cfg.SourceFree, now), t.wait(e, t.cfg.SourceFree, now)
}

func (t *throttle) accountState(acct string) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	e := t.acct.m[acct]
	return t.live(e, t.cfg.AccountFree, now)
}

// ---- record encoding ----

var errBadRecord = errors.New("auth: malformed throttle record")

type event struct {
	kind      byte
	at        int64
	src, acct string
	flags     byte
}

func encodeEvent(kind byte, at int64, src, acct string, flags byte) []byte {
	b := []byte{kind}
	b = binary.AppendVarint(b, at)
	b = wire.AppendString(b, src)
	b = wire.AppendString(b, acct)
	return append(b, flags)
}

func decodeEvent(rec []byte) (event, error) {
	r := wire.NewReader(rec)
	ev := event{kind: r.Byte()}
	ev.at = r.Varint()
	ev.src = r.String(maxTableKey)
	ev.acct = r.String(maxTableKey)
	ev.flags = r.Byte()
	if r.Failed() || r.Len() != 0 || (ev.kind != recFail && ev.kind != recSuccess && ev.kind != recForget) {
		return event{}, errBadRecord
	}
	return ev, nil
}

type snapEntry struct {
	key    string
	fails  uint32
	last   int64
	good   bool
	goodAt int64 // only if good
}

type snapshot struct {
	gDebt     float64
	gAt       int64
	src, acct []snapEntry
}

// maxSnapEntries bounds a snapshot's tables when decoding.
const maxSnapEntries = 1 << 14

// Snapshot versions: 1 had no goodAt (its good entries are taken as good
// from the snapshot's time on), 2 has goodAt after each good entry.
func encodeSnapshot(s snapshot) []byte {
	b := []byte{recSnapshot, 2}
	b = binary.AppendUvarint(b, math.Float64bits(s.gDebt))
	b = binary.AppendVarint(b, s.gAt)
	for _, es := range [][]snapEntry{s.src, s.acct} {
		b = binary.AppendUvarint(b, uint64(len(es)))
		for _, e := range es {
			b = wire.AppendString(b, e.key)
			b = binary.AppendUvarint(b, uint64(e.fails))
			b = binary.AppendVarint(b, e.last)
			g := byte(0)
			if e.good {
				g = 1
			}
			b = append(b, g)
			if e.good {
				b = binary.AppendVarint(b, e.goodAt)
			}
		}
	}
	return b
}

func decodeSnapshot(rec []byte) (snapshot, error) {
	r := wire.NewReader(rec)
	var s snapshot
	if r.Byte() != recSnapshot {
		return s, errBadRecord
	}
	ver := r.Byte()
	if ver != 1 && ver != 2 {
		return s, errBadRecord
	}
	s.gDebt = math.Float64frombits(r.Uvarint())
	if math.IsNaN(s.gDebt) || math.IsInf(s.gDebt, 0) || s.gDebt < 0 || s.gDebt > 1e9 {
		return snapshot{}, errBadRecord
	}
	s.gAt = r.Varint()
	for _, out := range []*[]snapEntry{&s.src, &s.acct} {
		n := r.Uvarint()
		if r.Failed() || n > maxSnapEntries || n > uint64(r.Len()) {
			return snapshot{}, errBadRecord
		}
		for range n {
			var e snapEntry
			e.key = r.String(maxTableKey)
			f := r.Uvarint()
			if f > math.MaxUint32 {
				r.Fail()
			}
			e.fails = uint32(f)
			e.last = r.Varint()
			g := r.Byte()
			if g > 1 {
				r.Fail()
			}
			e.good = g == 1
			if e.good {
				if ver == 1 {
					e.goodAt = s.gAt
				} else {
					e.goodAt = r.Varint()
				}
			}
			if r.Failed() {
				return snapshot{}, errBadRecord
			}
			*out = append(*out, e)
		}
	}
	if r.Failed() || r.Len() != 0 {
		return snapshot{}, errBadRecord
	}
	return s, nil
}
