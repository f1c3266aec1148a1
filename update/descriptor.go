package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/update/internal/wire"
)

// Limits on a descriptor. They bound what a decoder allocates before any
// signature could have been checked on a bundle, and keep a device's chunk
// buffer (one chunk) small.
const (
	// MinChunkSize is the smallest chunk size a descriptor may declare.
	MinChunkSize = 4 << 10
	// MaxChunkSize is the largest chunk size a descriptor may declare; the
	// device holds one chunk in RAM while verifying it.
	MaxChunkSize = 16 << 20
	// MaxChunks bounds the per-chunk hash list (64 GiB at 1 MiB chunks).
	MaxChunks = 1 << 16
	// MaxDescriptorSize bounds the encoded custom object.
	MaxDescriptorSize = 6 << 20
	// MaxReleaseCounter is the largest release counter: 2^53-1, so every
	// JSON implementation (including JavaScript release tooling) reads it
	// exactly.
	MaxReleaseCounter = 1<<53 - 1
	// MaxRisks bounds the number of mitigated risks a release may list.
	MaxRisks = 64
	// maxText bounds each free-text field (hardware ID, version, a risk).
	maxText = 256
)

// ErrDescriptor is the sentinel for every malformed or inconsistent target
// descriptor; [*DescriptorError] carries the detail.
var ErrDescriptor = errors.New("update: invalid target descriptor")

// DescriptorError says which field of a descriptor is wrong. It unwraps to
// [ErrDescriptor].
type DescriptorError struct {
	Field  string
	Reason string
}

func (e *DescriptorError) Error() string {
	if e.Field == "" {
		return "update: invalid target descriptor: " + e.Reason
	}
	return "update: invalid target descriptor: " + e.Field + ": " + e.Reason
}

// Unwrap returns [ErrDescriptor].
func (e *DescriptorError) Unwrap() error { return ErrDescriptor }

