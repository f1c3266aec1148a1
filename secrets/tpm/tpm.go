package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/iotbaseline/baseline/secrets"
)

// DefaultDevice is the TPM device opened when [Config.Transport] is nil: the
// kernel's resource manager.
const DefaultDevice = "/dev/tpmrm0"

// Default persistent handles, in the owner range that TCG leaves to
// applications (0x81000002–0x8100FFFF, clear of the SRK at 0x81000001 and of
// the EK range 0x81010000–).
const (
	DefaultKEKHandle      tpm2.TPMHandle = 0x8100B5E0
	DefaultIdentityHandle tpm2.TPMHandle = 0x8100B5E1
)

// Algorithm identifies the TPM KEK's wrapping scheme in keyset envelopes:
// the data key is sealed in a TPM keyed-hash object under an ECC P-256
// storage key with AES-128-CFB protection and SHA-256 names.
const Algorithm = "tpm2-seal/ecc-p256-aes128cfb-sha256"

// maxSealed is the most a TPM seals in one object (TPM2B_SENSITIVE_DATA).
const maxSealed = 128

// Config configures [New]. The zero value opens /dev/tpmrm0 with the
// default handles and empty owner authorisation.
type Config struct {
	// Transport is the TPM to use. Nil means open Device. A transport
	// given here is not closed by [KEK.Close].
	Transport transport.TPM
	// Device is the character device opened when Transport is nil;
	// empty means DefaultDevice.
	Device string
	// KEKHandle and IdentityHandle are the persistent handles of the
	// storage key and of the identity key; zero means the defaults.
	KEKHandle, IdentityHandle tpm2.TPMHandle
	// OwnerAuth is the owner hierarchy's authorisation value, needed to
	// create and evict persistent keys; empty by default, as shipped.
	OwnerAuth []byte
	// Logger receives key creation and destruction events; nil discards.
	Logger *slog.Logger
}

// KEK is a [secrets.KEK] held by a TPM 2.0 (5.4-1): an ECC P-256 storage key
// created inside the TPM from a random template and made persistent under
// the owner hierarchy. Wrap seals a data key in a TPM object under it; only
// this TPM, while that key exists, can unseal it. The key never leaves the
// TPM; Destroy evicts it, which makes every blob it sealed unreadable
// (crypto-erase). It also holds the device identity key ([KEK.IdentityKey]).
//
// Commands to the TPM are serialised; a KEK is safe for concurrent use.
type KEK struct {
	mu        sync.Mutex
	t         transport.TPM
	closer    io.Closer
	where     string
	simulator bool // connected with DialTCP: software, whatever it emulates
	kekH      tpm2.TPMHandle
	idH       tpm2.TPMHandle
	ownerAuth []byte
	log       *slog.Logger
	parent    tpm2.NamedHandle
	parentPub tpm2.TPMTPublic
	destroyed bool
}

var (
	_ secrets.KEK           = (*KEK)(nil)
	_ secrets.Describer     = (*KEK)(nil)
	_ secrets.Destroyer     = (*KEK)(nil)
	_ secrets.IdentityKeyer = (*KEK)(nil)
)

// New opens the TPM and loads the persistent storage key, creating it on
// first use. A missing device (no TPM, or not Linux) yields an error
// wrapping errors.ErrUnsupported.
func New(ctx context.Context, cfg Config) (*KEK, error) {
	k := &KEK{t: cfg.Transport, kekH: cfg.KEKHandle, idH: cfg.IdentityHandle, ownerAuth: cfg.OwnerAuth, log: cfg.Logger, where: "transport"}
	if k.kekH == 0 {
		k.kekH = DefaultKEKHandle
	}
	if k.idH == 0 {
		k.idH = DefaultIdentityHandle
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if st, ok := k.t.(*streamTPM); ok {
		k.simulator, k.where = true, "TPM simulator at "+st.addr
	}
	if k.t == nil {
		dev := cfg.Device
		if dev == "" {
			dev = DefaultDevice
		}
		tc, err := OpenDevice(dev)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tpm: no TPM at %s: %w (%w)", dev, errors.ErrUnsupported, err)
		}
		if err != nil {
			return nil, fmt.Errorf("tpm: %w", err)
		}
		k.t, k.closer, k.where = tc, tc, dev
	}
	if err := ctx.Err(); err != nil {
		k.Close()
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadParent(); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// Close closes the TPM device if New opened it.
func (k *KEK) Close() error {
	if k.closer != nil {
		return k.closer.Close()
	}
	return nil
}

func (k *KEK) owner() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(k.ownerAuth)}
}

func randomUnique() tpm2.TPMUPublicID {
	x, y := make([]byte, 32), make([]byte, 32)
	rand.Read(x)
	rand.Read(y)
	return tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: x}, Y: tpm2.TPM2BECCParameter{Buffer: y}})
}

