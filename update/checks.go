package update

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Checks returns the self-checks for the update provisions. Two are
// [conformance.Measured]: they feed hostile input through the code the
// client verifies with and require a refusal, on copies, never touching
// the client's state:
//
//   - update.trust-root (5.3-10): a foreign root (signed by a key the
//     current root does not name) and a stale root (an older version) are
//     offered to the same TUF root-update step a refresh uses. INCONCLUSIVE
//     until a refresh has used the pinned root.
//   - update.verification (5.3-7, 5.3-9): a copy of the trusted targets
//     metadata with its signatures stripped, and one with a signed field
//     changed, are offered to the same signature check; a chunk of other
//     bytes is offered to the chunk verifier against the newest signed
//     descriptor. INCONCLUSIVE for the parts that need a refresh or a
//     descriptor.
//
// Two read what the client holds ([conformance.Configured]):
//
//   - update.metadata-fresh (5.3-7): the last refresh produced metadata that
//     is not expired at the trusted time.
//   - update.support-period (5.3-13): the support end date in the newest
//     signed descriptor for this hardware.
func (c *Client) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "update.trust-root", Method: conformance.Measured, Provisions: []string{"5.3-10"}, Title: "Updates are trusted only through the pinned TUF root: a foreign or stale root is refused", Run: c.checkRoot},
		{ID: "update.verification", Method: conformance.Measured, Provisions: []string{"5.3-7", "5.3-9"}, Title: "Unsigned or altered release metadata and a corrupted image chunk are refused", Run: c.checkVerification},
		{ID: "update.metadata-fresh", Provisions: []string{"5.3-7"}, Title: "The device holds current, unexpired update metadata", Run: c.checkFresh},
		{ID: "update.support-period", Provisions: []string{"5.3-13"}, Title: "The support period is published in signed release metadata", Run: c.checkSupport},
	}
}

func (c *Client) snapshot() (*metadataView, time.Time) {
	ref := c.refTime()
	tm := c.view.Load()
	if tm == nil {
		return nil, ref
	}
	return &metadataView{root: tm.Root, ts: tm.Timestamp, snap: tm.Snapshot, targets: tm.Targets[metadata.TARGETS]}, ref
}

type metadataView struct {
	root    *metadata.Metadata[metadata.RootType]
	ts      *metadata.Metadata[metadata.TimestampType]
	snap    *metadata.Metadata[metadata.SnapshotType]
	targets *metadata.Metadata[metadata.TargetsType]
}

func roleSummary(r *metadata.RootType, role string) string {
	ro := r.Roles[role]
	if ro == nil {
		return role + " missing"
	}
	return fmt.Sprintf("%s %d-of-%d", role, ro.Threshold, len(ro.KeyIDs))
}

// Probes the checks run; tests replace them with broken ones to show the
// checks fail when verification does.
var (
	probeUpdateRoot   = func(tm *trustedmetadata.TrustedMetadata, b []byte) error { _, err := tm.UpdateRoot(b); return err }
	probeVerifyTarget = func(root *metadata.Metadata[metadata.RootType], md *metadata.Metadata[metadata.TargetsType]) error {
		return root.VerifyDelegate(metadata.TARGETS, md)
	}
	probeChunk = checkChunk
)

func (c *Client) checkRoot(ctx context.Context) conformance.Result {
	pinned := c.root.Signed
	obs := fmt.Sprintf("pinned root v%d (%s)", pinned.Version, roleSummary(&pinned, metadata.ROOT))
	v, ref := c.snapshot()
	if v == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "no refresh yet: the pinned root has not yet been used to verify anything"}
	}
	obs += fmt.Sprintf("; in use: root v%d (%s, %s, %s, %s)", v.root.Signed.Version,
		roleSummary(&v.root.Signed, metadata.ROOT), roleSummary(&v.root.Signed, metadata.TARGETS),
		roleSummary(&v.root.Signed, metadata.SNAPSHOT), roleSummary(&v.root.Signed, metadata.TIMESTAMP))
	if v.root.Signed.IsExpired(ref) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use is expired at the trusted time"}
	}
	cur, err := v.root.ToBytes(false)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use does not serialise: " + err.Error()}
	}
	fresh := func() (*trustedmetadata.TrustedMetadata, error) {
		tm, err := trustedmetadata.New(cur)
		if err == nil {
			tm.RefTime = ref
		}
		return tm, err
	}
	// A foreign root: the next version, signed only by a key the current
	// root does not name.
	foreign, err := foreignRoot(&v.root.Signed)
	if err != nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: "could not build the foreign-root probe: " + err.Error()}
	}
	tm, err := fresh()
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use does not load: " + err.Error()}
	}
	if err := probeUpdateRoot(tm, foreign); err == nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "a root signed by a foreign key was accepted as the next root"}
	}
	// A stale root: the current one offered again (or the pinned one,
	// older after a rotation) must not be taken as an update.
	tm, _ = fresh()
	if err := probeUpdateRoot(tm, cur); err == nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "a root of the same version was accepted as an update"}
	}
	obs += "; a root signed by a foreign key and a stale root were both refused"
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// foreignRoot returns root metadata of the next version whose root role is
// a fresh Ed25519 key, signed only by that key.
func foreignRoot(cur *metadata.RootType) ([]byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, err
	}
	md := metadata.Root(cur.Expires)
	md.Signed.Version = cur.Version + 1
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := md.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
	}
	signer, err := signerFromEd25519(priv)
	if err != nil {
		return nil, err
	}
	if _, err := md.Sign(signer); err != nil {
		return nil, err
	}
	return md.ToBytes(false)
}

