package auth

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// The record as `baseline provision` wrote it before the format moved into
// this package: it must keep decoding, and re-encode byte for byte.
const recordV1 = "testdata/provisioning-record-v1.json"

func validRecord(t testing.TB) (*ProvisioningRecord, SetupSecret) {
	t.Helper()
	s, err := NewSetupSecret()
	if err != nil {
		t.Fatal(err)
	}
	return &ProvisioningRecord{
		Schema: ProvisioningSchema, Serial: "SP1-000001", Model: "Plug One",
		DeviceID: "00112233445566778899aabbccddeeff", SetupVerifier: s.verifier(testParams),
		Batch: "2026-W48", Created: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	}, s
}

func encode(t testing.TB, r *ProvisioningRecord) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return b.Bytes()
}

func TestProvisioningRecordV1Compatible(t *testing.T) {
	raw, err := os.ReadFile(recordV1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeProvisioningRecord(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("a record written by baseline provision v1 is refused: %v", err)
	}
	if r.Serial != "SP100-000001" || r.Model != "SP-100 Smart Plug" || r.DeviceID != "f28295d156cd2c0ec515e31d30eb86af" ||
		r.Batch != "2026-W48" || r.Created.IsZero() {
		t.Fatalf("decoded %+v", r)
	}
	if _, err := parseHash(r.SetupVerifier); err != nil {
		t.Fatal(err)
	}
	if got := encode(t, r); !bytes.Equal(got, raw) {
		t.Fatalf("re-encoded record differs from v1:\n%s\nwant\n%s", got, raw)
	}
}

func TestProvisioningRecordRoundTrip(t *testing.T) {
	r, secret := validRecord(t)
	got, err := DecodeProvisioningRecord(bytes.NewReader(encode(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	if !secret.Matches(got.SetupVerifier) {
		t.Fatal("the decoded verifier does not verify the label's secret")
	}
	if got.Serial != r.Serial || got.Model != r.Model || got.DeviceID != r.DeviceID || got.Batch != r.Batch || !got.Created.Equal(r.Created) {
		t.Fatalf("round trip: %+v -> %+v", r, got)
	}
	if bytes.Contains(encode(t, r), []byte(secret.Reveal())) {
		t.Fatal("the record holds the setup secret")
	}
}

// TestDecodeProvisioningRecordRefuses: every way a record can be wrong or
// ambiguous is refused with ErrProvisioningRecord, and the error never
// quotes the verifier.
func TestDecodeProvisioningRecordRefuses(t *testing.T) {
	r, _ := validRecord(t)
	good := string(bytes.TrimSpace(encode(t, r)))
	body := strings.TrimSuffix(good, "}") // ends after the last field's value
	with := func(field, value string) string {
		m := *r
		switch field {
		case "schema":
			m.Schema = value
		case "serial":
			m.Serial = value
		case "model":
			m.Model = value
		case "device_id":
			m.DeviceID = value
		case "setup_verifier":
			m.SetupVerifier = value
		case "batch":
			m.Batch = value
		}
		// Encoded by hand: WriteJSON would refuse it.
		return `{"schema":` + quote(m.Schema) + `,"serial":` + quote(m.Serial) + `,"model":` + quote(m.Model) +
			`,"device_id":` + quote(m.DeviceID) + `,"setup_verifier":` + quote(m.SetupVerifier) + `,"batch":` + quote(m.Batch) + `}`
	}
	for name, in := range map[string]string{
		"empty":             "",
		"array":             "[" + good + "]",
		"trailing brace":    good + "}",
		"trailing bracket":  good + "]",
		"second document":   good + "\n" + good,
		"second value":      good + " 1",
		"trailing garbage":  good + "x",
		"duplicate serial":  body + `,"serial":"SP1-000002"}`,
		"case variant":      body + `,"Serial":"SP1-000002"}`,
		"unknown field":     body + `,"setup_secret":"ABCD"}`,
		"nested":            strings.Replace(good, `"batch": "2026-W48"`, `"batch": {"a": 1}`, 1),
		"number":            strings.Replace(good, `"batch": "2026-W48"`, `"batch": 1`, 1),
		"null":              strings.Replace(good, `"batch": "2026-W48"`, `"batch": null`, 1),
		"bad time":          strings.Replace(good, `"2026-11-26T12:00:00Z"`, `"yesterday"`, 1),
		"too large":         good + strings.Repeat(" ", MaxProvisioningRecordSize),
		"not UTF-8":         strings.Replace(good, "Plug One", "Plug \xff", 1),
		"unterminated":      body,
		"other schema":      with("schema", "baseline.provision/v2"),
		"path in serial":    with("serial", "../etc"),
		"empty serial":      with("serial", ""),
		"long serial":       with("serial", strings.Repeat("A", 65)),
		"control in model":  with("model", "Plug\x00One"),
		"short device ID":   with("device_id", "0011"),
		"upper device ID":   with("device_id", "00112233445566778899AABBCCDDEEFF"),
		"bad verifier":      with("setup_verifier", "$argon2id$v=19$m=19456,t=2,p=1$x$y"),
		"control in batch":  with("batch", "b\x1b[31m"),
		"long batch":        with("batch", strings.Repeat("b", 65)),
		"scalar":            `"baseline.provision/v1"`,
		"trailing brace ws": good + " \n}",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeProvisioningRecord(strings.NewReader(in))
			if err == nil || got != nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !errors.Is(err, ErrProvisioningRecord) {
				t.Errorf("error %v does not wrap ErrProvisioningRecord", err)
			}
			if strings.Contains(err.Error(), r.SetupVerifier) || strings.Contains(err.Error(), "$argon2id") {
				t.Errorf("error quotes the verifier: %v", err)
			}
		})
	}
	// White space around the object is not data.
	if _, err := DecodeProvisioningRecord(strings.NewReader("\n " + good + " \n\n")); err != nil {
		t.Fatalf("white space refused: %v", err)
	}
}

func quote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestWriteJSONRefusesInvalidRecord(t *testing.T) {
	r, _ := validRecord(t)
	r.Serial = "a/b"
	var b bytes.Buffer
	if err := r.WriteJSON(&b); !errors.Is(err, ErrProvisioningRecord) || b.Len() != 0 {
		t.Fatalf("WriteJSON of an invalid record: %v, %d bytes written", err, b.Len())
	}
}

func FuzzDecodeProvisioningRecord(f *testing.F) {
	r, _ := validRecord(f)
	good := encode(f, r)
	trimmed := bytes.TrimSpace(good)
	f.Add(good)
	f.Add(append(append([]byte{}, trimmed...), '}'))
	f.Add(append(append([]byte{}, trimmed...), ']'))
	f.Add(append(append(append([]byte{}, good...), '\n'), good...))
	f.Add(append(append([]byte{}, trimmed...), ` {}`...))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	if raw, err := os.ReadFile(recordV1); err == nil {
		f.Add(raw)
	}
	f.Add([]byte(`{"schema":"baseline.provision/v1","serial":"../x"}`))
	f.Add([]byte(`{"schema":"baseline.provision/v1","schema":"baseline.provision/v1"}`))
	f.Add([]byte(`{"unknown":1}`))
	f.Add([]byte(strings.Repeat(" ", MaxProvisioningRecordSize+1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := DecodeProvisioningRecord(bytes.NewReader(in))
		if err != nil {
			if got != nil || !errors.Is(err, ErrProvisioningRecord) {
				t.Fatalf("error %v with record %v", err, got)
			}
			return
		}
		if len(in) > MaxProvisioningRecordSize {
			t.Fatalf("accepted %d bytes", len(in))
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted a record that does not validate: %v", err)
		}
		if strings.ContainsAny(got.Serial, `/\`) || got.Schema != ProvisioningSchema {
			t.Fatalf("accepted record with bad fields: %+v", got)
		}
		// What was accepted re-encodes to a record that decodes the same.
		enc := encode(t, got)
		again, err := DecodeProvisioningRecord(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("re-encoded record refused: %v\n%s", err, enc)
		}
		if !bytes.Equal(encode(t, again), enc) || !again.Created.Equal(got.Created) {
			t.Fatalf("round trip changed the record:\n%s", enc)
		}
	})
}
