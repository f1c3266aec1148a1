package release_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

func genKey(t testing.TB, alg keyfile.Algorithm) crypto.Signer {
	t.Helper()
	k, err := keyfile.Generate(alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeys: ECDSA for root and targets, Ed25519 for snapshot and timestamp,
// so both TUF key types are exercised.
func testKeys(t testing.TB) release.Keys {
	return release.Keys{
		Root:      []crypto.Signer{genKey(t, keyfile.ECDSAP256)},
		Targets:   []crypto.Signer{genKey(t, keyfile.ECDSAP256)},
		Snapshot:  []crypto.Signer{genKey(t, keyfile.Ed25519)},
		Timestamp: []crypto.Signer{genKey(t, keyfile.Ed25519)},
	}
}

func desc(hw string, counter uint64) update.Descriptor {
	return update.Descriptor{
		HardwareID:     hw,
		ReleaseCounter: counter,
		Version:        fmt.Sprintf("1.%d.0", counter),
		Security:       true,
		Risks:          []string{"remote code execution in the web UI"},
		Reboot:         true,
		Downtime:       30 * time.Second,
		SupportUntil:   time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC),
		ChunkSize:      update.MinChunkSize,
	}
}

func image(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

// client walks a repository on fsys the way a TUF client does, through
// go-tuf's trustedmetadata: root rotations from trustedRoot, then timestamp,
// the snapshot and targets versions it names (consistent snapshots).
func client(t testing.TB, fsys durable.FS, dir string, trustedRoot []byte) (*trustedmetadata.TrustedMetadata, error) {
	t.Helper()
	tm, err := trustedmetadata.New(trustedRoot)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	meta := func(name string) ([]byte, error) {
		return durable.ReadFile(fsys, filepath.Join(dir, release.MetadataDir, name), 64<<20)
	}
	for {
		data, err := meta(fmt.Sprintf("%d.root.json", tm.Root.Signed.Version+1))
		if err != nil {
			break
		}
		if _, err := tm.UpdateRoot(data); err != nil {
			return nil, fmt.Errorf("root rotation: %w", err)
		}
	}
	data, err := meta("timestamp.json")
	if err != nil {
		return nil, err
	}
	if _, err := tm.UpdateTimestamp(data); err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	data, err = meta(fmt.Sprintf("%d.snapshot.json", tm.Timestamp.Signed.Meta["snapshot.json"].Version))
	if err != nil {
		return nil, err
	}
	if _, err := tm.UpdateSnapshot(data, false); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	data, err = meta(fmt.Sprintf("%d.targets.json", tm.Snapshot.Signed.Meta["targets.json"].Version))
	if err != nil {
		return nil, err
	}
	if _, err := tm.UpdateTargets(data); err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	return tm, nil
}

// fetchTarget reads a target under both its names and checks length and
// hashes as a client would.
func fetchTarget(t testing.TB, fsys durable.FS, dir string, tf *metadata.TargetFiles) []byte {
	t.Helper()
	var out []byte
	for _, p := range []string{release.HashPrefixedPath(tf.Path, tf.Hashes["sha256"]), tf.Path} {
		data, err := durable.ReadFile(fsys, filepath.Join(dir, release.TargetsDir, filepath.FromSlash(p)), 0)
		if err != nil {
			t.Fatalf("target file %s: %v", p, err)
		}
		if err := tf.VerifyLengthHashes(data); err != nil {
			t.Fatalf("target file %s: %v", p, err)
		}
		out = data
	}
	return out
}

func TestRoundTripThroughTrustedMetadata(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := testKeys(t)
	repo, err := release.Init(ctx, dir, release.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	rootV1, err := repo.RootJSON()
	if err != nil {
		t.Fatal(err)
	}
	pq := genKey(t, keyfile.MLDSA65)
	img := image(3*update.MinChunkSize+100, 1)
	d := desc("smartplug-v2", 7)
	if err := repo.AddTarget(ctx, release.Target{Path: "smartplug/fw-1.7.0.bin", Image: bytes.NewReader(img), Descriptor: d, CoSigner: pq}); err != nil {
		t.Fatal(err)
	}
	// A fresh Open sees the same repository.
	repo, err = release.Open(dir, release.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := client(t, durable.OS, dir, rootV1)
	if err != nil {
		t.Fatal(err)
	}
	tf, ok := tm.Targets[metadata.TARGETS].Signed.Targets["smartplug/fw-1.7.0.bin"]
	if !ok {
		t.Fatal("client does not find the target")
	}
	tf.Path = "smartplug/fw-1.7.0.bin"
	got := fetchTarget(t, durable.OS, dir, tf)
	if !bytes.Equal(got, img) {
		t.Fatal("target content differs")
	}
	if tf.Length != int64(len(img)) || len(tf.Hashes["sha256"]) != 32 || tf.Hashes["sha512"] != nil {
		t.Fatalf("length %d, hashes %v", tf.Length, tf.Hashes)
	}
	gd, err := update.DecodeDescriptor(*tf.Custom)
	if err != nil {
		t.Fatal(err)
	}
	if gd.HardwareID != d.HardwareID || gd.ReleaseCounter != 7 || gd.Version != d.Version || !gd.Security ||
		!slices.Equal(gd.Risks, d.Risks) || !gd.Reboot || gd.Downtime != d.Downtime || !gd.SupportUntil.Equal(d.SupportUntil) {
		t.Fatalf("descriptor round trip: %+v", gd)
	}
	if err := gd.CheckLength(tf.Length); err != nil {
		t.Fatal(err)
	}
	// Descriptor format 2: SHA-256 chaining values, the last one the
	// image's SHA-256 (as TUF lists it).
	for i, h := range gd.Chunks {
		end := min((i+1)*gd.ChunkSize, len(img))
		if end == len(img) {
			if h != sha256.Sum256(img) || !bytes.Equal(h[:], tf.Hashes["sha256"]) {
				t.Fatalf("last chunk entry is not the image's sha256")
			}
			continue
		}
		hh := sha256.New()
		hh.Write(img[:end])
		st, _ := hh.(encoding.BinaryMarshaler).MarshalBinary()
		if !bytes.Equal(h[:], st[4:36]) {
			t.Fatalf("chunk %d chaining value differs", i)
		}
	}
	if err := update.VerifyCoSignature(pq.Public().(*mldsa65.PublicKey), gd.CoSignature, tf.Path, tf.Length, tf.Hashes, gd.ReleaseCounter, gd.HardwareID); err != nil {
		t.Fatal(err)
	}
	// Versions: targets 2 (1 from Init), snapshot 2, timestamp 2; every
	// versioned file is there.
	files, _ := repo.Files()
	for _, want := range []string{"metadata/1.root.json", "metadata/root.json", "metadata/1.targets.json",
		"metadata/2.targets.json", "metadata/2.snapshot.json", "metadata/timestamp.json",
		"targets/smartplug/fw-1.7.0.bin"} {
		if !slices.Contains(files, want) {
			t.Errorf("missing %s in %v", want, files)
		}
	}
	for _, f := range files {
		if strings.Contains(path.Base(f), ".tmp") {
			t.Errorf("temporary file left: %s", f)
		}
	}
}

// snapshotFiles returns every file with its content.
func snapshotFiles(t testing.TB, fsys durable.FS, dir string) map[string]string {
	t.Helper()
	repo, err := release.Open(dir, release.Config{FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	files, err := repo.Files()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range files {
		b, err := durable.ReadFile(fsys, filepath.Join(dir, f), 0)
		if err != nil {
			t.Fatal(err)
		}
		m[f] = string(b)
	}
	return m
}

func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("refused operation changed the file set: %d files before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("refused operation changed %s", k)
		}
	}
}

func TestRefusalsLeaveRepositoryUntouched(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := testKeys(t)
	repo, err := release.Init(ctx, dir, release.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.AddTarget(ctx, release.Target{Path: "fw-5.bin", Image: bytes.NewReader(image(5000, 5)), Descriptor: desc("hw-a", 5)}); err != nil {
		t.Fatal(err)
	}
	before := snapshotFiles(t, durable.OS, dir)
	noTimestamp := keys
	noTimestamp.Timestamp = nil
	stranger := keys
	stranger.Targets = []crypto.Signer{genKey(t, keyfile.Ed25519)}
	withMLDSA := keys
	withMLDSA.Targets = []crypto.Signer{genKey(t, keyfile.MLDSA65)}
	cases := []struct {
		name string
		keys release.Keys
		ts   []release.Target
		want error
	}{
		{"same counter", keys, []release.Target{{Path: "fw-5b.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 5)}}, release.ErrCounter},
		{"lower counter", keys, []release.Target{{Path: "fw-4.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 4)}}, release.ErrCounter},
		{"counter not increasing within a batch", keys, []release.Target{
			{Path: "fw-9.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 9)},
			{Path: "fw-8.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 8)}}, release.ErrCounter},
		{"path reused", keys, []release.Target{{Path: "fw-5.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 6)}}, release.ErrTargetExists},
		{"path twice in a batch", keys, []release.Target{
			{Path: "x.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-b", 1)},
			{Path: "x.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-c", 1)}}, release.ErrTargetExists},
		{"path escapes", keys, []release.Target{{Path: "../evil.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 6)}}, release.ErrTargetPath},
		{"hidden path", keys, []release.Target{{Path: "a/.x", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 6)}}, release.ErrTargetPath},
		{"no hardware ID", keys, []release.Target{{Path: "y.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("", 6)}}, update.ErrDescriptor},
		{"empty image", keys, []release.Target{{Path: "y.bin", Image: bytes.NewReader(nil), Descriptor: desc("hw-a", 6)}}, release.ErrConfig},
		{"unreadable image", keys, []release.Target{{Path: "y.bin", Image: io.MultiReader(bytes.NewReader(image(9000, 1)), errReader{}), Descriptor: desc("hw-a", 6)}}, errBroken},
		{"no timestamp key", noTimestamp, []release.Target{{Path: "z.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 6)}}, release.ErrThreshold},
		{"targets key not in root", stranger, []release.Target{{Path: "z.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 6)}}, release.ErrUnknownKey},
		{"ML-DSA as a TUF key", withMLDSA, []release.Target{{Path: "z.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw-a", 6)}}, release.ErrKeyType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo, err := release.Open(dir, release.Config{Keys: c.keys})
			if err != nil {
				t.Fatal(err)
			}
			err = repo.AddTargets(ctx, c.ts)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			sameFiles(t, before, snapshotFiles(t, durable.OS, dir))
			// The Repo still describes what is on disk and still works.
			if repo.Version(release.Targets) != 2 {
				t.Fatalf("targets version %d after refusal", repo.Version(release.Targets))
			}
		})
	}
	// A second hardware ID has its own counter sequence.
	if err := repo.AddTarget(ctx, release.Target{Path: "other-1.bin", Image: bytes.NewReader(image(10, 2)), Descriptor: desc("hw-b", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := repo.AddTarget(ctx, release.Target{Path: "fw-6.bin", Image: bytes.NewReader(image(10, 2)), Descriptor: desc("hw-a", 6)}); err != nil {
		t.Fatal(err)
	}
}

var errBroken = errors.New("image source broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestInitRefusesExistingAndWeakSetup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := testKeys(t)
	if _, err := release.Init(ctx, dir, release.Config{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	before := snapshotFiles(t, durable.OS, dir)
	if _, err := release.Init(ctx, dir, release.Config{Keys: testKeys(t)}); !errors.Is(err, release.ErrExists) {
		t.Fatalf("second Init: %v", err)
	}
	sameFiles(t, before, snapshotFiles(t, durable.OS, dir))
	if _, err := release.Init(ctx, t.TempDir(), release.Config{Keys: keys, Thresholds: release.Thresholds{Root: 2}}); !errors.Is(err, release.ErrThreshold) {
		t.Fatalf("threshold above key count: %v", err)
	}
	if _, err := release.Open(t.TempDir(), release.Config{}); !errors.Is(err, release.ErrNotRepository) {
		t.Fatalf("Open of an empty dir: %v", err)
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := testKeys(t)
	repo, err := release.Init(ctx, dir, release.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.AddTarget(ctx, release.Target{Path: "a.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw", 1)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"2.targets.json", "2.snapshot.json", "timestamp.json", "root.json"} {
		p := filepath.Join(dir, release.MetadataDir, name)
		data, _ := durable.ReadFile(durable.OS, p, 0)
		edited := bytes.Replace(data, []byte(`"expires":"20`), []byte(`"expires":"21`), 1)
		if bytes.Equal(edited, data) {
			t.Fatalf("%s: edit did not apply", name)
		}
		durable.WriteFile(durable.OS, p, edited, 0o644)
		if _, err := release.Open(dir, release.Config{Keys: keys}); !errors.Is(err, release.ErrTampered) {
			t.Fatalf("Open with tampered %s: %v", name, err)
		}
		durable.WriteFile(durable.OS, p, data, 0o644)
	}
	if _, err := release.Open(dir, release.Config{Keys: keys}); err != nil {
		t.Fatalf("Open after restoring: %v", err)
	}
}

func TestResign(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := testKeys(t)
	now := time.Now()
	clock := func() time.Time { return now }
	repo, err := release.Init(ctx, dir, release.Config{Keys: keys, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	rootV1, _ := repo.RootJSON()
	// Only the online timestamp key, as on the cron host.
	online, err := release.Open(dir, release.Config{Keys: release.Keys{Timestamp: keys.Timestamp}, Now: func() time.Time { return now.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ts := online.Version(release.Timestamp)
	exp := online.Expires(release.Timestamp)
	if err := online.Resign(ctx, release.Timestamp); err != nil {
		t.Fatal(err)
	}
	if online.Version(release.Timestamp) != ts+1 || !online.Expires(release.Timestamp).After(exp) {
		t.Fatalf("timestamp version %d expires %v", online.Version(release.Timestamp), online.Expires(release.Timestamp))
	}
	if err := online.Resign(ctx, release.Snapshot); !errors.Is(err, release.ErrThreshold) {
		t.Fatalf("snapshot resign without its key: %v", err)
	}
	repo, _ = release.Open(dir, release.Config{Keys: keys, Now: clock})
	for _, role := range []string{release.Snapshot, release.Targets, release.Root} {
		v := repo.Version(role)
		if err := repo.Resign(ctx, role); err != nil {
			t.Fatalf("resign %s: %v", role, err)
		}
		if repo.Version(role) != v+1 {
			t.Fatalf("%s version %d, want %d", role, repo.Version(role), v+1)
		}
	}
	if _, err := client(t, durable.OS, dir, rootV1); err != nil {
		t.Fatalf("client after resigning: %v", err)
	}
}

func TestRotateKeysAcceptedByTrustedMetadata(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := testKeys(t)
	repo, err := release.Init(ctx, dir, release.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	rootV1, _ := repo.RootJSON()

	// Root: 1-of-1 → 2-of-3 new keys. Signing with only the new keys (no
	// old threshold) is refused, nothing written.
	newRoot := []crypto.Signer{genKey(t, keyfile.Ed25519), genKey(t, keyfile.ECDSAP256), genKey(t, keyfile.Ed25519)}
	before := snapshotFiles(t, durable.OS, dir)
	noOld := keys
	noOld.Root = newRoot
	wrong, _ := release.Open(dir, release.Config{Keys: noOld})
	if err := wrong.Rotate(ctx, release.Root, newRoot, 2); !errors.Is(err, release.ErrUnknownKey) && !errors.Is(err, release.ErrThreshold) {
		t.Fatalf("rotation without the old root key: %v", err)
	}
	sameFiles(t, before, snapshotFiles(t, durable.OS, dir))
	// Too few new keys for the new threshold.
	if err := repo.Rotate(ctx, release.Root, newRoot[:1], 2); !errors.Is(err, release.ErrThreshold) {
		t.Fatalf("threshold above new key count: %v", err)
	}
	sameFiles(t, before, snapshotFiles(t, durable.OS, dir))

	if err := repo.Rotate(ctx, release.Root, newRoot, 2); err != nil {
		t.Fatal(err)
	}
	if repo.Version(release.Root) != 2 {
		t.Fatalf("root version %d", repo.Version(release.Root))
	}
	// Targets key rotation, signed by the new root threshold (the Repo now
	// holds the new root keys).
	newTargets := []crypto.Signer{genKey(t, keyfile.Ed25519)}
	if err := repo.Rotate(ctx, release.Targets, newTargets, 1); err != nil {
		t.Fatal(err)
	}
	// Snapshot and timestamp keys too (the online keys, rotated after a
	// compromise of the cron host).
	if err := repo.Rotate(ctx, release.Snapshot, []crypto.Signer{genKey(t, keyfile.ECDSAP256)}, 1); err != nil {
		t.Fatal(err)
	}
	if err := repo.Rotate(ctx, release.Timestamp, []crypto.Signer{genKey(t, keyfile.ECDSAP256), genKey(t, keyfile.Ed25519)}, 2); err != nil {
		t.Fatal(err)
	}
	if err := repo.AddTarget(ctx, release.Target{Path: "after.bin", Image: bytes.NewReader(image(100, 3)), Descriptor: desc("hw", 1)}); err != nil {
		t.Fatal(err)
	}
	tm, err := client(t, durable.OS, dir, rootV1)
	if err != nil {
		t.Fatalf("client from root v1: %v", err)
	}
	if tm.Root.Signed.Version != 5 {
		t.Fatalf("client root version %d, want 5", tm.Root.Signed.Version)
	}
	if tm.Timestamp.Signed.Version < 4 || len(tm.Timestamp.Signatures) != 2 {
		t.Fatalf("timestamp v%d with %d signatures", tm.Timestamp.Signed.Version, len(tm.Timestamp.Signatures))
	}
	if _, ok := tm.Targets[metadata.TARGETS].Signed.Targets["after.bin"]; !ok {
		t.Fatal("target after rotation not found")
	}
	// The old targets key is no longer accepted by the tool...
	old, err := release.Open(dir, release.Config{Keys: release.Keys{Targets: keys.Targets, Snapshot: keys.Snapshot, Timestamp: keys.Timestamp}})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.AddTarget(ctx, release.Target{Path: "old.bin", Image: bytes.NewReader(image(10, 1)), Descriptor: desc("hw", 2)}); !errors.Is(err, release.ErrUnknownKey) {
		t.Fatalf("old targets key: %v", err)
	}
	// ...and its removed key is gone from root.json.
	oldID, _ := release.KeyID(keys.Targets[0].Public())
	if _, ok := tm.Root.Signed.Keys[oldID]; ok {
		t.Fatal("retired targets key still listed in root")
	}
	// The old root key alone can no longer sign a root.
	oldRootOnly, _ := release.Open(dir, release.Config{Keys: release.Keys{Root: keys.Root}})
	if err := oldRootOnly.Resign(ctx, release.Root); err == nil {
		t.Fatal("retired root key signed a new root")
	}
}

func TestAddTargetCrashSafe(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t)
	var rootV1 []byte
	img := image(2*update.MinChunkSize+1, 9)
	setup := func(fsys *durable.CrashFS) {
		fsys.MkdirAll("repo", 0o755)
		repo, err := release.Init(ctx, "repo", release.Config{FS: fsys, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if rootV1 == nil {
			rootV1, _ = repo.RootJSON()
		}
	}
	run := func(fsys *durable.CrashFS) error {
		repo, err := release.Open("repo", release.Config{FS: fsys, Keys: keys})
		if err != nil {
			return err
		}
		return repo.AddTarget(ctx, release.Target{Path: "fw/1.bin", Image: bytes.NewReader(img), Descriptor: desc("hw", 1)})
	}
	sawNew := false
	n := durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		// Whatever the crash point, a client sees a consistent repository:
		// the old one or the new one, and every target it lists is
		// complete under both names.
		tm, err := client(t, fsys, "repo", rootV1)
		if err != nil {
			t.Fatalf("crash at %d (%v): client refuses the repository: %v", point, mode, err)
		}
		for p, tf := range tm.Targets[metadata.TARGETS].Signed.Targets {
			tf.Path = p
			fetchTarget(t, fsys, "repo", tf)
			sawNew = true
		}
		// And the tool can open it and publish again.
		repo, err := release.Open("repo", release.Config{FS: fsys, Keys: keys})
		if err != nil {
			t.Fatalf("crash at %d (%v): Open: %v", point, mode, err)
		}
		// The tool sees what clients see: the target is there exactly
		// when clients see it, and an interrupted publication is simply
		// run again.
		_, published := tm.Targets[metadata.TARGETS].Signed.Targets["fw/1.bin"]
		if _, ok := repo.Target("fw/1.bin"); ok != published {
			t.Fatalf("crash at %d (%v): tool sees target %v, clients %v", point, mode, ok, published)
		}
		if !published {
			if err := repo.AddTarget(ctx, release.Target{Path: "fw/1.bin", Image: bytes.NewReader(img), Descriptor: desc("hw", 1)}); err != nil {
				t.Fatalf("crash at %d (%v): retry: %v", point, mode, err)
			}
		}
		tm, err = client(t, fsys, "repo", rootV1)
		if err != nil {
			t.Fatalf("crash at %d (%v): after retry: %v", point, mode, err)
		}
		if _, ok := tm.Targets[metadata.TARGETS].Signed.Targets["fw/1.bin"]; !ok {
			t.Fatalf("crash at %d (%v): target missing after retry", point, mode)
		}
	})
	if n < 10 || !sawNew {
		t.Fatalf("crash test covered %d boundaries, saw new target %v", n, sawNew)
	}
}

func TestDiskFullLeavesRepositoryUntouched(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t)
	fsys := durable.NewCrashFS()
	fsys.MkdirAll("repo", 0o755)
	repo, err := release.Init(ctx, "repo", release.Config{FS: fsys, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshotFiles(t, fsys, "repo")
	full := errors.New("no space left on device")
	fsys.FailWrites = func(name string) error {
		if strings.Contains(name, "timestamp") {
			return full
		}
		return nil
	}
	err = repo.AddTarget(ctx, release.Target{Path: "a.bin", Image: bytes.NewReader(image(100, 1)), Descriptor: desc("hw", 1)})
	if !errors.Is(err, full) {
		t.Fatalf("err = %v", err)
	}
	fsys.FailWrites = nil
	// Targets and snapshot were written before the timestamp failed; the
	// timestamp clients start from is unchanged, so they still see the old,
	// consistent repository.
	if after := snapshotFiles(t, fsys, "repo"); after["metadata/timestamp.json"] != before["metadata/timestamp.json"] {
		t.Fatal("timestamp.json changed by a failed publication")
	}
	rootV1, _ := repo.RootJSON()
	tm, err := client(t, fsys, "repo", rootV1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Targets[metadata.TARGETS].Signed.Targets) != 0 {
		t.Fatal("client sees a target whose timestamp was never written")
	}
	// The Repo sees what clients see, so the same publication simply
	// runs again.
	if _, ok := repo.Target("a.bin"); ok {
		t.Fatal("Repo lists a target clients cannot see")
	}
	if err := repo.AddTarget(ctx, release.Target{Path: "a.bin", Image: bytes.NewReader(image(100, 1)), Descriptor: desc("hw", 1)}); err != nil {
		t.Fatalf("retry after disk full: %v", err)
	}
	// Failing while the image is written removes this call's files.
	fsys.FailWrites = func(name string) error {
		if strings.Contains(name, "b.bin") {
			return full
		}
		return nil
	}
	before = snapshotFiles(t, fsys, "repo")
	if err := repo.AddTarget(ctx, release.Target{Path: "b.bin", Image: bytes.NewReader(image(100, 1)), Descriptor: desc("hw2", 1)}); !errors.Is(err, full) {
		t.Fatalf("err = %v", err)
	}
	sameFiles(t, before, snapshotFiles(t, fsys, "repo"))
}

func TestKeysNeverPrinted(t *testing.T) {
	keys := testKeys(t)
	keys.Targets = append(keys.Targets, genKey(t, keyfile.MLDSA65))
	scalar, err := keys.Root[0].(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		new(big.Int).SetBytes(scalar).String(), // how fmt prints the ECDSA private scalar
		fmt.Sprint(scalar),
		hex.EncodeToString(keys.Snapshot[0].(ed25519.PrivateKey).Seed()),
		fmt.Sprint([]byte(keys.Snapshot[0].(ed25519.PrivateKey).Seed())),
	}
	if _, err := release.Init(context.Background(), t.TempDir(), release.Config{Keys: keys}); !errors.Is(err, release.ErrKeyType) {
		t.Fatalf("ML-DSA targets key accepted by Init: %v", err)
	}
	keys.Targets = keys.Targets[:1]
	repo, err := release.Init(context.Background(), t.TempDir(), release.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	cfg := release.Config{Keys: keys}
	for _, out := range []string{fmt.Sprint(keys), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", keys),
		fmt.Sprintf("%v", repo), fmt.Sprintf("%+v", repo), fmt.Sprintf("%#v", repo)} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("private key printed in %.200s", out)
			}
		}
	}
}

func TestRotateCrashSafe(t *testing.T) {
	ctx := context.Background()
	// Ed25519 throughout: this test signs a lot and ECDSA is slow under -race.
	keys := release.Keys{
		Root:      []crypto.Signer{genKey(t, keyfile.Ed25519)},
		Targets:   []crypto.Signer{genKey(t, keyfile.Ed25519)},
		Snapshot:  []crypto.Signer{genKey(t, keyfile.Ed25519)},
		Timestamp: []crypto.Signer{genKey(t, keyfile.Ed25519)},
	}
	newTargets := []crypto.Signer{genKey(t, keyfile.Ed25519)}
	var rootV1 []byte
	setup := func(fsys *durable.CrashFS) {
		fsys.MkdirAll("repo", 0o755)
		repo, err := release.Init(ctx, "repo", release.Config{FS: fsys, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.AddTarget(ctx, release.Target{Path: "a.bin", Image: bytes.NewReader(image(100, 1)), Descriptor: desc("hw", 1)}); err != nil {
			t.Fatal(err)
		}
		if rootV1 == nil {
			rootV1, _ = repo.RootJSON()
		}
	}
	run := func(fsys *durable.CrashFS) error {
		repo, err := release.Open("repo", release.Config{FS: fsys, Keys: keys})
		if err != nil {
			return err
		}
		return repo.Rotate(ctx, release.Targets, newTargets, 1)
	}
	durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		after := keys
		after.Targets = newTargets
		// The tool opens whatever is left, with the new keys, and the
		// documented recovery (re-sign the role) gives clients a
		// repository they accept, still listing the target.
		repo, err := release.Open("repo", release.Config{FS: fsys, Keys: after})
		if err != nil {
			t.Fatalf("crash at %d (%v): Open: %v", point, mode, err)
		}
		if repo.Version(release.Root) == 1 {
			// The rotation never reached the disk: it is simply run
			// again.
			repo, _ = release.Open("repo", release.Config{FS: fsys, Keys: keys})
			if err := repo.Rotate(ctx, release.Targets, newTargets, 1); err != nil {
				t.Fatalf("crash at %d (%v): rotate again: %v", point, mode, err)
			}
		} else if err := repo.Resign(ctx, release.Targets); err != nil {
			t.Fatalf("crash at %d (%v): resign: %v", point, mode, err)
		}
		tm, err := client(t, fsys, "repo", rootV1)
		if err != nil {
			t.Fatalf("crash at %d (%v): client: %v", point, mode, err)
		}
		if _, ok := tm.Targets[metadata.TARGETS].Signed.Targets["a.bin"]; !ok || tm.Root.Signed.Version < 2 {
			t.Fatalf("crash at %d (%v): root v%d, target listed %v", point, mode, tm.Root.Signed.Version, ok)
		}
	})
}

// TestTargetSHA512: SHA-512 is listed only on request, and then is the
// image's.
func TestTargetSHA512(t *testing.T) {
	ctx := context.Background()
	repo, err := release.Init(ctx, t.TempDir(), release.Config{Keys: testKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	img := image(update.MinChunkSize+1, 3)
	if err := repo.AddTarget(ctx, release.Target{Path: "a.bin", Image: bytes.NewReader(img), Descriptor: desc("hw", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := repo.AddTarget(ctx, release.Target{Path: "b.bin", Image: bytes.NewReader(img), Descriptor: desc("hw", 2), SHA512: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := repo.Target("a.bin")
	b, _ := repo.Target("b.bin")
	sum := sha512.Sum512(img)
	if len(a.Hashes) != 1 || a.Hashes["sha256"] == nil || len(b.Hashes) != 2 || !bytes.Equal(b.Hashes["sha512"], sum[:]) {
		t.Fatalf("hashes: default %v, with SHA512 %v", a.Hashes, b.Hashes)
	}
}
