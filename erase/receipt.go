package erase

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ReceiptFormat names the receipt's JSON format.
const ReceiptFormat = "baseline.erase-receipt/v1"

// MaxReceiptSize bounds a signed receipt VerifyReceipt reads (64 KiB).
const MaxReceiptSize = 64 << 10

// Receipt is the record of one factory reset (5.11-4): which stores were
// erased, how, whether each was verified empty, where each associated
// service's deletion stands, and when. It holds no personal data: store
// and service names, categories, counts, times and random IDs only.
type Receipt struct {
	Format   string          `json:"format"`
	ID       string          `json:"id"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	Stores   []StoreReceipt  `json:"stores"`
	Services []ServiceStatus `json:"services,omitempty"`
}

// Complete reports whether every store was verified empty and every
// associated service confirmed the deletion.
func (r *Receipt) Complete() bool {
	for _, s := range r.Stores {
		if !s.Verified() {
			return false
		}
	}
	for _, s := range r.Services {
		if s.Status != Completed {
			return false
		}
	}
	return true
}

// signedReceipt is the signed form: the receipt's exact bytes, the
// algorithm and the signature over those bytes.
type signedReceipt struct {
	Receipt json.RawMessage `json:"receipt"`
	Alg     string          `json:"alg"`
	Sig     []byte          `json:"sig"`
}

// Signature algorithms, chosen from the signer's public key.
const (
	algECDSA   = "ecdsa-sha256"        // ASN.1 signature over SHA-256
	algEd25519 = "ed25519"             // over the receipt bytes
	algRSA     = "rsa-pkcs1v15-sha256" // PKCS #1 v1.5 over SHA-256
)

// ErrBadReceipt is returned by VerifyReceipt for anything but a
// well-formed receipt with a valid signature by the given key. It says no
// more, on purpose.
var ErrBadReceipt = errors.New("erase: receipt malformed or signature invalid")

// Sign returns rc as signed JSON, signed by s: an ECDSA key (the device
// identity, *secrets.Identity, is one), an Ed25519 key or an RSA key.
func Sign(rc *Receipt, s crypto.Signer) ([]byte, error) {
	if err := rc.check(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(rc)
	if err != nil {
		return nil, err
	}
	alg, err := algOf(s.Public())
	if err != nil {
		return nil, err
	}
	sig, err := signBody(body, s)
	if err != nil {
		return nil, fmt.Errorf("erase: signing receipt: %w", err)
	}
	return json.Marshal(signedReceipt{Receipt: body, Alg: alg, Sig: sig})
}

func algOf(pub crypto.PublicKey) (string, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return algECDSA, nil
	case ed25519.PublicKey:
		return algEd25519, nil
	case *rsa.PublicKey:
		return algRSA, nil
	}
	return "", fmt.Errorf("erase: unsupported signer key %T", pub)
}

// signBody signs the receipt's bytes as its algorithm requires: Ed25519
// over the bytes, the others over their SHA-256.
func signBody(body []byte, s crypto.Signer) ([]byte, error) {
	if _, ok := s.Public().(ed25519.PublicKey); ok {
		return s.Sign(rand.Reader, body, crypto.Hash(0))
	}
	h := sha256.Sum256(body)
	return s.Sign(rand.Reader, h[:], crypto.SHA256)
}

// VerifyReceipt checks a signed receipt against pub and returns it. The
// receipt is returned only when the signature verifies; any malformed input,
// unknown field, trailing data, input over MaxReceiptSize or bad signature
// gives ErrBadReceipt.
func VerifyReceipt(data []byte, pub crypto.PublicKey) (*Receipt, error) {
	if len(data) > MaxReceiptSize {
		return nil, ErrBadReceipt
	}
	var sr signedReceipt
	if err := decodeStrict(data, &sr); err != nil {
		return nil, ErrBadReceipt
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(sr.Receipt)
		ok = sr.Alg == algECDSA && ecdsa.VerifyASN1(k, h[:], sr.Sig)
	case ed25519.PublicKey:
		ok = sr.Alg == algEd25519 && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, sr.Receipt, sr.Sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(sr.Receipt)
		ok = sr.Alg == algRSA && rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sr.Sig) == nil
	}
	if !ok {
		return nil, ErrBadReceipt
	}
	var rc Receipt
	if err := decodeStrict(sr.Receipt, &rc); err != nil {
		return nil, ErrBadReceipt
	}
	if rc.check() != nil {
		return nil, ErrBadReceipt
	}
	return &rc, nil
}

// check bounds and validates a receipt's fields.
func (rc *Receipt) check() error {
	bad := errors.New("erase: invalid receipt")
	if rc.Format != ReceiptFormat || len(rc.ID) != 32 || !isHex(rc.ID) ||
		len(rc.Stores) > maxPlan || len(rc.Services) > maxPlan {
		return bad
	}
	for _, s := range rc.Stores {
		if !validName(s.Store) || !s.Method.valid() || !s.Verification.valid() || s.Items < 0 ||
			len(s.Category) > maxName || !printable(string(s.Category)) {
			return bad
		}
	}
	for _, s := range rc.Services {
		if !validName(s.Service) || !s.Status.valid() || s.RequestID != requestID(rc.ID, s.Service) ||
			len(s.Confirmation) > MaxConfirmation || !printable(s.Confirmation) {
			return bad
		}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

var methodWords = map[Method]string{
	CryptoErase: "its keys destroyed (crypto erase)",
	Delete:      "deleted",
	Overwrite:   "overwritten and deleted",
}

var statusWords = map[RequestStatus]string{
	Pending:    "deletion requested, waiting for the service to confirm",
	InProgress: "the service is deleting your data",
	Completed:  "the service confirmed the deletion",
	Failed:     "the service could not delete your data; contact the manufacturer",
}

// Confirmation renders the receipt as the text a user reads after the
// reset (5.11-4): what was erased, whether each store was checked empty,
// and where each service's deletion stands.
func (rc *Receipt) Confirmation() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Factory reset %s completed on %s.\n", rc.ID, rc.Finished.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("\nOn this device:\n")
	for _, s := range rc.Stores {
		check := "checked: empty"
		switch s.Verification {
		case NotEmpty:
			check = "check FAILED: data may remain"
		case NoVerifier:
			check = "not checked"
		}
		fmt.Fprintf(&b, "  - %s: %s, %s.\n", s.Category.Words(), methodWords[s.Method], check)
	}
	if len(rc.Services) > 0 {
		b.WriteString("\nAt online services:\n")
		for _, s := range rc.Services {
			fmt.Fprintf(&b, "  - %s (request %s): %s", s.Service, s.RequestID, statusWords[s.Status])
			if s.Confirmation != "" {
				fmt.Fprintf(&b, ", reference %s", s.Confirmation)
			}
			b.WriteString(".\n")
		}
	}
	if rc.Complete() {
		b.WriteString("\nAll your data was deleted.\n")
	} else {
		b.WriteString("\nSome deletions are not yet confirmed; see above.\n")
	}
	return b.String()
}
