package privacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/wire"
)

func FuzzDecodeInventory(f *testing.F) {
	good, err := os.ReadFile("testdata/inventory.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"version": "3",`), []byte(`"version": "3", "version": "4",`), 1))
	f.Add(bytes.Replace(good, []byte(`"consent"`), []byte(`"whim"`), 1))
	f.Add(append(bytes.Clone(good), "[]"...))
	f.Add(append(bytes.Clone(good), '}'))
	f.Add(append(bytes.Clone(good), ']'))
	f.Add(append(bytes.Clone(good), ` {}`...))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte(`{"schema":"baseline.privacy-inventory/v1","categories":[{"id":"a","storage":["cloud","cloud"]}]}`))
	f.Add([]byte(`[{"a":{"a":1,"a":2}}]`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := DecodeInventory(bytes.NewReader(data))
		if err != nil {
			var ie *InventoryError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInventory) || inv != nil {
				t.Fatalf("error %v (%T) is not an InventoryError, or an inventory came with it", err, err)
			}
			return
		}
		// What decodes is valid, builds a notice, and survives a round trip.
		if err := inv.Validate(); err != nil {
			t.Fatalf("decoded inventory does not validate: %v", err)
		}
		n, err := NewNotice(inv)
		if err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		inv2, err := DecodeInventory(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("re-encoded inventory refused: %v", err)
		}
		n2, _ := NewNotice(inv2)
		if n2.SHA256 != n.SHA256 {
			t.Fatal("round trip changed the notice")
		}
	})
}

// ledgerSeeds returns the records of a small real ledger.
func ledgerSeeds(f *testing.F) (file []byte, recs [][]byte) {
	fsys, _, _ := buildLedger(f, 4)
	file = fsys.Contents()[ledgerPath]
	offs, lens := frames(f, file)
	for i := range offs {
		recs = append(recs, file[offs[i]+8:offs[i]+lens[i]])
	}
	return file, recs
}

func FuzzLedgerRecord(f *testing.F) {
	_, recs := ledgerSeeds(f)
	for _, r := range recs {
		f.Add(r)
		f.Add(r[:len(r)-1])
	}
	f.Add([]byte{recVersion, recEvent})
	f.Add([]byte{})
	pub := deviceKey(f).Public()
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeRecord(raw)
		if err != nil {
			if r != nil {
				t.Fatal("record returned with an error")
			}
			return
		}
		// A decoded record is canonical: it re-encodes to its own bytes.
		body := r.appendBody(nil)
		if !bytes.Equal(wire.AppendBytes(body, r.sig), raw) {
			t.Fatal("decoded record does not re-encode to its bytes")
		}
		if r.typ == recEvent {
			ev := r.event()
			if ev.Kind.String() == "" || ev.Subject == "" || !isID(ev.Purpose) {
				t.Fatalf("decoded event %+v", ev)
			}
		}
		r.verify(pub) // must not panic on any signature bytes
	})
}

// FuzzOpenLedger opens arbitrary ledger files (with and without the head
// the real ledger had): OpenLedger either refuses them with an error or
// opens a ledger that verifies.
func FuzzOpenLedger(f *testing.F) {
	file, _ := ledgerSeeds(f)
	f.Add(file, true)
	f.Add(file[:len(file)-7], true)
	f.Add(file, false)
	f.Add([]byte{}, false)
	fsys0, n, c := buildLedger(f, 4)
	headFile := fsys0.Contents()[ledgerPath+".head"]
	f.Fuzz(func(t *testing.T, data []byte, withHead bool) {
		if len(data) > 1<<16 {
			return
		}
		fsys := durable.NewCrashFS()
		fsys.MkdirAll("/data/privacy", 0o700)
		durable.WriteFile(fsys, ledgerPath, data, 0o600)
		if withHead {
			durable.WriteFile(fsys, ledgerPath+".head", headFile, 0o600)
		}
		l, err := OpenLedger(context.Background(), ledgerConfig(t, fsys, n, c))
		if err != nil {
			return
		}
		defer l.Close()
		if _, err := l.Verify(context.Background()); err != nil {
			t.Fatalf("opened a ledger that does not verify: %v", err)
		}
	})
}

func FuzzDecodeSchema(f *testing.F) {
	good, err := os.ReadFile("testdata/telemetry.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"step": 10`), []byte(`"step": -1`), 1))
	f.Add(bytes.Replace(good, []byte(`[1, 5, 10]`), []byte(`[1e308, 1e309]`), 1))
	f.Add(bytes.Replace(good, []byte(`"keep"`), []byte(`"keep", "kind": "drop"`), 1))
	f.Add([]byte(`{"schema":"baseline.telemetry-schema/v1","fields":[]}`))
	f.Add(append(bytes.Clone(good), '}'))
	f.Add(append(bytes.Clone(good), ']'))
	f.Add(append(bytes.Clone(good), ` {}`...))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	inv := exampleInventory(f)
	n := exampleNotice(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSchema(bytes.NewReader(data))
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) || !errors.Is(err, ErrSchema) || s != nil {
				t.Fatalf("error %v (%T) is not a SchemaError", err, err)
			}
			return
		}
		if s.Validate(inv) != nil {
			return
		}
		// A schema that fits the inventory builds an exporter whose output
		// holds only declared fields.
		tr := &nopTransport{}
		e, err := NewExporter(ExporterConfig{Notice: n, Schema: s, Consent: allowAll(true), Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		rec := Record{"undeclared_probe": "x"}
		for _, fl := range s.Fields {
			rec[fl.Name] = map[FieldType]any{TypeString: "v", TypeNumber: 1.5, TypeInteger: 7, TypeBool: true}[fl.Type]
		}
		if err := e.Export(context.Background(), "alice", rec); err != nil {
			t.Fatal(err)
		}
		if e.Stats().Undeclared != 1 {
			t.Fatalf("stats %+v", e.Stats())
		}
		for _, m := range tr.msgs {
			var v map[string]any
			if err := json.Unmarshal(m.Body, &v); err != nil {
				t.Fatalf("body %q: %v", m.Body, err)
			}
			if _, ok := v["undeclared_probe"]; ok {
				t.Fatal("undeclared field sent")
			}
		}
	})
}

type nopTransport struct{ msgs []Message }

func (n *nopTransport) Send(ctx context.Context, m Message) error {
	n.msgs = append(n.msgs, m)
	return nil
}

func FuzzOpenEnvelope(f *testing.F) {
	pub, priv, err := GenerateEnvelopeKey()
	if err != nil {
		f.Fatal(err)
	}
	s, _ := NewSealer(pub)
	env, _ := s.Seal([]byte("acme-cloud"), []byte(`{"a":1}`))
	f.Add(env)
	f.Add(env[:envHdrLen])
	f.Add([]byte("BPE1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, err := OpenEnvelope(priv, []byte("acme-cloud"), data)
		if err != nil {
			if !errors.Is(err, ErrEnvelope) || pt != nil {
				t.Fatalf("%v", err)
			}
			return
		}
		if !bytes.Equal(data, env) || string(pt) != `{"a":1}` {
			t.Fatal("a changed envelope opened")
		}
	})
}