// persistent returns the public area of the object at h, or ok=false if
// there is none.
func (k *KEK) persistent(h tpm2.TPMHandle) (*tpm2.ReadPublicResponse, bool, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(k.t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCValue) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("tpm: reading handle %#x: %w", uint32(h), err)
	}
	return rsp, true, nil
}

// createPersistent creates a primary key from template (with a random
// unique field, so it can never be derived again once evicted) and makes it
// persistent at h.
func (k *KEK) createPersistent(h tpm2.TPMHandle, template tpm2.TPMTPublic) error {
	template.Unique = randomUnique()
	cp, err := tpm2.CreatePrimary{PrimaryHandle: k.owner(), InPublic: tpm2.New2B(template)}.Execute(k.t)
	if err != nil {
		return fmt.Errorf("tpm: creating key: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: cp.ObjectHandle}.Execute(k.t)
	_, err = tpm2.EvictControl{
		Auth:             k.owner(),
		ObjectHandle:     &tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: h,
	}.Execute(k.t)
	if err != nil {
		return fmt.Errorf("tpm: making key persistent at %#x: %w", uint32(h), err)
	}
	return nil
}

func storageTemplate() tpm2.TPMTPublic { return tpm2.ECCSRKTemplate }

func identityTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			SignEncrypt:         true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
	}
}

// checkAttrs refuses a persistent object that is not the kind of key this
// package creates (someone else's key at our handle, or an exportable one).
func checkAttrs(pub *tpm2.TPMTPublic, sign bool) error {
	a := pub.ObjectAttributes
	ok := pub.Type == tpm2.TPMAlgECC && a.FixedTPM && a.FixedParent && a.SensitiveDataOrigin
	if sign {
		ok = ok && a.SignEncrypt && !a.Decrypt && !a.Restricted
	} else {
		ok = ok && a.Restricted && a.Decrypt && !a.SignEncrypt
	}
	if !ok {
		return errors.New("tpm: the object at the configured persistent handle is not a non-exportable key of the expected kind")
	}
	return nil
}

func (k *KEK) loadParent() error {
	rsp, ok, err := k.persistent(k.kekH)
	if err != nil {
		return err
	}
	if !ok {
		if err := k.createPersistent(k.kekH, storageTemplate()); err != nil {
			return err
		}
		k.log.Info("tpm: storage key created", "handle", fmt.Sprintf("%#x", uint32(k.kekH)))
		if rsp, _, err = k.persistent(k.kekH); err != nil {
			return err
		}
		if rsp == nil {
			return fmt.Errorf("tpm: storage key missing at %#x after creation", uint32(k.kekH))
		}
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return fmt.Errorf("tpm: storage key public area: %w", err)
	}
	if err := checkAttrs(pub, false); err != nil {
		return err
	}
	k.parent = tpm2.NamedHandle{Handle: k.kekH, Name: rsp.Name}
	k.parentPub = *pub
	return nil
}

// session returns an HMAC session salted to the storage key that encrypts
// the sensitive parameter in dir, so a data key never crosses the bus to
// the TPM in clear.
func (k *KEK) session(dir string) tpm2.Session {
	d := tpm2.EncryptIn
	if dir == "out" {
		d = tpm2.EncryptOut
	}
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.AESEncryption(128, d), tpm2.Salted(k.parent.Handle, k.parentPub))
}

// Wrap implements [secrets.KEK]: it seals dek (at most 128 bytes) in a TPM
// object under the storage key and returns the object's public and private
// (TPM-encrypted) areas.
func (k *KEK) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	if len(dek) == 0 || len(dek) > maxSealed {
		return nil, fmt.Errorf("tpm: data key of %d bytes; the TPM seals 1 to %d", len(dek), maxSealed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, secrets.ErrErased
	}
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: k.parent.Handle, Name: k.parent.Name, Auth: k.session("in")},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: dek}),
		}},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:    tpm2.TPMAlgKeyedHash,
			NameAlg: tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{
				FixedTPM:     true,
				FixedParent:  true,
				UserWithAuth: true,
				NoDA:         true,
			},
		}),
	}.Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: sealing: %w", err)
	}
	pub := tpm2.Marshal(rsp.OutPublic)
	priv := tpm2.Marshal(rsp.OutPrivate)
	return append(pub, priv...), nil
}

// Unwrap implements [secrets.KEK]. A blob sealed by another TPM, or under
// an evicted storage key, fails with an error wrapping
// secrets.ErrWrongKEK.
func (k *KEK) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	pub, priv, err := splitBlob(wrapped)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, secrets.ErrErased
	}
	ld, err := tpm2.Load{
		ParentHandle: k.parent,
		InPrivate:    tpm2.TPM2BPrivate{Buffer: priv},
		InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](pub),
	}.Execute(k.t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCIntegrity) || errors.Is(err, tpm2.TPMRCSize) || errors.Is(err, tpm2.TPMRCValue) ||
			errors.Is(err, tpm2.TPMRCAttributes) || errors.Is(err, tpm2.TPMRCHash) {
			return nil, fmt.Errorf("%w: tpm: %v", secrets.ErrWrongKEK, err)
		}
		return nil, fmt.Errorf("tpm: loading sealed key: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: ld.ObjectHandle}.Execute(k.t)
	us, err := tpm2.Unseal{
		ItemHandle: tpm2.AuthHandle{Handle: ld.ObjectHandle, Name: ld.Name, Auth: k.session("out")},
	}.Execute(k.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: unsealing: %w", err)
	}
	return bytes.Clone(us.OutData.Buffer), nil
}

