package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
	"github.com/iotbaseline/baseline/internal/testenv"
)

type evidenceFixture struct {
	dir, image, key, pub, ics, ixit, sbom, scan, bundle string
}

func newEvidenceFixture(t *testing.T) *evidenceFixture {
	t.Helper()
	icsFixClock(t, icsToday)
	dir := t.TempDir()
	f := &evidenceFixture{dir: dir, image: filepath.Join(dir, "plug-1.1.0.img"), bundle: filepath.Join(dir, "evidence.json")}
	img := make([]byte, 3<<20)
	rand.Read(img)
	if err := os.WriteFile(f.image, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVIDENCE_KEY_PASS", "correct horse battery staple")
	prefix := filepath.Join(dir, "evidence")
	var out, errb bytes.Buffer
	if code := run([]string{"keygen", "-alg", "ecdsa-p256", "-out", prefix, "-passphrase-env", "EVIDENCE_KEY_PASS"}, &out, &errb); code != 0 {
		t.Fatalf("keygen: %d %s", code, errb.String())
	}
	f.key, f.pub = prefix+".key", prefix+".pub"
	_, ics, _ := runICSCmd("--profile", smartplugProfile)
	f.ics = writeTemp(t, "ics.json", ics)
	out.Reset()
	if code := run([]string{"ixit", "--profile", smartplugProfile, "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("ixit: %d %s", code, errb.String())
	}
	f.ixit = writeTemp(t, "ixit.json", out.String())
	out.Reset()
	if code := run([]string{"sbom", "-o", filepath.Join(dir, "sbom.json"), os.Args[0]}, &out, &errb); code != 0 {
		// older flag spelling: SBOM to stdout
		out.Reset()
		if code := run([]string{"sbom", os.Args[0]}, &out, &errb); code != 0 {
			t.Fatalf("sbom: %d %s", code, errb.String())
		}
		os.WriteFile(filepath.Join(dir, "sbom.json"), out.Bytes(), 0o644)
	}
	f.sbom = filepath.Join(dir, "sbom.json")
	_, scan, _ := runScanCmd("-format", "json", "../../durable")
	f.scan = writeTemp(t, "scan.json", scan)
	return f
}

func (f *evidenceFixture) create(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"evidence", "create", "-image", f.image, "-key", f.key, "-passphrase-env", "EVIDENCE_KEY_PASS",
		"-ics", f.ics, "-ixit", f.ixit, "-sbom", f.sbom, "-scan", f.scan, "-o", f.bundle}, extra...)
	code := run(args, &out, &errb)
	return code, errb.String()
}

func verifyCmd(image, pub, bundle string) (int, string) {
	var out, errb bytes.Buffer
	code := run([]string{"evidence", "verify", "-key", pub, "-image", image, bundle}, &out, &errb)
	return code, out.String() + errb.String()
}

