package mqtt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
)

// Statuses of a CommandResult.
const (
	// ResultDone: the command passed every check and its Run returned nil.
	ResultDone = "done"
	// ResultFailed: the command passed every check and its Run returned
	// an error (whose text stays on the device).
	ResultFailed = "failed"
	// ResultRefused: the command was refused; Reason says why.
	ResultRefused = "refused"
)

// MaxResultBytes bounds a result on the wire; ParseCommandResult refuses
// anything longer.
const MaxResultBytes = 512

// CommandResult is what the device publishes to its result topic
// (Topics.Results) for every command it receives, so that the service
// learns what became of it: run, failed, or refused and why. It carries
// no arguments and no error text.
type CommandResult struct {
	// ID identifies the command as the service sent it: CommandID of its
	// wire bytes, which the service computes from what it published.
	ID string `json:"id"`
	// Name and Seq are the command's, when it could be decoded.
	Name string `json:"name,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`
	// Status is ResultDone, ResultFailed or ResultRefused.
	Status string `json:"status"`
	// Reason is why a command was refused.
	Reason Reason `json:"reason,omitempty"`
}

// CommandID returns the identifier of a command's wire form: the first
// 16 bytes of its SHA-256, in hex. The device and the service compute it
// from the same bytes, so a result names its command even when the
// command could not be decoded.
func CommandID(wire []byte) string {
	sum := sha256.Sum256(wire)
	return hex.EncodeToString(sum[:16])
}

// ParseCommandResult decodes a result the device published (the service's
// side). It refuses one longer than MaxResultBytes, with unknown fields or
// with an unknown status.
func ParseCommandResult(p []byte) (CommandResult, error) {
	var r CommandResult
	if len(p) > MaxResultBytes {
		return r, errors.New("mqtt: command result too long")
	}
	if err := decodeStrict(p, &r); err != nil {
		return CommandResult{}, errors.New("mqtt: malformed command result")
	}
	switch r.Status {
	case ResultDone, ResultFailed:
	case ResultRefused:
		if r.Reason == "" {
			return CommandResult{}, errors.New("mqtt: refused command result without a reason")
		}
	default:
		return CommandResult{}, errors.New("mqtt: unknown command result status")
	}
	if len(r.ID) != 32 {
		return CommandResult{}, errors.New("mqtt: command result without a valid ID")
	}
	if _, err := hex.DecodeString(r.ID); err != nil {
		return CommandResult{}, errors.New("mqtt: command result without a valid ID")
	}
	return r, nil
}

func (r CommandResult) encode() []byte {
	b, _ := json.Marshal(r)
	return b
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and
// trailing data.
func decodeStrict(p []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}
