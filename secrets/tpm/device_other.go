//go:build !linux

package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"
)

// OpenDevice opens a TPM character device. Use the kernel's resource
// manager, /dev/tpmrm0 ([DefaultDevice]), so that other users of the TPM
// (tpm2-abrmd, systemd, IMA) are not disturbed. On systems other than Linux
// it returns an error wrapping errors.ErrUnsupported.
func OpenDevice(path string) (transport.TPMCloser, error) {
	return nil, fmt.Errorf("tpm: opening %s: TPM character devices are only supported on Linux: %w", path, errors.ErrUnsupported)
}
