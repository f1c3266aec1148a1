package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

var wall0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testClock is a wall clock and a monotonic clock that tests move
// independently, to model wall-clock jumps.
type testClock struct {
	wall time.Time
	mono time.Duration
}

func (c *testClock) Now() time.Time           { return c.wall }
func (c *testClock) Monotonic() time.Duration { return c.mono }
func newTestClock() *testClock                { return &testClock{wall: wall0, mono: time.Hour} }
func payloadFor(key string) []byte {
	if strings.HasPrefix(key, "big") {
		return []byte(strings.Repeat(key+"|", 300))
	}
	return []byte(strings.Repeat(key+"|", 6))
}
func msg(key string, p Priority) Message {
	return Message{Key: key, Topic: "test", Priority: p, Payload: payloadFor(key)}
}
func obConfig(fsys durable.FS, c *testClock) OutboxConfig {
	return OutboxConfig{FS: fsys, Dir: "ob", SegmentBytes: 256, Now: c.Now, Monotonic: c.Monotonic}
}

func openOB(t *testing.T, cfg OutboxConfig) *Outbox {
	t.Helper()
	ob, err := OpenOutbox(context.Background(), cfg)
	if err != nil {
		t.Fatalf("OpenOutbox: %v", err)
	}
	return ob
}

func pendingKeys(ob *Outbox) []string {
	var ks []string
	for _, m := range ob.Pending(0) {
		ks = append(ks, m.Key)
	}
	return ks
}

