// Package wire is the one definition of the update formats that both the
// device side (package update: decode and verify) and release tooling
// (package update/release: encode and sign) use: the target descriptor's
// JSON, the chained chunk hashes, the co-signed message and the offline
// bundle's entry names. Neither side writes these formats on its own, so
// the writer and the reader cannot drift apart.
package wire

import (
	"archive/tar"
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
	"io/fs"
	"path"
	"slices"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const (
	// Key is the key under which the descriptor sits in a TUF target's
	// "custom" object.
	Key = "baseline"
	// Format is the descriptor format written and the only one accepted.
	// Format 2 lists SHA-256 chaining values (format 1 listed an
	// independent SHA-256 per chunk and is no longer accepted).
	Format = 2
	// ChunkHashAlgorithm names what the descriptor's chunk list holds.
	ChunkHashAlgorithm = "sha256-chain"
	// CoSignAlgorithm is the only co-signature algorithm.
	CoSignAlgorithm = "ml-dsa-65"
	// ChainBlock is SHA-256's block size: chunk sizes are multiples of it,
	// so a chunk boundary is a compression-function boundary.
	ChainBlock = 64
	// MaxChunks bounds the per-chunk hash list (64 GiB at 1 MiB chunks).
	MaxChunks = 1 << 16
	// DateLayout is how a support date is written.
	DateLayout = "2006-01-02"
	// BundleSigName is the offline bundle's entry for a cosign signature.
	BundleSigName = "cosign.sig"
)

// FieldError says which descriptor field is wrong; package update turns it
// into its DescriptorError.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Custom is a target's "custom" object as this format writes it.
type Custom struct {
	Baseline json.RawMessage `json:"baseline"`
}

// Descriptor is the descriptor on the wire. T is the chunk hash type of
// the package using it (update.ChunkHash).
type Descriptor[T ~[sha256.Size]byte] struct {
	Format         int          `json:"format"`
	HardwareID     string       `json:"hardware_id"`
	ReleaseCounter uint64       `json:"release_counter"`
	Version        string       `json:"version"`
	Security       bool         `json:"security,omitempty"`
	Risks          []string     `json:"risks,omitempty"`
	Reboot         bool         `json:"reboot,omitempty"`
	DowntimeS      int64        `json:"downtime_s,omitempty"`
	SupportUntil   string       `json:"support_until,omitempty"`
	ChunkSize      int          `json:"chunk_size"`
	ChunkHash      string       `json:"chunk_hash"`
	Chunks         Chunks[T]    `json:"chunks"`
	CoSignature    *CoSignature `json:"cosignature,omitempty"`
}

// CoSignature is the co-signature on the wire.
type CoSignature struct {
	Alg   string `json:"alg"`
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// Chunks is the chunk list on the wire: one base64 (standard, padded)
// string of the entries concatenated, 32 bytes each. One string rather
// than an array of hex strings keeps the targets metadata of a large image
// small, and what TUF verification allocates for it (it decodes and
// re-encodes every value of the signed metadata) about one copy.
type Chunks[T ~[sha256.Size]byte] []T

// MarshalJSON writes the base64 string.
func (c Chunks[T]) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 0, len(c)*sha256.Size)
	for _, h := range c {
		raw = append(raw, h[:]...)
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(raw))
}

// UnmarshalJSON reads the base64 string strictly (canonical padding, at
// most MaxChunks entries, whole entries only).
func (c *Chunks[T]) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fieldErr("chunks", "not a base64 string")
	}
	if len(s) > base64.StdEncoding.EncodedLen(MaxChunks*sha256.Size) {
		return fieldErr("chunks", "more than %d entries", MaxChunks)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(raw)%sha256.Size != 0 || base64.StdEncoding.EncodeToString(raw) != s {
		return fieldErr("chunks", "not base64 of 32-byte entries")
	}
	out := make(Chunks[T], len(raw)/sha256.Size)
	for i := range out {
		copy(out[i][:], raw[i*sha256.Size:])
	}
	*c = out
	return nil
}

// Encode returns the custom object {"baseline": d}, or an error when it
// would exceed maxSize bytes.
func Encode[T ~[sha256.Size]byte](d *Descriptor[T], maxSize int) ([]byte, error) {
	inner, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(Custom{Baseline: inner})
	if err != nil {
		return nil, err
	}
	if len(out) > maxSize {
		return nil, fieldErr("", "encoded descriptor larger than %d bytes", maxSize)
	}
	return out, nil
}

