// Command secrets measures the sealed store's Get of a 256-byte secret
// against the floor it is judged by — reading the file and decrypting it
// with a bare Tink AEAD — in one run on the same machine, and prints both
// and their ratio (target: below 2).
//
//	go run ./bench/secrets [-rounds 7] [-n 20000]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/iotbaseline/baseline/secrets"
)

func main() {
	rounds := flag.Int("rounds", 7, "alternating measurement rounds; the median is reported")
	n := flag.Int("n", 20000, "operations per round")
	size := flag.Int("size", 256, "secret size in bytes")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-secrets")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Ours: the sealed store on the soft KEK, on a real directory.
	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
	if err != nil {
		log.Fatal(err)
	}
	store, err := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "store"), KEK: kek})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Put(ctx, "secret", make([]byte, *size)); err != nil {
		log.Fatal(err)
	}

	// Baseline: the same-size Tink ciphertext in a plain file.
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		log.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		log.Fatal(err)
	}
	ct, err := a.Encrypt(make([]byte, *size), []byte("secret"))
	if err != nil {
		log.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, ct, 0o600); err != nil {
		log.Fatal(err)
	}

	ours := func() {
		if _, err := store.Get(ctx, "secret"); err != nil {
			log.Fatal(err)
		}
	}
	base := func() {
		c, err := os.ReadFile(plain)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := a.Decrypt(c, []byte("secret")); err != nil {
			log.Fatal(err)
		}
	}
	measure := func(f func()) float64 {
		start := time.Now()
		for range *n {
			f()
		}
		return float64(time.Since(start).Nanoseconds()) / float64(*n)
	}
	measure(ours) // warm up caches and the page cache
	measure(base)
	var o, b []float64
	for range *rounds {
		o = append(o, measure(ours))
		b = append(b, measure(base))
	}
	slices.Sort(o)
	slices.Sort(b)
	mo, mb := o[len(o)/2], b[len(b)/2]
	fmt.Printf("secrets.Sealed.Get (%d B):            %8.0f ns/op\n", *size, mo)
	fmt.Printf("os.ReadFile + tink AEAD.Decrypt (%d B): %8.0f ns/op\n", *size, mb)
	fmt.Printf("ratio: %.2fx (target < 2x; median of %d rounds of %d ops)\n", mo/mb, *rounds, *n)
}
