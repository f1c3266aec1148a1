package commission_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"example.com/outside/commission"
	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/durable"
)

// Test credentials, made up for this test; nothing ships with them.
const (
	account   = "owner"
	firstPW   = "marble otters juggle quietly at dawn"
	secondPW  = "seven lanterns drift over the harbour"
	plugName  = "kitchen plug"
	ownerAddr = "192.0.2.10:40000"
)

var wifiKey = []byte("wifi key of the test network 0123")

// tiny Argon2id parameters keep the ~hundred runs of the crash test fast;
// they are below auth's floor, hence InsecureWeakHash (tests only).
var testHash = auth.Params{Memory: 64, Time: 1, Threads: 1}

// progress is what the run had acknowledged when the power went.
type progress struct {
	claimed, commissioned bool
	changing, changed     bool
}

// TestCommissioningSurvivesPowerLoss runs the whole life of a new device
// — first start, claim, commissioning, a password change — on the SDK's
// crash-simulating file system, cutting the power at every write/fsync
// boundary, in both crash modes. After every reboot the device opens,
// shows an old or a new state and never a mix, has lost nothing it
// acknowledged, and finishes commissioning from where it stopped.
func TestCommissioningSurvivesPowerLoss(t *testing.T) {
	ctx := context.Background()
	// The factory's step, once: the setup secret for the label, the
	// verifier (at auth's floor, as a factory makes it) for the device.
	secret, err := auth.NewSetupSecret()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := secret.Verifier(auth.Params{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(fsys *durable.CrashFS) commission.Config {
		return commission.Config{FS: fsys, Dir: "/data", Verifier: verifier, Hash: testHash, InsecureWeakHash: true}
	}

	var done progress
	run := func(fsys *durable.CrashFS) error {
		done = progress{}
		d, err := commission.Open(ctx, cfg(fsys))
		if err != nil {
			return err
		}
		defer d.Close()
		if err := d.Claim(ctx, ownerAddr, secret.Reveal(), account, firstPW); err != nil {
			return err
		}
		done.claimed = true
		if err := d.Commission(ctx, plugName, wifiKey, false); err != nil {
			return err
		}
		done.commissioned = true
		done.changing = true
		if _, err := d.Auth().ChangePassword(ctx, auth.ChangeRequest{
			Source: ownerAddr, Account: account,
			CurrentPassword: auth.Password(firstPW), NewPassword: auth.Password(secondPW),
		}); err != nil {
			return err
		}
		done.changed = true
		return nil
	}

	check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		t.Helper()
		at := func(format string, args ...any) {
			t.Fatalf("power cut at boundary %d (%v), acknowledged %+v: "+format, append([]any{point, mode, done}, args...)...)
		}
		if point == 0 && runErr != nil {
			at("the run without a crash failed: %v", runErr)
		}
		if point > 0 && !durable.IsCrash(runErr) {
			at("run failed with %v, not with the simulated power loss", runErr)
		}
		for name, b := range fsys.Contents() {
			if bytes.Contains(b, wifiKey) || bytes.Contains(b, []byte(firstPW)) || bytes.Contains(b, []byte(secondPW)) {
				at("%s holds a secret in plaintext", name)
			}
		}

		d, err := commission.Open(ctx, cfg(fsys))
		if err != nil {
			at("the device does not start: %v", err)
		}
		defer d.Close()
		rec, st, pol := d.Record(), d.Auth().State(), d.UpdatePolicy()

		// Old or new, never a mix: every component agrees with the record.
		switch rec.Step {
		case commission.Factory:
			if st != auth.AwaitingSetup {
				at("record says factory, auth is %v", st)
			}
		case commission.Claimed:
			if st != auth.Ready {
				at("record says claimed, auth is %v", st)
			}
		case commission.Commissioned:
			if st != auth.Ready || rec.Name != plugName || !pol.AutoInstallOff {
				at("record %+v, auth %v, update policy %+v: a mix", rec, st, pol)
			}
			if got, err := d.Secrets().Get(ctx, commission.WiFiKeyName); err != nil || !bytes.Equal(got, wifiKey) {
				at("commissioned, but the Wi-Fi key reads %v", err)
			}
		default:
			at("record %+v", rec)
		}

		// Nothing acknowledged lost.
		if done.claimed && rec.Step < commission.Claimed {
			at("the acknowledged claim is lost: %+v", rec)
		}
		if done.commissioned && rec.Step < commission.Commissioned {
			at("the acknowledged commissioning is lost: %+v", rec)
		}
		if st == auth.Ready {
			// The password in force is the first or the second, exactly
			// one of them: an unacknowledged change is all there or absent.
			first, second := login(ctx, t, d, firstPW), login(ctx, t, d, secondPW)
			switch {
			case first == second:
				at("first password logs in: %v, second: %v", first, second)
			case done.changed && !second:
				at("the acknowledged password change is lost")
			case !done.changing && second:
				at("a password nobody set logs in")
			}
		}

		// The device resumes where it stopped and finishes.
		if rec.Step == commission.Factory {
			if err := d.Claim(ctx, ownerAddr, secret.Reveal(), account, firstPW); err != nil {
				at("claim after reboot: %v", err)
			}
		}
		if d.Record().Step == commission.Claimed {
			if err := d.Commission(ctx, plugName, wifiKey, false); err != nil {
				at("commissioning after reboot: %v", err)
			}
		}
		if r := d.Record(); r.Step != commission.Commissioned || !d.UpdatePolicy().AutoInstallOff {
			at("after resuming: record %+v, policy %+v", r, d.UpdatePolicy())
		}
	}

	n := durable.CrashTest(t, nil, run, check)
	t.Logf("%d write/fsync boundaries, each crashed in both modes", n)
	if n < 20 {
		t.Fatalf("only %d boundaries: the run did not write what it should", n)
	}
}

// login reports whether password logs the owner in. A check makes at most
// one failed attempt, well inside the throttle's free attempts.
func login(ctx context.Context, t *testing.T, d *commission.Device, password string) bool {
	t.Helper()
	_, err := d.Auth().Authenticate(ctx, auth.Attempt{Source: ownerAddr, Account: account, Password: auth.Password(password)})
	if err != nil && !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("login: %v", err)
	}
	return err == nil
}