func TestOutboxDeliveryOrderAndPersistence(t *testing.T) {
	ctx := context.Background()
	fsys, c := durable.NewCrashFS(), newTestClock()
	ob := openOB(t, obConfig(fsys, c))
	if err := ob.Enqueue(ctx, msg("t1", PriorityLow), msg("a1", PriorityHigh), msg("t2", PriorityLow)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Enqueue(ctx, msg("del", PriorityCritical), msg("n1", PriorityNormal)); err != nil {
		t.Fatal(err)
	}
	want := []string{"del", "a1", "n1", "t1", "t2"}
	if got := pendingKeys(ob); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pending order %v, want %v", got, want)
	}
	if err := ob.Ack(ctx, "del", "a1", "nonexistent"); err != nil {
		t.Fatal(err)
	}
	ob.Close()
	if err := ob.Enqueue(ctx, msg("late", PriorityLow)); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after close: %v", err)
	}
	ob = openOB(t, obConfig(fsys.Reboot(durable.DropUnsynced), c))
	defer ob.Close()
	if got := pendingKeys(ob); fmt.Sprint(got) != "[n1 t1 t2]" {
		t.Fatalf("after reboot pending %v", got)
	}
	m := ob.Pending(1)[0]
	if m.Topic != "test" || !bytes.Equal(m.Payload, payloadFor("n1")) || !m.Created.Equal(wall0) || m.Seq == 0 {
		t.Fatalf("recovered message %+v", m)
	}
	if st := ob.Stats(); st.Recovered != 3 || st.Pending != 3 || len(st.Quarantined) != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboxGeneratedKeysAndIdempotentEnqueue(t *testing.T) {
	ctx := context.Background()
	ob := openOB(t, obConfig(durable.NewCrashFS(), newTestClock()))
	defer ob.Close()
	if err := ob.Enqueue(ctx, Message{Topic: "t"}, Message{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	ps := ob.Pending(0)
	if len(ps) != 2 || len(ps[0].Key) != 32 || ps[0].Key == ps[1].Key {
		t.Fatalf("generated keys: %+v", ps)
	}
	// Re-enqueueing a pending key (a caller retrying after a timeout) is a
	// no-op, also within one batch.
	if err := ob.Enqueue(ctx, msg("k", PriorityLow), msg("k", PriorityLow)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Enqueue(ctx, msg("k", PriorityHigh)); err != nil {
		t.Fatal(err)
	}
	if st := ob.Stats(); st.Pending != 3 || st.Enqueued != 3 {
		t.Fatalf("after duplicate enqueue: %+v", st)
	}
}

func TestOutboxRefusesInvalidMessagesUntouched(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	cfg := obConfig(fsys, newTestClock())
	cfg.MaxPayload = 100
	ob := openOB(t, cfg)
	defer ob.Close()
	if err := ob.Enqueue(ctx, msg("ok", PriorityLow)); err != nil {
		t.Fatal(err)
	}
	before, ops := ob.Stats(), fsys.Ops()
	bad := []Message{
		{Key: "k", Topic: ""},
		{Key: "k", Topic: "has space"},
		{Key: "k\n", Topic: "t"},
		{Key: strings.Repeat("k", 129), Topic: "t"},
		{Key: "k", Topic: strings.Repeat("t", 256)},
		{Key: "k", Topic: "t", Payload: make([]byte, 101)},
		{Key: "k", Topic: "t", Priority: PriorityCritical + 1},
		{Key: "k", Topic: "t", TTL: -time.Second},
	}
	for _, m := range bad {
		// A valid message in the same batch is refused with it.
		err := ob.Enqueue(ctx, msg("good", PriorityHigh), m)
		if !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("Enqueue(%+v) = %v, want ErrInvalidMessage", m, err)
		}
	}
	if after := ob.Stats(); fmt.Sprint(after) != fmt.Sprint(before) || fsys.Ops() != ops {
		t.Fatalf("refused enqueues changed state: %+v -> %+v, %d -> %d fs ops", before, after, ops, fsys.Ops())
	}
}

func TestOutboxDropPolicy(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	cfg := obConfig(fsys, newTestClock())
	cfg.MaxRecords = 4
	ob := openOB(t, cfg)
	defer ob.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ob.Enqueue(ctx, msg("t1", PriorityLow), msg("t2", PriorityLow), msg("a1", PriorityHigh), msg("d1", PriorityCritical)))
	// Full: a new low-priority message drops the oldest low one.
	must(ob.Enqueue(ctx, msg("t3", PriorityLow)))
	// A high one drops the lowest first (t2), then older low (t3).
	must(ob.Enqueue(ctx, msg("a2", PriorityHigh), msg("a3", PriorityHigh)))
	if got := fmt.Sprint(pendingKeys(ob)); got != "[d1 a1 a2 a3]" {
		t.Fatalf("after drops: %s", got)
	}
	// A low message cannot push out higher ones: refused, nothing changed.
	before, ops := ob.Stats(), fsys.Ops()
	if err := ob.Enqueue(ctx, msg("t4", PriorityLow)); !errors.Is(err, ErrFull) {
		t.Fatalf("low into high-full outbox: %v", err)
	}
	if fmt.Sprint(ob.Stats()) != fmt.Sprint(before) || fsys.Ops() != ops {
		t.Fatal("refused enqueue changed state")
	}
	// Critical messages are never evicted, not even by critical ones.
	must(ob.Enqueue(ctx, msg("d2", PriorityCritical), msg("d3", PriorityCritical), msg("d4", PriorityCritical)))
	if err := ob.Enqueue(ctx, msg("d5", PriorityCritical)); !errors.Is(err, ErrFull) {
		t.Fatalf("critical into critical-full outbox: %v", err)
	}
	if got := fmt.Sprint(pendingKeys(ob)); got != "[d1 d2 d3 d4]" {
		t.Fatalf("criticals: %s", got)
	}
	if st := ob.Stats(); st.Dropped != 6 {
		t.Fatalf("dropped = %d, want 6", st.Dropped)
	}
	// Drops are durable: the dropped messages do not come back.
	ob.Close()
	ob2 := openOB(t, obConfig(fsys.Reboot(durable.DropUnsynced), newTestClock()))
	defer ob2.Close()
	if got := fmt.Sprint(pendingKeys(ob2)); got != "[d1 d2 d3 d4]" {
		t.Fatalf("after reboot: %s", got)
	}

	// RefuseNew keeps what is there.
	cfg = obConfig(durable.NewCrashFS(), newTestClock())
	cfg.MaxRecords, cfg.Drop = 2, RefuseNew
	ob3 := openOB(t, cfg)
	defer ob3.Close()
	must(ob3.Enqueue(ctx, msg("t1", PriorityLow), msg("t2", PriorityLow)))
	if err := ob3.Enqueue(ctx, msg("d1", PriorityCritical)); !errors.Is(err, ErrFull) {
		t.Fatalf("RefuseNew: %v", err)
	}
	// Bytes are bounded too.
	cfg = obConfig(durable.NewCrashFS(), newTestClock())
	cfg.MaxBytes = 200
	ob4 := openOB(t, cfg)
	defer ob4.Close()
	for i := 0; i < 20; i++ {
		must(ob4.Enqueue(ctx, msg(fmt.Sprintf("m%02d", i), PriorityLow)))
		if st := ob4.Stats(); st.PendingBytes > 200 {
			t.Fatalf("pending bytes %d over the bound", st.PendingBytes)
		}
	}
}

func TestOutboxExpiryAndClockJumps(t *testing.T) {
	ctx := context.Background()
	fsys, c := durable.NewCrashFS(), newTestClock()
	ob := openOB(t, obConfig(fsys, c))
	m := msg("alert", PriorityHigh)
	m.TTL = time.Hour
	if err := ob.Enqueue(ctx, m, msg("forever", PriorityLow)); err != nil {
		t.Fatal(err)
	}
	// The wall clock jumps forward a year (NTP fixing a dead RTC): nothing
	// expires while running, expiry is on the monotonic clock.
	c.wall = c.wall.AddDate(1, 0, 0)
	if got := fmt.Sprint(pendingKeys(ob)); got != "[alert forever]" {
		t.Fatalf("after wall jump: %s", got)
	}
	c.wall = wall0
	c.mono += 59 * time.Minute
	if len(ob.Pending(0)) != 2 {
		t.Fatal("expired early")
	}
	c.mono += time.Minute
	if got := fmt.Sprint(pendingKeys(ob)); got != "[forever]" {
		t.Fatalf("after TTL on monotonic clock: %s", got)
	}
	// The expiry is recorded with the next write and counted.
	if err := ob.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if st := ob.Stats(); st.Expired != 1 || st.Pending != 1 {
		t.Fatalf("stats %+v", st)
	}
	ob.Close()

	// Across a restart the wall clock is all there is.
	fresh := func(wall time.Time, created time.Time) []string {
		t.Helper()
		fs := durable.NewCrashFS()
		c := &testClock{wall: created, mono: time.Hour}
		ob := openOB(t, obConfig(fs, c))
		m := msg("a", PriorityHigh)
		m.TTL = time.Hour
		if err := ob.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		ob.Close()
		c2 := &testClock{wall: wall, mono: 0}
		ob = openOB(t, obConfig(fs.Reboot(durable.DropUnsynced), c2))
		defer ob.Close()
		return pendingKeys(ob)
	}
	if got := fresh(wall0.Add(30*time.Minute), wall0); len(got) != 1 {
		t.Error("expired after 30 min off")
	}
	if got := fresh(wall0.Add(2*time.Hour), wall0); len(got) != 0 {
		t.Error("not expired after 2 h off")
	}
	if got := fresh(wall0.Add(-48*time.Hour), wall0); len(got) != 1 {
		t.Error("clock went back: message expired instead of restarting its TTL")
	}
	if got := fresh(wall0, time.Unix(0, 0)); len(got) != 1 {
		t.Error("message made with an unset (1970) clock expired on the first real time")
	}
}

func TestOutboxDrain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ob := openOB(t, obConfig(durable.NewCrashFS(), newTestClock()))
	defer ob.Close()
	if err := ob.Enqueue(ctx, msg("a", PriorityLow), msg("b", PriorityHigh), msg("c", PriorityLow)); err != nil {
		t.Fatal(err)
	}
	var sent []string
	errDown := errors.New("link down")
	err := ob.Drain(ctx, func(_ context.Context, m Message) error {
		if m.Key == "a" {
			return errDown
		}
		sent = append(sent, m.Key)
		return nil
	})
	if !errors.Is(err, errDown) || fmt.Sprint(sent) != "[b]" {
		t.Fatalf("drain: %v, sent %v", err, sent)
	}
	if got := fmt.Sprint(pendingKeys(ob)); got != "[a c]" {
		t.Fatalf("after failed send: %s", got)
	}
	// A drain waits for new messages and delivers them as they come.
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- ob.Drain(ctx, func(_ context.Context, m Message) error { got <- m.Key; return nil })
	}()
	for _, want := range []string{"a", "c"} {
		if k := <-got; k != want {
			t.Fatalf("drained %s, want %s", k, want)
		}
	}
	if err := ob.Enqueue(ctx, msg("d", PriorityNormal)); err != nil {
		t.Fatal(err)
	}
	if k := <-got; k != "d" {
		t.Fatalf("drained %s, want d", k)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("drain after cancel: %v", err)
	}
	if n := len(ob.Pending(0)); n != 0 {
		t.Fatalf("%d pending after drain", n)
	}
}

