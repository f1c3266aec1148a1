package update

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/iotbaseline/baseline/update/internal/wire"
)

// Offline bundles (provision 5.3-3: update from a USB stick or a local file
// where the device has no network).
//
// A bundle is a tar archive of regular files, in this order:
//
//	metadata/N.root.json    zero or more root rotations, ascending
//	metadata/timestamp.json
//	metadata/snapshot.json
//	metadata/targets.json
//	cosign.sig              optional: cosign sign-blob signature of the image
//	targets/<target path>   exactly one image, last
//
// It is verified exactly like the online path, against the same pinned root
// and the same persisted state (so an old bundle cannot roll the device
// back): metadata first, then the image is streamed chunk by chunk into the
// slot. release.WriteBundle (package update/release) writes one from a
// repository directory, as does the `baseline release bundle` command.
const (
	// MaxBundleEntries bounds the number of entries in a bundle.
	MaxBundleEntries = 64
	bundleSigName    = wire.BundleSigName
	maxCosignSig     = 4 << 10
)

// OpenBundle verifies the offline bundle read from r and writes its image
// into slot. The result is the same [Verified] as [Client.Download] returns.
// Every metadata entry is bounded by its role's limit; anything but regular
// files, unknown names, duplicate names and entries out of order are refused
// with an error wrapping ErrBundle. If Config.CosignPublicKey is set the
// bundle must carry a cosign signature of the image by that key.
//
// The bundle is read once, front to back; an interrupted bundle install
// resumes from the journal when the same bundle is offered again (into the
// same slot), skipping the image bytes already written: by seeking when r
// is an io.Seeker (an *os.File), else by reading past them. Every chunk
// read after the skip is verified as on the first attempt.
func (c *Client) OpenBundle(ctx context.Context, r io.Reader, slot Slot) (*Verified, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slot == nil {
		return nil, errors.New("update: OpenBundle needs a slot")
	}
	tr := tar.NewReader(r)
	meta := map[string][]byte{}
	var total int64
	var sig []byte
	for entries := 0; ; entries++ {
		if entries >= MaxBundleEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrBundle, MaxBundleEntries)
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: no target entry", ErrBundle)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBundle, err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: %q is not a regular file", ErrBundle, h.Name)
		}
		name := h.Name
		if len(name) > 1024 || path.Clean(name) != name {
			return nil, fmt.Errorf("%w: bad entry name", ErrBundle)
		}
		switch {
		case name == bundleSigName:
			if sig != nil || h.Size > maxCosignSig {
				return nil, fmt.Errorf("%w: bad %s", ErrBundle, bundleSigName)
			}
			if sig, err = io.ReadAll(io.LimitReader(tr, maxCosignSig)); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBundle, err)
			}
		case strings.HasPrefix(name, "metadata/"):
			base := strings.TrimPrefix(name, "metadata/")
			max, ok := c.bundleLimit(base)
			if !ok {
				return nil, fmt.Errorf("%w: unexpected entry %q", ErrBundle, name)
			}
			if _, dup := meta[base]; dup {
				return nil, fmt.Errorf("%w: duplicate entry %q", ErrBundle, name)
			}
			if h.Size > max {
				return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, name, h.Size, max)
			}
			if total += h.Size; total > c.cfg.MaxTargetsSize+c.cfg.MaxSnapshotSize+c.cfg.MaxTimestampSize+int64(c.cfg.MaxRootRotations)*c.cfg.MaxRootSize {
				return nil, fmt.Errorf("%w: metadata too large", ErrTooLarge)
			}
			b, err := io.ReadAll(io.LimitReader(tr, max))
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBundle, err)
			}
			meta[base] = b
		case strings.HasPrefix(name, "targets/"):
			return c.bundleTarget(ctx, strings.TrimPrefix(name, "targets/"), h.Size, tr, skipper(r, h), meta, sig, slot)
		default:
			return nil, fmt.Errorf("%w: unexpected entry %q", ErrBundle, name)
		}
	}
}

