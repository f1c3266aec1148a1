// Package keyfile generates signing key pairs for firmware releases and reads
// and writes them as PEM files, with the private key optionally encrypted
// under a passphrase.
//
// Three algorithms: ECDSA P-256 and Ed25519 (both usable as TUF role keys)
// and ML-DSA-65 (FIPS 204, via circl; used only for the post-quantum
// co-signature beside TUF, because TUF clients do not know the key type).
//
// # File formats
//
// Public keys are PEM "PUBLIC KEY" blocks holding a PKIX SubjectPublicKeyInfo
// (the format openssl, cosign and Go's crypto/x509 read; ML-DSA-65 uses OID
// 2.16.840.1.101.3.4.3.18).
//
// An unencrypted private key is a PEM "PRIVATE KEY" block holding PKCS#8
// (ML-DSA-65 in the seed-only form of RFC 9881), readable by openssl.
//
// An encrypted private key is a PEM block of type
// "BASELINE ENCRYPTED PRIVATE KEY", format version 1:
//
//	-----BEGIN BASELINE ENCRYPTED PRIVATE KEY-----
//	Version: 1
//	KDF: argon2id
//	KDF-Params: m=65536,t=3,p=4
//	Salt: <base64, 16 random bytes>
//	Cipher: xchacha20-poly1305
//	Nonce: <base64, 24 random bytes>
//
//	<base64 of the AEAD ciphertext of the PKCS#8 DER above>
//	-----END BASELINE ENCRYPTED PRIVATE KEY-----
//
// The 32-byte key is Argon2id(passphrase, salt, t, m KiB, p) (RFC 9106); the
// AEAD's additional data is the string "baseline encrypted private key v1\n"
// followed by every header line above in that order, so no parameter can be
// changed without the decryption failing. Argon2id is memory-hard (the
// default, 64 MiB and 3 passes, is RFC 9106's second recommended setting) and
// the AEAD tag makes a wrong passphrase a certain, clean failure, which
// PKCS#8's PBES2 with AES-CBC does not give (it reports a wrong passphrase as
// a padding or parse error, if at all) and which has no standard encoding for
// ML-DSA keys in the tools in reach.
package keyfile

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cloudflare/circl/pki"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/iotbaseline/baseline/durable"
)

// Algorithm names a signature algorithm a key file can hold.
type Algorithm string

// The supported algorithms.
const (
	ECDSAP256 Algorithm = "ecdsa-p256" // TUF key type "ecdsa", scheme "ecdsa-sha2-nistp256"
	Ed25519   Algorithm = "ed25519"    // TUF key type and scheme "ed25519"
	MLDSA65   Algorithm = "ml-dsa-65"  // FIPS 204 ML-DSA-65; not a TUF key type
)

// Algorithms lists the supported algorithms, TUF-capable first.
var Algorithms = []Algorithm{ECDSAP256, Ed25519, MLDSA65}

// MaxFileSize bounds every key file the decoders accept. An ML-DSA-65
// public key, the largest object, is under 3 KiB in PEM.
const MaxFileSize = 64 << 10

const (
	encryptedType = "BASELINE ENCRYPTED PRIVATE KEY"
	aadPrefix     = "baseline encrypted private key v1\n"
	saltSize      = 16
)

// Errors. A wrong passphrase and a tampered ciphertext give the same
// [ErrDecrypt]: the AEAD cannot tell them apart, and neither should we.
var (
	ErrFormat             = errors.New("keyfile: not a valid key file")
	ErrUnsupported        = errors.New("keyfile: unsupported key algorithm")
	ErrPassphraseRequired = errors.New("keyfile: key file is encrypted; a passphrase is required")
	ErrDecrypt            = errors.New("keyfile: wrong passphrase or corrupted key file")
	ErrExists             = errors.New("keyfile: file already exists; refusing to overwrite")
	ErrWeakKDF            = errors.New("keyfile: key-derivation parameters below the floor")
)

// KDFParams are the Argon2id parameters used to derive the encryption key
// from the passphrase.
type KDFParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultKDF is used when the caller gives no parameters: 64 MiB, 3 passes,
// 4 lanes (RFC 9106 section 4, second recommended option). Opening a key
// costs under a second (BenchmarkDecodeEncryptedDefault: 0.9 s on a loaded
// 2-core build machine), once per key per release run.
var DefaultKDF = KDFParams{Memory: 64 << 10, Time: 3, Threads: 4}

// MinKDF is the floor [EncodePrivate] enforces (OWASP's Argon2id minimum,
// 19 MiB and 2 passes); weaker parameters are refused when writing.
var MinKDF = KDFParams{Memory: 19 << 10, Time: 2, Threads: 1}

