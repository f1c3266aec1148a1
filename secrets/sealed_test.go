package secrets_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/secrets"
)

func openSealed(t *testing.T, fsys durable.FS, seed string) *secrets.Sealed {
	t.Helper()
	kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: seed})
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSoftSeedFile(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "kek.seed")
	k1, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: seed})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(seed)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed file mode %#o; want 0600", fi.Mode().Perm())
	}
	w, err := k1.Wrap(t.Context(), []byte("data key"))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: seed})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Unwrap(t.Context(), w); err != nil || string(got) != "data key" {
		t.Fatalf("second start: Unwrap = %q, %v", got, err)
	}
	if s := fmt.Sprint(k1); strings.Contains(s, "data") || !strings.Contains(s, "SoftKEK") {
		t.Fatalf("String() = %q", s)
	}

	// Another device's seed does not unwrap it.
	other, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: filepath.Join(dir, "other.seed")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unwrap(t.Context(), w); !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("other device's KEK: %v; want ErrWrongKEK", err)
	}

	// A seed readable by others is refused, and not rewritten.
	if err := os.Chmod(seed, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(seed)
	if _, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: seed}); !errors.Is(err, secrets.ErrSeedPermissions) {
		t.Fatalf("0644 seed: %v; want ErrSeedPermissions", err)
	}
	after, _ := os.ReadFile(seed)
	if !bytes.Equal(before, after) {
		t.Fatal("refused seed file was modified")
	}
	os.Chmod(seed, 0o600)

	// A damaged seed is refused, not silently replaced.
	damaged := bytes.Clone(before)
	damaged[0] ^= 0xff
	os.WriteFile(seed, damaged, 0o600)
	if _, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: seed}); !errors.Is(err, secrets.ErrCorrupt) {
		t.Fatalf("damaged seed: %v; want ErrCorrupt", err)
	}
	os.WriteFile(seed, before, 0o600)

	if err := k2.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(seed); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("seed file after Destroy: %v", err)
	}
	if _, err := k2.Wrap(t.Context(), []byte("x")); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("Wrap after Destroy: %v", err)
	}
	if err := k2.Destroy(t.Context()); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

// TestOtherDevice: a store directory moved to another device (another
// seed) does not open, and the directory is left as it was.
func TestOtherDevice(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/a.seed")
	if err := s.Put(t.Context(), "k", []byte("device A")); err != nil {
		t.Fatal(err)
	}
	before := fsys.Contents()
	kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/data/b.seed"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek})
	if !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("Open with another device's KEK: %v; want ErrWrongKEK", err)
	}
	after := fsys.Contents()
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Fatalf("refused Open changed %s", name)
		}
	}
}

// TestKeysetDamage: every single-byte corruption of the keyset file makes
// Open fail cleanly (no panic, no new keyset written over it).
func TestKeysetDamage(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/kek.seed")
	if err := s.Put(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	const ks = "/data/secrets/.keyset"
	orig := fsys.Contents()[ks]
	kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/data/kek.seed"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(orig); i += 3 {
		bad := bytes.Clone(orig)
		bad[i] ^= 0x10
		durable.WriteFile(fsys, ks, bad, 0o600)
		_, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek})
		if err == nil {
			t.Fatalf("Open accepted a keyset with byte %d flipped", i)
		}
		if !bytes.Equal(fsys.Contents()[ks], bad) {
			t.Fatal("a failed Open rewrote the keyset")
		}
	}
	for _, n := range []int{0, 5, len(orig) / 2, len(orig) - 1} {
		durable.WriteFile(fsys, ks, orig[:n], 0o600)
		if _, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek}); !errors.Is(err, secrets.ErrCorrupt) {
			t.Fatalf("keyset truncated to %d: %v; want ErrCorrupt", n, err)
		}
	}
	durable.WriteFile(fsys, ks, make([]byte, 1<<20), 0o600)
	if _, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek}); !errors.Is(err, secrets.ErrCorrupt) {
		t.Fatalf("oversized keyset: %v; want ErrCorrupt", err)
	}
	durable.WriteFile(fsys, ks, orig, 0o600)
	s = openSealed(t, fsys, "/data/kek.seed")
	if got, err := s.Get(t.Context(), "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get after restoring the keyset = %q, %v", got, err)
	}
}

