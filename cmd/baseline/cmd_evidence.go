package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/internal/keyfile"
)

func init() {
	register(command{
		name:    "evidence",
		summary: "sign the ICS, IXIT, SBOM and scan result into one in-toto attestation bound to a firmware image, or verify one",
		run:     runEvidence,
	})
}

// The evidence bundle is a DSSE envelope (the format cosign reads) whose
// payload is an in-toto Statement v1: the firmware image is the subject,
// and the predicate embeds each evidence document with its SHA-256.
const (
	evidencePredicateType = "https://iotbaseline.dev/evidence/v1"
	inTotoStatementType   = "https://in-toto.io/Statement/v1"
	inTotoPayloadType     = "application/vnd.in-toto+json"
	// maxEvidencePart bounds each embedded document, maxEvidenceBundle a
	// whole bundle (base64 adds a third).
	maxEvidencePart   = 64 << 20
	maxEvidenceBundle = 4*(3*maxEvidencePart+(1<<20))/3 + (1 << 20)
)

const evidenceUsage = `usage:
  baseline evidence create -image FIRMWARE -key KEY.key [-passphrase-file F | -passphrase-env V]
                           -ics ICS.json [-ixit IXIT.json] [-sbom SBOM.json] [-scan SCAN.json]
                           -o BUNDLE.json
  baseline evidence verify -key KEY.pub -image FIRMWARE BUNDLE.json

create signs one in-toto Statement v1 whose subject is the firmware image
(name and SHA-256, read as a stream) and whose predicate (type
` + evidencePredicateType + `) embeds:
  ics   the statement from 'baseline ics' (schema baseline.ics/v1), best with
        the device's live results attached (--device); a statement without
        them is embedded as it is and reported on stderr
  ixit  the IXIT from 'baseline ixit --format json' (baseline.ixit/v1)
  sbom  a CycloneDX 1.6 JSON SBOM ('baseline sbom')
  scan  the JSON result of 'baseline scan -format json' (baseline.scan/v1)
each with the SHA-256 of its compact JSON form. The statement is wrapped in a
DSSE envelope signed with an ECDSA P-256 key made by
'baseline keygen -alg ecdsa-p256'. The envelope is what cosign reads:

  cosign verify-blob-attestation --key KEY.pub --signature BUNDLE.json \
      --type ` + evidencePredicateType + ` --insecure-ignore-tlog FIRMWARE

(--insecure-ignore-tlog: the bundle is not uploaded to a transparency log;
cosign refuses blobs over 128 MiB unless COSIGN_MAX_ATTACHMENT_SIZE is set
higher, so set it for large images).

verify checks the same offline, and then every field: the signature, the
payload type, the statement and predicate types, the subject's digest
against FIRMWARE, and each embedded document against its recorded SHA-256.
The first bad field is named.

Exit status: 0 success; 1 a bundle that does not verify; 2 usage or input
errors.
`

// evidencePart is one embedded evidence document.
type evidencePart struct {
	SHA256  string          `json:"sha256"`
	Content json.RawMessage `json:"content"`
}

type evidencePredicate struct {
	Generator string        `json:"generator"`
	Created   string        `json:"created"`
	ICS       *evidencePart `json:"ics"`
	IXIT      *evidencePart `json:"ixit,omitempty"`
	SBOM      *evidencePart `json:"sbom,omitempty"`
	Scan      *evidencePart `json:"scan,omitempty"`
}

type inTotoSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type inTotoStatement struct {
	Type          string            `json:"_type"`
	Subject       []inTotoSubject   `json:"subject"`
	PredicateType string            `json:"predicateType"`
	Predicate     evidencePredicate `json:"predicate"`
}

type dsseSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

type dsseEnvelope struct {
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"`
	Signatures  []dsseSignature `json:"signatures"`
}

// pae is DSSE's pre-authentication encoding, what is actually signed:
// "DSSEv1 LEN(type) type LEN(body) body".
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

func runEvidence(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, evidenceUsage)
		return 2
	}
	switch args[0] {
	case "create":
		return runEvidenceCreate(args[1:], stdout, stderr)
	case "verify":
		return runEvidenceVerify(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, evidenceUsage)
		return 0
	}
	fmt.Fprintf(stderr, "baseline evidence: unknown subcommand %q\n\n%s", args[0], evidenceUsage)
	return 2
}

