package update

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/iotbaseline/baseline/update/internal/wire"
)

// Checks returns the self-checks for the update provisions.
//
// Two are [conformance.Measured]: they offer input a device must refuse to
// the verification steps a refresh or a download takes (steps.go) and
// require a refusal for the reason the step exists. They work on copies:
// a fresh trust state built from what the client holds, random bytes
// against a signed chunk hash. They never write to a slot, the metadata
// store or the client's trusted state, and they do no network I/O.
//
//   - update.trust-root (5.3-10): after a refresh, offers the root-update
//     step a root of the next version signed by a freshly generated key
//     (its signature also filed under the trusted root keys' IDs, so the
//     signature is verified, not just looked up), which must be refused as
//     unsigned, and the root in use replayed as the next one, which must be
//     refused as a rollback; after a rotation, the pinned older root too.
//     INCONCLUSIVE before any refresh: the pinned root has not yet been
//     used. FAIL, without probing, when the root in use is expired at the
//     trusted time.
//   - update.verification (5.3-7, 5.3-9): after a refresh, copies of the
//     trusted targets metadata with its signatures stripped, with one
//     target's signed hash altered, and signed by a foreign key go through
//     the targets-update step (refused by the snapshot's hash of
//     targets.json when the repository lists one, else by the signature
//     threshold) and through the targets signature check itself; then
//     random bytes are checked as the first and the last chunk of the
//     newest signed release for this hardware through the chunk check every
//     download runs (it hashes at most two chunks: 2 MiB at the default
//     chunk size); with [Config.CoSignKey] set, that release's ML-DSA-65
//     co-signature must verify and must be refused over an altered sha256.
//     Before a refresh it does what the pinned root allows: a foreign root
//     and a foreign-signed targets file must be refused; the verdict stays
//     INCONCLUSIVE. INCONCLUSIVE as well under
//     [Config.InsecureAllowNoDescriptor] or without a signed release for
//     this hardware to take chunk hashes from.
//
// Two read what the client holds ([conformance.Configured]):
//
//   - update.metadata-fresh (5.3-7): the expiry of the timestamp, snapshot
//     and targets from the last refresh, compared with the trusted time.
//   - update.support-period (5.3-13): the support end date in the newest
//     signed descriptor for this hardware.
func (c *Client) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "update.trust-root", Method: conformance.Measured, Provisions: []string{"5.3-10"}, Title: "Updates are trusted only through the pinned TUF root: a foreign or stale root is refused", Run: c.checkRoot},
		{ID: "update.verification", Method: conformance.Measured, Provisions: []string{"5.3-7", "5.3-9"}, Title: "Unsigned, altered or foreign-signed release metadata and a corrupted image chunk are refused", Run: c.checkVerification},
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

// probeTime is the reference time for the probes' fresh trust states: the
// time floor, which is never later than the last successful refresh, so
// metadata the client holds loads even if it expired since (the expiry is
// update.metadata-fresh's concern) and a probe is refused for what it
// probes, not for age.
func (c *Client) probeTime(ref time.Time) time.Time {
	if f := c.getFloor(); !f.IsZero() && f.Before(ref) {
		return f
	}
	return ref
}

func roleSummary(r *metadata.RootType, role string) string {
	ro := r.Roles[role]
	if ro == nil {
		return role + " missing"
	}
	return fmt.Sprintf("%s %d-of-%d", role, ro.Threshold, len(ro.KeyIDs))
}

// The refusals a probe expects, for errors.Is.
var (
	errUnsigned = &metadata.ErrUnsignedMetadata{}
	errVersion  = &metadata.ErrBadVersionNumber{}
	errHash     = &metadata.ErrLengthOrHashMismatch{}
)

// judge says whether a probe was refused for one of the reasons in want.
// A probe refused for another reason never reached the check it probes:
// that proves nothing either way.
func judge(what string, err error, want ...error) (conformance.Verdict, string) {
	if err == nil {
		return conformance.Fail, what + " was accepted"
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return conformance.Pass, ""
		}
	}
	return conformance.Inconclusive, what + " was refused before reaching the check it probes: " + err.Error()
}

func interrupted(obs string, err error) conformance.Result {
	return conformance.Result{Verdict: conformance.NotRun, Observed: obs, Detail: "probe interrupted: " + err.Error()}
}

