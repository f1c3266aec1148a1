package privacy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

const secPath = "/data/privacy/security.log"

func openSecLog(t *testing.T, fsys durable.FS, c *clock, max int) *SecurityLog {
	t.Helper()
	s, err := OpenSecurityLog(context.Background(), SecurityLogConfig{FS: fsys, Path: secPath, MaxEvents: max, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSecurityLogChainAndBound(t *testing.T) {
	ctx := context.Background()
	fsys, c := durable.NewCrashFS(), newClock()
	s := openSecLog(t, fsys, c, 10)
	for i := range 25 {
		if err := s.Append(ctx, SecLoginFailed, "203.0.113.9", strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	evs := s.Events()
	if len(evs) > 10 || evs[len(evs)-1].Seq != 24 {
		t.Fatalf("%d events kept, last %d", len(evs), evs[len(evs)-1].Seq)
	}
	if n := s.Count(SecLoginFailed, time.Time{}); n != len(evs) {
		t.Fatal(n)
	}
	s.Close()
	s = openSecLog(t, fsys, c, 10)
	if got := s.Events(); len(got) != len(evs) || got[0].Hash != evs[0].Hash || got[len(got)-1].Hash != evs[len(evs)-1].Hash {
		t.Fatal("reopened log differs")
	}
	s.Append(ctx, SecUpdate, "update", "1.2.0 installed")
	s.Close()

	// A record edited in the middle (checksum fixed) breaks the chain.
	b := fsys.Contents()[secPath]
	offs, _ := frames(t, b)
	i := bytes.Index(b[offs[3]:], []byte("203.0.113.9"))
	b[offs[3]+i] = '1'
	fixCRC(b, offs[3])
	durable.WriteFile(fsys, secPath, b, 0o600)
	if _, err := OpenSecurityLog(ctx, SecurityLogConfig{FS: fsys, Path: secPath, Now: c.Now}); !errors.Is(err, ErrSecurityLogCorrupt) || !strings.Contains(err.Error(), "record 4") {
		t.Fatalf("edited log opened: %v", err)
	}

	// The same edit without fixing the checksum: a bad record with whole
	// records after it is not what power loss leaves (it tears only the
	// end), so it is reported, and nothing is cut.
	b = fsys.Contents()[secPath]
	fixCRC(b, offs[3])
	b[offs[3]+i] = '2'
	durable.WriteFile(fsys, secPath, b, 0o600)
	if _, err := OpenSecurityLog(ctx, SecurityLogConfig{FS: fsys, Path: secPath, Now: c.Now}); !errors.Is(err, ErrSecurityLogCorrupt) || !strings.Contains(err.Error(), "not a torn append") {
		t.Fatalf("log edited without its checksum opened: %v", err)
	}
	if !bytes.Equal(fsys.Contents()[secPath], b) {
		t.Fatal("the damaged log was cut instead of kept for inspection")
	}
}

func TestSecurityLogOptOut(t *testing.T) {
	ctx := context.Background()
	fsys, c := durable.NewCrashFS(), newClock()
	s := openSecLog(t, fsys, c, 0)
	s.Append(ctx, SecLoginOK, "owner", "")
	s.SetEnabled(ctx, false, "owner")
	s.Append(ctx, SecLoginFailed, "203.0.113.9", "")
	s.Close()
	s = openSecLog(t, fsys, c, 0)
	if s.Enabled() {
		t.Fatal("opt-out forgotten across a reboot")
	}
	s.Append(ctx, SecLoginFailed, "203.0.113.9", "")
	s.SetEnabled(ctx, true, "owner")
	var kinds []string
	for _, e := range s.Events() {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "login-ok,logging-disabled,logging-enabled" {
		t.Fatalf("events %v", kinds)
	}
	if err := s.Append(ctx, "Bad Kind", "", ""); err == nil {
		t.Fatal("bad kind accepted")
	}
}

func TestSecurityLogSurvivesPowerLoss(t *testing.T) {
	c := newClock()
	var acked int
	run := func(fsys *durable.CrashFS) error {
		acked = 0
		s, err := OpenSecurityLog(context.Background(), SecurityLogConfig{FS: fsys, Path: secPath, MaxEvents: 6, Now: c.Now})
		if err != nil {
			return err
		}
		defer s.Close()
		for range 8 {
			if err := s.Append(context.Background(), SecLoginFailed, "203.0.113.9", ""); err != nil {
				return err
			}
			acked++
		}
		return nil
	}
	check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		s, err := OpenSecurityLog(context.Background(), SecurityLogConfig{FS: fsys, Path: secPath, MaxEvents: 6, Now: c.Now})
		if err != nil {
			t.Fatalf("point %d %v: %v", point, mode, err)
		}
		defer s.Close()
		evs := s.Events()
		if acked > 0 && (len(evs) == 0 || evs[len(evs)-1].Seq+1 < uint64(acked)) {
			t.Fatalf("point %d %v: %d acknowledged, log ends at %v", point, mode, acked, evs)
		}
		if err := s.Append(context.Background(), SecReset, "device", ""); err != nil {
			t.Fatalf("point %d %v: append after reboot: %v", point, mode, err)
		}
	}
	durable.CrashTest(t, nil, run, check)
}
