package release

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
)

// tufSigner adapts any crypto.Signer holding an ECDSA P-256 or Ed25519 key
// (a software key, or one in an HSM via crypto11) to the signature.Signer
// go-tuf's metadata.Sign takes. sigstore's LoadSigner accepts only the
// concrete software key types.
type tufSigner struct {
	s crypto.Signer
}

func (t tufSigner) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return t.s.Public(), nil
}

func (t tufSigner) SignMessage(r io.Reader, _ ...signature.SignOption) ([]byte, error) {
	msg, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	switch t.s.Public().(type) {
	case ed25519.PublicKey:
		return t.s.Sign(rand.Reader, msg, crypto.Hash(0))
	case *ecdsa.PublicKey:
		// go-tuf verifies scheme ecdsa-sha2-nistp256 over SHA-256 with an
		// ASN.1 DER signature, which is what crypto.Signer returns.
		d := crypto.SHA256.New()
		d.Write(msg)
		return t.s.Sign(rand.Reader, d.Sum(nil), crypto.SHA256)
	}
	return nil, ErrKeyType
}

// tufKey returns the TUF key record and key ID of a role key, refusing key
// types TUF clients do not know (ML-DSA, RSA, other curves).
func tufKey(pub crypto.PublicKey) (*metadata.Key, string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("%w: ECDSA on %s", ErrKeyType, k.Curve.Params().Name)
		}
	default:
		return nil, "", fmt.Errorf("%w: %T", ErrKeyType, pub)
	}
	key, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrKeyType, err)
	}
	id, err := key.ID()
	if err != nil {
		return nil, "", err
	}
	return key, id, nil
}

// KeyID returns the TUF key ID (hex SHA-256 of the canonical key record) of
// an ECDSA P-256 or Ed25519 public key: the ID that root.json lists.
func KeyID(pub crypto.PublicKey) (string, error) {
	_, id, err := tufKey(pub)
	return id, err
}

// ReadKey reads a private key file written by `baseline keygen`, decrypting
// it with passphrase if it is encrypted. fsys nil means durable.OS.
func ReadKey(fsys durable.FS, path string, passphrase []byte) (crypto.Signer, error) {
	if fsys == nil {
		fsys = durable.OS
	}
	return keyfile.ReadPrivate(fsys, path, passphrase)
}

// String lists the keys by role and TUF key ID, never their private parts.
func (k Keys) String() string {
	var b strings.Builder
	b.WriteString("release.Keys{")
	for i, role := range roles {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(role + ":[")
		for j, s := range *k.of(role) {
			if j > 0 {
				b.WriteString(" ")
			}
			id, err := KeyID(s.Public())
			if err != nil {
				alg, _ := keyfile.AlgorithmOf(s.Public())
				id = "(" + string(alg) + ")"
			} else {
				id = id[:16]
			}
			b.WriteString(id)
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so %#v does not print key material either.
func (k Keys) GoString() string { return k.String() }

// LogValue logs the keys as String does.
func (k Keys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// String names the repository and its root version; a Repo holds signing
// keys and never prints them.
func (r *Repo) String() string {
	return fmt.Sprintf("release.Repo(%s, root v%d)", r.dir, r.Version(Root))
}

// GoString is String.
func (r *Repo) GoString() string { return r.String() }

// LogValue logs the repository as String does.
func (r *Repo) LogValue() slog.Value { return slog.StringValue(r.String()) }