func (c *Client) checkRoot(ctx context.Context) conformance.Result {
	pinned := &c.root.Signed
	obs := fmt.Sprintf("pinned root v%d (%s)", pinned.Version, roleSummary(pinned, metadata.ROOT))
	v, ref := c.snapshot()
	if v == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "no refresh yet; the pinned root has not been used to verify anything"}
	}
	inUse := &v.root.Signed
	obs += fmt.Sprintf("; in use: root v%d (%s, %s, %s, %s)", inUse.Version,
		roleSummary(inUse, metadata.ROOT), roleSummary(inUse, metadata.TARGETS),
		roleSummary(inUse, metadata.SNAPSHOT), roleSummary(inUse, metadata.TIMESTAMP))
	if inUse.Version < pinned.Version {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use is older than the pinned root"}
	}
	if inUse.IsExpired(ref) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use is expired at the trusted time"}
	}
	cur, err := v.root.ToBytes(false)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use does not serialise: " + err.Error()}
	}
	foreign, err := foreignRoot(inUse)
	if err != nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: "could not build the foreign-root probe: " + err.Error()}
	}
	type probe struct {
		what string
		b    []byte
		want []error
	}
	probes := []probe{
		{fmt.Sprintf("a root v%d signed by a freshly generated key", inUse.Version+1), foreign, []error{errUnsigned}},
		{fmt.Sprintf("the root in use (v%d) replayed as the next root", inUse.Version), cur, []error{errVersion}},
	}
	if inUse.Version > pinned.Version {
		// Older than the root in use: refused by its version, or by its
		// signatures when the root keys were rotated.
		probes = append(probes, probe{fmt.Sprintf("the pinned root v%d replayed after rotation", pinned.Version), c.cfg.TrustedRoot, []error{errVersion, errUnsigned}})
	}
	at := c.probeTime(ref)
	var refused []string
	for _, p := range probes {
		if err := ctx.Err(); err != nil {
			return interrupted(obs, err)
		}
		// A fresh trust state per probe: a broken step may have changed it.
		tm, err := trustedmetadata.New(cur)
		if err != nil {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use does not load: " + err.Error()}
		}
		tm.RefTime = at
		if verdict, detail := judge(p.what, c.updateRoot(tm, p.b), p.want...); verdict != conformance.Pass {
			return conformance.Result{Verdict: verdict, Observed: obs, Detail: detail + " by the root-update step"}
		}
		refused = append(refused, p.what)
	}
	obs += "; refused by the root-update step: " + strings.Join(refused, ", ")
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

// foreignSigner returns a signer for a freshly generated Ed25519 key and
// that key in TUF form. The private key lives only as long as the probe.
func foreignSigner() (signature.Signer, *metadata.Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	key, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	signer, err := signature.LoadED25519Signer(priv)
	return signer, key, err
}

// signForeign replaces md's signatures with one by a freshly generated key,
// filed under its own key ID and again under each of ids (the keys the
// verifier trusts), so a verifier must check the signature itself, not
// only look for a known key ID.
func signForeign[T metadata.Roles](md *metadata.Metadata[T], signer signature.Signer, ids []string) error {
	md.ClearSignatures()
	sig, err := md.Sign(signer)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id != sig.KeyID {
			md.Signatures = append(md.Signatures, metadata.Signature{KeyID: id, Signature: slices.Clone(sig.Signature)})
		}
	}
	return nil
}

// foreignRoot returns root metadata of the next version whose roles all
// name a freshly generated key, signed by that key only.
func foreignRoot(cur *metadata.RootType) ([]byte, error) {
	signer, key, err := foreignSigner()
	if err != nil {
		return nil, err
	}
	md := metadata.Root(cur.Expires)
	md.Signed.Version = cur.Version + 1
	md.Signed.ConsistentSnapshot = cur.ConsistentSnapshot
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := md.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
	}
	var ids []string
	if r := cur.Roles[metadata.ROOT]; r != nil {
		ids = r.KeyIDs
	}
	if err := signForeign(md, signer, ids); err != nil {
		return nil, err
	}
	return md.ToBytes(false)
}

