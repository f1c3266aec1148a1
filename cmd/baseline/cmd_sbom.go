package main

import (
	"crypto/rand"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

func init() {
	register(command{
		name:    "sbom",
		summary: "write a CycloneDX 1.6 SBOM from a Go binary's build info (5.2-3, 5.6-6)",
		run:     runSBOM,
	})
}

// CycloneDX 1.6 JSON, only the parts we fill in.
type cdxBOM struct {
	BOMFormat    string         `json:"bomFormat"`
	SpecVersion  string         `json:"specVersion"`
	SerialNumber string         `json:"serialNumber"`
	Version      int            `json:"version"`
	Metadata     cdxMetadata    `json:"metadata"`
	Components   []cdxComponent `json:"components"`
	Dependencies []cdxDep       `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp,omitempty"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref,omitempty"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Hashes     []cdxHash     `json:"hashes,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDep struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func runSBOM(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sbom", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: baseline sbom [-o FILE] [-reproducible] BINARY")
		fmt.Fprintln(stderr, "\nWrites a CycloneDX 1.6 JSON SBOM of the Go modules linked into BINARY,")
		fmt.Fprintln(stderr, "read from its embedded build info (no source tree or network needed).")
		fs.PrintDefaults()
	}
	out := fs.String("o", "", "write to `FILE` instead of standard output")
	repro := fs.Bool("reproducible", false, "omit the timestamp and derive the serial number from the binary's hash, so the same binary gives the same SBOM")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	bin := fs.Arg(0)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		fmt.Fprintf(stderr, "baseline sbom: %s: no Go build info: %s\n", bin, oneLine(err.Error()))
		return 2
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		fmt.Fprintf(stderr, "baseline sbom: %s\n", oneLine(err.Error()))
		return 2
	}
	bom := buildSBOM(info, sum)
	if *repro {
		bom.SerialNumber = "urn:uuid:" + uuidFrom(sha256.Sum256(append([]byte("baseline-sbom:"), sum...)))
	} else {
		var r [32]byte
		rand.Read(r[:])
		bom.SerialNumber = "urn:uuid:" + uuidFrom(r)
		bom.Metadata.Timestamp = now().UTC().Format(time.RFC3339)
	}
	b, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "baseline sbom: %s\n", oneLine(err.Error()))
		return 2
	}
	b = append(b, '\n')
	if *out == "" {
		stdout.Write(b)
		return 0
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "baseline sbom: %s\n", oneLine(err.Error()))
		return 2
	}
	return 0
}

func fileSHA256(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// buildSBOM turns build info into a BOM (serial number and timestamp are set
// by the caller). binSum is the SHA-256 of the binary file.
func buildSBOM(info *debug.BuildInfo, binSum []byte) *cdxBOM {
	mainVer := info.Main.Version
	if mainVer == "" {
		mainVer = "(devel)"
	}
	name := info.Main.Path
	if name == "" {
		name = info.Path
	}
	main := cdxComponent{
		Type:    "application",
		Name:    name,
		Version: mainVer,
		PURL:    purl(name, mainVer),
		Hashes:  []cdxHash{{Alg: "SHA-256", Content: hex.EncodeToString(binSum)}},
		Properties: []cdxProperty{
			{Name: "golang:package", Value: info.Path},
			{Name: "golang:go_version", Value: info.GoVersion},
		},
	}
	main.BOMRef = main.PURL
	for _, s := range info.Settings {
		switch s.Key {
		case "-tags", "-ldflags", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "vcs", "vcs.revision", "vcs.time", "vcs.modified", "-trimpath", "-buildmode":
			main.Properties = append(main.Properties, cdxProperty{Name: "golang:build:" + s.Key, Value: s.Value})
		}
	}
	bom := &cdxBOM{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.6",
		Version:     1,
		Metadata: cdxMetadata{
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "baseline sbom"}}},
			Component: main,
		},
	}
	// The Go standard library is linked into every binary: list it so that
	// vulnerability monitoring (5.2-3) covers Go security releases too.
	gov := strings.TrimPrefix(info.GoVersion, "go")
	if i := strings.IndexAny(gov, " "); i >= 0 {
		gov = gov[:i]
	}
	std := cdxComponent{Type: "library", Name: "stdlib", Version: "v" + gov, PURL: purl("stdlib", "v"+gov)}
	std.BOMRef = std.PURL
	bom.Components = append(bom.Components, std)
	deps := cdxDep{Ref: main.BOMRef, DependsOn: []string{std.BOMRef}}
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		c := cdxComponent{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version)}
		c.BOMRef = c.PURL
		if h, ok := h1ToSHA256(m.Sum); ok {
			// The h1: sum is the SHA-256 of the module's file list with
			// per-file hashes (go.sum's dirhash), not of a zip: record it
			// both ways so a reader can match it against go.sum.
			c.Hashes = []cdxHash{{Alg: "SHA-256", Content: h}}
			c.Properties = append(c.Properties, cdxProperty{Name: "golang:h1", Value: m.Sum})
		}
		if d.Replace != nil {
			c.Properties = append(c.Properties, cdxProperty{Name: "golang:replaces", Value: d.Path + "@" + d.Version})
		}
		bom.Components = append(bom.Components, c)
		deps.DependsOn = append(deps.DependsOn, c.BOMRef)
	}
	bom.Dependencies = []cdxDep{deps}
	return bom
}

func h1ToSHA256(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(b), true
}

// purl returns the package URL of a Go module: pkg:golang/namespace/name@version,
// each path segment percent-encoded as the purl spec requires.
func purl(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = purlEscape(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" && version != "(devel)" {
		p += "@" + purlEscape(version)
	}
	return p
}

func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func uuidFrom(r [32]byte) string {
	u := r[:16]
	u[6] = u[6]&0x0f | 0x40 // version 4 layout
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