// TestKEKAlgorithmMismatch: a keyset sealed by one kind of KEK is refused
// by another before the KEK is asked to unwrap anything.
func TestKEKAlgorithmMismatch(t *testing.T) {
	fsys := durable.NewCrashFS()
	openSealed(t, fsys, "/data/kek.seed")
	_, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: plainKEK{}})
	if !errors.Is(err, secrets.ErrWrongKEK) || !strings.Contains(err.Error(), secrets.SoftAlgorithm) {
		t.Fatalf("Open with a different kind of KEK: %v", err)
	}
}

// plainKEK is a KEK that describes nothing and is not destroyable.
type plainKEK struct{}

func (plainKEK) Wrap(_ context.Context, b []byte) ([]byte, error) {
	return append([]byte("wrapped:"), b...), nil
}
func (plainKEK) Unwrap(_ context.Context, b []byte) ([]byte, error) {
	return bytes.TrimPrefix(b, []byte("wrapped:")), nil
}

func TestChecksSoft(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/kek.seed")
	if err := s.Put(t.Context(), "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	res := conformance.RunChecks(t.Context(), s)
	if len(res) != 2 {
		t.Fatalf("%d checks", len(res))
	}
	byID := map[string]conformance.CheckResult{}
	for _, r := range res {
		byID[r.ID] = r
	}
	at := byID["secrets.sealed-at-rest"]
	if at.Verdict != conformance.Inconclusive || !strings.Contains(at.Observed, "kek=soft") || !strings.Contains(at.Detail, "flash dump") {
		t.Fatalf("soft at-rest check: %+v; want INCONCLUSIVE naming the soft KEK and why", at)
	}
	id := byID["secrets.device-identity"]
	if id.Verdict != conformance.Inconclusive || !strings.Contains(id.Detail, "Identity") {
		t.Fatalf("identity check before Identity(): %+v", id)
	}
	if _, err := s.Identity(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range conformance.RunChecks(t.Context(), s) {
		if r.ID == "secrets.device-identity" && (r.Verdict != conformance.Inconclusive || !strings.Contains(r.Observed, "ECDSA P-256 in soft")) {
			t.Fatalf("soft identity check: %+v", r)
		}
	}
	// A stray plaintext file in the store directory is a FAIL.
	durable.WriteFile(fsys, "/data/secrets/wifi.txt", []byte("psk=hunter2"), 0o644)
	for _, r := range conformance.RunChecks(t.Context(), s) {
		if r.ID == "secrets.sealed-at-rest" && (r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "wifi.txt")) {
			t.Fatalf("stray file: %+v; want FAIL naming it", r)
		}
	}
	// After an erase the checks say so.
	if err := s.Erase(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range conformance.RunChecks(t.Context(), s) {
		if r.Verdict == conformance.Pass {
			t.Fatalf("%s passes on an erased store", r.ID)
		}
	}
}

// TestChecksHardwareClaim: a KEK claiming hardware gets PASS only while its
// probe works; a broken one is a FAIL.
func TestChecksHardwareClaim(t *testing.T) {
	fsys := durable.NewCrashFS()
	k := &fakeHW{}
	s, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/d", KEK: k})
	if err != nil {
		t.Fatal(err)
	}
	r := conformance.RunChecks(t.Context(), s)[1]
	if r.ID != "secrets.sealed-at-rest" || r.Verdict != conformance.Pass {
		t.Fatalf("%+v", r)
	}
	k.broken = true
	r = conformance.RunChecks(t.Context(), s)[1]
	if r.Verdict != conformance.Fail {
		t.Fatalf("broken KEK: %+v; want FAIL", r)
	}
}

type fakeHW struct{ broken bool }

func (k *fakeHW) Wrap(_ context.Context, b []byte) ([]byte, error) {
	out := bytes.Clone(b)
	for i := range out {
		out[i] ^= 0x5a
	}
	return out, nil
}
func (k *fakeHW) Unwrap(ctx context.Context, b []byte) ([]byte, error) {
	if k.broken {
		return nil, errors.New("device gone")
	}
	return k.Wrap(ctx, b)
}
func (k *fakeHW) Describe() secrets.KEKInfo {
	return secrets.KEKInfo{Algorithm: "test/xor", Backend: "fake", Hardware: true}
}

func TestEraseResumesAfterReopen(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/kek.seed")
	s.Put(t.Context(), "a", []byte("secret"))
	// Power is lost right after the erase marker is written.
	fsys.FailWrites = nil
	fsys.CrashAt(6)
	if err := s.Erase(t.Context()); !durable.IsCrash(err) {
		t.Fatalf("Erase: %v", err)
	}
	fsys = fsys.Reboot(durable.DropUnsynced)
	s = openSealed(t, fsys, "/data/kek.seed")
	if _, err := s.Get(t.Context(), "a"); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("Get on a half-erased store: %v; want ErrErased", err)
	}
	if err := s.Put(t.Context(), "b", []byte("x")); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("Put on a half-erased store: %v; want ErrErased", err)
	}
	if err := s.VerifyErased(t.Context()); err == nil {
		t.Fatal("VerifyErased passes before the erase finished")
	}
	if err := s.Erase(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyErased(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range fsys.Files() {
		t.Logf("left: %s", f)
		if strings.HasPrefix(f, "/data/") {
			t.Fatalf("%s survives the erase", f)
		}
	}
	// The next boot starts with a new seed and an empty store.
	s = openSealed(t, fsys, "/data/kek.seed")
	if _, err := s.Get(t.Context(), "a"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("after reboot: %v; want ErrNotFound", err)
	}
}

func TestVerifyErasedNonDestroyable(t *testing.T) {
	fsys := durable.NewCrashFS()
	s, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/d", KEK: plainKEK{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Erase(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyErased(t.Context()); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("VerifyErased with a KEK that cannot be destroyed: %v; want ErrUnsupported", err)
	}
}

func TestRotateKeyCount(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/kek.seed")
	s.Put(t.Context(), "a", []byte("1"))
	for i := 0; i < 3; i++ {
		if err := s.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := s.KeyCount(); n != 1 {
			t.Fatalf("after Rotate: %d keys; want 1", n)
		}
	}
	// A damaged envelope stops the rotation from retiring old keys, and is
	// kept for inspection rather than dropped.
	durable.WriteFile(fsys, "/data/secrets/b.sec", []byte("BLSE\x01junk"), 0o600)
	if err := s.Rotate(t.Context()); !errors.Is(err, secrets.ErrCorrupt) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("Rotate with a damaged envelope: %v", err)
	}
	if n := s.KeyCount(); n != 2 {
		t.Fatalf("keys after a partial rotation: %d; want 2", n)
	}
	if got, err := s.Get(t.Context(), "a"); err != nil || string(got) != "1" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

func TestListAndLimits(t *testing.T) {
	fsys := durable.NewCrashFS()
	kek, _ := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/seed"})
	s, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/d", KEK: kek, MaxValueSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	s.Put(t.Context(), "x", []byte("0123456789"))
	if err := s.Put(t.Context(), "y", []byte("0123456789a")); !errors.Is(err, secrets.ErrTooLarge) {
		t.Fatalf("11 bytes with a 10-byte limit: %v", err)
	}
	// The identity key's PKCS#8 is larger than the limit, which binds only
	// the caller's values: it must survive a restart.
	id, err := s.Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err = secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/d", KEK: kek, MaxValueSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.Identity(t.Context())
	if err != nil || !id2.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(id.Public()) {
		t.Fatalf("identity after restart with a small MaxValueSize: %v", err)
	}
	names, err := s.List(t.Context())
	if err != nil || len(names) != 1 || names[0] != "x" {
		t.Fatalf("List = %q, %v", names, err)
	}
	if _, err := secrets.Open(t.Context(), secrets.Config{KEK: kek}); err == nil {
		t.Fatal("Open without Dir")
	}
	if _, err := secrets.Open(t.Context(), secrets.Config{Dir: "/d"}); err == nil {
		t.Fatal("Open without KEK")
	}
}

// TestDependencies: importing secrets alone links neither go-tpm nor
// crypto11 (nor cgo PKCS#11); the backends are opt-in subpackages.
func TestDependencies(t *testing.T) {
	gobin := testenv.LookPath(t, "go")
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	for _, banned := range []string{"github.com/google/go-tpm", "github.com/ThalesGroup/crypto11", "github.com/miekg/pkcs11"} {
		if strings.Contains(deps, banned) {
			t.Errorf("secrets links %s", banned)
		}
	}
	if !strings.Contains(deps, "github.com/tink-crypto/tink-go/v2/aead") {
		t.Error("go list output does not look like secrets' dependencies")
	}
	// Each backend links only its own hardware library.
	for pkg, banned := range map[string]string{"./tpm": "github.com/ThalesGroup/crypto11", "./pkcs11": "github.com/google/go-tpm"} {
		out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		if strings.Contains(string(out), banned) {
			t.Errorf("%s links %s", pkg, banned)
		}
	}
}