// targetsProbes returns three copies of the trusted targets metadata a
// device must refuse: signatures stripped, one signed field altered (a
// target's sha256, or the expiry when no target is listed) with the
// signatures kept, and signed by a foreign key.
func targetsProbes(trusted *metadata.Metadata[metadata.TargetsType], ids []string) (what []string, mds []*metadata.Metadata[metadata.TargetsType], err error) {
	raw, err := trusted.ToBytes(false)
	if err != nil {
		return nil, nil, err
	}
	copies := make([]*metadata.Metadata[metadata.TargetsType], 3)
	for i := range copies {
		if copies[i], err = (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(raw); err != nil {
			return nil, nil, err
		}
	}
	v := trusted.Signed.Version
	copies[0].Signatures = []metadata.Signature{}
	what = append(what, fmt.Sprintf("targets v%d with its signatures stripped", v))
	altered := ""
	for _, name := range slices.Sorted(maps.Keys(copies[1].Signed.Targets)) {
		if h := copies[1].Signed.Targets[name].Hashes["sha256"]; len(h) > 0 {
			h[0] ^= 1
			altered = fmt.Sprintf("targets v%d with the sha256 of %q altered", v, name)
			break
		}
	}
	if altered == "" {
		copies[1].Signed.Expires = copies[1].Signed.Expires.Add(24 * time.Hour)
		altered = fmt.Sprintf("targets v%d with its expiry extended", v)
	}
	what = append(what, altered)
	signer, _, err := foreignSigner()
	if err != nil {
		return nil, nil, err
	}
	if err := signForeign(copies[2], signer, ids); err != nil {
		return nil, nil, err
	}
	what = append(what, fmt.Sprintf("targets v%d signed by a freshly generated key", v))
	return what, copies, nil
}

func (c *Client) checkVerification(ctx context.Context) conformance.Result {
	var done []string
	coSigProbed := false
	result := func(verdict conformance.Verdict, detail string) conformance.Result {
		obs := strings.Join(done, "; ")
		if obs == "" {
			obs = "nothing probed"
		}
		if c.cfg.CoSignKey != nil && !coSigProbed {
			obs += "; configured, not probed: ML-DSA-65 co-signature key " + wire.KeyID(c.cfg.CoSignKey)[:16]
		}
		return conformance.Result{Verdict: verdict, Observed: obs, Detail: detail}
	}
	if err := ctx.Err(); err != nil {
		return interrupted("nothing probed", err)
	}
	v, ref := c.snapshot()
	if v == nil {
		return c.verifyPinnedOnly(ctx, &done, result)
	}
	at := c.probeTime(ref)

	// 1. The targets-update step, in a fresh trust state loaded with the
	// root, timestamp and snapshot the client holds.
	var ids []string
	if r := v.root.Signed.Roles[metadata.TARGETS]; r != nil {
		ids = r.KeyIDs
	}
	what, mds, err := targetsProbes(v.targets, ids)
	if err != nil {
		return result(conformance.Inconclusive, "could not build the targets probes: "+err.Error())
	}
	state, err := trustState(v)
	if err != nil {
		return result(conformance.Inconclusive, "the metadata held does not serialise: "+err.Error())
	}
	byHash := false
	for i, md := range mds {
		if err := ctx.Err(); err != nil {
			return interrupted(strings.Join(done, "; "), err)
		}
		b, err := md.ToBytes(false)
		if err != nil {
			return result(conformance.Inconclusive, "could not serialise a targets probe: "+err.Error())
		}
		tm, err := state.load(at)
		if err != nil {
			return result(conformance.Inconclusive, "the metadata held does not load into a fresh trust state: "+err.Error())
		}
		err = c.updateTargets(tm, b)
		if verdict, detail := judge(what[i], err, errHash, errUnsigned); verdict != conformance.Pass {
			return result(verdict, detail+" by the targets-update step")
		}
		byHash = byHash || errors.Is(err, errHash)
	}
	reason := "the root's targets signature threshold"
	if byHash {
		reason = "the snapshot's hash of targets.json"
	}
	done = append(done, "refused by the targets-update step ("+reason+"): "+strings.Join(what, ", "))

	// 2. The signature check itself, which the snapshot's hash may have
	// kept the probes from reaching.
	for i, md := range mds {
		if verdict, detail := judge(what[i], c.verifyTargetsSig(v.root, md), errUnsigned); verdict != conformance.Pass {
			return result(verdict, detail+" by the targets signature check")
		}
	}
	done = append(done, "refused by the targets signature check: the same three")

	// 3. The chunk check, against the newest signed release.
	rel := c.newestRelease(&v.targets.Signed)
	if rel == nil {
		return result(conformance.Inconclusive, "no consistent signed release for "+c.cfg.HardwareID+" to take chunk hashes from; the chunk check was not probed")
	}
	refused, verdict, detail, err := c.probeChunks(ctx, rel)
	switch {
	case ctx.Err() != nil:
		return interrupted(strings.Join(done, "; "), ctx.Err())
	case err != nil:
		return result(conformance.Inconclusive, "could not probe the chunk check: "+err.Error())
	case verdict != conformance.Pass:
		return result(verdict, detail+" by the chunk check")
	}
	done = append(done, "refused by the chunk check: "+refused)

	// 4. The co-signature check, when a key is pinned: the release's own
	// co-signature must verify, and must not once its signed sha256 is
	// altered.
	if key := c.cfg.CoSignKey; key != nil {
		d := rel.Descriptor
		if err := c.verifyCoSignature(key, d.CoSignature, rel.Path, rel.Length, rel.Hashes, d.ReleaseCounter, d.HardwareID); err != nil {
			return result(conformance.Inconclusive, "the co-signature check was not probed: the co-signature of release "+d.Version+" does not verify ("+err.Error()+"), so a download refuses it")
		}
		altered := Release{Hashes: rel.Hashes}.clone().Hashes
		altered["sha256"][0] ^= 1
		what := "the co-signature of release " + d.Version + " over its sha256 altered"
		if verdict, detail := judge(what, c.verifyCoSignature(key, d.CoSignature, rel.Path, rel.Length, altered, d.ReleaseCounter, d.HardwareID), ErrCoSignature); verdict != conformance.Pass {
			return result(verdict, detail+" by the co-signature check")
		}
		done = append(done, "refused by the co-signature check with the pinned ML-DSA-65 co-signature key "+wire.KeyID(key)[:16]+": "+what)
		coSigProbed = true
	}
	if c.cfg.InsecureAllowNoDescriptor {
		return result(conformance.Inconclusive, "InsecureAllowNoDescriptor: targets without a descriptor are accepted without hardware-ID and release-counter checks, and verified as one chunk")
	}
	return result(conformance.Pass, "")
}

// verifyPinnedOnly probes what the pinned root alone allows, before any
// refresh: the first root-update step of a refresh with a foreign root,
// and the targets signature check with a foreign-signed targets file.
func (c *Client) verifyPinnedOnly(ctx context.Context, done *[]string, result func(conformance.Verdict, string) conformance.Result) conformance.Result {
	foreign, err := foreignRoot(&c.root.Signed)
	if err != nil {
		return result(conformance.Inconclusive, "could not build the foreign-root probe: "+err.Error())
	}
	tm, err := trustedmetadata.New(c.cfg.TrustedRoot)
	if err != nil {
		return result(conformance.Fail, "the pinned root does not load: "+err.Error())
	}
	tm.RefTime = c.refTime()
	what := fmt.Sprintf("a root v%d signed by a freshly generated key", c.root.Signed.Version+1)
	if verdict, detail := judge(what, c.updateRoot(tm, foreign), errUnsigned); verdict != conformance.Pass {
		return result(verdict, detail+" by the root-update step")
	}
	*done = append(*done, "refused by the root-update step with the pinned root: "+what)
	if err := ctx.Err(); err != nil {
		return interrupted(strings.Join(*done, "; "), err)
	}
	signer, _, err := foreignSigner()
	if err != nil {
		return result(conformance.Inconclusive, "could not build the targets probe: "+err.Error())
	}
	md := metadata.Targets(c.root.Signed.Expires)
	var ids []string
	if r := c.root.Signed.Roles[metadata.TARGETS]; r != nil {
		ids = r.KeyIDs
	}
	if err := signForeign(md, signer, ids); err != nil {
		return result(conformance.Inconclusive, "could not build the targets probe: "+err.Error())
	}
	what = "a targets file signed by a freshly generated key"
	if verdict, detail := judge(what, c.verifyTargetsSig(c.root, md), errUnsigned); verdict != conformance.Pass {
		return result(verdict, detail+" by the targets signature check with the pinned root")
	}
	*done = append(*done, "refused by the targets signature check with the pinned root: "+what)
	return result(conformance.Inconclusive, "no refresh yet: the probes of the targets-update step and of the chunk check need the signed targets metadata a refresh brings")
}

// heldState is the root, timestamp and snapshot the client holds, as bytes
// to load into fresh trust states.
type heldState struct{ root, ts, snap []byte }

func trustState(v *metadataView) (*heldState, error) {
	var s heldState
	var e1, e2, e3 error
	s.root, e1 = v.root.ToBytes(false)
	s.ts, e2 = v.ts.ToBytes(false)
	s.snap, e3 = v.snap.ToBytes(false)
	return &s, errors.Join(e1, e2, e3)
}

// load returns a fresh trust state at time at, ready for targets. The
// snapshot is loaded as trusted (its hash in the timestamp is not checked:
// re-serialised bytes need not match it), exactly as the client reloads
// its own stored snapshot; its signature is checked.
func (s *heldState) load(at time.Time) (*trustedmetadata.TrustedMetadata, error) {
	tm, err := trustedmetadata.New(s.root)
	if err != nil {
		return nil, err
	}
	tm.RefTime = at
	if _, err := tm.UpdateTimestamp(s.ts); err != nil {
		return nil, err
	}
	if _, err := tm.UpdateSnapshot(s.snap, true); err != nil {
		return nil, err
	}
	return tm, nil
}

// newestDescriptor returns the target with the highest release counter
// for this hardware (the first path in order among equals).
func (c *Client) newestDescriptor(t *metadata.TargetsType) (string, *metadata.TargetFiles, *Descriptor) {
	var (
		bestPath string
		bestTF   *metadata.TargetFiles
		best     *Descriptor
	)
	for _, name := range slices.Sorted(maps.Keys(t.Targets)) {
		tf := t.Targets[name]
		if tf.Custom == nil {
			continue
		}
		d, err := DecodeDescriptor(*tf.Custom)
		if err != nil || d.HardwareID != c.cfg.HardwareID {
			continue
		}
		if best == nil || d.ReleaseCounter > best.ReleaseCounter {
			bestPath, bestTF, best = name, tf, d
		}
	}
	return bestPath, bestTF, best
}

// newestRelease returns the newest release for this hardware as a
// download would verify it, or nil when there is none or its descriptor
// does not match its signed length and sha256 (a download refuses it).
func (c *Client) newestRelease(t *metadata.TargetsType) *Release {
	path, tf, d := c.newestDescriptor(t)
	if d == nil || d.CheckLength(tf.Length) != nil || len(d.Chunks) == 0 ||
		subtle.ConstantTimeCompare(d.Chunks[len(d.Chunks)-1][:], tf.Hashes["sha256"]) != 1 {
		return nil
	}
	return &Release{Path: path, Length: tf.Length, Hashes: tf.Hashes, Descriptor: d}
}

// chunkProbeBuf bounds the probe's buffer: a chunk is fed in pieces of
// this size, the last piece through the chunk check.
const chunkProbeBuf = 64 << 10

// probeChunks checks random bytes as the first chunk and as the last chunk
// of rel through the chunk check, each from the hash state a download has
// there (a fresh SHA-256, or the signed chaining value of the chunk
// before). The first exercises the chaining-value comparison, the last the
// whole-image SHA-256. It returns what was refused, or the verdict and
// detail of the first probe that was not refused as a hash mismatch; err
// is set when it could not probe.
func (c *Client) probeChunks(ctx context.Context, rel *Release) (refused string, verdict conformance.Verdict, detail string, err error) {
	p, err := c.plan(rel)
	if err != nil {
		return "", "", "", err
	}
	idxs := []int{0}
	if last := len(p.hashes) - 1; last > 0 {
		idxs = append(idxs, last)
	}
	buf := make([]byte, min(p.chunk, chunkProbeBuf))
	rand.Read(buf)
	var names []string
	for _, i := range idxs {
		off := int64(i) * int64(p.chunk)
		n := min(int64(p.chunk), rel.Length-off)
		var prev ChunkHash
		if i > 0 {
			prev = p.hashes[i-1]
		}
		h, err := wire.HasherAt(prev, off)
		if err != nil {
			return "", "", "", err
		}
		for n > int64(len(buf)) {
			if err := ctx.Err(); err != nil {
				return "", "", "", err
			}
			h.Write(buf)
			n -= int64(len(buf))
		}
		name := fmt.Sprintf("random bytes as chunk %d of %d (%d bytes) of release %s", i+1, len(p.hashes), min(int64(p.chunk), rel.Length-off), rel.Descriptor.Version)
		if v, d := judge(name, c.verifyChunk(h, buf[:n], p.hashes, i), ErrTarget); v != conformance.Pass {
			return "", v, d, nil
		}
		names = append(names, name)
	}
	return strings.Join(names, ", "), conformance.Pass, "", nil
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
	_, _, best := c.newestDescriptor(&v.targets.Signed)
	if best == nil || best.SupportUntil.IsZero() {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "no signed release for " + c.cfg.HardwareID + " states a support period", Detail: "publish support_until in the release descriptor"}
	}
	obs := fmt.Sprintf("security updates until %s (signed, release %s)", best.SupportUntil.Format(wire.DateLayout), best.Version)
	if ref.After(best.SupportUntil.Add(24 * time.Hour)) {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the published support period has ended"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}
