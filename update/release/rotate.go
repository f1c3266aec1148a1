package release

import (
	"context"
	"crypto"
	"fmt"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Resign signs a role's metadata again as a new version with a fresh
// expiry, and whatever must follow it: the snapshot and timestamp after
// targets, the timestamp after the snapshot. Run it from cron for the
// timestamp (daily, with the default expiry) and the snapshot (weekly);
// Resign(ctx, Root) renews root.json as version N+1 with the same keys.
// It needs the keys of every role it signs.
func (r *Repo) Resign(ctx context.Context, role string) (err error) {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if role == Root {
		return r.Rotate(ctx, Root, r.keys.Root, r.root.Signed.Roles[Root].Threshold)
	}
	role = r.fromStale(role)
	switch role {
	case Targets:
		if err := r.checkKeys(Targets, Snapshot, Timestamp); err != nil {
			return err
		}
	case Snapshot:
		if err := r.checkKeys(Snapshot, Timestamp); err != nil {
			return err
		}
	case Timestamp:
		if err := r.checkKeys(Timestamp); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unknown role %q", ErrConfig, role)
	}
	defer func() {
		if err != nil {
			r.reload()
		}
	}()
	return r.cascade(role)
}

// fromStale widens a re-signing to start at the highest role left signed
// under the previous root by an interrupted rotation.
func (r *Repo) fromStale(role string) string {
	switch {
	case r.stale[Targets]:
		return Targets
	case r.stale[Snapshot] && role == Timestamp:
		return Snapshot
	}
	return role
}

// cascade re-signs role and the roles below it and writes them.
func (r *Repo) cascade(role string) error {
	switch role {
	case Targets:
		if err := r.bump(Targets); err != nil {
			return err
		}
		return r.publish(true)
	case Snapshot:
		return r.publish(false)
	case Timestamp:
		if err := r.bump(Timestamp); err != nil {
			return err
		}
		data, err := r.timestamp.ToBytes(false)
		if err != nil {
			return err
		}
		return r.write(r.metaPath("timestamp.json"), data)
	}
	return nil
}

// Rotate replaces the keys of role with newKeys and its threshold with
// threshold (zero means 1). It writes root version N+1 as N+1.root.json and
// root.json, signed by the threshold of the current root keys (Config.Keys.Root)
// and, when role is Root, by the threshold of the new root keys too: the two
// signatures sets a TUF client requires to move from root N to N+1. For the
// other roles it then re-signs the role's metadata with the new keys (and
// snapshot and timestamp after it), so clients verify against the new root
// at once. Keys no role uses any more are dropped from root.json.
//
// After Rotate the Repo signs role with newKeys. If a rotation of the
// targets, snapshot or timestamp keys is interrupted after the new root was
// written, clients refuse the role's old signatures until it is re-signed:
// open the repository with the new keys and run [Repo.Resign] for the role
// (or run the same rotation again, which writes one more root version).
func (r *Repo) Rotate(ctx context.Context, role string, newKeys []crypto.Signer, threshold int) (err error) {
	if err := r.usable(); err != nil {
		return err
	}
	if !slices.Contains(roles, role) {
		return fmt.Errorf("%w: unknown role %q", ErrConfig, role)
	}
	if threshold == 0 {
		threshold = 1
	}
	if threshold < 0 {
		return fmt.Errorf("%w: threshold %d", ErrConfig, threshold)
	}
	if err := r.checkKeys(Root); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	prev := r.root
	data, err := prev.ToBytes(false)
	if err != nil {
		return err
	}
	next, err := metadata.Root().FromBytes(data)
	if err != nil {
		return err
	}
	next.Signed.Version = prev.Signed.Version + 1
	next.Signed.Expires = r.expires(Root)
	next.Signed.Roles[role].KeyIDs = []string{}
	ids, err := addRoleKeys(next, role, newKeys)
	if err != nil {
		return err
	}
	if len(ids) < threshold {
		return fmt.Errorf("%w: %s has %d distinct new keys, threshold %d", ErrThreshold, role, len(ids), threshold)
	}
	next.Signed.Roles[role].Threshold = threshold
	for id := range next.Signed.Keys {
		used := false
		for _, def := range next.Signed.Roles {
			used = used || slices.Contains(def.KeyIDs, id)
		}
		if !used {
			delete(next.Signed.Keys, id)
		}
	}
	signers := slices.Clone(r.keys.Root)
	if role == Root {
		signers = append(signers, newKeys...)
	}
	if err := r.signRoot(next, signers, prev); err != nil {
		return err
	}
	oldKeys := *r.keys.of(role)
	r.root = next
	*r.keys.of(role) = slices.Clone(newKeys)
	from := role
	if role != Root {
		from = r.fromStale(role)
	} else if r.stale[Targets] || r.stale[Snapshot] || r.stale[Timestamp] {
		from = r.fromStale(Timestamp)
	}
	below := map[string][]string{Targets: {Targets, Snapshot, Timestamp}, Snapshot: {Snapshot, Timestamp}, Timestamp: {Timestamp}}[from]
	if err := r.checkKeys(below...); err != nil {
		r.root = prev
		*r.keys.of(role) = oldKeys
		return err
	}
	defer func() {
		if err != nil {
			r.reload()
		}
	}()
	rootData, err := next.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.writeVersioned("root.json", next.Signed.Version, rootData); err != nil {
		return err
	}
	if from != Root {
		return r.cascade(from)
	}
	return nil
}