// maxKDF bounds what a (possibly planted) key file may make the decoder
// spend: 256 MiB, 16 passes, 16 lanes.
var maxKDF = KDFParams{Memory: 256 << 10, Time: 16, Threads: 16}

// Generate makes a new key pair of the given algorithm from rand (nil means
// crypto/rand).
func Generate(alg Algorithm, r io.Reader) (crypto.Signer, error) {
	if r == nil {
		r = rand.Reader
	}
	switch alg {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), r)
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(r)
		if err != nil {
			return nil, err
		}
		return priv, nil
	case MLDSA65:
		_, priv, err := mldsa65.GenerateKey(r)
		if err != nil {
			return nil, err
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupported, alg)
}

// AlgorithmOf names the algorithm of a public key.
func AlgorithmOf(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256, nil
		}
	case ed25519.PublicKey:
		return Ed25519, nil
	case *mldsa65.PublicKey:
		return MLDSA65, nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupported, pub)
}

// marshalPKCS8 encodes a private key as PKCS#8 DER.
func marshalPKCS8(key crypto.Signer) ([]byte, error) {
	if _, err := AlgorithmOf(key.Public()); err != nil {
		return nil, err
	}
	if k, ok := key.(*mldsa65.PrivateKey); ok {
		return pki.MarshalPKIXPrivateKey(k)
	}
	return x509.MarshalPKCS8PrivateKey(key)
}

// parsePKCS8 decodes PKCS#8 DER into one of the supported key types.
func parsePKCS8(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, ErrUnsupported
		}
		if _, err := AlgorithmOf(s.Public()); err != nil {
			return nil, err
		}
		return s, nil
	}
	k, err := pki.UnmarshalPKIXPrivateKey(der)
	if err != nil {
		return nil, ErrFormat
	}
	s, ok := k.(*mldsa65.PrivateKey)
	if !ok {
		return nil, ErrUnsupported
	}
	return s, nil
}

// EncodePrivate returns the PEM file for a private key. With an empty
// passphrase the key is written in the clear as PKCS#8; otherwise it is
// encrypted as described in the package documentation, with kdf (nil means
// [DefaultKDF]; anything below [MinKDF] is refused).
func EncodePrivate(key crypto.Signer, passphrase []byte, kdf *KDFParams) ([]byte, error) {
	der, err := marshalPKCS8(key)
	if err != nil {
		return nil, err
	}
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	p := DefaultKDF
	if kdf != nil {
		p = *kdf
	}
	if p.Memory < MinKDF.Memory || p.Time < MinKDF.Time || p.Threads < MinKDF.Threads ||
		p.Memory > maxKDF.Memory || p.Time > maxKDF.Time || p.Threads > maxKDF.Threads {
		return nil, ErrWeakKDF
	}
	return seal(der, passphrase, p, rand.Reader)
}

func seal(der, passphrase []byte, p KDFParams, r io.Reader) ([]byte, error) {
	salt := make([]byte, saltSize)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, err
	}
	h := map[string]string{
		"Version":    "1",
		"KDF":        "argon2id",
		"KDF-Params": fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads),
		"Salt":       base64.StdEncoding.EncodeToString(salt),
		"Cipher":     "xchacha20-poly1305",
		"Nonce":      base64.StdEncoding.EncodeToString(nonce),
	}
	k := argon2.IDKey(passphrase, salt, p.Time, p.Memory, p.Threads, chacha20poly1305.KeySize)
	defer clear(k)
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, nonce, der, aad(h))
	return pem.EncodeToMemory(&pem.Block{Type: encryptedType, Headers: h, Bytes: ct}), nil
}

var headerOrder = []string{"Version", "KDF", "KDF-Params", "Salt", "Cipher", "Nonce"}

func aad(h map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(aadPrefix)
	for _, k := range headerOrder {
		b.WriteString(k + ": " + h[k] + "\n")
	}
	return b.Bytes()
}

// IsEncrypted reports whether data is an encrypted private key file.
func IsEncrypted(data []byte) bool {
	b, _ := pem.Decode(data)
	return b != nil && b.Type == encryptedType
}

// DecodePrivate reads a private key file written by [EncodePrivate] (or any
// PEM PKCS#8 "PRIVATE KEY" of a supported algorithm). passphrase is used
// only if the file is encrypted; an encrypted file with an empty passphrase
// gives [ErrPassphraseRequired], a wrong one [ErrDecrypt].
func DecodePrivate(data, passphrase []byte) (crypto.Signer, error) {
	if len(data) > MaxFileSize {
		return nil, ErrFormat
	}
	b, rest := pem.Decode(data)
	if b == nil || len(bytes.TrimSpace(rest)) != 0 {
		return nil, ErrFormat
	}
	switch b.Type {
	case "PRIVATE KEY":
		if len(b.Headers) != 0 {
			return nil, ErrFormat
		}
		return parsePKCS8(b.Bytes)
	case encryptedType:
		if len(passphrase) == 0 {
			return nil, ErrPassphraseRequired
		}
		der, err := open(b, passphrase)
		if err != nil {
			return nil, err
		}
		defer clear(der)
		return parsePKCS8(der)
	}
	return nil, ErrFormat
}

