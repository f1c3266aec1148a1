package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The scanner reads every file as a stream in chunks of scanChunk bytes,
// each searched together with the last scanOverlap bytes of the previous
// one, so a secret of up to scanOverlap bytes that spans a chunk boundary
// is still found while memory stays constant however large the file.
const (
	scanChunk   = 1 << 20
	scanOverlap = 32 << 10
	// maxPEMBlock bounds how far an END line is looked for after BEGIN.
	maxPEMBlock = 24 << 10
	// maxDERKey bounds a DER private key candidate (RSA 8192 is ~4.8 KiB).
	maxDERKey = 12 << 10
)

// Finding kinds, also the SARIF rule IDs.
const (
	kindPEMKey     = "private-key-pem"
	kindDERKey     = "private-key-der"
	kindPKCS12     = "pkcs12"
	kindToken      = "token"
	kindEntropy    = "high-entropy-credential"
	kindSealedName = "sealed-name-plaintext"
)

var kindText = map[string]string{
	kindPEMKey:     "private key in PEM (PKCS#1, SEC 1, PKCS#8, encrypted PKCS#8, OpenSSH, PGP)",
	kindDERKey:     "private key in DER (PKCS#1, SEC 1 or PKCS#8) embedded in the file",
	kindPKCS12:     "PKCS#12 / PFX key store",
	kindToken:      "well-known API token format",
	kindEntropy:    "high-entropy string assigned near a credential word",
	kindSealedName: "a sealed-store secret's name with a value next to it, in plaintext",
}

// scanFinding is one hard-coded secret candidate. It never holds the
// secret: Preview shows its first four characters and its length, and
// Fingerprint is a truncated SHA-256 of the matched bytes, stable across
// runs, for the allow-list.
type scanFinding struct {
	Kind        string `json:"kind"`
	Detail      string `json:"detail"`
	Path        string `json:"path"`
	Offset      int64  `json:"offset"`
	Line        int    `json:"line,omitempty"`
	Preview     string `json:"preview"`
	Fingerprint string `json:"fingerprint"`
	// Reason is the allow-list reason, for a suppressed finding.
	Reason string `json:"reason,omitempty"`
}

type scanError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

type scanResult struct {
	Schema       string        `json:"schema"`
	Findings     []scanFinding `json:"findings"`
	Suppressed   []scanFinding `json:"suppressed"`
	Errors       []scanError   `json:"errors"`
	UnusedAllow  []string      `json:"unused_allow_entries"`
	FilesScanned int           `json:"files_scanned"`
	BytesScanned int64         `json:"bytes_scanned"`
}

type scanner struct {
	sealedNames []*regexp.Regexp
	sealed      []string
	res         scanResult
	buf         []byte
	lower       []byte
}

func isLetter(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isWordByte(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '_' }

// asciiLower appends data lower-cased (ASCII only, same length) to dst.
func asciiLower(dst, data []byte) []byte {
	dst = append(dst, data...)
	for i, c := range dst {
		if c >= 'A' && c <= 'Z' {
			dst[i] = c + 32
		}
	}
	return dst
}

var (
	pemMarker  = []byte("-----BEGIN ")
	pemBegin   = regexp.MustCompile(`-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----`)
	tokenRe    = regexp.MustCompile(`^(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,}|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|sk_live_[0-9A-Za-z]{24,}|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})`)
	tokenNames = []struct{ prefix, name string }{
		{"AKIA", "AWS access key ID"}, {"ghp_", "GitHub token"}, {"gho_", "GitHub token"}, {"ghu_", "GitHub token"},
		{"ghs_", "GitHub token"}, {"ghr_", "GitHub token"}, {"github_pat_", "GitHub fine-grained token"},
		{"xox", "Slack token"}, {"AIza", "Google API key"}, {"sk_live_", "Stripe live secret key"}, {"eyJ", "JSON Web Token"},
	}
	// credRe finds a credential word followed, within 40 bytes on the same
	// line, by an assignment of a long token-like value.
	credRe    = regexp.MustCompile(`^[A-Za-z_]*[^\n]{0,40}?[=:]\s*["'\x60]?([A-Za-z0-9+/=_\-]{20,200})(?:["'\x60\s,;)}]|$)`)
	credWords = []string{"password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key", "private_key", "privatekey", "credential", "auth"}
	// DER: PKCS#8 and PKCS#1 start with INTEGER 0, SEC 1 with INTEGER 1.
	derVersion0 = []byte{0x02, 0x01, 0x00}
	derVersion1 = []byte{0x02, 0x01, 0x01}
	// pkcs7-data OID, the content type of a PFX's authSafe.
	oidPKCS7Data = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
)

func newScanner(sealed []string) *scanner {
	s := &scanner{res: scanResult{Schema: "baseline.scan/v1", Findings: []scanFinding{}, Suppressed: []scanFinding{}, Errors: []scanError{}, UnusedAllow: []string{}}}
	for _, n := range sealed {
		s.sealed = append(s.sealed, n)
		s.sealedNames = append(s.sealedNames, regexp.MustCompile(`^(?i)`+regexp.QuoteMeta(n)+`["']?\s*[:=]\s*["']?([^\s"',;}]{6,})`))
	}
	return s
}

// walk scans root: a file, or a directory tree without following symbolic
// links and skipping .git. Errors are recorded and the walk goes on.
func (s *scanner) walk(root string) {
	info, err := os.Lstat(root)
	if err != nil {
		s.fail(root, err)
		return
	}
	if !info.IsDir() {
		s.scanPath(root, filepath.ToSlash(filepath.Base(root)), info)
		return
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			s.fail(rel, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symbolic links, devices, sockets: not followed
		}
		info, err := d.Info()
		if err != nil {
			s.fail(rel, err)
			return nil
		}
		s.scanPath(p, rel, info)
		return nil
	})
}

