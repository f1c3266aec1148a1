package privacy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

var (
	testKeyOnce sync.Once
	testKey     *ecdsa.PrivateKey
)

// deviceKey is the test device's ECDSA P-256 key.
func deviceKey(t testing.TB) *ecdsa.PrivateKey {
	testKeyOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const ledgerPath = "/data/privacy/consent.log"

func ledgerConfig(t testing.TB, fsys durable.FS, n *Notice, c *clock) LedgerConfig {
	return LedgerConfig{FS: fsys, Path: ledgerPath, Signer: deviceKey(t), Notice: n, Now: c.Now}
}

func openLedger(t testing.TB, cfg LedgerConfig) *Ledger {
	t.Helper()
	l, err := OpenLedger(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func decide(t testing.TB, l *Ledger, k Kind, subject, purpose string, n *Notice) *Receipt {
	t.Helper()
	d := Decision{Kind: k, Subject: subject, Purpose: purpose, Method: "app"}
	if k == Given || k == Refused {
		d.Notice = n.Ref()
	}
	rc, err := l.Record(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestLedgerWithdrawalTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	if l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("allowed before any decision")
	}
	decide(t, l, Given, "alice", "analytics", n)
	if !l.Allowed(ctx, "alice", "analytics") || l.Allowed(ctx, "bob", "analytics") || l.Allowed(ctx, "alice", "away-mode") {
		t.Fatal("consent not scoped to its subject and purpose")
	}
	decide(t, l, Withdrawn, "alice", "analytics", n)
	if l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("withdrawal did not take effect at once")
	}
	decide(t, l, Refused, "bob", "away-mode", n)
	l.Close()
	if l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("a closed ledger allows")
	}

	// After a reboot the ledger says the same.
	l = openLedger(t, ledgerConfig(t, fsys, n, c))
	if l.Allowed(ctx, "alice", "analytics") || l.Allowed(ctx, "bob", "away-mode") || l.Len() != 3 {
		t.Fatalf("reopened ledger differs: %d events", l.Len())
	}
	ev, _ := l.Latest("alice", "analytics")
	if ev.Kind != Withdrawn || ev.Seq != 2 || ev.Notice != n.Ref() {
		t.Fatalf("latest event %+v", ev)
	}
	decide(t, l, Given, "alice", "analytics", n)
	if !l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("consent given again is not in force")
	}
	var kinds []string
	if err := l.Events(ctx, func(e Event) error { kinds = append(kinds, e.Kind.String()+":"+e.Subject); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(kinds, ",") != "given:alice,withdrawn:alice,refused:bob,given:alice" {
		t.Fatalf("events %v", kinds)
	}
}

func TestLedgerRefusesBadDecisions(t *testing.T) {
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	old := n.Ref()
	old.Version = "2"
	cases := []struct {
		d    Decision
		want error
	}{
		{Decision{Kind: Given, Subject: "alice", Purpose: "analytics", Method: "app", Notice: old}, ErrNoticeMismatch},
		{Decision{Kind: Given, Subject: "alice", Purpose: "analytics", Method: "app"}, ErrNoticeMismatch},
		{Decision{Kind: Given, Subject: "alice", Purpose: "energy-report", Method: "app", Notice: n.Ref()}, ErrNotConsentPurpose},
		{Decision{Kind: Refused, Subject: "alice", Purpose: "unknown", Method: "app", Notice: n.Ref()}, ErrNotConsentPurpose},
		{Decision{Kind: Given, Subject: "", Purpose: "analytics", Method: "app", Notice: n.Ref()}, ErrDecision},
		{Decision{Kind: Given, Subject: "a\nb", Purpose: "analytics", Method: "app", Notice: n.Ref()}, ErrDecision},
		{Decision{Kind: Given, Subject: "alice", Purpose: "analytics", Method: "", Notice: n.Ref()}, ErrDecision},
		{Decision{Kind: 9, Subject: "alice", Purpose: "analytics", Method: "app", Notice: n.Ref()}, ErrDecision},
		{Decision{Kind: Given, Subject: "alice", Purpose: "analytics", Method: "app", Notice: n.Ref(), Expires: c.Now().Add(-time.Hour)}, ErrDecision},
		{Decision{Kind: Withdrawn, Subject: "alice", Purpose: "analytics", Method: "app", Expires: c.Now().Add(time.Hour)}, ErrDecision},
	}
	for i, tc := range cases {
		if _, err := l.Record(context.Background(), tc.d); !errors.Is(err, tc.want) {
			t.Errorf("case %d: got %v, want %v", i, err, tc.want)
		}
	}
	if l.Len() != 0 {
		t.Fatalf("refused decisions were written: %d events", l.Len())
	}
}

func TestLedgerNewNoticeAsksAgain(t *testing.T) {
	ctx := context.Background()
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	decide(t, l, Given, "alice", "analytics", n)
	l.Close()

	inv := exampleInventory(t)
	inv.Version = "4"
	inv.Purposes[1].RetentionDays = 60
	n4, err := NewNotice(inv)
	if err != nil {
		t.Fatal(err)
	}
	l = openLedger(t, ledgerConfig(t, fsys, n4, c))
	if l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("consent given on notice v3 counts under v4")
	}
	// Withdrawal needs no notice and is bound to the one consent was given on.
	rc := decide(t, l, Withdrawn, "alice", "analytics", n4)
	if rc.Notice.Version != "3" || rc.Notice.SHA256 != n.Hash() {
		t.Fatalf("withdrawal bound to %+v", rc.Notice)
	}
	decide(t, l, Given, "alice", "analytics", n4)
	if !l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("consent on the new notice not in force")
	}
}

