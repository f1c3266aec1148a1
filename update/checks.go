package update

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Checks returns the self-checks for the update provisions, observed from
// the client's running configuration and its last verified metadata:
//
//   - update.trust-root (5.3-10): the pinned root and the rotated root in use.
//   - update.verification (5.3-7, 5.3-9): what is verified before a byte is
//     trusted (threshold signatures, hashes, chunk hashes, co-signature).
//   - update.metadata-fresh (5.3-7): the last refresh produced metadata that
//     is not expired at the trusted time.
//   - update.support-period (5.3-13): the support end date in the newest
//     signed descriptor for this hardware.
func (c *Client) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "update.trust-root", Provisions: []string{"5.3-10"}, Title: "Updates are trusted through a TUF root pinned in the firmware, with signed rotation", Run: c.checkRoot},
		{ID: "update.verification", Provisions: []string{"5.3-7", "5.3-9"}, Title: "Update images are verified (signatures, length, hashes) before any byte is trusted", Run: c.checkVerification},
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

func (c *Client) checkRoot(ctx context.Context) conformance.Result {
	pinned := c.root.Signed
	obs := fmt.Sprintf("pinned root v%d (%s)", pinned.Version, roleSummary(&pinned, metadata.ROOT))
	v, ref := c.snapshot()
	if v != nil {
		obs += fmt.Sprintf("; in use: root v%d (%s, %s, %s, %s)", v.root.Signed.Version,
			roleSummary(&v.root.Signed, metadata.ROOT), roleSummary(&v.root.Signed, metadata.TARGETS),
			roleSummary(&v.root.Signed, metadata.SNAPSHOT), roleSummary(&v.root.Signed, metadata.TIMESTAMP))
		if v.root.Signed.IsExpired(ref) {
			return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the root in use is expired at the trusted time"}
		}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
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
	obs := strings.Join(parts, ", ")
	if c.cfg.InsecureAllowNoDescriptor {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs + ", InsecureAllowNoDescriptor", Detail: "targets without a descriptor are accepted without hardware-ID and release-counter checks"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs + ", hardware ID " + c.cfg.HardwareID + " and release counter enforced"}
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
