package update

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestCoSignaturePolicy: with a pinned ML-DSA-65 key, a release needs the
// TUF threshold AND a valid co-signature.
func TestCoSignaturePolicy(t *testing.T) {
	pub, priv, err := mldsa65.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := mldsa65.GenerateKey(nil)
	pinned := func(c *Config) { c.CoSignKey = pub }
	cosign := func(signer *mldsa65.PrivateKey, img []byte) func(*Descriptor) {
		return func(d *Descriptor) {
			tf, err := metadata.TargetFile().FromBytes("fw.bin", img, "sha256", "sha512")
			if err != nil {
				t.Fatal(err)
			}
			if d.CoSignature, err = CoSign(signer, "fw.bin", tf.Length, tf.Hashes, d.ReleaseCounter, d.HardwareID); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("valid", func(t *testing.T) {
		fx := newFixture(t, false)
		img := randomImage(t, MinChunkSize)
		fx.addRelease("fw.bin", img, cosign(priv, img))
		slot, err := attempt(fx.client(pinned))
		if err != nil || !bytes.Equal(slot.data, img) {
			t.Fatal(err)
		}
	})
	for name, mutate := range map[string]func(img []byte) func(*Descriptor){
		"missing":     func([]byte) func(*Descriptor) { return nil },
		"other key":   func(img []byte) func(*Descriptor) { return cosign(otherPriv, img) },
		"other image": func([]byte) func(*Descriptor) { return cosign(priv, randomImage(t, MinChunkSize)) },
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, false)
			img := randomImage(t, MinChunkSize)
			fx.addRelease("fw.bin", img, mutate(img))
			mustRefuse(t, fx.client(pinned), ErrCoSignature)
		})
	}
}

// TestRootRotation: a device pinned to root v1 follows rotations to v3
// (new root keys each time, new targets key), persists them, and keeps
// working across clients.
func TestRootRotation(t *testing.T) {
	fx := newFixture(t, false)
	pinnedRoot := fx.repo.RootBytes()
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	if err := fx.repo.RotateRoot(true); err != nil {
		t.Fatal(err)
	}
	if err := fx.repo.ReplaceKeys("targets"); err != nil {
		t.Fatal(err)
	}
	if err := fx.repo.RotateRoot(true); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t, 2*MinChunkSize)
	fx.addRelease("fw.bin", img, func(d *Descriptor) { d.ReleaseCounter = 3 })
	c := fx.client(func(c *Config) { c.TrustedRoot = pinnedRoot })
	slot, err := attempt(c)
	if err != nil || !bytes.Equal(slot.data, img) {
		t.Fatalf("rotation: %v", err)
	}
	if _, err := fx.fs.Stat("state/roots/3.root.json"); err != nil {
		t.Fatal("rotated root not persisted")
	}
	// A root v4 signed only by the new key (not by v3's root keys) is refused.
	saved := fx.repo.Keys["root"]
	fx.repo.Keys["root"] = nil
	if _, err := fx.repo.AddKey("root"); err != nil {
		t.Fatal(err)
	}
	fx.repo.Root.Signed.Version++
	if err := fx.repo.WriteRoot(); err != nil {
		t.Fatal(err)
	}
	_ = saved
	c2 := fx.client(func(c *Config) { c.TrustedRoot = pinnedRoot })
	if err := c2.Refresh(context.Background()); !errors.Is(err, ErrMetadata) {
		t.Fatalf("unchained root: %v", err)
	}
}