func (s *scanner) fail(p string, err error) {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Op + ": " + pe.Err.Error()
	}
	s.res.Errors = append(s.res.Errors, scanError{Path: p, Error: msg})
}

func (s *scanner) scanPath(p, rel string, info fs.FileInfo) {
	f, err := os.Open(p)
	if err != nil {
		s.fail(rel, err)
		return
	}
	defer f.Close()
	if err := s.scanReader(f, rel); err != nil {
		s.fail(rel, err)
	}
}

// scanReader scans one stream. Lines are counted for text (no NUL byte in
// the first chunk); offsets are always given.
func (s *scanner) scanReader(r io.Reader, rel string) error {
	if cap(s.buf) < scanOverlap+scanChunk {
		s.buf = make([]byte, scanOverlap+scanChunk)
	}
	buf := s.buf[:cap(s.buf)]
	var (
		base    int64 // file offset of buf[0]
		kept    int   // bytes carried over from the previous chunk
		lines   = 1   // line number at buf[0]
		text    = true
		first   = true
		seen    = map[int64]bool{}
		scanned int64
	)
	s.res.FilesScanned++
	for {
		n, err := io.ReadFull(r, buf[kept:])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
		if n == 0 && kept == 0 {
			break
		}
		data := buf[:kept+n]
		if first {
			text = !bytes.Contains(data[:min(len(data), 8192)], []byte{0})
			first = false
		}
		scanned += int64(n)
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		// A candidate must start before the overlap kept for the next
		// round, unless this is the last chunk; the next round sees the
		// rest again.
		limit := len(data)
		if !eof && len(data) > scanOverlap {
			limit = len(data) - scanOverlap
		}
		for _, fd := range s.detect(data, limit) {
			off := base + int64(fd.at)
			if seen[off] {
				continue
			}
			seen[off] = true
			f := scanFinding{Kind: fd.kind, Detail: fd.detail, Path: rel, Offset: off, Preview: preview(fd.match), Fingerprint: fingerprint(fd.match)}
			if text {
				f.Line = lines + bytes.Count(data[:fd.at], []byte{'\n'})
			}
			s.res.Findings = append(s.res.Findings, f)
		}
		if eof {
			break
		}
		// Keep the tail for the next round.
		cut := len(data) - scanOverlap
		if cut < 0 {
			cut = 0
		}
		if text {
			lines += bytes.Count(data[:cut], []byte{'\n'})
		}
		kept = copy(buf, data[cut:])
		base += int64(cut)
		// Offsets in seen below base can no longer repeat.
		for k := range seen {
			if k < base {
				delete(seen, k)
			}
		}
	}
	s.res.BytesScanned += scanned
	return nil
}

type detection struct {
	kind, detail string
	at           int
	match        []byte
}

