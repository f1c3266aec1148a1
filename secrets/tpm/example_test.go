package tpm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/tpm"
)

// Example_fallback opens the TPM KEK and, on a board without a TPM, falls
// back to the soft KEK — which the self-check then reports as weaker. (On a
// device, Config{} opens /dev/tpmrm0; the path here does not exist, so the
// example runs the same everywhere.)
func Example_fallback() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)

	var kek secrets.KEK
	hw, err := tpm.New(ctx, tpm.Config{Device: filepath.Join(dir, "tpmrm0")})
	switch {
	case err == nil:
		defer hw.Close()
		kek = hw
	case errors.Is(err, errors.ErrUnsupported):
		fmt.Println("no TPM: using the soft KEK")
		kek, err = secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
		if err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatal(err) // a TPM that is present but failing: do not fall back silently
	}
	store, err := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: kek})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(store.KEKInfo().Backend, store.KEKInfo().Hardware)
	// Output:
	// no TPM: using the soft KEK
	// soft false
}
