package update

import (
	"bytes"
	"context"
	"errors"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Verification steps broken the way the measured checks guard against.
// Installed in Client.steps, they break the client itself (the tests show
// that too), not just the probe.

// rootAnything takes any root metadata as the next root.
func rootAnything(tm *trustedmetadata.TrustedMetadata, b []byte) error {
	md, err := metadata.Root().FromBytes(b)
	if err != nil {
		return err
	}
	tm.Root = md
	return nil
}

// rootNoSignature checks the version of the next root, not its signatures.
func rootNoSignature(tm *trustedmetadata.TrustedMetadata, b []byte) error {
	md, err := metadata.Root().FromBytes(b)
	if err != nil {
		return err
	}
	if md.Signed.Version != tm.Root.Signed.Version+1 {
		return &metadata.ErrBadVersionNumber{Msg: "not the next version"}
	}
	tm.Root = md
	return nil
}

// rootNoVersion checks the signatures of the next root (by the current and
// by itself), not its version.
func rootNoVersion(tm *trustedmetadata.TrustedMetadata, b []byte) error {
	md, err := metadata.Root().FromBytes(b)
	if err != nil {
		return err
	}
	if err := tm.Root.VerifyDelegate(metadata.ROOT, md); err != nil {
		return err
	}
	if err := md.VerifyDelegate(metadata.ROOT, md); err != nil {
		return err
	}
	tm.Root = md
	return nil
}

// targetsAnything takes any targets metadata.
func targetsAnything(tm *trustedmetadata.TrustedMetadata, b []byte) error {
	md, err := metadata.Targets().FromBytes(b)
	if err != nil {
		return err
	}
	tm.Targets[metadata.TARGETS] = md
	return nil
}

// sigAnything is a targets signature check that accepts anything.
func sigAnything(*metadata.Metadata[metadata.RootType], *metadata.Metadata[metadata.TargetsType]) error {
	return nil
}

// sigKeyIDOnly accepts targets metadata carrying a signature under a key ID
// the root names, without verifying it.
func sigKeyIDOnly(root *metadata.Metadata[metadata.RootType], md *metadata.Metadata[metadata.TargetsType]) error {
	for _, id := range root.Signed.Roles[metadata.TARGETS].KeyIDs {
		for _, s := range md.Signatures {
			if s.KeyID == id {
				return nil
			}
		}
	}
	return &metadata.ErrUnsignedMetadata{Msg: "no signature"}
}

// chunkAnything accepts every chunk.
func chunkAnything(hash.Hash, []byte, []ChunkHash, int) error { return nil }

// chunkLastOnly checks only the last chunk (the whole-image SHA-256), so
// corrupted chunks before it reach the slot.
func chunkLastOnly(h hash.Hash, chunk []byte, hashes []ChunkHash, idx int) error {
	if idx < len(hashes)-1 {
		h.Write(chunk)
		return nil
	}
	return checkChunk(h, chunk, hashes, idx)
}

// chunkNotLast checks the chaining values but not the whole-image SHA-256
// at the last chunk.
func chunkNotLast(h hash.Hash, chunk []byte, hashes []ChunkHash, idx int) error {
	if idx == len(hashes)-1 {
		return nil
	}
	return checkChunk(h, chunk, hashes, idx)
}

func runCheck(t *testing.T, c *Client, id string) conformance.Result {
	t.Helper()
	return runCheckCtx(t, context.Background(), c, id)
}

func runCheckCtx(t *testing.T, ctx context.Context, c *Client, id string) conformance.Result {
	t.Helper()
	for _, chk := range c.Checks() {
		if chk.ID == id {
			r := chk.Run(ctx)
			t.Logf("%s: %s: %s [%s]", id, r.Verdict, r.Observed, r.Detail)
			if r.Verdict != conformance.Pass && r.Detail == "" {
				t.Errorf("%s: %s without a detail", id, r.Verdict)
			}
			return r
		}
	}
	t.Fatalf("no check %s", id)
	return conformance.Result{}
}

func wantVerdict(t *testing.T, r conformance.Result, want conformance.Verdict, substr ...string) {
	t.Helper()
	if r.Verdict != want {
		t.Fatalf("verdict %s, want %s (observed %q, detail %q)", r.Verdict, want, r.Observed, r.Detail)
	}
	for _, s := range substr {
		if !strings.Contains(r.Observed+" | "+r.Detail, s) {
			t.Errorf("%q not reported: observed %q, detail %q", s, r.Observed, r.Detail)
		}
	}
}

// refreshed returns a client of fx that completed a refresh.
func refreshed(t *testing.T, fx *fixture, mod func(*Config)) *Client {
	t.Helper()
	c := fx.client(mod)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChecksMethod(t *testing.T) {
	fx := newFixture(t, false)
	want := map[string]conformance.Method{
		"update.trust-root":     conformance.Measured,
		"update.verification":   conformance.Measured,
		"update.metadata-fresh": conformance.Configured,
		"update.support-period": conformance.Configured,
	}
	got := map[string]conformance.Method{}
	for _, chk := range fx.client(nil).Checks() {
		m := chk.Method
		if m == "" {
			m = conformance.Configured
		}
		got[chk.ID] = m
	}
	for id, m := range want {
		if got[id] != m {
			t.Errorf("%s: method %q, want %q", id, got[id], m)
		}
	}
	if len(got) != len(want) {
		t.Errorf("checks: %v", got)
	}
}

// TestChecksBeforeRefresh: nothing is claimed before the pinned root has
// verified anything, but what the pinned root allows is probed, and a
// broken step fails the check even then.
func TestChecksBeforeRefresh(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	c := fx.client(nil)
	wantVerdict(t, runCheck(t, c, "update.trust-root"), conformance.Inconclusive,
		"no refresh yet; the pinned root has not been used to verify anything")
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Inconclusive,
		"refused by the root-update step with the pinned root: a root v2 signed by a freshly generated key",
		"refused by the targets signature check with the pinned root",
		"no refresh yet")
	wantVerdict(t, runCheck(t, c, "update.metadata-fresh"), conformance.Inconclusive)
	wantVerdict(t, runCheck(t, c, "update.support-period"), conformance.Inconclusive)
	if n := len(fx.requests); n != 0 {
		t.Fatalf("checks made %d requests", n)
	}

	for name, set := range map[string]func(*steps){
		"root update accepts anything":  func(s *steps) { s.updateRoot = rootAnything },
		"root update skips signatures":  func(s *steps) { s.updateRoot = rootNoSignature },
		"signature check accepts any":   func(s *steps) { s.targetsSig = sigAnything },
		"signature check reads key IDs": func(s *steps) { s.targetsSig = sigKeyIDOnly },
	} {
		t.Run(name, func(t *testing.T) {
			c := fx.client(nil)
			set(&c.steps)
			wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail, "was accepted")
		})
	}
}

