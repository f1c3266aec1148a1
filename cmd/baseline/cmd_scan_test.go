package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/secrets"
)

// planted is one secret put into a test tree, with the kind scan must
// report for it.
type planted struct {
	name, kind string
	secret     []byte // bytes that must never appear in a report
	file       []byte // the file's content
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomAlnum(n int) string {
	return randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// randomSecret is a 32-character base64 value that highEntropy accepts
// (redrawn in the rare case a random draw does not look random).
func randomSecret(t testing.TB) string {
	for range 100 {
		s := base64.RawURLEncoding.EncodeToString(randomBytes(24))
		if highEntropy([]byte(s)) {
			return s
		}
	}
	t.Fatal("no high-entropy draw in 100 tries")
	return ""
}

// pemBody is the base64 text of a PEM block, the part that is secret.
func pemBody(p []byte) []byte {
	blk, _ := pem.Decode(p)
	return []byte(base64.StdEncoding.EncodeToString(blk.Bytes)[8:72])
}

// keys made once per test binary: generating RSA keys is slow.
type testKeys struct {
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	pkcs8EC  []byte
	pkcs8Ed  []byte
	pkcs1RSA []byte
	sec1     []byte
}

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	k := &testKeys{rsa: rsaKey, ec: ecKey, ed: edKey, pkcs1RSA: x509.MarshalPKCS1PrivateKey(rsaKey)}
	k.pkcs8EC, _ = x509.MarshalPKCS8PrivateKey(ecKey)
	k.pkcs8Ed, _ = x509.MarshalPKCS8PrivateKey(edKey)
	k.sec1, _ = x509.MarshalECPrivateKey(ecKey)
	return k
}

// pfx builds the start of a PKCS#12 file (RFC 7292): version 3 and an
// authSafe ContentInfo, of type pkcs7-data (password integrity, content an
// OCTET STRING) or pkcs7-signedData (public-key integrity, a SEQUENCE).
// There is no PKCS#12 encoder in reach; the detector reads only this much.
func pfx(t testing.TB, signed bool) []byte {
	type contentInfo struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue // [0] EXPLICIT, built by hand: asn1 ignores the tag on a RawValue
	}
	type pfxPDU struct {
		Version  int
		AuthSafe contentInfo
		MacData  asn1.RawValue
	}
	typ := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	inner, _ := asn1.Marshal(randomBytes(700)) // OCTET STRING
	if signed {
		typ = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
		inner, _ = asn1.Marshal(struct {
			Version int
			Blob    []byte
		}{1, randomBytes(700)})
	}
	mac, _ := asn1.Marshal(randomBytes(32))
	content := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}
	b, err := asn1.Marshal(pfxPDU{3, contentInfo{typ, content}, asn1.RawValue{FullBytes: mac}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pfxBER is a PFX in BER with indefinite lengths, as some tools write it.
func pfxBER(content []byte) []byte {
	b := []byte{0x30, 0x80, 0x02, 0x01, 0x03, 0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x80, 0x24, 0x80}
	for len(content) > 0 {
		n := min(len(content), 100)
		b = append(b, 0x04, byte(n))
		b = append(b, content[:n]...)
		content = content[n:]
	}
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0)
}

// plantAll makes one file per kind (and form) of secret scan looks for,
// every key generated now, so the test tree is the only place they exist.
func plantAll(t *testing.T, k *testKeys) []planted {
	t.Helper()
	var ps []planted
	plant := func(name, kind string, secret, file []byte) {
		ps = append(ps, planted{name, kind, secret, file})
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	// PEM, every type named in the task.
	rsaPEM := pemOf("RSA PRIVATE KEY", k.pkcs1RSA)
	plant("rsa_pkcs1.pem", kindPEMKey, pemBody(rsaPEM), rsaPEM)
	ecPEM := pemOf("EC PRIVATE KEY", k.sec1)
	plant("ec_sec1.pem", kindPEMKey, pemBody(ecPEM), ecPEM)
	p8 := pemOf("PRIVATE KEY", k.pkcs8EC)
	plant("pkcs8.pem", kindPEMKey, pemBody(p8), p8)
	type algID struct{ Algorithm asn1.ObjectIdentifier }
	encDER, _ := asn1.Marshal(struct {
		Alg  algID
		Data []byte
	}{algID{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}}, randomBytes(160)})
	enc := pemOf("ENCRYPTED PRIVATE KEY", encDER)
	plant("encrypted.pem", kindPEMKey, pemBody(enc), enc)
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: randomBytes(1200),
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC," + hex.EncodeToString(randomBytes(16))}})
	plant("legacy-encrypted.pem", kindPEMKey, pemBody(legacy), legacy)
	dsaDER, _ := asn1.Marshal(struct{ V, P, Q, G, Y, X []byte }{[]byte{0}, randomBytes(128), randomBytes(20), randomBytes(128), randomBytes(128), randomBytes(20)})
	dsa := pemOf("DSA PRIVATE KEY", dsaDER)
	plant("dsa.pem", kindPEMKey, pemBody(dsa), dsa)
	sshBlock, err := ssh.MarshalPrivateKey(k.ed, "test")
	if err != nil {
		t.Fatal(err)
	}
	sshPEM := pem.EncodeToMemory(sshBlock)
	plant("id_ed25519", kindPEMKey, pemBody(sshPEM), sshPEM)
	pgp := pem.EncodeToMemory(&pem.Block{Type: "PGP PRIVATE KEY BLOCK", Headers: map[string]string{"Comment": "test"}, Bytes: randomBytes(600)})
	plant("secring.asc", kindPEMKey, pemBody(pgp), pgp)
	// The SDK's own encrypted key file.
	signer, _ := keyfile.Generate(keyfile.Ed25519, nil)
	bl, err := keyfile.EncodePrivate(signer, []byte("pass phrase"), &keyfile.MinKDF)
	if err != nil {
		t.Fatal(err)
	}
	plant("release.key", kindPEMKey, pemBody(bl), bl)

	// PEM inside source code: a C string per line, a Go string with "\n"
	// escapes, a JSON service-account file, base64-encoded PEM in YAML.
	var c strings.Builder
	c.WriteString("static const char *device_key =\n")
	for _, l := range strings.SplitAfter(strings.TrimSpace(string(p8)), "\n") {
		fmt.Fprintf(&c, "    %q\n", l)
	}
	c.WriteString(";\n")
	plant("device_key.c", kindPEMKey, pemBody(p8), []byte(c.String()))
	var sh strings.Builder
	for _, l := range strings.SplitAfter(string(ecPEM), "\n") {
		sh.WriteString("# " + l)
	}
	plant("commented.sh", kindPEMKey, pemBody(ecPEM), []byte(sh.String()))
	plant("key_escaped.go", kindPEMKey, pemBody(rsaPEM), []byte("package fw\n\nconst key = "+fmt.Sprintf("%q", rsaPEM)+"\n"))
	js, _ := json.Marshal(map[string]string{"type": "service_account", "private_key": string(p8)})
	plant("service-account.json", kindPEMKey, pemBody(p8), js)
	b64 := base64.StdEncoding.EncodeToString(ecPEM)
	plant("secret.yaml", kindPEMKey, []byte(b64[20:80]), []byte("apiVersion: v1\nkind: Secret\ndata:\n  tls.key: "+b64+"\n"))

	// DER keys inside binary blobs.
	blob := func(der []byte) []byte {
		return append(append(randomBytes(3000), der...), randomBytes(5000)...)
	}
	plant("firmware-pkcs8.bin", kindDERKey, k.pkcs8Ed, blob(k.pkcs8Ed))
	plant("firmware-pkcs1.bin", kindDERKey, k.pkcs1RSA, blob(k.pkcs1RSA))
	plant("firmware-sec1.bin", kindDERKey, k.sec1, blob(k.sec1))
	mldsa, _ := keyfile.Generate(keyfile.MLDSA65, nil)
	mlPEM, _ := keyfile.EncodePrivate(mldsa, nil, nil)
	mlBlk, _ := pem.Decode(mlPEM)
	plant("firmware-mldsa.bin", kindDERKey, mlBlk.Bytes, blob(mlBlk.Bytes))

	// PKCS#12 stores.
	p12 := pfx(t, false)
	plant("device.p12", kindPKCS12, p12[40:], p12)
	p12s := pfx(t, true)
	plant("device-signed.pfx", kindPKCS12, p12s[40:], append(randomBytes(100), p12s...))
	ber := randomBytes(900)
	plant("legacy.pfx", kindPKCS12, ber[:100], pfxBER(ber))

	// Token formats.
	for _, tok := range []string{
		"AKIA" + randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
		"ghp_" + randomAlnum(36),
		"gho_" + randomAlnum(36),
		"ghs_" + randomAlnum(36),
		"github_pat_" + randomAlnum(22) + "_" + randomAlnum(59),
		"xoxb-" + randomFrom("0123456789", 11) + "-" + randomFrom("0123456789", 11) + "-" + randomAlnum(24),
		"xoxp-" + randomFrom("0123456789", 11) + "-" + randomAlnum(32),
		"AIza" + randomAlnum(35),
		"sk_live_" + randomAlnum(24),
		"eyJ" + randomAlnum(20) + ".eyJ" + randomAlnum(30) + "." + randomAlnum(43),
	} {
		plant("token_"+tok[:5]+".yaml", kindToken, []byte(tok[4:]), []byte("service:\n  value: "+tok+"\n"))
	}

	// High-entropy values after credential words.
	for i, line := range []string{
		"const adminPassword = \"%s\"\n",
		`{"api_key": "%s"}` + "\n",
		"curl -H 'Authorization: Bearer %s' https://example.com\n",
		"url = https://example.com/v1?token=%s&device=1\n",
		"<config><password>%s</password></config>\n",
		"DEVICE_SECRET=%s\n",
		`const cfg = "{\"auth_token\": \"%s\"}"` + "\n",
	} {
		v := randomSecret(t)
		plant(fmt.Sprintf("cred%d.txt", i), kindEntropy, []byte(v[4:]), []byte("line one\n"+fmt.Sprintf(line, v)))
	}

	plant("settings.json", kindSealedName, []byte("Wh4t3v3r-PSK"), []byte(`{"ssid": "home", "wifi_psk": "Wh4t3v3r-PSK"}`+"\n"))
	return ps
}

func writeTree(t *testing.T, ps []planted) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range ps {
		if err := os.WriteFile(filepath.Join(dir, p.name), p.file, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runScanCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"scan"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func scanJSON(t *testing.T, args ...string) (int, scanResult, string) {
	t.Helper()
	code, out, errs := runScanCmd(append([]string{"-format", "json"}, args...)...)
	var res scanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("scan %v: exit %d, output is not JSON: %v\n%s%s", args, code, err, out, errs)
	}
	return code, res, errs
}

func byPath(fs []scanFinding) map[string][]scanFinding {
	m := map[string][]scanFinding{}
	for _, f := range fs {
		m[filepath.Base(f.Path)] = append(m[filepath.Base(f.Path)], f)
	}
	return m
}

func TestScanFindsEveryKind(t *testing.T) {
	k := newTestKeys(t)
	ps := plantAll(t, k)
	dir := writeTree(t, ps)
	sealed := writeTemp(t, "sealed-names", "# names of the sealed store\nwifi_psk\n")
	code, res, errs := scanJSON(t, "-sealed-names", sealed, dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (findings); stderr %s", code, errs)
	}
	got := byPath(res.Findings)
	for _, p := range ps {
		fs := got[p.name]
		if len(fs) != 1 || fs[0].Kind != p.kind {
			t.Errorf("%s: want one %s finding, got %+v", p.name, p.kind, fs)
			continue
		}
		if fs[0].Path != filepath.ToSlash(filepath.Join(dir, p.name)) {
			t.Errorf("%s: path %q", p.name, fs[0].Path)
		}
	}
	if res.FilesScanned != len(ps) || len(res.Errors) != 0 {
		t.Errorf("files %d (want %d), errors %v", res.FilesScanned, len(ps), res.Errors)
	}
	// Where the findings are.
	if f := got["firmware-pkcs1.bin"]; len(f) == 1 && (f[0].Offset != 3000 || f[0].Line != 0 || f[0].Length != len(k.pkcs1RSA)) {
		t.Errorf("DER key at 3000 (%d bytes), binary: reported %+v", len(k.pkcs1RSA), f[0])
	}
	if f := got["device-signed.pfx"]; len(f) == 1 && f[0].Offset != 100 {
		t.Errorf("PFX at 100: reported at %d", f[0].Offset)
	}
	if f := got["cred0.txt"]; len(f) == 1 && (f[0].Line != 2 || f[0].Offset != int64(len("line one\nconst adminPassword = \""))) {
		t.Errorf("password on line 2: reported %+v", f[0])
	}
	if f := got["device_key.c"]; len(f) == 1 && f[0].Line != 2 {
		t.Errorf("C string key on line 2: reported line %d", f[0].Line)
	}
	// The same key has the same fingerprint in PEM (a file, a C string, a
	// JSON string) and in DER.
	want := fingerprint(k.pkcs8EC)
	for _, name := range []string{"pkcs8.pem", "device_key.c", "service-account.json"} {
		if f := got[name]; len(f) == 1 && f[0].Fingerprint != want {
			t.Errorf("%s: fingerprint %s, want %s (SHA-256 of the DER)", name, f[0].Fingerprint, want)
		}
	}
	if f := got["firmware-sec1.bin"]; len(f) == 1 && f[0].Fingerprint != fingerprint(k.sec1) {
		t.Errorf("DER fingerprint %s, want %s", f[0].Fingerprint, fingerprint(k.sec1))
	}
	if f := got["ec_sec1.pem"]; len(f) == 1 && f[0].Fingerprint != fingerprint(k.sec1) {
		t.Errorf("PEM of the DER key: fingerprint %s, want %s", f[0].Fingerprint, fingerprint(k.sec1))
	}
	// Stable across runs.
	_, again, _ := scanJSON(t, "-sealed-names", sealed, dir)
	for i := range again.Findings {
		if again.Findings[i] != res.Findings[i] {
			t.Errorf("second run differs: %+v vs %+v", again.Findings[i], res.Findings[i])
		}
	}
}

func TestScanReportNeverHoldsTheSecret(t *testing.T) {
	ps := plantAll(t, newTestKeys(t))
	dir := writeTree(t, ps)
	sealed := writeTemp(t, "sealed-names", "wifi_psk\n")
	allow := writeTemp(t, "allow", "**/token_* fixture: fake tokens\n")
	for _, format := range []string{"text", "json", "sarif"} {
		_, out, errs := runScanCmd("-format", format, "-sealed-names", sealed, "-allow", allow, dir)
		out += errs
		for _, p := range ps {
			for _, form := range [][]byte{p.secret, []byte(hex.EncodeToString(p.secret)), []byte(base64.StdEncoding.EncodeToString(p.secret))} {
				if bytes.Contains([]byte(out), form[:min(len(form), 12)]) {
					t.Errorf("%s report holds the secret of %s", format, p.name)
				}
			}
		}
		// A sealed-name finding shows no character of the value.
		if strings.Contains(out, "Wh4t") {
			t.Errorf("%s report shows the start of the sealed value", format)
		}
	}
}

func TestScanCleanTree(t *testing.T) {
	// The durable package's sources: code full of words like "sync",
	// "key" and "auth", hashes in comments, and no secret.
	dir := t.TempDir()
	files, _ := filepath.Glob("../../durable/*.go")
	if len(files) < 5 {
		t.Fatalf("durable sources not found: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	code, out, errs := runScanCmd(dir)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("scanned %d files", len(files))) || !strings.Contains(out, " 0 finding(s)") {
		t.Errorf("clean tree: exit %d\n%s%s", code, out, errs)
	}
}

// TestScanNotSecrets: things that look like secrets to a naive scanner
// and are not.
func TestScanNotSecrets(t *testing.T) {
	k := newTestKeys(t)
	pub, _ := x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	v := randomSecret(t)
	files := map[string]string{
		"parser.go":       "const typ = \"-----BEGIN RSA PRIVATE KEY-----\"\nconst end = \"-----END RSA PRIVATE KEY-----\"\n",
		"empty.pem":       "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
		"docs.md":         "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj... (truncated)\n-----END PRIVATE KEY-----\n",
		"truncated.pem":   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.pkcs8EC[:len(k.pkcs8EC)-20]})),
		"public.pem":      string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"keyfile_doc.go":  "//\t-----BEGIN BASELINE ENCRYPTED PRIVATE KEY-----\n//\tVersion: 1\n//\tSalt: <base64, 16 random bytes>\n//\n//\t<base64 of the AEAD ciphertext of the PKCS#8 DER above>\n//\t-----END BASELINE ENCRYPTED PRIVATE KEY-----\n",
		"algs.go":         "const AlgSecret = \"tink-aead/aes256-gcm\"\nconst AuthScheme = \"hkdf-sha256/aes256-gcm\"\n",
		"calls.go":        "token := makeToken(t, \"device-1\")\npassword := strings.Repeat(\"a\", 64)\n",
		"far.go":          "password is set below, many bytes later, after this long comment = " + v + "\n",
		"inside_word.go":  "nonsecret = \"" + v + "\"\n",
		"hex_low.txt":     "token = 0000000000000000000000000000000000000000\n",
		"placeholder.env": "WIFI_PSK=${WIFI_PSK}\nwifi_psk: <set at the factory>\n",
		"uuid.txt":        "device_id = 123e4567-e89b-12d3-a456-426614174000\n",
		"short.seed":      kekSeedMagic + "short",
		"kek.seed.bak":    kekSeedMagic + string(randomBytes(32)) + "\n",
	}
	dir := t.TempDir()
	for name, content := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	sealed := writeTemp(t, "sealed", "wifi_psk\n")
	code, res, _ := scanJSON(t, "-sealed-names", sealed, dir)
	if code != 0 || len(res.Findings) != 0 {
		t.Errorf("exit %d, findings:\n%+v", code, res.Findings)
	}
}

