package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

func init() {
	register(command{
		name:    "release",
		summary: "publish firmware into a static TUF repository (init, add, resign, rotate, list, bundle)",
		run:     runRelease,
	})
}

// releaseClock is the clock of `baseline release`; tests replace it.
var releaseClock = time.Now

func releaseUsage(w io.Writer) {
	fmt.Fprintln(w, `usage: baseline release <action> -repo DIR [flags]

actions:
  init     create a repository: root.json (embed it in the firmware as the
           trusted root), empty targets, snapshot and timestamp
  add      publish a firmware image with its descriptor (needs the targets,
           snapshot and timestamp keys)
  resign   sign a role again with a fresh expiry, e.g. hourly from cron:
           "resign -role timestamp -if-expiring-within 12h" (only the
           timestamp key is needed) and "resign -role snapshot
           -if-expiring-within 72h" (snapshot and timestamp keys)
  rotate   replace a role's keys: writes root N+1 signed by the current root
           keys (-root-key) and, for -role root, by the new ones (-new-key)
  list     print the published targets and metadata versions, and warn of
           roles that expired or expire soon: within 30 days for root and
           targets, half the default lifetime for snapshot (3.5 days) and
           timestamp (12 hours), which cron re-signs
  bundle   write the offline (USB) bundle of one published target: the
           image with the metadata a device verifies it with
           (update.Client.OpenBundle); -cosign-sig adds a signature made
           with "cosign sign-blob" of the image

Keys are files written by "baseline keygen" (-root-key, -targets-key,
-snapshot-key, -timestamp-key; repeat a flag for several keys of a role).
Encrypted keys are opened with the passphrase from -passphrase-file or
-passphrase-env; a key whose custodian keeps another passphrase takes its own
with -key-passphrase-file KEYFILE=PASSFILE.

The repository is plain files: serve DIR/metadata/ and DIR/targets/ from any
web server or CDN. Consistent snapshots: metadata as N.root.json,
N.snapshot.json, N.targets.json and timestamp.json, targets under their path
and under <sha256>.<name> (one file, hard-linked, where the file
system allows).

Exit status: 0 done, 1 refused (counter not increasing, path exists, key not
in root, threshold not met, wrong passphrase, tampered repository),
2 usage or unreadable input.

Run "baseline release <action> -h" for the flags of an action.`)
}

func runRelease(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		releaseUsage(stderr)
		return 2
	}
	actions := map[string]func([]string, io.Writer, io.Writer) int{
		"init": releaseInit, "add": releaseAdd, "resign": releaseResign,
		"rotate": releaseRotate, "list": releaseList, "bundle": releaseBundle,
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		releaseUsage(stdout)
		return 0
	}
	a, ok := actions[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "baseline release: unknown action %q\n", args[0])
		releaseUsage(stderr)
		return 2
	}
	return a(args[1:], stdout, stderr)
}

type pathList []string

func (l *pathList) String() string     { return strings.Join(*l, ",") }
func (l *pathList) Set(v string) error { *l = append(*l, v); return nil }

// releaseFlags are the flags every action shares.
type releaseFlags struct {
	fs                                  *flag.FlagSet
	repo                                string
	root, targets, snapshot, timestamp  pathList
	pass                                passphraseFlags
	expRoot, expTargets, expSnap, expTS time.Duration
	keys                                bool     // key and expiry flags registered
	keyPass                             pathList // KEYFILE=PASSFILE: a key's own passphrase
}

