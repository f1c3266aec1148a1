package update

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

var policyT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func policyRelease(counter uint64, security bool) *Release {
	return &Release{Path: "fw.bin", Descriptor: &Descriptor{HardwareID: "hw", ReleaseCounter: counter, Version: "v", Security: security}}
}

type policyEnv struct {
	fsys   durable.FS
	now    time.Time
	evch   chan Event
	events []Event
}

// drain moves the events sent so far into e.events.
func (e *policyEnv) drain() {
	for {
		select {
		case ev := <-e.evch:
			e.events = append(e.events, ev)
		default:
			return
		}
	}
}

func (e *policyEnv) open(t *testing.T, cap time.Duration) *PolicyStore {
	t.Helper()
	if e.evch == nil {
		e.evch = make(chan Event, 64)
	}
	s, err := OpenPolicyStore(PolicyConfig{FS: e.fsys, Path: "policy.json", MaxSecurityPostpone: cap,
		Now: func() time.Time { return e.now }, Notify: e.evch})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPolicyDefaults: with no file the policy is the secure default, and
// the zero UpdatePolicy is that default.
func TestPolicyDefaults(t *testing.T) {
	e := &policyEnv{fsys: durable.NewCrashFS(), now: policyT0}
	s := e.open(t, 0)
	p := s.Policy()
	if p.AutoInstallOff || p.NotificationsOff || p.Postponed != nil {
		t.Fatalf("default policy = %+v, want auto-install and notifications on", p)
	}
	if s.MaxSecurityPostpone() != DefaultMaxSecurityPostpone {
		t.Fatalf("cap = %v", s.MaxSecurityPostpone())
	}
	e.drain()
	if len(e.events) != 0 {
		t.Fatalf("events on open: %v", e.events)
	}
}

// TestPolicyChangesPersistAndEmit: every change is on flash when it
// returns, is returned and sent as an event, and survives a reopen.
func TestPolicyChangesPersistAndEmit(t *testing.T) {
	e := &policyEnv{fsys: durable.NewCrashFS(), now: policyT0}
	s := e.open(t, 0)
	ev, err := s.SetAutoInstall(false)
	if err != nil || !ev.Policy.AutoInstallOff {
		t.Fatalf("SetAutoInstall(false) = %+v, %v", ev, err)
	}
	if _, err := s.SetNotifications(false); err != nil {
		t.Fatal(err)
	}
	pe, err := s.Postpone(policyRelease(7, false), time.Time{})
	if err != nil || pe.ReleaseCounter != 7 || !pe.Until.IsZero() || pe.Capped {
		t.Fatalf("Postpone feature = %+v, %v", pe, err)
	}
	e.drain()
	if len(e.events) != 4 { // 2 changes, postponed + its change
		t.Fatalf("events = %#v", e.events)
	}
	if _, ok := e.events[2].(ReleasePostponed); !ok {
		t.Fatalf("event 2 = %#v, want ReleasePostponed", e.events[2])
	}
	want := s.Policy()
	// Reopen on the rebooted FS: only synced state survives.
	e.fsys = e.fsys.(*durable.CrashFS).Reboot(durable.DropUnsynced)
	got := e.open(t, 0).Policy()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen %+v, want %+v", got, want)
	}
	if !got.AutoInstallOff || !got.NotificationsOff || got.Postponed == nil || got.Postponed.ReleaseCounter != 7 {
		t.Fatalf("after reopen %+v", got)
	}
	s2 := e.open(t, 0)
	if _, err := s2.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.SetAutoInstall(true); err != nil {
		t.Fatal(err)
	}
	if p := e.open(t, 0).Policy(); p.Postponed != nil || p.AutoInstallOff {
		t.Fatalf("after resume and auto-install on: %+v", p)
	}
}

