package update

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/iotbaseline/baseline/durable"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Default limits; every one applies when the corresponding Config field is
// zero.
const (
	DefaultMaxRootSize      = 512 << 10
	defaultMaxTimestampSize = 16 << 10
	defaultMaxSnapshotSize  = 2 << 20
	defaultMaxTargetsSize   = 16 << 20
	defaultMaxTargetSize    = 4 << 30
	defaultMaxRootRotations = 32
	defaultRetries          = 3
	defaultRetryBackoff     = time.Second
	defaultMinRate          = 1 << 10
	defaultMinRateWindow    = 30 * time.Second
)

// Config configures a [Client]. The zero value of every optional field is
// the secure default; TrustedRoot, RepositoryURL, HardwareID and Dir are
// required.
type Config struct {
	// TrustedRoot is the TUF root metadata pinned in the firmware image
	// (provision 5.3-10): the trust anchor of every update. Newer roots are
	// accepted only through the chain of signed rotations starting here.
	TrustedRoot []byte
	// RepositoryURL is the base URL of the repository: metadata is fetched
	// from RepositoryURL/metadata/ and targets from RepositoryURL/targets/
	// unless MetadataURL or TargetsURL say otherwise. (go-tuf's updater and
	// tuf-js take those two URLs separately, as the metadata URL and the
	// targets URL; `baseline release` writes both directories under one
	// root, so one URL is enough.)
	RepositoryURL string
	// MetadataURL and TargetsURL override the two locations.
	MetadataURL, TargetsURL string
	// HardwareID is this device's hardware identifier; targets built for
	// other hardware are refused.
	HardwareID string
	// InstalledCounter reports the release counter of the installed
	// firmware; only releases with a greater counter are offered or
	// downloaded. Nil means the Installer's InstalledCounter method when
	// it has one ([FileAB] does), else 0 (factory image without a counter).
	InstalledCounter func() uint64
	// Installer is where [Client.Apply] installs releases ([NewFileAB]
	// for file slots). Nil: Apply is refused; Download still works. If it
	// has a Rejected(*Release) bool method ([FileAB] does), Check never
	// offers a release that failed its trial on this device.
	Installer Installer
	// CoSignKey, when set, requires every target to carry a valid ML-DSA-65
	// co-signature by this key in addition to TUF's threshold signatures.
	CoSignKey *mldsa65.PublicKey
	// FS is where metadata, the clock floor and the download journal are
	// kept; nil means durable.OS.
	FS durable.FS
	// Dir is the directory (in FS) for the client's state.
	Dir string
	// HTTPClient is used for every request; it is copied, and its
	// CheckRedirect replaced by one that refuses redirects to another
	// origin. Nil means a private client with connect/header timeouts
	// (never http.DefaultClient). A Timeout on it bounds each request,
	// including a whole image transfer: leave it zero and rely on MinRate
	// and the context instead.
	HTTPClient *http.Client
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// BuildTime is the firmware's build time: the lowest time the client
	// believes, whatever the clock says (a clock reset to 1970 cannot make
	// expired metadata valid again). The floor rises to the clock's time at
	// each successful refresh and is persisted.
	BuildTime time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Per-role metadata size limits (defaults: root DefaultMaxRootSize,
	// timestamp 16 KiB, snapshot 2 MiB, targets 16 MiB).
	MaxRootSize, MaxTimestampSize, MaxSnapshotSize, MaxTargetsSize int64
	// MaxTargetSize refuses larger targets (default 4 GiB).
	MaxTargetSize int64
	// MaxRootRotations bounds the root versions fetched in one refresh
	// (default 32).
	MaxRootRotations int
	// Retries is how often a failed request is retried after the first
	// attempt on network errors and 5xx (never on 4xx or a verification
	// failure). Zero means 3; negative means no retry.
	Retries int
	// RetryBackoff is the base of the exponential, fully jittered backoff
	// (default 1 s).
	RetryBackoff time.Duration
	// MinRate and MinRateWindow: a transfer delivering fewer than MinRate
	// bytes/second over MinRateWindow is aborted with ErrSlowRetrieval
	// (defaults 1 KiB/s over 30 s). Negative MinRate disables the check.
	MinRate       int64
	MinRateWindow time.Duration
	// CheckpointBytes is how much verified, written image a power loss may
	// cost at most: progress is journaled (the slot synced, then the
	// journal) before more than this lies unjournaled in the slot, and at
	// least every 2 s. Zero means 16 MiB; a value below the release's chunk
	// size journals every chunk (one fsync of the slot and one of the
	// journal per chunk, which costs more than hashing and writing).
	CheckpointBytes int64
	// InsecureAllowNoDescriptor accepts targets without a descriptor (for
	// repositories written by other TUF tools): such a target is fetched as
	// a single chunk of at most MaxChunkSize bytes, and no hardware-ID,
	// release-counter or co-signature check applies to it. Check never
	// offers such a target; only Lookup returns it. Leave it false on a
	// device.
	InsecureAllowNoDescriptor bool
	// ImageHashes names the whole-image hashes other than SHA-256 that are
	// recomputed and compared at the end of a download, among those the
	// target lists. Nil means every listed one (sha384, sha512). SHA-256 is
	// always checked: every chunk is verified against the signed SHA-256
	// chaining value before it is written, and the last one is the
	// whole-image SHA-256 (see [Descriptor.Chunks]), so one SHA-256 pass
	// covers chunks and image; a listed SHA-512 is an extra pass, several
	// times as costly on CPUs with SHA-256 instructions. Release tooling
	// in update/release lists only SHA-256 unless asked to.
	ImageHashes []string
	// CosignPublicKey, when set (PEM, PKIX, ECDSA P-256), requires every
	// offline bundle to carry a cosign sign-blob signature of its image by
	// this key, on top of the TUF checks (for makers who already sign
	// releases with cosign).
	CosignPublicKey []byte
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("update: invalid config")

func (c *Config) setDefaults() error {
	if len(c.TrustedRoot) == 0 {
		return fmt.Errorf("%w: TrustedRoot is required", ErrConfig)
	}
	if c.HardwareID == "" {
		return fmt.Errorf("%w: HardwareID is required", ErrConfig)
	}
	if c.Dir == "" {
		return fmt.Errorf("%w: Dir is required", ErrConfig)
	}
	if c.RepositoryURL == "" && (c.MetadataURL == "" || c.TargetsURL == "") {
		return fmt.Errorf("%w: RepositoryURL (or MetadataURL and TargetsURL) is required", ErrConfig)
	}
	join := func(base, sub string) (string, error) {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("%w: %q is not an http(s) URL", ErrConfig, base)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + sub
		return u.String(), nil
	}
	var err error
	if c.MetadataURL == "" {
		c.MetadataURL = c.RepositoryURL + "/metadata"
	}
	if c.TargetsURL == "" {
		c.TargetsURL = c.RepositoryURL + "/targets"
	}
	if c.MetadataURL, err = join(c.MetadataURL, "/"); err != nil {
		return err
	}
	if c.TargetsURL, err = join(c.TargetsURL, "/"); err != nil {
		return err
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxRootSize, DefaultMaxRootSize)
	def(&c.MaxTimestampSize, defaultMaxTimestampSize)
	def(&c.MaxSnapshotSize, defaultMaxSnapshotSize)
	def(&c.MaxTargetsSize, defaultMaxTargetsSize)
	def(&c.MaxTargetSize, defaultMaxTargetSize)
	if c.MaxRootRotations <= 0 {
		c.MaxRootRotations = defaultMaxRootRotations
	}
	switch {
	case c.Retries == 0:
		c.Retries = defaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = defaultRetryBackoff
	}
	switch {
	case c.MinRate == 0:
		c.MinRate = defaultMinRate
	case c.MinRate < 0:
		c.MinRate = 0
	}
	if c.MinRateWindow <= 0 {
		c.MinRateWindow = defaultMinRateWindow
	}
	if c.FS == nil {
		c.FS = durable.OS
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.InstalledCounter == nil {
		if ic, ok := c.Installer.(interface{ InstalledCounter() uint64 }); ok {
			c.InstalledCounter = ic.InstalledCounter
		} else {
			c.InstalledCounter = func() uint64 { return 0 }
		}
	}
	return nil
}

// Client keeps a device's view of a TUF repository current and downloads
// verified releases. Create it with [New]; its methods are safe for
// concurrent use (they are serialised).
type Client struct {
	cfg  Config
	f    *fetcher
	root *metadata.Metadata[metadata.RootType] // pinned root, parsed

	cosign signature.Verifier

	mu      sync.Mutex // serialises Refresh, Check, Download, OpenBundle
	trusted *trustedmetadata.TrustedMetadata

	// Read without mu, so self-checks and TrustedTime never wait for a
	// download in progress. The metadata behind view is never modified
	// after it is stored.
	view    atomic.Pointer[trustedmetadata.TrustedMetadata]
	floorNs atomic.Int64

	applying atomic.Bool // an Apply is running

	// testing hooks
	onCheckpoint func(off int64)
	onRequest    func(off int64)
	steps        steps // broken verification steps, set only by tests (steps.go)
}

// New checks cfg, parses the pinned root and loads the persisted clock
// floor. It does no network I/O; call [Client.Refresh] or [Client.Check].
func New(cfg Config) (*Client, error) {
	cfg.TrustedRoot = slices.Clone(cfg.TrustedRoot)
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if int64(len(cfg.TrustedRoot)) > cfg.MaxRootSize {
		return nil, fmt.Errorf("%w: TrustedRoot larger than MaxRootSize", ErrConfig)
	}
	tm, err := trustedmetadata.New(cfg.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: TrustedRoot: %v", ErrConfig, err)
	}
	c := &Client{cfg: cfg, f: newFetcher(&cfg), root: tm.Root}
	if len(cfg.CosignPublicKey) > 0 {
		if c.cosign, err = ParseCosignPublicKey(cfg.CosignPublicKey); err != nil {
			return nil, fmt.Errorf("%w: CosignPublicKey: %v", ErrConfig, err)
		}
	}
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	floor := cfg.BuildTime.UTC()
	if st := c.loadState(); st.floor.After(floor) {
		floor = st.floor
	}
	c.setFloor(floor)
	return c, nil
}

const (
	stateFile   = "state.bin"
	journalFile = "download.log"
	rootsDir    = "roots"
)

func (c *Client) file(name string) string { return path.Join(c.cfg.Dir, name) }

// TrustedTime returns the time used for expiry checks: the clock, but never
// earlier than the floor (build time, or the clock's time at the last
// successful refresh).
func (c *Client) TrustedTime() time.Time {
	return c.refTime()
}

func (c *Client) setFloor(t time.Time) {
	if t.IsZero() {
		c.floorNs.Store(0)
		return
	}
	c.floorNs.Store(t.UnixNano())
}

func (c *Client) getFloor() time.Time {
	if ns := c.floorNs.Load(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

func (c *Client) refTime() time.Time {
	now := c.cfg.Now().UTC()
	if floor := c.getFloor(); now.Before(floor) {
		return floor
	}
	return now
}

func (c *Client) metaURL(name string) string { return c.cfg.MetadataURL + name }
func (c *Client) readLocal(name string, max int64) []byte {
	b, err := durable.ReadFile(c.cfg.FS, c.file(name), max)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.f.log.Warn("update: ignoring unreadable local metadata", "file", name, "error", err)
		}
		return nil
	}
	return b
}

func metaErr(role string, err error) error {
	var exp *metadata.ErrExpiredMetadata
	if errors.As(err, &exp) {
		return &MetadataError{Role: role, Err: fmt.Errorf("%w: %v (the repository's maker must sign it again: baseline release resign -role %s, then publish)", ErrExpired, err, role)}
	}
	return &MetadataError{Role: role, Err: err}
}

// Refresh brings the trusted metadata up to date following the TUF client
// workflow: root rotations (N+1.root.json until 404, each signed by the
// previous and the new root), then timestamp, snapshot and targets, each
// checked for signature threshold, version (no rollback) and expiry at the
// trusted time, each persisted crash-safely once verified. It can be called
// again and again; a failed refresh leaves the previous trusted state in
// place.
func (c *Client) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refresh(ctx)
}

// metaGetter fetches a metadata file by name with a size bound; a missing
// file is ErrNotFound.
type metaGetter func(ctx context.Context, name string, max int64) ([]byte, error)

func (c *Client) refresh(ctx context.Context) error {
	return c.update(ctx, func(ctx context.Context, name string, max int64) ([]byte, error) {
		return c.f.get(ctx, c.metaURL(name), max)
	})
}

func (c *Client) update(ctx context.Context, get metaGetter) (err error) {
	ref := c.refTime()
	tm, err := trustedmetadata.New(c.cfg.TrustedRoot)
	if err != nil {
		return metaErr(metadata.ROOT, err)
	}
	tm.RefTime = ref
	// Replay the persisted chain of roots from the pinned one.
	for {
		v := tm.Root.Signed.Version + 1
		b := c.readLocal(path.Join(rootsDir, fmt.Sprintf("%d.root.json", v)), c.cfg.MaxRootSize)
		if b == nil {
			break
		}
		if err := c.updateRoot(tm, b); err != nil {
			c.f.log.Warn("update: persisted root does not chain; ignoring it", "version", v, "error", err)
			break
		}
	}
	startRoot := tm.Root
	for i := 0; i < c.cfg.MaxRootRotations; i++ {
		v := tm.Root.Signed.Version + 1
		name := fmt.Sprintf("%d.root.json", v)
		b, err := get(ctx, name, c.cfg.MaxRootSize)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if err := c.updateRoot(tm, b); err != nil {
			return metaErr(metadata.ROOT, err)
		}
		if err := c.cfg.FS.MkdirAll(c.file(rootsDir), 0o700); err != nil {
			return err
		}
		if err := durable.WriteFile(c.cfg.FS, c.file(path.Join(rootsDir, name)), b, 0o600); err != nil {
			return err
		}
	}
	if tm.Root.Signed.IsExpired(ref) {
		return metaErr(metadata.ROOT, &metadata.ErrExpiredMetadata{Msg: "final root is expired"})
	}

	// The local timestamp, snapshot and targets live in one state file,
	// replaced atomically: one write and two fsyncs per refresh that
	// changed anything, and never a mix of two refreshes.
	local := c.loadState()
	next := local
	defer func() {
		if next.equal(local) {
			return
		}
		if serr := c.saveState(next); serr != nil && err == nil {
			err = serr
		}
	}()
	// Fast-forward recovery: when the timestamp or snapshot keys changed,
	// forget the local copies so a new key's lower version is accepted.
	if tm.Root != startRoot && (!sameKeys(startRoot, tm.Root, metadata.TIMESTAMP) || !sameKeys(startRoot, tm.Root, metadata.SNAPSHOT)) {
		local.ts, local.snap, local.targets = nil, nil, nil
		next.ts, next.snap, next.targets = nil, nil, nil
		next.dirty = true
	}

	// Timestamp.
	if local.ts != nil {
		_, _ = tm.UpdateTimestamp(local.ts) // an expired local one still guards against rollback
	}
	b, err := get(ctx, "timestamp.json", c.cfg.MaxTimestampSize)
	if err != nil {
		return err
	}
	var eq *metadata.ErrEqualVersionNumber
	if _, err := tm.UpdateTimestamp(b); err != nil && !errors.As(err, &eq) {
		return metaErr(metadata.TIMESTAMP, err)
	} else if err == nil {
		next.ts = b
	}
	if tm.Timestamp == nil || tm.Timestamp.Signed.IsExpired(ref) {
		return metaErr(metadata.TIMESTAMP, &metadata.ErrExpiredMetadata{Msg: "timestamp is expired"})
	}

	// Snapshot.
	snapMeta := tm.Timestamp.Signed.Meta["snapshot.json"]
	if snapMeta == nil {
		return metaErr(metadata.TIMESTAMP, errors.New("no snapshot.json entry"))
	}
	if local.snap == nil || loadErr(tm.UpdateSnapshot(local.snap, true)) != nil {
		max := c.cfg.MaxSnapshotSize
		if snapMeta.Length > 0 && snapMeta.Length < max {
			max = snapMeta.Length
		}
		name := "snapshot.json"
		if tm.Root.Signed.ConsistentSnapshot {
			name = fmt.Sprintf("%d.snapshot.json", snapMeta.Version)
		}
		b, err := get(ctx, name, max)
		if err != nil {
			return err
		}
		if _, err := tm.UpdateSnapshot(b, false); err != nil {
			return metaErr(metadata.SNAPSHOT, err)
		}
		next.snap = b
	}

	// Top-level targets.
	tMeta := tm.Snapshot.Signed.Meta["targets.json"]
	if tMeta == nil {
		return metaErr(metadata.SNAPSHOT, errors.New("no targets.json entry"))
	}
	if local.targets == nil || c.updateTargets(tm, local.targets) != nil {
		max := c.cfg.MaxTargetsSize
		if tMeta.Length > 0 && tMeta.Length < max {
			max = tMeta.Length
		}
		name := "targets.json"
		if tm.Root.Signed.ConsistentSnapshot {
			name = fmt.Sprintf("%d.targets.json", tMeta.Version)
		}
		b, err := get(ctx, name, max)
		if err != nil {
			return err
		}
		if err := c.updateTargets(tm, b); err != nil {
			return metaErr(metadata.TARGETS, err)
		}
		next.targets = b
	}
	c.trusted = tm
	c.view.Store(tm)
	// Raise the time floor: the clock's time was accepted by all of this
	// metadata, so never believe an earlier time again.
	if now := c.cfg.Now().UTC(); now.Sub(c.getFloor()) > time.Minute {
		c.setFloor(now)
		next.floor = now
	}
	return nil
}

// localState is what the client persists besides roots.
type localState struct {
	ts, snap, targets []byte
	floor             time.Time
	dirty             bool
}

func (a localState) equal(b localState) bool {
	return !a.dirty && !b.dirty && bytes.Equal(a.ts, b.ts) && bytes.Equal(a.snap, b.snap) && bytes.Equal(a.targets, b.targets) && a.floor.Equal(b.floor)
}

const stateMagic = "baseline-update-state-v1\n"

func (c *Client) stateLimit() int64 {
	return int64(len(stateMagic)) + 8 + 3*4 + c.cfg.MaxTimestampSize + c.cfg.MaxSnapshotSize + c.cfg.MaxTargetsSize
}

// loadState reads the state file; anything unreadable or malformed is
// treated as no local state (the remote is then verified from scratch
// against the roots, which is safe, only slower).
func (c *Client) loadState() localState {
	b := c.readLocal(stateFile, c.stateLimit())
	st, ok := decodeState(b)
	if !ok && b != nil {
		c.f.log.Warn("update: ignoring malformed state file")
	}
	return st
}

func decodeState(b []byte) (localState, bool) {
	var st localState
	rest, ok := bytes.CutPrefix(b, []byte(stateMagic))
	if !ok || len(rest) < 8 {
		return localState{}, false
	}
	if ns := int64(binary.BigEndian.Uint64(rest)); ns != 0 {
		st.floor = time.Unix(0, ns).UTC()
	}
	rest = rest[8:]
	for _, dst := range []*[]byte{&st.ts, &st.snap, &st.targets} {
		if len(rest) < 4 {
			return localState{}, false
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return localState{}, false
		}
		if n > 0 {
			*dst = rest[:n:n]
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return localState{}, false
	}
	return st, true
}

func encodeState(st localState) []byte {
	var b []byte
	b = append(b, stateMagic...)
	var ns int64
	if !st.floor.IsZero() {
		ns = st.floor.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ns))
	for _, f := range [][]byte{st.ts, st.snap, st.targets} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func (c *Client) saveState(st localState) error {
	return durable.WriteFile(c.cfg.FS, c.file(stateFile), encodeState(st), 0o600)
}

func loadErr[T any](_ T, err error) error { return err }

func sameKeys(a, b *metadata.Metadata[metadata.RootType], role string) bool {
	ra, rb := a.Signed.Roles[role], b.Signed.Roles[role]
	if ra == nil || rb == nil {
		return ra == rb
	}
	x, y := slices.Clone(ra.KeyIDs), slices.Clone(rb.KeyIDs)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y) && ra.Threshold == rb.Threshold
}
