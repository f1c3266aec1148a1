// Package secretstest is the suite every [secrets.Store] implementation
// passes: round trip, overwrite, delete, name binding (a renamed or swapped
// file is refused), damaged files, invalid names, concurrent use, power loss
// at every write/fsync boundary, no plaintext at rest and, when the store
// offers them, rotation, crypto-erase and device identity.
//
// The suite runs the store on an in-memory crash-simulating file system
// (durable.CrashFS) so it can cut power anywhere and grep everything at rest
// for the secrets' bytes:
//
//	func TestStore(t *testing.T) {
//		secretstest.Run(t, func(t *testing.T, fsys durable.FS, dir string) (secrets.Store, error) {
//			kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/seed"})
//			if err != nil {
//				return nil, err
//			}
//			return secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: dir, KEK: kek})
//		})
//	}
package secretstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
)

// Opener opens the store under test on fsys with its files in dir. The
// suite calls it again on the same (or a rebooted) fsys to simulate a
// restart, so it must find what an earlier call wrote; any KEK state outside
// fsys (a TPM, a token) must persist across calls. t is for cleanup and
// logging; errors are returned, since some states must refuse to open.
type Opener func(t *testing.T, fsys durable.FS, dir string) (secrets.Store, error)

// The optional behaviours the suite exercises when a store has them.
type (
	rotator interface {
		Rotate(ctx context.Context) error
	}
	eraser interface {
		Erase(ctx context.Context) error
		VerifyErased(ctx context.Context) error
	}
	identifier interface {
		Identity(ctx context.Context) (*secrets.Identity, error)
	}
)

const dir = "/data/secrets"

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("InvalidNames", func(t *testing.T) { testInvalidNames(t, open) })
	t.Run("TooLarge", func(t *testing.T) { testTooLarge(t, open) })
	t.Run("NameBinding", func(t *testing.T) { testNameBinding(t, open) })
	t.Run("DamagedFiles", func(t *testing.T) { testDamaged(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("NoPlaintextAtRest", func(t *testing.T) { testNoPlaintext(t, open) })
	t.Run("Crash", func(t *testing.T) { testCrash(t, open) })
	t.Run("Rotate", func(t *testing.T) { testRotate(t, open) })
	t.Run("Erase", func(t *testing.T) { testErase(t, open) })
	t.Run("Identity", func(t *testing.T) { testIdentity(t, open) })
}

func value(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func mustPut(t *testing.T, s secrets.Store, name string, v []byte) {
	t.Helper()
	if err := s.Put(t.Context(), name, v); err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
}

func mustGet(t *testing.T, s secrets.Store, name string, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %x, want %x", name, got, want)
	}
}

func mustNotFound(t *testing.T, s secrets.Store, name string) {
	t.Helper()
	if v, err := s.Get(t.Context(), name); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get(%q) = %x, %v; want ErrNotFound", name, v, err)
	}
}

// snapshot returns a copy of every file's content.
func snapshot(fsys *durable.CrashFS) map[string][]byte { return fsys.Contents() }

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// fileOf puts name and returns the one file in dir that the Put created or
// changed.
func fileOf(t *testing.T, fsys *durable.CrashFS, s secrets.Store, name string, v []byte) string {
	t.Helper()
	before := snapshot(fsys)
	mustPut(t, s, name, v)
	var changed []string
	for k, c := range snapshot(fsys) {
		if old, ok := before[k]; (!ok || !bytes.Equal(old, c)) && strings.HasPrefix(k, dir+"/") {
			changed = append(changed, k)
		}
	}
	if len(changed) != 1 {
		t.Fatalf("Put(%q) changed %d files in %s (%q); the suite expects one file per secret", name, len(changed), dir, changed)
	}
	return changed[0]
}

func testRoundTrip(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	v := value(256)
	mustPut(t, s, "wifi-psk", v)
	mustGet(t, s, "wifi-psk", v)
	got, _ := s.Get(t.Context(), "wifi-psk")
	got[0] ^= 0xff // the caller owns what Get returns
	mustGet(t, s, "wifi-psk", v)
	mustPut(t, s, "empty", nil)
	if got, err := s.Get(t.Context(), "empty"); err != nil || len(got) != 0 {
		t.Fatalf("Get(empty) = %x, %v; want empty value", got, err)
	}
	mustNotFound(t, s, "missing")
	// After a restart (and after power loss: everything acknowledged is synced).
	s = mustOpen(t, open, fsys.Reboot(durable.DropUnsynced))
	mustGet(t, s, "wifi-psk", v)
	mustNotFound(t, s, "missing")
}

func testOverwrite(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	v1, v2 := value(64), value(300)
	mustPut(t, s, "token", v1)
	mustPut(t, s, "token", v2)
	mustGet(t, s, "token", v2)
	s = mustOpen(t, open, fsys.Reboot(durable.DropUnsynced))
	mustGet(t, s, "token", v2)
}

func testDelete(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	mustPut(t, s, "a", value(32))
	keep := value(32)
	mustPut(t, s, "b", keep)
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, s, "a")
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatalf("deleting a missing secret: %v", err)
	}
	s = mustOpen(t, open, fsys.Reboot(durable.DropUnsynced))
	mustNotFound(t, s, "a")
	mustGet(t, s, "b", keep)
}