func newReleaseFlags(action string, stderr io.Writer, keys bool) *releaseFlags {
	f := &releaseFlags{fs: flag.NewFlagSet("release "+action, flag.ContinueOnError), keys: keys}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.repo, "repo", "", "repository `DIR` (required)")
	if keys {
		f.fs.Var(&f.root, "root-key", "root private key `FILE` (repeatable)")
		f.fs.Var(&f.targets, "targets-key", "targets private key `FILE` (repeatable)")
		f.fs.Var(&f.snapshot, "snapshot-key", "snapshot private key `FILE` (repeatable)")
		f.fs.Var(&f.timestamp, "timestamp-key", "timestamp private key `FILE` (repeatable)")
		f.pass.register(f.fs)
		f.fs.Var(&f.keyPass, "key-passphrase-file", "`KEYFILE=PASSFILE`: the passphrase of one key file, for keys whose custodians keep their own (repeatable; other keys use -passphrase-file or -passphrase-env)")
		f.fs.DurationVar(&f.expRoot, "expiry-root", release.DefaultExpiry.Root, "validity of root metadata")
		f.fs.DurationVar(&f.expTargets, "expiry-targets", release.DefaultExpiry.Targets, "validity of targets metadata")
		f.fs.DurationVar(&f.expSnap, "expiry-snapshot", release.DefaultExpiry.Snapshot, "validity of snapshot metadata")
		f.fs.DurationVar(&f.expTS, "expiry-timestamp", release.DefaultExpiry.Timestamp, "validity of timestamp metadata")
	}
	return f
}

// parse returns -1 on success, else the exit code.
func (f *releaseFlags) parse(args []string, stderr io.Writer) int {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.fs.NArg() != 0 {
		fmt.Fprintf(stderr, "baseline %s: unexpected argument %q\n", f.fs.Name(), f.fs.Arg(0))
		return 2
	}
	if f.repo == "" {
		fmt.Fprintf(stderr, "baseline %s: -repo is required\n", f.fs.Name())
		return 2
	}
	for name, d := range map[string]time.Duration{"-expiry-root": f.expRoot, "-expiry-targets": f.expTargets,
		"-expiry-snapshot": f.expSnap, "-expiry-timestamp": f.expTS} {
		if f.keys && d <= 0 {
			fmt.Fprintf(stderr, "baseline %s: %s must be a positive duration (got %v)\n", f.fs.Name(), name, d)
			return 2
		}
	}
	return -1
}

// keyLoader reads key files, asking for the passphrase once and only if a
// file is encrypted.
type keyLoader struct {
	pf      *passphraseFlags
	pass    []byte
	loaded  bool
	own     map[string]*passphraseFlags // per key file (-key-passphrase-file)
	owned   [][]byte                    // their passphrases, cleared on close
	errCode int
}

