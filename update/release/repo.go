package release

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/durable"
)

// Layout of a repository directory. Both directories are served as they
// are: metadata at <base>/metadata/, targets at <base>/targets/.
const (
	// MetadataDir holds root.json and N.root.json for every root version,
	// N.targets.json and targets.json, N.snapshot.json and snapshot.json,
	// and timestamp.json.
	MetadataDir = "metadata"
	// TargetsDir holds every firmware image twice: under its target path
	// and, as TUF consistent snapshots ask, under the path whose base name
	// is prefixed with the image's SHA-256 in hex ("<sha256>.<name>").
	TargetsDir = "targets"
)

// Size limits for reading a repository's own metadata back (the same bounds
// a device should apply to what it downloads).
const (
	MaxRootSize      = 512 << 10
	MaxTimestampSize = 16 << 10
	MaxSnapshotSize  = 2 << 20
	MaxTargetsSize   = 64 << 20
)

// Errors. Each refused operation leaves the repository as it was.
var (
	ErrExists        = errors.New("release: repository already exists")
	ErrNotRepository = errors.New("release: not a repository (no metadata/root.json)")
	ErrKeyType       = errors.New("release: key type not usable for TUF roles (want ECDSA P-256 or Ed25519)")
	ErrThreshold     = errors.New("release: fewer signing keys than the role's threshold")
	ErrUnknownKey    = errors.New("release: signing key is not one of the role's keys")
	ErrTargetExists  = errors.New("release: target path already published")
	ErrTargetPath    = errors.New("release: invalid target path")
	ErrCounter       = errors.New("release: release counter must increase for the hardware ID")
	ErrTampered      = errors.New("release: repository metadata does not verify")
	ErrConfig        = errors.New("release: invalid configuration")
)

// Role names, as TUF spells them.
const (
	Root      = metadata.ROOT
	Targets   = metadata.TARGETS
	Snapshot  = metadata.SNAPSHOT
	Timestamp = metadata.TIMESTAMP
)

// Keys are the signing keys at hand, per role. An operation needs the
// threshold of keys of each role whose metadata it signs: adding targets
// needs Targets, Snapshot and Timestamp; [Repo.Resign] of the timestamp
// needs only Timestamp (the one key that should live online); a rotation
// needs Root. Keys may be in software ([ReadKey]) or any crypto.Signer (an
// HSM through crypto11); they must be ECDSA P-256 or Ed25519.
type Keys struct {
	Root, Targets, Snapshot, Timestamp []crypto.Signer
}

func (k *Keys) of(role string) *[]crypto.Signer {
	switch role {
	case Root:
		return &k.Root
	case Targets:
		return &k.Targets
	case Snapshot:
		return &k.Snapshot
	case Timestamp:
		return &k.Timestamp
	}
	panic("release: unknown role " + role)
}

// Thresholds are the number of role keys whose signatures a client requires.
// Zero means 1.
type Thresholds struct {
	Root, Targets, Snapshot, Timestamp int
}

// Expiry is how long each role's metadata stays valid after it is signed.
// A zero field takes the value from [DefaultExpiry].
type Expiry struct {
	Root, Targets, Snapshot, Timestamp time.Duration
}

// DefaultExpiry: root one year, targets 90 days, snapshot 7 days, timestamp
// 1 day. The timestamp must therefore be re-signed daily ([Repo.Resign],
// `baseline release resign -role timestamp` from cron) and the snapshot
// weekly; a device that cannot get fresh metadata notices an indefinite
// freeze within a day.
var DefaultExpiry = Expiry{
	Root:      365 * 24 * time.Hour,
	Targets:   90 * 24 * time.Hour,
	Snapshot:  7 * 24 * time.Hour,
	Timestamp: 24 * time.Hour,
}

func (e Expiry) of(role string) time.Duration {
	var d, def time.Duration
	switch role {
	case Root:
		d, def = e.Root, DefaultExpiry.Root
	case Targets:
		d, def = e.Targets, DefaultExpiry.Targets
	case Snapshot:
		d, def = e.Snapshot, DefaultExpiry.Snapshot
	case Timestamp:
		d, def = e.Timestamp, DefaultExpiry.Timestamp
	}
	if d <= 0 {
		return def
	}
	return d
}

// Config configures [Init] and [Open]. The zero value works with keys added.
type Config struct {
	// FS is where the repository is written. Nil means durable.OS. Every
	// file is replaced atomically and durably (temp file, fsync, rename,
	// directory fsync).
	FS durable.FS
	// Keys are the signing keys at hand.
	Keys Keys
	// Thresholds are used by [Init] only (a rotation sets its own).
	Thresholds Thresholds
	// Expiry of each role's metadata; zero fields mean [DefaultExpiry].
	Expiry Expiry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per file written; nil discards.
	Logger *slog.Logger
}

