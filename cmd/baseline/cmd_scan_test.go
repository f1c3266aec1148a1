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
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// planted is one secret put into a test tree, with the kind scan must
// report for it.
type planted struct {
	name, kind string
	secret     []byte // the bytes that must never appear in a report
	file       []byte // the file's content
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomUpperDigits(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// plantAll makes one file per kind of secret scan looks for, every key
// generated now, so the test tree is the only place they exist.
func plantAll(t *testing.T) []planted {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	sshBlock, err := ssh.MarshalPrivateKey(edKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	encBody := make([]byte, 256)
	rand.Read(encBody)
	pgpBody := make([]byte, 200)
	rand.Read(pgpBody)

	var ps []planted
	pemFile := func(name, typ string, der []byte) {
		p := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		ps = append(ps, planted{name, kindPEMKey, p[len("-----BEGIN ")+len(typ)+6 : len(p)-len("-----END ")-len(typ)-7], append([]byte("const key = `\n"), append(p, '`', '\n')...)})
	}
	pemFile("rsa_pkcs1.go", "RSA PRIVATE KEY", pkcs1)
	pemFile("ec_sec1.pem", "EC PRIVATE KEY", sec1)
	pemFile("pkcs8.pem", "PRIVATE KEY", pkcs8)
	pemFile("encrypted.pem", "ENCRYPTED PRIVATE KEY", encBody)
	pemFile("pgp.asc", "PGP PRIVATE KEY BLOCK", pgpBody)
	sshPEM := pem.EncodeToMemory(sshBlock)
	ps = append(ps, planted{"id_ed25519", kindPEMKey, sshPEM[40 : len(sshPEM)-40], sshPEM})

	// DER keys inside binary blobs.
	blob := func(der []byte) []byte {
		pre, post := make([]byte, 3000), make([]byte, 5000)
		rand.Read(pre)
		rand.Read(post)
		return append(append(pre, der...), post...)
	}
	ps = append(ps, planted{"firmware-pkcs8.bin", kindDERKey, edPKCS8, blob(edPKCS8)})
	ps = append(ps, planted{"firmware-pkcs1.bin", kindDERKey, pkcs1, blob(pkcs1)})
	ps = append(ps, planted{"firmware-sec1.bin", kindDERKey, sec1, blob(sec1)})

	// A PKCS#12 store: PFX ::= SEQUENCE { version 3, authSafe ContentInfo(data), ... }.
	content := make([]byte, 300)
	rand.Read(content)
	type contentInfo struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	type pfx struct {
		Version  int
		AuthSafe contentInfo
	}
	octets, _ := asn1.Marshal(content)
	p12, err := asn1.Marshal(pfx{3, contentInfo{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, asn1.RawValue{FullBytes: octets}}})
	if err != nil {
		t.Fatal(err)
	}
	ps = append(ps, planted{"device.p12", kindPKCS12, content, p12})

	for _, tok := range []string{
		"AKIA" + randomUpperDigits(16),
		"ghp_" + randomAlnum(36),
		"github_pat_" + randomAlnum(22) + "_" + randomAlnum(59),
		"xoxb-" + randomAlnum(12) + "-" + randomAlnum(24),
		"AIza" + randomAlnum(35),
		"sk_live_" + randomAlnum(24),
		"eyJ" + randomAlnum(20) + ".eyJ" + randomAlnum(30) + "." + randomAlnum(43),
	} {
		ps = append(ps, planted{"token_" + tok[:4] + ".yaml", kindToken, []byte(tok[4:]), []byte("service:\n  value: " + tok + "\n")})
	}
	secret := base64.RawStdEncoding.EncodeToString(func() []byte { b := make([]byte, 30); rand.Read(b); return b }())
	if !highEntropy([]byte(secret)) { // a digit-free draw: make it look random again
		secret = "9" + secret[1:]
	}
	ps = append(ps, planted{"config.go", kindEntropy, []byte(secret[4:]), []byte("package x\n\nconst adminPassword = \"" + secret + "\"\n")})
	ps = append(ps, planted{"settings.json", kindSealedName, []byte("Wh4t3v3r-PSK-value"), []byte(`{"wifi_psk": "Wh4t3v3r-PSK-value", "ssid": "home"}` + "\n")})
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

func TestScanFindsEveryKind(t *testing.T) {
	ps := plantAll(t)
	dir := writeTree(t, ps)
	sealed := writeTemp(t, "sealed-names", "# names of the sealed store\nwifi_psk\n")
	code, out, errs := runScanCmd("-format", "json", "-sealed-names", sealed, dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (findings); stderr %s", code, errs)
	}
	var res scanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	byFile := map[string][]scanFinding{}
	for _, f := range res.Findings {
		byFile[f.Path] = append(byFile[f.Path], f)
	}
	for _, p := range ps {
		fs := byFile[p.name]
		found := false
		for _, f := range fs {
			if f.Kind == p.kind {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s finding (got %+v)", p.name, p.kind, fs)
		}
	}
	if res.FilesScanned != len(ps) || res.Schema != "baseline.scan/v1" {
		t.Errorf("files %d schema %q", res.FilesScanned, res.Schema)
	}
	// No report format carries a secret.
	for _, format := range []string{"text", "json", "sarif"} {
		_, out, _ := runScanCmd("-format", format, "-sealed-names", sealed, dir)
		for _, p := range ps {
			if len(p.secret) >= 8 && bytes.Contains([]byte(out), p.secret[len(p.secret)/2:]) {
				t.Errorf("%s report contains the secret of %s", format, p.name)
			}
		}
	}
}

func TestScanCleanTree(t *testing.T) {
	// The durable package's own sources: code full of words like "sync",
	// "key" and hashes in comments, and no secret.
	dir := t.TempDir()
	files, _ := filepath.Glob("../../durable/*.go")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	code, out, errs := runScanCmd(dir)
	if code != 0 || !strings.Contains(out, "0 finding(s)") || len(files) < 5 {
		t.Errorf("clean tree: exit %d\n%s%s", code, out, errs)
	}
}

func TestScanAcrossChunkBoundary(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, at := range []int{scanChunk - len(p)/2, scanChunk - 3, 2*scanChunk - scanOverlap - 10, 3*scanChunk - len(p) - 1} {
		img := make([]byte, 4*scanChunk+100)
		copy(img[at:], p)
		copy(img[at+len(p)+5000:], der) // and the same key in DER
		s := newScanner(nil)
		if err := s.scanReader(bytes.NewReader(img), "img"); err != nil {
			t.Fatal(err)
		}
		var pemAt, derAt []int64
		for _, f := range s.res.Findings {
			switch f.Kind {
			case kindPEMKey:
				pemAt = append(pemAt, f.Offset)
			case kindDERKey:
				derAt = append(derAt, f.Offset)
			}
		}
		if len(pemAt) != 1 || pemAt[0] != int64(at) {
			t.Errorf("PEM key at %d: found at %v", at, pemAt)
		}
		if len(derAt) < 1 {
			t.Errorf("DER key at %d not found", at+len(p)+5000)
		}
	}
}

func TestScanAllowList(t *testing.T) {
	ps := plantAll(t)
	dir := writeTree(t, ps)
	code, out, _ := runScanCmd("-format", "json", dir)
	var res scanResult
	json.Unmarshal([]byte(out), &res)
	if code != 1 || len(res.Findings) == 0 {
		t.Fatal("no findings to allow")
	}
	var lines []string
	lines = append(lines, "# test fixtures", res.Findings[0].Fingerprint+"  fixture: throwaway key made by the test")
	lines = append(lines, "token_*.yaml  fixture: fake tokens in the test tree", "firmware-*.bin fixture: test blobs")
	for _, f := range res.Findings[1:] {
		if !strings.HasPrefix(f.Path, "token_") && !strings.HasPrefix(f.Path, "firmware-") {
			lines = append(lines, f.Fingerprint+" fixture: generated by the test")
		}
	}
	lines = append(lines, "0123456789abcdef  never matches")
	allow := writeTemp(t, "allow", strings.Join(lines, "\n")+"\n")
	code, out, errs := runScanCmd("-format", "json", "-allow", allow, dir)
	res = scanResult{}
	json.Unmarshal([]byte(out), &res)
	if code != 0 || len(res.Findings) != 0 || len(res.Suppressed) == 0 {
		t.Fatalf("with the allow-list: exit %d, %d findings, %d suppressed; %s", code, len(res.Findings), len(res.Suppressed), errs)
	}
	for _, f := range res.Suppressed {
		if !strings.HasPrefix(f.Reason, "fixture") {
			t.Errorf("suppressed without its reason: %+v", f)
		}
	}
	if !strings.Contains(errs, "matched nothing") || len(res.UnusedAllow) != 1 {
		t.Errorf("unused entry not reported: %q %v", errs, res.UnusedAllow)
	}
	// A reason is required.
	noReason := writeTemp(t, "allow2", res.Suppressed[0].Fingerprint+"\n")
	if code, _, errs := runScanCmd("-allow", noReason, dir); code != 2 || !strings.Contains(errs, "has no reason") {
		t.Errorf("entry without a reason: exit %d %q", code, errs)
	}
	// SARIF marks suppressed results.
	_, out, _ = runScanCmd("-format", "sarif", "-allow", allow, dir)
	var sarif sarifLog
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Tool.Driver.Rules) != len(kindText) {
		t.Fatalf("SARIF: %v %+v", err, sarif)
	}
	for _, r := range sarif.Runs[0].Results {
		if len(r.Suppressions) != 1 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" || r.PartialFingerprints["baselineScan/v1"] == "" {
			t.Errorf("SARIF result %+v", r)
		}
	}
}

func TestScanGoesOnAfterUnreadable(t *testing.T) {
	// /proc/self/mem is a regular file that fails with EIO at offset 0,
	// even for root (CI runs as root, so a chmod 000 file would be read).
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip("no /proc/self/mem on this system")
	}
	ps := plantAll(t)[:1]
	dir := writeTree(t, ps)
	code, out, _ := runScanCmd("-format", "json", "/proc/self/mem", dir, filepath.Join(dir, "does-not-exist"))
	var res scanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if code != 1 || len(res.Findings) != 1 || len(res.Errors) != 2 {
		t.Errorf("exit %d findings %d errors %+v", code, len(res.Findings), res.Errors)
	}
}

func TestScanUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-format", "xml", "."}, {"-allow", "/nonexistent", "."}} {
		if code, _, _ := runScanCmd(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func FuzzScanChunk(f *testing.F) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add(der)
	f.Add([]byte("password = \"aB3dE5fG7hJ9kL1mN3pQ5rS7tU9v\"\nghp_" + strings.Repeat("a1", 18)))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03, 0x30})
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newScanner([]string{"wifi_psk"})
		if err := s.scanReader(bytes.NewReader(data), "f"); err != nil {
			t.Fatal(err)
		}
		for _, fd := range s.res.Findings {
			if fd.Offset < 0 || fd.Offset >= int64(len(data)) || fd.Fingerprint == "" {
				t.Fatalf("finding out of range: %+v (len %d)", fd, len(data))
			}
		}
	})
}

func BenchmarkScan(b *testing.B) {
	img := make([]byte, 64<<20)
	rand.Read(img)
	// Sprinkle text that looks like source code.
	for i := 0; i+200 < len(img); i += 1 << 16 {
		copy(img[i:], "const token = \"not-a-secret\" // password: see docs; auth key rotation\n")
	}
	s := newScanner(nil)
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		s.res = scanResult{}
		if err := s.scanReader(bytes.NewReader(img), "img"); err != nil {
			b.Fatal(err)
		}
	}
}