// splitBlob parses the TPM2B_PUBLIC then TPM2B_PRIVATE that Wrap returns,
// both sized fields, with nothing after them.
func splitBlob(b []byte) (pub, priv []byte, err error) {
	field := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b)-2 < n || n == 0 {
			return nil, false
		}
		f := b[2 : 2+n]
		b = b[2+n:]
		return f, true
	}
	var ok1, ok2 bool
	pub, ok1 = field()
	priv, ok2 = field()
	if !ok1 || !ok2 || len(b) != 0 {
		return nil, nil, fmt.Errorf("%w: tpm: malformed sealed blob", secrets.ErrWrongKEK)
	}
	return pub, priv, nil
}

// Describe implements [secrets.Describer]. A KEK on a [DialTCP] transport
// (swtpm or another simulator) is reported as not hardware.
func (k *KEK) Describe() secrets.KEKInfo {
	detail := fmt.Sprintf("%s, storage key at persistent handle %#x", k.where, uint32(k.kekH))
	if k.simulator {
		detail += " (software simulator: not hardware protection)"
	}
	return secrets.KEKInfo{Algorithm: Algorithm, Backend: "tpm2", Hardware: !k.simulator, Detail: detail}
}

// Destroy implements [secrets.Destroyer]: it evicts the storage key and the
// identity key from the TPM's non-volatile memory. Every blob the KEK
// sealed is unreadable from then on, by anyone. Destroying twice is not an
// error.
func (k *KEK) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.destroyed = true
	for _, h := range []tpm2.TPMHandle{k.kekH, k.idH} {
		rsp, ok, err := k.persistent(h)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		_, err = tpm2.EvictControl{
			Auth:             k.owner(),
			ObjectHandle:     &tpm2.NamedHandle{Handle: h, Name: rsp.Name},
			PersistentHandle: h,
		}.Execute(k.t)
		if err != nil {
			return fmt.Errorf("tpm: evicting %#x: %w", uint32(h), err)
		}
		k.log.Info("tpm: key evicted", "handle", fmt.Sprintf("%#x", uint32(h)))
	}
	return nil
}

// IdentityKey implements [secrets.IdentityKeyer]: an ECDSA P-256 signing
// key generated inside the TPM (fixedTPM, fixedParent,
// sensitiveDataOrigin: it cannot be exported) and persistent at the
// identity handle, created on first call.
func (k *KEK) IdentityKey(ctx context.Context) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, secrets.ErrErased
	}
	rsp, ok, err := k.persistent(k.idH)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := k.createPersistent(k.idH, identityTemplate()); err != nil {
			return nil, err
		}
		k.log.Info("tpm: identity key created", "handle", fmt.Sprintf("%#x", uint32(k.idH)))
		if rsp, ok, err = k.persistent(k.idH); err != nil || !ok {
			return nil, fmt.Errorf("tpm: identity key missing after creation: %v", err)
		}
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpm: identity public area: %w", err)
	}
	if err := checkAttrs(pub, true); err != nil {
		return nil, err
	}
	cpub, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("tpm: identity public key: %w", err)
	}
	ep, ok := cpub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("tpm: identity key of type %T", cpub)
	}
	return &signer{k: k, h: tpm2.NamedHandle{Handle: k.idH, Name: rsp.Name}, pub: ep}, nil
}

// signer is a crypto.Signer whose private key stays in the TPM.
type signer struct {
	k   *KEK
	h   tpm2.NamedHandle
	pub *ecdsa.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-256 digest inside the TPM and returns an ASN.1 ECDSA
// signature, as crypto.Signer requires.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.SHA256 && opts.HashFunc() != 0 {
		return nil, fmt.Errorf("tpm: identity key signs SHA-256 digests, not %v", opts.HashFunc())
	}
	if len(digest) != 32 {
		return nil, fmt.Errorf("tpm: digest of %d bytes; want 32 (SHA-256)", len(digest))
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if s.k.destroyed {
		return nil, secrets.ErrErased
	}
	rsp, err := tpm2.Sign{
		KeyHandle: s.h,
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck},
	}.Execute(s.k.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: signing: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("tpm: signature: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig.SignatureR.Buffer))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig.SignatureS.Buffer))
	})
	return b.Bytes()
}

func (s *signer) String() string { return "tpm.Signer(" + fmt.Sprintf("%#x", uint32(s.h.Handle)) + ")" }

// String never shows key material.
func (k *KEK) String() string { return "tpm.KEK(" + k.where + ")" }