// TestChecksHealthy: after a refresh the measured checks pass, say what
// they offered and to which step, and change nothing: no file operation,
// no request, the same trusted state.
func TestChecksHealthy(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, 3*MinChunkSize+64), nil)
	c := refreshed(t, fx, nil)
	ops, reqs, view, trusted := fx.fs.Ops(), len(fx.requests), c.view.Load(), c.trusted
	targetsBefore, err := view.Targets[metadata.TARGETS].ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}

	wantVerdict(t, runCheck(t, c, "update.trust-root"), conformance.Pass,
		"refused by the root-update step: a root v2 signed by a freshly generated key, the root in use (v1) replayed as the next root")
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Pass,
		"refused by the targets-update step (the root's targets signature threshold): targets v2 with its signatures stripped, targets v2 with the sha256 of \"fw.bin\" altered, targets v2 signed by a freshly generated key",
		"refused by the targets signature check: the same three",
		"random bytes as chunk 1 of 4 (4096 bytes) of release 2.0.0",
		"random bytes as chunk 4 of 4 (64 bytes) of release 2.0.0")
	wantVerdict(t, runCheck(t, c, "update.metadata-fresh"), conformance.Pass)
	wantVerdict(t, runCheck(t, c, "update.support-period"), conformance.Pass, "2032-01-01")

	if fx.fs.Ops() != ops {
		t.Errorf("checks did %d file operations", fx.fs.Ops()-ops)
	}
	if len(fx.requests) != reqs {
		t.Errorf("checks made %d requests", len(fx.requests)-reqs)
	}
	if c.view.Load() != view || c.trusted != trusted {
		t.Error("checks replaced the trusted state")
	}
	if after, _ := view.Targets[metadata.TARGETS].ToBytes(false); !bytes.Equal(after, targetsBefore) {
		t.Error("checks changed the trusted targets")
	}
	// The client still downloads the release after the probes.
	if _, err := attempt(c); err != nil {
		t.Fatal(err)
	}
}

