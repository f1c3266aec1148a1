package privacy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

var (
	bigLedgerOnce sync.Once
	bigLedger     map[string][]byte
)

// bigLedgerDir writes a 10,000-event ledger, signed with the ECDSA P-256
// test key, into a fresh directory on the real file system.
func bigLedgerDir(b *testing.B) (string, *Notice, *clock) {
	bigLedgerOnce.Do(func() {
		fsys, _, _ := buildLedger(b, 10000)
		bigLedger = fsys.Contents()
	})
	dir := b.TempDir()
	for name, data := range bigLedger {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(ledgerPath)), exampleNotice(b), newClock()
}

// BenchmarkLedgerOpen10k measures OpenLedger on a 10,000-event ledger on
// disk: every record decoded, sequence and SHA-256 chain checked, the head
// record's signature verified, the consent state rebuilt.
func BenchmarkLedgerOpen10k(b *testing.B) {
	path, n, c := bigLedgerDir(b)
	cfg := LedgerConfig{FS: durable.OS, Path: path, Signer: deviceKey(b), Notice: n, Now: c.Now}
	for b.Loop() {
		l, err := OpenLedger(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if l.Len() != 10000 {
			b.Fatal(l.Len())
		}
		l.Close()
	}
}

// BenchmarkLedgerVerifyAll10k measures Ledger.Verify on the same ledger:
// everything OpenLedger checks plus every record's ECDSA signature, spread
// over GOMAXPROCS.
func BenchmarkLedgerVerifyAll10k(b *testing.B) {
	path, n, c := bigLedgerDir(b)
	l, err := OpenLedger(context.Background(), LedgerConfig{FS: durable.OS, Path: path, Signer: deviceKey(b), Notice: n, Now: c.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		res, err := l.Verify(context.Background())
		if err != nil || res.Signatures != 10001 {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkLedgerAllowed measures the question the device asks before every
// send.
func BenchmarkLedgerAllowed(b *testing.B) {
	fsys, n, c := buildLedger(b, 30)
	l := openLedger(b, ledgerConfig(b, fsys, n, c))
	defer l.Close()
	ctx := context.Background()
	for b.Loop() {
		l.Allowed(ctx, "alice", "analytics")
	}
}

type discard struct{}

func (discard) Send(context.Context, Message) error { return nil }

// BenchmarkExport measures one record through the exporter — undeclared
// check, consent asked of a real ledger for each consent purpose, every
// rule (coarsen, keep, bucket, keyed pseudonym, drop), JSON encoding, two
// messages, the local sent log — with a transport that discards.
func BenchmarkExport(b *testing.B) {
	n := exampleNotice(b)
	l := openLedger(b, ledgerConfig(b, durable.NewCrashFS(), n, newClock()))
	decide(b, l, Given, "alice", "analytics", n)
	e, err := NewExporter(ExporterConfig{Notice: n, Schema: exampleSchema(b), Consent: l, Transport: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Export(ctx, "alice", sampleRecord); err != nil {
			b.Fatal(err)
		}
	}
	if e.Stats().Fields != 4*e.Stats().Records {
		b.Fatalf("stats %+v", e.Stats())
	}
}

// BenchmarkJSONMarshalRecord is the baseline BenchmarkExport is compared
// with: a bare json.Marshal of the same record.
func BenchmarkJSONMarshalRecord(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(sampleRecord); err != nil {
			b.Fatal(err)
		}
	}
}
