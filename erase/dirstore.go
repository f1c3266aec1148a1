package erase

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// maxDepth bounds how deep DirStore descends into subdirectories.
const maxDepth = 32

// DirStore is an [Eraser] and [Verifier] for a plain directory of files —
// logs, caches, crash dumps, Wi-Fi configuration — so a device can register
// any directory it writes user data into. Erase removes every file and
// subdirectory under Dir (the directory itself stays) and syncs each
// directory, so the removals survive power loss; Verify checks that Dir is
// empty (or absent). Symbolic links are removed, never followed.
type DirStore struct {
	// StoreName is the store's Name. Required.
	StoreName string
	// Dir is the directory. Required.
	Dir string
	// FS is the file system; nil means durable.OS.
	FS durable.FS
	// Overwrite makes Erase overwrite each file with zeros and sync it
	// before removing it (Method Overwrite). On wear-levelled flash the old
	// blocks may survive anyway; crypto erase is the stronger method.
	Overwrite bool
}

// Name implements Eraser.
func (d *DirStore) Name() string { return d.StoreName }

// Method implements Describer.
func (d *DirStore) Method() Method {
	if d.Overwrite {
		return Overwrite
	}
	return Delete
}

func (d *DirStore) fsys() durable.FS {
	if d.FS == nil {
		return durable.OS
	}
	return d.FS
}

// Erase implements Eraser. It is idempotent: a missing or empty directory
// is already erased.
func (d *DirStore) Erase(ctx context.Context) (StoreReceipt, error) {
	n, err := d.eraseDir(ctx, d.Dir, 0)
	if err != nil {
		return StoreReceipt{}, fmt.Errorf("erase: store %s: %w", d.StoreName, err)
	}
	return StoreReceipt{Store: d.StoreName, Method: d.Method(), Items: n, At: time.Now()}, nil
}

func (d *DirStore) eraseDir(ctx context.Context, dir string, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errors.New("directory tree too deep")
	}
	fsys := d.fsys()
	ents, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			m, err := d.eraseDir(ctx, p, depth+1)
			n += m
			if err != nil {
				return n, err
			}
		} else if d.Overwrite && e.Type().IsRegular() {
			if err := zero(fsys, p); err != nil {
				return n, err
			}
		}
		if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
		if !e.IsDir() {
			n++
		}
	}
	if len(ents) > 0 {
		if err := fsys.SyncDir(dir); err != nil {
			return n, err
		}
	}
	return n, nil
}

// zero overwrites a file's content with zeros in place and syncs it.
func zero(fsys durable.FS, name string) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for left := st.Size(); left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			return err
		}
		left -= k
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return f.Sync()
}

// Verify implements Verifier: nil when Dir is empty or absent. The error
// counts what remains; it never names a file, since names may be user data.
func (d *DirStore) Verify(ctx context.Context) error {
	ents, err := d.fsys().ReadDir(d.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("erase: store %s: %w", d.StoreName, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("erase: store %s: %d entries remain", d.StoreName, len(ents))
	}
	return nil
}
