package update

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DescriptorKey is the key under which the [Descriptor] sits in a TUF
// target's "custom" object. Other keys of that object are ignored (they are
// still covered by the targets role's signatures, but this package gives them
// no meaning).
const DescriptorKey = "baseline"

// DescriptorFormat is the wire format version written by [EncodeDescriptor]
// and the only one [DecodeDescriptor] accepts. Format 2 lists SHA-256
// chaining values in [Descriptor.Chunks] (format 1, which listed an
// independent SHA-256 per chunk, is no longer accepted).
const DescriptorFormat = 2

// Limits on a descriptor. They bound what a decoder allocates before any
// signature could have been checked on a bundle, and keep a device's chunk
// buffer (one chunk) small.
const (
	// MinChunkSize is the smallest chunk size a descriptor may declare.
	MinChunkSize = 4 << 10
	// DefaultChunkSize is the chunk size release tooling should use unless
	// the device has a reason to want another: 1 MiB is one buffer on the
	// device and one journal entry per MiB downloaded.
	DefaultChunkSize = 1 << 20
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

// ChunkHashAlgorithm names what [Descriptor.Chunks] lists: SHA-256 chaining
// values of the whole image (see [Descriptor.Chunks]); it is written into
// the descriptor so a future format can change it (5.5-3).
const ChunkHashAlgorithm = "sha256-chain"

// chainBlock is SHA-256's block size: chunk sizes are multiples of it, so
// a chunk boundary is a compression-function boundary.
const chainBlock = 64

// CoSignAlgorithm identifies the co-signature scheme in [CoSignature].
const CoSignAlgorithm = "ml-dsa-65"

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
// length and hashes. Release tooling writes it with [EncodeDescriptor] into
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
	// every chunk and the whole image. [HashChunks] computes the list.
	Chunks []ChunkHash
	// CoSignature is the optional ML-DSA-65 co-signature (see [CoSign]).
	CoSignature *CoSignature
}

// CoSignature is an ML-DSA-65 signature over [CoSignedMessage], made by a key
// whose public half is pinned in the device's firmware. It lets a release
// stay trustworthy if the classical keys of TUF's roles fall.
type CoSignature struct {
	// Algorithm is CoSignAlgorithm.
	Algorithm string
	// KeyID is [MLDSAKeyID] of the signing key.
	KeyID string
	// Signature is the raw ML-DSA-65 signature (mldsa65.SignatureSize bytes).
	Signature []byte
}

// wire formats: one place decides what is accepted.
type wireCustom struct {
	Baseline json.RawMessage `json:"baseline"`
}

type wireDescriptor struct {
	Format         int              `json:"format"`
	HardwareID     string           `json:"hardware_id"`
	ReleaseCounter uint64           `json:"release_counter"`
	Version        string           `json:"version"`
	Security       bool             `json:"security,omitempty"`
	Risks          []string         `json:"risks,omitempty"`
	Reboot         bool             `json:"reboot,omitempty"`
	DowntimeS      int64            `json:"downtime_s,omitempty"`
	SupportUntil   string           `json:"support_until,omitempty"`
	ChunkSize      int              `json:"chunk_size"`
	ChunkHash      string           `json:"chunk_hash"`
	Chunks         chainList        `json:"chunks"`
	CoSignature    *wireCoSignature `json:"cosignature,omitempty"`
}

// chainList is [Descriptor.Chunks] on the wire: one base64 (standard,
// padded) string of the entries concatenated, 32 bytes each. One string
// rather than an array of hex strings keeps the targets metadata of a large
// image small, and what TUF verification allocates for it (it decodes and
// re-encodes every value of the signed metadata) about one copy.
type chainList []ChunkHash

func (c chainList) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 0, len(c)*sha256.Size)
	for _, h := range c {
		raw = append(raw, h[:]...)
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(raw))
}

func (c *chainList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return descErr("chunks", "not a base64 string")
	}
	if len(s) > base64.StdEncoding.EncodedLen(MaxChunks*sha256.Size) {
		return descErr("chunks", "more than %d entries", MaxChunks)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(raw)%sha256.Size != 0 || base64.StdEncoding.EncodeToString(raw) != s {
		return descErr("chunks", "not base64 of 32-byte entries")
	}
	out := make(chainList, len(raw)/sha256.Size)
	for i := range out {
		copy(out[i][:], raw[i*sha256.Size:])
	}
	*c = out
	return nil
}

