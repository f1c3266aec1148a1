package erase

import (
	"context"
	"time"
)

// Eraser is one of the device's stores of user data, as a factory reset sees
// it: a name for the journal and the receipt, and a way to empty the store.
//
// Erase removes everything the store holds and says how (a [StoreReceipt]).
// It must be idempotent: a reset interrupted by power loss calls it again on
// the next start, on a store that may be half erased or already empty, and
// it must then finish the job and return nil. It must honour ctx.
type Eraser interface {
	// Name identifies the store in journals, receipts and reports: a short
	// ASCII word such as "wifi" or "secrets", never user data.
	Name() string
	Erase(ctx context.Context) (StoreReceipt, error)
}

// Verifier is implemented by erasers that can check their own work. Verify
// returns nil when the store holds nothing, and an error saying what remains
// otherwise. A reset records the outcome in its receipt (5.11-4); a store
// without a Verifier is reported as not verified, and the 5.11-1 self-check
// fails for it.
type Verifier interface {
	Verify(ctx context.Context) error
}

// Describer is implemented by erasers that say, before erasing, which
// [Method] they use. A reset erases the crypto-erase stores first, so that
// the keys are gone before anything else is touched. An Eraser without it
// is taken to delete.
type Describer interface {
	Method() Method
}

// Method says how a store was erased, in the words of NIST SP 800-88.
type Method string

const (
	// CryptoErase: the keys that encrypted the data were destroyed; what
	// remains on flash is ciphertext nobody can decrypt. It is a purge only
	// if the data was always encrypted and every copy of the key is gone.
	CryptoErase Method = "crypto-erase"
	// Delete: the files were removed (a clear). Flash may keep old blocks
	// until they are reused.
	Delete Method = "delete"
	// Overwrite: the data was overwritten in place before removal.
	Overwrite Method = "overwrite"
)

func (m Method) valid() bool { return m == CryptoErase || m == Delete || m == Overwrite }

// Verification is the outcome of checking a store after it was erased.
type Verification string

const (
	// VerifiedEmpty: the store's Verifier found nothing left.
	VerifiedEmpty Verification = "empty"
	// NotEmpty: the store's Verifier found something left.
	NotEmpty Verification = "not-empty"
	// NoVerifier: the store cannot check itself; nothing was verified.
	NoVerifier Verification = "no-verifier"
)

func (v Verification) valid() bool { return v == VerifiedEmpty || v == NotEmpty || v == NoVerifier }

// StoreReceipt records what erasing one store did. It holds no user data:
// no file names, no values, only counts.
type StoreReceipt struct {
	// Store is the Eraser's Name.
	Store string `json:"store"`
	// Category is the kind of data the store held, from the Registry.
	// Erasers may leave it empty; the reset fills it in.
	Category Category `json:"category,omitempty"`
	// Method is how it was erased.
	Method Method `json:"method"`
	// Items is how many items (files, secrets) the call that completed the
	// erase found and removed; a resumed erase counts only what was left.
	Items int `json:"items"`
	// Verification is the outcome of the check after the erase; the reset
	// fills it in.
	Verification Verification `json:"verification,omitempty"`
	// At is when the erase completed.
	At time.Time `json:"at"`
}

// Verified reports whether the store was checked and found empty.
func (r StoreReceipt) Verified() bool { return r.Verification == VerifiedEmpty }