// BadNames are names every Store must refuse with ErrInvalidName.
var BadNames = []string{"", ".", "..", "../etc/passwd", "a/b", "/abs", `a\b`, "a\x00b", "nul\x00", ".hidden",
	"sp ace", "new\nline", "ünï", strings.Repeat("x", secrets.MaxNameLen+1)}

func testInvalidNames(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	v := value(16)
	mustPut(t, s, "ok", v)
	before := snapshot(fsys)
	for _, name := range BadNames {
		if err := s.Put(t.Context(), name, value(8)); !errors.Is(err, secrets.ErrInvalidName) {
			t.Errorf("Put(%q) = %v; want ErrInvalidName", name, err)
		}
		if _, err := s.Get(t.Context(), name); !errors.Is(err, secrets.ErrInvalidName) {
			t.Errorf("Get(%q) = %v; want ErrInvalidName", name, err)
		}
		if err := s.Delete(t.Context(), name); !errors.Is(err, secrets.ErrInvalidName) {
			t.Errorf("Delete(%q) = %v; want ErrInvalidName", name, err)
		}
		if err := s.Put(t.Context(), name, nil); err != nil && strings.ContainsRune(err.Error(), 0) {
			t.Errorf("error for %q carries a raw NUL: %q", name, err)
		}
	}
	if !sameFiles(before, snapshot(fsys)) {
		t.Fatal("refused names changed the files at rest")
	}
	mustGet(t, s, "ok", v)
	long := strings.Repeat("x", secrets.MaxNameLen)
	mustPut(t, s, long, v)
	mustGet(t, s, long, v)
}

func testTooLarge(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	old := value(16)
	mustPut(t, s, "cert", old)
	before := snapshot(fsys)
	if err := s.Put(t.Context(), "cert", make([]byte, 16<<20)); !errors.Is(err, secrets.ErrTooLarge) {
		t.Fatalf("Put of 16 MiB = %v; want ErrTooLarge", err)
	}
	if !sameFiles(before, snapshot(fsys)) {
		t.Fatal("refused Put changed the files at rest")
	}
	mustGet(t, s, "cert", old)
}

func wantRefused(t *testing.T, s secrets.Store, name string, what string, forbidden ...[]byte) {
	t.Helper()
	got, err := s.Get(t.Context(), name)
	if err == nil {
		t.Fatalf("%s: Get(%q) = %x, nil; want an error", what, name, got)
	}
	if !errors.Is(err, secrets.ErrCorrupt) && !errors.Is(err, secrets.ErrUnsupported) {
		t.Fatalf("%s: Get(%q) error %v; want ErrCorrupt or ErrUnsupported", what, name, err)
	}
	for _, f := range forbidden {
		if len(f) > 0 && bytes.Contains([]byte(err.Error()), f) {
			t.Fatalf("%s: error message carries a secret", what)
		}
	}
}