func TestLedgerExpiry(t *testing.T) {
	ctx := context.Background()
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	_, err := l.Record(ctx, Decision{Kind: Given, Subject: "alice", Purpose: "analytics", Method: "app", Notice: n.Ref(), Expires: c.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	decide(t, l, Given, "bob", "analytics", n)
	if !l.Allowed(ctx, "alice", "analytics") {
		t.Fatal("not allowed before expiry")
	}
	c.Advance(25 * time.Hour)
	if l.Allowed(ctx, "alice", "analytics") || !l.Allowed(ctx, "bob", "analytics") {
		t.Fatal("expiry not honoured, or applied to the wrong consent")
	}
	if k, err := l.ExpireDue(ctx); err != nil || k != 1 {
		t.Fatalf("ExpireDue = %d, %v", k, err)
	}
	ev, _ := l.Latest("alice", "analytics")
	if ev.Kind != Expired || ev.Method != "device" {
		t.Fatalf("latest %+v", ev)
	}
	if k, _ := l.ExpireDue(ctx); k != 0 {
		t.Fatal("expired twice")
	}
}

func TestReceiptVerifies(t *testing.T) {
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	cfg := ledgerConfig(t, fsys, n, c)
	cfg.WithdrawalMethod = "Settings > Privacy in the Acme app"
	l := openLedger(t, cfg)
	rc := decide(t, l, Given, "alice", "analytics", n)
	pub := deviceKey(t).Public()
	if err := VerifyReceipt(rc, pub); err != nil {
		t.Fatal(err)
	}
	if rc.Processing.LawfulBasis != BasisConsent || !rc.Processing.ThirdPartyDisclosure || rc.Processing.RetentionDays != 30 ||
		rc.Notice.SHA256 != n.Hash() || rc.Event.State != Given || rc.Processing.WithdrawalMethod != cfg.WithdrawalMethod ||
		rc.Controller.Name != "Acme Devices Ltd" || len(rc.Processing.Recipients) != 2 {
		t.Fatalf("receipt %+v", rc)
	}
	// Through JSON and back it still verifies.
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	var back Receipt
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyReceipt(&back, pub); err != nil {
		t.Fatalf("after JSON: %v", err)
	}
	// The same receipt read back from flash.
	again, err := l.Receipt(context.Background(), 1)
	if err != nil || again.Proof.RecordSHA256 != rc.Proof.RecordSHA256 {
		t.Fatalf("Receipt(1) = %v, %v", again, err)
	}
	// Altered receipts and foreign keys are refused.
	alter := []func(*Receipt){
		func(r *Receipt) { r.Event.State = Withdrawn },
		func(r *Receipt) { r.PIIPrincipalID = "mallory" },
		func(r *Receipt) { r.Notice.SHA256 = strings.Repeat("0", 64) },
		func(r *Receipt) { r.Event.Time = r.Event.Time.Add(time.Hour) },
		func(r *Receipt) { r.Proof.Record[len(r.Proof.Record)-3] ^= 1 },
		func(r *Receipt) { r.Proof.Seq = 7 },
	}
	for i, f := range alter {
		var r Receipt
		json.Unmarshal(b, &r)
		f(&r)
		if err := VerifyReceipt(&r, pub); !errors.Is(err, ErrReceipt) {
			t.Errorf("alteration %d: got %v", i, err)
		}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := VerifyReceipt(rc, other.Public()); !errors.Is(err, ErrReceipt) {
		t.Fatalf("foreign key: %v", err)
	}
}

func TestLedgerEd25519(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	cfg := ledgerConfig(t, fsys, n, c)
	cfg.Signer = priv
	l := openLedger(t, cfg)
	rc := decide(t, l, Given, "alice", "analytics", n)
	if err := VerifyReceipt(rc, priv.Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// The ledger refuses to open under another key.
	cfg.Signer = deviceKey(t)
	if _, err := OpenLedger(context.Background(), cfg); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opened under another key: %v", err)
	}
}

// buildLedger writes a ledger of n events on a CrashFS and returns the FS.
func buildLedger(t testing.TB, n int) (*durable.CrashFS, *Notice, *clock) {
	t.Helper()
	fsys, no, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	l := openLedger(t, ledgerConfig(t, fsys, no, c))
	subjects := []string{"alice", "bob", "carol"}
	for i := range n {
		k := Given
		if i%3 == 1 {
			k = Withdrawn
		}
		decide(t, l, k, subjects[i%len(subjects)], []string{"analytics", "away-mode"}[i%2], no)
	}
	l.Close()
	return fsys, no, c
}

// frames returns the offset and length of every frame of a ledger file.
func frames(t testing.TB, b []byte) (offs, lens []int) {
	for off := 0; off < len(b); {
		size := int(binary.LittleEndian.Uint32(b[off:]))
		offs, lens = append(offs, off), append(lens, 8+size)
		off += 8 + size
	}
	return
}

func fixCRC(b []byte, off int) {
	size := binary.LittleEndian.Uint32(b[off:])
	c := crc32.Update(0, castagnoli, b[off:off+4])
	c = crc32.Update(c, castagnoli, b[off+8:off+8+int(size)])
	binary.LittleEndian.PutUint32(b[off+4:], c)
}

func TestLedgerDamageFoundWithFirstBadRecord(t *testing.T) {
	const events = 12
	base, n, c := buildLedger(t, events)
	orig := base.Contents()[ledgerPath]
	offs, lens := frames(t, orig)
	if len(offs) != events+1 {
		t.Fatalf("%d frames", len(offs))
	}
	cases := []struct {
		name   string
		index  int64
		damage func(b []byte) []byte
		head   func(fs *durable.CrashFS)
	}{
		{"flipped byte in record 5", 5, func(b []byte) []byte { b[offs[5]+20] ^= 0x01; return b }, nil},
		{"flipped byte in the header", 0, func(b []byte) []byte { b[offs[0]+12] ^= 0x80; return b }, nil},
		{"flipped byte in the last record", events, func(b []byte) []byte { b[offs[events]+30] ^= 0x01; return b }, nil},
		{"subject altered, checksum fixed", 4, func(b []byte) []byte {
			i := bytes.Index(b[offs[4]:offs[4]+lens[4]], []byte("alice"))
			copy(b[offs[4]+i:], "alicx")
			fixCRC(b, offs[4])
			return b
		}, nil},
		{"signature altered, checksum fixed", 7, func(b []byte) []byte {
			b[offs[7]+lens[7]-5] ^= 0x40
			fixCRC(b, offs[7])
			return b
		}, nil},
		{"last signature altered, checksum fixed", events, func(b []byte) []byte {
			b[offs[events]+lens[events]-5] ^= 0x40
			fixCRC(b, offs[events])
			return b
		}, nil},
		{"records 6 and 7 swapped", 6, func(b []byte) []byte {
			var out []byte
			out = append(out, b[:offs[6]]...)
			out = append(out, b[offs[7]:offs[7]+lens[7]]...)
			out = append(out, b[offs[6]:offs[6]+lens[6]]...)
			return append(out, b[offs[8]:]...)
		}, nil},
		{"record 3 deleted", 3, func(b []byte) []byte { return append(b[:offs[3]:offs[3]], b[offs[4]:]...) }, nil},
		{"truncated after record 9", 10, func(b []byte) []byte { return b[:offs[10]] }, nil},
		{"truncated inside record 9", 9, func(b []byte) []byte { return b[:offs[9]+10] }, nil},
		{"last record dropped", events, func(b []byte) []byte { return b[:offs[events]] }, nil},
		{"garbage record appended", events + 1, func(b []byte) []byte { return durable.AppendFrame(b, []byte("not a record")) }, nil},
		{"head file removed", -1, nil, func(fs *durable.CrashFS) { durable.Remove(fs, ledgerPath+".head") }},
		{"head file garbled", -1, nil, func(fs *durable.CrashFS) { durable.WriteFile(fs, ledgerPath+".head", []byte("BPLH\x01\xff"), 0o600) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := base.Reboot(durable.DropUnsynced)
			if tc.damage != nil {
				if err := durable.WriteFile(fsys, ledgerPath, tc.damage(bytes.Clone(orig)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.head != nil {
				tc.head(fsys)
			}
			before := fsys.Contents()[ledgerPath]
			_, err := OpenLedger(context.Background(), ledgerConfig(t, fsys, n, c))
			var le *LedgerError
			if !errors.As(err, &le) || !errors.Is(err, ErrLedgerCorrupt) {
				t.Fatalf("opened a damaged ledger: %v", err)
			}
			if le.Index != tc.index {
				t.Fatalf("first bad record %d, want %d (%v)", le.Index, tc.index, err)
			}
			if !bytes.Equal(fsys.Contents()[ledgerPath], before) {
				t.Fatal("opening a damaged ledger changed the file")
			}
		})
	}
	// A torn tail after the last acknowledged record is what power loss
	// leaves: it is cut and the ledger opens with every event.
	fsys := base.Reboot(durable.DropUnsynced)
	torn := durable.AppendFrame(bytes.Clone(orig), bytes.Repeat([]byte{7}, 200))
	durable.WriteFile(fsys, ledgerPath, torn[:len(torn)-50], 0o600)
	l, err := OpenLedger(context.Background(), ledgerConfig(t, fsys, n, c))
	if err != nil || l.Len() != events {
		t.Fatalf("torn tail: %v", err)
	}
	if !bytes.Equal(fsys.Contents()[ledgerPath], orig) {
		t.Fatal("torn tail not cut back to the last record")
	}
}

func TestLedgerVerifyFindsDamageOnFlash(t *testing.T) {
	base, n, c := buildLedger(t, 8)
	fsys := base.Reboot(durable.DropUnsynced)
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	res, err := l.Verify(context.Background())
	if err != nil || res.Records != 9 || res.Signatures != 9 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	// Flip a byte of record 3 under the running ledger.
	b := fsys.Contents()[ledgerPath]
	offs, _ := frames(t, b)
	f, _ := fsys.OpenFile(ledgerPath, 2, 0)
	f.Seek(int64(offs[3]+15), 0)
	f.Write([]byte{b[offs[3]+15] ^ 1})
	f.Close()
	_, err = l.Verify(context.Background())
	var le *LedgerError
	if !errors.As(err, &le) || le.Index != 3 {
		t.Fatalf("Verify after damage: %v", err)
	}
}

// TestLedgerSurvivesPowerLoss cuts the power at every write/fsync boundary
// of a session of decisions. After the reboot the ledger always opens,
// verifies, holds every acknowledged event and at most the one in flight,
// and Allowed agrees with the last event it holds.
func TestLedgerSurvivesPowerLoss(t *testing.T) {
	n := exampleNotice(t)
	c := newClock()
	plan := []Decision{
		{Kind: Given, Subject: "alice", Purpose: "analytics"},
		{Kind: Given, Subject: "alice", Purpose: "away-mode"},
		{Kind: Withdrawn, Subject: "alice", Purpose: "analytics"},
		{Kind: Refused, Subject: "bob", Purpose: "analytics"},
		{Kind: Given, Subject: "alice", Purpose: "analytics"},
	}
	var acked int
	setup := func(fsys *durable.CrashFS) {
		l := openLedger(t, ledgerConfig(t, fsys, n, c))
		decide(t, l, Given, "carol", "analytics", n)
		l.Close()
	}
	run := func(fsys *durable.CrashFS) error {
		acked = 0
		l, err := OpenLedger(context.Background(), ledgerConfig(t, fsys, n, c))
		if err != nil {
			return err
		}
		defer l.Close()
		for _, d := range plan {
			d.Method = "app"
			if d.Kind != Withdrawn {
				d.Notice = n.Ref()
			}
			if _, err := l.Record(context.Background(), d); err != nil {
				return err
			}
			acked++
		}
		return nil
	}
	check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		l, err := OpenLedger(context.Background(), ledgerConfig(t, fsys, n, c))
		if err != nil {
			t.Fatalf("point %d %v: ledger does not open after power loss: %v", point, mode, err)
		}
		defer l.Close()
		got := l.Len() - 1 // carol's event from setup
		if got < acked || got > acked+1 || got > len(plan) {
			t.Fatalf("point %d %v: %d events of the session on flash, %d acknowledged", point, mode, got, acked)
		}
		var evs []Event
		l.Events(context.Background(), func(e Event) error { evs = append(evs, e); return nil })
		for i, e := range evs[1:] {
			if e.Kind != plan[i].Kind || e.Subject != plan[i].Subject || e.Purpose != plan[i].Purpose {
				t.Fatalf("point %d %v: event %d is %v, planned %v", point, mode, i+2, e, plan[i])
			}
		}
		if _, err := l.Verify(context.Background()); err != nil {
			t.Fatalf("point %d %v: %v", point, mode, err)
		}
		want := map[string]bool{}
		for _, d := range plan[:got] {
			want[d.Subject+"/"+d.Purpose] = d.Kind == Given
		}
		for k, v := range want {
			s, p, _ := strings.Cut(k, "/")
			if l.Allowed(context.Background(), s, p) != v {
				t.Fatalf("point %d %v: Allowed(%s) = %v after %d events", point, mode, k, !v, got)
			}
		}
		// And the device goes on recording.
		decide(t, l, Withdrawn, "carol", "analytics", n)
	}
	if b := durable.CrashTest(t, setup, run, check); b < 20 {
		t.Fatalf("only %d boundaries", b)
	}
}

func TestLedgerConcurrentAllowedAndRecord(t *testing.T) {
	fsys, n, c := durable.NewCrashFS(), exampleNotice(t), newClock()
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				l.Allowed(context.Background(), "alice", "analytics")
			}
		}
	}()
	for range 20 {
		decide(t, l, Given, "alice", "analytics", n)
		decide(t, l, Withdrawn, "alice", "analytics", n)
	}
	close(stop)
	wg.Wait()
	if l.Allowed(context.Background(), "alice", "analytics") {
		t.Fatal("allowed after the last withdrawal")
	}
}

var _ crypto.Signer = (*ecdsa.PrivateKey)(nil)
