package release

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// Target is one firmware image to publish.
type Target struct {
	// Path is the TUF target path, e.g. "smartplug/smartplug-1.4.0.bin":
	// slash-separated segments of letters, digits and "._+-", not starting
	// with a dot, at most 200 bytes. A published path is never reused.
	Path string
	// Image is read once, to the end, and streamed to disk: it is never held
	// in memory whole.
	Image io.Reader
	// Descriptor describes the release (hardware ID, release counter,
	// version, security notes, disruption, support date). Chunks and
	// CoSignature are computed here and must be left empty; ChunkSize zero
	// means DefaultChunkSize.
	Descriptor update.Descriptor
	// CoSigner, if not nil, is an ML-DSA-65 key (see [ReadKey] and
	// `baseline keygen -alg ml-dsa-65`) that co-signs the target
	// (see update.VerifyCoSignature) for devices that pin its public key.
	CoSigner crypto.Signer
	// SHA512 also lists the image's SHA-512 in the target's hashes. Off by
	// default: the target lists only its SHA-256, which the descriptor's
	// chaining values end in, so a device verifies every chunk and the whole
	// image in one SHA-256 pass. A device checks every hash a target lists,
	// so listing SHA-512 makes every download also compute SHA-512 (on
	// CPUs with SHA-256 instructions, several times the cost of SHA-256).
	SHA512 bool
}

const maxPathLen = 200

func checkPath(p string) error {
	if p == "" || len(p) > maxPathLen {
		return fmt.Errorf("%w: %q", ErrTargetPath, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%w: %q", ErrTargetPath, p)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '.' || c == '_' || c == '-' || c == '+') {
				return fmt.Errorf("%w: %q", ErrTargetPath, p)
			}
		}
	}
	return nil
}

// HashPrefixedPath returns where a target is stored for consistent-snapshot
// clients: the base name prefixed with the hex SHA-256 of the image, e.g.
// "fw/1.bin" → "fw/<sha256>.1.bin" (relative to TargetsDir).
func HashPrefixedPath(targetPath string, sha256Sum []byte) string {
	dir, base := path.Split(targetPath)
	return dir + hex.EncodeToString(sha256Sum) + "." + base
}

// AddTarget publishes one firmware image: see [Repo.AddTargets].
func (r *Repo) AddTarget(ctx context.Context, t Target) error {
	return r.AddTargets(ctx, []Target{t})
}

// AddTargets publishes firmware images in one new version of targets,
// snapshot and timestamp. Each image is streamed to TargetsDir (under its
// path and its hash-prefixed path) while its length, SHA-256 (and SHA-512
// with [Target.SHA512]) and the descriptor's SHA-256 chaining values are
// computed; the descriptor (with the ML-DSA-65
// co-signature when a CoSigner is given) goes into the target's custom
// field. It needs the Targets, Snapshot and Timestamp keys.
//
// Refused, with nothing written: a path already published or given twice
// ([ErrTargetExists]), an invalid path ([ErrTargetPath]), a release counter
// not greater than every counter already published for the same hardware
// ID, including earlier targets of the same call ([ErrCounter]), an invalid
// descriptor (update.ErrDescriptor), missing keys ([ErrThreshold]). If an
// image cannot be read or written, the image files of this call are removed
// and the metadata is left as it was.
//
// Benchmarks and tests that need a large repository (the 1,000-target
// repository the device side compares refresh speed on) call AddTargets
// once with all targets: one metadata version for the lot.
func (r *Repo) AddTargets(ctx context.Context, ts []Target) (err error) {
	if err := r.usable(); err != nil {
		return err
	}
	if err := r.checkKeys(Targets, Snapshot, Timestamp); err != nil {
		return err
	}
	// Cheap checks first, for every target, before anything is written.
	counters := map[string]uint64{}
	for _, tf := range r.targets.Signed.Targets {
		if tf.Custom == nil {
			continue
		}
		if d, err := update.DecodeDescriptor(*tf.Custom); err == nil && d.ReleaseCounter > counters[d.HardwareID] {
			counters[d.HardwareID] = d.ReleaseCounter
		}
	}
	seen := map[string]bool{}
	for i := range ts {
		t := &ts[i]
		if err := checkPath(t.Path); err != nil {
			return err
		}
		if _, ok := r.targets.Signed.Targets[t.Path]; ok || seen[t.Path] {
			return fmt.Errorf("%w: %s", ErrTargetExists, t.Path)
		}
		seen[t.Path] = true
		if t.Image == nil {
			return fmt.Errorf("%w: %s: no image", ErrConfig, t.Path)
		}
		d := t.Descriptor
		if d.Chunks != nil || d.CoSignature != nil {
			return fmt.Errorf("%w: %s: descriptor chunks and co-signature are computed, leave them empty", ErrConfig, t.Path)
		}
		if last, ok := counters[d.HardwareID]; ok && d.ReleaseCounter <= last {
			return fmt.Errorf("%w: %s: %d after %d for %q", ErrCounter, t.Path, d.ReleaseCounter, last, d.HardwareID)
		}
		if d.ChunkSize == 0 {
			d.ChunkSize = DefaultChunkSize
		}
		// Validate with a placeholder chunk so field errors show before
		// the image is read.
		d.Chunks = []update.ChunkHash{{}}
		if err := d.Validate(); err != nil {
			return fmt.Errorf("%s: %w", t.Path, err)
		}
		counters[d.HardwareID] = d.ReleaseCounter
	}

	var written []string
	defer func() {
		if err != nil {
			for _, f := range written {
				durable.Remove(r.fsys, f)
			}
			r.reload()
		}
	}()
	dirs := map[string]bool{}
	for i := range ts {
		if err := ctx.Err(); err != nil {
			return err
		}
		tf, files, err := r.storeTarget(ts[i])
		written = append(written, files...)
		if err != nil {
			return fmt.Errorf("release: %s: %w", ts[i].Path, err)
		}
		r.targets.Signed.Targets[ts[i].Path] = tf
		dirs[path.Dir(ts[i].Path)] = true
	}
	// One directory sync per directory, after all its images: the renames
	// are durable before any metadata names them.
	for d := range dirs {
		if err := r.fsys.SyncDir(filepath.Join(r.dir, TargetsDir, filepath.FromSlash(d))); err != nil {
			return err
		}
	}
	if err := r.bump(Targets); err != nil {
		return err
	}
	return r.publish(true)
}

