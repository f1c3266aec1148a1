//go:build !nodemo

package main

import "errors"

// builtInRoot is used only by the product build (root_product.go); the
// demo build reads --update-root or makes its own demo repository, and
// pins that root in its sealed store.
func builtInRoot() ([]byte, error) {
	return nil, errors.New("the demo build has no TUF root built in")
}