// skipper returns, for a bundle read from an io.Seeker, a function that
// positions r at byte off of the image entry h that tar just opened and
// returns the rest of the entry, so a resumed install skips the bytes
// already in the slot by seeking rather than reading them (a 1 GiB image
// on a USB stick); nil when r cannot seek or the entry may not be stored
// contiguously (PAX sparse records). tar reads r without buffering, so
// right after Next r is at the entry's first byte.
func skipper(r io.Reader, h *tar.Header) func(off int64) (io.Reader, error) {
	sk, ok := r.(io.ReadSeeker)
	if !ok {
		return nil
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return nil
		}
	}
	start, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	return func(off int64) (io.Reader, error) {
		if off < 0 || off > h.Size {
			return nil, errors.New("update: bundle offset out of range")
		}
		if _, err := sk.Seek(start+off, io.SeekStart); err != nil {
			return nil, err
		}
		return io.LimitReader(sk, h.Size-off), nil
	}
}

var rootName = regexp.MustCompile(`^[1-9][0-9]{0,9}\.root\.json$`)

func (c *Client) bundleLimit(base string) (int64, bool) {
	switch {
	case base == "timestamp.json":
		return c.cfg.MaxTimestampSize, true
	case base == "snapshot.json":
		return c.cfg.MaxSnapshotSize, true
	case base == "targets.json":
		return c.cfg.MaxTargetsSize, true
	case rootName.MatchString(base):
		return c.cfg.MaxRootSize, true
	}
	return 0, false
}

var versioned = regexp.MustCompile(`^[0-9]+\.(snapshot|targets)\.json$`)

func (c *Client) bundleTarget(ctx context.Context, target string, size int64, body io.Reader, skip func(off int64) (io.Reader, error), meta map[string][]byte, sig []byte, slot Slot) (*Verified, error) {
	get := func(_ context.Context, name string, max int64) ([]byte, error) {
		if versioned.MatchString(name) {
			name = name[strings.IndexByte(name, '.')+1:]
		}
		b, ok := meta[name]
		if !ok {
			return nil, fmt.Errorf("%w: bundle has no %s", ErrNotFound, name)
		}
		if int64(len(b)) > max {
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, name)
		}
		return b, nil
	}
	if err := c.update(ctx, get); err != nil {
		return nil, err
	}
	rel, err := c.lookup(target)
	if err != nil {
		return nil, err
	}
	if size != rel.Length {
		return nil, &ReleaseError{Path: target, Err: fmt.Errorf("%w: bundle entry is %d bytes, signed length %d", ErrTarget, size, rel.Length)}
	}
	if c.cosign != nil {
		if sig == nil {
			return nil, fmt.Errorf("%w: bundle has no %s", ErrSignature, bundleSigName)
		}
		if err := verifyCosign(c.cosign, sig, rel.Hashes["sha256"]); err != nil {
			return nil, err
		}
	}
	p, err := c.plan(rel)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	src := func(ctx context.Context, off int64, _ string) (io.ReadCloser, int64, string, error) {
		used := true
		once.Do(func() { used = false })
		if used {
			return nil, 0, "", permanent{fmt.Errorf("%w: image entry truncated", ErrBundle)}
		}
		if off > 0 && skip != nil {
			rest, err := skip(off)
			if err != nil {
				return nil, 0, "", permanent{fmt.Errorf("%w: %v", ErrBundle, err)}
			}
			return io.NopCloser(rest), off, "", nil
		}
		if off > 0 {
			if _, err := io.CopyN(io.Discard, body, off); err != nil {
				return nil, 0, "", permanent{fmt.Errorf("%w: image entry truncated", ErrBundle)}
			}
		}
		return io.NopCloser(body), off, "", nil
	}
	if err := c.fetchInto(ctx, p, src, slot); err != nil {
		return nil, &ReleaseError{Path: target, Err: err}
	}
	return &Verified{release: rel.clone(), slot: slot, sealed: true}, nil
}