func testNameBinding(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	va, vb, vc, vd := value(48), value(48), value(48), value(48)
	fa := fileOf(t, fsys, s, "alpha", va)
	fb := fileOf(t, fsys, s, "beta", vb)
	fc := fileOf(t, fsys, s, "gamma", vc)
	mustPut(t, s, "delta", vd)
	files := fsys.Contents()

	// Swap alpha's and beta's files.
	write := func(name string, b []byte) {
		t.Helper()
		if err := durable.WriteFile(fsys, name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fa, files[fb])
	write(fb, files[fa])
	wantRefused(t, s, "alpha", "swapped file", va, vb)
	wantRefused(t, s, "beta", "swapped file", va, vb)
	// "Rename" alpha's file to gamma.
	write(fc, files[fa])
	wantRefused(t, s, "gamma", "renamed file", va, vc)
	// Other secrets are unaffected, and Put repairs the damaged ones.
	mustGet(t, s, "delta", vd)
	mustPut(t, s, "alpha", va)
	mustGet(t, s, "alpha", va)
}

func testDamaged(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	v, other := value(256), value(256)
	f := fileOf(t, fsys, s, "victim", v)
	mustPut(t, s, "other", other)
	orig := fsys.Contents()[f]
	write := func(b []byte) {
		t.Helper()
		if err := durable.WriteFile(fsys, f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{0, 1, 4, 5, 6, 10, len(orig) / 2, len(orig) - 17, len(orig) - 1} {
		write(orig[:n])
		wantRefused(t, s, "victim", fmt.Sprintf("truncated to %d bytes", n), v)
	}
	for i := range orig {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(orig)
			b[i] ^= bit
			write(b)
			wantRefused(t, s, "victim", fmt.Sprintf("bit %#x flipped at byte %d", bit, i), v)
		}
	}
	write(append(bytes.Clone(orig), 0))
	wantRefused(t, s, "victim", "trailing byte", v)
	big := make([]byte, 8<<20)
	copy(big, orig)
	write(big)
	wantRefused(t, s, "victim", "oversized file", v)
	mustGet(t, s, "other", other)
	write(orig)
	mustGet(t, s, "victim", v)
}

func testConcurrent(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	names := []string{"c0", "c1", "c2"}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				name := names[(g+i)%len(names)]
				switch i % 3 {
				case 0, 1:
					if err := s.Put(context.Background(), name, []byte(fmt.Sprintf("%s:%d:%d", name, g, i))); err != nil {
						errs <- err
						return
					}
				}
				got, err := s.Get(context.Background(), name)
				switch {
				case errors.Is(err, secrets.ErrNotFound):
				case err != nil:
					errs <- err
					return
				case !bytes.HasPrefix(got, []byte(name+":")):
					errs <- fmt.Errorf("Get(%q) returned %q, a value never put under that name", name, got)
					return
				}
				if i%7 == 6 {
					if err := s.Delete(context.Background(), name); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testNoPlaintext(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	secretsPut := map[string][]byte{
		"password": []byte("correct horse battery staple, the device owner's password"),
		"wifi-psk": value(256),
		"short":    []byte("pin-8413"),
	}
	for n, v := range secretsPut {
		mustPut(t, s, n, v)
	}
	old := []byte("an overwritten value must not linger in clear either")
	mustPut(t, s, "rotating", old)
	mustPut(t, s, "rotating", value(32))
	deleted := []byte("a deleted value must not linger in clear either")
	mustPut(t, s, "gone", deleted)
	if err := s.Delete(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	if id, ok := s.(identifier); ok {
		if _, err := id.Identity(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	all := [][]byte{old, deleted}
	for _, v := range secretsPut {
		all = append(all, v)
	}
	for name, content := range fsys.Contents() {
		for _, v := range all {
			if leaks(content, v) {
				t.Fatalf("%s holds (part of) a secret value in clear", name)
			}
		}
	}
}

// crashCase is one operation run with power cut at every boundary.
type crashCase struct {
	name string
	// op runs on a store holding keep="k" and x=old; it returns the value x
	// must have once op is acknowledged (nil: deleted).
	op func(ctx context.Context, s secrets.Store) error
	// after is x's value once op is acknowledged; nil means not found.
	after []byte
}

func testCrash(t *testing.T, open Opener) {
	keep, old, new := value(40), value(40), value(90)
	cases := []crashCase{
		{"PutNew", func(ctx context.Context, s secrets.Store) error { return s.Put(ctx, "y", new) }, old},
		{"Overwrite", func(ctx context.Context, s secrets.Store) error { return s.Put(ctx, "x", new) }, new},
		{"Delete", func(ctx context.Context, s secrets.Store) error { return s.Delete(ctx, "x") }, nil},
	}
	if _, ok := mustOpen(t, open, durable.NewCrashFS()).(rotator); ok {
		cases = append(cases, crashCase{"Rotate", func(ctx context.Context, s secrets.Store) error { return s.(rotator).Rotate(ctx) }, old})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var acked bool
			setup := func(fsys *durable.CrashFS) {
				s := mustOpen(t, open, fsys)
				mustPut(t, s, "keep", keep)
				mustPut(t, s, "x", old)
			}
			run := func(fsys *durable.CrashFS) error {
				acked = false
				s, err := open(t, fsys, dir)
				if err != nil {
					return err
				}
				if err := c.op(t.Context(), s); err != nil {
					return err
				}
				acked = true
				return nil
			}
			check := func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
				where := fmt.Sprintf("crash at %d (%s)", point, mode)
				if runErr != nil && !durable.IsCrash(runErr) {
					t.Fatalf("%s: operation failed with a non-crash error: %v", where, runErr)
				}
				s := mustOpen(t, open, fsys)
				if got, err := s.Get(t.Context(), "keep"); err != nil || !bytes.Equal(got, keep) {
					t.Fatalf("%s: untouched secret lost: %v", where, err)
				}
				got, err := s.Get(t.Context(), "x")
				switch {
				case errors.Is(err, secrets.ErrNotFound):
					if acked && c.after != nil || !acked && c.name != "Delete" {
						t.Fatalf("%s: x not found (acked=%t)", where, acked)
					}
				case err != nil:
					t.Fatalf("%s: x unreadable: %v", where, err)
				case bytes.Equal(got, c.after) || bytes.Equal(got, old) && !acked:
				default:
					t.Fatalf("%s: x = %x (acked=%t), neither old nor acknowledged value", where, got, acked)
				}
				if c.name == "PutNew" {
					got, err := s.Get(t.Context(), "y")
					if acked && (err != nil || !bytes.Equal(got, new)) || !acked && err != nil && !errors.Is(err, secrets.ErrNotFound) ||
						err == nil && !bytes.Equal(got, new) {
						t.Fatalf("%s: y = %x, %v (acked=%t)", where, got, err, acked)
					}
				}
				// The store keeps working after the crash.
				if err := s.Put(t.Context(), "z", keep); err != nil {
					t.Fatalf("%s: Put after recovery: %v", where, err)
				}
			}
			n := durable.CrashTest(t, setup, run, check)
			t.Logf("%d boundaries", n)
		})
	}

	t.Run("FirstOpen", func(t *testing.T) {
		var acked bool
		durable.CrashTest(t, nil, func(fsys *durable.CrashFS) error {
			acked = false
			s, err := open(t, fsys, dir)
			if err != nil {
				return err
			}
			if err := s.Put(t.Context(), "first", keep); err != nil {
				return err
			}
			acked = true
			return nil
		}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
			s := mustOpen(t, open, fsys)
			got, err := s.Get(t.Context(), "first")
			if acked && (err != nil || !bytes.Equal(got, keep)) || err == nil && !bytes.Equal(got, keep) ||
				err != nil && !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("crash at %d (%s): first = %x, %v (acked=%t)", point, mode, got, err, acked)
			}
		})
	})
}

func testRotate(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	r, ok := s.(rotator)
	if !ok {
		t.Skip("store has no Rotate")
	}
	vals := map[string][]byte{"r1": value(20), "r2": value(200), "r3": nil}
	for n, v := range vals {
		mustPut(t, s, n, v)
	}
	before := fsys.Contents()
	if err := r.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := fsys.Contents()
	for name, b := range before {
		if strings.HasSuffix(name, ".sec") && bytes.Equal(after[name], b) {
			t.Errorf("%s was not re-encrypted by Rotate", name)
		}
	}
	for n, v := range vals {
		mustGet(t, s, n, v)
	}
	s = mustOpen(t, open, fsys.Reboot(durable.DropUnsynced))
	for n, v := range vals {
		mustGet(t, s, n, v)
	}
	// An envelope from before the rotation no longer opens: its key is gone.
	for name, b := range before {
		if strings.HasSuffix(name, "r2.sec") {
			if err := durable.WriteFile(fsys, name, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, open, fsys)
			wantRefused(t, s, "r2", "envelope from before Rotate")
		}
	}
}

func testErase(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	e, ok := s.(eraser)
	if !ok {
		t.Skip("store has no Erase")
	}
	v := value(64)
	mustPut(t, s, "a", v)
	mustPut(t, s, "b", v)
	if id, ok := s.(identifier); ok {
		if _, err := id.Identity(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	before := fsys.Contents()
	if err := e.Erase(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Erase(t.Context()); err != nil {
		t.Fatalf("Erase is not idempotent: %v", err)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := s.Get(t.Context(), n); !errors.Is(err, secrets.ErrErased) && !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("Get(%q) after Erase = %v; want ErrErased or ErrNotFound", n, err)
		}
	}
	if err := s.Put(t.Context(), "a", v); err == nil {
		t.Fatal("Put after Erase succeeded")
	}
	if err := e.VerifyErased(t.Context()); err != nil {
		t.Fatalf("VerifyErased: %v", err)
	}
	// Putting every old file back (a flash image taken before the reset)
	// must not bring a secret back: the KEK is gone.
	for name, b := range before {
		if strings.HasPrefix(name, dir+"/") {
			if err := durable.WriteFile(fsys, name, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if restored, err := open(t, fsys, dir); err == nil {
		for _, n := range []string{"a", "b"} {
			if got, err := restored.Get(t.Context(), n); err == nil {
				t.Fatalf("Get(%q) = %x from a pre-erase image after crypto-erase", n, got)
			}
		}
	}
	// A fresh store starts empty.
	fresh := durable.NewCrashFS()
	s2 := mustOpen(t, open, fresh)
	mustNotFound(t, s2, "a")

	t.Run("Crash", func(t *testing.T) {
		var acked bool
		durable.CrashTest(t, func(fsys *durable.CrashFS) {
			s := mustOpen(t, open, fsys)
			mustPut(t, s, "a", v)
		}, func(fsys *durable.CrashFS) error {
			acked = false
			s, err := open(t, fsys, dir)
			if err != nil {
				return err
			}
			if err := s.(eraser).Erase(t.Context()); err != nil {
				return err
			}
			acked = true
			return nil
		}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
			where := fmt.Sprintf("crash at %d (%s)", point, mode)
			s, err := open(t, fsys, dir)
			if err != nil {
				t.Fatalf("%s: store does not open after an interrupted erase: %v", where, err)
			}
			got, err := s.Get(t.Context(), "a")
			switch {
			case err == nil && acked:
				t.Fatalf("%s: secret readable after acknowledged erase", where)
			case err == nil && !bytes.Equal(got, v):
				t.Fatalf("%s: wrong value after interrupted erase", where)
			case err != nil && !errors.Is(err, secrets.ErrErased) && !errors.Is(err, secrets.ErrNotFound):
				t.Fatalf("%s: Get = %v; want the value, ErrErased or ErrNotFound", where, err)
			}
			// Resuming the erase always completes it.
			if err := s.(eraser).Erase(t.Context()); err != nil {
				t.Fatalf("%s: resuming Erase: %v", where, err)
			}
			if err := s.(eraser).VerifyErased(t.Context()); err != nil {
				t.Fatalf("%s: VerifyErased after resumed Erase: %v", where, err)
			}
		})
	})
}

func mustOpen(t *testing.T, open Opener, fsys durable.FS) secrets.Store {
	t.Helper()
	s, err := open(t, fsys, dir)
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	return s
}

func testIdentity(t *testing.T, open Opener) {
	fsys := durable.NewCrashFS()
	s := mustOpen(t, open, fsys)
	idr, ok := s.(identifier)
	if !ok {
		t.Skip("store has no Identity")
	}
	id, err := idr.Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	csr, err := id.CreateCSR(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "device-0001"}, DNSNames: []string{"plug.local"}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := x509.ParseCertificateRequest(csr)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	if req.Subject.CommonName != "device-0001" {
		t.Fatalf("CSR subject %q", req.Subject.CommonName)
	}
	if s := fmt.Sprintf("%v %+v %#v", id, id, id); strings.Contains(s, "D:") {
		t.Fatalf("Identity prints its private key: %s", s)
	}
	s = mustOpen(t, open, fsys.Reboot(durable.DropUnsynced))
	id2, err := s.(identifier).Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !publicEqual(id.Public(), id2.Public()) {
		t.Fatal("identity changed across a restart")
	}
	// Another device (fresh state) gets a different identity.
	other, err := mustOpen(t, open, durable.NewCrashFS()).(identifier).Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A TPM or token identity belongs to the TPM or token, which every
	// store of this test shares; a soft one belongs to the store's state.
	if id.Backend() == "soft" && publicEqual(id.Public(), other.Public()) {
		t.Fatal("two devices' stores share one identity key")
	}
}

func publicEqual(a, b any) bool {
	type eq interface{ Equal(x crypto.PublicKey) bool }
	if e, ok := a.(eq); ok {
		return e.Equal(b)
	}
	return false
}

// NoPlaintext fails t if any file under dir (a real directory: the store's,
// or the whole data partition) contains one of values, or any 8-byte
// window of one, in clear. Backend tests use it on durable.OS stores.
func NoPlaintext(t testing.TB, dir string, values ...[]byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range values {
			if leaks(content, v) {
				t.Errorf("%s holds (part of) a secret value in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leaks reports whether content holds v, or any 8-byte window of it (every
// 4 bytes, and the last one), in clear.
func leaks(content, v []byte) bool {
	if len(v) <= 8 {
		return len(v) > 0 && bytes.Contains(content, v)
	}
	for i := 0; i+8 <= len(v); i += 4 {
		if bytes.Contains(content, v[i:i+8]) {
			return true
		}
	}
	return bytes.Contains(content, v[len(v)-8:])
}