// TestVerifiedIsImmutable: changing a release handed out by a Verified does
// not change what the Verified says.
func TestVerifiedIsImmutable(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	slot, err := attempt(fx.client(nil))
	_ = slot
	if err != nil {
		t.Fatal(err)
	}
	c := fx.client(nil)
	rel, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Download(context.Background(), rel, &recSlot{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Release()
	r.Descriptor.ReleaseCounter = 1 << 40
	r.Descriptor.Chunks[0][0] ^= 1
	r.Hashes["sha256"][0] ^= 1
	again := v.Release()
	if again.Descriptor.ReleaseCounter != 2 || again.Hashes["sha256"][0] == r.Hashes["sha256"][0] {
		t.Fatal("Verified changed through a returned release")
	}
	var zero Verified
	if zero.Valid() || zero.Slot() != nil {
		t.Fatal("zero Verified is valid")
	}
}

// TestReverify: the installer's read-back check accepts the slot as written
// and refuses it once a byte changed.
func TestReverify(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 3*MinChunkSize+1)
	fx.addRelease("fw.bin", img, nil)
	c := fx.client(nil)
	rel, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slot, err := OpenFileSlot(fx.fs, "slot")
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Download(context.Background(), rel, slot)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Reverify(context.Background(), slot); err != nil {
		t.Fatal(err)
	}
	if _, err := slot.WriteAt([]byte{img[2*MinChunkSize] ^ 1}, 2*MinChunkSize); err != nil {
		t.Fatal(err)
	}
	if err := v.Reverify(context.Background(), slot); !errors.Is(err, ErrTarget) {
		t.Fatalf("changed slot: %v", err)
	}
	var zero Verified
	if err := zero.Reverify(context.Background(), slot); !errors.Is(err, ErrTarget) {
		t.Fatalf("zero Verified: %v", err)
	}
}

// TestChainMustEndInTUFHash: a descriptor whose chain does not end in the
// target's signed sha256 is refused before anything is fetched, and a
// chain listing the image's chunks in another order fails at the first
// moved chunk with nothing of it written.
func TestChainMustEndInTUFHash(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 3*MinChunkSize)
	other := randomImage(t, 3*MinChunkSize)
	fx.addRelease("fw.bin", img, func(d *Descriptor) {
		d.Chunks, _, _ = HashChunks(bytes.NewReader(other), MinChunkSize)
	})
	c := fx.client(nil)
	if _, err := c.Check(context.Background()); !errors.Is(err, ErrDescriptor) {
		t.Fatalf("chain of another image: %v", err)
	}

	fx2 := newFixture(t, false)
	swapped := slices.Concat(img[MinChunkSize:2*MinChunkSize], img[:MinChunkSize], img[2*MinChunkSize:])
	fx2.addRelease("fw.bin", img, nil)
	serveImage(fx2, swapped, `"v1"`, false, nil)
	c2 := fx2.client(nil)
	rel, err := c2.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slot := &recSlot{}
	if _, err := c2.Download(context.Background(), rel, slot); !errors.Is(err, ErrTarget) {
		t.Fatalf("reordered chunks: %v", err)
	}
	if len(slot.data) != 0 {
		t.Fatalf("%d bytes of a reordered image reached the slot", len(slot.data))
	}
}

// TestEveryListedHashChecked: a target whose listed (signed) sha512 does not
// match the image is refused although every chunk and the sha256 match —
// the device checks every hash the metadata lists — unless the device
// explicitly limits the extra hashes with Config.ImageHashes.
func TestEveryListedHashChecked(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 2*MinChunkSize+5)
	chunks, _, err := HashChunks(bytes.NewReader(img), MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := EncodeDescriptor(&Descriptor{HardwareID: testHW, ReleaseCounter: 2, Version: "2", ChunkSize: MinChunkSize, Chunks: chunks})
	if err != nil {
		t.Fatal(err)
	}
	tf, err := fx.repo.AddTarget("fw.bin", img, custom)
	if err != nil {
		t.Fatal(err)
	}
	tf.Hashes["sha512"][0] ^= 1
	if err := fx.repo.Publish(); err != nil {
		t.Fatal(err)
	}
	fx.image = img
	c := fx.client(nil)
	rel, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(context.Background(), rel, &recSlot{}); !errors.Is(err, ErrTarget) || !strings.Contains(err.Error(), "sha512") {
		t.Fatalf("listed sha512 mismatch: %v", err)
	}
	c = fx.client(func(c *Config) { c.ImageHashes = []string{"sha256"} })
	rel, err = c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(context.Background(), rel, &recSlot{}); err != nil {
		t.Fatalf("ImageHashes [sha256]: %v", err)
	}
}