// TestScanChunkBoundary puts secrets across the boundaries between rounds
// and checks each is found once, at its offset and line.
func TestScanChunkBoundary(t *testing.T) {
	k := newTestKeys(t)
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.pkcs8EC})
	tok := "ghp_" + randomAlnum(36)
	cred := "password = \"" + randomSecret(t) + "\""
	line := strings.Repeat("x", 60) + "\n"
	// The boundaries of the windows: the first round's limit is
	// scanLookback+scanChunk, each later one scanChunk further.
	for _, boundary := range []int{scanLookback + scanChunk, scanLookback + 2*scanChunk} {
		for _, tc := range []struct {
			name, kind string
			secret     []byte
			back       int // how far before the boundary the secret starts
			at         int // where the finding is, from the secret's start
		}{
			{"PEM straddling", kindPEMKey, p, len(p) / 2, 0},
			{"PEM ending at", kindPEMKey, p, len(p), 0},
			{"PEM starting at", kindPEMKey, p, 0, 0},
			{"PEM just before", kindPEMKey, p, 1, 0},
			{"DER straddling", kindDERKey, k.pkcs1RSA, 700, 0},
			{"token straddling", kindToken, []byte(tok), 20, 0},
			{"token at", kindToken, []byte(tok), 0, 0},
			{"token in the lookback", kindToken, []byte(tok), -100, 0},
			{"token after the lookback", kindToken, []byte(tok), -scanLookback - 3, 0},
			{"credential word before, value after", kindEntropy, []byte(cred), 5, len("password = \"")},
			{"value straddling", kindEntropy, []byte(cred), len(cred) - 3, len("password = \"")},
			{"PFX header straddling", kindPKCS12, pfx(t, false), 3, 0},
		} {
			t.Run(fmt.Sprintf("%s %d", tc.name, boundary), func(t *testing.T) {
				// Text: lines of x, the secret starting a line exactly
				// tc.back bytes before the boundary, and enough after it
				// for the boundary to be one (a round ends scanOverlap
				// before the data it has read).
				img := []byte(strings.Repeat(line, (boundary+scanOverlap+scanChunk/2)/len(line)))
				at := boundary - tc.back
				img[at-1] = '\n'
				img = append(img[:at:at], append(append([]byte{}, tc.secret...), img[at:]...)...)
				s := newScanner(nil)
				rounds := 0
				if err := s.scanReader(readCounter{bytes.NewReader(img), &rounds}, "img"); err != nil {
					t.Fatal(err)
				}
				if want := (boundary - scanLookback) / scanChunk; rounds <= want {
					t.Fatalf("%d reads: the boundary at %d was not crossed", rounds, boundary)
				}
				var got []scanFinding
				for _, f := range s.res.Findings {
					if f.Kind == tc.kind {
						got = append(got, f)
					}
				}
				if len(got) != 1 || got[0].Offset != int64(at+tc.at) {
					t.Fatalf("secret at %d (boundary %d): found %+v", at+tc.at, boundary, got)
				}
				if tc.kind != kindDERKey && tc.kind != kindPKCS12 {
					if want := bytes.Count(img[:at], []byte{'\n'}) + 1; got[0].Line != want {
						t.Errorf("line %d, want %d", got[0].Line, want)
					}
				}
			})
		}
	}
}