// TestOutboxBoundedOnFlash checks that compaction keeps the files bounded
// over a long run of enqueues and acknowledgements.
func TestOutboxBoundedOnFlash(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	ob := openOB(t, obConfig(fsys, newTestClock()))
	defer ob.Close()
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("m%05d", i)
		if err := ob.Enqueue(ctx, msg(k, PriorityLow)); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			if err := ob.Ack(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 {
			// Deliver the backlog now and then.
			if err := ob.Ack(ctx, pendingKeys(ob)[:len(ob.Pending(0))/2]...); err != nil {
				t.Fatal(err)
			}
		}
		st := ob.Stats()
		if st.DiskBytes > 2*st.PendingBytes+3*256+512 {
			t.Fatalf("step %d: %d bytes on flash for %d pending bytes", i, st.DiskBytes, st.PendingBytes)
		}
	}
	var total int
	for _, b := range fsys.Contents() {
		total += len(b)
	}
	if st := ob.Stats(); int64(total) != st.DiskBytes {
		t.Fatalf("files hold %d bytes, stats say %d", total, st.DiskBytes)
	}
}

func TestOutboxFullDisk(t *testing.T) {
	ctx := context.Background()
	fsys, c := durable.NewCrashFS(), newTestClock()
	ob := openOB(t, obConfig(fsys, c))
	if err := ob.Enqueue(ctx, msg("before", PriorityNormal)); err != nil {
		t.Fatal(err)
	}
	fsys.FailWrites = func(string) error { return syscall.ENOSPC }
	before := ob.Stats()
	err := ob.Enqueue(ctx, msg("lost", PriorityCritical))
	if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("enqueue on full disk: %v", err)
	}
	if err := ob.Ack(ctx, "before"); !errors.Is(err, ErrStorage) {
		t.Fatalf("ack on full disk: %v", err)
	}
	after := ob.Stats()
	if after.Pending != before.Pending || after.Enqueued != before.Enqueued || after.Delivered != 0 || after.LastError == "" {
		t.Fatalf("full disk changed state: %+v -> %+v", before, after)
	}
	res := ob.Checks()[0].Run(ctx)
	if res.Verdict != conformance.Fail {
		t.Fatalf("check on full disk: %+v", res)
	}
	for _, mode := range []durable.CrashMode{durable.DropUnsynced, durable.KeepUnsynced} {
		ob2 := openOB(t, obConfig(fsys.Reboot(mode), c))
		if got := fmt.Sprint(pendingKeys(ob2)); got != "[before]" {
			t.Fatalf("%v: after full disk: %s", mode, got)
		}
		ob2.Close()
	}
	// Space comes back: the same outbox carries on.
	fsys.FailWrites = nil
	if err := ob.Enqueue(ctx, msg("lost", PriorityCritical)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Ack(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if res := ob.Checks()[0].Run(ctx); res.Verdict != conformance.Pass {
		t.Fatalf("check after recovery: %+v", res)
	}
	ob.Close()
}

// segEntries decodes a segment file's entries.
func segEntries(t *testing.T, fsys durable.FS, name string) []entry {
	t.Helper()
	l, err := durable.OpenLog(readOnlyFS{fsys}, name, durable.LogOptions{MaxRecord: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []entry
	if err := l.Scan(func(_ int64, b []byte) error {
		e, err := decodeEntry(b)
		out = append(out, e)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func flipByte(t *testing.T, fsys durable.FS, name string, off int64) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b[:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// corruptSetup fills an outbox over several segments and flips a byte in the
// last record of the first (sealed) one. It returns the keys that must
// survive and the key that was corrupted.
func corruptSetup(t *testing.T, fsys *durable.CrashFS) (survive []string, corrupted, file string) {
	t.Helper()
	ctx := context.Background()
	ob := openOB(t, obConfig(fsys, newTestClock()))
	for i := 0; i < 12; i++ {
		k := fmt.Sprintf("m%02d", i)
		if err := ob.Enqueue(ctx, msg(k, PriorityNormal)); err != nil {
			t.Fatal(err)
		}
		survive = append(survive, k)
	}
	ob.Close()
	var segs []string
	for _, f := range fsys.Files() {
		if strings.HasSuffix(f, segSuffix) {
			segs = append(segs, f)
		}
	}
	if len(segs) < 3 {
		t.Fatalf("setup made only %d segments", len(segs))
	}
	ents := segEntries(t, fsys, segs[0])
	last := ents[len(ents)-1]
	if last.kind != kindPut {
		t.Fatalf("last entry of %s is %c", segs[0], last.kind)
	}
	fi, _ := fsys.Stat(segs[0])
	flipByte(t, fsys, segs[0], fi.Size()-2)
	corrupted = last.msg.Key
	for i, k := range survive {
		if k == corrupted {
			survive = append(survive[:i:i], survive[i+1:]...)
			break
		}
	}
	return survive, corrupted, path.Base(segs[0])
}

func TestOutboxCorruptSegmentQuarantined(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	survive, corrupted, file := corruptSetup(t, fsys)
	raw := fsys.Contents()["ob/"+file]
	ob := openOB(t, obConfig(fsys, newTestClock()))
	if got, want := fmt.Sprint(pendingKeys(ob)), fmt.Sprint(survive); got != want {
		t.Fatalf("recovered %s, want %s (only %s lost)", got, want, corrupted)
	}
	st := ob.Stats()
	if fmt.Sprint(st.Quarantined) != "["+file+quarExt+"]" {
		t.Fatalf("quarantined %v", st.Quarantined)
	}
	// Renamed aside unchanged, for whoever investigates.
	if got := fsys.Contents()["ob/"+file+quarExt]; !bytes.Equal(got, raw) {
		t.Fatal("quarantined file differs from what was found")
	}
	res := ob.Checks()[0].Run(ctx)
	if res.Verdict != conformance.Inconclusive || !strings.Contains(res.Observed, "1 quarantined") {
		t.Fatalf("check with quarantined segment: %+v", res)
	}
	// The outbox keeps working, and a reboot finds the same state.
	if err := ob.Enqueue(ctx, msg("new", PriorityNormal)); err != nil {
		t.Fatal(err)
	}
	ob.Close()
	ob = openOB(t, obConfig(fsys.Reboot(durable.DropUnsynced), newTestClock()))
	defer ob.Close()
	if got, want := fmt.Sprint(pendingKeys(ob)), fmt.Sprint(append(survive, "new")); got != want {
		t.Fatalf("second boot: %s, want %s", got, want)
	}
	if len(ob.Stats().Quarantined) != 1 {
		t.Fatal("quarantine not reported on the next boot")
	}
}

func TestOutboxOversizeSegmentQuarantinedUnread(t *testing.T) {
	fsys := durable.NewCrashFS()
	cfg := obConfig(fsys, newTestClock())
	cfg.MaxBytes = 1000
	if err := fsys.MkdirAll("ob", 0o700); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4*(256+1000+maxPayloadHard)+1)
	if err := durable.WriteFile(fsys, "ob/"+segName(1), big, 0o600); err != nil {
		t.Fatal(err)
	}
	ob := openOB(t, cfg)
	defer ob.Close()
	if st := ob.Stats(); len(st.Quarantined) != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// crashRun is the workload of the power-loss tests. It records what was
// acknowledged: enqueued (Enqueue returned nil) and delivered (Ack returned
// nil).
type crashRun struct {
	enq, acked map[string]bool
	ackTried   map[string]bool // Ack called; may have taken effect if it failed
	pre        map[string]bool // keys already in the outbox before the run
	all        map[string]bool // every key the run may have written
}

func (cr *crashRun) run(fsys *durable.CrashFS) error {
	ctx := context.Background()
	cr.enq, cr.acked, cr.all, cr.ackTried = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	ob, err := OpenOutbox(ctx, obConfig(fsys, newTestClock()))
	if err != nil {
		return err
	}
	defer ob.Close()
	enqueue := func(keys ...string) error {
		var ms []Message
		for _, k := range keys {
			cr.all[k] = true
			ms = append(ms, msg(k, Priority(len(k)%4)))
		}
		if err := ob.Enqueue(ctx, ms...); err != nil {
			return err
		}
		for _, k := range keys {
			cr.enq[k] = true
		}
		return nil
	}
	ack := func(keys ...string) error {
		for _, k := range keys {
			cr.ackTried[k] = true
		}
		if err := ob.Ack(ctx, keys...); err != nil {
			return err
		}
		for _, k := range keys {
			cr.acked[k] = true
		}
		return nil
	}
	// pending lists the pending keys but the big one, which stays live in
	// the first segment so that later segments die behind it and gc must
	// leave their done entries alone.
	pending := func() []string {
		var ks []string
		for _, k := range pendingKeys(ob) {
			if k != "big0" {
				ks = append(ks, k)
			}
		}
		return ks
	}
	if err := enqueue("big0"); err != nil {
		return err
	}
	for i := 0; i < 8; i++ {
		keys := []string{fmt.Sprintf("r%d", i)}
		if i%2 == 1 {
			keys = append(keys, fmt.Sprintf("r%d-b", i), fmt.Sprintf("r%d-cc", i))
		}
		if err := enqueue(keys...); err != nil {
			return err
		}
		if i%3 == 2 {
			p := pending()
			if err := ack(p[0], p[len(p)-1]); err != nil {
				return err
			}
		}
	}
	if err := ob.Compact(ctx); err != nil {
		return err
	}
	if err := enqueue("s1", "s2"); err != nil {
		return err
	}
	return ack(pending()[:4]...)
}

// check reopens the rebooted outbox and asserts: every message whose
// Enqueue returned nil and whose Ack did not is pending; no message whose
// Ack returned nil is; nothing unknown or altered appears; the outbox works.
func (cr *crashRun) check(t *testing.T, fsys *durable.CrashFS, point int, mode durable.CrashMode, extra func(ob *Outbox) string) {
	t.Helper()
	ctx := context.Background()
	ob, err := OpenOutbox(ctx, obConfig(fsys, newTestClock()))
	if err != nil {
		t.Fatalf("crash at %d (%v): recovery failed: %v", point, mode, err)
	}
	got := map[string]bool{}
	for _, m := range ob.Pending(0) {
		if got[m.Key] {
			t.Fatalf("crash at %d (%v): %s pending twice", point, mode, m.Key)
		}
		got[m.Key] = true
		if !(cr.all[m.Key] || cr.pre[m.Key]) || !bytes.Equal(m.Payload, payloadFor(m.Key)) {
			t.Fatalf("crash at %d (%v): unknown or altered message %+v", point, mode, m)
		}
	}
	for k := range cr.enq {
		if !cr.ackTried[k] && !got[k] {
			t.Fatalf("crash at %d (%v): acknowledged message %s lost", point, mode, k)
		}
	}
	for k := range cr.acked {
		if got[k] {
			t.Fatalf("crash at %d (%v): delivered message %s came back", point, mode, k)
		}
	}
	if extra != nil {
		if msg := extra(ob); msg != "" {
			t.Fatalf("crash at %d (%v): %s", point, mode, msg)
		}
	}
	// The recovered outbox is usable and its next state survives too.
	if err := ob.Enqueue(ctx, msg("after", PriorityCritical)); err != nil {
		t.Fatalf("crash at %d (%v): enqueue after recovery: %v", point, mode, err)
	}
	if err := ob.Ack(ctx, pendingKeys(ob)...); err != nil {
		t.Fatalf("crash at %d (%v): ack after recovery: %v", point, mode, err)
	}
	ob.Close()
	ob, err = OpenOutbox(ctx, obConfig(fsys.Reboot(durable.DropUnsynced), newTestClock()))
	if err != nil {
		t.Fatalf("crash at %d (%v): second recovery: %v", point, mode, err)
	}
	if n := len(ob.Pending(0)); n != 0 {
		t.Fatalf("crash at %d (%v): %d pending after everything was acknowledged", point, mode, n)
	}
	ob.Close()
}

func TestOutboxCrashEveryBoundary(t *testing.T) {
	cr := &crashRun{}
	n := durable.CrashTest(t, nil, cr.run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		if point > 0 && runErr == nil {
			t.Fatalf("crash at %d did not reach the run", point)
		}
		cr.check(t, fsys, point, mode, func(ob *Outbox) string {
			if q := ob.Stats().Quarantined; len(q) != 0 {
				return fmt.Sprintf("power loss quarantined %v", q)
			}
			return ""
		})
	})
	if n < 40 {
		t.Fatalf("only %d boundaries: the workload no longer rolls segments and compacts", n)
	}
	t.Logf("crashed at each of %d write/fsync boundaries in both modes", n)
}

// TestOutboxCrashDuringRecovery crashes the open of an outbox that needs
// work: a quarantine (rescue copy, rename) and a torn tail.
func TestOutboxCrashDuringRecovery(t *testing.T) {
	var survive []string
	var corrupted string
	setup := func(fsys *durable.CrashFS) {
		survive, corrupted, _ = corruptSetup(t, fsys)
	}
	cr := &crashRun{pre: map[string]bool{}}
	run := func(fsys *durable.CrashFS) error {
		for _, k := range survive {
			cr.pre[k] = true
		}
		return cr.run(fsys)
	}
	n := durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		cr.check(t, fsys, point, mode, func(ob *Outbox) string {
			got := map[string]bool{}
			for _, k := range pendingKeys(ob) {
				got[k] = true
			}
			for _, k := range survive {
				if !got[k] && !cr.ackTried[k] {
					return "message " + k + " from before the corruption lost"
				}
			}
			if got[corrupted] {
				return "corrupted message delivered"
			}
			q := ob.Stats().Quarantined
			if len(q) != 1 {
				return fmt.Sprintf("quarantined %v", q)
			}
			return ""
		})
	})
	t.Logf("crashed at each of %d boundaries of recovery + workload", n)
}

func TestDecodeEntryRoundTrip(t *testing.T) {
	m := Message{Seq: 7, Key: "k-1", Topic: "erase.request", Priority: PriorityCritical, TTL: time.Hour, Payload: []byte("{}"), Created: wall0}
	e, err := decodeEntry(appendPut(nil, &m))
	if err != nil || e.kind != kindPut || e.msg.Seq != 7 || e.msg.Key != m.Key || e.msg.Topic != m.Topic ||
		e.msg.Priority != m.Priority || e.msg.TTL != m.TTL || !e.msg.Created.Equal(wall0) || string(e.msg.Payload) != "{}" {
		t.Fatalf("put round trip: %+v %v", e, err)
	}
	e, err = decodeEntry(appendDone(nil, reasonDropped, []uint64{1, 1 << 40}))
	if err != nil || e.reason != reasonDropped || fmt.Sprint(e.seqs) != "[1 1099511627776]" {
		t.Fatalf("done round trip: %+v %v", e, err)
	}
	for _, bad := range [][]byte{
		nil, {'X'}, {kindPut}, {kindDone, 9, 1, 1}, {kindDone, reasonDelivered, 0},
		{kindDone, reasonDelivered, 0xff, 0xff, 0x03, 1}, // count 65535 with one byte left
		append(appendHeader(nil, 3), 0),                  // trailing byte
		appendPut(nil, &Message{Key: "bad key", Topic: "t"}),
		appendPut(nil, &Message{Key: "k", Topic: "t", Priority: 9}),
		appendPut(nil, &Message{Key: "k", Topic: "t", Seq: maxSeq + 1}),
		appendHeader(nil, 1<<63),
		appendDone(nil, reasonDelivered, []uint64{1<<64 - 1}),
	} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%q) accepted", bad)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	m := Message{Seq: 7, Key: "k-1", Topic: "erase.request", Priority: PriorityHigh, TTL: time.Hour, Payload: []byte("{}"), Created: wall0}
	f.Add(appendPut(nil, &m))
	f.Add(appendDone(nil, reasonDelivered, []uint64{1, 2, 3}))
	f.Add(appendHeader(nil, 42))
	f.Add([]byte{kindDone, reasonDelivered, 0xff, 0xff, 0x03, 1})
	f.Add([]byte{kindPut, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		var re []byte
		switch e.kind {
		case kindHeader:
			re = appendHeader(nil, e.next)
		case kindPut:
			re = appendPut(nil, &e.msg)
		case kindDone:
			re = appendDone(nil, e.reason, e.seqs)
		}
		e2, err := decodeEntry(re)
		if err != nil {
			t.Fatalf("re-encoding of an accepted record rejected: %v", err)
		}
		if fmt.Sprint(e2) != fmt.Sprint(e) {
			t.Fatalf("round trip changed the record: %+v vs %+v", e, e2)
		}
	})
}

// TestOutboxRemovesOnlyOldestDeadSegment: a done entry can sit in a segment
// that is otherwise dead while the put it cancels sits in an older, still
// live one. Removing the newer segment first would bring the delivered
// message back after a restart.
func TestOutboxRemovesOnlyOldestDeadSegment(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	cfg := obConfig(fsys, newTestClock())
	ob := openOB(t, cfg)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A large live message keeps the dead bytes below the compaction
	// threshold, so segments are only ever removed by gc.
	keep := msg("keep", PriorityLow)
	keep.Payload = make([]byte, 2000)
	must(ob.Enqueue(ctx, keep, msg("A", PriorityLow)))
	for i := 0; i < 12; i++ {
		k := fmt.Sprintf("x%02d", i)
		must(ob.Enqueue(ctx, msg(k, PriorityLow)))
		must(ob.Ack(ctx, k))
		if i == 5 {
			must(ob.Ack(ctx, "A"))
		}
	}
	ob.Close()
	ob = openOB(t, obConfig(fsys.Reboot(durable.DropUnsynced), newTestClock()))
	defer ob.Close()
	if got := fmt.Sprint(pendingKeys(ob)); got != "[keep]" {
		t.Fatalf("after restart: %s", got)
	}
	if st := ob.Stats(); st.Segments < 3 {
		t.Fatalf("only %d segments: the test no longer has a dead segment behind a live one", st.Segments)
	}
}

// TestOutboxCrashWithDropsAndExpiry crashes a workload in which the outbox
// is full (drops) and messages expire: critical messages are never lost,
// delivered ones never return, the bound holds after recovery.
func TestOutboxCrashWithDropsAndExpiry(t *testing.T) {
	const maxRecords = 6
	var enq, tried, all map[string]bool
	var final OutboxStats
	cfgFor := func(fsys durable.FS, c *testClock) OutboxConfig {
		cfg := obConfig(fsys, c)
		cfg.MaxRecords = maxRecords
		return cfg
	}
	run := func(fsys *durable.CrashFS) error {
		ctx := context.Background()
		enq, tried, all = map[string]bool{}, map[string]bool{}, map[string]bool{}
		c := newTestClock()
		ob, err := OpenOutbox(ctx, cfgFor(fsys, c))
		if err != nil {
			return err
		}
		defer ob.Close()
		for i := 0; i < 10; i++ {
			var ms []Message
			for j, p := range []Priority{PriorityLow, PriorityCritical, PriorityNormal} {
				k := fmt.Sprintf("%s%d-%d", p, i, j)
				m := msg(k, p)
				if p == PriorityNormal {
					m.TTL = time.Minute
				}
				if p == PriorityCritical && i%2 == 1 {
					continue
				}
				all[k] = true
				ms = append(ms, m)
			}
			if err := ob.Enqueue(ctx, ms...); err != nil && !errors.Is(err, ErrFull) {
				return err
			} else if err == nil {
				for _, m := range ms {
					enq[m.Key] = true
				}
			}
			c.mono += 30 * time.Second
			if i%2 == 0 {
				var ks []string
				for _, m := range ob.Pending(2) {
					ks = append(ks, m.Key)
					tried[m.Key] = true
				}
				if err := ob.Ack(ctx, ks...); err != nil {
					return err
				}
				for _, k := range ks {
					delete(enq, k)
					all[k] = false
				}
			}
		}
		final = ob.Stats()
		return nil
	}
	durable.CrashTest(t, nil, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		ob, err := OpenOutbox(context.Background(), cfgFor(fsys, newTestClock()))
		if err != nil {
			t.Fatalf("crash at %d (%v): %v", point, mode, err)
		}
		defer ob.Close()
		got := map[string]bool{}
		for _, m := range ob.Pending(0) {
			got[m.Key] = true
			// all[k] is true once Enqueue was called and false once Ack
			// returned nil.
			if !all[m.Key] || !bytes.Equal(m.Payload, payloadFor(m.Key)) {
				t.Fatalf("crash at %d (%v): unexpected or delivered message %s", point, mode, m.Key)
			}
		}
		if point == 0 && (final.Dropped == 0 || final.Expired == 0) {
			t.Fatalf("workload neither drops nor expires: %+v", final)
		}
		if len(got) > maxRecords {
			t.Fatalf("crash at %d (%v): %d pending over the bound %d", point, mode, len(got), maxRecords)
		}
		for k := range enq {
			if strings.HasPrefix(k, PriorityCritical.String()) && !tried[k] && !got[k] {
				t.Fatalf("crash at %d (%v): critical message %s lost", point, mode, k)
			}
		}
	})
}

func TestOutboxConcurrentProducersAndDrain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ob := openOB(t, obConfig(durable.NewCrashFS(), newTestClock()))
	defer ob.Close()
	const producers, each = 4, 50
	got := make(chan string, producers*each)
	drained := make(chan error, 1)
	go func() {
		drained <- ob.Drain(ctx, func(_ context.Context, m Message) error { got <- m.Key; return nil })
	}()
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		go func() {
			for i := 0; i < each; i++ {
				if err := ob.Enqueue(ctx, msg(fmt.Sprintf("p%d-%d", p, i), Priority(i%4))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for p := 0; p < producers; p++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < producers*each {
		seen[<-got] = true
	}
	cancel()
	<-drained
	if st := ob.Stats(); st.Enqueued != producers*each || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// FuzzOpenSegment feeds arbitrary bytes to recovery as a sealed segment
// followed by a valid one: OpenOutbox must recover (quarantining what it
// cannot read), never fail or panic, and the valid segment's message must
// survive.
func FuzzOpenSegment(f *testing.F) {
	ctx := context.Background()
	seed := durable.NewCrashFS()
	ob, err := OpenOutbox(ctx, obConfig(seed, newTestClock()))
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := ob.Enqueue(ctx, msg(fmt.Sprintf("s%d", i), PriorityNormal)); err != nil {
			f.Fatal(err)
		}
	}
	ob.Ack(ctx, "s1")
	ob.Close()
	good := seed.Contents()["ob/"+segName(1)]
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{})
	f.Add(durable.AppendFrame(nil, []byte{kindDone, reasonDelivered, 0xff, 0xff, 0x03, 1}))
	f.Add(durable.AppendFrame(nil, appendHeader(nil, 1<<63)))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys := durable.NewCrashFS()
		if err := fsys.MkdirAll("ob", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := durable.WriteFile(fsys, "ob/"+segName(1), b, 0o600); err != nil {
			t.Fatal(err)
		}
		m := msg("last", PriorityHigh)
		m.Seq, m.Created = 1<<40, wall0
		seg2 := durable.AppendFrame(durable.AppendFrame(nil, appendHeader(nil, m.Seq)), appendPut(nil, &m))
		if err := durable.WriteFile(fsys, "ob/"+segName(2), seg2, 0o600); err != nil {
			t.Fatal(err)
		}
		ob, err := OpenOutbox(ctx, obConfig(fsys, newTestClock()))
		if err != nil {
			t.Fatalf("recovery failed: %v", err)
		}
		defer ob.Close()
		found := false
		for _, p := range ob.Pending(0) {
			found = found || p.Key == "last"
		}
		if !found {
			t.Fatal("message of the valid segment lost")
		}
		if err := ob.Enqueue(ctx, msg("after", PriorityLow)); err != nil {
			t.Fatalf("enqueue after recovery: %v", err)
		}
	})
}

// gateFS holds the first file Sync until released, so a test can queue
// Enqueue calls behind a commit in progress.
type gateFS struct {
	durable.FS
	syncing chan struct{} // closed when the first Sync starts
	release chan struct{}
	once    sync.Once
	syncs   atomic.Int64
}

type gateFile struct {
	durable.File
	g *gateFS
}

func (g *gateFS) OpenFile(name string, flag int, perm fs.FileMode) (durable.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &gateFile{f, g}, nil
}

func (f *gateFile) Sync() error {
	f.g.syncs.Add(1)
	f.g.once.Do(func() {
		close(f.g.syncing)
		<-f.g.release
	})
	return f.File.Sync()
}

func TestOutboxGroupCommitsConcurrentEnqueues(t *testing.T) {
	ctx := context.Background()
	crash := durable.NewCrashFS()
	g := &gateFS{FS: crash, syncing: make(chan struct{}), release: make(chan struct{})}
	ob := openOB(t, obConfig(g, newTestClock()))
	defer ob.Close()
	g.syncs.Store(0)

	errs := make(chan error, 9)
	go func() { errs <- ob.Enqueue(ctx, msg("first", PriorityLow)) }()
	<-g.syncing // the first commit is in its fsync
	const n = 8
	for i := 0; i < n; i++ {
		go func() { errs <- ob.Enqueue(ctx, msg(fmt.Sprintf("c%d", i), PriorityNormal)) }()
	}
	for {
		ob.qmu.Lock()
		queued := len(ob.queued)
		ob.qmu.Unlock()
		if queued == n {
			break
		}
		runtime.Gosched()
	}
	close(g.release)
	for i := 0; i < n+1; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := ob.Stats()
	if st.Enqueued != n+1 || st.Commits != 2 || g.syncs.Load() != 2 {
		t.Fatalf("%d enqueued in %d commits with %d fsyncs, want 9 in 2 with 2", st.Enqueued, st.Commits, g.syncs.Load())
	}
	ob.Close()
	ob2 := openOB(t, obConfig(crash.Reboot(durable.DropUnsynced), newTestClock()))
	defer ob2.Close()
	if len(ob2.Pending(0)) != n+1 {
		t.Fatalf("after reboot %d pending", len(ob2.Pending(0)))
	}
}

func TestOutboxGroupCommitRefusesOnlyTheFullRequest(t *testing.T) {
	ctx := context.Background()
	crash := durable.NewCrashFS()
	g := &gateFS{FS: crash, syncing: make(chan struct{}), release: make(chan struct{})}
	cfg := obConfig(g, newTestClock())
	cfg.MaxRecords, cfg.Drop = 3, RefuseNew
	ob := openOB(t, cfg)
	defer ob.Close()
	first := make(chan error, 1)
	go func() { first <- ob.Enqueue(ctx, msg("a", PriorityLow)) }()
	<-g.syncing
	// Queued behind the first commit: one fits, the next would overflow and
	// is refused alone, the last fits again only if the refused one left
	// no trace.
	results := make([]chan error, 3)
	batches := [][]Message{
		{msg("b", PriorityLow)},
		{msg("c", PriorityLow), msg("d", PriorityLow)},
		{msg("e", PriorityLow)},
	}
	for i, b := range batches {
		results[i] = make(chan error, 1)
		go func() { results[i] <- ob.Enqueue(ctx, b...) }()
		for {
			ob.qmu.Lock()
			queued := len(ob.queued)
			ob.qmu.Unlock()
			if queued == i+1 {
				break
			}
			runtime.Gosched()
		}
	}
	close(g.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	want := []error{nil, ErrFull, nil}
	for i := range results {
		if err := <-results[i]; !errors.Is(err, want[i]) {
			t.Fatalf("batch %d: %v, want %v", i, err, want[i])
		}
	}
	if got := fmt.Sprint(pendingKeys(ob)); got != "[a b e]" {
		t.Fatalf("pending %s", got)
	}
}

func TestOutboxCheckObservesRunningState(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	ob := openOB(t, obConfig(fsys, newTestClock()))
	if err := ob.Enqueue(ctx, msg("a", PriorityLow), msg("b", PriorityLow)); err != nil {
		t.Fatal(err)
	}
	cs := ob.Checks()
	if len(cs) != 1 || cs[0].ID != "resilience.outbox" || fmt.Sprint(cs[0].Provisions) != "[5.9-2]" {
		t.Fatalf("checks %+v", cs)
	}
	r := cs[0].Run(ctx)
	if r.Verdict != conformance.Pass || !strings.HasPrefix(r.Observed, "2 pending") || !strings.Contains(r.Observed, "0 quarantined") {
		t.Fatalf("healthy outbox: %+v", r)
	}
	// A corrupt file renamed aside by an earlier boot is seen now.
	if err := durable.WriteFile(fsys, "ob/seg-0000000000000007.log"+quarExt, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cs[0].Run(ctx); r.Verdict != conformance.Inconclusive {
		t.Fatalf("with a quarantined file: %+v", r)
	}
	ob.Close()
	if r := cs[0].Run(ctx); r.Verdict != conformance.Fail {
		t.Fatalf("closed outbox: %+v", r)
	}
}
