// Package tuftest builds real TUF repositories on disk for the update
// package's tests, with go-tuf's metadata package: ed25519 keys, every role
// signed, files laid out as a static web server serves them
// (Dir/metadata/..., Dir/targets/...).
//
// It deliberately exposes the metadata objects and keys so tests can stage
// attacks (replay old files, sign with too few keys, swap targets).
package tuftest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Roles are the four top-level roles.
var Roles = []string{metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS}

// Repo is a TUF repository being edited on disk.
type Repo struct {
	Dir        string
	Consistent bool
	Root       *metadata.Metadata[metadata.RootType]
	Timestamp  *metadata.Metadata[metadata.TimestampType]
	Snapshot   *metadata.Metadata[metadata.SnapshotType]
	Targets    *metadata.Metadata[metadata.TargetsType]
	// Keys holds the signing keys of each role; Sign uses all of them.
	Keys map[string][]ed25519.PrivateKey
	// SnapshotHashes makes snapshot list the length and sha256 of
	// targets.json (as package release does), not only its version.
	SnapshotHashes bool
	// OldRootKeys are root keys replaced by RotateRoot, still used to sign
	// the rotated root once.
	oldRootKeys []ed25519.PrivateKey
}

// New creates a repository whose metadata expires at expires and writes
// version 1 of every role.
func New(dir string, expires time.Time, consistent bool) (*Repo, error) {
	r := &Repo{
		Dir:        dir,
		Consistent: consistent,
		Root:       metadata.Root(expires),
		Timestamp:  metadata.Timestamp(expires),
		Snapshot:   metadata.Snapshot(expires),
		Targets:    metadata.Targets(expires),
		Keys:       map[string][]ed25519.PrivateKey{},
	}
	r.Root.Signed.ConsistentSnapshot = consistent
	for _, role := range Roles {
		if _, err := r.AddKey(role); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"metadata", "targets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := r.WriteRoot(); err != nil {
		return nil, err
	}
	if err := r.writeTop(); err != nil {
		return nil, err
	}
	return r, nil
}

// AddKey creates a key, authorises it for role in root (not re-signed or
// written: call WriteRoot or RotateRoot) and adds it to Keys[role].
func (r *Repo) AddKey(role string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	k, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	if err := r.Root.Signed.AddKey(k, role); err != nil {
		return nil, err
	}
	r.Keys[role] = append(r.Keys[role], priv)
	return priv, nil
}

// RootBytes returns the current root metadata as written (the root a device
// pins).
func (r *Repo) RootBytes() []byte {
	b, err := os.ReadFile(filepath.Join(r.Dir, "metadata", fmt.Sprintf("%d.root.json", r.Root.Signed.Version)))
	if err != nil {
		panic(err)
	}
	return b
}

