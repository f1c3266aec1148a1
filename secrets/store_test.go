package secrets_test

import (
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/secrets/secretstest"
)

func openSoft(t *testing.T, fsys durable.FS, dir string) (secrets.Store, error) {
	kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/data/kek.seed"})
	if err != nil {
		return nil, err
	}
	return secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: dir, KEK: kek})
}

func TestSoftStore(t *testing.T) {
	secretstest.Run(t, openSoft)
}
