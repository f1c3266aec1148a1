//go:build !cgo

package pkcs11

import (
	"context"
	"errors"

	"github.com/iotbaseline/baseline/secrets"
)

// KEK is a [secrets.KEK] held by a PKCS#11 token. This build has no cgo, so
// PKCS#11 modules cannot be loaded: New returns an error wrapping
// errors.ErrUnsupported.
type KEK struct{ secrets.KEK }

// New returns an error wrapping errors.ErrUnsupported: PKCS#11 needs cgo.
func New(ctx context.Context, cfg Config) (*KEK, error) {
	return nil, errors.Join(errors.New("pkcs11: this build has no cgo, which PKCS#11 modules need"), errors.ErrUnsupported)
}

// Close does nothing.
func (k *KEK) Close() error { return nil }
