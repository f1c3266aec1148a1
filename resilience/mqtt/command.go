package mqtt

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Limits of commands.
const (
	// DefaultMaxCommandBytes bounds a command's wire size when
	// Config.MaxCommandBytes is zero.
	DefaultMaxCommandBytes = 4 << 10
	// MaxCommandBytes is the largest Config.MaxCommandBytes accepted.
	MaxCommandBytes = 64 << 10
	// DefaultCommandLifetime is the longest a signed command may be valid
	// for (its expiry minus the device's clock) when
	// Config.MaxCommandLifetime is zero: a signed command that leaks is
	// worthless after it.
	DefaultCommandLifetime = 10 * time.Minute
	// MaxCommandName bounds a command's name.
	MaxCommandName = 64
)

// commandContext prefixes the signed bytes so that a signature made for
// a command cannot be taken for anything else the same key signs.
const commandContext = "baseline/resilience/mqtt command v1\x00"

// clockFloor is the earliest wall-clock time the device accepts as set:
// before it, expiry cannot be judged and signed commands are refused.
var clockFloor = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Command is a command from the service that passed every check and is
// handed to its CommandSpec.Run.
type Command struct {
	// Name selects the CommandSpec.
	Name string
	// Args is the command's JSON arguments as sent (nil when absent). It
	// is covered by the signature of a signed command; decode it with
	// bounds of your own.
	Args []byte
	// Signed reports that the command carried a valid authorisation from
	// the pinned key; Seq and Expires are then set.
	Signed bool
	// Seq is the authorisation's sequence number (replay protection).
	Seq uint64
	// Expires is when the authorisation ends (zero if the command carried
	// no expiry).
	Expires time.Time
}

// CommandSpec declares one command the device takes from the service.
type CommandSpec struct {
	// Run carries the command out. It runs on the link's command worker,
	// one command at a time, with the connection's context; the next
	// command waits for it.
	Run func(ctx context.Context, c Command) error
	// AllowUnsigned lets the command run without an authorisation. Set it
	// only for commands that change no security-relevant setting ("blink",
	// "report-now"); the default — false — requires a signature by
	// Config.CommandKey, an expiry and a fresh sequence number, so that a
	// compromised or misconfigured broker cannot reconfigure the device
	// (5.5-5).
	AllowUnsigned bool
}

// Reason says why a command was refused.
type Reason string

// Reasons a command is refused. Each is counted in Stats.Refused.
const (
	RefusedOversize     Reason = "oversize"      // longer than Config.MaxCommandBytes
	RefusedMalformed    Reason = "malformed"     // not a well-formed command
	RefusedUnknown      Reason = "unknown"       // no CommandSpec of that name
	RefusedUnsigned     Reason = "unsigned"      // no authorisation where one is required
	RefusedBadSignature Reason = "bad-signature" // authorisation not by the pinned key, or altered
	RefusedWrongDevice  Reason = "wrong-device"  // addressed to another device
	RefusedExpired      Reason = "expired"       // expiry passed
	RefusedTooLong      Reason = "too-long"      // expiry beyond the allowed lifetime
	RefusedClock        Reason = "clock-unset"   // the device's clock is not set, expiry cannot be judged
	RefusedReplayed     Reason = "replayed"      // sequence number not above the last accepted one
	RefusedStorage      Reason = "storage"       // the replay state could not be written
	RefusedBusy         Reason = "busy"          // the command queue was full or the connection ended first
)

// reasons lists every Reason, for reports in a stable order.
var reasons = []Reason{RefusedOversize, RefusedMalformed, RefusedUnknown, RefusedUnsigned, RefusedBadSignature,
	RefusedWrongDevice, RefusedExpired, RefusedTooLong, RefusedClock, RefusedReplayed, RefusedStorage, RefusedBusy}

// ErrRefused matches (errors.Is) every *RefusedError.
var ErrRefused = errors.New("mqtt: command refused")

// RefusedError is why a command was refused. It never contains the
// command's arguments or signature.
type RefusedError struct {
	Reason Reason
	// Name is the command's name once it was decoded, else "".
	Name string
}

