package update

import (
	"hash"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// The verification steps a refresh and a download take. The client and its
// measured self-checks (checks.go) reach them only through these methods,
// so a self-check probes exactly the step the client runs.
//
// steps overrides them in tests only: a test sets a field to a broken step
// (one that accepts what it must refuse) to show that the client is then
// broken and that the self-check fails. Production code never sets it.
type steps struct {
	updateRoot    func(tm *trustedmetadata.TrustedMetadata, b []byte) error
	updateTargets func(tm *trustedmetadata.TrustedMetadata, b []byte) error
	// targetsSig is the signature check go-tuf's UpdateTargets runs after
	// the snapshot's hash of targets.json; the client does not call it
	// directly, only the verification check does.
	targetsSig func(root *metadata.Metadata[metadata.RootType], md *metadata.Metadata[metadata.TargetsType]) error
	checkChunk func(h hash.Hash, chunk []byte, hashes []ChunkHash, idx int) error
	coSig      func(pub *mldsa65.PublicKey, sig *CoSignature, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) error
}

// updateRoot verifies b as the next root against tm's root (signature
// threshold of the current and of the new root, version exactly one more)
// and makes it tm's root.
func (c *Client) updateRoot(tm *trustedmetadata.TrustedMetadata, b []byte) error {
	if f := c.steps.updateRoot; f != nil {
		return f(tm, b)
	}
	_, err := tm.UpdateRoot(b)
	return err
}

// updateTargets verifies b as top-level targets metadata (the snapshot's
// length and hashes when listed, the root's targets threshold, the version
// the snapshot names, expiry) and makes it tm's targets.
func (c *Client) updateTargets(tm *trustedmetadata.TrustedMetadata, b []byte) error {
	if f := c.steps.updateTargets; f != nil {
		return f(tm, b)
	}
	_, err := tm.UpdateTargets(b)
	return err
}

// verifyTargetsSig checks md against root's targets role and threshold.
func (c *Client) verifyTargetsSig(root *metadata.Metadata[metadata.RootType], md *metadata.Metadata[metadata.TargetsType]) error {
	if f := c.steps.targetsSig; f != nil {
		return f(root, md)
	}
	return root.VerifyDelegate(metadata.TARGETS, md)
}

// verifyChunk is checkChunk, the check every downloaded chunk passes
// before it is written to the slot.
func (c *Client) verifyChunk(h hash.Hash, chunk []byte, hashes []ChunkHash, idx int) error {
	if f := c.steps.checkChunk; f != nil {
		return f(h, chunk, hashes, idx)
	}
	return checkChunk(h, chunk, hashes, idx)
}

// verifyCoSignature is VerifyCoSignature, the ML-DSA-65 check every release
// passes when Config.CoSignKey is set.
func (c *Client) verifyCoSignature(pub *mldsa65.PublicKey, sig *CoSignature, path string, length int64, hashes metadata.Hashes, counter uint64, hardwareID string) error {
	if f := c.steps.coSig; f != nil {
		return f(pub, sig, path, length, hashes, counter, hardwareID)
	}
	return VerifyCoSignature(pub, sig, path, length, hashes, counter, hardwareID)
}