// Repo is a static TUF repository on disk, opened for writing. It is not
// safe for concurrent use, and two processes must not write the same
// repository at once.
type Repo struct {
	fsys   durable.FS
	dir    string
	keys   Keys
	expiry Expiry
	now    func() time.Time
	log    *slog.Logger

	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]

	// stale marks roles whose published metadata verifies only under the
	// previous root (an interrupted rotation); operations re-sign from the
	// highest stale role down.
	stale map[string]bool
}

func newRepo(dir string, cfg Config) *Repo {
	r := &Repo{fsys: cfg.FS, dir: dir, keys: cfg.Keys, expiry: cfg.Expiry, now: cfg.Now, log: cfg.Logger, stale: map[string]bool{}}
	if r.fsys == nil {
		r.fsys = durable.OS
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	// Copy the key slices: the caller's later edits must not change what
	// this Repo signs with.
	for _, role := range roles {
		p := r.keys.of(role)
		*p = slices.Clone(*p)
	}
	return r
}

var roles = []string{Root, Targets, Snapshot, Timestamp}

func (r *Repo) metaPath(name string) string { return filepath.Join(r.dir, MetadataDir, name) }

func (r *Repo) expires(role string) time.Time {
	return r.now().UTC().Add(r.expiry.of(role)).Truncate(time.Second)
}

// Init creates a new repository in dir: root.json (version 1, consistent
// snapshots on) listing the public keys of cfg.Keys with cfg.Thresholds, and
// the first, empty targets, snapshot and timestamp. It needs at least the
// threshold of keys for every role (use different keys for different roles:
// a key shared by root and timestamp makes the online timestamp host a root
// holder). It refuses ([ErrExists]) if dir already holds a repository.
func Init(ctx context.Context, dir string, cfg Config) (*Repo, error) {
	r := newRepo(dir, cfg)
	if _, err := r.fsys.Stat(r.metaPath("root.json")); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	th := map[string]int{Root: cfg.Thresholds.Root, Targets: cfg.Thresholds.Targets,
		Snapshot: cfg.Thresholds.Snapshot, Timestamp: cfg.Thresholds.Timestamp}
	root := metadata.Root(r.expires(Root))
	root.Signed.ConsistentSnapshot = true
	for _, role := range roles {
		signers := *r.keys.of(role)
		if th[role] == 0 {
			th[role] = 1
		}
		if th[role] < 0 {
			return nil, fmt.Errorf("%w: %s threshold %d", ErrConfig, role, th[role])
		}
		ids, err := addRoleKeys(root, role, signers)
		if err != nil {
			return nil, err
		}
		if len(ids) < th[role] {
			return nil, fmt.Errorf("%w: %s has %d distinct keys, threshold %d", ErrThreshold, role, len(ids), th[role])
		}
		root.Signed.Roles[role].Threshold = th[role]
	}
	r.root = root
	if err := r.signRoot(root, r.keys.Root, nil); err != nil {
		return nil, err
	}
	r.targets = metadata.Targets(r.expires(Targets))
	r.snapshot = metadata.Snapshot(r.expires(Snapshot))
	r.timestamp = metadata.Timestamp(r.expires(Timestamp))
	if err := r.sign(Targets, r.targets); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.fsys.MkdirAll(filepath.Join(dir, MetadataDir), 0o755); err != nil {
		return nil, err
	}
	if err := r.fsys.MkdirAll(filepath.Join(dir, TargetsDir), 0o755); err != nil {
		return nil, err
	}
	rootData, err := root.ToBytes(false)
	if err != nil {
		return nil, err
	}
	// 1.root.json first, root.json last: root.json marks a complete
	// repository, so a crash during Init leaves a directory Init can be run
	// on again.
	if err := r.write(r.metaPath("1.root.json"), rootData); err != nil {
		return nil, err
	}
	if err := r.publish(true); err != nil {
		return nil, err
	}
	if err := r.write(r.metaPath("root.json"), rootData); err != nil {
		return nil, err
	}
	return r, nil
}

// addRoleKeys adds the signers' public keys to root for role and returns
// their distinct key IDs.
func addRoleKeys(root *metadata.Metadata[metadata.RootType], role string, signers []crypto.Signer) ([]string, error) {
	var ids []string
	for _, s := range signers {
		key, id, err := tufKey(s.Public())
		if err != nil {
			return nil, err
		}
		if slices.Contains(ids, id) {
			continue
		}
		if err := root.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Open opens the repository in dir for writing. It reads the repository as
// a client sees it: the newest root reachable from root.json through
// N.root.json files, each verified against the one before; then
// timestamp.json and the snapshot and targets versions it leads to, each
// verified against the root. A repository edited behind the tool's back is
// noticed ([ErrTampered]) before anything is signed on top of it, and files
// left by an operation interrupted before its timestamp was written are
// ignored (the next operation writes over them).
func Open(dir string, cfg Config) (*Repo, error) {
	r := newRepo(dir, cfg)
	rootData, err := durable.ReadFile(r.fsys, r.metaPath("root.json"), MaxRootSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
	}
	if err != nil {
		return nil, err
	}
	if r.root, err = metadata.Root().FromBytes(rootData); err != nil {
		return nil, fmt.Errorf("%w: root.json: %v", ErrTampered, err)
	}
	if err := r.root.VerifyDelegate(Root, r.root); err != nil {
		return nil, fmt.Errorf("%w: root.json: %v", ErrTampered, err)
	}
	var prev *metadata.Metadata[metadata.RootType]
	for {
		name := fmt.Sprintf("%d.root.json", r.root.Signed.Version+1)
		data, err := durable.ReadFile(r.fsys, r.metaPath(name), MaxRootSize)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		next, err := metadata.Root().FromBytes(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
		}
		if err := r.root.VerifyDelegate(Root, next); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
		}
		if err := next.VerifyDelegate(Root, next); err != nil || next.Signed.Version != r.root.Signed.Version+1 {
			return nil, fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
		}
		prev, r.root = r.root, next
	}
	if prev == nil && r.root.Signed.Version > 1 {
		// root.json was already the newest: its predecessor is needed
		// only to recognise an interrupted rotation, and only if it
		// really is the predecessor.
		name := fmt.Sprintf("%d.root.json", r.root.Signed.Version-1)
		if data, err := durable.ReadFile(r.fsys, r.metaPath(name), MaxRootSize); err == nil {
			if p, err := metadata.Root().FromBytes(data); err == nil && p.VerifyDelegate(Root, r.root) == nil &&
				p.Signed.Version == r.root.Signed.Version-1 {
				prev = p
			}
		}
	}
	if r.timestamp, err = load(r, "timestamp.json", MaxTimestampSize, metadata.Timestamp()); err != nil {
		return nil, err
	}
	sm, ok := r.timestamp.Signed.Meta["snapshot.json"]
	if !ok {
		return nil, fmt.Errorf("%w: timestamp.json names no snapshot", ErrTampered)
	}
	if r.snapshot, err = load(r, fmt.Sprintf("%d.snapshot.json", sm.Version), MaxSnapshotSize, metadata.Snapshot()); err != nil {
		return nil, err
	}
	tm, ok := r.snapshot.Signed.Meta["targets.json"]
	if !ok {
		return nil, fmt.Errorf("%w: snapshot names no targets", ErrTampered)
	}
	if r.targets, err = load(r, fmt.Sprintf("%d.targets.json", tm.Version), MaxTargetsSize, metadata.Targets()); err != nil {
		return nil, err
	}
	for role, md := range map[string]any{Targets: r.targets, Snapshot: r.snapshot, Timestamp: r.timestamp} {
		err := r.root.VerifyDelegate(role, md)
		if err != nil && prev != nil && prev.VerifyDelegate(role, md) == nil {
			// Signed under the root just before the newest: a rotation
			// of this role was interrupted after writing the new root.
			// The next operation re-signs it (see stale).
			r.stale[role] = true
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTampered, role, err)
		}
	}
	if r.snapshot.Signed.Version != sm.Version || r.targets.Signed.Version != tm.Version {
		return nil, fmt.Errorf("%w: versions do not match what snapshot and timestamp name", ErrTampered)
	}
	return r, nil
}

func load[T metadata.Roles](r *Repo, name string, max int64, empty *metadata.Metadata[T]) (*metadata.Metadata[T], error) {
	data, err := durable.ReadFile(r.fsys, r.metaPath(name), max)
	if err != nil {
		return nil, err
	}
	md, err := empty.FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
	}
	return md, nil
}