// imageDigest streams the file and returns its hex SHA-256.
func imageDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readPart reads one evidence document, bounded, and checks it is the
// kind of document its flag promises.
func readPart(path, what string) (*evidencePart, map[string]json.RawMessage, error) {
	data, err := durable.ReadFile(durable.OS, path, maxEvidencePart)
	if err != nil {
		return nil, nil, fmt.Errorf("-%s %s: %w", what, path, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, nil, fmt.Errorf("-%s %s: not JSON: %v", what, path, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(compact.Bytes(), &top); err != nil {
		return nil, nil, fmt.Errorf("-%s %s: not a JSON object", what, path)
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(top[k], &s)
		return s
	}
	switch what {
	case "ics":
		if str("schema") != "baseline.ics/v1" {
			return nil, nil, fmt.Errorf("-ics %s: schema is %q, not baseline.ics/v1 (write it with 'baseline ics')", path, str("schema"))
		}
	case "ixit":
		if str("schema") != "baseline.ixit/v1" {
			return nil, nil, fmt.Errorf("-ixit %s: schema is %q, not baseline.ixit/v1 (write it with 'baseline ixit --format json')", path, str("schema"))
		}
	case "sbom":
		if str("bomFormat") != "CycloneDX" || str("specVersion") != "1.6" {
			return nil, nil, fmt.Errorf("-sbom %s: not a CycloneDX 1.6 SBOM (bomFormat %q, specVersion %q)", path, str("bomFormat"), str("specVersion"))
		}
	case "scan":
		if str("schema") != "baseline.scan/v1" {
			return nil, nil, fmt.Errorf("-scan %s: schema is %q, not baseline.scan/v1 (write it with 'baseline scan -format json')", path, str("schema"))
		}
	}
	sum := sha256.Sum256(compact.Bytes())
	return &evidencePart{SHA256: hex.EncodeToString(sum[:]), Content: json.RawMessage(compact.Bytes())}, top, nil
}

func runEvidenceCreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evidence create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, evidenceUsage) }
	image := fs.String("image", "", "the firmware image `FILE` the evidence is bound to")
	keyPath := fs.String("key", "", "ECDSA P-256 private key `FILE` (baseline keygen)")
	ics := fs.String("ics", "", "ICS `FILE` (baseline ics, JSON)")
	ixit := fs.String("ixit", "", "IXIT `FILE` (baseline ixit --format json)")
	sbom := fs.String("sbom", "", "CycloneDX 1.6 SBOM `FILE` (baseline sbom)")
	scan := fs.String("scan", "", "scan result `FILE` (baseline scan -format json)")
	out := fs.String("o", "", "write the bundle to `FILE` (never overwritten)")
	var pf passphraseFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *image == "" || *keyPath == "" || *ics == "" || *out == "" {
		fmt.Fprintln(stderr, "baseline evidence create: -image, -key, -ics and -o are required")
		return 2
	}
	digest, err := imageDigest(*image)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence create: -image: %v\n", err)
		return 2
	}
	pred := evidencePredicate{Generator: "baseline evidence", Created: time.Now().UTC().Format(time.RFC3339)}
	var top map[string]json.RawMessage
	if pred.ICS, top, err = readPart(*ics, "ics"); err != nil {
		fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
		return 2
	}
	if string(top["checks_attached"]) != "true" {
		fmt.Fprintln(stderr, "baseline evidence create: note: the ICS carries no live self-check results (write it with 'baseline ics --device'); it is embedded as it is")
	}
	if *ixit != "" {
		if pred.IXIT, _, err = readPart(*ixit, "ixit"); err != nil {
			fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
			return 2
		}
	}
	if *sbom != "" {
		if pred.SBOM, _, err = readPart(*sbom, "sbom"); err != nil {
			fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
			return 2
		}
	}
	if *scan != "" {
		if pred.Scan, _, err = readPart(*scan, "scan"); err != nil {
			fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
			return 2
		}
	}
	key, code, err := loadSigningKey(*keyPath, &pf)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
		return code
	}
	st := inTotoStatement{Type: inTotoStatementType, PredicateType: evidencePredicateType, Predicate: pred,
		Subject: []inTotoSubject{{Name: filepath.Base(*image), Digest: map[string]string{"sha256": digest}}}}
	payload, err := json.Marshal(st)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
		return 2
	}
	h := sha256.Sum256(pae(inTotoPayloadType, payload))
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence create: signing: %v\n", err)
		return 2
	}
	env := dsseEnvelope{PayloadType: inTotoPayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsseSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
	data, _ := json.Marshal(env)
	if err := keyfile.WriteNew(durable.OS, *out, append(data, '\n'), 0o644); err != nil {
		fmt.Fprintf(stderr, "baseline evidence create: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "wrote %s: in-toto statement for %s (sha256:%s), signed with an ECDSA P-256 key\n", *out, filepath.Base(*image), digest)
	return 0
}

// loadSigningKey reads an ECDSA P-256 private key from a keygen file.
func loadSigningKey(path string, pf *passphraseFlags) (crypto.Signer, int, error) {
	data, err := durable.ReadFile(durable.OS, path, keyfile.MaxFileSize)
	if err != nil {
		return nil, 2, err
	}
	var pass []byte
	if keyfile.IsEncrypted(data) {
		if !pf.given() {
			return nil, 2, fmt.Errorf("%s is encrypted: give -passphrase-file or -passphrase-env", path)
		}
		if pass, err = pf.read(); err != nil {
			return nil, 2, err
		}
		defer clear(pass)
	}
	key, err := keyfile.DecodePrivate(data, pass)
	if err != nil {
		return nil, 2, fmt.Errorf("%s: %w", path, err)
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != "P-256" {
		return nil, 2, fmt.Errorf("%s: an evidence bundle is signed with an ECDSA P-256 key (baseline keygen -alg ecdsa-p256)", path)
	}
	return key, 0, nil
}

// evidenceError names the first field of a bundle that failed.
type evidenceError struct {
	Field, Msg string
}

func (e *evidenceError) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, a ...any) error {
	return &evidenceError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// strictJSON decodes exactly one JSON value with no unknown fields and
// nothing after it.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// verifyEvidence checks a bundle against the public key and the image
// digest and returns the statement. Errors are *evidenceError naming the
// first bad field.
func verifyEvidence(bundle []byte, pub *ecdsa.PublicKey, imageSHA256 string) (*inTotoStatement, error) {
	var env dsseEnvelope
	if err := strictJSON(bundle, &env); err != nil {
		return nil, bad("envelope", "not a DSSE envelope: %v", err)
	}
	if env.PayloadType != inTotoPayloadType {
		return nil, bad("payloadType", "%q, want %q", truncateStr(env.PayloadType, 64), inTotoPayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, bad("payload", "not base64")
	}
	if len(env.Signatures) == 0 || len(env.Signatures) > 16 {
		return nil, bad("signatures", "%d signatures", len(env.Signatures))
	}
	h := sha256.Sum256(pae(env.PayloadType, payload))
	ok := false
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil && ecdsa.VerifyASN1(pub, h[:], sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, bad("signatures", "no signature verifies with the given key")
	}
	var st inTotoStatement
	if err := strictJSON(payload, &st); err != nil {
		return nil, bad("payload", "not an in-toto statement: %v", err)
	}
	if st.Type != inTotoStatementType {
		return nil, bad("payload._type", "%q, want %q", truncateStr(st.Type, 64), inTotoStatementType)
	}
	if st.PredicateType != evidencePredicateType {
		return nil, bad("payload.predicateType", "%q, want %q", truncateStr(st.PredicateType, 64), evidencePredicateType)
	}
	if len(st.Subject) != 1 {
		return nil, bad("payload.subject", "%d subjects, want the one firmware image", len(st.Subject))
	}
	if got := st.Subject[0].Digest["sha256"]; got != imageSHA256 {
		return nil, bad("payload.subject[0].digest.sha256", "%q is not the image's %s", truncateStr(got, 80), imageSHA256)
	}
	parts := []struct {
		name     string
		p        *evidencePart
		required bool
	}{{"ics", st.Predicate.ICS, true}, {"ixit", st.Predicate.IXIT, false}, {"sbom", st.Predicate.SBOM, false}, {"scan", st.Predicate.Scan, false}}
	for _, pt := range parts {
		if pt.p == nil {
			if pt.required {
				return nil, bad("payload.predicate."+pt.name, "missing")
			}
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, pt.p.Content); err != nil {
			return nil, bad("payload.predicate."+pt.name+".content", "not JSON")
		}
		sum := sha256.Sum256(compact.Bytes())
		if hex.EncodeToString(sum[:]) != pt.p.SHA256 {
			return nil, bad("payload.predicate."+pt.name+".sha256", "does not match the embedded content")
		}
	}
	return &st, nil
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func runEvidenceVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evidence verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, evidenceUsage) }
	keyPath := fs.String("key", "", "the signer's public key `FILE` (PEM)")
	image := fs.String("image", "", "the firmware image `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 || *keyPath == "" || *image == "" {
		fmt.Fprintln(stderr, "baseline evidence verify: -key, -image and one BUNDLE are required")
		return 2
	}
	pubAny, err := keyfile.ReadPublic(durable.OS, *keyPath)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence verify: -key: %v\n", err)
		return 2
	}
	pub, ok := pubAny.(*ecdsa.PublicKey)
	if !ok {
		fmt.Fprintln(stderr, "baseline evidence verify: -key: not an ECDSA public key")
		return 2
	}
	digest, err := imageDigest(*image)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence verify: -image: %v\n", err)
		return 2
	}
	bundle, err := durable.ReadFile(durable.OS, fs.Arg(0), maxEvidenceBundle)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence verify: %v\n", err)
		return 2
	}
	st, err := verifyEvidence(bundle, pub, digest)
	if err != nil {
		fmt.Fprintf(stderr, "baseline evidence verify: refused: %v\n", err)
		return 1
	}
	var parts []string
	for name, p := range map[string]*evidencePart{"ics": st.Predicate.ICS, "ixit": st.Predicate.IXIT, "sbom": st.Predicate.SBOM, "scan": st.Predicate.Scan} {
		if p != nil {
			parts = append(parts, name)
		}
	}
	fmt.Fprintf(stdout, "verified: %s (sha256:%s), evidence created %s: %d part(s)\n", st.Subject[0].Name, digest, st.Predicate.Created, len(parts))
	return 0
}