// readCounter counts the reads that returned data.
type readCounter struct {
	r *bytes.Reader
	n *int
}

func (c readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		*c.n++
	}
	return n, err
}

// TestScanGoBinary builds a program holding a PEM key, a DER key and a
// token, and finds them in the executable.
func TestScanGoBinary(t *testing.T) {
	goTool := testenv.LookPath(t, "go")
	k := newTestKeys(t)
	p := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k.sec1})
	tok := "AKIA" + randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	src := fmt.Sprintf(`package main

import (
	"fmt"
	"os"
)

const key = %q

var der = []byte(%q)

var id = %q

var idNoDigit = %q

func main() {
	if len(os.Args) > 5 {
		fmt.Println(key, der, id, idNoDigit)
	}
}
`, p, k.pkcs8Ed, tok, "AKIA"+randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 16))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	bin := filepath.Join(t.TempDir(), "fw")
	cmd := exec.Command(goTool, "build", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	code, res, _ := scanJSON(t, bin)
	kinds := map[string]int{}
	for _, f := range res.Findings {
		kinds[f.Kind]++
		if f.Line != 0 {
			t.Errorf("a line number in a binary: %+v", f)
		}
	}
	// Two AWS key IDs, one without a digit (as about one real ID in 28 is).
	if code != 1 || kinds[kindPEMKey] != 1 || kinds[kindDERKey] != 1 || kinds[kindToken] != 2 {
		t.Errorf("exit %d, findings %+v", code, res.Findings)
	}
}