func descErr(field, format string, args ...any) error {
	return &DescriptorError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ChunkHash is one entry of [Descriptor.Chunks]: a SHA-256 chaining value
// (the eight 32-bit state words, big-endian) or, for the last chunk, the
// SHA-256 digest of the whole image. As text it is lowercase hex; in an
// encoded descriptor the entries are concatenated into one base64 string.
type ChunkHash [sha256.Size]byte

// String returns the hash in lowercase hex.
func (h ChunkHash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes h as lowercase hex.
func (h ChunkHash) MarshalText() ([]byte, error) {
	return []byte(h.String()), nil
}

// UnmarshalText accepts exactly 64 lowercase hex digits.
func (h *ChunkHash) UnmarshalText(b []byte) error {
	if len(b) != 2*sha256.Size {
		return descErr("chunks", "hash is %d hex digits, want %d", len(b), 2*sha256.Size)
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return descErr("chunks", "hash is not lowercase hex")
		}
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Descriptor is what a release says about a firmware image beyond TUF's
// length and hashes. Release tooling writes it with release.EncodeDescriptor (package
// github.com/iotbaseline/baseline/update/release) into
// the TUF target's "custom" field, where the targets role's threshold
// signature covers it; the device reads it with [DecodeDescriptor].
type Descriptor struct {
	// HardwareID names the hardware the image is built for. The device
	// refuses an image whose HardwareID differs from its own (Uptane's
	// wrong-hardware attack). Required; at most 256 bytes of UTF-8.
	HardwareID string
	// ReleaseCounter orders releases for this hardware. A device refuses a
	// release whose counter is not greater than the installed one, whatever
	// the version string says (rollback and release-counter decrease).
	// Required: 1..MaxReleaseCounter.
	ReleaseCounter uint64
	// Version is the human-readable version shown to users. Required.
	Version string
	// Security marks a release that fixes security vulnerabilities
	// (provision 5.3-11): it is announced as such and may be installed
	// under the stricter security policy.
	Security bool
	// Risks lists, in words a user understands, the risks the release
	// mitigates (5.3-11). At most MaxRisks entries of at most 256 bytes.
	Risks []string
	// Reboot says whether installing the release restarts the device
	// (5.3-12).
	Reboot bool
	// Downtime is the expected time the device's function is unavailable
	// while the release is installed (5.3-12), in whole seconds on the wire.
	Downtime time.Duration
	// SupportUntil is the last day (UTC) on which the manufacturer
	// promises security updates for this hardware (5.3-13). Zero means not
	// stated. It is carried as a date (YYYY-MM-DD).
	SupportUntil time.Time
	// ChunkSize is the size of every chunk but the last, in bytes:
	// MinChunkSize..MaxChunkSize, a multiple of 64 (SHA-256's block).
	ChunkSize int
	// Chunks holds one entry per chunk of the image, in order: for every
	// chunk but the last, the SHA-256 chaining value (internal state) of
	// the whole-image hash after that chunk; for the last chunk, the
	// SHA-256 of the whole image, which must equal the target's TUF sha256.
	// The device verifies chunk i by feeding it into the running
	// whole-image SHA-256 started from entry i-1 and comparing the state
	// with entry i before the chunk is written; so one SHA-256 pass checks
	// every chunk and the whole image. release.HashChunks computes the list.
	Chunks []ChunkHash
	// CoSignature is the optional ML-DSA-65 co-signature (release.CoSign makes it).
	CoSignature *CoSignature
}

// CoSignature is an ML-DSA-65 signature over the target's path, length,
// hashes, release counter and hardware ID (see [VerifyCoSignature]), made by a key
// whose public half is pinned in the device's firmware. It lets a release
// stay trustworthy if the classical keys of TUF's roles fall.
type CoSignature struct {
	// Algorithm is "ml-dsa-65".
	Algorithm string
	// KeyID is the lowercase hex SHA-256 of the packed public key
	// (release.MLDSAKeyID).
	KeyID string
	// Signature is the raw ML-DSA-65 signature (mldsa65.SignatureSize bytes).
	Signature []byte
}

const maxDowntime = 7 * 24 * time.Hour

// Validate checks d's fields against the limits documented on [Descriptor].
// It does not check d against a target (see [Descriptor.CheckLength]).
func (d *Descriptor) Validate() error {
	if err := checkText("hardware_id", d.HardwareID, true); err != nil {
		return err
	}
	if d.ReleaseCounter == 0 || d.ReleaseCounter > MaxReleaseCounter {
		return descErr("release_counter", "must be 1..%d", uint64(MaxReleaseCounter))
	}
	if err := checkText("version", d.Version, true); err != nil {
		return err
	}
	if len(d.Risks) > MaxRisks {
		return descErr("risks", "more than %d entries", MaxRisks)
	}
	for _, r := range d.Risks {
		if err := checkText("risks", r, true); err != nil {
			return err
		}
	}
	if d.Downtime < 0 || d.Downtime > maxDowntime || d.Downtime%time.Second != 0 {
		return descErr("downtime_s", "must be whole seconds in 0..%v", maxDowntime)
	}
	if !d.SupportUntil.IsZero() {
		y := d.SupportUntil.UTC().Year()
		if y < 2000 || y > 9999 {
			return descErr("support_until", "year out of range")
		}
	}
	if d.ChunkSize < MinChunkSize || d.ChunkSize > MaxChunkSize || d.ChunkSize%wire.ChainBlock != 0 {
		return descErr("chunk_size", "must be a multiple of %d in %d..%d", wire.ChainBlock, MinChunkSize, MaxChunkSize)
	}
	if len(d.Chunks) == 0 || len(d.Chunks) > MaxChunks {
		return descErr("chunks", "must list 1..%d hashes", MaxChunks)
	}
	if c := d.CoSignature; c != nil {
		if c.Algorithm != wire.CoSignAlgorithm {
			return descErr("cosignature.alg", "unsupported algorithm")
		}
		if len(c.KeyID) != 2*sha256.Size {
			return descErr("cosignature.keyid", "must be 64 hex digits")
		}
		if _, err := hex.DecodeString(c.KeyID); err != nil {
			return descErr("cosignature.keyid", "must be 64 hex digits")
		}
		if len(c.Signature) != mldsa65.SignatureSize {
			return descErr("cosignature.sig", "must be %d bytes", mldsa65.SignatureSize)
		}
	}
	return nil
}

func checkText(field, s string, required bool) error {
	if s == "" {
		if required {
			return descErr(field, "required")
		}
		return nil
	}
	if len(s) > maxText {
		return descErr(field, "longer than %d bytes", maxText)
	}
	if !utf8.ValidString(s) {
		return descErr(field, "not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return descErr(field, "control character")
		}
	}
	return nil
}

// CheckLength reports whether d's chunk list fits an image of length bytes:
// ceil(length/ChunkSize) chunks.
func (d *Descriptor) CheckLength(length int64) error {
	if length <= 0 {
		return descErr("chunks", "target length %d", length)
	}
	want := (length + int64(d.ChunkSize) - 1) / int64(d.ChunkSize)
	if int64(len(d.Chunks)) != want {
		return descErr("chunks", "%d hashes for %d bytes at chunk size %d, want %d", len(d.Chunks), length, d.ChunkSize, want)
	}
	return nil
}

// ErrNoDescriptor is returned by [DecodeDescriptor] when the custom object
// has no descriptor (or there is no custom object at all).
var ErrNoDescriptor = errors.New("update: target has no descriptor")

// DecodeDescriptor parses a TUF target's "custom" object and returns the
// descriptor under the key "baseline". It is strict: input over
// MaxDescriptorSize, unknown or misspelt fields inside the descriptor,
// trailing data, an unknown format or chunk hash algorithm, and any value
// outside the limits of [Descriptor.Validate] are refused with an error
// wrapping [ErrDescriptor]. A custom object without the key yields
// [ErrNoDescriptor].
func DecodeDescriptor(custom []byte) (*Descriptor, error) {
	if len(custom) > MaxDescriptorSize {
		return nil, descErr("", "larger than %d bytes", MaxDescriptorSize)
	}
	if len(bytes.TrimSpace(custom)) == 0 {
		return nil, ErrNoDescriptor
	}
	var outer map[string]json.RawMessage
	if err := strictUnmarshal(custom, &outer, false); err != nil {
		return nil, descErr("", "custom is not a JSON object")
	}
	inner, ok := outer[wire.Key]
	if !ok {
		return nil, ErrNoDescriptor
	}
	var w wire.Descriptor[ChunkHash]
	if err := strictUnmarshal(inner, &w, true); err != nil {
		var de *DescriptorError
		if errors.As(err, &de) {
			return nil, err
		}
		var fe *wire.FieldError
		if errors.As(err, &fe) {
			return nil, descErr(fe.Field, "%s", fe.Reason)
		}
		return nil, descErr("", "malformed JSON: %v", err)
	}
	if w.Format != wire.Format {
		return nil, descErr("format", "unsupported format %d", w.Format)
	}
	if w.ChunkHash != wire.ChunkHashAlgorithm {
		return nil, descErr("chunk_hash", "unsupported algorithm %q", w.ChunkHash)
	}
	if w.DowntimeS < 0 || w.DowntimeS > int64(maxDowntime/time.Second) {
		return nil, descErr("downtime_s", "out of range")
	}
	d := &Descriptor{
		HardwareID:     w.HardwareID,
		ReleaseCounter: w.ReleaseCounter,
		Version:        w.Version,
		Security:       w.Security,
		Risks:          w.Risks,
		Reboot:         w.Reboot,
		Downtime:       time.Duration(w.DowntimeS) * time.Second,
		ChunkSize:      w.ChunkSize,
		Chunks:         []ChunkHash(w.Chunks),
	}
	if len(d.Risks) == 0 {
		d.Risks = nil
	}
	if w.SupportUntil != "" {
		t, err := time.Parse(wire.DateLayout, w.SupportUntil)
		if err != nil || t.Format(wire.DateLayout) != w.SupportUntil {
			return nil, descErr("support_until", "not a YYYY-MM-DD date")
		}
		d.SupportUntil = t
	}
	if c := w.CoSignature; c != nil {
		d.CoSignature = &CoSignature{Algorithm: c.Alg, KeyID: c.KeyID, Signature: c.Sig}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

func strictUnmarshal(data []byte, v any, disallowUnknown bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if disallowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return descErr("", "trailing data")
	}
	return nil
}

// ErrCoSignature is returned when a configured ML-DSA co-signature is
// missing, made by another key, or does not verify.
var ErrCoSignature = errors.New("update: ML-DSA-65 co-signature missing or invalid")

// VerifyCoSignature checks sig against pub for the given target. It returns
// an error wrapping [ErrCoSignature] unless sig is an ML-DSA-65 signature by
// pub over exactly these values, encoded as: a domain-separation string,
// the target path, its length, every hash (sorted by algorithm name, each
// as name and raw digest), the release counter and the hardware ID;
// variable-length fields prefixed with their 4-byte big-endian length,
// integers 8-byte big-endian.
func VerifyCoSignature(pub *mldsa65.PublicKey, sig *CoSignature, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) error {
	if pub == nil {
		return fmt.Errorf("%w: no pinned key", ErrCoSignature)
	}
	if sig == nil {
		return fmt.Errorf("%w: target is not co-signed", ErrCoSignature)
	}
	if sig.Algorithm != wire.CoSignAlgorithm || sig.KeyID != wire.KeyID(pub) {
		return fmt.Errorf("%w: signed by another key or algorithm", ErrCoSignature)
	}
	if !mldsa65.Verify(pub, wire.CoSignedMessage(path, length, hashes, counter, hardwareID), nil, sig.Signature) {
		return fmt.Errorf("%w: signature does not verify", ErrCoSignature)
	}
	return nil
}
