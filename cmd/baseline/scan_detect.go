package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Finding kinds, also the SARIF rule IDs.
const (
	kindPEMKey     = "private-key-pem"
	kindDERKey     = "private-key-der"
	kindPKCS12     = "pkcs12"
	kindToken      = "token"
	kindEntropy    = "high-entropy-credential"
	kindSealedName = "sealed-name-plaintext"
	kindKEKSeed    = "soft-kek-seed"
)

var kindText = map[string]string{
	kindPEMKey:     "private key in PEM (PKCS#1, SEC 1, PKCS#8, encrypted PKCS#8, DSA, OpenSSH, PGP), also inside a string literal or base64-encoded",
	kindDERKey:     "private key in DER (PKCS#1, SEC 1 or PKCS#8, ML-DSA included) embedded in the file, confirmed by parsing",
	kindPKCS12:     "PKCS#12 / PFX key store",
	kindToken:      "well-known API token format",
	kindEntropy:    "high-entropy value assigned after a credential word",
	kindSealedName: "a sealed-store secret's name with a value next to it, in plaintext",
	kindKEKSeed:    "seed file of the secrets package's soft KEK: every device made from the image would share it",
}

// Limits on what one candidate may span. Each is below scanOverlap, which
// is what lets a candidate that crosses a chunk boundary be seen whole.
const (
	maxPEMHeader = 96       // "-----BEGIN ... PRIVATE KEY-----"
	maxPEMBlock  = 24 << 10 // how far END is looked for after BEGIN (RSA-8192 PKCS#8 is ~6.3 KiB)
	maxPEMBase64 = 24 << 10 // a base64-encoded PEM key, on one line
	maxDERKey    = 12 << 10 // a DER private key (RSA-8192 PKCS#1 is ~4.8 KiB)
	maxPFX       = 24 << 10 // a PFX up to this size is fingerprinted whole,
	pfxPrefix    = 4 << 10  // a larger one by its first pfxPrefix bytes
	maxToken     = 256      // a token (the longest format, github_pat_, is 93 characters)
	maxJWT       = 4 << 10  // a JSON Web Token
	maxValue     = 4 << 10  // a value after a credential word or sealed name
	identReach   = 64       // the rest of the identifier holding a credential word
	credReach    = 40       // then the bytes in which its assignment must be
)

// detection is a candidate in the current round's data.
type detection struct {
	kind, detail         string
	at, length           int
	preview, fingerprint string
	sealed               string // the name, for a sealed-name finding
}

// add records a candidate starting at data[at]: shown is what its preview
// and length describe, fp what its fingerprint is taken over. Neither is
// kept.
func (s *scanner) add(kind, detail string, at int, shown, fp []byte) {
	s.found = append(s.found, detection{kind: kind, detail: detail, at: at, length: len(shown), preview: preview(shown), fingerprint: fingerprint(fp)})
}

// detect appends to s.found the candidates that start in data[lo:limit].
func (s *scanner) detect(data []byte, lo, limit int, text bool) {
	if lo >= limit {
		return
	}
	s.detectPEM(data, lo, limit)
	s.detectPEMBase64(data, lo, limit)
	s.detectDER(data, lo, limit)
	s.detectPKCS12(data, lo, limit)
	s.detectTokens(data, lo, limit, text)
	s.lower = asciiLower(s.lower[:0], data)
	s.detectCredentials(data, lo, limit)
	s.detectSealed(data, lo, limit)
}

func isLetter(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isUpper(c byte) bool    { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }
func isBase64Byte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '+' || c == '/' || c == '='
}

// asciiLower appends data lower-cased (ASCII only, same length) to dst.
func asciiLower(dst, data []byte) []byte {
	dst = append(dst, data...)
	for i, c := range dst {
		if isUpper(c) {
			dst[i] = c + 32
		}
	}
	return dst
}

// --- PEM ---

var (
	pemMarker    = []byte("-----BEGIN ")
	pemEnd       = []byte("-----END ")
	pemBeginRe   = regexp.MustCompile(`^-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----`)
	pemBase64    = []byte("LS0tLS1CRUdJTi") // base64 of "-----BEGIN"
	opensshMagic = []byte("openssh-key-v1\x00")
	// derPEMTypes hold a DER structure when not encrypted with the legacy
	// Proc-Type/DEK-Info headers.
	derPEMTypes = map[string]bool{"PRIVATE KEY": true, "RSA PRIVATE KEY": true, "EC PRIVATE KEY": true,
		"DSA PRIVATE KEY": true, "ENCRYPTED PRIVATE KEY": true}
)

