//go:build healthfail

package main

import "errors"

// healthProbe fails: -tags healthfail builds a deliberately bad image, so
// that a test can publish a release whose health check fails and watch the
// plug roll it back. Never ship this build.
func healthProbe() error {
	return errors.New("this image was built with -tags healthfail and fails its health check on purpose")
}