func TestEvidenceCreateVerify(t *testing.T) {
	f := newEvidenceFixture(t)
	if code, errs := f.create(t); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	if code, out := verifyCmd(f.image, f.pub, f.bundle); code != 0 || !strings.Contains(out, "verified: plug-1.1.0.img") || !strings.Contains(out, "4 part(s)") {
		t.Fatalf("verify: exit %d: %s", code, out)
	}
	// The bundle is never overwritten.
	if code, errs := f.create(t); code != 2 || !strings.Contains(errs, "exist") {
		t.Errorf("second create over the bundle: exit %d %s", code, errs)
	}
	bundle, _ := os.ReadFile(f.bundle)
	var env dsseEnvelope
	json.Unmarshal(bundle, &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)

	tamper := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	reenc := func(mut func(*dsseEnvelope)) []byte {
		e := env
		e.Signatures = append([]dsseSignature(nil), env.Signatures...)
		mut(&e)
		b, _ := json.Marshal(e)
		return b
	}
	flipPayload := func(old, new string) []byte {
		return reenc(func(e *dsseEnvelope) {
			e.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(old), []byte(new), 1))
		})
	}
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	sig[len(sig)-1] ^= 1
	cases := map[string]struct {
		bundle []byte
		image  string
		field  string
	}{
		"image byte":    {bundle, tamper("img", append([]byte{1}, mustRead(t, f.image)[1:]...)), "payload.subject[0].digest.sha256"},
		"signature":     {reenc(func(e *dsseEnvelope) { e.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig) }), f.image, "signatures"},
		"payload field": {flipPayload(`"model":"SP-100 Smart Plug"`, `"model":"SP-100 Smart Plog"`), f.image, "signatures"},
		"subject name":  {flipPayload(`plug-1.1.0.img`, `plug-9.9.9.img`), f.image, "signatures"},
		"payload type":  {reenc(func(e *dsseEnvelope) { e.PayloadType = "text/plain" }), f.image, "payloadType"},
		"no signatures": {reenc(func(e *dsseEnvelope) { e.Signatures = nil }), f.image, "signatures"},
		"trailing data": {append(bytes.Clone(bytes.TrimSpace(bundle)), '}'), f.image, "envelope"},
		"unknown field": {bytes.Replace(bundle, []byte(`{"payloadType"`), []byte(`{"x":1,"payloadType"`), 1), f.image, "envelope"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, out := verifyCmd(c.image, f.pub, tamper("bundle.json", c.bundle))
			if code != 1 || !strings.Contains(out, "refused: "+c.field+":") {
				t.Errorf("exit %d, %s; want refusal naming %s", code, out, c.field)
			}
		})
	}
	// Another key's bundle is refused.
	other := newEvidenceFixture(t)
	if code, out := verifyCmd(f.image, other.pub, f.bundle); code != 1 || !strings.Contains(out, "signatures") {
		t.Errorf("wrong key: exit %d %s", code, out)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEvidenceEmbeddedDigest: a bundle signed by the right key whose
// embedded document does not match its recorded digest (a faulty or
// dishonest producer) is refused, naming the part.
func TestEvidenceEmbeddedDigest(t *testing.T) {
	f := newEvidenceFixture(t)
	key, err := keyfile.ReadPrivate(durable.OS, f.key, []byte("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := imageDigest(f.image)
	ics, _, err := readPart(f.ics, "ics")
	if err != nil {
		t.Fatal(err)
	}
	ics.Content = json.RawMessage(bytes.Replace(ics.Content, []byte(`"conformant":false`), []byte(`"conformant":true`), 1))
	st := inTotoStatement{Type: inTotoStatementType, PredicateType: evidencePredicateType, Predicate: evidencePredicate{ICS: ics},
		Subject: []inTotoSubject{{Name: "x", Digest: map[string]string{"sha256": digest}}}}
	payload, _ := json.Marshal(st)
	h := sha256.Sum256(pae(inTotoPayloadType, payload))
	sig, _ := key.Sign(rand.Reader, h[:], nil)
	env, _ := json.Marshal(dsseEnvelope{PayloadType: inTotoPayloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []dsseSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	_, err = verifyEvidence(env, key.Public().(*ecdsa.PublicKey), digest)
	var ee *evidenceError
	if !errors.As(err, &ee) || ee.Field != "payload.predicate.ics.sha256" {
		t.Fatalf("got %v", err)
	}
	if _, err := verifyEvidence(env, key.Public().(*ecdsa.PublicKey), hex.EncodeToString(make([]byte, 32))); err == nil || !strings.Contains(err.Error(), "subject[0]") {
		t.Errorf("other image: %v", err)
	}
}

func TestEvidenceCreateRefusesBadInput(t *testing.T) {
	f := newEvidenceFixture(t)
	notICS := writeTemp(t, "p.json", string(mustRead(t, smartplugProfile)))
	huge := filepath.Join(t.TempDir(), "huge.json")
	hf, _ := os.Create(huge)
	hf.Truncate(maxEvidencePart + 1)
	hf.Close()
	for name, args := range map[string][]string{
		"profile as ics": {"-ics", notICS},
		"scan as sbom":   {"-sbom", f.scan},
		"sbom as scan":   {"-scan", f.sbom},
		"ics as ixit":    {"-ixit", f.ics},
		"huge ics":       {"-ics", huge},
		"not json":       {"-ics", writeTemp(t, "x.json", "{not json")},
	} {
		var out, errb bytes.Buffer
		base := map[string]string{"-image": f.image, "-key": f.key, "-passphrase-env": "EVIDENCE_KEY_PASS", "-ics": f.ics, "-o": filepath.Join(t.TempDir(), "b.json")}
		base[args[0]] = args[1]
		var argv []string
		for k, v := range base {
			argv = append(argv, k, v)
		}
		if code := run(append([]string{"evidence", "create"}, argv...), &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%s: exit %d %s", name, code, errb.String())
		}
		if strings.Contains(errb.String(), "correct horse") {
			t.Errorf("%s: the passphrase appears in an error", name)
		}
	}
}

// TestEvidenceCosign: cosign v2 verifies the bundle as a blob attestation
// and refuses it once the image or the envelope is changed.
func TestEvidenceCosign(t *testing.T) {
	cosign := testenv.LookPath(t, "cosign")
	f := newEvidenceFixture(t)
	if code, errs := f.create(t); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	verify := func(image, bundle string) (bool, string) {
		cmd := exec.Command(cosign, "verify-blob-attestation", "--key", f.pub, "--signature", bundle,
			"--type", evidencePredicateType, "--insecure-ignore-tlog", image)
		cmd.Env = append(os.Environ(), "SIGSTORE_NO_CACHE=1", "TUF_ROOT="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return err == nil, string(out)
	}
	if ok, out := verify(f.image, f.bundle); !ok {
		t.Fatalf("cosign refused a good bundle:\n%s", out)
	}
	img := mustRead(t, f.image)
	img[100] ^= 1
	other := writeTemp(t, "tampered.img", string(img))
	if ok, out := verify(other, f.bundle); ok {
		t.Errorf("cosign accepted another image:\n%s", out)
	}
	b := mustRead(t, f.bundle)
	var env dsseEnvelope
	json.Unmarshal(b, &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	env.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte("SP-100"), []byte("SP-666"), 1))
	nb, _ := json.Marshal(env)
	if ok, out := verify(f.image, writeTemp(t, "tampered.json", string(nb))); ok {
		t.Errorf("cosign accepted a tampered payload:\n%s", out)
	}
}

func FuzzVerifyEvidence(f *testing.F) {
	key, _ := keyfile.Generate(keyfile.ECDSAP256, rand.Reader)
	pub := key.Public().(*ecdsa.PublicKey)
	digest := hex.EncodeToString(make([]byte, 32))
	icsDoc := []byte(`{"schema":"baseline.ics/v1"}`)
	icsSum := sha256.Sum256(icsDoc)
	st := inTotoStatement{Type: inTotoStatementType, PredicateType: evidencePredicateType,
		Predicate: evidencePredicate{ICS: &evidencePart{SHA256: hex.EncodeToString(icsSum[:]), Content: json.RawMessage(icsDoc)}},
		Subject:   []inTotoSubject{{Name: "x", Digest: map[string]string{"sha256": digest}}}}
	payload, _ := json.Marshal(st)
	h := sha256.Sum256(pae(inTotoPayloadType, payload))
	sig, _ := key.Sign(rand.Reader, h[:], nil)
	env, _ := json.Marshal(dsseEnvelope{PayloadType: inTotoPayloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []dsseSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	if _, err := verifyEvidence(env, pub, digest); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	f.Add(env)
	f.Add(append(bytes.Clone(env), '}'))
	f.Add(append(bytes.Clone(env), ']'))
	f.Add(append(bytes.Clone(env), ` {}`...))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"MEUCIQ=="}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := verifyEvidence(b, pub, digest)
		if err == nil && (st == nil || st.Subject[0].Digest["sha256"] != digest) {
			t.Fatal("verified a bundle that does not bind the image")
		}
		var ee *evidenceError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("error without a field: %v", err)
		}
	})
}