func (s *scanner) detectPEM(data []byte, lo, limit int) {
	at := indexFrom(data, lo, pemMarker)
	for at >= 0 && at < limit {
		// A block ends before the next BEGIN: bounding the search for END
		// by it keeps the work linear however many markers a file holds.
		next := indexFrom(data, at+1, pemMarker)
		bound := next
		if bound < 0 {
			bound = len(data)
		}
		if typ, end, key := s.pemAt(data, at, bound); key != nil {
			s.add(kindPEMKey, typ, at, data[at:end], key)
		}
		at = next
	}
}

// indexFrom is bytes.Index from data[i] on, as an index into data.
func indexFrom(data []byte, i int, sep []byte) int {
	if i > len(data) {
		return -1
	}
	if j := bytes.Index(data[i:], sep); j >= 0 {
		return i + j
	}
	return -1
}

// pemAt checks for a private key block starting at data[at] whose END
// line starts before bound, and returns its type, where its END line
// starts and the bytes to fingerprint (the decoded key, so that the same
// key has the same fingerprint in PEM, in a string literal and in DER),
// or a nil key.
func (s *scanner) pemAt(data []byte, at, bound int) (typ string, end int, key []byte) {
	m := pemBeginRe.FindSubmatchIndex(data[at:min(len(data), at+maxPEMHeader)])
	if m == nil {
		return "", 0, nil
	}
	typ = string(data[at+m[2] : at+m[3]])
	body := at + m[1]
	if body > bound {
		return "", 0, nil
	}
	e := bytes.Index(data[body:min(bound, body+maxPEMBlock)], pemEnd)
	if e < 0 {
		return "", 0, nil
	}
	return typ, body + e, s.pemKey(data[body:body+e], typ)
}

// pemKey returns the bytes a PEM private key's fingerprint is taken over,
// or nil when body is not a key. The base64 lines between BEGIN and END
// are collected from a PEM file or from a string literal holding one
// (quoted pieces, "\n" escapes, comment markers, indentation), decoded,
// and must be a whole DER SEQUENCE for the DER types (an OpenSSH key must
// start with its magic; other types, encrypted ones, must be at least 32
// bytes). A parser's constant, a placeholder or a truncated example in
// documentation is therefore not a finding. When the lines do not decode
// as one base64 text, at least 100 base64 characters in runs of 16 or
// more make it a finding, fingerprinted over those characters.
func (s *scanner) pemKey(body []byte, typ string) []byte {
	s.b64 = s.b64[:0]
	headers := false
	for rest := body; len(rest) > 0; {
		var line []byte
		line, rest = nextPEMLine(rest)
		t := trimLiteral(line)
		switch {
		case len(t) == 0:
		case t[0] != '=' && isBase64(t): // a PGP checksum line starts with '='
			s.b64 = append(s.b64, t...)
		case bytes.IndexByte(t, ':') > 0:
			headers = true
		}
	}
	if cap(s.dec) < len(s.b64) {
		s.dec = make([]byte, len(s.b64))
	}
	dec := s.dec[:cap(s.dec)]
	n, err := base64.StdEncoding.Decode(dec, s.b64)
	if err != nil {
		n, err = base64.RawStdEncoding.Decode(dec, s.b64)
	}
	if err == nil {
		key := dec[:n]
		switch {
		case typ == "OPENSSH PRIVATE KEY":
			if bytes.HasPrefix(key, opensshMagic) && len(key) >= 64 {
				return key
			}
		case derPEMTypes[typ] && !headers:
			if total, ok := derSequenceLen(key); ok && total == len(key) && len(key) >= 32 {
				return key
			}
		default:
			if len(key) >= 32 {
				return key
			}
		}
		return nil
	}
	s.b64 = s.b64[:0]
	for i := 0; i < len(body); {
		j := i
		for j < len(body) && isBase64Byte(body[j]) {
			j++
		}
		if j-i >= 16 {
			s.b64 = append(s.b64, body[i:j]...)
		}
		i = j + 1
	}
	if len(s.b64) >= 100 {
		return s.b64
	}
	return nil
}

