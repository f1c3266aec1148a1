package secrets_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/iotbaseline/baseline/secrets"
)

// Example opens a sealed store on the soft KEK, as a device without a TPM
// does, and stores, reads and deletes a secret.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)

	// First start: the KEK seed is generated on the device (mode 0600).
	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
	if err != nil {
		log.Fatal(err)
	}
	store, err := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: kek})
	if err != nil {
		log.Fatal(err)
	}

	if err := store.Put(ctx, "wifi-psk", []byte("correct horse battery staple")); err != nil {
		log.Fatal(err)
	}
	psk, err := store.Get(ctx, "wifi-psk")
	fmt.Printf("%s %v\n", psk, err)

	_, err = store.Get(ctx, "../etc/shadow")
	fmt.Println(errors.Is(err, secrets.ErrInvalidName))

	store.Delete(ctx, "wifi-psk")
	_, err = store.Get(ctx, "wifi-psk")
	fmt.Println(errors.Is(err, secrets.ErrNotFound))
	// Output:
	// correct horse battery staple <nil>
	// true
	// true
}

// ExampleSealed_Identity creates the device's identity key and a CSR for the
// factory CA.
func ExampleSealed_Identity() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	kek, _ := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
	store, _ := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: kek})

	id, err := store.Identity(ctx)
	if err != nil {
		log.Fatal(err)
	}
	der, err := id.CreateCSR(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "plug-0042"}})
	if err != nil {
		log.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	fmt.Println(csr.Subject.CommonName, csr.CheckSignature() == nil, id.Backend(), id.Hardware())
	// Output: plug-0042 true soft false
}

// ExampleSealed_Erase crypto-erases the store, as a factory reset does.
func ExampleSealed_Erase() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "device")
	defer os.RemoveAll(dir)
	kek, _ := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: filepath.Join(dir, "kek.seed")})
	store, _ := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: kek})
	store.Put(ctx, "cloud-token", []byte("tok"))

	if err := store.Erase(ctx); err != nil {
		log.Fatal(err)
	}
	_, err := store.Get(ctx, "cloud-token")
	fmt.Println(errors.Is(err, secrets.ErrErased), store.VerifyErased(ctx))
	// Output: true <nil>
}