type wireCoSignature struct {
	Alg   string `json:"alg"`
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

const (
	dateLayout  = "2006-01-02"
	maxDowntime = 7 * 24 * time.Hour
)

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
	if d.ChunkSize < MinChunkSize || d.ChunkSize > MaxChunkSize || d.ChunkSize%chainBlock != 0 {
		return descErr("chunk_size", "must be a multiple of %d in %d..%d", chainBlock, MinChunkSize, MaxChunkSize)
	}
	if len(d.Chunks) == 0 || len(d.Chunks) > MaxChunks {
		return descErr("chunks", "must list 1..%d hashes", MaxChunks)
	}
	if c := d.CoSignature; c != nil {
		if c.Algorithm != CoSignAlgorithm {
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

// EncodeDescriptor validates d and returns the JSON object to store as the
// TUF target's "custom" field: {"baseline": {...}}.
func EncodeDescriptor(d *Descriptor) ([]byte, error) {
	if d == nil {
		return nil, descErr("", "nil descriptor")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	w := wireDescriptor{
		Format:         DescriptorFormat,
		HardwareID:     d.HardwareID,
		ReleaseCounter: d.ReleaseCounter,
		Version:        d.Version,
		Security:       d.Security,
		Risks:          d.Risks,
		Reboot:         d.Reboot,
		DowntimeS:      int64(d.Downtime / time.Second),
		ChunkSize:      d.ChunkSize,
		ChunkHash:      ChunkHashAlgorithm,
		Chunks:         d.Chunks,
	}
	if !d.SupportUntil.IsZero() {
		w.SupportUntil = d.SupportUntil.UTC().Format(dateLayout)
	}
	if c := d.CoSignature; c != nil {
		w.CoSignature = &wireCoSignature{Alg: c.Algorithm, KeyID: c.KeyID, Sig: c.Signature}
	}
	inner, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(wireCustom{Baseline: inner})
	if err != nil {
		return nil, err
	}
	if len(out) > MaxDescriptorSize {
		return nil, descErr("", "encoded descriptor larger than %d bytes", MaxDescriptorSize)
	}
	return out, nil
}

// ErrNoDescriptor is returned by [DecodeDescriptor] when the custom object
// has no descriptor (or there is no custom object at all).
var ErrNoDescriptor = errors.New("update: target has no descriptor")

// DecodeDescriptor parses a TUF target's "custom" object and returns the
// descriptor under [DescriptorKey]. It is strict: input over
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
	inner, ok := outer[DescriptorKey]
	if !ok {
		return nil, ErrNoDescriptor
	}
	var w wireDescriptor
	if err := strictUnmarshal(inner, &w, true); err != nil {
		var de *DescriptorError
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, descErr("", "malformed JSON: %v", err)
	}
	if w.Format != DescriptorFormat {
		return nil, descErr("format", "unsupported format %d", w.Format)
	}
	if w.ChunkHash != ChunkHashAlgorithm {
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
		t, err := time.Parse(dateLayout, w.SupportUntil)
		if err != nil || t.Format(dateLayout) != w.SupportUntil {
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

// HashChunks reads r to the end and returns what release tooling puts in
// [Descriptor.Chunks]: the SHA-256 chaining value of the whole image after
// every chunkSize bytes and, for the last chunk (which may be shorter), the
// SHA-256 of the whole image; and the total length. chunkSize must be a
// multiple of 64. It fails when the image needs more than MaxChunks chunks.
func HashChunks(r io.Reader, chunkSize int) ([]ChunkHash, int64, error) {
	if chunkSize < MinChunkSize || chunkSize > MaxChunkSize || chunkSize%chainBlock != 0 {
		return nil, 0, descErr("chunk_size", "must be a multiple of %d in %d..%d", chainBlock, MinChunkSize, MaxChunkSize)
	}
	buf := make([]byte, chunkSize)
	h := sha256.New()
	var out []ChunkHash
	var total int64
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, 0, err
		}
		if n > 0 {
			if len(out) == MaxChunks {
				return nil, 0, descErr("chunks", "image needs more than %d chunks", MaxChunks)
			}
			h.Write(buf[:n])
			total += int64(n)
			cv, cerr := chainValue(h)
			if cerr != nil {
				return nil, 0, cerr
			}
			out = append(out, cv)
		}
		if err != nil || n < chunkSize {
			// Short read: that was the last chunk (or there was none).
			// Its entry is the digest, not the state.
			if len(out) > 0 {
				copy(out[len(out)-1][:], h.Sum(nil))
			}
			return out, total, nil
		}
	}
}

// sha256Marshaled is the layout of crypto/sha256's MarshalBinary: magic,
// eight state words, the 64-byte block buffer, the length.
const (
	sha256Magic      = "sha\x03"
	sha256Marshaled  = len(sha256Magic) + sha256.Size + chainBlock + 8
	errChainInternal = "update: sha256 state has an unexpected encoding"
)

// chainValue returns the eight state words of h (a crypto/sha256 hash that
// has consumed a multiple of 64 bytes).
func chainValue(h hash.Hash) (ChunkHash, error) {
	var cv ChunkHash
	var st [sha256Marshaled]byte
	b, err := h.(encoding.BinaryAppender).AppendBinary(st[:0])
	if err != nil || len(b) != sha256Marshaled || string(b[:len(sha256Magic)]) != sha256Magic {
		return cv, errors.New(errChainInternal)
	}
	copy(cv[:], b[len(sha256Magic):])
	return cv, nil
}

// hasherAt returns a SHA-256 hasher in the state it has after n bytes (a
// multiple of 64) whose chaining value is cv: a resumed or re-started
// download continues the whole-image hash from a signed entry of
// [Descriptor.Chunks], so no hash state needs journaling. n == 0 gives a
// fresh hasher.
func hasherAt(cv ChunkHash, n int64) (hash.Hash, error) {
	h := sha256.New()
	if n == 0 {
		return h, nil
	}
	if n < 0 || n%chainBlock != 0 {
		return nil, errors.New(errChainInternal)
	}
	var st [sha256Marshaled]byte
	copy(st[:], sha256Magic)
	copy(st[len(sha256Magic):], cv[:])
	binary.BigEndian.PutUint64(st[sha256Marshaled-8:], uint64(n))
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st[:]); err != nil {
		return nil, errors.New(errChainInternal)
	}
	return h, nil
}

// coSignDomain separates co-signed messages from anything else the key
// might ever sign.
const coSignDomain = "baseline/update co-signature v1\x00"

// CoSignedMessage returns the exact bytes the ML-DSA-65 co-signature covers:
// a domain-separation string, then the target path, its length, every hash
// (sorted by algorithm name, each as name and raw digest), the release
// counter and the hardware ID. Variable-length fields are prefixed with
// their 4-byte big-endian length, integers are 8-byte big-endian, so no two
// different tuples share an encoding.
func CoSignedMessage(path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) []byte {
	var b []byte
	b = append(b, coSignDomain...)
	b = appendField(b, []byte(path))
	b = binary.BigEndian.AppendUint64(b, uint64(length))
	names := make([]string, 0, len(hashes))
	for name := range hashes {
		names = append(names, name)
	}
	slices.Sort(names)
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, name := range names {
		b = appendField(b, []byte(name))
		b = appendField(b, hashes[name])
	}
	b = binary.BigEndian.AppendUint64(b, counter)
	b = appendField(b, []byte(hardwareID))
	return b
}

func appendField(b, f []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// MLDSAKeyID returns the identifier of an ML-DSA-65 public key: the lowercase
// hex SHA-256 of its packed encoding.
func MLDSAKeyID(pub *mldsa65.PublicKey) string {
	sum := sha256.Sum256(pub.Bytes())
	return hex.EncodeToString(sum[:])
}

// ErrCoSignature is returned when a configured ML-DSA co-signature is
// missing, made by another key, or does not verify.
var ErrCoSignature = errors.New("update: ML-DSA-65 co-signature missing or invalid")

// CoSign signs [CoSignedMessage] of the given target with signer, whose
// public key must be an *mldsa65.PublicKey (for example an
// *mldsa65.PrivateKey, or an HSM-backed signer for the same scheme). The
// result goes into [Descriptor.CoSignature].
func CoSign(signer crypto.Signer, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) (*CoSignature, error) {
	pub, ok := signer.Public().(*mldsa65.PublicKey)
	if !ok {
		return nil, fmt.Errorf("update: co-signing key is %T, want *mldsa65.PublicKey", signer.Public())
	}
	msg := CoSignedMessage(path, length, hashes, counter, hardwareID)
	sig, err := signer.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("update: co-sign: %w", err)
	}
	if !mldsa65.Verify(pub, msg, nil, sig) {
		return nil, errors.New("update: co-sign: signer produced an invalid signature")
	}
	return &CoSignature{Algorithm: CoSignAlgorithm, KeyID: MLDSAKeyID(pub), Signature: sig}, nil
}

// VerifyCoSignature checks sig against pub for the given target. It returns
// an error wrapping [ErrCoSignature] unless sig is an ML-DSA-65 signature by
// pub over [CoSignedMessage] of exactly these values.
func VerifyCoSignature(pub *mldsa65.PublicKey, sig *CoSignature, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) error {
	if pub == nil {
		return fmt.Errorf("%w: no pinned key", ErrCoSignature)
	}
	if sig == nil {
		return fmt.Errorf("%w: target is not co-signed", ErrCoSignature)
	}
	if sig.Algorithm != CoSignAlgorithm || sig.KeyID != MLDSAKeyID(pub) {
		return fmt.Errorf("%w: signed by another key or algorithm", ErrCoSignature)
	}
	if !mldsa65.Verify(pub, CoSignedMessage(path, length, hashes, counter, hardwareID), nil, sig.Signature) {
		return fmt.Errorf("%w: signature does not verify", ErrCoSignature)
	}
	return nil
}
