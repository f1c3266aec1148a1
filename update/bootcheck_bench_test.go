package update

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// BenchmarkVerifyRunning reads a committed slot file of 1, 16 and 64 MiB
// through VerifyRunning (the start-up check) and, as the reference, through
// a plain io.Copy into SHA-256. With -benchmem, B/op stays the same as the
// slot grows: the verification holds one 64 KiB buffer, not the image.
// The file is in the page cache after the first iteration, so this
// measures the hashing and the read path, not the flash.
func BenchmarkVerifyRunning(b *testing.B) {
	for _, mib := range []int{1, 16, 64} {
		size := int64(mib) << 20
		dir := b.TempDir()
		slot := filepath.Join(dir, "slot-a")
		f, err := os.Create(slot)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
			b.Fatal(err)
		}
		f.Close()
		ab, err := NewFileAB(FileABConfig{FS: durable.OS, Dir: dir,
			Factory: Image{Version: "1.0.0", Counter: 1, Length: size, SHA256: h.Sum(nil)}})
		if err != nil {
			b.Fatal(err)
		}
		bi := BootIntegrity{
			Restrict: func(context.Context) error { panic("restrict called on an intact slot") },
			Alert:    func(context.Context, error) { panic("alert called on an intact slot") },
		}
		b.Run(fmt.Sprintf("VerifyRunning/%dMiB", mib), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := ab.VerifyRunning(context.Background(), bi); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("ioCopySHA256/%dMiB", mib), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				f, err := os.Open(slot)
				if err != nil {
					b.Fatal(err)
				}
				h := sha256.New()
				if _, err := io.Copy(h, f); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
		ab.Close()
	}
}
