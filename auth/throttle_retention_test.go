package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/wire"
)

// onFlash reports whether any file on fsys holds s.
func onFlash(fsys *durable.CrashFS, s string) bool {
	for _, b := range fsys.Contents() {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

func TestRetentionDefault(t *testing.T) {
	if got, want := (ThrottleConfig{}).Retention(), 30*24*time.Hour+time.Hour; got != want {
		t.Fatalf("default retention %s, want %s", got, want)
	}
	// A MaxDelay beyond the others bounds it: a penalty is never cut short.
	if got, want := (ThrottleConfig{MaxDelay: 60 * 24 * time.Hour}).Retention(), 60*24*time.Hour+time.Hour; got != want {
		t.Fatalf("retention %s, want %s", got, want)
	}
}

// TestRetentionErasesAddressFromFlash: once an address's failures are
// forgotten, or its good standing has expired, the next admitted attempt
// (or a restart) erases it from the log file itself, not just from memory.
func TestRetentionErasesAddressFromFlash(t *testing.T) {
	const (
		stranger = "198.51.100.77"
		owner    = "192.0.2.10"
		other    = "203.0.113.5"
	)
	c := newClock()
	fsys := durable.NewCrashFS()
	cfg := ThrottleConfig{}
	th := newThrottle(t, fsys, c, cfg)
	if _, err := th.admit(stranger+":4000", "owner"); err != nil {
		t.Fatal(err)
	}
	tk, err := th.admit(owner+":5000", "owner")
	if err != nil {
		t.Fatal(err)
	}
	if err := th.success(tk); err != nil {
		t.Fatal(err)
	}
	if !onFlash(fsys, stranger) || !onFlash(fsys, owner) {
		t.Fatal("setup: the addresses are not in the log (the search is broken)")
	}

	// Just before ForgetAfter the failure still counts.
	c.Advance(24*time.Hour - time.Minute)
	if _, err := th.admit(other, "owner"); err != nil {
		t.Fatal(err)
	}
	if n, _ := th.sourceState(stranger); n != 1 {
		t.Fatalf("failure forgotten early: count %d", n)
	}

	// ForgetAfter plus the compaction interval later, one more admitted
	// attempt erases the stranger; the owner is still in good standing.
	c.Advance(time.Minute + compactEvery)
	if _, err := th.admit(other, "owner"); err != nil {
		t.Fatal(err)
	}
	if onFlash(fsys, stranger) {
		t.Fatalf("%s still on flash %s after its only attempt", stranger, 24*time.Hour+compactEvery)
	}
	if n, _ := th.sourceState(stranger); n != 0 {
		t.Fatalf("stranger still counted: %d", n)
	}
	if !onFlash(fsys, owner) {
		t.Fatal("owner's good standing erased within GoodFor")
	}

	// After Retention, a restart alone erases the owner's address too.
	th.close()
	c.Advance(cfg.Retention() - 24*time.Hour - compactEvery)
	th = newThrottle(t, fsys, c, cfg)
	if onFlash(fsys, owner) {
		t.Fatalf("%s still on flash %s after its last attempt", owner, cfg.Retention())
	}
	if onFlash(fsys, other) {
		t.Fatalf("%s still on flash after its failures were forgotten", other)
	}
	if len(th.src.m) != 0 {
		t.Fatalf("memory still holds %d sources", len(th.src.m))
	}
}

// TestRetentionNeverDropsPenalisedSource: an address whose delay is still
// running is kept through compactions and restarts, however short
// ForgetAfter is, and erased only once the delay has run out.
func TestRetentionNeverDropsPenalisedSource(t *testing.T) {
	const attacker = "198.51.100.9"
	c := newClock()
	fsys := durable.NewCrashFS()
	cfg := ThrottleConfig{SourceFree: 1, BaseDelay: 2 * time.Hour, MaxDelay: 2 * time.Hour, ForgetAfter: time.Minute, GoodFor: time.Minute}
	th := newThrottle(t, fsys, c, cfg)
	th.compactMin = 0 // compact on every admitted attempt
	if _, err := th.admit(attacker, "owner"); err != nil {
		t.Fatal(err)
	}
	var te ErrThrottled
	for i := range 3 {
		c.Advance(30 * time.Minute)
		if _, err := th.admit(fmt.Sprintf("203.0.113.%d", i), "x"); err != nil {
			t.Fatal(err)
		}
		th.close()
		th = newThrottle(t, fsys, c, cfg) // a restart compacts too
		th.compactMin = 0
		want := 2*time.Hour - time.Duration(i+1)*30*time.Minute
		if _, err := th.admit(attacker, "owner"); !errors.As(err, &te) || te.RetryAfter != want {
			t.Fatalf("after %d min: %v, want throttled for %s", (i+1)*30, err, want)
		}
		if !onFlash(fsys, attacker) {
			t.Fatalf("penalised address erased from flash after %d min with its delay running", (i+1)*30)
		}
	}
	c.Advance(30 * time.Minute)
	if _, err := th.admit("203.0.113.200", "x"); err != nil {
		t.Fatal(err)
	}
	if !onFlash(fsys, attacker) {
		t.Fatal("erased at the very end of its delay, before ForgetAfter after it")
	}
	// The bound: 2h (its delay) + the compaction interval after its attempt.
	c.Advance(compactEvery)
	if _, err := th.admit("203.0.113.201", "x"); err != nil {
		t.Fatal(err)
	}
	if onFlash(fsys, attacker) {
		t.Fatalf("penalised address still on flash %s after its attempt", cfg.Retention())
	}
}

// TestGoodStandingExpires: a source that logged in keeps skipping the
// account limit for GoodFor after its last success, across restarts and
// compactions, and not after.
func TestGoodStandingExpires(t *testing.T) {
	const owner = "192.0.2.10"
	c := newClock()
	fsys := durable.NewCrashFS()
	cfg := ThrottleConfig{AccountFree: 1, GlobalBudget: 1000}
	th := newThrottle(t, fsys, c, cfg)
	tk, err := th.admit(owner, "owner")
	if err != nil {
		t.Fatal(err)
	}
	th.success(tk)
	attack := func(day int) {
		t.Helper()
		// One failure (AccountFree) puts the account under delay.
		if _, err := th.admit(fmt.Sprintf("203.0.%d.1", day), "owner"); err != nil {
			t.Fatal(err)
		}
		var te ErrThrottled
		if _, err := th.admit(fmt.Sprintf("203.0.%d.9", day), "owner"); !errors.As(err, &te) || te.Limit != "account" {
			t.Fatalf("day %d: account not under delay: %v", day, err)
		}
	}
	c.Advance(29 * 24 * time.Hour)
	th.close()
	th = newThrottle(t, fsys, c, cfg) // restart (and compaction) within GoodFor
	attack(29)
	if !onFlash(fsys, owner) {
		t.Fatal("owner's address erased within GoodFor")
	}
	if _, err := th.admit(owner, "owner"); err != nil {
		t.Fatalf("owner's source refused within GoodFor: %v", err)
	}
	// Its last attempt was a failure: standing runs from the last success.
	c.Advance(1*24*time.Hour + time.Minute)
	attack(30)
	var te ErrThrottled
	if _, err := th.admit(owner, "owner"); !errors.As(err, &te) || te.Limit != "account" {
		t.Fatalf("owner's source still exempt after GoodFor: %v", err)
	}
}

// TestSnapshotVersion1: a snapshot written before goodAt existed reads its
// good entries as good from the snapshot's time.
func TestSnapshotVersion1(t *testing.T) {
	b := []byte{recSnapshot, 1}
	b = binary.AppendUvarint(b, math.Float64bits(0))
	b = binary.AppendVarint(b, 1000) // gAt
	b = binary.AppendUvarint(b, 1)
	b = wire.AppendString(b, "192.0.2.1")
	b = binary.AppendUvarint(b, 0)
	b = binary.AppendVarint(b, 5)
	b = append(b, 1)
	b = binary.AppendUvarint(b, 0)
	s, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (snapEntry{key: "192.0.2.1", last: 5, good: true, goodAt: 1000}); len(s.src) != 1 || s.src[0] != want {
		t.Fatalf("got %+v, want %+v", s.src, want)
	}
}

// TestExpiryCompactionCrashSafe: a power cut at any write/fsync boundary of
// the compaction a restart runs to erase expired addresses never loses a
// running penalty, and the log still replays cleanly.
func TestExpiryCompactionCrashSafe(t *testing.T) {
	const attacker = "198.51.100.9"
	cfg := ThrottleConfig{SourceFree: 1, BaseDelay: 2 * time.Hour, MaxDelay: 2 * time.Hour, ForgetAfter: time.Minute, GoodFor: time.Minute}
	var c *clock
	setup := func(fsys *durable.CrashFS) {
		c = newClock()
		th, err := openThrottle(fsys, "/state", cfg, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			th.admit(fmt.Sprintf("203.0.113.%d", i), "x")
		}
		c.Advance(time.Hour)
		th.admit(attacker, "owner")
		th.close()
		c.Advance(time.Hour) // the strangers expired; the attacker waits 1h more
	}
	run := func(fsys *durable.CrashFS) error {
		th, err := openThrottle(fsys, "/state", cfg, c.Now) // compacts
		if err != nil {
			return err
		}
		return th.close()
	}
	check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		th, err := openThrottle(fsys, "/state", cfg, c.Now)
		if err != nil {
			t.Fatalf("point %d %v: reopen: %v", point, mode, err)
		}
		defer th.close()
		if th.tainted {
			t.Fatalf("point %d %v: log tainted", point, mode)
		}
		if _, w := th.sourceState(attacker); w != time.Hour {
			t.Fatalf("point %d %v: attacker's wait after the crash is %s, want 1h", point, mode, w)
		}
		if point == 0 && onFlash(fsys, "203.0.113.") {
			t.Fatal("expired addresses still on flash after the restart")
		}
	}
	if n := durable.CrashTest(t, setup, run, check); n < 3 {
		t.Fatalf("only %d boundaries", n)
	}
}
