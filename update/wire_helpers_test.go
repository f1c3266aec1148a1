package update

// The writer side of the formats lives in update/release, which imports
// this package; these thin test helpers give the package's own tests the
// same writers over the shared wire package (release's tests check that
// release writes exactly this).

import (
	"crypto"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/update/internal/wire"
)

const (
	DefaultChunkSize   = 1 << 20
	DescriptorKey      = wire.Key
	DescriptorFormat   = wire.Format
	ChunkHashAlgorithm = wire.ChunkHashAlgorithm
	CoSignAlgorithm    = wire.CoSignAlgorithm
	chainBlock         = wire.ChainBlock
	dateLayout         = wire.DateLayout
)

func HashChunks(r io.Reader, chunkSize int) ([]ChunkHash, int64, error) {
	if chunkSize < MinChunkSize || chunkSize > MaxChunkSize || chunkSize%wire.ChainBlock != 0 {
		return nil, 0, descErr("chunk_size", "must be a multiple of %d in %d..%d", wire.ChainBlock, MinChunkSize, MaxChunkSize)
	}
	out, n, err := wire.HashChunks[ChunkHash](r, chunkSize)
	return out, n, fieldToDesc(err)
}

func fieldToDesc(err error) error {
	var fe *wire.FieldError
	if errors.As(err, &fe) {
		return descErr(fe.Field, "%s", fe.Reason)
	}
	return err
}

func EncodeDescriptor(d *Descriptor) ([]byte, error) {
	if d == nil {
		return nil, descErr("", "nil descriptor")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	w := wire.Descriptor[ChunkHash]{Format: wire.Format, HardwareID: d.HardwareID, ReleaseCounter: d.ReleaseCounter,
		Version: d.Version, Security: d.Security, Risks: d.Risks, Reboot: d.Reboot, DowntimeS: int64(d.Downtime / time.Second),
		ChunkSize: d.ChunkSize, ChunkHash: wire.ChunkHashAlgorithm, Chunks: d.Chunks}
	if !d.SupportUntil.IsZero() {
		w.SupportUntil = d.SupportUntil.UTC().Format(wire.DateLayout)
	}
	if c := d.CoSignature; c != nil {
		w.CoSignature = &wire.CoSignature{Alg: c.Algorithm, KeyID: c.KeyID, Sig: c.Signature}
	}
	out, err := wire.Encode(&w, MaxDescriptorSize)
	return out, fieldToDesc(err)
}

func MLDSAKeyID(pub *mldsa65.PublicKey) string { return wire.KeyID(pub) }

func CoSignedMessage(path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) []byte {
	return wire.CoSignedMessage(path, length, hashes, counter, hardwareID)
}

func CoSign(signer crypto.Signer, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) (*CoSignature, error) {
	pub, ok := signer.Public().(*mldsa65.PublicKey)
	if !ok {
		return nil, fmt.Errorf("co-signing key is %T", signer.Public())
	}
	sig, err := signer.Sign(nil, CoSignedMessage(path, length, hashes, counter, hardwareID), crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	return &CoSignature{Algorithm: wire.CoSignAlgorithm, KeyID: wire.KeyID(pub), Signature: sig}, nil
}

func hasherAt(cv ChunkHash, n int64) (hash.Hash, error) { return wire.HasherAt(cv, n) }

func WriteBundle(w io.Writer, repo fs.FS, target string, sig []byte) error {
	return wire.WriteBundle(w, repo, target, sig)
}

// TestMaxChunksMatchesWire: the exported bound is spelled out for godoc;
// it must stay the decoder's.
func TestMaxChunksMatchesWire(t *testing.T) {
	if MaxChunks != wire.MaxChunks {
		t.Fatalf("update.MaxChunks %d, wire.MaxChunks %d", MaxChunks, wire.MaxChunks)
	}
}
