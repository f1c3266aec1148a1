package update

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

func readTestdata(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInteropCosign: a signature made by cosign v2.6.5 sign-blob verifies;
// one flipped bit of the image or the signature does not.
func TestInteropCosign(t *testing.T) {
	v, err := ParseCosignPublicKey(readTestdata(t, "cosign/cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	img, sig := readTestdata(t, "cosign/fw.bin"), readTestdata(t, "cosign/fw.sig")
	if err := VerifyCosign(v, sig, bytes.NewReader(img)); err != nil {
		t.Fatalf("cosign signature refused: %v", err)
	}
	bad := bytes.Clone(img)
	bad[len(bad)/2] ^= 1
	if err := VerifyCosign(v, sig, bytes.NewReader(bad)); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered image: %v", err)
	}
	badSig := bytes.Clone(sig)
	badSig[10] ^= 2
	if err := VerifyCosign(v, badSig, bytes.NewReader(img)); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered signature: %v", err)
	}
}

// copyDir copies testdata/tuf-independent so a test can tamper with it.
func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

const indepTarget = "firmware/fw-1.0.0.bin"

func indepClient(t *testing.T, dir string, mod func(*Config)) *Client {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	cfg := Config{
		TrustedRoot:               readTestdata(t, "tuf-independent/metadata/1.root.json"),
		RepositoryURL:             srv.URL,
		HardwareID:                testHW,
		FS:                        durable.NewCrashFS(),
		Dir:                       "state",
		HTTPClient:                srv.Client(),
		Now:                       func() time.Time { return testNow },
		Retries:                   -1,
		InsecureAllowNoDescriptor: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func downloadIndep(c *Client) (*recSlot, error) {
	ctx := context.Background()
	slot := &recSlot{}
	if err := c.Refresh(ctx); err != nil {
		return slot, err
	}
	rel, err := c.Lookup(indepTarget)
	if err != nil {
		return slot, err
	}
	_, err = c.Download(ctx, rel, slot)
	return slot, err
}

// TestInteropTUFIndependent: a repository written by @tufjs/models (ECDSA
// P-256 keys, consistent_snapshot false) is accepted over loopback, and
// refused once tampered with.
func TestInteropTUFIndependent(t *testing.T) {
	want := readTestdata(t, "tuf-independent/targets/"+indepTarget)
	slot, err := downloadIndep(indepClient(t, filepath.Join("testdata", "tuf-independent"), nil))
	if err != nil {
		t.Fatalf("independent repository refused: %v", err)
	}
	if !bytes.Equal(slot.data, want) {
		t.Fatal("slot does not hold the target")
	}
	// Without a descriptor the target is not acceptable by default.
	slot, err = downloadIndep(indepClient(t, filepath.Join("testdata", "tuf-independent"), func(c *Config) { c.InsecureAllowNoDescriptor = false }))
	if !errors.Is(err, ErrNoDescriptor) {
		t.Fatalf("no descriptor: %v", err)
	}
	slot.untouched(t)

	t.Run("tampered target", func(t *testing.T) {
		dir := copyDir(t, filepath.Join("testdata", "tuf-independent"))
		p := filepath.Join(dir, "targets", filepath.FromSlash(indepTarget))
		b := bytes.Clone(want)
		b[100] ^= 1
		os.WriteFile(p, b, 0o644)
		slot, err := downloadIndep(indepClient(t, dir, nil))
		if !errors.Is(err, ErrTarget) {
			t.Fatalf("got %v", err)
		}
		slot.untouched(t)
	})
	t.Run("tampered metadata", func(t *testing.T) {
		dir := copyDir(t, filepath.Join("testdata", "tuf-independent"))
		p := filepath.Join(dir, "metadata", "timestamp.json")
		b, _ := os.ReadFile(p)
		b = bytes.Replace(b, []byte(`"version":1,"expires"`), []byte(`"version":2,"expires"`), 1)
		os.WriteFile(p, b, 0o644)
		slot, err := downloadIndep(indepClient(t, dir, nil))
		if !errors.Is(err, ErrMetadata) {
			t.Fatalf("got %v", err)
		}
		slot.untouched(t)
	})
}

func bundleBytes(t testing.TB, fx *fixture, target string, sig []byte) []byte {
	var buf bytes.Buffer
	if err := WriteBundle(&buf, os.DirFS(fx.repo.Dir), target, sig); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOfflineBundle(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		fx := newFixture(t, consistent)
		img := randomImage(t, 3*MinChunkSize+5)
		fx.addRelease("fw.bin", img, nil)
		if err := fx.repo.RotateRoot(true); err != nil {
			t.Fatal(err)
		}
		b := bundleBytes(t, fx, "fw.bin", nil)
		c := fx.client(func(c *Config) { c.RepositoryURL = "http://127.0.0.1:1" }) // no network used
		slot := &recSlot{}
		v, err := c.OpenBundle(context.Background(), bytes.NewReader(b), slot)
		if err != nil {
			t.Fatalf("consistent=%v: %v", consistent, err)
		}
		if !v.Valid() || !bytes.Equal(slot.data, img) || v.Release().Descriptor.ReleaseCounter != 2 {
			t.Fatal("bundle image not in slot")
		}
		// Offered again, the same release is now refused as not newer.
		c2 := fx.client(func(c *Config) { c.InstalledCounter = func() uint64 { return 2 } })
		slot = &recSlot{}
		if _, err := c2.OpenBundle(context.Background(), bytes.NewReader(b), slot); !errors.Is(err, ErrRollback) {
			t.Fatalf("re-offered bundle: %v", err)
		}
		slot.untouched(t)
	}

	fx := newFixture(t, false)
	img := randomImage(t, 2*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	good := bundleBytes(t, fx, "fw.bin", nil)
	tampered := bytes.Clone(good)
	i := bytes.Index(tampered, img[:64])
	tampered[i+10] ^= 1
	slot := &recSlot{}
	if _, err := fx.client(nil).OpenBundle(context.Background(), bytes.NewReader(tampered), slot); !errors.Is(err, ErrTarget) {
		t.Fatalf("tampered bundle: %v", err)
	}
	slot.untouched(t)
	slot = &recSlot{}
	if _, err := fx.client(nil).OpenBundle(context.Background(), bytes.NewReader(good[:len(good)/2]), slot); err == nil {
		t.Fatal("truncated bundle accepted")
	}
}

// TestOfflineBundleCosign: the cosign fixture image released through TUF,
// with the cosign signature in the bundle and the cosign key configured.
func TestOfflineBundleCosign(t *testing.T) {
	fx := newFixture(t, false)
	img, sig := readTestdata(t, "cosign/fw.bin"), readTestdata(t, "cosign/fw.sig")
	fx.addRelease("fw.bin", img, nil)
	withKey := func(c *Config) { c.CosignPublicKey = readTestdata(t, "cosign/cosign.pub") }
	slot := &recSlot{}
	if _, err := fx.client(withKey).OpenBundle(context.Background(), bytes.NewReader(bundleBytes(t, fx, "fw.bin", sig)), slot); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(slot.data, img) {
		t.Fatal("slot differs")
	}
	for name, s := range map[string][]byte{"missing": nil, "tampered": append([]byte("MEUCIQD"), sig[7:]...)} {
		slot := &recSlot{}
		_, err := fx.client(withKey).OpenBundle(context.Background(), bytes.NewReader(bundleBytes(t, fx, "fw.bin", s)), slot)
		if !errors.Is(err, ErrSignature) {
			t.Fatalf("%s signature: %v", name, err)
		}
		slot.untouched(t)
	}
}

// TestInteropSigstoreBundle: the sigstore bundle cosign v2.6.5 wrote for
// the same blob verifies; a flipped image bit, a changed digest or another
// key do not.
func TestInteropSigstoreBundle(t *testing.T) {
	v, err := ParseCosignPublicKey(readTestdata(t, "cosign/cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	img, bundle := readTestdata(t, "cosign/fw.bin"), readTestdata(t, "cosign/fw.sigstore.json")
	if err := VerifySigstoreBundle(v, bundle, bytes.NewReader(img)); err != nil {
		t.Fatalf("sigstore bundle refused: %v", err)
	}
	bad := bytes.Clone(img)
	bad[7] ^= 0x80
	if err := VerifySigstoreBundle(v, bundle, bytes.NewReader(bad)); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered image: %v", err)
	}
	tampered := bytes.Replace(bundle, []byte(`"digest":"Km96`), []byte(`"digest":"Km97`), 1)
	if bytes.Equal(tampered, bundle) {
		t.Fatal("fixture layout changed")
	}
	if err := VerifySigstoreBundle(v, tampered, bytes.NewReader(img)); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered digest: %v", err)
	}
	other, err := ParseCosignPublicKey([]byte(otherP256PEM))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySigstoreBundle(other, bundle, bytes.NewReader(img)); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
}

// otherP256PEM is the tuf-independent fixture's ECDSA P-256 key: valid, but
// not the cosign key.
const otherP256PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECsfQantzvN/N8/NZ2hXT95in8d/S
jrBF/BJEFg7lgtK4WSfjc08Gk9w1TMg8j7yq1knKu5uW+cAxam4wE7MSmg==
-----END PUBLIC KEY-----
`
