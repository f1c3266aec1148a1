package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

func testKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// selfSignedTLS is a client configuration good enough for New (no
// connection is made in these tests).
func selfSignedTLS(t testing.TB, cn string) *tls.Config {
	t.Helper()
	k := testKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: x509.NewCertPool(), Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: k}}}
}

// TestAuthorise runs every refusal of the command path with a fixed clock
// and checks that only a fresh, unexpired command signed by the pinned key
// for this device passes, and that it is remembered on flash.
func TestAuthorise(t *testing.T) {
	key, foreign := testKey(t), testKey(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fsys := durable.NewCrashFS()
	newLink := func() *Link {
		l, err := New(Config{Broker: "127.0.0.1:8883", TLS: selfSignedTLS(t, "dev1"), CommandKey: &key.PublicKey,
			StateDir: "state", FS: fsys, Now: func() time.Time { return now },
			Commands: map[string]CommandSpec{
				"set-endpoint": {Run: func(context.Context, Command) error { return nil }},
				"blink":        {AllowUnsigned: true, Run: func(context.Context, Command) error { return nil }},
			}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := newLink()
	enc := func(k *ecdsa.PrivateKey, r CommandRequest) []byte {
		t.Helper()
		if r.Device == "" {
			r.Device = "dev1"
		}
		if r.Name == "" {
			r.Name = "set-endpoint"
		}
		var signer = k
		var b []byte
		var err error
		if signer == nil {
			b, err = EncodeCommand(nil, nil, r)
		} else {
			b, err = EncodeCommand(rand.Reader, signer, r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	exp := now.Add(time.Minute)
	for _, tc := range []struct {
		name    string
		payload []byte
		now     time.Time
		want    Reason // "" = accepted
	}{
		{"signed", enc(key, CommandRequest{Seq: 10, Expires: exp, Args: json.RawMessage(`{"u":1}`)}), now, ""},
		{"replayed", enc(key, CommandRequest{Seq: 10, Expires: exp}), now, RefusedReplayed},
		{"older", enc(key, CommandRequest{Seq: 9, Expires: exp}), now, RefusedReplayed},
		{"unsigned", enc(nil, CommandRequest{Seq: 11, Expires: exp}), now, RefusedUnsigned},
		{"foreign key", enc(foreign, CommandRequest{Seq: 12, Expires: exp}), now, RefusedBadSignature},
		{"other device", enc(key, CommandRequest{Device: "dev2", Seq: 13, Expires: exp}), now, RefusedWrongDevice},
		{"expired", enc(key, CommandRequest{Seq: 14, Expires: now}), now, RefusedExpired},
		{"too long", enc(key, CommandRequest{Seq: 15, Expires: now.Add(DefaultCommandLifetime + time.Second)}), now, RefusedTooLong},
		{"clock unset", enc(key, CommandRequest{Seq: 16, Expires: exp}), time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), RefusedClock},
		{"unknown", enc(key, CommandRequest{Name: "open-debug-port", Seq: 17, Expires: exp}), now, RefusedUnknown},
		{"unsigned allowed", enc(nil, CommandRequest{Name: "blink"}), now, ""},
		{"unsigned allowed but expired", enc(nil, CommandRequest{Name: "blink", Expires: now.Add(-time.Second)}), now, RefusedExpired},
		{"signed without expiry", signRaw(t, key, `{"device":"dev1","name":"set-endpoint","seq":18}`), now, RefusedMalformed},
		{"signed without seq", signRaw(t, key, `{"device":"dev1","name":"set-endpoint","exp":`+itoa(exp.Unix())+`}`), now, RefusedMalformed},
		{"next", enc(key, CommandRequest{Seq: 19, Expires: exp}), now, ""},
	} {
		c, _, err := l.authorise(tc.payload, tc.now, true)
		var re *RefusedError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &re) || re.Reason != tc.want):
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.want)
		case tc.want != "" && !errors.Is(err, ErrRefused):
			t.Errorf("%s: %v does not match ErrRefused", tc.name, err)
		case tc.name == "signed" && (c.Seq != 10 || !c.Signed || string(c.Args) != `{"u":1}` || !c.Expires.Equal(exp.Truncate(time.Second))):
			t.Errorf("signed command decoded as %+v", c)
		}
	}
	if got := l.guard.lastSeq(); got != 19 {
		t.Fatalf("last sequence %d, want 19", got)
	}
	// The sequence number is on flash: a new link refuses the replay.
	l2 := newLink()
	if _, _, err := l2.authorise(enc(key, CommandRequest{Seq: 19, Expires: exp}), now, true); !errors.Is(err, ErrRefused) {
		t.Fatalf("replay after restart accepted: %v", err)
	}
	// A probe (consume=false) never moves the sequence number.
	if _, _, err := l2.authorise(enc(key, CommandRequest{Seq: 30, Expires: exp}), now, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l2.authorise(enc(key, CommandRequest{Seq: 20, Expires: exp}), now, true); err != nil {
		t.Fatalf("probe consumed a sequence number: %v", err)
	}
}

func itoa(n int64) string { return big.NewInt(n).String() }

// signRaw signs a hand-written body, for bodies EncodeCommand refuses.
func signRaw(t *testing.T, k *ecdsa.PrivateKey, body string) []byte {
	t.Helper()
	sig, err := ecdsa.SignASN1(rand.Reader, k, commandDigest([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b64.EncodeToString([]byte(body)) + "." + b64.EncodeToString(sig))
}

// TestReplayGuardPowerLoss cuts power at every write and fsync of two
// accepted commands: after reboot the state always opens, and no sequence
// number whose acceptance was reported can be accepted again.
func TestReplayGuardPowerLoss(t *testing.T) {
	var acked uint64
	points := durable.CrashTest(t,
		func(fsys *durable.CrashFS) { acked = 0 },
		func(fsys *durable.CrashFS) error {
			g, err := openReplayGuard(fsys, "state")
			if err != nil {
				return err
			}
			for _, seq := range []uint64{5, 9} {
				r, err := g.accept(seq)
				if r != "" {
					return err
				}
				acked = seq
			}
			return nil
		},
		func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
			g, err := openReplayGuard(fsys, "state")
			if err != nil {
				t.Fatalf("crash at %d (%v): state does not open: %v", point, mode, err)
			}
			if last := g.lastSeq(); last < acked || (last != 0 && last != 5 && last != 9) {
				t.Fatalf("crash at %d (%v): last %d after acknowledging %d", point, mode, last, acked)
			}
			if r, _ := g.accept(acked); acked != 0 && r != RefusedReplayed {
				t.Fatalf("crash at %d (%v): acknowledged sequence %d accepted again", point, mode, acked)
			}
		})
	if points < 4 {
		t.Fatalf("only %d crash points", points)
	}
}

// TestReplayStateCorrupt: a damaged state file stops New instead of
// letting old commands run again.
func TestReplayStateCorrupt(t *testing.T) {
	for _, content := range []string{"", "baseline-mqtt-command-seq v1 \n", "baseline-mqtt-command-seq v1 07\n",
		"baseline-mqtt-command-seq v1 18446744073709551616\n", "baseline-mqtt-command-seq v1 5", "garbage", string(make([]byte, 100))} {
		fsys := durable.NewCrashFS()
		if err := fsys.MkdirAll("state", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := durable.WriteFile(fsys, "state/"+seqFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(Config{Broker: "127.0.0.1:8883", TLS: selfSignedTLS(t, "dev1"), CommandKey: &testKey(t).PublicKey,
			StateDir: "state", FS: fsys, Commands: map[string]CommandSpec{"x": {Run: func(context.Context, Command) error { return nil }}}})
		if !errors.Is(err, ErrState) {
			t.Errorf("state %q: New returned %v, want ErrState", content, err)
		}
	}
}