// TestScanRootFS: a root file system with a soft KEK seed the image
// should not hold, symbolic links out of the tree, a pipe and a .git
// directory.
func TestScanRootFS(t *testing.T) {
	root := t.TempDir()
	seed := filepath.Join(root, "var/lib/device/kek.seed")
	if _, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{Path: seed}); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "id_rsa"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: newTestKeys(t).pkcs8Ed}), 0o644)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, ".git"), 0o755)
	os.WriteFile(filepath.Join(root, ".git", "token"), []byte("ghp_"+randomAlnum(36)), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("plug\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(root, "etc", "outside")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(outside, "id_rsa"), filepath.Join(root, "etc", "key"))
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "fifo"), 0o644); err != nil {
		t.Logf("no FIFO: %v", err) // a pipe would block the scan if it were opened
	}
	code, res, errs := scanJSON(t, root)
	if code != 1 || len(res.Findings) != 1 || res.Findings[0].Kind != kindKEKSeed || res.Findings[0].Path != filepath.ToSlash(seed) {
		t.Fatalf("exit %d, findings %+v; %s", code, res.Findings, errs)
	}
	if res.FilesScanned != 2 {
		t.Errorf("scanned %d files, want 2 (hostname, kek.seed)", res.FilesScanned)
	}
	// A symbolic link named on the command line is followed.
	link := filepath.Join(t.TempDir(), "rootfs")
	os.Symlink(root, link)
	if _, res, _ := scanJSON(t, link); len(res.Findings) != 1 || !strings.HasPrefix(res.Findings[0].Path, filepath.ToSlash(link)+"/") {
		t.Errorf("symlinked root: %+v", res.Findings)
	}
}

