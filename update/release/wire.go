package release

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/internal/wire"
)

// The writer side of the update formats. The device side (package update)
// only decodes and verifies them; both use one definition of the wire
// formats, so what is written here is exactly what a device accepts. A
// maker publishing with other TUF tooling (python-tuf, RSTUF, tuf-js)
// computes a target's custom object with HashChunks and EncodeDescriptor
// (and CoSign), and an offline bundle with WriteBundle.

// DefaultChunkSize is the chunk size release tooling uses unless the device
// has a reason to want another: 1 MiB is one buffer on the device and one
// journal entry per MiB downloaded.
const DefaultChunkSize = 1 << 20

// HashChunks reads r to the end and returns what goes into
// update.Descriptor.Chunks: the SHA-256 chaining value of the whole image
// after every chunkSize bytes and, for the last chunk (which may be
// shorter), the SHA-256 of the whole image; and the total length.
// chunkSize must be a multiple of 64 in update.MinChunkSize ..
// update.MaxChunkSize. It fails when the image needs more than
// update.MaxChunks chunks.
func HashChunks(r io.Reader, chunkSize int) ([]update.ChunkHash, int64, error) {
	if chunkSize < update.MinChunkSize || chunkSize > update.MaxChunkSize || chunkSize%wire.ChainBlock != 0 {
		return nil, 0, fmt.Errorf("%w: chunk_size: must be a multiple of %d in %d..%d", update.ErrDescriptor, wire.ChainBlock, update.MinChunkSize, update.MaxChunkSize)
	}
	out, n, err := wire.HashChunks[update.ChunkHash](r, chunkSize)
	return out, n, wrapField(err)
}

// EncodeDescriptor validates d (update.Descriptor.Validate) and returns the
// JSON object to store as the TUF target's "custom" field:
// {"baseline": {...}}, which update.DecodeDescriptor reads back.
func EncodeDescriptor(d *update.Descriptor) ([]byte, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil descriptor", update.ErrDescriptor)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	w := wire.Descriptor[update.ChunkHash]{
		Format:         wire.Format,
		HardwareID:     d.HardwareID,
		ReleaseCounter: d.ReleaseCounter,
		Version:        d.Version,
		Security:       d.Security,
		Risks:          d.Risks,
		Reboot:         d.Reboot,
		DowntimeS:      int64(d.Downtime / time.Second),
		ChunkSize:      d.ChunkSize,
		ChunkHash:      wire.ChunkHashAlgorithm,
		Chunks:         d.Chunks,
	}
	if !d.SupportUntil.IsZero() {
		w.SupportUntil = d.SupportUntil.UTC().Format(wire.DateLayout)
	}
	if c := d.CoSignature; c != nil {
		w.CoSignature = &wire.CoSignature{Alg: c.Algorithm, KeyID: c.KeyID, Sig: c.Signature}
	}
	out, err := wire.Encode(&w, update.MaxDescriptorSize)
	return out, wrapField(err)
}

// wrapField turns the wire format's field errors into errors wrapping
// update.ErrDescriptor.
func wrapField(err error) error {
	var fe *wire.FieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w: %v", update.ErrDescriptor, fe)
	}
	return err
}

// MLDSAKeyID returns the identifier of an ML-DSA-65 public key as
// update.CoSignature.KeyID carries it: the lowercase hex SHA-256 of its
// packed encoding.
func MLDSAKeyID(pub *mldsa65.PublicKey) string { return wire.KeyID(pub) }

// CoSign signs the co-signed message of the given target (see
// update.VerifyCoSignature for what it covers) with signer, whose public
// key must be an *mldsa65.PublicKey (for example an *mldsa65.PrivateKey, or
// an HSM-backed signer for the same scheme). The result goes into
// update.Descriptor.CoSignature.
func CoSign(signer crypto.Signer, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) (*update.CoSignature, error) {
	pub, ok := signer.Public().(*mldsa65.PublicKey)
	if !ok {
		return nil, fmt.Errorf("release: co-signing key is %T, want *mldsa65.PublicKey", signer.Public())
	}
	msg := wire.CoSignedMessage(path, length, hashes, counter, hardwareID)
	sig, err := signer.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("release: co-sign: %w", err)
	}
	if !mldsa65.Verify(pub, msg, nil, sig) {
		return nil, errors.New("release: co-sign: signer produced an invalid signature")
	}
	return &update.CoSignature{Algorithm: wire.CoSignAlgorithm, KeyID: wire.KeyID(pub), Signature: sig}, nil
}

// WriteBundle writes an offline bundle (see update.Client.OpenBundle for the
// layout the device reads) for target from a repository laid
// out as it is served (metadata/ and targets/ under repo), including every
// N.root.json from version 2 on so a device pinned to an older root can
// follow the rotations. sig, if not nil, is a cosign sign-blob signature of
// the image to include.
func WriteBundle(w io.Writer, repo fs.FS, target string, sig []byte) error {
	return wire.WriteBundle(w, repo, target, sig)
}
