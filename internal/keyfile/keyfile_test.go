package keyfile

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// fastKDF keeps the tests quick; it is the floor EncodePrivate accepts.
var fastKDF = &MinKDF

type equaler interface{ Equal(crypto.PrivateKey) bool }

func TestRoundTrip(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(string(alg), func(t *testing.T) {
			key, err := Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := AlgorithmOf(key.Public()); err != nil || got != alg {
				t.Fatalf("AlgorithmOf = %q, %v", got, err)
			}
			for _, pass := range [][]byte{nil, []byte("correct horse battery staple")} {
				pemData, err := EncodePrivate(key, pass, fastKDF)
				if err != nil {
					t.Fatal(err)
				}
				if IsEncrypted(pemData) != (pass != nil) {
					t.Fatalf("IsEncrypted = %v with passphrase %q", IsEncrypted(pemData), pass)
				}
				if pass != nil && bytes.Contains(pemData, []byte("PRIVATE KEY-----\nM")) {
					t.Fatal("encrypted file looks like plain PKCS#8")
				}
				got, err := DecodePrivate(pemData, pass)
				if err != nil {
					t.Fatal(err)
				}
				if !got.(equaler).Equal(key) {
					t.Fatal("decoded key differs")
				}
			}
			pubPEM, err := EncodePublic(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----\n")) {
				t.Fatalf("public key not PKIX PEM: %s", pubPEM)
			}
			pub, err := DecodePublic(pubPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatal("decoded public key differs")
			}
			// The private key signs, the public key is the pair's.
			msg := []byte("firmware")
			var opts crypto.SignerOpts = crypto.Hash(0)
			if alg == ECDSAP256 {
				d := crypto.SHA256.New()
				d.Write(msg)
				msg, opts = d.Sum(nil), crypto.SHA256
			}
			if _, err := key.Sign(rand.Reader, msg, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWrongPassphraseRefused(t *testing.T) {
	key, _ := Generate(Ed25519, nil)
	data, err := EncodePrivate(key, []byte("right"), fastKDF)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodePrivate(data, []byte("wrong")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong passphrase: err = %v, want ErrDecrypt", err)
	}
	if _, err := DecodePrivate(data, nil); !errors.Is(err, ErrPassphraseRequired) {
		t.Fatalf("no passphrase: err = %v, want ErrPassphraseRequired", err)
	}
	// Weakening a header parameter breaks the AAD even with the right
	// passphrase (the derived key changes too, but the AAD alone suffices
	// for Cipher/Version-preserving edits such as the salt encoding).
	weaker := bytes.Replace(data, []byte("t=2"), []byte("t=1"), 1)
	if _, err := DecodePrivate(weaker, []byte("right")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("edited KDF params: err = %v, want ErrDecrypt", err)
	}
	// The error names no secret.
	_, err = DecodePrivate(data, []byte("wrong-passphrase-xyz"))
	if strings.Contains(err.Error(), "wrong-passphrase-xyz") {
		t.Fatal("error leaks the passphrase")
	}
}

func TestWeakKDFRefused(t *testing.T) {
	key, _ := Generate(Ed25519, nil)
	weak := KDFParams{Memory: 1024, Time: 1, Threads: 1}
	if _, err := EncodePrivate(key, []byte("p"), &weak); !errors.Is(err, ErrWeakKDF) {
		t.Fatalf("err = %v, want ErrWeakKDF", err)
	}
}

func TestParseKDFParamsBounded(t *testing.T) {
	for _, s := range []string{"m=300000,t=3,p=4", "m=65536,t=17,p=4", "m=65536,t=3,p=17",
		"m=65536,t=0,p=4", "m=065536,t=3,p=4", "t=3,m=65536,p=4", "m=65536,t=3", "m=16,t=1,p=4", ""} {
		if _, err := parseKDFParams(s); err == nil {
			t.Errorf("parseKDFParams(%q) accepted", s)
		}
	}
	if p, err := parseKDFParams("m=65536,t=3,p=4"); err != nil || p != DefaultKDF {
		t.Fatalf("default params: %+v, %v", p, err)
	}
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")
	if err := WriteNew(durable.OS, path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	if err := WriteNew(durable.OS, path, []byte("second"), 0o600); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrite: err = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Fatalf("existing key file changed to %q", b)
	}
}

func TestWriteNewCrash(t *testing.T) {
	// At every crash point the key file is either absent or complete.
	key, _ := Generate(Ed25519, nil)
	data, _ := EncodePrivate(key, nil, nil)
	for n := 1; ; n++ {
		c := durable.NewCrashFS()
		c.CrashAt(n)
		err := WriteNew(c, "k.pem", data, 0o600)
		if err == nil && !c.Crashed() {
			break
		}
		for _, mode := range []durable.CrashMode{durable.DropUnsynced, durable.KeepUnsynced} {
			r := c.Reboot(mode)
			got, err := durable.ReadFile(r, "k.pem", MaxFileSize)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			// A file cut short by the power loss (possible only before the
			// fsync that WriteNew waits for) is never taken for a key.
			if !bytes.Equal(got, data) {
				if _, err := DecodePrivate(got, nil); err == nil {
					t.Fatalf("crash at %d (%v): torn file decoded as a key", n, mode)
				}
			}
		}
		if n > 50 {
			t.Fatal("WriteNew never completed")
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	key, _ := Generate(ECDSAP256, nil)
	good, _ := EncodePrivate(key, nil, nil)
	pub, _ := EncodePublic(key.Public())
	cases := map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("not a key"),
		"trailing":     append(append([]byte{}, good...), "junk"...),
		"two blocks":   append(append([]byte{}, good...), good...),
		"public":       pub,
		"oversize":     append(bytes.Repeat([]byte(" "), MaxFileSize), good...),
		"rsa-looking":  []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
		"bad encoding": []byte("-----BEGIN BASELINE ENCRYPTED PRIVATE KEY-----\nVersion: 2\n\nAAAA\n-----END BASELINE ENCRYPTED PRIVATE KEY-----\n"),
	}
	for name, data := range cases {
		if _, err := DecodePrivate(data, []byte("x")); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := DecodePublic(good); err == nil {
		t.Error("private key accepted as public")
	}
}

func FuzzDecodeKeyFile(f *testing.F) {
	for _, alg := range Algorithms {
		key, _ := Generate(alg, nil)
		plain, _ := EncodePrivate(key, nil, nil)
		enc, _ := EncodePrivate(key, []byte("pw"), fastKDF)
		pub, _ := EncodePublic(key.Public())
		f.Add(plain, []byte(nil))
		f.Add(enc, []byte("pw"))
		f.Add(enc, []byte("wrong"))
		f.Add(pub, []byte(nil))
	}
	f.Add([]byte("-----BEGIN BASELINE ENCRYPTED PRIVATE KEY-----\nVersion: 1\nKDF: argon2id\nKDF-Params: m=8,t=1,p=1\nSalt: AAAAAAAAAAAAAAAAAAAAAA==\nCipher: xchacha20-poly1305\nNonce: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\nAAAA\n-----END BASELINE ENCRYPTED PRIVATE KEY-----\n"), []byte("pw"))
	f.Fuzz(func(t *testing.T, data, pass []byte) {
		if k, err := DecodePrivate(data, pass); err == nil {
			// Whatever decodes re-encodes to a file that decodes to the
			// same key.
			again, err := EncodePrivate(k, nil, nil)
			if err != nil {
				t.Fatalf("decoded key does not re-encode: %v", err)
			}
			k2, err := DecodePrivate(again, nil)
			if err != nil || !k2.(equaler).Equal(k) {
				t.Fatalf("re-encoded key differs: %v", err)
			}
		}
		if p, err := DecodePublic(data); err == nil {
			if _, err := EncodePublic(p); err != nil {
				t.Fatalf("decoded public key does not re-encode: %v", err)
			}
		}
	})
}

// BenchmarkDecodeEncryptedDefault is the cost of opening a key file written
// with DefaultKDF: what every `baseline release` run pays per encrypted key.
func BenchmarkDecodeEncryptedDefault(b *testing.B) {
	key, _ := Generate(Ed25519, nil)
	data, err := EncodePrivate(key, []byte("passphrase"), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := DecodePrivate(data, []byte("passphrase")); err != nil {
			b.Fatal(err)
		}
	}
}
