package auth

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

func newThrottle(t *testing.T, fsys durable.FS, c *clock, cfg ThrottleConfig) *throttle {
	t.Helper()
	th, err := openThrottle(fsys, "/state", cfg, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { th.close() })
	return th
}

func TestSourceKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7:443":                 "192.0.2.7",
		"192.0.2.7":                     "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:80":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":          "2001:db8:1:2::/64",
		"[fe80::1%eth0]:22":             "fe80::/64",
		"::ffff:192.0.2.9":              "192.0.2.9",
		"ble:AA:BB":                     "ble:AA:BB",
		"":                              "unknown",
		"uart\x00\r\n0":                 "uart0",
		"\x00probe":                     "probe",
		string(make([]byte, 100)) + "x": "unknown",
	}
	for in, want := range cases {
		if got := SourceKey(in); got != want {
			t.Errorf("SourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceExponentialDelay(t *testing.T) {
	c := newClock()
	th := newThrottle(t, durable.NewCrashFS(), c, ThrottleConfig{})
	for i := range 5 {
		if _, err := th.admit("198.51.100.1:1", "owner"); err != nil {
			t.Fatalf("free attempt %d: %v", i+1, err)
		}
	}
	want := time.Second
	for range 6 {
		_, err := th.admit("198.51.100.1:2", "owner")
		var te ErrThrottled
		if !errors.As(err, &te) || te.RetryAfter != want || te.Limit != "source" {
			t.Fatalf("got %v, want throttled for %s", err, want)
		}
		c.Advance(want)
		if _, err := th.admit("198.51.100.1:3", "owner"); err != nil {
			t.Fatalf("after waiting %s: %v", want, err)
		}
		want *= 2
	}
	// Capped at MaxDelay.
	for range 20 {
		c.Advance(15 * time.Minute)
		th.admit("198.51.100.1:3", "owner")
	}
	var te ErrThrottled
	if _, err := th.admit("198.51.100.1:3", "owner"); !errors.As(err, &te) || te.RetryAfter != 15*time.Minute {
		t.Fatalf("cap: %v", err)
	}
}

func TestIPv6GroupedBy64(t *testing.T) {
	c := newClock()
	th := newThrottle(t, durable.NewCrashFS(), c, ThrottleConfig{})
	for i := range 5 {
		if _, err := th.admit(fmt.Sprintf("[2001:db8:0:1::%x]:1", i+1), "owner"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := th.admit("[2001:db8:0:1:ffff::9]:1", "owner"); !isThrottled(err) {
		t.Fatalf("another address in the same /64 not throttled: %v", err)
	}
	if _, err := th.admit("[2001:db8:0:2::1]:1", "owner"); err != nil {
		t.Fatalf("a different /64 throttled: %v", err)
	}
}

// TestOverflowPolicy fills the source table with penalised sources: none
// of them is evicted (that would reset an attacker's penalty), and new
// sources share the overflow entry.
func TestOverflowPolicy(t *testing.T) {
	c := newClock()
	th := newThrottle(t, durable.NewCrashFS(), c, ThrottleConfig{MaxSources: 4, SourceFree: 1, GlobalBudget: 1000, AccountFree: 1000})
	for i := range 4 {
		th.admit(fmt.Sprintf("10.0.0.%d", i), "x")
	}
	for i := range 4 {
		if _, err := th.admit(fmt.Sprintf("10.0.0.%d", i), "x"); !isThrottled(err) {
			t.Fatalf("source %d not throttled", i)
		}
	}
	// A new source lands in the overflow entry: one free failure, then
	// every new source is throttled with it.
	if _, err := th.admit("10.0.1.1", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := th.admit("10.0.1.2", "x"); !isThrottled(err) {
		t.Fatalf("overflowing source not throttled: %v", err)
	}
	for i := range 4 {
		if n, w := th.sourceState(fmt.Sprintf("10.0.0.%d", i)); n != 1 || w == 0 {
			t.Fatalf("penalised source %d evicted (fails %d, wait %s)", i, n, w)
		}
	}
	// Once penalties run out, idle entries make room again.
	c.Advance(time.Minute)
	if _, err := th.admit("10.0.2.1", "x"); err != nil {
		t.Fatalf("after penalties expired: %v", err)
	}
	if len(th.src.m) > 5 { // 4 + overflow
		t.Fatalf("table grew to %d", len(th.src.m))
	}
}

func TestAccountAndGlobalLimits(t *testing.T) {
	c := newClock()
	th := newThrottle(t, durable.NewCrashFS(), c, ThrottleConfig{SourceFree: 3, AccountFree: 6, GlobalBudget: 20, GlobalWindow: time.Hour})
	// The owner logged in from home before.
	tk, _ := th.admit("192.0.2.10", "owner")
	th.success(tk)
	// A botnet: each source stays under its own limit.
	var err error
	src := 0
	for range 6 {
		_, err = th.admit(fmt.Sprintf("203.0.113.%d", src), "owner")
		src++
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = th.admit(fmt.Sprintf("203.0.113.%d", src), "owner")
	var te ErrThrottled
	if !errors.As(err, &te) || te.Limit != "account" {
		t.Fatalf("distributed attack not throttled per account: %v", err)
	}
	// The owner's known source is in good standing.
	if _, err := th.admit("192.0.2.10", "owner"); err != nil {
		t.Fatalf("owner's known source throttled: %v", err)
	}
	// Global: spread over accounts, the device-wide budget stops it.
	for i := 0; i < 100; i++ {
		_, err = th.admit(fmt.Sprintf("198.18.%d.%d", i/200, i%200), fmt.Sprintf("acct%d", i))
		if errors.As(err, &te) && te.Limit == "global" {
			break
		}
	}
	if te.Limit != "global" {
		t.Fatalf("global budget never reached: %v", err)
	}
	if d := th.debt(c.Now().UnixNano()); d > 20 {
		t.Fatalf("debt %v over budget", d)
	}
}

// TestThrottlePersists: a power cut at any write/fsync boundary of a series
// of failures never loses a failure that was acknowledged (admitted), and
// the log replays to the same penalty.
func TestThrottleCrashSafe(t *testing.T) {
	cfg := ThrottleConfig{SourceFree: 20, AccountFree: 20}
	var c *clock
	var acked int
	setup := func(fsys *durable.CrashFS) {
		c = newClock()
		th, err := openThrottle(fsys, "/state", cfg, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		th.admit("203.0.113.9", "owner")
		th.close()
	}
	run := func(fsys *durable.CrashFS) error {
		acked = 1
		th, err := openThrottle(fsys, "/state", cfg, c.Now)
		if err != nil {
			return err
		}
		th.compactMin = 0 // compact during the run as well
		defer th.close()
		for range 12 {
			c.Advance(time.Second)
			if _, err := th.admit("203.0.113.9", "owner"); err != nil {
				return err
			}
			acked++
		}
		return nil
	}
	compacted := false
	check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		th, err := openThrottle(fsys, "/state", cfg, c.Now)
		if err != nil {
			t.Fatalf("point %d %v: reopen: %v", point, mode, err)
		}
		defer th.close()
		if th.log.Len() < acked {
			compacted = true
		}
		n, _ := th.sourceState("203.0.113.9")
		if int(n) < acked || int(n) > acked+1 {
			t.Fatalf("point %d %v: %d acknowledged failures, replay has %d", point, mode, acked, n)
		}
		if th.tainted {
			t.Fatalf("point %d %v: log tainted after crash", point, mode)
		}
	}
	n := durable.CrashTest(t, setup, run, check)
	if n < 24 || !compacted {
		t.Fatalf("only %d boundaries exercised (compacted: %v)", n, compacted)
	}
}

func TestRefusedAttemptWritesNothing(t *testing.T) {
	c := newClock()
	fsys := durable.NewCrashFS()
	th := newThrottle(t, fsys, c, ThrottleConfig{SourceFree: 1})
	th.admit("192.0.2.1", "owner")
	before := fsys.Ops()
	for range 100 {
		if _, err := th.admit("192.0.2.1", "owner"); !isThrottled(err) {
			t.Fatal(err)
		}
	}
	if fsys.Ops() != before {
		t.Fatalf("throttled attempts wrote %d times", fsys.Ops()-before)
	}
}

func TestFullDiskFailsClosed(t *testing.T) {
	c := newClock()
	fsys := durable.NewCrashFS()
	th := newThrottle(t, fsys, c, ThrottleConfig{})
	fsys.FailWrites = func(string) error { return errors.New("no space left on device") }
	if _, err := th.admit("192.0.2.1", "owner"); !errors.Is(err, ErrThrottleState) {
		t.Fatalf("attempt admitted without being recorded: %v", err)
	}
	if n, _ := th.sourceState("192.0.2.1"); n != 0 {
		t.Fatal("state changed though nothing was stored")
	}
}

func TestCorruptRecordFailsClosed(t *testing.T) {
	c := newClock()
	fsys := durable.NewCrashFS()
	fsys.MkdirAll("/state", 0o700)
	l, _ := durable.OpenLog(fsys, "/state/throttle.log", durable.LogOptions{})
	l.Append([]byte{'F', 0xff}) // valid frame, undecodable record
	l.Close()
	th := newThrottle(t, fsys, c, ThrottleConfig{})
	if !th.tainted {
		t.Fatal("corrupt record not noticed")
	}
	if _, err := th.admit("192.0.2.1", "owner"); !isThrottled(err) {
		t.Fatalf("unknown source admitted after corruption: %v", err)
	}
}

func TestClockBackwards(t *testing.T) {
	c := newClock()
	th := newThrottle(t, durable.NewCrashFS(), c, ThrottleConfig{SourceFree: 1})
	th.admit("192.0.2.1", "owner")
	c.Advance(-24 * time.Hour) // reboot without RTC
	var te ErrThrottled
	if _, err := th.admit("192.0.2.1", "owner"); !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Fatalf("clock going back: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := snapshot{gDebt: 3.5, gAt: 42, src: []snapEntry{{key: "a", fails: 3, last: -5, good: true, goodAt: -9}, {key: "b", last: 2}}, acct: []snapEntry{{key: "owner", fails: 1, last: 7}}}
	got, err := decodeSnapshot(encodeSnapshot(s))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(s) {
		t.Fatalf("%+v %v", got, err)
	}
}

func FuzzThrottleRecord(f *testing.F) {
	f.Add(encodeEvent(recFail, 1, "192.0.2.1", "owner", 0))
	f.Add(encodeEvent(recSuccess, 1, "2001:db8::/64", "owner", 0))
	f.Add(encodeEvent(recForget, 1, probeSource, "", 0))
	f.Add(encodeSnapshot(snapshot{gDebt: 1, src: []snapEntry{{key: "a", fails: 1}}}))
	f.Add(encodeSnapshot(snapshot{gAt: 9, src: []snapEntry{{key: "a", good: true, goodAt: 7}}}))
	f.Add([]byte{recSnapshot, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, rec []byte) {
		th := &throttle{cfg: ThrottleConfig{}.withDefaults(), now: time.Now}
		th.reset()
		if err := th.apply(rec); err != nil {
			return
		}
		if len(th.src.m) > maxSnapEntries || len(th.acct.m) > maxSnapEntries {
			t.Fatal("unbounded table")
		}
		if rec[0] == recSnapshot {
			s, _ := decodeSnapshot(rec)
			if string(encodeSnapshot(s)) != string(rec) {
				// Non-canonical varints may decode; the re-encoding must
				// still decode to the same state.
				s2, err := decodeSnapshot(encodeSnapshot(s))
				if err != nil || fmt.Sprint(s2) != fmt.Sprint(s) {
					t.Fatal("snapshot does not round-trip")
				}
			}
		}
	})
}

// TestOwnerSuccessDoesNotRefundAttackers: a success from a source in good
// standing (whose failures are not charged to the global budget) gives no
// budget back to the attackers.
func TestOwnerSuccessDoesNotRefundAttackers(t *testing.T) {
	c := newClock()
	th := newThrottle(t, durable.NewCrashFS(), c, ThrottleConfig{GlobalBudget: 100, AccountFree: 1000})
	tk, _ := th.admit("192.0.2.10", "owner")
	th.success(tk) // now in good standing; the global debt is back to 0
	for i := range 10 {
		th.admit(fmt.Sprintf("203.0.113.%d", i), "owner")
	}
	d := th.debt(c.Now().UnixNano())
	for range 5 {
		tk, err := th.admit("192.0.2.10", "owner")
		if err != nil {
			t.Fatal(err)
		}
		th.success(tk)
	}
	if got := th.debt(c.Now().UnixNano()); got != d {
		t.Fatalf("owner's logins changed the attackers' global debt from %v to %v", d, got)
	}
}

func BenchmarkThrottledAttempt(b *testing.B) {
	c := newClock()
	th, _ := openThrottle(durable.NewCrashFS(), "/state", ThrottleConfig{SourceFree: 1}, c.Now)
	th.admit("203.0.113.1", "owner")
	for b.Loop() {
		th.admit("203.0.113.1", "owner")
	}
}

// BenchmarkNewSourceFullTable: an attacker rotating sources against a full
// table of penalised entries pays a scan per attempt and is refused.
func BenchmarkNewSourceFullTable(b *testing.B) {
	c := newClock()
	th, _ := openThrottle(durable.NewCrashFS(), "/state", ThrottleConfig{SourceFree: 1, AccountFree: 1 << 20, GlobalBudget: 1 << 20}, c.Now)
	for i := range 1025 {
		th.admit(fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprint(i))
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := th.admit(fmt.Sprintf("172.16.%d.%d", i/250%250, i%250), "x"); !isThrottled(err) {
			b.Fatal("admitted", err)
		}
	}
}

// TestRebootWithClockInThePast: a device without an RTC boots with its
// clock years behind. The penalty is neither forgotten nor frozen: it keeps
// counting down from the last recorded event.
func TestRebootWithClockInThePast(t *testing.T) {
	c := newClock()
	fsys := durable.NewCrashFS()
	th := newThrottle(t, fsys, c, ThrottleConfig{SourceFree: 1})
	for range 4 {
		th.admit("192.0.2.1", "owner")
		c.Advance(time.Hour)
	}
	_, w := th.sourceState("192.0.2.1")
	if w != 0 {
		t.Fatal("setup")
	}
	th.admit("192.0.2.1", "owner") // 5th failure: 16s delay
	th.close()
	c.Advance(-10 * 365 * 24 * time.Hour)
	fsys = fsys.Reboot(durable.DropUnsynced)
	th = newThrottle(t, fsys, c, ThrottleConfig{SourceFree: 1})
	var te ErrThrottled
	if _, err := th.admit("192.0.2.1", "owner"); !errors.As(err, &te) || te.RetryAfter != 16*time.Second {
		t.Fatalf("after reboot into the past: %v", err)
	}
	c.Advance(10 * time.Second)
	if _, err := th.admit("192.0.2.1", "owner"); !errors.As(err, &te) || te.RetryAfter != 6*time.Second {
		t.Fatalf("penalty not counting down: %v", err)
	}
	c.Advance(6 * time.Second)
	if _, err := th.admit("192.0.2.1", "owner"); err != nil {
		t.Fatalf("penalty frozen: %v", err)
	}
}