func TestScanAllowList(t *testing.T) {
	ps := plantAll(t, newTestKeys(t))
	dir := writeTree(t, ps)
	_, res, _ := scanJSON(t, dir)
	if len(res.Findings) < 10 {
		t.Fatalf("only %d findings to allow", len(res.Findings))
	}
	fp := byPath(res.Findings)
	lines := []string{
		"# test fixtures",
		fp["pkcs8.pem"][0].Fingerprint + "  fixture: throwaway key made by the test",
		fp["device.p12"][0].Fingerprint + "\tfixture: tab-separated",
		"**/token_* fixture: fake tokens in the test tree",
		filepath.ToSlash(dir) + "/** fixture: the rest of the tree",
		"0123456789abcdef  never matches",
	}
	allow := writeTemp(t, "allow", strings.Join(lines, "\n")+"\n")
	code, res, errs := scanJSON(t, "-allow", allow, dir)
	// Every planted secret but the sealed name (no -sealed-names here).
	if code != 0 || len(res.Findings) != 0 || len(res.Suppressed) != len(ps)-1 {
		t.Fatalf("with the allow-list: exit %d, %d findings, %d suppressed; %s", code, len(res.Findings), len(res.Suppressed), errs)
	}
	sup := byPath(res.Suppressed)
	for name, want := range map[string]string{"pkcs8.pem": "fixture: throwaway key made by the test", "device.p12": "fixture: tab-separated",
		"rsa_pkcs1.pem": "fixture: the rest of the tree"} {
		if f := sup[name]; len(f) != 1 || f[0].Reason != want {
			t.Errorf("%s suppressed with %+v, want reason %q", name, f, want)
		}
	}
	for name, f := range sup {
		if strings.HasPrefix(name, "token_") && f[0].Reason != "fixture: fake tokens in the test tree" {
			t.Errorf("%s: reason %q, want the glob's", name, f[0].Reason)
		}
	}
	if !strings.Contains(errs, "warning: allow-list entry matched nothing (line 6: 0123456789abcdef)") || len(res.UnusedAllow) != 1 {
		t.Errorf("unused entry not reported: %q %v", errs, res.UnusedAllow)
	}
	// Only what is allowed is suppressed.
	partial := writeTemp(t, "allow-partial", "**/token_* fixture: fake tokens\n")
	if code, res, _ := scanJSON(t, "-allow", partial, dir); code != 1 || len(res.Suppressed) != 10 || len(res.Findings) != len(ps)-11 {
		t.Errorf("partial allow-list: exit %d, %d suppressed, %d findings", code, len(res.Suppressed), len(res.Findings))
	}
	// A reason is required.
	for _, bad := range []string{fp["pkcs8.pem"][0].Fingerprint + "\n", "**/token_*   \n", "[ bad glob\n"} {
		f := writeTemp(t, "allow-bad", bad)
		if code, _, errs := runScanCmd("-allow", f, dir); code != 2 || !strings.Contains(errs, "line 1") {
			t.Errorf("allow-list %q: exit %d %q", bad, code, errs)
		}
	}
}

