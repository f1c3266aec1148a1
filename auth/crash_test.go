package auth

import (
	"context"
	"maps"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// TestLoginCountersSurvivePowerCut drives the Service itself: a scripted
// attacker's failed logins, with the power cut at every write/fsync
// boundary. After the reboot the device remembers at least every failure it
// answered, so pulling the plug never buys an attacker attempts.
func TestLoginCountersSurvivePowerCut(t *testing.T) {
	// One provisioned, set-up vault, copied into every run.
	base := newFixture(t)
	base.setUp()
	vault := base.vault.snapshot()
	const src = "203.0.113.50:6000"
	var answered int
	open := func(fsys *durable.CrashFS) (*Service, error) {
		v := newMemVault()
		v.m = maps.Clone(vault)
		return New(context.Background(), Config{Vault: v, FS: fsys, StateDir: "/state", Hash: testParams, InsecureWeakHash: true, Now: base.clock.Now})
	}
	run := func(fsys *durable.CrashFS) error {
		answered = 0
		s, err := open(fsys)
		if err != nil {
			return err
		}
		defer s.Close()
		for range 4 {
			if _, err := s.Authenticate(context.Background(), Attempt{Source: src, Account: ownerAcct, Password: "scripted guess 0001"}); err != ErrBadCredentials {
				return err
			}
			answered++
		}
		return nil
	}
	check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		s, err := open(fsys)
		if err != nil {
			t.Fatalf("point %d %v: reopen: %v", point, mode, err)
		}
		defer s.Close()
		n, _ := s.thr.sourceState(SourceKey(src))
		if int(n) < answered {
			t.Fatalf("point %d %v: the attacker was answered %d times, the device remembers %d failures", point, mode, answered, n)
		}
	}
	if n := durable.CrashTest(t, nil, run, check); n < 8 {
		t.Fatalf("only %d boundaries", n)
	}
}