// TestCheckTrustRootBroken: a root-update step that takes a foreign root,
// or replays a root, lets the client follow that root, and trust-root
// fails.
func TestCheckTrustRootBroken(t *testing.T) {
	for name, tc := range map[string]struct {
		step   func(*trustedmetadata.TrustedMetadata, []byte) error
		detail string
	}{
		"accepts anything":  {rootAnything, "signed by a freshly generated key was accepted"},
		"skips signatures":  {rootNoSignature, "signed by a freshly generated key was accepted"},
		"skips the version": {rootNoVersion, "replayed as the next root was accepted"},
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, false)
			fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
			c := refreshed(t, fx, nil)
			c.steps.updateRoot = tc.step
			wantVerdict(t, runCheck(t, c, "update.trust-root"), conformance.Fail, tc.detail)
		})
	}

	// The broken step breaks the client, not only the probe: a root signed
	// by a key the repository never had is followed and persisted.
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	foreign, err := foreignRoot(&fx.repo.Root.Signed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.repo.Dir, "metadata", "2.root.json"), foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fx.client(nil).Refresh(context.Background()); !errors.Is(err, ErrMetadata) {
		t.Fatalf("healthy client: %v", err)
	}
	broken := fx.client(nil)
	broken.steps.updateRoot = rootAnything
	_ = broken.Refresh(context.Background())
	if _, err := fx.fs.Stat("state/roots/2.root.json"); err != nil {
		t.Fatalf("the broken client did not take the foreign root: %v", err)
	}
}

// TestCheckTrustRootAfterRotation: after the client followed rotations,
// the pinned root is replayed too.
func TestCheckTrustRootAfterRotation(t *testing.T) {
	fx := newFixture(t, false)
	pinned := fx.repo.RootBytes()
	if err := fx.repo.RotateRoot(true); err != nil {
		t.Fatal(err)
	}
	if err := fx.repo.RotateRoot(false); err != nil {
		t.Fatal(err)
	}
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	c := refreshed(t, fx, func(c *Config) { c.TrustedRoot = pinned })
	wantVerdict(t, runCheck(t, c, "update.trust-root"), conformance.Pass,
		"pinned root v1", "in use: root v3", "a root v4 signed by a freshly generated key",
		"the root in use (v3) replayed", "the pinned root v1 replayed after rotation")
}

// TestCheckVerificationBrokenTargets: a targets-update step that takes
// targets metadata without its signatures lets the client trust it, and
// verification fails.
func TestCheckVerificationBrokenTargets(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	orig := fx.repo.ReadMeta("targets.json")
	md, err := metadata.Targets().FromBytes(orig)
	if err != nil {
		t.Fatal(err)
	}
	md.Signatures = []metadata.Signature{}
	unsigned, err := md.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	fx.repo.WriteMeta("targets.json", unsigned)
	if err := fx.client(nil).Refresh(context.Background()); !errors.Is(err, ErrMetadata) {
		t.Fatalf("healthy client took unsigned targets: %v", err)
	}
	c := fx.client(nil)
	c.steps.updateTargets = targetsAnything
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("the broken client refused unsigned targets: %v", err)
	}
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail,
		"targets v2 with its signatures stripped was accepted by the targets-update step")

	for name, set := range map[string]func(*steps){
		"signature check accepts any":   func(s *steps) { s.targetsSig = sigAnything },
		"signature check reads key IDs": func(s *steps) { s.targetsSig = sigKeyIDOnly },
	} {
		t.Run(name, func(t *testing.T) {
			fx.repo.WriteMeta("targets.json", orig)
			c := refreshed(t, fx, nil)
			set(&c.steps)
			wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail, "by the targets signature check")
		})
	}
}

// TestCheckVerificationSnapshotHashes: when snapshot lists the hash of
// targets.json (as package release writes it), the targets-update step
// refuses every copy by that hash, and the signature check is still
// probed on its own.
func TestCheckVerificationSnapshotHashes(t *testing.T) {
	fx := newFixture(t, false)
	fx.repo.SnapshotHashes = true
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	c := refreshed(t, fx, nil)
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Pass,
		"refused by the targets-update step (the snapshot's hash of targets.json)",
		"refused by the targets signature check: the same three")
	c.steps.targetsSig = sigKeyIDOnly
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail, "by the targets signature check")
	c.steps.targetsSig = nil
	c.steps.updateTargets = targetsAnything
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail, "by the targets-update step")
}

// TestCheckVerificationBrokenChunks: a chunk check that lets corrupted
// bytes through puts them in the slot, and verification fails, whether it
// skips every chunk, the chunks before the last, or the last.
func TestCheckVerificationBrokenChunks(t *testing.T) {
	img := randomImage(t, 3*MinChunkSize+64)
	for name, tc := range map[string]struct {
		step    func(hash.Hash, []byte, []ChunkHash, int) error
		detail  string
		corrupt int // the byte the mirror flips
	}{
		"accepts anything":   {chunkAnything, "chunk 1 of 4", 0},
		"checks only last":   {chunkLastOnly, "chunk 1 of 4", 0},
		"skips the last one": {chunkNotLast, "chunk 4 of 4", len(img) - 1},
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, false)
			fx.addRelease("fw.bin", img, nil)
			c := refreshed(t, fx, nil)
			c.steps.checkChunk = tc.step
			wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail,
				tc.detail, "was accepted by the chunk check")

			// The client is broken too: the mirror's flipped byte reaches
			// the slot.
			bad := bytes.Clone(img)
			bad[tc.corrupt] ^= 1
			if err := os.WriteFile(fx.repo.TargetPath("fw.bin"), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			slot, _ := attempt(c)
			if len(slot.data) <= tc.corrupt || slot.data[tc.corrupt] != bad[tc.corrupt] {
				t.Fatal("the broken chunk check kept the corrupted chunk out of the slot")
			}
		})
	}
}