func TestScanUnreadable(t *testing.T) {
	secretTree := func(t *testing.T) string {
		return writeTree(t, []planted{{name: "t.yaml", file: []byte("k: ghp_" + randomAlnum(36) + "\n")}})
	}
	t.Run("chmod 000", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads a mode 000 file")
		}
		dir := secretTree(t)
		locked := filepath.Join(dir, "a-locked")
		os.WriteFile(locked, []byte("x"), 0o000)
		code, res, _ := scanJSON(t, dir)
		if code != 1 || len(res.Findings) != 1 || len(res.Errors) != 1 || res.Errors[0].Path != filepath.ToSlash(locked) || res.FilesScanned != 1 {
			t.Errorf("exit %d findings %d errors %+v files %d", code, len(res.Findings), res.Errors, res.FilesScanned)
		}
		os.Remove(filepath.Join(dir, "t.yaml"))
		if code, res, _ := scanJSON(t, dir); code != 2 || len(res.Errors) != 1 {
			t.Errorf("nothing found but a file unreadable: exit %d, %v", code, res.Errors)
		}
	})
	t.Run("read error", func(t *testing.T) {
		// /proc/self/mem opens and then fails with EIO at offset 0, even
		// for root.
		if _, err := os.Stat("/proc/self/mem"); err != nil {
			testenv.Unavailable(t, "/proc/self/mem")
		}
		dir := secretTree(t)
		missing := filepath.Join(dir, "does-not-exist")
		code, res, _ := scanJSON(t, "/proc/self/mem", dir, missing)
		if code != 1 || len(res.Findings) != 1 || len(res.Errors) != 2 || res.FilesScanned != 1 {
			t.Errorf("exit %d findings %d errors %+v", code, len(res.Findings), res.Errors)
		}
		// Nothing found, but the scan is incomplete: not a pass.
		code, out, errs := runScanCmd("/proc/self/mem", filepath.Join(dir, "nothing-here"))
		if code != 2 || !strings.Contains(out, "/proc/self/mem: not scanned: read: input/output error") || !strings.Contains(errs, "incomplete") {
			t.Errorf("exit %d, report: %s%s", code, out, errs)
		}
	})
}

