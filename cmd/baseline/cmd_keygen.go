package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/update/release"
)

func init() {
	register(command{
		name:    "keygen",
		summary: "make a release signing key pair (ECDSA P-256, Ed25519, ML-DSA-65)",
		run:     runKeygen,
	})
}

func keygenUsage(w io.Writer) {
	fmt.Fprintln(w, `usage: baseline keygen -alg ALG -out PREFIX (-passphrase-file FILE | -passphrase-env VAR | -insecure-plaintext)

Writes PREFIX.key (private key, mode 0600, never overwritten) and PREFIX.pub
(PEM PKIX public key) and prints the public key; for the TUF algorithms
(ecdsa-p256, ed25519) also the TUF key ID and key JSON for root.json.

ALG is ecdsa-p256 (default), ed25519 or ml-dsa-65. ML-DSA-65 keys make the
post-quantum co-signature of a release (baseline release add -mldsa-key);
TUF roles take only ecdsa-p256 and ed25519 keys.

The private key is encrypted (Argon2id + XChaCha20-Poly1305) with the
passphrase read from FILE (one trailing newline removed; refused if other
users can read the file) or from the environment variable VAR; passphrases
are never taken on the command line, where other users can read them. A new
key's passphrase has at least 12 characters. -insecure-plaintext writes it unencrypted
PKCS#8 instead, for keys that live in a vault or HSM import.

Flags:`)
}

func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { keygenUsage(stderr); fs.PrintDefaults() }
	alg := fs.String("alg", string(keyfile.ECDSAP256), "key `algorithm`: ecdsa-p256, ed25519 or ml-dsa-65")
	out := fs.String("out", "", "output `prefix`: writes PREFIX.key and PREFIX.pub (required)")
	var pf passphraseFlags
	pf.register(fs)
	plaintext := fs.Bool("insecure-plaintext", false, "write the private key unencrypted")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 || *out == "" {
		fmt.Fprintln(stderr, "baseline keygen: -out is required and no arguments are taken")
		return 2
	}
	if !pf.given() && !*plaintext {
		fmt.Fprintln(stderr, "baseline keygen: give -passphrase-file or -passphrase-env, or -insecure-plaintext to write the key unencrypted")
		return 2
	}
	if pf.given() && *plaintext {
		fmt.Fprintln(stderr, "baseline keygen: -insecure-plaintext and a passphrase exclude each other")
		return 2
	}
	var pass []byte
	if pf.given() {
		var err error
		if pass, err = pf.read(); err == nil && len(pass) < minNewPassphrase {
			err = fmt.Errorf("the passphrase for a new key must be at least %d characters", minNewPassphrase)
		}
		if err != nil {
			fmt.Fprintf(stderr, "baseline keygen: %s\n", oneLine(err.Error()))
			return 2
		}
		defer clear(pass)
	}
	known := false
	for _, a := range keyfile.Algorithms {
		known = known || string(a) == *alg
	}
	if !known {
		fmt.Fprintf(stderr, "baseline keygen: unknown algorithm %q (want ecdsa-p256, ed25519 or ml-dsa-65)\n", *alg)
		return 2
	}
	key, err := keyfile.Generate(keyfile.Algorithm(*alg), nil)
	if err != nil {
		fmt.Fprintf(stderr, "baseline keygen: %v\n", err)
		return 1
	}
	priv, err := keyfile.EncodePrivate(key, pass, nil)
	if err != nil {
		fmt.Fprintf(stderr, "baseline keygen: %v\n", err)
		return 1
	}
	pub, err := keyfile.EncodePublic(key.Public())
	if err != nil {
		fmt.Fprintf(stderr, "baseline keygen: %v\n", err)
		return 1
	}
	keyPath, pubPath := *out+".key", *out+".pub"
	// Check both before writing either, so a refusal leaves nothing behind.
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			fmt.Fprintf(stderr, "baseline keygen: %s exists; refusing to overwrite a key\n", p)
			return 1
		}
	}
	if err := keyfile.WriteNew(durable.OS, keyPath, priv, 0o600); err != nil {
		fmt.Fprintf(stderr, "baseline keygen: %s\n", oneLine(err.Error()))
		return 1
	}
	if err := keyfile.WriteNew(durable.OS, pubPath, pub, 0o644); err != nil {
		durable.Remove(durable.OS, keyPath)
		fmt.Fprintf(stderr, "baseline keygen: %s\n", oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "algorithm: %s\nprivate key: %s (mode 0600, %s)\npublic key: %s\n", *alg, keyPath,
		map[bool]string{true: "encrypted", false: "NOT encrypted"}[len(pass) > 0], pubPath)
	if pq, ok := key.Public().(*mldsa65.PublicKey); ok {
		// The ID the co-signature names; the device pins the .pub file.
		fmt.Fprintf(stdout, "ml-dsa key id: %s\n", release.MLDSAKeyID(pq))
	} else {
		tk, err := metadata.KeyFromPublicKey(key.Public())
		if err != nil {
			fmt.Fprintf(stderr, "baseline keygen: %v\n", err)
			return 1
		}
		id, err := tk.ID()
		if err != nil {
			fmt.Fprintf(stderr, "baseline keygen: %v\n", err)
			return 1
		}
		js, err := json.Marshal(tk)
		if err != nil {
			fmt.Fprintf(stderr, "baseline keygen: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "tuf key id: %s\ntuf key: %s\n", id, js)
	}
	stdout.Write(pub)
	return 0
}

// maxPassphrase bounds a passphrase file; a passphrase is a line, not a
// document.
const maxPassphrase = 4 << 10

// minNewPassphrase is the shortest passphrase keygen accepts for a new key:
// the key file is exactly as strong as it (Argon2id slows guessing, it does
// not make a short passphrase long).
const minNewPassphrase = 12

// passphraseFlags are the two ways a subcommand takes a passphrase. Neither
// puts the secret on the command line (visible in ps and shell history).
type passphraseFlags struct {
	file, env string
}

func (p *passphraseFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.file, "passphrase-file", "", "read the key passphrase from `FILE` (one trailing newline removed)")
	fs.StringVar(&p.env, "passphrase-env", "", "read the key passphrase from environment variable `VAR`")
}

func (p *passphraseFlags) given() bool { return p.file != "" || p.env != "" }

// read returns the passphrase, or nil if none was asked for.
func (p *passphraseFlags) read() ([]byte, error) {
	switch {
	case p.file != "" && p.env != "":
		return nil, errors.New("give only one of -passphrase-file and -passphrase-env")
	case p.file != "":
		if fi, err := os.Stat(p.file); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("passphrase file %s can be read by other users (mode %v): chmod 600 it", p.file, fi.Mode().Perm())
		}
		b, err := durable.ReadFile(durable.OS, p.file, maxPassphrase)
		if err != nil {
			return nil, fmt.Errorf("reading passphrase file: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return nil, errors.New("passphrase file is empty")
		}
		return b, nil
	case p.env != "":
		v, ok := os.LookupEnv(p.env)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is unset or empty", p.env)
		}
		if len(v) > maxPassphrase {
			return nil, errors.New("passphrase too long")
		}
		return []byte(v), nil
	}
	return nil, nil
}
