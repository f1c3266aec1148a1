package secrets

import (
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// The store's keyset holds only AES-256-GCM keys with Tink's 5-byte output
// prefix (0x01 and the key ID). keysetAEAD is the keyset primitive for exactly
// that shape: it encrypts under the primary key and decrypts with the enabled
// key whose prefix the ciphertext carries. Tink's aead.New does the same for
// every AEAD key type, but importing its aead package registers all of them
// (AES-CTR-HMAC, AES-GCM-SIV, ChaCha20, XChaCha20, X-AES-GCM, KMS envelopes)
// and links their code and protobuf descriptors into every device binary
// (about 0.4 MB of the reference device's 13.6 MB); the aesgcm package alone
// registers what this store reads and writes.

// aes256GCMTink are the parameters of every key in a store's keyset.
func aes256GCMTink() (*aesgcm.Parameters, error) {
	return aesgcm.NewParameters(aesgcm.ParametersOpts{
		KeySizeInBytes: 32,
		IVSizeInBytes:  12,
		TagSizeInBytes: 16,
		Variant:        aesgcm.VariantTink,
	})
}

// newKeyset returns a keyset with one fresh AES-256-GCM key, primary.
func newKeyset() (*keyset.Handle, error) {
	m := keyset.NewManager()
	if _, err := addPrimary(m); err != nil {
		return nil, err
	}
	return m.Handle()
}

// addPrimary adds a fresh AES-256-GCM key to m and makes it primary.
func addPrimary(m *keyset.Manager) (uint32, error) {
	p, err := aes256GCMTink()
	if err != nil {
		return 0, err
	}
	id, err := m.AddNewKeyFromParameters(p)
	if err != nil {
		return 0, err
	}
	return id, m.SetPrimary(id)
}

type keysetAEAD struct {
	primary tink.AEAD
	// byPrefix maps an output prefix to the enabled keys that carry it (key
	// IDs are unique in a keyset, but a hand-edited keyset could repeat one).
	byPrefix map[string][]tink.AEAD
}

var errNoKey = errors.New("no enabled key matches the ciphertext's prefix")

// newKeysetAEAD builds the primitive from h, whose keys install has already
// checked are AES-256-GCM with a Tink prefix. Disabled and destroyed keys
// take no part, as in Tink's own keyset primitives.
func newKeysetAEAD(h *keyset.Handle) (*keysetAEAD, error) {
	a := &keysetAEAD{byPrefix: make(map[string][]tink.AEAD, h.Len())}
	for i := 0; i < h.Len(); i++ {
		e, err := h.Entry(i)
		if err != nil {
			return nil, err
		}
		if e.KeyStatus() != keyset.Enabled {
			continue
		}
		k, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return nil, fmt.Errorf("%w: keyset key of type %T", ErrUnsupported, e.Key())
		}
		p, err := aesgcm.NewAEAD(k)
		if err != nil {
			return nil, err
		}
		prefix := string(k.OutputPrefix())
		a.byPrefix[prefix] = append(a.byPrefix[prefix], p)
		if e.IsPrimary() {
			a.primary = p
		}
	}
	if a.primary == nil {
		return nil, fmt.Errorf("%w: keyset has no enabled primary key", ErrUnsupported)
	}
	return a, nil
}

// Encrypt implements tink.AEAD with the primary key.
func (a *keysetAEAD) Encrypt(plaintext, ad []byte) ([]byte, error) {
	return a.primary.Encrypt(plaintext, ad)
}

// Decrypt implements tink.AEAD with the key the ciphertext's prefix names.
func (a *keysetAEAD) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	if len(ciphertext) < tinkPrefix {
		return nil, errNoKey
	}
	var last error = errNoKey
	for _, p := range a.byPrefix[string(ciphertext[:tinkPrefix])] {
		pt, err := p.Decrypt(ciphertext, ad)
		if err == nil {
			return pt, nil
		}
		last = err
	}
	return nil, last
}