func signers(keys []ed25519.PrivateKey) []signature.Signer {
	var out []signature.Signer
	for _, k := range keys {
		s, err := signature.LoadSigner(k, crypto.Hash(0))
		if err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

// WriteRoot signs the current root with Keys["root"] (and keys replaced by
// the last RotateRoot) and writes N.root.json.
func (r *Repo) WriteRoot() error {
	r.Root.ClearSignatures()
	for _, s := range signers(append(append([]ed25519.PrivateKey{}, r.Keys[metadata.ROOT]...), r.oldRootKeys...)) {
		if _, err := r.Root.Sign(s); err != nil {
			return err
		}
	}
	return r.Root.ToFile(filepath.Join(r.Dir, "metadata", fmt.Sprintf("%d.root.json", r.Root.Signed.Version)), false)
}

// RotateRoot publishes root version N+1. If newKeys, the root role's keys
// are replaced by a fresh one (the new root is signed by old and new keys).
func (r *Repo) RotateRoot(newKeys bool) error {
	r.oldRootKeys = nil
	if newKeys {
		for _, k := range r.Keys[metadata.ROOT] {
			mk, _ := metadata.KeyFromPublicKey(k.Public())
			id, _ := mk.ID()
			if err := r.Root.Signed.RevokeKey(id, metadata.ROOT); err != nil {
				return err
			}
		}
		r.oldRootKeys = r.Keys[metadata.ROOT]
		r.Keys[metadata.ROOT] = nil
		if _, err := r.AddKey(metadata.ROOT); err != nil {
			return err
		}
	}
	r.Root.Signed.Version++
	return r.WriteRoot()
}

// ReplaceKeys revokes every key of role and adds a fresh one (root is not
// written: follow with RotateRoot).
func (r *Repo) ReplaceKeys(role string) error {
	for _, k := range r.Keys[role] {
		mk, _ := metadata.KeyFromPublicKey(k.Public())
		id, _ := mk.ID()
		if err := r.Root.Signed.RevokeKey(id, role); err != nil {
			return err
		}
	}
	r.Keys[role] = nil
	_, err := r.AddKey(role)
	return err
}

// AddTarget writes data under targets/ and lists it in targets metadata
// with its length, sha256 and sha512 and the given custom JSON (may be nil).
// Call Publish to sign and write the metadata.
func (r *Repo) AddTarget(name string, data []byte, custom []byte) (*metadata.TargetFiles, error) {
	tf, err := metadata.TargetFile().FromBytes(name, data, "sha256", "sha512")
	if err != nil {
		return nil, err
	}
	if custom != nil {
		raw := json.RawMessage(custom)
		tf.Custom = &raw
	}
	r.Targets.Signed.Targets[name] = tf
	p := filepath.Join(r.Dir, "targets", filepath.FromSlash(name))
	if r.Consistent {
		sum := sha256.Sum256(data)
		dir, base := path.Split(name)
		p = filepath.Join(r.Dir, "targets", filepath.FromSlash(dir), hex.EncodeToString(sum[:])+"."+base)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return tf, os.WriteFile(p, data, 0o644)
}

// Publish bumps targets, snapshot and timestamp, signs them and writes them.
func (r *Repo) Publish() error {
	r.Targets.Signed.Version++
	r.Snapshot.Signed.Version++
	r.Timestamp.Signed.Version++
	return r.writeTop()
}

// PublishTimestamp bumps and re-signs only the timestamp (same snapshot).
func (r *Repo) PublishTimestamp() error {
	r.Timestamp.Signed.Version++
	return r.writeTimestamp()
}

// SetExpires sets every non-root role's expiry (call Publish afterwards).
func (r *Repo) SetExpires(t time.Time) {
	r.Timestamp.Signed.Expires = t
	r.Snapshot.Signed.Expires = t
	r.Targets.Signed.Expires = t
}

func (r *Repo) writeTop() error {
	r.Targets.ClearSignatures()
	for _, s := range signers(r.Keys[metadata.TARGETS]) {
		if _, err := r.Targets.Sign(s); err != nil {
			return err
		}
	}
	tb, err := r.Targets.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.write(metadata.TARGETS, r.Targets.Signed.Version, tb); err != nil {
		return err
	}
	tmf := metadata.MetaFile(r.Targets.Signed.Version)
	if r.SnapshotHashes {
		tsum := sha256.Sum256(tb)
		tmf.Length, tmf.Hashes = int64(len(tb)), metadata.Hashes{"sha256": tsum[:]}
	}
	r.Snapshot.Signed.Meta["targets.json"] = tmf
	r.Snapshot.ClearSignatures()
	for _, s := range signers(r.Keys[metadata.SNAPSHOT]) {
		if _, err := r.Snapshot.Sign(s); err != nil {
			return err
		}
	}
	sb, err := r.Snapshot.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.write(metadata.SNAPSHOT, r.Snapshot.Signed.Version, sb); err != nil {
		return err
	}
	mf := metadata.MetaFile(r.Snapshot.Signed.Version)
	mf.Length = int64(len(sb))
	sum := sha256.Sum256(sb)
	mf.Hashes = metadata.Hashes{"sha256": sum[:]}
	r.Timestamp.Signed.Meta["snapshot.json"] = mf
	return r.writeTimestamp()
}

func (r *Repo) writeTimestamp() error {
	r.Timestamp.ClearSignatures()
	for _, s := range signers(r.Keys[metadata.TIMESTAMP]) {
		if _, err := r.Timestamp.Sign(s); err != nil {
			return err
		}
	}
	b, err := r.Timestamp.ToBytes(false)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.Dir, "metadata", "timestamp.json"), b, 0o644)
}

func (r *Repo) write(role string, version int64, b []byte) error {
	name := role + ".json"
	if r.Consistent {
		name = fmt.Sprintf("%d.%s", version, name)
	}
	return os.WriteFile(filepath.Join(r.Dir, "metadata", name), b, 0o644)
}

// ReadMeta returns a metadata file as currently written.
func (r *Repo) ReadMeta(name string) []byte {
	b, err := os.ReadFile(filepath.Join(r.Dir, "metadata", name))
	if err != nil {
		panic(err)
	}
	return b
}

// WriteMeta overwrites a metadata file (to stage replays and tampering).
func (r *Repo) WriteMeta(name string, b []byte) {
	if err := os.WriteFile(filepath.Join(r.Dir, "metadata", name), b, 0o644); err != nil {
		panic(err)
	}
}

// TargetPath returns where the served file for target name lives on disk.
func (r *Repo) TargetPath(name string) string {
	tf := r.Targets.Signed.Targets[name]
	if r.Consistent && tf != nil {
		dir, base := path.Split(name)
		return filepath.Join(r.Dir, "targets", filepath.FromSlash(dir), hex.EncodeToString(tf.Hashes["sha256"])+"."+base)
	}
	return filepath.Join(r.Dir, "targets", filepath.FromSlash(name))
}
