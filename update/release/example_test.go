package release_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"os"
	"strings"

	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
)

// seededKey returns a fixed Ed25519 key so that the example's output is the
// same on every run; real keys come from `baseline keygen`.
func seededKey(b byte) crypto.Signer {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "release-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	keys := release.Keys{
		Root:      []crypto.Signer{seededKey(1)},
		Targets:   []crypto.Signer{seededKey(2)},
		Snapshot:  []crypto.Signer{seededKey(3)},
		Timestamp: []crypto.Signer{seededKey(4)},
	}
	repo, err := release.Init(ctx, dir, release.Config{Keys: keys})
	if err != nil {
		panic(err)
	}
	err = repo.AddTarget(ctx, release.Target{
		Path:  "smartplug/fw-1.4.0.bin",
		Image: strings.NewReader("firmware image bytes"),
		Descriptor: update.Descriptor{
			HardwareID:     "smartplug-v2",
			ReleaseCounter: 14,
			Version:        "1.4.0",
			Security:       true,
			Risks:          []string{"a crafted request could crash the web UI"},
		},
	})
	if err != nil {
		panic(err)
	}
	files, err := repo.Files()
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		fmt.Println(f)
	}
	fmt.Println("targets version", repo.Version(release.Targets))
	// Output:
	// metadata/1.root.json
	// metadata/1.snapshot.json
	// metadata/1.targets.json
	// metadata/2.snapshot.json
	// metadata/2.targets.json
	// metadata/root.json
	// metadata/snapshot.json
	// metadata/targets.json
	// metadata/timestamp.json
	// targets/smartplug/e76368252dedf5db84fbc5a233cc102f4f909dd336748944e572d0fb5b438970.fw-1.4.0.bin
	// targets/smartplug/fw-1.4.0.bin
	// targets version 2
}
