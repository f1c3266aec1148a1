//go:build nodemo

package main

import (
	"embed"
	"encoding/base64"
	"errors"
	"io/fs"
)

// trustFS holds the maker's TUF root (trust/root.json) when one was placed
// there before the build.
//
//go:embed trust
var trustFS embed.FS

// updateRootBase64 is the maker's TUF root, base64-encoded, for builds that
// set it with -ldflags "-X main.updateRootBase64=…" instead of placing
// trust/root.json.
var updateRootBase64 string

// builtInRoot returns the TUF root built into this product build (5.3-10):
// from -ldflags, else trust/root.json. Never from the state directory.
func builtInRoot() ([]byte, error) {
	if updateRootBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(updateRootBase64)
		if err != nil {
			return nil, errors.New("the TUF root built in with -ldflags (main.updateRootBase64) is not valid base64")
		}
		return b, nil
	}
	b, err := fs.ReadFile(trustFS, "trust/root.json")
	if err != nil {
		return nil, errors.New("this product build has no TUF root built in: place the repository's root as examples/smartplug/trust/root.json (or set main.updateRootBase64 with -ldflags) and build again")
	}
	return b, nil
}