// Error describes the refusal.
func (e *RefusedError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("mqtt: command %q refused: %s", e.Name, e.Reason)
	}
	return "mqtt: command refused: " + string(e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refuse(r Reason, name string) error { return &RefusedError{Reason: r, Name: name} }

// CommandRequest is a command as the service builds it, for EncodeCommand.
type CommandRequest struct {
	// Device is the device ID the command is for; the device refuses a
	// command for another, so a signed command cannot be replayed to a
	// different device.
	Device string
	// Name is the command (1 to 64 of a–z, 0–9, '.', '_', '-').
	Name string
	// Seq must be greater than every Seq the device accepted before
	// (required when signing). A service keeps one counter per device.
	Seq uint64
	// Expires ends the authorisation (required when signing); the device
	// also refuses one further ahead than its MaxCommandLifetime.
	Expires time.Time
	// Args is an optional JSON value passed to the command.
	Args json.RawMessage
}

// wireBody is the signed JSON, in this field order.
type wireBody struct {
	Device string          `json:"device"`
	Name   string          `json:"name"`
	Seq    uint64          `json:"seq,omitempty"`
	Exp    int64           `json:"exp,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
}

var b64 = base64.RawURLEncoding.Strict()

// EncodeCommand returns the wire form of a command for the device's
// command topic, signed by key when key is not nil. key must be an ECDSA
// P-256 key (a *ecdsa.PrivateKey, or a crypto.Signer held by an HSM or KMS)
// whose public half the device pins as Config.CommandKey. A signed command
// needs Seq and Expires.
//
// The wire form is base64url(body) for an unsigned command and
// base64url(body) "." base64url(signature) for a signed one (unpadded),
// where body is the JSON object
//
//	{"device":"…","name":"…","seq":N,"exp":UNIX-SECONDS,"args":…}
//
// and the signature is ECDSA P-256 (ASN.1 DER) over SHA-256 of the context
// string "baseline/resilience/mqtt command v1" followed by a zero byte and
// body. Services in other languages produce the same bytes.
func EncodeCommand(rand io.Reader, key crypto.Signer, r CommandRequest) ([]byte, error) {
	if !validLevel(r.Device, MaxDeviceID) || !validName(r.Name) {
		return nil, errors.New("mqtt: command needs a valid device ID and name")
	}
	if len(r.Args) > 0 && !json.Valid(r.Args) {
		return nil, errors.New("mqtt: command arguments are not valid JSON")
	}
	w := wireBody{Device: r.Device, Name: r.Name, Seq: r.Seq, Args: r.Args}
	if !r.Expires.IsZero() {
		w.Exp = r.Expires.Unix()
		if w.Exp <= 0 {
			return nil, errors.New("mqtt: command expiry before 1970")
		}
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	out := []byte(b64.EncodeToString(body))
	if key == nil {
		return out, nil
	}
	if r.Seq == 0 || w.Exp == 0 {
		return nil, errors.New("mqtt: a signed command needs Seq and Expires")
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("mqtt: command key must be ECDSA P-256")
	}
	sig, err := key.Sign(rand, commandDigest(body), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("mqtt: signing command: %w", err)
	}
	out = append(out, '.')
	return append(out, b64.EncodeToString(sig)...), nil
}

func commandDigest(body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(commandContext))
	h.Write(body)
	return h.Sum(nil)
}

func validName(s string) bool {
	if s == "" || len(s) > MaxCommandName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// wireCommand is a decoded, not yet authorised command.
type wireCommand struct {
	body   []byte // the signed bytes
	sig    []byte // nil when unsigned
	device string
	name   string
	seq    uint64
	exp    int64
	args   []byte
}

// maxSig bounds an ECDSA P-256 ASN.1 signature (72 bytes) with margin.
const maxSig = 80

// DecodeCommand decodes a command's wire form (see EncodeCommand) without
// authorising it, refusing with a *RefusedError (RefusedOversize or
// RefusedMalformed) anything longer than max bytes, any base64 that is
// padded, non-canonical or of the wrong alphabet, a signature longer than
// 80 bytes, and a body that is not exactly one JSON object with the known
// fields: no unknown or repeated field, no trailing data, a device ID and
// name of the allowed characters, seq and exp as plain non-negative
// integers. It is what the device runs on every message of its command
// topic before anything else; the service side may use it to check what
// it sends.
func DecodeCommand(b []byte, max int) (name string, err error) {
	c, err := decodeCommand(b, max)
	if err != nil {
		return "", err
	}
	return c.name, nil
}

func decodeCommand(b []byte, max int) (*wireCommand, error) {
	if max <= 0 || max > MaxCommandBytes {
		max = DefaultMaxCommandBytes
	}
	if len(b) > max {
		return nil, refuse(RefusedOversize, "")
	}
	bad := refuse(RefusedMalformed, "")
	bodyB64, sigB64, signed := bytes.Cut(b, []byte{'.'})
	if len(bodyB64) == 0 || (signed && len(sigB64) == 0) {
		return nil, bad
	}
	c := &wireCommand{}
	var err error
	if c.body, err = b64.DecodeString(string(bodyB64)); err != nil {
		return nil, bad
	}
	if signed {
		if len(sigB64) > b64.EncodedLen(maxSig) {
			return nil, bad
		}
		if c.sig, err = b64.DecodeString(string(sigB64)); err != nil {
			return nil, bad
		}
	}
	if err := c.decodeBody(); err != nil {
		return nil, bad
	}
	return c, nil
}

// decodeBody walks the JSON object token by token so that a repeated
// field is refused, not silently overwritten as encoding/json would.
func (c *wireCommand) decodeBody() error {
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return ErrEnvelope
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok || seen[key] {
			return ErrEnvelope
		}
		seen[key] = true
		switch key {
		case "device", "name":
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			s, ok := tok.(string)
			if !ok {
				return ErrEnvelope
			}
			if key == "device" {
				if !validLevel(s, MaxDeviceID) {
					return ErrEnvelope
				}
				c.device = s
			} else {
				if !validName(s) {
					return ErrEnvelope
				}
				c.name = s
			}
		case "seq", "exp":
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			n, ok := tok.(json.Number)
			if !ok {
				return ErrEnvelope
			}
			// ParseUint refuses signs, fractions and exponents.
			v, err := strconv.ParseUint(string(n), 10, 63)
			if err != nil {
				return ErrEnvelope
			}
			if key == "seq" {
				c.seq = v
			} else {
				c.exp = int64(v)
			}
		case "args":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			c.args = raw
		default:
			return ErrEnvelope
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return ErrEnvelope
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrEnvelope // trailing data
	}
	if c.device == "" || c.name == "" {
		return ErrEnvelope
	}
	return nil
}
