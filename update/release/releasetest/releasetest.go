// Package releasetest builds TUF repositories with package release for tests
// and benchmarks of update clients: a real repository on disk, written by the
// same code as `baseline release`, with as many targets as asked.
//
// For package update: Build(ctx, dir, Options{Targets: 1000}) gives the
// 1,000-target repository to compare refresh speed against go-tuf's updater
// on (serve dir with http.FileServer; metadata under /metadata/, targets
// under /targets/; Result.TrustedRoot is 1.root.json).
package releasetest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

// Options shape the repository. The zero value gives one target.
type Options struct {
	// Targets is the number of targets (default 1). Target i has path
	// "fw/<i>.bin" and release counter i+1.
	Targets int
	// ImageSize is the size of each image in bytes (default 4096). Image
	// contents are derived from the index, so they differ per target.
	ImageSize int
	// ChunkSize of the descriptors (default update.MinChunkSize).
	ChunkSize int
	// HardwareID of every target (default "test-hw").
	HardwareID string
	// CoSigner, if set, ML-DSA-65 co-signs every target.
	CoSigner crypto.Signer
	// FS to write to; nil means durable.OS.
	FS durable.FS
	// Now is the repository's clock (nil: time.Now); metadata expires
	// after release.DefaultExpiry from it.
	Now func() time.Time
	// Seed makes the keys deterministic (different seeds, different keys).
	Seed byte
}

// Result is a built repository.
type Result struct {
	Repo *release.Repo
	// Keys sign further releases on Repo (Ed25519, one per role).
	Keys release.Keys
	// TrustedRoot is the version-1 root: what firmware embeds.
	TrustedRoot []byte
	// Paths of the targets, in index order.
	Paths []string
}

// Key returns a deterministic Ed25519 key for test repositories.
func Key(seed byte, role string) crypto.Signer {
	s := sha256.Sum256([]byte(fmt.Sprintf("releasetest %d %s", seed, role)))
	return ed25519.NewKeyFromSeed(s[:])
}

// Image returns the content of target i.
func Image(i, size int) []byte {
	b := make([]byte, size)
	var ctr [8]byte
	binary.BigEndian.PutUint64(ctr[:], uint64(i))
	for off := 0; off < size; off += sha256.Size {
		h := sha256.Sum256(append(ctr[:], byte(off), byte(off>>8), byte(off>>16), byte(off>>24)))
		copy(b[off:], h[:])
	}
	return b
}

// Build creates a repository in dir (which must exist and hold none) with
// opts.Targets targets published in one targets version.
func Build(ctx context.Context, dir string, opts Options) (*Result, error) {
	if opts.Targets <= 0 {
		opts.Targets = 1
	}
	if opts.ImageSize <= 0 {
		opts.ImageSize = 4096
	}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = update.MinChunkSize
	}
	if opts.HardwareID == "" {
		opts.HardwareID = "test-hw"
	}
	keys := release.Keys{
		Root:      []crypto.Signer{Key(opts.Seed, release.Root)},
		Targets:   []crypto.Signer{Key(opts.Seed, release.Targets)},
		Snapshot:  []crypto.Signer{Key(opts.Seed, release.Snapshot)},
		Timestamp: []crypto.Signer{Key(opts.Seed, release.Timestamp)},
	}
	repo, err := release.Init(ctx, dir, release.Config{FS: opts.FS, Keys: keys, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	root, err := repo.RootJSON()
	if err != nil {
		return nil, err
	}
	ts := make([]release.Target, opts.Targets)
	paths := make([]string, opts.Targets)
	for i := range ts {
		paths[i] = fmt.Sprintf("fw/%d.bin", i)
		ts[i] = release.Target{
			Path:  paths[i],
			Image: bytes.NewReader(Image(i, opts.ImageSize)),
			Descriptor: update.Descriptor{
				HardwareID:     opts.HardwareID,
				ReleaseCounter: uint64(i + 1),
				Version:        fmt.Sprintf("0.%d.0", i+1),
				ChunkSize:      opts.ChunkSize,
			},
			CoSigner: opts.CoSigner,
		}
	}
	if err := repo.AddTargets(ctx, ts); err != nil {
		return nil, err
	}
	return &Result{Repo: repo, Keys: keys, TrustedRoot: root, Paths: paths}, nil
}
