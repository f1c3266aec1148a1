//go:build !cgo

package pkcs11_test

import (
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// TestSuite stands in for the SoftHSM2 tests in builds without cgo: they
// cannot run, which BASELINE_REQUIRE_ALL=1 turns into a failure.
func TestSuite(t *testing.T) {
	testenv.Unavailable(t, "PKCS#11 (crypto11) needs cgo; this build has CGO_ENABLED=0")
}