// HashChunks reads r to the end and returns the chunk list: the SHA-256
// chaining value of the whole image after every chunkSize bytes and, for
// the last chunk (which may be shorter), the SHA-256 of the whole image;
// and the total length. The caller checks chunkSize's range; it must be a
// positive multiple of ChainBlock. More than MaxChunks chunks is an error.
func HashChunks[T ~[sha256.Size]byte](r io.Reader, chunkSize int) ([]T, int64, error) {
	if chunkSize <= 0 || chunkSize%ChainBlock != 0 {
		return nil, 0, fieldErr("chunk_size", "must be a positive multiple of %d", ChainBlock)
	}
	buf := make([]byte, chunkSize)
	h := sha256.New()
	var out []T
	var total int64
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, 0, err
		}
		if n > 0 {
			if len(out) == MaxChunks {
				return nil, 0, fieldErr("chunks", "image needs more than %d chunks", MaxChunks)
			}
			h.Write(buf[:n])
			total += int64(n)
			cv, cerr := ChainValue(h)
			if cerr != nil {
				return nil, 0, cerr
			}
			out = append(out, T(cv))
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
	sha256Marshaled  = len(sha256Magic) + sha256.Size + ChainBlock + 8
	errChainInternal = "update: sha256 state has an unexpected encoding"
)

// ChainValue returns the eight state words of h (a crypto/sha256 hash that
// has consumed a multiple of 64 bytes).
func ChainValue(h hash.Hash) ([sha256.Size]byte, error) {
	var cv [sha256.Size]byte
	var st [sha256Marshaled]byte
	b, err := h.(encoding.BinaryAppender).AppendBinary(st[:0])
	if err != nil || len(b) != sha256Marshaled || string(b[:len(sha256Magic)]) != sha256Magic {
		return cv, errors.New(errChainInternal)
	}
	copy(cv[:], b[len(sha256Magic):])
	return cv, nil
}

// HasherAt returns a SHA-256 hasher in the state it has after n bytes (a
// multiple of 64) whose chaining value is cv: a resumed or re-started
// download continues the whole-image hash from a signed chunk entry, so no
// hash state needs journaling. n == 0 gives a fresh hasher.
func HasherAt(cv [sha256.Size]byte, n int64) (hash.Hash, error) {
	h := sha256.New()
	if n == 0 {
		return h, nil
	}
	if n < 0 || n%ChainBlock != 0 {
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

// KeyID returns the identifier of an ML-DSA-65 public key: the lowercase
// hex SHA-256 of its packed encoding.
func KeyID(pub *mldsa65.PublicKey) string {
	sum := sha256.Sum256(pub.Bytes())
	return hex.EncodeToString(sum[:])
}

// WriteBundle writes an offline bundle: see release.WriteBundle.
func WriteBundle(w io.Writer, repo fs.FS, target string, sig []byte) error {
	tw := tar.NewWriter(w)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for v := 2; ; v++ {
		b, err := fs.ReadFile(repo, fmt.Sprintf("metadata/%d.root.json", v))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		if err := add(fmt.Sprintf("metadata/%d.root.json", v), b); err != nil {
			return err
		}
	}
	ts, err := fs.ReadFile(repo, "metadata/timestamp.json")
	if err != nil {
		return err
	}
	if err := add("metadata/timestamp.json", ts); err != nil {
		return err
	}
	var targetsJSON []byte
	for _, role := range []string{"snapshot", "targets"} {
		b, err := fs.ReadFile(repo, "metadata/"+role+".json")
		if errors.Is(err, fs.ErrNotExist) {
			// consistent snapshot: take the highest N.role.json
			b, err = latestVersioned(repo, role)
		}
		if err != nil {
			return err
		}
		if err := add("metadata/"+role+".json", b); err != nil {
			return err
		}
		targetsJSON = b
	}
	if sig != nil {
		if err := add(BundleSigName, sig); err != nil {
			return err
		}
	}
	f, err := repo.Open("targets/" + target)
	if errors.Is(err, fs.ErrNotExist) {
		// consistent snapshot: targets are stored as <sha256>.<name>
		md, perr := metadata.Targets().FromBytes(targetsJSON)
		if perr != nil {
			return perr
		}
		tf, ok := md.Signed.Targets[target]
		if !ok {
			return fmt.Errorf("release: %q is not a target of the repository", target)
		}
		dir, base := path.Split(target)
		f, err = repo.Open("targets/" + dir + hex.EncodeToString(tf.Hashes["sha256"]) + "." + base)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "targets/" + target, Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close()
}

func latestVersioned(repo fs.FS, role string) ([]byte, error) {
	ents, err := fs.ReadDir(repo, "metadata")
	if err != nil {
		return nil, err
	}
	best, bestV := "", -1
	for _, e := range ents {
		var v int
		if _, err := fmt.Sscanf(e.Name(), "%d."+role+".json", &v); err == nil && e.Name() == fmt.Sprintf("%d.%s.json", v, role) && v > bestV {
			best, bestV = e.Name(), v
		}
	}
	if best == "" {
		return nil, fmt.Errorf("release: repository has no %s metadata", role)
	}
	return fs.ReadFile(repo, "metadata/"+best)
}
