package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func init() {
	register(command{
		name:    "scan",
		summary: "find hard-coded secrets in source trees, binaries and firmware images (5.4-3)",
		run:     runScan,
	})
}

const scanUsage = `usage: baseline scan [-allow FILE] [-sealed-names FILE] [-format text|json|sarif] [-o FILE] PATH...

Looks for hard-coded critical security parameters (EN 303 645 5.4-3) in each
PATH: a source tree, a single file such as a Go binary or a firmware image,
or an unpacked root file system. Directories are walked without following
symbolic links; .git is skipped. Files are read as streams, so memory stays
constant however large an image is; an unreadable file is reported and the
scan goes on.

It finds:
  private-key-pem          PEM private keys that decode (PKCS#1, SEC 1, PKCS#8,
                           encrypted PKCS#8, OpenSSH, PGP)
  private-key-der          DER private keys inside any file, confirmed by parsing
  pkcs12                   PKCS#12 / PFX key stores
  token                    AWS key IDs, GitHub, Slack, Google API, Stripe live
                           keys, JSON Web Tokens
  high-entropy-credential  a high-entropy value assigned within 40 bytes after
                           password, secret, token, api_key, private_key,
                           credential or auth
  sealed-name-plaintext    a name from -sealed-names (one per line: the names of
                           the device's sealed-store secrets) followed by a value

Findings never print the secret: each shows its kind, path, byte offset (and
line for text), the first four characters with the length, and a
fingerprint (16 hex digits of its SHA-256). The allow-list has one entry per
line, "FINGERPRINT-or-PATH-GLOB REASON…"; an entry without a reason is an
error. Allowed findings are listed as suppressed, with their reason.

Exit status: 0 when nothing but allowed findings was found; 1 on a finding
(so CI can gate on it); 2 on usage errors or an unreadable allow-list.
Unreadable files are reported but do not change the exit status.
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
	var allow []*allowEntry
	if *allowFile != "" {
		f, err := os.Open(*allowFile)
		if err != nil {
			fmt.Fprintf(stderr, "baseline scan: %v\n", err)
			return 2
		}
		allow, err = parseAllow(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "baseline scan: %s: %v\n", *allowFile, err)
			return 2
		}
	}
	var sealed []string
	if *sealedFile != "" {
		f, err := os.Open(*sealedFile)
		if err != nil {
			fmt.Fprintf(stderr, "baseline scan: %v\n", err)
			return 2
		}
		sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
		for sc.Scan() {
			if n := strings.TrimSpace(sc.Text()); n != "" && !strings.HasPrefix(n, "#") {
				if len(n) > 128 {
					f.Close()
					fmt.Fprintf(stderr, "baseline scan: %s: a name longer than 128 bytes\n", *sealedFile)
					return 2
				}
				sealed = append(sealed, n)
			}
		}
		f.Close()
	}
	s := newScanner(sealed)
	for _, p := range fs.Args() {
		s.walk(p)
	}
	s.applyAllow(allow)
	out := stdout
	if *outFile != "" {
		f, err := os.Create(*outFile)
		if err != nil {
			fmt.Fprintf(stderr, "baseline scan: %v\n", err)
			return 2
		}
		defer f.Close()
		out = f
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
	if err != nil {
		fmt.Fprintf(stderr, "baseline scan: writing the report: %v\n", err)
		return 2
	}
	for _, u := range s.res.UnusedAllow {
		fmt.Fprintf(stderr, "baseline scan: warning: allow-list entry matched nothing (%s)\n", u)
	}
	if len(s.res.Findings) > 0 {
		return 1
	}
	return 0
}

func writeJSONIndent(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeScanText(w io.Writer, r *scanResult) error {
	bw := bufio.NewWriter(w)
	for _, f := range r.Findings {
		loc := fmt.Sprintf("%s@%d", f.Path, f.Offset)
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", f.Path, f.Line)
		}
		fmt.Fprintf(bw, "%s: %s (%s): %s, fingerprint %s\n", loc, f.Kind, f.Detail, f.Preview, f.Fingerprint)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(bw, "%s: not scanned: %s\n", e.Path, e.Error)
	}
	fmt.Fprintf(bw, "scanned %d files, %d bytes: %d finding(s), %d allowed, %d unreadable\n",
		r.FilesScanned, r.BytesScanned, len(r.Findings), len(r.Suppressed), len(r.Errors))
	return bw.Flush()
}

// SARIF 2.1.0, the parts code-scanning services read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Suppressions        []sarifSuppress   `json:"suppressions,omitempty"`
}

type sarifSuppress struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	ByteOffset int64 `json:"byteOffset"`
	StartLine  int   `json:"startLine,omitempty"`
}

func sarifOf(r *scanResult) sarifLog {
	kinds := make([]string, 0, len(kindText))
	for k := range kindText {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	drv := sarifDriver{Name: "baseline scan", InformationURI: "https://pkg.go.dev/github.com/iotbaseline/baseline/cmd/baseline"}
	for _, k := range kinds {
		drv.Rules = append(drv.Rules, sarifRule{ID: k, ShortDescription: sarifMessage{kindText[k]}})
	}
	res := []sarifResult{}
	conv := func(f scanFinding, sup bool) sarifResult {
		sr := sarifResult{RuleID: f.Kind, Level: "error",
			Message:             sarifMessage{fmt.Sprintf("%s: %s (%s)", kindText[f.Kind], f.Detail, f.Preview)},
			Locations:           []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Path}, Region: sarifRegion{ByteOffset: f.Offset, StartLine: f.Line}}}},
			PartialFingerprints: map[string]string{"baselineScan/v1": f.Fingerprint}}
		if sup {
			sr.Suppressions = []sarifSuppress{{Kind: "external", Justification: f.Reason}}
		}
		return sr
	}
	for _, f := range r.Findings {
		res = append(res, conv(f, false))
	}
	for _, f := range r.Suppressed {
		res = append(res, conv(f, true))
	}
	return sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{{Tool: sarifTool{Driver: drv}, Results: res}}}
}