// sign replaces md's signatures with those of the keys at hand for role,
// and checks the result verifies against the current root.
func (r *Repo) sign(role string, md interface {
	ClearSignatures()
}) error {
	signers := *r.keys.of(role)
	def := r.root.Signed.Roles[role]
	var ids []string
	var use []crypto.Signer
	for _, s := range signers {
		_, id, err := tufKey(s.Public())
		if err != nil {
			return err
		}
		if !slices.Contains(def.KeyIDs, id) {
			return fmt.Errorf("%w: %s key %s", ErrUnknownKey, role, id)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
			use = append(use, s)
		}
	}
	if len(ids) < def.Threshold {
		return fmt.Errorf("%w: %s needs %d, have %d", ErrThreshold, role, def.Threshold, len(ids))
	}
	md.ClearSignatures()
	for _, s := range use {
		var err error
		switch m := md.(type) {
		case *metadata.Metadata[metadata.TargetsType]:
			_, err = m.Sign(tufSigner{s})
		case *metadata.Metadata[metadata.SnapshotType]:
			_, err = m.Sign(tufSigner{s})
		case *metadata.Metadata[metadata.TimestampType]:
			_, err = m.Sign(tufSigner{s})
		default:
			panic("release: sign: unexpected metadata type")
		}
		if err != nil {
			return fmt.Errorf("release: signing %s: %w", role, err)
		}
	}
	if err := r.root.VerifyDelegate(role, md); err != nil {
		return fmt.Errorf("%w: freshly signed %s: %v", ErrTampered, role, err)
	}
	return nil
}