// nextPEMLine splits off the first line of b, ended by a newline or by a
// "\n" or "\r" escape inside a string literal.
func nextPEMLine(b []byte) (line, rest []byte) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\n', '\r':
			return b[:i], b[i+1:]
		case '\\':
			if i+1 < len(b) && (b[i+1] == 'n' || b[i+1] == 'r') {
				return b[:i], b[i+2:]
			}
		}
	}
	return b, nil
}

// trimLiteral strips what source code puts around a line of a key held in
// a string: indentation, comment markers, quotes, concatenation operators,
// commas, semicolons, line continuations.
func trimLiteral(t []byte) []byte {
	t = bytes.TrimSpace(t)
	for len(t) > 0 {
		switch c := t[0]; {
		case bytes.HasPrefix(t, []byte("//")):
			t = t[2:]
		case c == '#' || c == '*' || c == '"' || c == '\'' || c == '`' || c == ',' || c == ';' || c == '(':
			t = t[1:]
		case c == '+' && len(t) > 1 && (t[1] == ' ' || t[1] == '\t' || t[1] == '"' || t[1] == '\''):
			t = t[1:]
		default:
			goto right
		}
		t = bytes.TrimLeft(t, " \t")
	}
right:
	for len(t) > 0 {
		n := len(t)
		switch c := t[n-1]; {
		case c == '"' || c == '\'' || c == '`' || c == ',' || c == ';' || c == ')' || c == '\\':
			t = t[:n-1]
		case c == '+' && n > 1 && (t[n-2] == ' ' || t[n-2] == '\t' || t[n-2] == '"' || t[n-2] == '\''):
			t = t[:n-1]
		default:
			return t
		}
		t = bytes.TrimRight(t, " \t")
	}
	return t
}

func isBase64(t []byte) bool {
	for _, c := range t {
		if !isBase64Byte(c) {
			return false
		}
	}
	return true
}

// detectPEMBase64 finds PEM private keys that were base64-encoded whole,
// on one line, as Kubernetes secrets and some configuration files hold
// them.
func (s *scanner) detectPEMBase64(data []byte, lo, limit int) {
	for i := lo; ; {
		at := indexFrom(data, i, pemBase64)
		if at < 0 || at >= limit {
			return
		}
		e := at
		for e < len(data) && e-at < maxPEMBase64 && isBase64Byte(data[e]) {
			e++
		}
		i = e // the run is decoded once, whatever else it holds
		run := data[at:e]
		if n := base64.RawStdEncoding.DecodedLen(len(run)); cap(s.pem) < n {
			s.pem = make([]byte, n)
		}
		pem := s.pem[:cap(s.pem)]
		n, err := base64.StdEncoding.Decode(pem, run)
		if err != nil {
			n, err = base64.RawStdEncoding.Decode(pem, run)
		}
		if err != nil {
			continue
		}
		pem = pem[:n]
		for b := indexFrom(pem, 0, pemMarker); b >= 0; { // a certificate may come first
			next := indexFrom(pem, b+1, pemMarker)
			bound := next
			if bound < 0 {
				bound = len(pem)
			}
			if typ, _, key := s.pemAt(pem, b, bound); key != nil {
				s.add(kindPEMKey, typ+" (base64-encoded PEM)", at, run, key)
				break
			}
			b = next
		}
	}
}

// --- DER ---

var (
	// PKCS#8 and PKCS#1 start with INTEGER 0 (PKCS#8 v2 with 1), SEC 1
	// with INTEGER 1.
	derVersion0 = []byte{0x02, 0x01, 0x00}
	derVersion1 = []byte{0x02, 0x01, 0x01}
)

// detectDER finds DER private keys in any bytes: a SEQUENCE header right
// before a version INTEGER, and the SEQUENCE must parse with crypto/x509
// as a PKCS#8, PKCS#1 or SEC 1 private key, or be a PKCS#8 structure of
// one of pkcs8Others.
func (s *scanner) detectDER(data []byte, lo, limit int) {
	for _, ver := range [][]byte{derVersion0, derVersion1} {
		for i := lo; ; {
			j := bytes.Index(data[i:], ver)
			if j < 0 {
				break
			}
			at := i + j
			if at >= limit+4 { // the header is at most 4 bytes
				break
			}
			i = at + 1
			start, total, ok := derSequenceBefore(data, at)
			if !ok || start < lo || start >= limit {
				continue
			}
			if start+total > len(data) {
				continue
			}
			der := data[start : start+total]
			if !derWellFormed(der) {
				continue
			}
			if what := parseDERKey(der); what != "" {
				s.add(kindDERKey, what, start, der, der)
				i = start + total
			}
		}
	}
}