// TestPolicySecurityPostponeCapped: a security release is postponed for
// at most the maker's cap, whatever the owner asks; a feature release for
// as long as the owner likes.
func TestPolicySecurityPostponeCapped(t *testing.T) {
	e := &policyEnv{fsys: durable.NewCrashFS(), now: policyT0}
	s := e.open(t, 0)
	sec := policyRelease(3, true)
	for _, until := range []time.Time{{}, policyT0.Add(30 * 24 * time.Hour)} {
		ev, err := s.Postpone(sec, until)
		if err != nil {
			t.Fatal(err)
		}
		if !ev.Capped || !ev.Until.Equal(policyT0.Add(DefaultMaxSecurityPostpone)) {
			t.Fatalf("Postpone(security, %v) = %+v, want capped at 72h", until, ev)
		}
	}
	ev, err := s.Postpone(sec, policyT0.Add(time.Hour))
	if err != nil || ev.Capped || !ev.Until.Equal(policyT0.Add(time.Hour)) {
		t.Fatalf("short security postpone = %+v, %v", ev, err)
	}
	ev, err = s.Postpone(policyRelease(4, false), policyT0.Add(365*24*time.Hour))
	if err != nil || ev.Capped {
		t.Fatalf("feature postpone = %+v, %v", ev, err)
	}
	if _, err := s.Postpone(sec, policyT0.Add(-time.Hour)); !errors.Is(err, ErrPolicy) {
		t.Fatalf("postpone into the past: %v", err)
	}
	// A maker that allows no security postponement.
	e2 := &policyEnv{fsys: durable.NewCrashFS(), now: policyT0}
	if _, err := e2.open(t, -1).Postpone(sec, time.Time{}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("postpone with no allowance: %v", err)
	}
	if _, err := durable.ReadFile(e2.fsys, "policy.json", 0); err == nil {
		t.Fatal("refused postponement was written")
	}
}

// TestPolicyPostponedUntil: the decision the scheduler uses. A security
// postponement ends at the cap even if the file says later (a file from a
// firmware with a larger cap, or a planted one), and ends at once when the
// clock is set back before it started.
func TestPolicyPostponedUntil(t *testing.T) {
	capd := 72 * time.Hour
	sec := policyRelease(3, true)
	p := UpdatePolicy{Postponed: &Postponement{ReleaseCounter: 3, Security: true, At: policyT0, Until: policyT0.Add(1000 * time.Hour)}}
	if ok, until := p.postponedUntil(sec, policyT0.Add(time.Hour), capd); !ok || !until.Equal(policyT0.Add(capd)) {
		t.Fatalf("inside cap: %v %v", ok, until)
	}
	if ok, _ := p.postponedUntil(sec, policyT0.Add(capd), capd); ok {
		t.Fatal("postponed at the cap")
	}
	if ok, _ := p.postponedUntil(sec, policyT0.Add(-time.Minute), capd); ok {
		t.Fatal("clock set back stretched a security postponement")
	}
	if ok, _ := p.postponedUntil(policyRelease(4, true), policyT0.Add(time.Hour), capd); ok {
		t.Fatal("postponement of release 3 covered release 4")
	}
	// A file marking the release as feature does not lift the cap when the
	// release itself is a security release.
	p.Postponed.Security = false
	if ok, _ := p.postponedUntil(sec, policyT0.Add(capd+time.Hour), capd); ok {
		t.Fatal("security release postponed beyond the cap")
	}
	feat := policyRelease(5, false)
	p = UpdatePolicy{Postponed: &Postponement{ReleaseCounter: 5, At: policyT0}}
	if ok, until := p.postponedUntil(feat, policyT0.Add(10000*time.Hour), capd); !ok || !until.IsZero() {
		t.Fatalf("open-ended feature postponement: %v %v", ok, until)
	}
}