// signRoot signs a root with the given root keys (old and new for a
// rotation) and checks it verifies against itself and, if prev is not nil,
// against prev: what a client checks when it rotates.
func (r *Repo) signRoot(root *metadata.Metadata[metadata.RootType], signers []crypto.Signer, prev *metadata.Metadata[metadata.RootType]) error {
	root.ClearSignatures()
	var ids []string
	for _, s := range signers {
		_, id, err := tufKey(s.Public())
		if err != nil {
			return err
		}
		inNew := slices.Contains(root.Signed.Roles[Root].KeyIDs, id)
		inOld := prev != nil && slices.Contains(prev.Signed.Roles[Root].KeyIDs, id)
		if !inNew && !inOld {
			return fmt.Errorf("%w: root key %s", ErrUnknownKey, id)
		}
		if slices.Contains(ids, id) {
			continue
		}
		ids = append(ids, id)
		if _, err := root.Sign(tufSigner{s}); err != nil {
			return fmt.Errorf("release: signing root: %w", err)
		}
	}
	if err := root.VerifyDelegate(Root, root); err != nil {
		return fmt.Errorf("%w: root needs %d signatures of its own keys: %v", ErrThreshold, root.Signed.Roles[Root].Threshold, err)
	}
	if prev != nil {
		if err := prev.VerifyDelegate(Root, root); err != nil {
			return fmt.Errorf("%w: new root needs %d signatures of the previous root's keys: %v", ErrThreshold, prev.Signed.Roles[Root].Threshold, err)
		}
	}
	return nil
}

func (r *Repo) write(name string, data []byte) error {
	if err := durable.WriteFile(r.fsys, name, data, 0o644); err != nil {
		return err
	}
	r.log.Info("release: wrote", "file", name, "bytes", len(data))
	return nil
}

// publish re-signs snapshot and timestamp over the current targets (when
// withTargets, after writing targets as a new version too) and writes them
// in the order a client reads them backwards: targets, snapshot, timestamp
// last, so a client never sees a timestamp whose snapshot is not there yet.
// It expects r.targets to be signed already when withTargets.
func (r *Repo) publish(withTargets bool) error {
	var targetsData []byte
	if withTargets {
		var err error
		if targetsData, err = r.targets.ToBytes(false); err != nil {
			return err
		}
		r.snapshot.Signed.Meta["targets.json"] = metaFile(r.targets.Signed.Version, targetsData)
	}
	if err := r.bump(Snapshot); err != nil {
		return err
	}
	snapData, err := r.snapshot.ToBytes(false)
	if err != nil {
		return err
	}
	r.timestamp.Signed.Meta["snapshot.json"] = metaFile(r.snapshot.Signed.Version, snapData)
	if err := r.bump(Timestamp); err != nil {
		return err
	}
	tsData, err := r.timestamp.ToBytes(false)
	if err != nil {
		return err
	}
	if withTargets {
		if err := r.writeVersioned("targets.json", r.targets.Signed.Version, targetsData); err != nil {
			return err
		}
	}
	if err := r.writeVersioned("snapshot.json", r.snapshot.Signed.Version, snapData); err != nil {
		return err
	}
	if err := r.write(r.metaPath("timestamp.json"), tsData); err != nil {
		return err
	}
	if withTargets {
		delete(r.stale, Targets)
	}
	delete(r.stale, Snapshot)
	delete(r.stale, Timestamp)
	return nil
}