// derSequenceBefore looks for a DER SEQUENCE header ending right before
// at and returns where it starts and the total length of the SEQUENCE.
func derSequenceBefore(data []byte, at int) (start, total int, ok bool) {
	// 30 82 LL LL | 30 81 LL | 30 LL
	if at >= 4 && data[at-4] == 0x30 && data[at-3] == 0x82 {
		l := int(data[at-2])<<8 | int(data[at-1])
		if l >= 256 && l <= maxDERKey {
			return at - 4, 4 + l, true
		}
	}
	if at >= 3 && data[at-3] == 0x30 && data[at-2] == 0x81 && data[at-1] >= 0x80 {
		return at - 3, 3 + int(data[at-1]), true
	}
	if at >= 2 && data[at-2] == 0x30 && data[at-1] >= 40 && data[at-1] < 0x80 { // Ed25519 PKCS#8 is 48 bytes
		return at - 2, 2 + int(data[at-1]), true
	}
	return 0, 0, false
}

// derWellFormed reports whether der is a SEQUENCE whose elements, read
// by their headers, fill it exactly. It costs a few comparisons and
// spares crypto/x509 the candidates that are not DER at all.
func derWellFormed(der []byte) bool {
	hl, l, ok := berHeader(der)
	if !ok || der[0] != 0x30 || hl+l != len(der) {
		return false
	}
	for p := hl; p < len(der); {
		h, n, ok := berHeader(der[p:])
		if !ok || n < 0 || p+h+n > len(der) {
			return false
		}
		p += h + n
	}
	return true
}

// derSequenceLen returns the total length a DER SEQUENCE at b[0] declares.
func derSequenceLen(b []byte) (int, bool) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, false
	}
	hl, l, ok := berHeader(b)
	if !ok || l < 0 {
		return 0, false
	}
	return hl + l, true
}

// berHeader reads the length of the BER element at b[0]: the header's
// length and the content's, -1 for the indefinite form.
func berHeader(b []byte) (hl, l int, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	switch n := b[1]; {
	case n < 0x80:
		return 2, int(n), true
	case n == 0x80:
		return 2, -1, true
	case n == 0x81 && len(b) >= 3:
		return 3, int(b[2]), true
	case n == 0x82 && len(b) >= 4:
		return 4, int(b[2])<<8 | int(b[3]), true
	case n == 0x83 && len(b) >= 5:
		return 5, int(b[2])<<16 | int(b[3])<<8 | int(b[4]), true
	}
	return 0, 0, false
}

func parseDERKey(der []byte) string {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return "PKCS#8 private key"
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return "PKCS#1 RSA private key"
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return "SEC 1 EC private key"
	}
	// crypto/x509 does not know every algorithm; a PKCS#8 structure,
	// exactly this long, naming one of these is a key too.
	var k struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if rest, err := asn1.Unmarshal(der, &k); err == nil && len(rest) == 0 && len(k.PrivateKey) >= 32 {
		for _, a := range pkcs8Others {
			if k.Algorithm.Algorithm.Equal(a.oid) {
				return "PKCS#8 private key (" + a.name + ")"
			}
		}
	}
	return ""
}

// pkcs8Others are private key algorithms crypto/x509 does not parse in
// PKCS#8: ML-DSA (FIPS 204, RFC 9881; the SDK's post-quantum release
// keys), ML-KEM (FIPS 203), X448 and Ed448 (RFC 8410).
var pkcs8Others = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}, "ML-DSA-44"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}, "ML-DSA-65"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}, "ML-DSA-87"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}, "ML-KEM-512"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}, "ML-KEM-768"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}, "ML-KEM-1024"},
	{asn1.ObjectIdentifier{1, 3, 101, 111}, "X448"},
	{asn1.ObjectIdentifier{1, 3, 101, 113}, "Ed448"},
}

// --- PKCS#12 ---

// The pkcs7 OID arc 1.2.840.113549.1.7; .1 is data (a PFX protected by a
// password), .2 signedData (a PFX protected by a public key).
var oidPKCS7 = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07}

