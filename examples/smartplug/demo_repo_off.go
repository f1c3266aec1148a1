//go:build nodemo

package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// demoBuild is false in the product build (-tags nodemo): no demo
// repository, no self-provisioning.
const demoBuild = false

// demoRepo is left out of this build (-tags nodemo): the device checks the
// repository given by --update-repo and --update-root only.
func demoRepo(ctx context.Context, d *device, mayCreate bool) ([]byte, *mldsa65.PublicKey, string, *http.Client, error) {
	return nil, nil, "", nil, errors.New("this build has no demo update repository: give --update-repo and --update-root")
}