// storeTarget streams one image into the repository and returns its TUF
// target entry and the files it wrote.
func (r *Repo) storeTarget(t Target) (*metadata.TargetFiles, []string, error) {
	d := t.Descriptor
	if d.ChunkSize == 0 {
		d.ChunkSize = DefaultChunkSize
	}
	dir := filepath.Join(r.dir, TargetsDir, filepath.FromSlash(path.Dir(t.Path)))
	if err := r.fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	tmp := filepath.Join(dir, "."+path.Base(t.Path)+".tmp")
	f, err := r.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, err
	}
	written := []string{tmp}
	h256, h512 := sha256.New(), sha512.New()
	ws := []io.Writer{f, h256}
	if t.SHA512 {
		ws = append(ws, h512)
	}
	w := &writeErr{w: io.MultiWriter(ws...)}
	chunks, length, err := HashChunks(io.TeeReader(t.Image, w), d.ChunkSize)
	if err == nil {
		err = w.err
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, written, err
	}
	if length == 0 {
		return nil, written, fmt.Errorf("%w: empty image", ErrConfig)
	}
	sum256 := h256.Sum(nil)
	hashes := metadata.Hashes{"sha256": sum256}
	if t.SHA512 {
		hashes["sha512"] = h512.Sum(nil)
	}
	d.Chunks = chunks
	if t.CoSigner != nil {
		if d.CoSignature, err = CoSign(t.CoSigner, t.Path, length, hashes, d.ReleaseCounter, d.HardwareID); err != nil {
			return nil, written, err
		}
	}
	custom, err := EncodeDescriptor(&d)
	if err != nil {
		return nil, written, err
	}
	raw := json.RawMessage(custom)
	tf := &metadata.TargetFiles{Length: length, Hashes: hashes, Custom: &raw, Path: t.Path}

	// The hash-prefixed name is the one consistent-snapshot clients fetch:
	// rename the synced temp file there, then copy it to the plain name.
	hashed := filepath.Join(r.dir, TargetsDir, filepath.FromSlash(HashPrefixedPath(t.Path, sum256)))
	if err := r.fsys.Rename(tmp, hashed); err != nil {
		return nil, written, err
	}
	written[0] = hashed
	plain := filepath.Join(r.dir, TargetsDir, filepath.FromSlash(t.Path))
	written = append(written, plain)
	if err := r.copyFile(hashed, plain); err != nil {
		return nil, written, err
	}
	r.log.Info("release: wrote target", "path", t.Path, "bytes", length)
	return tf, written, nil
}

// copyFile puts src's content at dst atomically (temp name, rename): on
// the operating system's file system as a hard link, so the image is not
// stored twice, or, where the file system has no hard links, as a symbolic
// link to src's name (both names are in one directory). Only where neither
// works (a file system without links, or an FS for tests) is it a copy
// (fsync, rename), and the copy is logged.
func (r *Repo) copyFile(src, dst string) error {
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	if r.fsys == durable.OS {
		for _, link := range []func() error{
			func() error { return os.Link(src, tmp) },
			func() error {
				if filepath.Dir(src) != filepath.Dir(dst) {
					return errors.ErrUnsupported
				}
				return os.Symlink(filepath.Base(src), tmp)
			},
		} {
			os.Remove(tmp)
			if link() != nil {
				continue
			}
			err := r.fsys.Rename(tmp, dst)
			if err == nil {
				err = r.fsys.SyncDir(filepath.Dir(dst))
			}
			if err != nil {
				r.fsys.Remove(tmp)
			}
			return err
		}
		r.log.Warn("release: the file system links no files; the image is stored twice", "path", dst)
	}
	in, err := r.fsys.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := r.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.fsys.Rename(tmp, dst)
	}
	if err != nil {
		r.fsys.Remove(tmp)
	}
	return err
}

// writeErr remembers a write error so that it is not lost inside the
// TeeReader (which reports it as a read error without saying which side).
type writeErr struct {
	w   io.Writer
	err error
}

func (w *writeErr) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Target returns the published entry for a target path.
func (r *Repo) Target(p string) (*metadata.TargetFiles, bool) {
	if r.targets == nil {
		return nil, false
	}
	tf, ok := r.targets.Signed.Targets[p]
	return tf, ok
}

// TargetPaths returns the published target paths, sorted.
func (r *Repo) TargetPaths() []string {
	if r.targets == nil {
		return nil
	}
	out := make([]string, 0, len(r.targets.Signed.Targets))
	for p := range r.targets.Signed.Targets {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
