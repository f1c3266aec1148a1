package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Store is a SecretStore: named secrets kept confidential at rest.
//
// Names are 1 to [MaxNameLen] bytes of ASCII letters, digits, '.', '_' and
// '-', not starting with '.'; anything else (a path separator, NUL, "..") is
// refused with [ErrInvalidName] before any storage is touched. Names are not
// secret: they may appear in errors and logs. Values are.
//
// Implementations are safe for concurrent use. The suite every
// implementation passes is
// [github.com/iotbaseline/baseline/secrets/secretstest.Run].
type Store interface {
	// Get returns a copy of the named secret, or an error wrapping
	// ErrNotFound when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// Put stores value under name, replacing any previous value
	// atomically: after a power loss the old or the new value is found,
	// never a mix.
	Put(ctx context.Context, name string, value []byte) error
	// Delete removes the named secret. Deleting a missing secret is not an
	// error.
	Delete(ctx context.Context, name string) error
}

// MaxNameLen is the longest secret name accepted, in bytes.
const MaxNameLen = 128

// DefaultMaxValueSize is the largest secret a [Sealed] store accepts when
// [Config.MaxValueSize] is zero: 64 KiB, plenty for keys, tokens and
// certificates, small enough that a planted file cannot exhaust memory.
const DefaultMaxValueSize = 64 << 10

// notFoundError is ErrNotFound's type: its own sentinel, and
// fs.ErrNotExist too.
type notFoundError struct{}

func (notFoundError) Error() string        { return "secrets: not found" }
func (notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

var (
	// ErrNotFound: no secret has that name. It also matches
	// [fs.ErrNotExist] under errors.Is, so code that only knows the
	// standard library's "does not exist" (auth's vault, for one) needs no
	// adapter.
	ErrNotFound error = notFoundError{}
	// ErrInvalidName: the name has characters outside the allowed set
	// (letters, digits, '.', '_', '-'), starts with '.', or is empty or too
	// long. Nothing was read or written.
	ErrInvalidName = errors.New("secrets: invalid secret name")
	// ErrTooLarge: the value exceeds the store's size limit, or a file on
	// flash is larger than any envelope the store writes.
	ErrTooLarge = errors.New("secrets: value too large")
	// ErrCorrupt: a stored envelope is malformed or fails authentication:
	// truncated, bit-flipped, renamed or swapped with another secret's file.
	// The value is not returned; other secrets are unaffected.
	ErrCorrupt = errors.New("secrets: envelope corrupt or tampered with")
	// ErrUnsupported: an envelope names a format version or algorithm this
	// build does not implement (written by a newer SDK, or forged).
	ErrUnsupported = errors.New("secrets: unsupported envelope version or algorithm")
	// ErrWrongKEK: the store's keyset cannot be unwrapped by the KEK given
	// to Open: the flash comes from another device, or the KEK was
	// destroyed or replaced.
	ErrWrongKEK = errors.New("secrets: keyset not sealed by this KEK (another device, or KEK destroyed)")
	// ErrErased: the store was crypto-erased ([Sealed.Erase]); every secret
	// it held is unreadable. Reopen it after the device restarts.
	ErrErased = errors.New("secrets: store was crypto-erased")
)

// Error describes a failed operation on one secret. It never holds the
// secret's value. Use errors.Is with the package's sentinels.
type Error struct {
	Op   string // "get", "put", "delete", "open", "rotate", "erase"
	Name string // the secret's name, or "" for store-wide operations
	Err  error
}

// Error implements error; it names the operation and secret, never a value.
func (e *Error) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("secrets: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("secrets: %s %q: %v", e.Op, e.Name, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ValidName reports whether name is acceptable to a [Store] (see [Store] for
// the rules).
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func checkName(op, name string) error {
	if !ValidName(name) {
		// Error quotes the name (%q), so a NUL or control byte never reaches
		// a log raw; a long one is cut.
		if len(name) > 64 {
			name = name[:64]
		}
		return &Error{Op: op, Name: name, Err: ErrInvalidName}
	}
	return nil
}
