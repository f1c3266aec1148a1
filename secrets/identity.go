package secrets

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Identity is the device's identity key pair (5.4-2, 5.4-4), generated on
// the device the first time [Sealed.Identity] is called: inside the TPM or
// token when the KEK is an [IdentityKeyer] (the private key cannot be
// exported), otherwise an ECDSA P-256 key from crypto/rand kept sealed in
// the store. It implements crypto.Signer; it never prints or exposes the
// private key.
type Identity struct {
	signer   crypto.Signer
	hardware bool
	backend  string
}

// Public implements crypto.Signer.
func (id *Identity) Public() crypto.PublicKey { return id.signer.Public() }

// Sign implements crypto.Signer.
func (id *Identity) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return id.signer.Sign(rand, digest, opts)
}

// Hardware reports whether the private key lives in hardware and cannot be
// exported.
func (id *Identity) Hardware() bool { return id.hardware }

// Backend names where the key lives: "soft", "tpm2", "pkcs11".
func (id *Identity) Backend() string { return id.backend }

// CreateCSR returns a DER PKCS#10 certificate signing request for the
// identity key, signed by it, from template (subject, DNS names, …; nil
// means an empty subject). A manufacturer's CA turns it into the device
// certificate.
func (id *Identity) CreateCSR(template *x509.CertificateRequest) ([]byte, error) {
	if template == nil {
		template = &x509.CertificateRequest{}
	}
	return x509.CreateCertificateRequest(rand.Reader, template, id)
}

// String never shows key material.
func (id *Identity) String() string {
	return fmt.Sprintf("secrets.Identity(%s, hardware=%t)", id.backend, id.hardware)
}

// LogValue keeps the key out of structured logs.
func (id *Identity) LogValue() slog.Value { return slog.StringValue(id.String()) }

// Identity returns the device's identity key, generating it on first call
// (see [Identity]). Later calls, and calls after a restart, return the same
// key.
func (s *Sealed) Identity(ctx context.Context) (*Identity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.erased {
		return nil, &Error{Op: "identity", Err: ErrErased}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.ident != nil {
		return s.ident, nil
	}
	id, err := s.identity(ctx)
	if err != nil {
		return nil, &Error{Op: "identity", Err: err}
	}
	s.ident = id
	return id, nil
}

func (s *Sealed) identity(ctx context.Context) (*Identity, error) {
	if k, ok := s.kek.(IdentityKeyer); ok {
		sg, err := k.IdentityKey(ctx)
		if err != nil {
			return nil, err
		}
		return &Identity{signer: sg, hardware: s.info.Hardware, backend: s.info.Backend}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	der, err := s.get(identityKey)
	if errors.Is(err, ErrNotFound) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		defer clear(der)
		if err := s.put(identityKey, der); err != nil {
			return nil, err
		}
		s.log.Info("secrets: device identity key generated", "backend", "soft")
		return &Identity{signer: k, backend: "soft"}, nil
	}
	if err != nil {
		return nil, err
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: identity key does not parse", ErrCorrupt)
	}
	sg, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: identity key of type %T", ErrUnsupported, k)
	}
	return &Identity{signer: sg, backend: "soft"}, nil
}