// detectPKCS12 finds PFX structures (RFC 7292, section 4):
//
//	PFX ::= SEQUENCE { version INTEGER 3, authSafe ContentInfo, ... }
//	ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ... }
//
// with contentType pkcs7-data holding an OCTET STRING or pkcs7-signedData
// holding a SEQUENCE. BER lengths, indefinite ones included, are accepted:
// some tools write them.
func (s *scanner) detectPKCS12(data []byte, lo, limit int) {
	for i := lo; ; {
		j := bytes.Index(data[i:], oidPKCS7)
		if j < 0 {
			return
		}
		o := i + j
		if o >= limit+13 { // headers (5 + 5) and the version (3) come first
			return
		}
		i = o + 1
		start, ok := pfxStart(data, o)
		if !ok || start < lo || start >= limit {
			continue
		}
		total := -1
		if hl, l, _ := berHeader(data[start:]); l >= 0 {
			total = hl + l
		}
		end := start + total
		if total < 0 || total > maxPFX || end > len(data) {
			end = min(len(data), start+pfxPrefix)
		}
		s.add(kindPKCS12, "PFX version 3", start, data[start:end], data[start:end])
		i = end
	}
}

// pfxStart checks the PFX structure around the pkcs7 OID at data[o] and
// returns where the PFX starts.
func pfxStart(data []byte, o int) (int, bool) {
	after := o + len(oidPKCS7)
	if after+4 > len(data) || data[after] != 0x01 && data[after] != 0x02 {
		return 0, false
	}
	signed := data[after] == 0x02
	after++
	// content [0] EXPLICIT, then an OCTET STRING (primitive or, in BER,
	// constructed) for data, a SEQUENCE for signedData.
	if data[after] != 0xa0 {
		return 0, false
	}
	hl, _, ok := berHeader(data[after:])
	if !ok || after+hl >= len(data) {
		return 0, false
	}
	switch inner := data[after+hl]; {
	case signed && inner == 0x30, !signed && (inner == 0x04 || inner == 0x24):
	default:
		return 0, false
	}
	// Before the OID: the ContentInfo header, INTEGER 3, the PFX header.
	for chl := 2; chl <= 5; chl++ {
		c := o - chl
		if c < 3 || data[c] != 0x30 {
			continue
		}
		if h, _, ok := berHeader(data[c:]); !ok || h != chl {
			continue
		}
		v := c - 3
		if data[v] != 0x02 || data[v+1] != 0x01 || data[v+2] != 0x03 {
			continue
		}
		for ohl := 2; ohl <= 5; ohl++ {
			p := v - ohl
			if p < 0 || data[p] != 0x30 {
				continue
			}
			if h, _, ok := berHeader(data[p:]); ok && h == ohl {
				return p, true
			}
		}
	}
	return 0, false
}

// --- tokens ---

var (
	tokenRe = regexp.MustCompile(`^(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,}|xox[baprs]-[0-9]{6,}-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|sk_live_[0-9A-Za-z]{24,}|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})`)
	// Each format's fixed prefix is found with bytes.Index, and the
	// format matched at that position only: a whole-chunk regular
	// expression is far slower.
	tokenNames = []struct{ prefix, name string }{
		{"AKIA", "AWS access key ID"}, {"ghp_", "GitHub token"}, {"gho_", "GitHub token"}, {"ghu_", "GitHub token"},
		{"ghs_", "GitHub token"}, {"ghr_", "GitHub token"}, {"github_pat_", "GitHub fine-grained token"},
		{"xox", "Slack token"}, {"AIza", "Google API key"}, {"sk_live_", "Stripe live secret key"}, {"eyJ", "JSON Web Token"},
	}
)

// detectTokens: in text, a token must not continue a word; in a binary,
// string constants are packed end to end, so it may.
func (s *scanner) detectTokens(data []byte, lo, limit int, text bool) {
	for _, tn := range tokenNames {
		prefix := []byte(tn.prefix)
		for i := lo; ; {
			j := bytes.Index(data[i:], prefix)
			if j < 0 || i+j >= limit {
				break
			}
			at := i + j
			i = at + 1
			if text && at > 0 && isWordByte(data[at-1]) {
				continue
			}
			window := maxToken
			if tn.prefix == "eyJ" {
				// A JWT's first part ends at a dot. Every "eyJ" inside a
				// run of base64url that does not is skipped with it, which
				// keeps "eyJeyJeyJ…" linear.
				r := at
				for r < len(data) && r-at < maxJWT && (isWordByte(data[r]) || data[r] == '-') {
					r++
				}
				if r >= len(data) || data[r] != '.' {
					i = r
					continue
				}
				window = maxJWT
			}
			if m := tokenRe.Find(data[at:min(len(data), at+window)]); m != nil {
				// In a compiled binary, string constants sit back to back:
				// "sk_live_" followed by other identifiers matches the
				// format. A real key's random part holds a digit and no
				// long lower-case word. An AWS key ID is upper case and
				// digits only, so identifiers cannot run into it, and one
				// real ID in about 28 has no digit: it is not filtered.
				if !text && tn.prefix != "eyJ" && tn.prefix != "AKIA" && wordy(m[len(prefix):]) {
					i = at + len(m)
					continue
				}
				s.add(kindToken, tn.name, at, m, m)
				i = at + len(m)
			}
		}
	}
}

