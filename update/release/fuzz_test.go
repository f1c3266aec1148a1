package release_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update/release"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

// FuzzOpen replaces one metadata file of a valid repository with arbitrary
// bytes: Open must never panic, and whenever it accepts the repository, the
// targets it reports are exactly the signed ones (a changed file was either
// refused or only re-encoded).
func FuzzOpen(f *testing.F) {
	base := durable.NewCrashFS()
	base.MkdirAll("repo", 0o755)
	r, err := releasetest.Build(context.Background(), "repo", releasetest.Options{Targets: 2, FS: base})
	if err != nil {
		f.Fatal(err)
	}
	want := r.Repo.TargetPaths()
	names := []string{"root.json", "timestamp.json", "2.snapshot.json", "2.targets.json", "2.root.json"}
	for i, n := range names {
		data, _ := durable.ReadFile(base, filepath.Join("repo", release.MetadataDir, n), 0)
		f.Add(uint8(i), data)
		f.Add(uint8(i), bytes.Replace(data, []byte(`"version":2`), []byte(`"version":3`), 1))
		f.Add(uint8(i), []byte(`{"signed":{"_type":"root"},"signatures":[]}`))
		f.Add(uint8(i), append(bytes.Clone(data), '}'))
		f.Add(uint8(i), append(bytes.Clone(data), ']'))
		f.Add(uint8(i), append(bytes.Clone(data), ` {}`...))
	}
	f.Add(uint8(0), []byte(`{"a":1}}`))
	f.Add(uint8(0), []byte(`{"a":1}]`))
	f.Add(uint8(0), []byte(`{"a":1} {"b":2}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		fsys := base.Reboot(durable.DropUnsynced)
		name := names[int(which)%len(names)]
		if err := durable.WriteFile(fsys, filepath.Join("repo", release.MetadataDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		repo, err := release.Open("repo", release.Config{FS: fsys})
		if err != nil {
			return
		}
		got := repo.TargetPaths()
		if len(got) != len(want) {
			t.Fatalf("accepted a repository with %d targets, signed %d", len(got), len(want))
		}
	})
}