// TestScanOutputs checks the JSON and SARIF documents as a consumer reads
// them: field names on the wire, not our structs.
func TestScanOutputs(t *testing.T) {
	dir := t.TempDir()
	tok := "sk_live_" + randomAlnum(30)
	os.WriteFile(filepath.Join(dir, "a.env"), []byte("# config\nSTRIPE="+tok+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.bin"), append([]byte{0, 1, 2}, newTestKeys(t).sec1...), 0o644)
	allow := writeTemp(t, "allow", "**/b.bin fixture: test key\n")

	jsonFile := filepath.Join(t.TempDir(), "scan.json")
	code, stdout, _ := runScanCmd("-format", "json", "-allow", allow, "-o", jsonFile, dir)
	if code != 1 || stdout != "" {
		t.Fatalf("-o: exit %d, stdout %q", code, stdout)
	}
	raw, _ := os.ReadFile(jsonFile)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "findings", "suppressed", "errors", "files_scanned", "bytes_scanned"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	var size int64
	for _, n := range []string{"a.env", "b.bin"} {
		fi, _ := os.Stat(filepath.Join(dir, n))
		size += fi.Size()
	}
	if doc["schema"] != "baseline.scan/v1" || doc["files_scanned"] != 2.0 || doc["bytes_scanned"] != float64(size) {
		t.Errorf("JSON header: %v %v %v", doc["schema"], doc["files_scanned"], doc["bytes_scanned"])
	}
	f := doc["findings"].([]any)[0].(map[string]any)
	for key, want := range map[string]any{"kind": kindToken, "path": filepath.ToSlash(filepath.Join(dir, "a.env")), "offset": float64(len("# config\nSTRIPE=")),
		"line": 2.0, "preview": fmt.Sprintf("sk_l… (%d bytes)", len(tok)), "fingerprint": fingerprint([]byte(tok))} {
		if f[key] != want {
			t.Errorf("finding %s = %v, want %v", key, f[key], want)
		}
	}
	s := doc["suppressed"].([]any)[0].(map[string]any)
	if s["reason"] != "fixture: test key" || s["kind"] != kindDERKey || s["offset"] != 3.0 {
		t.Errorf("suppressed %v", s)
	}

	_, out, _ := runScanCmd("-format", "sarif", "-allow", allow, dir, filepath.Join(dir, "missing"))
	var sarif map[string]any
	if err := json.Unmarshal([]byte(out), &sarif); err != nil {
		t.Fatal(err)
	}
	if sarif["version"] != "2.1.0" || !strings.Contains(sarif["$schema"].(string), "sarif-2.1.0") {
		t.Errorf("SARIF header %v %v", sarif["version"], sarif["$schema"])
	}
	runObj := sarif["runs"].([]any)[0].(map[string]any)
	driver := runObj["tool"].(map[string]any)["driver"].(map[string]any)
	if driver["name"] != "baseline scan" {
		t.Errorf("driver name %v", driver["name"])
	}
	rules := map[string]bool{}
	for _, r := range driver["rules"].([]any) {
		rules[r.(map[string]any)["id"].(string)] = true
	}
	for k := range kindText {
		if !rules[k] {
			t.Errorf("no SARIF rule for %s", k)
		}
	}
	results := runObj["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for _, r := range results {
		r := r.(map[string]any)
		loc := r["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
		uri := loc["artifactLocation"].(map[string]any)["uri"].(string)
		region := loc["region"].(map[string]any)
		if !rules[r["ruleId"].(string)] || !strings.HasPrefix(uri, "file:///") {
			t.Errorf("result %v", r)
		}
		switch r["ruleId"] {
		case kindToken:
			if region["byteOffset"] != float64(len("# config\nSTRIPE=")) || region["startLine"] != 2.0 || r["suppressions"] != nil {
				t.Errorf("token result %v", r)
			}
		case kindDERKey:
			sup := r["suppressions"].([]any)[0].(map[string]any)
			if region["byteOffset"] != 3.0 || region["startLine"] != nil || sup["justification"] != "fixture: test key" {
				t.Errorf("DER result %v", r)
			}
		}
	}
	inv := runObj["invocations"].([]any)[0].(map[string]any)
	notes := inv["toolExecutionNotifications"].([]any)
	if inv["executionSuccessful"] != false || len(notes) != 1 || !strings.Contains(notes[0].(map[string]any)["message"].(map[string]any)["text"].(string), "not scanned") {
		t.Errorf("invocation %v", inv)
	}
	if got := sarifURI("dir with space/a#b.txt"); got != "dir%20with%20space/a%23b.txt" {
		t.Errorf("relative URI %q", got)
	}
	// A file name cannot forge a line of the text report.
	evil := t.TempDir()
	os.WriteFile(filepath.Join(evil, "x\nscanned 0 files"), []byte("k: "+tok+"\n"), 0o644)
	_, out, _ = runScanCmd(evil)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `x\nscanned 0 files"`) {
		t.Errorf("text report with a newline in a file name:\n%s", out)
	}
}

func TestScanSealedNames(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("mqtt_password: hunter2hunter2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.env"), []byte("export MQTT_PASSWORD=\"another-value\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.go"), []byte("store.Put(ctx, \"mqtt_password\", v)\nold_mqtt_password=notours1\n"), 0o644)
	names := writeTemp(t, "names", "mqtt_password\n")
	code, res, _ := scanJSON(t, "-sealed-names", names, dir)
	got := byPath(res.Findings)
	if code != 1 || len(res.Findings) != 2 || len(got["a.yaml"]) != 1 || len(got["b.env"]) != 1 {
		t.Fatalf("exit %d, findings %+v", code, res.Findings)
	}
	a := got["a.yaml"][0]
	if a.Detail != "sealed name mqtt_password" || a.Preview != "mqtt_password=… (value of 14 bytes)" || a.Length != len("mqtt_password: hunter2hunter2") ||
		a.Fingerprint != fingerprint([]byte("mqtt_password\x00"+filepath.ToSlash(filepath.Join(dir, "a.yaml")))) {
		t.Errorf("finding %+v", a)
	}
	// The fingerprint does not depend on the value.
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("mqtt_password: other-value-2\n"), 0o644)
	_, res2, _ := scanJSON(t, "-sealed-names", names, dir)
	if f := byPath(res2.Findings)["a.yaml"]; len(f) != 1 || f[0].Fingerprint != a.Fingerprint {
		t.Errorf("fingerprint changed with the value: %+v vs %s", f, a.Fingerprint)
	}
	for _, bad := range []string{"a b\n", "x\n"} {
		if code, _, _ := runScanCmd("-sealed-names", writeTemp(t, "bad", bad), dir); code != 2 {
			t.Errorf("sealed names %q: exit %d", bad, code)
		}
	}
}

func TestScanUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-format", "xml", "."}, {"-allow", "/nonexistent", "."}, {"-sealed-names", "/nonexistent", "."}, {"-o", "/nonexistent/dir/x", "."}} {
		if code, _, _ := runScanCmd(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runScanCmd("-h"); code != 0 || !strings.Contains(errs, "usage: baseline scan") {
		t.Errorf("-h: exit %d", code)
	}
}

// FuzzScanChunk scans the input in one round and again in rounds of 300
// bytes, whose boundaries cut through everything: the findings must be
// the same.
func FuzzScanChunk(f *testing.F) {
	k := newTestKeys(f)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.pkcs8EC}))
	f.Add([]byte(fmt.Sprintf("const key = %q", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k.sec1}))))
	f.Add(append(randomBytes(500), k.pkcs8Ed...))
	f.Add(k.sec1)
	f.Add(pfx(f, false))
	f.Add(pfxBER(randomBytes(300)))
	f.Add([]byte("password = \"" + randomSecret(f) + "\"\nghp_" + strings.Repeat("a1", 18) + "\nwifi_psk: abcdefgh\n"))
	f.Add([]byte("x Authorization: Bearer " + randomSecret(f) + " AKIA" + strings.Repeat("Z", 16)))
	f.Add([]byte(`{\"api_key\": \"` + randomSecret(f) + `\"}`))
	f.Add([]byte("tls.key: " + base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k.sec1}))))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03, 0x30})
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----"))
	f.Add([]byte(kekSeedMagic + strings.Repeat("k", 32)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4<<10 {
			t.Skip("candidates longer than the small scanner's 8 KiB overlap would differ")
		}
		stream := append(append([]byte{}, data...), make([]byte, 9<<10)...)
		whole := newScanner([]string{"wifi_psk"})
		if err := whole.scanReader(bytes.NewReader(stream), "f"); err != nil {
			t.Fatal(err)
		}
		small := newScanner([]string{"wifi_psk"})
		small.chunk, small.overlap = 300, 8<<10
		if err := small.scanReader(bytes.NewReader(stream), "f"); err != nil {
			t.Fatal(err)
		}
		if len(whole.res.Findings) != len(small.res.Findings) {
			t.Fatalf("one round: %+v\nrounds of 300: %+v", whole.res.Findings, small.res.Findings)
		}
		for i, f := range whole.res.Findings {
			if small.res.Findings[i] != f {
				t.Fatalf("finding %d: one round %+v, rounds of 300 %+v", i, f, small.res.Findings[i])
			}
			if f.Offset < 0 || f.Offset+int64(f.Length) > int64(len(stream)) || len(f.Fingerprint) != 16 {
				t.Fatalf("finding out of range: %+v (len %d)", f, len(stream))
			}
		}
		if whole.res.BytesScanned != int64(len(stream)) || small.res.BytesScanned != int64(len(stream)) {
			t.Fatalf("bytes scanned %d, %d of %d", whole.res.BytesScanned, small.res.BytesScanned, len(stream))
		}
	})
}

// syntheticImage is size bytes of random data with text that looks like
// configuration and code every 64 KiB, runs of zeros as in a real image,
// and a few secrets.
func syntheticImage(b *testing.B, size int) []byte {
	img := randomBytes(size)
	for i := 0; i+4096 < len(img); i += 1 << 16 {
		copy(img[i:], "const token = \"not-a-secret\" // password: see docs; auth key rotation\nAuthorization: header\n")
		if i%(1<<20) == 0 {
			clear(img[i+200 : i+4096])
		}
	}
	k := newTestKeys(b)
	copy(img[size/3:], k.pkcs8Ed)
	copy(img[size/2:], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.pkcs8EC}))
	return img
}

func BenchmarkScan(b *testing.B) {
	img := syntheticImage(b, 64<<20)
	s := newScanner([]string{"wifi_psk", "mqtt_password"})
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		s.res = scanResult{}
		if err := s.scanReader(bytes.NewReader(img), "img"); err != nil {
			b.Fatal(err)
		}
		if len(s.res.Findings) != 2 {
			b.Fatalf("findings %+v", s.res.Findings)
		}
	}
}

// BenchmarkScanLarge scans a 1 GiB file from disk, sparse but for 64 MiB
// of synthetic image at its start: B/op shows what a scan of a large
// image allocates (the buffers are made once per scanner, here once per
// iteration).
func BenchmarkScanLarge(b *testing.B) {
	if testing.Short() {
		b.Skip("1 GiB file")
	}
	path := filepath.Join(b.TempDir(), "image.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	f.Write(syntheticImage(b, 64<<20))
	if err := f.Truncate(1 << 30); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.SetBytes(1 << 30)
	b.ReportAllocs()
	for b.Loop() {
		s := newScanner(nil)
		s.walk(path)
		if len(s.res.Findings) != 2 || len(s.res.Errors) != 0 || s.res.BytesScanned != 1<<30 {
			b.Fatalf("findings %+v errors %v bytes %d", s.res.Findings, s.res.Errors, s.res.BytesScanned)
		}
	}
}