// detect returns the candidates starting in data[:limit].
func (s *scanner) detect(data []byte, limit int) []detection {
	var out []detection
	add := func(kind, detail string, at int, match []byte) {
		if at < limit {
			out = append(out, detection{kind, detail, at, match})
		}
	}
	// PEM private keys: the block must decode, so a constant naming the
	// PEM type (as parsers do) is not a finding.
	for i := 0; ; {
		j := bytes.Index(data[i:], pemMarker)
		if j < 0 {
			break
		}
		at := i + j
		i = at + 1
		m := pemBegin.FindSubmatchIndex(data[at:min(len(data), at+64)])
		if m == nil || m[0] != 0 {
			continue
		}
		for k := range m {
			m[k] += at
		}
		end := min(len(data), m[0]+maxPEMBlock)
		blk, _ := pem.Decode(data[m[0]:end])
		if blk != nil && strings.HasSuffix(blk.Type, "PRIVATE KEY") || blk != nil && blk.Type == "PGP PRIVATE KEY BLOCK" {
			if len(blk.Bytes) >= 32 {
				stop := bytes.Index(data[m[0]:end], []byte("-----END "))
				add(kindPEMKey, string(data[m[2]:m[3]]), m[0], data[m[0]:m[0]+stop])
			}
		}
	}
	// DER private keys: a SEQUENCE header followed by a version INTEGER,
	// confirmed by parsing.
	for _, ver := range [][]byte{derVersion0, derVersion1} {
		for i := 0; ; {
			j := bytes.Index(data[i:], ver)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			start, total, ok := derSequenceBefore(data, at)
			if !ok || start+total > len(data) {
				continue
			}
			der := data[start : start+total]
			if what := parseDERKey(der); what != "" {
				add(kindDERKey, what, start, der)
				i = start + total
			}
		}
	}
	// PKCS#12: version 3 then, within a few bytes, the pkcs7-data OID.
	for i := 0; ; {
		j := bytes.Index(data[i:], oidPKCS7Data)
		if j < 0 {
			break
		}
		at := i + j
		i = at + 1
		lo := max(0, at-12)
		if v := bytes.LastIndex(data[lo:at], []byte{0x02, 0x01, 0x03, 0x30}); v >= 0 {
			start := lo + v
			if start >= 4 && (data[start-4] == 0x30 || data[start-2] == 0x30 || data[start-3] == 0x30) {
				add(kindPKCS12, "PFX version 3 with pkcs7-data content", start, data[start:min(len(data), at+64)])
			}
		}
	}
	// Tokens: find each format's fixed prefix, then match the format at
	// that position (a whole-chunk regular expression is far slower).
	for _, tn := range tokenNames {
		for i := 0; ; {
			j := bytes.Index(data[i:], []byte(tn.prefix))
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			if at > 0 && isWordByte(data[at-1]) {
				continue
			}
			if m := tokenRe.Find(data[at:min(len(data), at+512)]); m != nil {
				add(kindToken, tn.name, at, m)
				i = at + len(m)
			}
		}
	}
	// Credential words: a lower-cased copy finds them fast; the value
	// after the word is matched in a short window.
	s.lower = asciiLower(s.lower[:0], data)
	for _, w := range credWords {
		for i := 0; ; {
			j := bytes.Index(s.lower[i:], []byte(w))
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(w)
			if at > 0 && isLetter(data[at-1]) && !(data[at] >= 'A' && data[at] <= 'Z') {
				continue // inside a word ("oauth", "nonsecret"), not camelCase ("adminPassword")
			}
			win := data[at:min(len(data), at+len(w)+300)]
			m := credRe.FindSubmatchIndex(win)
			if m == nil || m[0] != 0 {
				continue
			}
			val := win[m[2]:m[3]]
			if highEntropy(val) {
				add(kindEntropy, fmt.Sprintf("%.1f bits per character", entropy(val)), at+m[2], val)
			}
		}
	}
	for k, re := range s.sealedNames {
		name := []byte(strings.ToLower(s.sealed[k]))
		for i := 0; ; {
			j := bytes.Index(s.lower[i:], name)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(name)
			win := data[at:min(len(data), at+len(name)+300)]
			if m := re.FindSubmatchIndex(win); m != nil && m[0] == 0 {
				add(kindSealedName, "sealed name "+s.sealed[k], at, win[m[2]:m[3]])
			}
		}
	}
	return out
}

