package update

import (
	"context"
	"errors"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// FuzzABJournal puts an arbitrary record into the A/B installer's journal:
// opening must either refuse it (errJournal) or yield a state from which
// every transition — Status, Boot, Commit, Rollback, Begin — runs without
// panicking and writes only records that open again.
func FuzzABJournal(f *testing.F) {
	// Seeds: every record of a real cycle (begin, install, boot, commit,
	// rollback), and trailing data after a JSON document.
	fsys := durable.NewCrashFS()
	writeFactory(f, fsys, randomImage(f, 5000))
	ab, err := NewFileAB(FileABConfig{FS: fsys, Dir: abDir, Factory: Image{Counter: 1}})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	img := randomImage(f, MinChunkSize+1)
	for n, ok := range []bool{true, false, true} {
		cycle(f, ab, testRelease(f, img, uint64(n+2)), img)
		ab.Boot(ctx)
		if ok {
			ab.Commit(ctx)
		} else {
			ab.Rollback(ctx, "health check failed")
		}
	}
	ab.journal.Scan(func(_ int64, rec []byte) error {
		f.Add(append([]byte(nil), rec...))
		return nil
	})
	f.Add([]byte(`{"format":1}}`))
	f.Add([]byte(`{"format":1}]`))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, rec []byte) {
		if len(rec) > abMaxRecord {
			return
		}
		fsys := durable.NewCrashFS()
		if err := fsys.MkdirAll(abDir, 0o700); err != nil {
			t.Fatal(err)
		}
		l, err := durable.OpenLog(fsys, abDir+"/"+abJournal, durable.LogOptions{MaxRecord: abMaxRecord})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append(rec); err != nil {
			t.Fatal(err)
		}
		l.Close()
		cfg := FileABConfig{FS: fsys, Dir: abDir, Factory: Image{Counter: 1}}
		ab, err := NewFileAB(cfg)
		if err != nil {
			if !errors.Is(err, errJournal) {
				t.Fatalf("open: %v", err)
			}
			return
		}
		ctx := context.Background()
		st := ab.Status()
		if _, err := ab.Boot(ctx); err != nil {
			t.Fatalf("Boot: %v", err)
		}
		if st.Phase == PhaseTrial || st.Phase == PhasePendingReboot {
			ab.Commit(ctx)
		}
		ab.Rollback(ctx, "fuzz")
		if n := ab.InstalledCounter(); n < MaxReleaseCounter {
			ab.Begin(ctx, testRelease(t, img, n+1))
		}
		ab.Close()
		if _, err := NewFileAB(cfg); err != nil {
			t.Fatalf("reopen after transitions: %v", err)
		}
	})
}
