package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func init() {
	register(command{
		name:    "scan",
		summary: "find hard-coded secrets (private keys, tokens, credential values) in source trees, binaries, firmware images and root file systems (5.4-3)",
		run:     runScan,
	})
}

const scanUsage = `usage: baseline scan [-allow FILE] [-format text|json|sarif] [-o FILE] [-sealed-names FILE] PATH...

Looks for hard-coded critical security parameters (EN 303 645 5.4-3) in each
PATH: a source tree, a single file such as a Go binary or a firmware image,
or an unpacked root file system. A PATH is followed if it is a symbolic
link and read whatever its type; inside a directory, symbolic links,
devices, pipes and sockets are skipped (so the walk never leaves the tree)
and .git is not entered. Files are read as streams in 1 MiB chunks that
overlap by 32 KiB, so memory stays constant however large an image is and a
secret across a chunk boundary is found. Compressed or encrypted content (a
squashfs or UBIFS image, a zip, a gzip) is not unpacked: scan the unpacked
tree.

It finds:
  private-key-pem          PEM private key blocks (RSA, EC, DSA, PKCS#8,
                           encrypted PKCS#8, OpenSSH, PGP, any other
                           "... PRIVATE KEY") whose body decodes as a key,
                           also as a string literal in source code (quoted
                           lines, "\n" escapes) and base64-encoded on one line
  private-key-der          DER private keys in any file, confirmed by parsing
                           with crypto/x509 (PKCS#8, PKCS#1, SEC 1), and PKCS#8
                           keys of ML-DSA, ML-KEM, X448 and Ed448
  pkcs12                   PKCS#12 / PFX files (version 3, then pkcs7-data or
                           signedData content)
  token                    AWS access key IDs (AKIA...), GitHub tokens (ghp_,
                           gho_, ghu_, ghs_, ghr_, github_pat_), Slack tokens
                           (xoxb-, xoxa-, xoxp-, xoxr-, xoxs- then digits),
                           Google API keys (AIza...), Stripe live secret keys
                           (sk_live_), JSON Web Tokens (eyJ... in three parts)
  high-entropy-credential  a value of 20 or more letters, digits and + / = _ -
                           whose Shannon entropy passes a length-dependent
                           threshold, assigned (= : => or a tag's >) within 40
                           bytes after an identifier holding password, passwd,
                           pwd, secret, token, api_key, apikey, api-key,
                           private_key, privatekey, credential or auth, on the
                           same line
  sealed-name-plaintext    a name listed in -sealed-names (one per line: the
                           names of the device's sealed-store secrets)
                           followed by = or : and a value of 6 or more
                           characters that is not a template placeholder
  soft-kek-seed            a file in the format of the seed of the secrets
                           package's soft KEK: made on each device at first
                           start, so one in an image is shared by all of them

Findings never print the secret: each shows its kind, path, byte offset
(and line, when the file's first 8 KiB are UTF-8 text without NUL bytes),
the first four characters with the length, and a fingerprint: 16 hex
digits of the SHA-256 of the matched bytes. For a PEM key these are its
decoded body, so the same key in DER has the same fingerprint; for a
sealed-name finding, the name and the path, never the value, and the
preview shows the name and the value's length only. A file with more than
1000 findings is reported as not scanned past them.

The allow-list (-allow) has one entry per line, "PATTERN REASON...":
PATTERN is a fingerprint or a slash-separated path glob (path.Match syntax;
a leading **/ matches any leading directories, a trailing /** everything
below a directory) matched against the path as printed. An entry without a
reason is an error. Allowed findings are listed as suppressed with their
reason; entries that match nothing are warned about on standard error.

Exit status: 1 when a finding is not allowed; otherwise 2 when a file could
not be scanned (the scan is incomplete; the report lists it), on a usage
error or an unreadable -allow or -sealed-names file; 0 when nothing but
allowed findings was found.
`

func runScan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, scanUsage) }
	allowFile := fs.String("allow", "", "allow-list `FILE`")
	sealedFile := fs.String("sealed-names", "", "`FILE` with the device's sealed-store names, one per line")
	format := fs.String("format", "text", "output format: text, json or sarif")
	outFile := fs.String("o", "", "write the report to `FILE` instead of standard output")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "baseline scan: give at least one PATH")
		return 2
	}
	switch *format {
	case "text", "json", "sarif":
	default:
		fmt.Fprintf(stderr, "baseline scan: unknown format %q (text, json or sarif)\n", *format)
		return 2
	}
	readList := func(name string, parse func(io.Reader) error) bool {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "baseline scan: %v\n", err)
			return false
		}
		defer f.Close()
		if err := parse(f); err != nil {
			fmt.Fprintf(stderr, "baseline scan: %s: %v\n", name, err)
			return false
		}
		return true
	}
	var allow []*allowEntry
	if *allowFile != "" && !readList(*allowFile, func(r io.Reader) (err error) { allow, err = parseAllow(r); return err }) {
		return 2
	}
	var sealed []string
	if *sealedFile != "" && !readList(*sealedFile, func(r io.Reader) (err error) { sealed, err = readSealedNames(r); return err }) {
		return 2
	}
	s := newScanner(sealed)
	for _, p := range fs.Args() {
		s.walk(p)
	}
	s.res.applyAllow(allow)
	out := stdout
	var file *os.File
	if *outFile != "" {
		f, err := os.Create(*outFile)
		if err != nil {
			fmt.Fprintf(stderr, "baseline scan: %v\n", err)
			return 2
		}
		file, out = f, f
	}
	var err error
	switch *format {
	case "json":
		err = writeJSONIndent(out, s.res)
	case "sarif":
		err = writeJSONIndent(out, sarifOf(&s.res))
	default:
		err = writeScanText(out, &s.res)
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "baseline scan: writing the report: %v\n", err)
		return 2
	}
	for _, u := range s.res.UnusedAllow {
		fmt.Fprintf(stderr, "baseline scan: warning: allow-list entry matched nothing (%s)\n", u)
	}
	switch {
	case len(s.res.Findings) > 0:
		return 1
	case len(s.res.Errors) > 0:
		fmt.Fprintf(stderr, "baseline scan: %d file(s) could not be read: the scan is incomplete\n", len(s.res.Errors))
		return 2
	}
	return 0
}

func writeJSONIndent(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// textPath quotes a path holding control characters, so that a file
// name cannot forge lines of the text report.
func textPath(p string) string {
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(p)
	}
	return p
}

func findingText(f scanFinding) string {
	loc := textPath(f.Path)
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, f.Line)
	}
	return fmt.Sprintf("%s: %s (%s) at byte %d: %s, fingerprint %s", loc, f.Kind, f.Detail, f.Offset, f.Preview, f.Fingerprint)
}

func writeScanText(w io.Writer, r *scanResult) error {
	bw := bufio.NewWriter(w)
	for _, f := range r.Findings {
		fmt.Fprintln(bw, findingText(f))
	}
	for _, f := range r.Suppressed {
		fmt.Fprintf(bw, "allowed: %s: %s\n", findingText(f), f.Reason)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(bw, "%s: not scanned: %s\n", textPath(e.Path), e.Error)
	}
	fmt.Fprintf(bw, "scanned %d files, %d bytes: %d finding(s), %d allowed, %d not scanned\n",
		r.FilesScanned, r.BytesScanned, len(r.Findings), len(r.Suppressed), len(r.Errors))
	return bw.Flush()
}