func (c *Client) checkVerification(ctx context.Context) conformance.Result {
	parts := []string{"TUF threshold signatures", "signed length", "sha256/sha384/sha512 whole-image hashes", "per-chunk SHA-256 chaining value before write"}
	if c.cfg.CoSignKey != nil {
		parts = append(parts, "ML-DSA-65 co-signature key "+MLDSAKeyID(c.cfg.CoSignKey)[:16])
	} else {
		parts = append(parts, "no ML-DSA-65 co-signature key pinned")
	}
	if c.cosign != nil {
		parts = append(parts, "cosign signature required on bundles")
	}
	obs := "configured: " + strings.Join(parts, ", ")
	if c.cfg.InsecureAllowNoDescriptor {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs + ", InsecureAllowNoDescriptor", Detail: "targets without a descriptor are accepted without hardware-ID and release-counter checks"}
	}
	obs += ", hardware ID " + c.cfg.HardwareID + " and release counter enforced"
	v, _ := c.snapshot()
	if v == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: "no refresh yet: there is no signed targets metadata to probe the verifier with"}
	}
	// Signed metadata with its signatures stripped, and with a signed
	// field changed, must both be refused by the signature check.
	raw, err := v.targets.ToBytes(false)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "trusted targets do not serialise: " + err.Error()}
	}
	unsigned, err1 := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(raw)
	altered, err2 := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(raw)
	if err := errors.Join(err1, err2); err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "trusted targets do not parse: " + err.Error()}
	}
	unsigned.Signatures = nil
	altered.Signed.Version++
	if probeVerifyTarget(v.root, unsigned) == nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "targets metadata without signatures passed the signature check"}
	}
	if probeVerifyTarget(v.root, altered) == nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "targets metadata with a changed signed field passed the signature check"}
	}
	obs += "; tested: unsigned and altered targets metadata refused"
	// A chunk of other bytes against the newest signed descriptor.
	var best *Descriptor
	var bestLen int64
	for _, name := range slices.Sorted(mapKeys(v.targets.Signed.Targets)) {
		tf := v.targets.Signed.Targets[name]
		if tf.Custom == nil {
			continue
		}
		if d, err := DecodeDescriptor(*tf.Custom); err == nil && d.HardwareID == c.cfg.HardwareID && (best == nil || d.ReleaseCounter > best.ReleaseCounter) {
			best, bestLen = d, tf.Length
		}
	}
	if best == nil || len(best.Chunks) == 0 {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: "no signed release for " + c.cfg.HardwareID + " to probe the chunk verifier with"}
	}
	chunk := make([]byte, best.ChunkSize)
	if int64(len(chunk)) > bestLen && len(best.Chunks) == 1 {
		chunk = chunk[:bestLen]
	}
	rand.Read(chunk)
	if probeChunk(sha256.New(), chunk, best.Chunks, 0) == nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "a chunk of other bytes matched the signed chunk hash of release " + best.Version}
	}
	obs += fmt.Sprintf("; a corrupted first chunk of release %s refused", best.Version)
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (c *Client) checkFresh(ctx context.Context) conformance.Result {
	v, ref := c.snapshot()
	if v == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "no successful refresh yet", Detail: "the client has not verified repository metadata since it started"}
	}
	obs := fmt.Sprintf("timestamp v%d expires %s, snapshot v%d, targets v%d; trusted time %s", v.ts.Signed.Version, v.ts.Signed.Expires.UTC().Format(time.RFC3339), v.snap.Signed.Version, v.targets.Signed.Version, ref.Format(time.RFC3339))
	if v.ts.Signed.IsExpired(ref) || v.snap.Signed.IsExpired(ref) || v.targets.Signed.IsExpired(ref) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "metadata expired since the last refresh"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func (c *Client) checkSupport(ctx context.Context) conformance.Result {
	v, ref := c.snapshot()
	if v == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "no successful refresh yet", Detail: "no signed descriptor to read the support period from"}
	}
	var best *Descriptor
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range v.targets.Signed.Targets {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		tf := v.targets.Signed.Targets[name]
		if tf.Custom == nil {
			continue
		}
		d, err := DecodeDescriptor(*tf.Custom)
		if err != nil || d.HardwareID != c.cfg.HardwareID {
			continue
		}
		if best == nil || d.ReleaseCounter > best.ReleaseCounter {
			best = d
		}
	}
	if best == nil || best.SupportUntil.IsZero() {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "no signed release for " + c.cfg.HardwareID + " states a support period", Detail: "publish support_until in the release descriptor"}
	}
	obs := fmt.Sprintf("security updates until %s (signed, release %s)", best.SupportUntil.Format(dateLayout), best.Version)
	if ref.After(best.SupportUntil.Add(24 * time.Hour)) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the published support period has ended"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func signerFromEd25519(priv ed25519.PrivateKey) (signature.Signer, error) {
	return signature.LoadED25519Signer(priv)
}
