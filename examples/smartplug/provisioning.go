package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/durable"
)

// provisionSchema is the schema of a device record written by
// `baseline provision`.
const provisionSchema = "baseline.provision/v1"

// maxRecordSize bounds a device record file.
const maxRecordSize = 4 << 10

// provisionRecord is the factory's record for one device: its serial, a
// random device ID and the verifier of the setup secret printed on its
// label — never the secret.
type provisionRecord struct {
	Schema        string    `json:"schema"`
	Serial        string    `json:"serial"`
	Model         string    `json:"model"`
	DeviceID      string    `json:"device_id"`
	SetupVerifier string    `json:"setup_verifier"`
	Batch         string    `json:"batch"`
	Created       time.Time `json:"created"`
}

var (
	serialRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	modelRE  = regexp.MustCompile(`^[\pL\pN][\pL\pN ._/+-]{0,63}$`)
)

func readProvisionRecord(name string) (*provisionRecord, error) {
	b, err := durable.ReadFile(durable.OS, name, maxRecordSize)
	if err != nil {
		return nil, fmt.Errorf("device record: %w", err)
	}
	return parseProvisionRecord(b)
}

// parseProvisionRecord decodes a record strictly: known fields only, one
// JSON value, the right schema, a serial and model of the allowed syntax,
// a 128-bit device ID and a well-formed Argon2id verifier.
func parseProvisionRecord(b []byte) (*provisionRecord, error) {
	if len(b) > maxRecordSize {
		return nil, errors.New("device record: larger than 4 KiB")
	}
	var r provisionRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("device record: malformed: %w", err)
	}
	if dec.More() {
		return nil, errors.New("device record: trailing data")
	}
	if r.Schema != provisionSchema {
		return nil, fmt.Errorf("device record: schema %q, want %q", r.Schema, provisionSchema)
	}
	if !serialRE.MatchString(r.Serial) || !modelRE.MatchString(r.Model) {
		return nil, errors.New("device record: invalid serial or model")
	}
	if id, err := hex.DecodeString(r.DeviceID); err != nil || len(id) != 16 {
		return nil, errors.New("device record: invalid device ID")
	}
	if _, err := auth.ParseHash(r.SetupVerifier); err != nil {
		return nil, fmt.Errorf("device record: %w", err)
	}
	return &r, nil
}

// newSetupSecret acts as the factory for a device run without a record:
// it draws a setup secret and returns the label text and its verifier. The
// secret itself is never stored.
func newSetupSecret() (label, verifier string, err error) {
	s, err := auth.NewSetupSecret()
	if err != nil {
		return "", "", err
	}
	v, err := s.Verifier(auth.Params{})
	if err != nil {
		return "", "", err
	}
	return s.Reveal(), v, nil
}