func (k *keyLoader) load(paths []string) ([]crypto.Signer, error) {
	var out []crypto.Signer
	for _, p := range paths {
		data, err := durable.ReadFile(durable.OS, p, keyfile.MaxFileSize)
		if err != nil {
			k.errCode = 2
			return nil, err
		}
		var pass []byte
		if own := k.own[filepath.Clean(p)]; own != nil && keyfile.IsEncrypted(data) {
			if pass, err = own.read(); err != nil {
				k.errCode = 2
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			k.owned = append(k.owned, pass)
		} else if keyfile.IsEncrypted(data) {
			if !k.loaded {
				if !k.pf.given() {
					k.errCode = 2
					return nil, fmt.Errorf("%s is encrypted: give -passphrase-file or -passphrase-env", p)
				}
				if k.pass, err = k.pf.read(); err != nil {
					k.errCode = 2
					return nil, err
				}
				k.loaded = true
			}
			pass = k.pass
		}
		s, err := keyfile.DecodePrivate(data, pass)
		if err != nil {
			k.errCode = 1
			if errors.Is(err, keyfile.ErrFormat) || errors.Is(err, keyfile.ErrUnsupported) {
				k.errCode = 2
			}
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (k *keyLoader) close() {
	clear(k.pass)
	for _, p := range k.owned {
		clear(p)
	}
}

func (f *releaseFlags) config(stderr io.Writer) (release.Config, *keyLoader, int) {
	kl := &keyLoader{pf: &f.pass, own: map[string]*passphraseFlags{}}
	for _, kv := range f.keyPass {
		key, pass, ok := strings.Cut(kv, "=")
		if !ok || key == "" || pass == "" {
			fmt.Fprintf(stderr, "baseline %s: -key-passphrase-file %q: want KEYFILE=PASSFILE\n", f.fs.Name(), kv)
			return release.Config{}, nil, 2
		}
		kl.own[filepath.Clean(key)] = &passphraseFlags{file: pass}
	}
	var keys release.Keys
	for _, x := range []struct {
		dst   *[]crypto.Signer
		paths pathList
	}{{&keys.Root, f.root}, {&keys.Targets, f.targets}, {&keys.Snapshot, f.snapshot}, {&keys.Timestamp, f.timestamp}} {
		s, err := kl.load(x.paths)
		if err != nil {
			fmt.Fprintf(stderr, "baseline %s: %s\n", f.fs.Name(), oneLine(err.Error()))
			kl.close()
			return release.Config{}, nil, kl.errCode
		}
		*x.dst = s
	}
	return release.Config{
		Keys:   keys,
		Expiry: release.Expiry{Root: f.expRoot, Targets: f.expTargets, Snapshot: f.expSnap, Timestamp: f.expTS},
		Now:    releaseClock,
	}, kl, -1
}

// expiryWarning is how far ahead `baseline release` warns of a role's
// expiry: 30 days, or half the role's default lifetime for the short-lived
// snapshot (7 days) and timestamp (1 day), which are re-signed from cron and
// would otherwise always be "expiring".
const expiryWarning = 30 * 24 * time.Hour

func warnWindow(role string) time.Duration {
	var life time.Duration
	switch role {
	case release.Snapshot:
		life = release.DefaultExpiry.Snapshot
	case release.Timestamp:
		life = release.DefaultExpiry.Timestamp
	default:
		return expiryWarning
	}
	return min(expiryWarning, life/2)
}

var releaseRoles = []string{release.Root, release.Targets, release.Snapshot, release.Timestamp}

// expiryNote says whether role has expired or expires within
// expiryWarning, with what to run; "" when neither.
func expiryNote(repo *release.Repo, role string) string {
	exp, now := repo.Expires(role), releaseClock()
	switch {
	case !exp.After(now):
		return fmt.Sprintf("%s EXPIRED on %s: devices refuse this repository; run baseline release resign -role %s", role, exp.UTC().Format(time.RFC3339), role)
	case exp.Sub(now) <= warnWindow(role):
		return fmt.Sprintf("%s expires in %s (%s): run baseline release resign -role %s", role, exp.Sub(now).Round(time.Minute), exp.UTC().Format(time.RFC3339), role)
	}
	return ""
}

// warnExpiry writes a warning to stderr for every role that has expired
// or expires soon.
func warnExpiry(stderr io.Writer, name string, repo *release.Repo) {
	for _, role := range releaseRoles {
		if n := expiryNote(repo, role); n != "" {
			fmt.Fprintf(stderr, "baseline %s: WARNING: %s\n", name, n)
		}
	}
}

// refuseExpiredRoot refuses to publish into a repository whose root has
// expired: devices would refuse everything in it.
func refuseExpiredRoot(stderr io.Writer, name string, repo *release.Repo) bool {
	if exp := repo.Expires(release.Root); !exp.After(releaseClock()) {
		fmt.Fprintf(stderr, "baseline %s: the root role expired on %s, so devices refuse this repository; run baseline release resign -role root first\n", name, exp.UTC().Format(time.RFC3339))
		return true
	}
	return false
}

// releaseErr prints err and returns the exit code for it.
func releaseErr(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "baseline %s: %s\n", name, oneLine(err.Error()))
	var pe *os.PathError
	if errors.Is(err, release.ErrNotRepository) || errors.As(err, &pe) && !errors.Is(err, os.ErrExist) {
		return 2
	}
	return 1
}

func releaseInit(args []string, stdout, stderr io.Writer) int {
	f := newReleaseFlags("init", stderr, true)
	var th release.Thresholds
	f.fs.IntVar(&th.Root, "root-threshold", 1, "signatures required for root")
	f.fs.IntVar(&th.Targets, "targets-threshold", 1, "signatures required for targets")
	f.fs.IntVar(&th.Snapshot, "snapshot-threshold", 1, "signatures required for snapshot")
	f.fs.IntVar(&th.Timestamp, "timestamp-threshold", 1, "signatures required for timestamp")
	if c := f.parse(args, stderr); c >= 0 {
		return c
	}
	if len(f.root) == 0 || len(f.targets) == 0 || len(f.snapshot) == 0 || len(f.timestamp) == 0 {
		fmt.Fprintln(stderr, "baseline release init: keys for all four roles are required (-root-key, -targets-key, -snapshot-key, -timestamp-key)")
		return 2
	}
	if th.Root < 1 || th.Targets < 1 || th.Snapshot < 1 || th.Timestamp < 1 {
		fmt.Fprintln(stderr, "baseline release init: thresholds must be at least 1")
		return 2
	}
	cfg, kl, c := f.config(stderr)
	if c >= 0 {
		return c
	}
	defer kl.close()
	cfg.Thresholds = th
	if err := os.MkdirAll(f.repo, 0o755); err != nil {
		return releaseErr(stderr, "release init", err)
	}
	repo, err := release.Init(context.Background(), f.repo, cfg)
	if err != nil {
		return releaseErr(stderr, "release init", err)
	}
	fmt.Fprintf(stdout, "initialised %s (root version %d)\n", f.repo, repo.Version(release.Root))
	fmt.Fprintf(stdout, "embed %s in the firmware as its trusted root\n", f.repo+"/"+release.MetadataDir+"/1.root.json")
	return 0
}

func releaseAdd(args []string, stdout, stderr io.Writer) int {
	f := newReleaseFlags("add", stderr, true)
	img := f.fs.String("image", "", "firmware image `FILE` (required)")
	path := f.fs.String("path", "", "target `PATH` in the repository, e.g. smartplug/fw-1.4.0.bin (required)")
	var d update.Descriptor
	f.fs.StringVar(&d.HardwareID, "hardware-id", "", "hardware `ID` the image is built for (required)")
	f.fs.Uint64Var(&d.ReleaseCounter, "counter", 0, "release `counter`, greater than every earlier release for this hardware ID (required)")
	f.fs.StringVar(&d.Version, "version", "", "human-readable `version` (required)")
	f.fs.BoolVar(&d.Security, "security", false, "the release fixes security vulnerabilities (5.3-11)")
	var risks pathList
	f.fs.Var(&risks, "risk", "a risk the release mitigates, in plain words (repeatable, 5.3-11)")
	f.fs.BoolVar(&d.Reboot, "reboot", false, "installing restarts the device (5.3-12)")
	f.fs.DurationVar(&d.Downtime, "downtime", 0, "expected time the device's function is unavailable while installing (5.3-12)")
	support := f.fs.String("support-until", "", "last `date` (YYYY-MM-DD) of security updates for this hardware (5.3-13)")
	f.fs.IntVar(&d.ChunkSize, "chunk-size", release.DefaultChunkSize, fmt.Sprintf("bytes per verified chunk: a multiple of 64 from %d to %d", update.MinChunkSize, update.MaxChunkSize))
	mldsa := f.fs.String("mldsa-key", "", "ML-DSA-65 private key `FILE` to co-sign the target")
	sha512 := f.fs.Bool("sha512", false, "also list the image's SHA-512 in the target (devices then compute it too; default: SHA-256 only)")
	if c := f.parse(args, stderr); c >= 0 {
		return c
	}
	if *img == "" || *path == "" || d.HardwareID == "" || d.ReleaseCounter == 0 || d.Version == "" {
		fmt.Fprintln(stderr, "baseline release add: -image, -path, -hardware-id, -counter and -version are required")
		return 2
	}
	d.Risks = risks
	if d.ChunkSize < update.MinChunkSize || d.ChunkSize > update.MaxChunkSize || d.ChunkSize%64 != 0 {
		fmt.Fprintf(stderr, "baseline release add: -chunk-size %d: must be a multiple of 64 from %d to %d\n", d.ChunkSize, update.MinChunkSize, update.MaxChunkSize)
		return 2
	}
	if d.Downtime < 0 {
		fmt.Fprintln(stderr, "baseline release add: -downtime must not be negative")
		return 2
	}
	if *support != "" {
		t, err := time.Parse("2006-01-02", *support)
		if err != nil {
			fmt.Fprintln(stderr, "baseline release add: -support-until must be YYYY-MM-DD")
			return 2
		}
		if t.Before(releaseClock().UTC().Truncate(24 * time.Hour)) {
			fmt.Fprintf(stderr, "baseline release add: -support-until %s is in the past\n", *support)
			return 2
		}
		d.SupportUntil = t
	}
	cfg, kl, c := f.config(stderr)
	if c >= 0 {
		return c
	}
	defer kl.close()
	var cosigner crypto.Signer
	if *mldsa != "" {
		s, err := kl.load([]string{*mldsa})
		if err != nil {
			fmt.Fprintf(stderr, "baseline release add: %s\n", oneLine(err.Error()))
			return kl.errCode
		}
		if alg, _ := keyfile.AlgorithmOf(s[0].Public()); alg != keyfile.MLDSA65 {
			fmt.Fprintf(stderr, "baseline release add: %s is not an ML-DSA-65 key\n", *mldsa)
			return 2
		}
		cosigner = s[0]
	}
	file, err := os.Open(*img)
	if err != nil {
		return releaseErr(stderr, "release add", err)
	}
	defer file.Close()
	repo, err := release.Open(f.repo, cfg)
	if err != nil {
		return releaseErr(stderr, "release add", err)
	}
	if refuseExpiredRoot(stderr, "release add", repo) {
		return 1
	}
	if same, err := sameTarget(repo, *path, file, d, cosigner != nil, *sha512); err != nil {
		return releaseErr(stderr, "release add", err)
	} else if same {
		fmt.Fprintf(stdout, "%s is already published with this image and these settings: nothing changed (targets v%d)\n", *path, repo.Version(release.Targets))
		warnExpiry(stderr, "release add", repo)
		return 0
	}
	err = repo.AddTarget(context.Background(), release.Target{Path: *path, Image: file, Descriptor: d, CoSigner: cosigner, SHA512: *sha512})
	if err != nil {
		return releaseErr(stderr, "release add", err)
	}
	tf, _ := repo.Target(*path)
	fmt.Fprintf(stdout, "published %s: %d bytes, sha256 %x, counter %d; targets v%d, snapshot v%d, timestamp v%d\n",
		*path, tf.Length, []byte(tf.Hashes["sha256"]), d.ReleaseCounter,
		repo.Version(release.Targets), repo.Version(release.Snapshot), repo.Version(release.Timestamp))
	warnExpiry(stderr, "release add", repo)
	return 0
}

// sameTarget reports whether path is already published with exactly this
// image (length and SHA-256) and descriptor, so that re-running an
// identical add changes nothing. The image is read once and rewound.
func sameTarget(repo *release.Repo, path string, img *os.File, d update.Descriptor, cosigned, sha512 bool) (bool, error) {
	tf, ok := repo.Target(path)
	if !ok || tf.Custom == nil {
		return false, nil
	}
	old, err := update.DecodeDescriptor(*tf.Custom)
	if err != nil {
		return false, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, img)
	if err != nil {
		return false, err
	}
	if _, err := img.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	_, has512 := tf.Hashes["sha512"]
	return n == tf.Length && bytes.Equal(h.Sum(nil), tf.Hashes["sha256"]) && has512 == sha512 &&
		(old.CoSignature != nil) == cosigned &&
		old.HardwareID == d.HardwareID && old.ReleaseCounter == d.ReleaseCounter && old.Version == d.Version &&
		old.Security == d.Security && slices.Equal(old.Risks, d.Risks) && old.Reboot == d.Reboot &&
		old.Downtime == d.Downtime && old.SupportUntil.Equal(d.SupportUntil) && old.ChunkSize == d.ChunkSize, nil
}

func releaseResign(args []string, stdout, stderr io.Writer) int {
	f := newReleaseFlags("resign", stderr, true)
	role := f.fs.String("role", release.Timestamp, "`role` to sign again: timestamp, snapshot, targets or root")
	within := f.fs.Duration("if-expiring-within", 0, "only re-sign if the role expires within this `duration` (for cron; 0: always)")
	if c := f.parse(args, stderr); c >= 0 {
		return c
	}
	switch *role {
	case release.Root, release.Targets, release.Snapshot, release.Timestamp:
	default:
		fmt.Fprintf(stderr, "baseline release resign: unknown role %q\n", *role)
		return 2
	}
	if *within < 0 {
		fmt.Fprintf(stderr, "baseline release resign: -if-expiring-within must not be negative (got %v)\n", *within)
		return 2
	}
	cfg, kl, c := f.config(stderr)
	if c >= 0 {
		return c
	}
	defer kl.close()
	repo, err := release.Open(f.repo, cfg)
	if err != nil {
		return releaseErr(stderr, "release resign", err)
	}
	if *within > 0 && repo.Expires(*role).Sub(releaseClock()) > *within {
		fmt.Fprintf(stdout, "%s version %d still valid until %s; not re-signed\n", *role, repo.Version(*role), repo.Expires(*role).Format(time.RFC3339))
		return 0
	}
	if err := repo.Resign(context.Background(), *role); err != nil {
		return releaseErr(stderr, "release resign", err)
	}
	fmt.Fprintf(stdout, "%s version %d, expires %s\n", *role, repo.Version(*role), repo.Expires(*role).Format(time.RFC3339))
	return 0
}

func releaseRotate(args []string, stdout, stderr io.Writer) int {
	f := newReleaseFlags("rotate", stderr, true)
	role := f.fs.String("role", "", "`role` whose keys are replaced: root, targets, snapshot or timestamp (required)")
	var newKeys pathList
	f.fs.Var(&newKeys, "new-key", "new private key `FILE` for the role (repeatable, required)")
	threshold := f.fs.Int("threshold", 1, "signatures required for the role from now on")
	if c := f.parse(args, stderr); c >= 0 {
		return c
	}
	switch *role {
	case release.Root, release.Targets, release.Snapshot, release.Timestamp:
	default:
		fmt.Fprintf(stderr, "baseline release rotate: -role must be root, targets, snapshot or timestamp\n")
		return 2
	}
	if len(newKeys) == 0 || *threshold < 1 {
		fmt.Fprintln(stderr, "baseline release rotate: -new-key is required and -threshold must be at least 1")
		return 2
	}
	cfg, kl, c := f.config(stderr)
	if c >= 0 {
		return c
	}
	defer kl.close()
	nk, err := kl.load(newKeys)
	if err != nil {
		fmt.Fprintf(stderr, "baseline release rotate: %s\n", oneLine(err.Error()))
		return kl.errCode
	}
	repo, err := release.Open(f.repo, cfg)
	if err != nil {
		return releaseErr(stderr, "release rotate", err)
	}
	if *role != release.Root && refuseExpiredRoot(stderr, "release rotate", repo) {
		return 1
	}
	if sameKeys(repo, *role, nk, *threshold) {
		fmt.Fprintf(stdout, "%s already has exactly these keys and threshold %d: nothing changed (root version %d)\n", *role, *threshold, repo.Version(release.Root))
		return 0
	}
	if err := repo.Rotate(context.Background(), *role, nk, *threshold); err != nil {
		return releaseErr(stderr, "release rotate", err)
	}
	fmt.Fprintf(stdout, "rotated %s keys: root version %d (%d.root.json)\n", *role, repo.Version(release.Root), repo.Version(release.Root))
	warnExpiry(stderr, "release rotate", repo)
	return 0
}

// sameKeys reports whether role already has exactly keys and threshold in
// the repository's root, so that re-running an identical rotate changes
// nothing.
func sameKeys(repo *release.Repo, role string, keys []crypto.Signer, threshold int) bool {
	b, err := repo.RootJSON()
	if err != nil {
		return false
	}
	var root struct {
		Signed struct {
			Roles map[string]struct {
				KeyIDs    []string `json:"keyids"`
				Threshold int      `json:"threshold"`
			} `json:"roles"`
		} `json:"signed"`
	}
	if json.Unmarshal(b, &root) != nil {
		return false
	}
	r, ok := root.Signed.Roles[role]
	if !ok || r.Threshold != threshold || len(r.KeyIDs) != len(keys) {
		return false
	}
	for _, k := range keys {
		id, err := release.KeyID(k.Public())
		if err != nil || !slices.Contains(r.KeyIDs, id) {
			return false
		}
	}
	return true
}

func releaseBundle(args []string, stdout, stderr io.Writer) int {
	f := newReleaseFlags("bundle", stderr, false)
	path := f.fs.String("path", "", "published target `PATH` to bundle (required)")
	out := f.fs.String("out", "", "bundle `FILE` to write (required; not overwritten)")
	sigFile := f.fs.String("cosign-sig", "", "`FILE` holding \"cosign sign-blob\" output for the image (base64), to include")
	if c := f.parse(args, stderr); c >= 0 {
		return c
	}
	if *path == "" || *out == "" {
		fmt.Fprintln(stderr, "baseline release bundle: -path and -out are required")
		return 2
	}
	repo, err := release.Open(f.repo, release.Config{})
	if err != nil {
		return releaseErr(stderr, "release bundle", err)
	}
	if _, ok := repo.Target(*path); !ok {
		fmt.Fprintf(stderr, "baseline release bundle: %s is not published in %s (see baseline release list)\n", *path, f.repo)
		return 1
	}
	if refuseExpiredRoot(stderr, "release bundle", repo) {
		return 1
	}
	var sig []byte
	if *sigFile != "" {
		if sig, err = durable.ReadFile(durable.OS, *sigFile, 64<<10); err != nil {
			return releaseErr(stderr, "release bundle", err)
		}
		sig = bytes.TrimSpace(sig)
	}
	w, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return releaseErr(stderr, "release bundle", err)
	}
	err = release.WriteBundle(w, os.DirFS(f.repo), *path, sig)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return releaseErr(stderr, "release bundle", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %s with its metadata (targets v%d)\n", *out, *path, repo.Version(release.Targets))
	warnExpiry(stderr, "release bundle", repo)
	return 0
}

func releaseList(args []string, stdout, stderr io.Writer) int {
	f := newReleaseFlags("list", stderr, false)
	if c := f.parse(args, stderr); c >= 0 {
		return c
	}
	repo, err := release.Open(f.repo, release.Config{})
	if err != nil {
		return releaseErr(stderr, "release list", err)
	}
	for _, role := range releaseRoles {
		line := fmt.Sprintf("%-9s version %d, expires %s", role, repo.Version(role), repo.Expires(role).UTC().Format(time.RFC3339))
		switch exp := repo.Expires(role); {
		case !exp.After(releaseClock()):
			line += "  EXPIRED"
		case exp.Sub(releaseClock()) <= warnWindow(role):
			line += "  EXPIRES SOON"
		}
		fmt.Fprintln(stdout, line)
	}
	warnExpiry(stderr, "release list", repo)
	for _, p := range repo.TargetPaths() {
		tf, _ := repo.Target(p)
		line := fmt.Sprintf("target %s %d bytes", p, tf.Length)
		if tf.Custom != nil {
			if d, err := update.DecodeDescriptor(*tf.Custom); err == nil {
				line += fmt.Sprintf(" hardware=%s counter=%d version=%s", d.HardwareID, d.ReleaseCounter, d.Version)
				if d.Security {
					line += " security"
				}
				if d.CoSignature != nil {
					line += " ml-dsa-cosigned"
				}
			}
		}
		fmt.Fprintln(stdout, line)
	}
	return 0
}
