//go:build tpm

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/tpm"
)

// backendName is the KEK backend this build uses.
const backendName = "tpm2"

// openKEK returns a KEK sealed under the TPM 2.0: the store's data keys
// and the device identity key never exist outside the TPM. SMARTPLUG_TPM
// selects the TPM: a character device (default /dev/tpmrm0, the kernel's
// resource manager) or "tcp:HOST:PORT" for a simulator such as swtpm on a
// development machine.
func openKEK(ctx context.Context, stateDir string, log *slog.Logger) (secrets.KEK, error) {
	where := os.Getenv("SMARTPLUG_TPM")
	cfg := tpm.Config{Device: where, Logger: log}
	if addr, ok := strings.CutPrefix(where, "tcp:"); ok {
		t, err := tpm.DialTCP(ctx, addr)
		if err != nil {
			return nil, err
		}
		k, err := tpm.New(ctx, tpm.Config{Transport: t, Logger: log})
		if err != nil {
			t.Close()
			return nil, err
		}
		return closingKEK{k, t}, nil
	}
	k, err := tpm.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (set SMARTPLUG_TPM to the TPM device, or build without -tags tpm)", err)
	}
	return k, nil
}

// closingKEK closes the simulator connection with the KEK.
type closingKEK struct {
	*tpm.KEK
	t interface{ Close() error }
}

func (c closingKEK) Close() error {
	err := c.KEK.Close()
	if cerr := c.t.Close(); err == nil {
		err = cerr
	}
	return err
}