// TestPolicyCorruptFileResets: an undecodable or oversized file is read
// as the default policy and reported, not trusted or fatal.
func TestPolicyCorruptFileResets(t *testing.T) {
	for name, data := range map[string][]byte{
		"garbage":  []byte("{not json"),
		"trailing": []byte(`{"v":1,"autoInstallOff":true}{}`),
		"unknown":  []byte(`{"v":1,"autoInstallOff":true,"x":1}`),
		"version":  []byte(`{"v":2,"autoInstallOff":true}`),
		"huge":     make([]byte, maxPolicySize+1),
	} {
		t.Run(name, func(t *testing.T) {
			fsys := durable.NewCrashFS()
			if err := durable.WriteFile(fsys, "policy.json", data, 0o600); err != nil {
				t.Fatal(err)
			}
			e := &policyEnv{fsys: fsys, now: policyT0}
			s := e.open(t, 0)
			if p := s.Policy(); p.AutoInstallOff || p.NotificationsOff || p.Postponed != nil {
				t.Fatalf("policy = %+v, want default", p)
			}
			e.drain()
			if len(e.events) != 1 || !e.events[0].(PolicyChanged).Reset {
				t.Fatalf("events = %#v, want one reset", e.events)
			}
		})
	}
}

// TestDecodePolicyStrict: the decoder accepts what encodePolicy writes and
// refuses trailing data, unknown fields, other versions and inconsistent
// postponements.
func TestDecodePolicyStrict(t *testing.T) {
	p := UpdatePolicy{AutoInstallOff: true, Postponed: &Postponement{ReleaseCounter: 9, Security: true, At: policyT0, Until: policyT0.Add(time.Hour)}}
	data, err := encodePolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePolicy(data)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{
		string(data) + " {}",
		string(data) + "x",
		`{"v":1,"autoInstallOff":true,"extra":1}`,
		`{"v":0}`,
		`{"v":1,"postponed":{"counter":0,"at":"2026-01-01T00:00:00Z"}}`,
		`{"v":1,"postponed":{"counter":1,"security":true,"at":"2026-01-01T00:00:00Z"}}`,
		`{"v":1,"postponed":{"counter":1,"at":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"}}`,
		`[]`,
		``,
	} {
		if _, err := decodePolicy([]byte(bad)); !errors.Is(err, ErrPolicy) {
			t.Errorf("decodePolicy(%q) = %v, want ErrPolicy", bad, err)
		}
	}
}

// TestPolicyCrash: power lost at every write/fsync boundary of a change
// leaves the old policy or the new one; once the change returned, the new.
func TestPolicyCrash(t *testing.T) {
	old := UpdatePolicy{NotificationsOff: true}
	var acked bool
	var want UpdatePolicy
	n := durable.CrashTest(t,
		func(fsys *durable.CrashFS) {
			acked = false
			data, err := encodePolicy(old)
			if err != nil {
				t.Fatal(err)
			}
			if err := durable.WriteFile(fsys, "policy.json", data, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		func(fsys *durable.CrashFS) error {
			e := &policyEnv{fsys: fsys, now: policyT0}
			s, err := OpenPolicyStore(PolicyConfig{FS: fsys, Path: "policy.json", Now: func() time.Time { return e.now }})
			if err != nil {
				return err
			}
			if _, err := s.SetAutoInstall(false); err != nil {
				return err
			}
			if _, err := s.Postpone(policyRelease(3, true), time.Time{}); err != nil {
				return err
			}
			want = s.Policy()
			acked = true
			return nil
		},
		func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
			got := make(chan Event, 8)
			s, err := OpenPolicyStore(PolicyConfig{FS: fsys, Path: "policy.json", Notify: got})
			if err != nil {
				t.Fatalf("point %d mode %v: open: %v", point, mode, err)
			}
			if len(got) != 0 {
				t.Fatalf("point %d mode %v: file unreadable after crash: %v", point, mode, <-got)
			}
			p := s.Policy()
			mid := old
			mid.AutoInstallOff = true
			switch {
			case acked:
				if !reflect.DeepEqual(p, want) {
					t.Fatalf("point %d: acknowledged policy lost: %+v", point, p)
				}
			case reflect.DeepEqual(p, old), reflect.DeepEqual(p, mid), reflect.DeepEqual(p, want):
			default:
				t.Fatalf("point %d mode %v: policy %+v is neither old nor new", point, mode, p)
			}
		})
	if n < 8 { // two WriteFiles: create, write, sync, rename, dir sync each
		t.Fatalf("only %d boundaries", n)
	}
	t.Logf("%d boundaries", n)
}
