package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProvisioningSchema identifies a [ProvisioningRecord]; a record of any
// other schema is refused.
const ProvisioningSchema = "baseline.provision/v1"

// MaxProvisioningRecordSize bounds the encoded size of a
// [ProvisioningRecord] (4 KiB). A real record is about 350 bytes.
const MaxProvisioningRecordSize = 4 << 10

// ErrProvisioningRecord is wrapped by every error
// [DecodeProvisioningRecord] and [ProvisioningRecord.Validate] return.
var ErrProvisioningRecord = errors.New("auth: bad provisioning record")

// ValidSerial reports whether s is acceptable as a [ProvisioningRecord]'s
// serial: 1 to 64 ASCII letters, digits and . _ -, starting with a letter
// or digit. Factory tooling can check a serial scheme with it before a
// batch is made.
func ValidSerial(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// ValidModel reports whether s is acceptable as a [ProvisioningRecord]'s
// model: 1 to 64 characters, each a Unicode letter or number, a space or one
// of . _ / + -, the first a letter or number; valid UTF-8.
//
// (A regular expression with the same rule, [\pL\pN][\pL\pN ._/+-]{0,63},
// compiles into 1.4 MB of tables that would stay in the memory of every
// device linking this package.)
func ValidModel(s string) bool {
	n := 0
	for i, r := range s {
		n++
		if n > 64 {
			return false
		}
		if unicode.IsLetter(r) || unicode.IsNumber(r) { // U+FFFD, invalid UTF-8, is neither
			continue
		}
		if i == 0 || !strings.ContainsRune(" ._/+-", r) {
			return false
		}
	}
	return n > 0
}

const maxBatchLen = 64

// ProvisioningRecord is what the factory gives one device (provision
// 5.1-2): its serial, model, a random device ID and the verifier of the
// setup secret printed on its label — never the secret itself, so a leaked
// record lets nobody set the device up. The `baseline provision` command
// writes one per device with [ProvisioningRecord.WriteJSON]; the device
// reads its own with [DecodeProvisioningRecord], checks that the model is
// its own, and hands SetupVerifier to [Service.Provision].
//
// The JSON encoding (schema "baseline.provision/v1") is:
//
//	{
//	  "schema": "baseline.provision/v1",
//	  "serial": "SP100-000001",
//	  "model": "SP-100 Smart Plug",
//	  "device_id": "<32 lowercase hex digits>",
//	  "setup_verifier": "$argon2id$v=19$m=19456,t=2,p=1$…$…",
//	  "batch": "20261126T120000Z",
//	  "created": "2026-11-26T12:00:00Z"
//	}
type ProvisioningRecord struct {
	// Schema is ProvisioningSchema.
	Schema string `json:"schema"`
	// Serial is the serial number on the label: 1-64 letters, digits and
	// ._-, starting with a letter or digit (it names files, so it never
	// contains a path separator).
	Serial string `json:"serial"`
	// Model is the model designation (5.3-16): 1-64 letters, digits,
	// spaces and ._/+-, starting with a letter or digit.
	Model string `json:"model"`
	// DeviceID is 128 random bits in lowercase hex, unique per device.
	DeviceID string `json:"device_id"`
	// SetupVerifier is the Argon2id PHC string of the setup secret, from
	// [SetupSecret.Verifier]. It is checked for form here ([parseHash]);
	// [Service.Provision] also checks its cost against the device's floor.
	SetupVerifier string `json:"setup_verifier"`
	// Batch names the factory batch, for the maker's records: at most 64
	// bytes, no control characters. May be empty.
	Batch string `json:"batch"`
	// Created is when the record was made. Informational.
	Created time.Time `json:"created"`
}

// provisioningFields are the JSON names of the record's fields, exactly as
// written: a decoder that matched them case-insensitively, as encoding/json
// does, would let "Serial" and "serial" both set the serial.
var provisioningFields = map[string]bool{
	"schema": true, "serial": true, "model": true, "device_id": true,
	"setup_verifier": true, "batch": true, "created": true,
}

// DecodeProvisioningRecord reads one record and validates it
// ([ProvisioningRecord.Validate]). It is strict: at most
// [MaxProvisioningRecordSize] bytes of UTF-8, one JSON object whose keys
// are the record's field names exactly as documented, each at most once
// and each holding a string, and nothing after the object — not even a
// stray '}' or ']'. Errors wrap [ErrProvisioningRecord] and quote nothing
// of the input but a field name.
func DecodeProvisioningRecord(r io.Reader) (*ProvisioningRecord, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxProvisioningRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrProvisioningRecord, err)
	}
	if len(data) > MaxProvisioningRecordSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrProvisioningRecord, MaxProvisioningRecordSize)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrProvisioningRecord)
	}
	if err := checkRecordShape(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProvisioningRecord, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rec ProvisioningRecord
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrProvisioningRecord, oneLine(err.Error(), 120))
	}
	// Anything after the object, even a lone '}' or ']' (for which
	// dec.More reports false), is refused.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the record", ErrProvisioningRecord)
	}
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	return &rec, nil
}

// checkRecordShape walks the tokens of data: one flat object, known keys
// spelled exactly, no key twice, string values only, then the end.
func checkRecordShape(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		key, _ := tok.(string)
		if !provisioningFields[key] {
			return fmt.Errorf("unknown field %q", oneLine(key, 32))
		}
		if seen[key] {
			return fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		tok, err = dec.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		if _, ok := tok.(string); !ok {
			return fmt.Errorf("field %q: not a string", key)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return errors.New("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the record")
	}
	return nil
}

// Validate checks every field of r as documented on [ProvisioningRecord].
// The error wraps [ErrProvisioningRecord] and names the first bad field,
// never its value (the verifier is confidential).
func (r *ProvisioningRecord) Validate() error {
	bad := func(field, rule string) error {
		return fmt.Errorf("%w: %s: %s", ErrProvisioningRecord, field, rule)
	}
	switch {
	case r.Schema != ProvisioningSchema:
		return fmt.Errorf("%w: schema %q, want %q", ErrProvisioningRecord, oneLine(r.Schema, 40), ProvisioningSchema)
	case !ValidSerial(r.Serial):
		return bad("serial", "must be 1-64 letters, digits and ._-, starting with a letter or digit")
	case !ValidModel(r.Model):
		return bad("model", "must be 1-64 letters, digits, spaces and ._/+-, starting with a letter or digit")
	case !isLowerHex(r.DeviceID, 32):
		return bad("device_id", "must be 32 lowercase hex digits (128 bits)")
	case len(r.Batch) > maxBatchLen || strings.ContainsFunc(r.Batch, unicode.IsControl):
		return bad("batch", "at most 64 bytes, no control characters")
	}
	if _, err := parseHash(r.SetupVerifier); err != nil {
		return fmt.Errorf("%w: setup_verifier: %w", ErrProvisioningRecord, err)
	}
	return nil
}

// WriteJSON validates r and writes it as indented JSON ending in a newline,
// the form [DecodeProvisioningRecord] reads. Nothing is written if r is
// invalid.
func (r *ProvisioningRecord) WriteJSON(w io.Writer) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("auth: encoding provisioning record: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// oneLine shortens s to at most n bytes of printable text, for quoting a
// bit of untrusted input in an error.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
