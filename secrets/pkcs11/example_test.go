package pkcs11_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/iotbaseline/baseline/secrets/pkcs11"
)

// Example shows how a device tells "no token here" (fall back, or refuse to
// start) from a token that is present but failing.
func Example() {
	_, err := pkcs11.New(context.Background(), pkcs11.Config{
		Module:     "/nonexistent/libvendor-pkcs11.so",
		TokenLabel: "device",
		PIN:        "from-provisioning",
	})
	fmt.Println(errors.Is(err, errors.ErrUnsupported))
	// Output: true
}
