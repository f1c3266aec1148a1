package privacy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

func exampleSchema(t testing.TB) *Schema {
	t.Helper()
	f, err := os.Open("testdata/telemetry.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := DecodeSchema(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// capture is a Transport that keeps what it was given.
type capture struct {
	mu   sync.Mutex
	msgs []Message
	err  error
}

func (c *capture) Send(ctx context.Context, m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	m.Body = bytes.Clone(m.Body)
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *capture) take() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.msgs
	c.msgs = nil
	return m
}

// bodies decodes the messages by recipient.
func bodies(t *testing.T, msgs []Message) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, m := range msgs {
		var v map[string]any
		if err := json.Unmarshal(m.Body, &v); err != nil {
			t.Fatalf("body %s is not JSON: %v", m.Body, err)
		}
		if out[m.Recipient] != nil {
			t.Fatalf("two messages for %s", m.Recipient)
		}
		out[m.Recipient] = v
	}
	return out
}

type allowAll bool

func (a allowAll) Allowed(context.Context, string, string) bool { return bool(a) }

func newExporter(t testing.TB, consent ConsentChecker, tr Transport) *Exporter {
	t.Helper()
	e, err := NewExporter(ExporterConfig{Notice: exampleNotice(t), Schema: exampleSchema(t), Consent: consent, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var sampleRecord = Record{
	"power_w":        1234.5,
	"fw_version":     "1.4.2",
	"energy_kwh_day": 7.2,
	"device_id":      "SN-00112233",
	"motion_count":   3,
}

func TestExporterDropsUndeclaredFields(t *testing.T) {
	tr := &capture{}
	e := newExporter(t, allowAll(true), tr)
	rec := Record{"power_w": 42, "mac_address": "00:11:22:33:44:55", "ssid": "HomeNet"}
	if err := e.Export(context.Background(), "alice", rec); err != nil {
		t.Fatal(err)
	}
	msgs := tr.take()
	for _, m := range msgs {
		if bytes.Contains(m.Body, []byte("mac_address")) || bytes.Contains(m.Body, []byte("00:11:22")) || bytes.Contains(m.Body, []byte("HomeNet")) {
			t.Fatalf("undeclared field left the device: %s", m.Body)
		}
	}
	if b := bodies(t, msgs); len(b) != 1 || b["acme-cloud"]["power_w"] != 40.0 {
		t.Fatalf("declared field not sent as declared: %v", b)
	}
	if st := e.Stats(); st.Undeclared != 2 || st.Fields != 1 || st.Messages != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExporterMinimises(t *testing.T) {
	tr := &capture{}
	e := newExporter(t, allowAll(true), tr)
	if err := e.Export(context.Background(), "alice", sampleRecord); err != nil {
		t.Fatal(err)
	}
	msgs := tr.take()
	b := bodies(t, msgs)
	cloud, metrics := b["acme-cloud"], b["metrics-co"]
	if len(b) != 2 || cloud["power_w"] != 1230.0 || cloud["fw_version"] != "1.4.2" || metrics["energy_kwh_day"] != "5-<10" {
		t.Fatalf("bodies %v", b)
	}
	if _, ok := cloud["motion_count"]; ok {
		t.Fatal("a dropped field was sent")
	}
	id, _ := cloud["device_id"].(string)
	bare := sha256.Sum256([]byte("SN-00112233"))
	if id == "" || strings.Contains(id, "SN-00112233") || strings.Contains(id, hex.EncodeToString(bare[:])[:16]) {
		t.Fatalf("serial not pseudonymised: %q", id)
	}
	for _, m := range msgs {
		if bytes.Contains(m.Body, []byte("00112233")) {
			t.Fatal("serial number left the device")
		}
		if m.Recipient == "acme-cloud" && (strings.Join(m.Purposes, ",") != "analytics,energy-report" || m.Sensitive) {
			t.Fatalf("message %+v", m)
		}
	}
	if st := e.Stats(); st.Dropped != 1 || st.Fields != 4 {
		t.Fatalf("stats %+v", st)
	}
	// Wrong types and values their rule cannot take are not sent.
	e.Export(context.Background(), "alice", Record{"power_w": "high", "fw_version": 3.5, "energy_kwh_day": []int{1}, "device_id": 2.5})
	if got := tr.take(); len(got) != 0 {
		t.Fatalf("malformed values sent: %s", got[0].Body)
	}
	if st := e.Stats(); st.Malformed != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPseudonymsAreKeyedAndRotate(t *testing.T) {
	c := newClock()
	p := NewPseudonymizer(time.Hour, c.Now)
	a1 := p.Pseudonym("device_id", "SN-1")
	if a1 != p.Pseudonym("device_id", "SN-1") {
		t.Fatal("pseudonym not stable within its period")
	}
	if a1 == p.Pseudonym("device_id", "SN-2") || a1 == p.Pseudonym("owner_id", "SN-1") {
		t.Fatal("pseudonym does not depend on value and field")
	}
	// Another device (another key) gives another pseudonym for the same value.
	if a1 == NewPseudonymizer(time.Hour, c.Now).Pseudonym("device_id", "SN-1") {
		t.Fatal("pseudonym is not keyed")
	}
	c.Advance(time.Hour)
	if a2 := p.Pseudonym("device_id", "SN-1"); a2 == a1 || a2[:strings.IndexByte(a2, '-')] == a1[:strings.IndexByte(a1, '-')] {
		t.Fatalf("key did not rotate: %s, %s", a1, a2)
	}
	if strings.Contains(p.String(), "key") && !strings.Contains(p.String(), "period") {
		t.Fatal("String shows more than the period")
	}
}

// TestWithdrawnPurposeStopsNextRecord drives the exporter with the real
// consent ledger: after the owner withdraws analytics, the next record
// sends nothing for it, while the contract purpose goes on.
func TestWithdrawnPurposeStopsNextRecord(t *testing.T) {
	ctx := context.Background()
	n := exampleNotice(t)
	l := openLedger(t, ledgerConfig(t, durable.NewCrashFS(), n, newClock()))
	tr := &capture{}
	e := newExporter(t, l, tr)

	e.Export(ctx, "alice", sampleRecord)
	b := bodies(t, tr.take())
	if _, ok := b["metrics-co"]; ok || b["acme-cloud"]["device_id"] != nil {
		t.Fatalf("analytics sent without consent: %v", b)
	}
	if b["acme-cloud"]["power_w"] == nil {
		t.Fatal("contract purpose not sent")
	}

	decide(t, l, Given, "alice", "analytics", n)
	e.Export(ctx, "alice", sampleRecord)
	b = bodies(t, tr.take())
	if b["metrics-co"]["energy_kwh_day"] == nil || b["acme-cloud"]["device_id"] == nil {
		t.Fatalf("analytics not sent with consent: %v", b)
	}
	// Bob's consent is his own.
	e.Export(ctx, "bob", sampleRecord)
	if b := bodies(t, tr.take()); b["metrics-co"] != nil {
		t.Fatal("alice's consent used for bob")
	}

	decide(t, l, Withdrawn, "alice", "analytics", n)
	before := e.Stats().Withheld
	e.Export(ctx, "alice", sampleRecord)
	msgs := tr.take()
	b = bodies(t, msgs)
	if _, ok := b["metrics-co"]; ok || b["acme-cloud"]["device_id"] != nil {
		t.Fatalf("analytics sent on the record after withdrawal: %v", b)
	}
	for _, m := range msgs {
		for _, p := range m.Purposes {
			if p == "analytics" {
				t.Fatal("a message after withdrawal names analytics")
			}
		}
	}
	if b["acme-cloud"]["power_w"] == nil {
		t.Fatal("withdrawal stopped a purpose that does not rest on consent")
	}
	if e.Stats().Withheld-before != 2 {
		t.Fatalf("withheld %d fields", e.Stats().Withheld-before)
	}
}

func TestExporterSentLogAndErrors(t *testing.T) {
	tr := &capture{}
	e, err := NewExporter(ExporterConfig{Notice: exampleNotice(t), Schema: exampleSchema(t), Consent: allowAll(false), Transport: tr, SentLogSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.Export(context.Background(), "alice", Record{"power_w": i * 100})
	}
	sent := e.Sent()
	if len(sent) != 3 || string(sent[0].Body) != `{"power_w":200}` || string(sent[2].Body) != `{"power_w":400}` {
		t.Fatalf("sent log %+v", sent)
	}
	tr.err = errors.New("link down")
	if err := e.Export(context.Background(), "alice", Record{"power_w": 1}); err == nil {
		t.Fatal("transport error not returned")
	}
	if st := e.Stats(); st.SendErrors != 1 || len(e.Sent()) != 3 || string(e.Sent()[2].Body) != `{"power_w":400}` {
		t.Fatalf("a failed send was logged as sent: %+v", st)
	}
}

func TestSchemaRefusedWithField(t *testing.T) {
	inv := exampleInventory(t)
	cases := []struct {
		name, field string
		mutate      func(*Schema)
	}{
		{"unknown purpose", "fields[0].purpose", func(s *Schema) { s.Fields[0].Purpose = "ads" }},
		{"category not of purpose", "fields[0].category", func(s *Schema) { s.Fields[0].Category = "presence" }},
		{"recipient not of purpose", "fields[0].recipient", func(s *Schema) { s.Fields[0].Recipient = "metrics-co" }},
		{"repeated name", "fields[1].name", func(s *Schema) { s.Fields[1].Name = "power_w" }},
		{"unknown rule", "fields[1].rule.kind", func(s *Schema) { s.Fields[1].Rule.Kind = "hash" }},
		{"zero step", "fields[0].rule.step", func(s *Schema) { s.Fields[0].Rule.Step = 0 }},
		{"descending bounds", "fields[2].rule.bounds", func(s *Schema) { s.Fields[2].Rule.Bounds = []float64{5, 1} }},
		{"no recipient", "fields[1].recipient", func(s *Schema) { s.Fields[1].Recipient = "" }},
		{"rule cannot take the type", "fields[2].type", func(s *Schema) { s.Fields[2].Type = TypeString }},
		{"unknown type", "fields[1].type", func(s *Schema) { s.Fields[1].Type = "blob" }},
		{"bad name", "fields[1].name", func(s *Schema) { s.Fields[1].Name = "FW Version" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := exampleSchema(t)
			c.mutate(s)
			err := s.Validate(inv)
			var se *SchemaError
			if !errors.As(err, &se) || !errors.Is(err, ErrSchema) || se.Field != c.field {
				t.Fatalf("got %v, want a SchemaError for %s", err, c.field)
			}
			if _, err := NewExporter(ExporterConfig{Notice: exampleNotice(t), Schema: s, Consent: allowAll(true), Transport: &capture{}}); err == nil {
				t.Fatal("exporter built from an invalid schema")
			}
		})
	}
	if _, err := NewExporter(ExporterConfig{Notice: exampleNotice(t), Schema: exampleSchema(t), Transport: &capture{}}); err == nil {
		t.Fatal("exporter built without a consent checker for consent purposes")
	}
	good, _ := os.ReadFile("testdata/telemetry.json")
	for doc, field := range map[string]string{
		strings.Replace(string(good), `"rule": {"kind": "keep"}`, `"rule": {"kind": "keep", "salt": "x"}`, 1): "fields[1].rule.salt",
		strings.Replace(string(good), `"step": 10}`, `"step": 10, "step": 1}`, 1):                             "fields[0].rule.step",
		string(good) + "x": "",
	} {
		_, err := DecodeSchema(strings.NewReader(doc))
		var se *SchemaError
		if !errors.As(err, &se) || se.Field != field {
			t.Errorf("got %v, want a SchemaError for %q", err, field)
		}
	}
}

func TestManifestGeneratedFromSchema(t *testing.T) {
	n := exampleNotice(t)
	m, err := NewManifest(n, exampleSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	var txt bytes.Buffer
	m.WriteText(&txt)
	for _, want := range []string{
		"power_w: Power drawn by the appliance, in watts.\n  Why: Show you a weekly report of your energy use in the app. Based on: the contract with you",
		"Sent to: Acme Cloud (controller); rounded down to a multiple of 10",
		"energy_kwh_day: Energy used today, in kWh.\n  Why: Help us improve our products with coarse usage statistics. Only with your consent.",
		"Sent to: Metrics Co (third_party); sent only as a range between 1, 5, 10.",
		"device_id: The plug's serial number.",
		"replaced by a keyed pseudonym",
		"motion_count: Movements seen in the last hour.",
		"Personal data: Presence at home (sensitive).\n  Never sent; stays on the device.",
		"fw_version: Firmware version of the plug.\n  Why: Show you a weekly report of your energy use in the app. Based on: the contract with you (the device cannot provide its service without it).\n  Not personal data.",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("manifest text lacks %q:\n%s", want, txt.String())
		}
	}
	var js bytes.Buffer
	m.WriteJSON(&js)
	// The manifest changes when the schema does.
	s := exampleSchema(t)
	s.Fields[0].Rule.Step = 100
	m2, _ := NewManifest(n, s)
	var js2 bytes.Buffer
	m2.WriteJSON(&js2)
	if js.String() == js2.String() || m2.SchemaSHA256 == m.SchemaSHA256 {
		t.Fatal("manifest did not change with the schema")
	}
	e := newExporter(t, allowAll(true), &capture{})
	if e.Manifest().SchemaSHA256 != m.SchemaSHA256 {
		t.Fatal("exporter's manifest is not the schema's")
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "tab\tnl\nctl\x01\x1f", "ünï €", "bad\xffutf8", "\u2028\u2029", "<&>"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q -> %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}
