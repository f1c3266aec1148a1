package secretstest_test

import (
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/secretstest"
)

// TestRunSoft runs the suite on the reference store, so the suite itself is
// tested in its own package.
func TestRunSoft(t *testing.T) {
	secretstest.Run(t, func(t *testing.T, fsys durable.FS, dir string) (secrets.Store, error) {
		kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/kek.seed"})
		if err != nil {
			return nil, err
		}
		return secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: dir, KEK: kek})
	})
}