func open(b *pem.Block, passphrase []byte) ([]byte, error) {
	h := b.Headers
	if len(h) != len(headerOrder) || h["Version"] != "1" || h["KDF"] != "argon2id" ||
		h["Cipher"] != "xchacha20-poly1305" {
		return nil, ErrFormat
	}
	p, err := parseKDFParams(h["KDF-Params"])
	if err != nil {
		return nil, err
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(h["Salt"])
	if err != nil || len(salt) < saltSize || len(salt) > 64 {
		return nil, ErrFormat
	}
	nonce, err := base64.StdEncoding.Strict().DecodeString(h["Nonce"])
	if err != nil || len(nonce) != chacha20poly1305.NonceSizeX {
		return nil, ErrFormat
	}
	k := argon2.IDKey(passphrase, salt, p.Time, p.Memory, p.Threads, chacha20poly1305.KeySize)
	defer clear(k)
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	der, err := aead.Open(nil, nonce, b.Bytes, aad(h))
	if err != nil {
		return nil, ErrDecrypt
	}
	return der, nil
}

// parseKDFParams parses "m=65536,t=3,p=4" exactly (the form seal writes),
// bounded by maxKDF so a planted file cannot make the decoder allocate
// without limit.
func parseKDFParams(s string) (KDFParams, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return KDFParams{}, ErrFormat
	}
	var v [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		num, ok := strings.CutPrefix(parts[i], name)
		if !ok {
			return KDFParams{}, ErrFormat
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || n == 0 || strconv.FormatUint(n, 10) != num {
			return KDFParams{}, ErrFormat
		}
		v[i] = n
	}
	p := KDFParams{Memory: uint32(v[0]), Time: uint32(v[1])}
	if v[2] > uint64(maxKDF.Threads) || p.Memory > maxKDF.Memory || p.Time > maxKDF.Time ||
		p.Memory < 8*uint32(v[2]) {
		return KDFParams{}, ErrFormat
	}
	p.Threads = uint8(v[2])
	return p, nil
}

// EncodePublic returns the PEM "PUBLIC KEY" (PKIX) file for a public key.
func EncodePublic(pub crypto.PublicKey) ([]byte, error) {
	if _, err := AlgorithmOf(pub); err != nil {
		return nil, err
	}
	if k, ok := pub.(*mldsa65.PublicKey); ok {
		return pki.MarshalPEMPublicKey(k)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// DecodePublic reads a PEM "PUBLIC KEY" file of a supported algorithm.
func DecodePublic(data []byte) (crypto.PublicKey, error) {
	if len(data) > MaxFileSize {
		return nil, ErrFormat
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" || len(b.Headers) != 0 || len(bytes.TrimSpace(rest)) != 0 {
		return nil, ErrFormat
	}
	if k, err := x509.ParsePKIXPublicKey(b.Bytes); err == nil {
		if _, err := AlgorithmOf(k); err != nil {
			return nil, err
		}
		return k, nil
	}
	k, err := pki.UnmarshalPKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, ErrFormat
	}
	pk, ok := k.(*mldsa65.PublicKey)
	if !ok {
		return nil, ErrUnsupported
	}
	return pk, nil
}

// ReadPrivate reads and decodes the private key file at path.
func ReadPrivate(fsys durable.FS, path string, passphrase []byte) (crypto.Signer, error) {
	data, err := durable.ReadFile(fsys, path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	k, err := DecodePrivate(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ReadPublic reads and decodes the public key file at path.
func ReadPublic(fsys durable.FS, path string) (crypto.PublicKey, error) {
	data, err := durable.ReadFile(fsys, path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	k, err := DecodePublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteNew creates path with data and mode perm, durably, and refuses
// ([ErrExists]) if the file already exists: a key file is never replaced.
// The file is created exclusively (O_EXCL), so two concurrent runs cannot
// both win; if writing fails the partial file is removed. A power loss
// before the final fsync can leave an empty or short file behind, which
// never decodes as a key; delete it and generate again.
func WriteNew(fsys durable.FS, path string, data []byte, perm os.FileMode) error {
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		fsys.Remove(path)
		return err
	}
	return nil
}