// TestCheckVerificationNoRelease: without a signed release for this
// hardware the chunk check cannot be probed; the metadata probes still ran.
func TestCheckVerificationNoRelease(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), func(d *Descriptor) { d.HardwareID = "other-hw" })
	c := refreshed(t, fx, nil)
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Inconclusive,
		"refused by the targets signature check", "the chunk check was not probed")
	insecure := refreshed(t, fx, func(c *Config) { c.InsecureAllowNoDescriptor = true; c.HardwareID = "other-hw" })
	wantVerdict(t, runCheck(t, insecure, "update.verification"), conformance.Inconclusive,
		"refused by the chunk check", "InsecureAllowNoDescriptor")
}

// TestChecksAfterExpiry: metadata that expired since the refresh is
// reported by metadata-fresh (and an expired root by trust-root), while
// the verification probes still reach the checks they probe.
func TestChecksAfterExpiry(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	now := testNow
	c := refreshed(t, fx, func(c *Config) { c.Now = func() time.Time { return now } })
	now = testNow.AddDate(2, 0, 0)
	wantVerdict(t, runCheck(t, c, "update.metadata-fresh"), conformance.Fail)
	wantVerdict(t, runCheck(t, c, "update.trust-root"), conformance.Fail, "expired")
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Pass, "refused by the chunk check")
}

// TestChecksCancelled: a cancelled context stops the probes; nothing is
// claimed.
func TestChecksCancelled(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	c := refreshed(t, fx, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, id := range []string{"update.trust-root", "update.verification"} {
		wantVerdict(t, runCheckCtx(t, ctx, c, id), conformance.NotRun, "probe interrupted")
	}
}

// TestCheckVerificationCoSignature: with an ML-DSA-65 key pinned, the
// newest release's co-signature must verify and be refused over an altered
// hash; a co-signature check that accepts anything lets a release
// co-signed by another key through, and verification fails.
func TestCheckVerificationCoSignature(t *testing.T) {
	pub, priv, err := mldsa65.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, err := mldsa65.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pinned := func(c *Config) { c.CoSignKey = pub }
	cosigned := func(fx *fixture, signer *mldsa65.PrivateKey) {
		img := randomImage(t, 2*MinChunkSize)
		fx.addRelease("fw.bin", img, func(d *Descriptor) {
			tf, err := metadata.TargetFile().FromBytes("fw.bin", img, "sha256", "sha512")
			if err != nil {
				t.Fatal(err)
			}
			if d.CoSignature, err = CoSign(signer, "fw.bin", tf.Length, tf.Hashes, d.ReleaseCounter, d.HardwareID); err != nil {
				t.Fatal(err)
			}
		})
	}

	fx := newFixture(t, false)
	cosigned(fx, priv)
	before := fx.client(pinned)
	wantVerdict(t, runCheck(t, before, "update.verification"), conformance.Inconclusive, "configured, not probed: ML-DSA-65 co-signature key")
	c := refreshed(t, fx, pinned)
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Pass,
		"refused by the co-signature check with the pinned ML-DSA-65 co-signature key "+MLDSAKeyID(pub)[:16]+": the co-signature of release 2.0.0 over its sha256 altered")
	c.steps.coSig = func(*mldsa65.PublicKey, *CoSignature, string, int64, metadata.Hashes, uint64, string) error {
		return nil
	}
	wantVerdict(t, runCheck(t, c, "update.verification"), conformance.Fail, "was accepted by the co-signature check")

	// The broken check breaks the client: a release co-signed by another
	// key is downloaded.
	other := newFixture(t, false)
	cosigned(other, otherPriv)
	mustRefuse(t, other.client(pinned), ErrCoSignature)
	broken := other.client(pinned)
	broken.steps.coSig = c.steps.coSig
	if _, err := attempt(broken); err != nil {
		t.Fatalf("the broken client refused a release co-signed by another key: %v", err)
	}
	// A release whose own co-signature does not verify leaves nothing to
	// probe against.
	wantVerdict(t, runCheck(t, refreshed(t, other, pinned), "update.verification"), conformance.Inconclusive, "does not verify")
}