// bump signs role's metadata as its next version with a fresh expiry.
// Metadata never signed before (fresh from Init) keeps its version 1.
func (r *Repo) bump(role string) error {
	switch role {
	case Targets:
		bumpVersion(r.targets, &r.targets.Signed.Version, &r.targets.Signed.Expires, r.expires(role))
		return r.sign(role, r.targets)
	case Snapshot:
		bumpVersion(r.snapshot, &r.snapshot.Signed.Version, &r.snapshot.Signed.Expires, r.expires(role))
		return r.sign(role, r.snapshot)
	case Timestamp:
		bumpVersion(r.timestamp, &r.timestamp.Signed.Version, &r.timestamp.Signed.Expires, r.expires(role))
		return r.sign(role, r.timestamp)
	}
	panic("release: bump " + role)
}

func bumpVersion[T metadata.Roles](md *metadata.Metadata[T], version *int64, expires *time.Time, exp time.Time) {
	if len(md.Signatures) > 0 {
		*version++
	}
	*expires = exp
}

// writeVersioned writes N.name then name.
func (r *Repo) writeVersioned(name string, version int64, data []byte) error {
	if err := r.write(r.metaPath(fmt.Sprintf("%d.%s", version, name)), data); err != nil {
		return err
	}
	return r.write(r.metaPath(name), data)
}

// metaFile describes a metadata file for snapshot or timestamp, with length
// and SHA-256 so a client detects a swapped file before parsing it.
func metaFile(version int64, data []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Version: version, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// reload re-reads the repository from disk after a failed operation, so the
// Repo again describes what is published.
func (r *Repo) reload() {
	fresh, err := Open(r.dir, Config{FS: r.fsys, Keys: r.keys, Expiry: r.expiry, Now: r.now, Logger: r.log})
	if err != nil {
		// The repository on disk cannot be read back; refuse further use.
		r.root, r.targets, r.snapshot, r.timestamp = nil, nil, nil, nil
		return
	}
	r.root, r.targets, r.snapshot, r.timestamp, r.stale = fresh.root, fresh.targets, fresh.snapshot, fresh.timestamp, fresh.stale
}

// ErrBroken is returned by every method of a Repo whose files could not be
// read back after a failed operation; open the repository again.
var ErrBroken = errors.New("release: repository state lost after a failed write; open it again")

func (r *Repo) usable() error {
	if r.root == nil {
		return ErrBroken
	}
	return nil
}

// checkKeys reports, before anything is changed, whether the keys at hand
// meet the threshold of each role.
func (r *Repo) checkKeys(roleNames ...string) error {
	for _, role := range roleNames {
		def := r.root.Signed.Roles[role]
		var ids []string
		for _, s := range *r.keys.of(role) {
			_, id, err := tufKey(s.Public())
			if err != nil {
				return err
			}
			if !slices.Contains(def.KeyIDs, id) {
				return fmt.Errorf("%w: %s key %s", ErrUnknownKey, role, id)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) < def.Threshold {
			return fmt.Errorf("%w: %s needs %d, have %d", ErrThreshold, role, def.Threshold, len(ids))
		}
	}
	return nil
}

// Version returns the current version of a role's metadata.
func (r *Repo) Version(role string) int64 {
	if r.root == nil {
		return 0
	}
	switch role {
	case Root:
		return r.root.Signed.Version
	case Targets:
		return r.targets.Signed.Version
	case Snapshot:
		return r.snapshot.Signed.Version
	case Timestamp:
		return r.timestamp.Signed.Version
	}
	return 0
}

// Expires returns when a role's current metadata expires.
func (r *Repo) Expires(role string) time.Time {
	if r.root == nil {
		return time.Time{}
	}
	switch role {
	case Root:
		return r.root.Signed.Expires
	case Targets:
		return r.targets.Signed.Expires
	case Snapshot:
		return r.snapshot.Signed.Expires
	case Timestamp:
		return r.timestamp.Signed.Expires
	}
	return time.Time{}
}

// RootJSON returns the current root metadata: what a device's firmware
// embeds as its initial trusted root.
func (r *Repo) RootJSON() ([]byte, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	return r.root.ToBytes(false)
}

// Files lists every file of the repository, as slash-separated paths
// relative to its directory, sorted.
func (r *Repo) Files() ([]string, error) {
	var out []string
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := r.fsys.ReadDir(filepath.Join(r.dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := path.Join(rel, e.Name())
			if e.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			out = append(out, p)
		}
		return nil
	}
	for _, d := range []string{MetadataDir, TargetsDir} {
		if err := walk(d); err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}
