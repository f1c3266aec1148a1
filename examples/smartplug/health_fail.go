//go:build healthfail

package main

import (
	"context"
	"errors"
	"os"
)

// healthProbe fails: -tags healthfail builds a deliberately bad image, so
// that a test can publish a release whose health check fails and watch the
// plug roll it back. With SMARTPLUG_TEST_HEALTH=hang it never finishes
// instead (until the health check's timeout), so that a test can cut the
// power during trial boots. Never ship this build; no other build reads
// that variable.
func healthProbe(ctx context.Context) error {
	if os.Getenv("SMARTPLUG_TEST_HEALTH") == "hang" {
		<-ctx.Done()
		return ctx.Err()
	}
	return errors.New("this image was built with -tags healthfail and fails its health check on purpose")
}