// derSequenceBefore looks for a DER SEQUENCE header ending right before
// at and returns where it starts and the total length of the SEQUENCE.
func derSequenceBefore(data []byte, at int) (start, total int, ok bool) {
	// 30 LL | 30 81 LL | 30 82 LL LL
	if at >= 4 && data[at-4] == 0x30 && data[at-3] == 0x82 {
		l := int(data[at-2])<<8 | int(data[at-1])
		if l >= 64 && l <= maxDERKey {
			return at - 4, 4 + l, true
		}
	}
	if at >= 3 && data[at-3] == 0x30 && data[at-2] == 0x81 {
		l := int(data[at-1])
		if l >= 64 {
			return at - 3, 3 + l, true
		}
	}
	if at >= 2 && data[at-2] == 0x30 && data[at-1] >= 40 && data[at-1] < 0x80 { // Ed25519 PKCS#8 is 48 bytes
		return at - 2, 2 + int(data[at-1]), true
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
	return ""
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

// highEntropy: hex values (at least 32 characters) need 3 bits per
// character; other values 4, at least one digit and no run of eight
// lower-case letters, so identifiers made of words do not count.
func highEntropy(b []byte) bool {
	isHex := len(b) >= 32
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			isHex = false
			break
		}
	}
	if isHex {
		return entropy(b) >= 3.0
	}
	// Random base64 nearly always holds a digit and rarely eight
	// lower-case letters in a row; identifiers and the string tables of
	// compiled binaries are made of words.
	digits, run, longest := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
			run = 0
		case c >= 'a' && c <= 'z':
			run++
			longest = max(longest, run)
		default:
			run = 0
		}
	}
	if digits == 0 || longest >= 8 {
		return false
	}
	return entropy(b) >= 4.0
}

func preview(b []byte) string {
	p := b
	if len(p) > 4 {
		p = p[:4]
	}
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

// allowEntry is one line of the allow-list: a fingerprint or a path glob,
// and the reason it is allowed.
type allowEntry struct {
	pattern, reason string
	line            int
	used            bool
}

var fingerprintRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

// parseAllow reads an allow-list: one entry per line, "PATTERN REASON…",
// where PATTERN is a finding's fingerprint or a slash-separated path glob
// (path.Match syntax; a trailing "/**" matches everything below a
// directory). Blank lines and lines starting with # are ignored. An entry
// without a reason is an error: every exception must say why.
func parseAllow(r io.Reader) ([]*allowEntry, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if len(data) > 1<<20 {
		return nil, errors.New("allow-list larger than 1 MiB")
	}
	var out []*allowEntry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, _ := strings.Cut(line, " ")
		reason = strings.TrimSpace(reason)
		if reason == "" {
			return nil, fmt.Errorf("line %d: %q has no reason: every allowed finding must say why", i+1, pat)
		}
		if !fingerprintRe.MatchString(pat) {
			if _, err := path.Match(strings.TrimSuffix(pat, "/**"), "x"); err != nil {
				return nil, fmt.Errorf("line %d: bad pattern %q: %v", i+1, pat, err)
			}
		}
		out = append(out, &allowEntry{pattern: pat, reason: reason, line: i + 1})
	}
	return out, nil
}

func (e *allowEntry) matches(f scanFinding) bool {
	if fingerprintRe.MatchString(e.pattern) {
		return e.pattern == f.Fingerprint
	}
	if dir, ok := strings.CutSuffix(e.pattern, "/**"); ok {
		return f.Path == dir || strings.HasPrefix(f.Path, dir+"/")
	}
	ok, _ := path.Match(e.pattern, f.Path)
	return ok
}

// applyAllow moves allowed findings to Suppressed with their reason and
// lists the entries that matched nothing.
func (s *scanner) applyAllow(allow []*allowEntry) {
	var keep []scanFinding
	for _, f := range s.res.Findings {
		allowed := false
		for _, e := range allow {
			if e.matches(f) {
				e.used = true
				f.Reason = e.reason
				allowed = true
				break
			}
		}
		if allowed {
			s.res.Suppressed = append(s.res.Suppressed, f)
		} else {
			keep = append(keep, f)
		}
	}
	if keep == nil {
		keep = []scanFinding{}
	}
	s.res.Findings = keep
	for _, e := range allow {
		if !e.used {
			s.res.UnusedAllow = append(s.res.UnusedAllow, fmt.Sprintf("line %d: %s", e.line, e.pattern))
		}
	}
	sortFindings(s.res.Findings)
	sortFindings(s.res.Suppressed)
}

func sortFindings(fs []scanFinding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Path != fs[j].Path {
			return fs[i].Path < fs[j].Path
		}
		return fs[i].Offset < fs[j].Offset
	})
}