// ParseCosignPublicKey parses a cosign public key (PEM, PKIX, ECDSA P-256)
// into a verifier for [VerifyCosign].
func ParseCosignPublicKey(pemBytes []byte) (signature.Verifier, error) {
	if len(pemBytes) > 8<<10 {
		return nil, fmt.Errorf("%w: public key too large", ErrSignature)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrSignature, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: public key is not ECDSA P-256", ErrSignature)
	}
	v, err := signature.LoadVerifier(ec, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return v, nil
}

// VerifyCosign checks a cosign sign-blob signature (base64 of an ASN.1 DER
// ECDSA signature, as `cosign sign-blob --output-signature` writes it) over
// the image read from r, hashing it as it streams (constant memory).
func VerifyCosign(v signature.Verifier, sigB64 []byte, r io.Reader) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	return verifyCosign(v, sigB64, h.Sum(nil))
}

func verifyCosign(v signature.Verifier, sigB64 []byte, digest []byte) error {
	if len(sigB64) > maxCosignSig {
		return fmt.Errorf("%w: signature too large", ErrSignature)
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sigB64)))
	if err != nil || len(raw) == 0 || len(raw) > 128 {
		return fmt.Errorf("%w: not base64 of a DER signature", ErrSignature)
	}
	if len(digest) != sha256.Size {
		return fmt.Errorf("%w: no sha256 digest", ErrSignature)
	}
	if err := v.VerifySignature(bytes.NewReader(raw), nil, options.WithDigest(digest), options.WithCryptoSignerOpts(crypto.SHA256)); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return nil
}

// MaxSigstoreBundleSize bounds the sigstore bundle [VerifySigstoreBundle]
// reads.
const MaxSigstoreBundleSize = 64 << 10

type sigstoreBundle struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey *struct {
			Hint string `json:"hint"`
		} `json:"publicKey"`
	} `json:"verificationMaterial"`
	MessageSignature *struct {
		MessageDigest struct {
			Algorithm string `json:"algorithm"`
			Digest    []byte `json:"digest"`
		} `json:"messageDigest"`
		Signature []byte `json:"signature"`
	} `json:"messageSignature"`
}

// VerifySigstoreBundle checks a sigstore bundle (v0.3, as `cosign sign-blob
// --new-bundle-format --key` writes it) over the image read from r: the
// image's SHA-256, computed as it streams, must equal the bundle's message
// digest, the public-key hint (if any) must name v's key, and the signature
// must verify with v. Transparency-log entries are not checked (offline
// use); the trust is in the key alone.
func VerifySigstoreBundle(v signature.Verifier, bundleJSON []byte, r io.Reader) error {
	if len(bundleJSON) > MaxSigstoreBundleSize {
		return fmt.Errorf("%w: sigstore bundle too large", ErrSignature)
	}
	var b sigstoreBundle
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		return fmt.Errorf("%w: sigstore bundle: %v", ErrSignature, err)
	}
	switch b.MediaType {
	case "application/vnd.dev.sigstore.bundle.v0.3+json", "application/vnd.dev.sigstore.bundle+json;version=0.3":
	default:
		return fmt.Errorf("%w: unsupported sigstore bundle media type", ErrSignature)
	}
	ms := b.MessageSignature
	if ms == nil || ms.MessageDigest.Algorithm != "SHA2_256" || len(ms.MessageDigest.Digest) != sha256.Size || len(ms.Signature) == 0 || len(ms.Signature) > 128 {
		return fmt.Errorf("%w: sigstore bundle has no SHA-256 message signature", ErrSignature)
	}
	if pk := b.VerificationMaterial.PublicKey; pk != nil && pk.Hint != "" {
		pub, err := v.PublicKey()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrSignature, err)
		}
		der, err := cryptoutils.MarshalPublicKeyToDER(pub)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrSignature, err)
		}
		sum := sha256.Sum256(der)
		if pk.Hint != base64.StdEncoding.EncodeToString(sum[:]) {
			return fmt.Errorf("%w: sigstore bundle names another key", ErrSignature)
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	digest := h.Sum(nil)
	if subtle.ConstantTimeCompare(digest, ms.MessageDigest.Digest) != 1 {
		return fmt.Errorf("%w: image does not match the bundle's digest", ErrSignature)
	}
	return verifyCosign(v, []byte(base64.StdEncoding.EncodeToString(ms.Signature)), digest)
}