// --- credential words ---

// credWords are searched for in lower case. A word counts at the start of
// an identifier or of a camelCase part ("adminPassword", "api_token"), not
// inside a longer word ("oauth" does, "nonsecret" does not).
var credWords = []string{"password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key",
	"private_key", "privatekey", "credential", "auth"}

type wordHit struct{ at, n int }

// detectCredentials finds a high-entropy value assigned (=, :, => or a
// closing tag's >) within credReach bytes after an identifier holding a
// credential word, on the same line: `adminPassword = "…"`,
// `"api_key": "…"`, `Authorization: Bearer …`, `token=…&`. The word may
// lie up to scanLookback bytes before the round's window; the value's
// start is what must lie in it.
func (s *scanner) detectCredentials(data []byte, lo, limit int) {
	hits := s.hits[:0]
	for _, w := range credWords {
		wb := []byte(w)
		for i := 0; ; {
			j := bytes.Index(s.lower[i:limit], wb) // a word after limit has its value there too
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(wb)
			if at > 0 && isLetter(data[at-1]) && !isUpper(data[at]) {
				continue
			}
			hits = append(hits, wordHit{at, len(wb)})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	s.hits = hits
	next := 0 // "auth_token: V" holds two words and one value
	for _, h := range hits {
		if h.at < next {
			continue
		}
		v, e, ok := credentialValue(data, h.at+h.n)
		next = e // words inside a value, random or not, are not searched again
		if ok && v >= lo && v < limit {
			val := data[v:e]
			s.add(kindEntropy, fmt.Sprintf("%.1f bits per character", entropy(val)), v, val, val)
		}
	}
}

// credentialValue looks after a credential word ending at p for the
// first assignment and the value after it, and returns where the value
// starts and ends (or where the search ended) and whether it is a
// high-entropy value of at least 20 characters.
func credentialValue(data []byte, p int) (v, e int, ok bool) {
	stop := min(len(data), p+identReach)
	for p < stop && (isWordByte(data[p]) || data[p] == '-') {
		p++
	}
	reach := min(len(data), p+credReach)
	for k := p; k < reach && data[k] != '\n'; k++ {
		if c := data[k]; c != '=' && c != ':' && c != '>' {
			continue
		}
		v := k + 1
		for n := 0; v < len(data) && n < 16 && strings.IndexByte("=:> \t\"'`\\", data[v]) >= 0; n++ {
			v++
		}
		v = skipAuthScheme(data, v)
		e := v
		for e < len(data) && e-v < maxValue && isValueByte(data[e]) {
			e++
		}
		return v, e, e-v >= 20 && highEntropy(data[v:e])
	}
	return p, p, false
}

// skipAuthScheme steps over "Bearer ", "Basic " or "Token " at data[v].
func skipAuthScheme(data []byte, v int) int {
	for _, sch := range []string{"bearer ", "basic ", "token "} {
		if len(data)-v > len(sch) && strings.EqualFold(string(data[v:v+len(sch)]), sch) {
			return v + len(sch)
		}
	}
	return v
}

func isValueByte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-'
}

func entropy(b []byte) float64 {
	var freq [256]int
	for _, c := range b {
		freq[c]++
	}
	var h float64
	n := float64(len(b))
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// highEntropy decides whether a value looks random. The Shannon entropy
// threshold grows with the length, since a short random string cannot
// reach the entropy of a long one: for n characters it is
// min(3.85, log2(n)-0.65) bits per character in general and
// min(3.0, log2(n)-1.6) for hex; either way 3 to 4 in 100 random values
// of 20 characters fall below it. A non-hex value must also hold a digit
// and no run of eight lower-case letters: random base64 nearly always
// does, identifiers and the string tables of binaries are made of words.
// A value shorter than 32 characters without an upper-case letter but
// with a separator (- / _) is a name ("aes256-gcm", "tink-aead/x25519"),
// not a secret.
func highEntropy(b []byte) bool {
	n := float64(len(b))
	isHex := true
	digits, upper, seps, run, longest := 0, 0, 0, 0, 0
	for _, c := range b {
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			isHex = false
		}
		switch {
		case isDigit(c):
			digits++
			run = 0
		case c >= 'a' && c <= 'z':
			run++
			longest = max(longest, run)
		case isUpper(c):
			upper++
			run = 0
		case c == '-' || c == '/' || c == '_':
			seps++
			run = 0
		default:
			run = 0
		}
	}
	if isHex {
		return entropy(b) >= min(3.0, math.Log2(n)-1.6)
	}
	if digits == 0 || longest >= 8 || upper == 0 && seps > 0 && len(b) < 32 {
		return false
	}
	return entropy(b) >= min(3.85, math.Log2(n)-0.65)
}

// --- sealed-store names ---

type sealedName struct {
	name  string
	lower []byte
}

// detectSealed finds a sealed-store name followed by an assignment and a
// value of at least six characters (`wifi_psk=…`, `"wifi_psk": "…"`),
// case-insensitively. The finding names the name and the value's length;
// neither its preview nor its fingerprint comes from the value. Template
// placeholders (a value starting with $ < % { [ ( or *) are not findings.
func (s *scanner) detectSealed(data []byte, lo, limit int) {
	for _, sn := range s.sealed {
		for i := lo; ; {
			j := bytes.Index(s.lower[i:], sn.lower)
			if j < 0 || i+j >= limit {
				break
			}
			at := i + j
			i = at + 1
			if at > 0 && isWordByte(data[at-1]) {
				continue
			}
			v, e, ok := sealedValue(data, at+len(sn.lower))
			i = max(i, e) // the value is not searched again
			if ok {
				s.found = append(s.found, detection{kind: kindSealedName, detail: "sealed name " + sn.name, at: at, length: e - at,
					preview: fmt.Sprintf("%s=… (value of %d bytes)", sn.name, e-v), sealed: sn.name})
			}
		}
	}
}

// sealedValue returns where the value after a sealed name ending at p
// starts and ends (or where the search ended) and whether it is a value.
func sealedValue(data []byte, p int) (v, e int, ok bool) {
	skip := func(set string) {
		for n := 0; p < len(data) && n < 8 && strings.IndexByte(set, data[p]) >= 0; n++ {
			p++
		}
	}
	skip(`\"'`)
	skip(" \t")
	if p >= len(data) || data[p] != ':' && data[p] != '=' {
		return p, p, false
	}
	p++
	skip("=> \t\"'`\\")
	v = p
	for p < len(data) && p-v < maxValue && data[p] > ' ' && data[p] < 0x7f && strings.IndexByte("\"'`,;})]\\", data[p]) < 0 {
		p++
	}
	return v, p, p-v >= 6 && strings.IndexByte("$<%{[(*", data[v]) < 0
}

// --- the soft KEK seed ---

// kekSeedMagic starts the seed file of secrets.NewSoftKEK (secrets/soft.go:
// seedMagic, then a 32-byte seed; TestScanSoftKEKSeed keeps the two in
// step). The file is made on the device at first start; one inside an
// image makes every device share the key that seals its secrets.
const kekSeedMagic = "BLSK\x01"

func isKEKSeed(b []byte) bool {
	return len(b) == len(kekSeedMagic)+32 && string(b[:len(kekSeedMagic)]) == kekSeedMagic
}

// --- what a finding shows ---

func preview(b []byte) string {
	p := b[:min(len(b), 4)]
	var sb strings.Builder
	for _, c := range p {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return fmt.Sprintf("%s… (%d bytes)", sb.String(), len(b))
}

func fingerprint(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// wordy reports whether b looks like words run together rather than a
// random token: no digit, or eight lower-case letters in a row.
func wordy(b []byte) bool {
	digits, run := 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
			run = 0
		case c >= 'a' && c <= 'z':
			run++
			if run >= 8 {
				return true
			}
		default:
			run = 0
		}
	}
	return digits == 0
}
