package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestSBOMOfTestBinary(t *testing.T) {
	fixClock(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sbom.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"sbom", "-o", out, exe}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, _ := os.ReadFile(out)
	var bom map[string]any
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatal(err)
	}
	if bom["bomFormat"] != "CycloneDX" || bom["specVersion"] != "1.6" || !strings.HasPrefix(bom["serialNumber"].(string), "urn:uuid:") {
		t.Fatalf("header wrong: %v %v %v", bom["bomFormat"], bom["specVersion"], bom["serialNumber"])
	}
	md := bom["metadata"].(map[string]any)
	if md["timestamp"] != "2026-11-26T12:00:00Z" {
		t.Errorf("timestamp = %v", md["timestamp"])
	}
	mc := md["component"].(map[string]any)
	if mc["name"] != "github.com/iotbaseline/baseline" || len(mc["hashes"].([]any)) != 1 {
		t.Errorf("main component = %v", mc)
	}
	comps := bom["components"].([]any)
	std := comps[0].(map[string]any)
	if std["purl"] != "pkg:golang/stdlib@v"+strings.TrimPrefix(runtime.Version(), "go") {
		t.Errorf("stdlib component = %v (runtime %s)", std, runtime.Version())
	}
}

func TestSBOMReproducible(t *testing.T) {
	exe, _ := os.Executable()
	var a, b, stderr bytes.Buffer
	if run([]string{"sbom", "-reproducible", exe}, &a, &stderr) != 0 || run([]string{"sbom", "-reproducible", exe}, &b, &stderr) != 0 {
		t.Fatal(stderr.String())
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Contains(a.Bytes(), []byte(`"timestamp"`)) {
		t.Fatal("-reproducible output differs between runs or has a timestamp")
	}
}

func TestSBOMComponents(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/plug/cmd/plug",
		Main:      debug.Module{Path: "example.com/plug", Version: "v1.2.0"},
		Deps: []*debug.Module{
			{Path: "golang.org/x/crypto", Version: "v0.59.0", Sum: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
			{Path: "github.com/Foo/bar", Version: "v2.0.0+incompatible", Sum: "h1:bad"},
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1", Sum: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}},
		},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "-tags", Value: "tpm"}, {Key: "GOPRIVATE", Value: "secret.example"}},
	}
	bom := buildSBOM(info, make([]byte, 32))
	if bom.Metadata.Component.PURL != "pkg:golang/example.com/plug@v1.2.0" {
		t.Errorf("main purl = %s", bom.Metadata.Component.PURL)
	}
	props := map[string]string{}
	for _, p := range bom.Metadata.Component.Properties {
		props[p.Name] = p.Value
	}
	if props["golang:build:-tags"] != "tpm" || props["golang:build:GOOS"] != "linux" || props["golang:build:GOPRIVATE"] != "" {
		t.Errorf("properties = %v (only whitelisted build settings belong in an SBOM)", props)
	}
	want := []struct{ purl, sha string }{
		{"pkg:golang/stdlib@v1.26.8", ""},
		{"pkg:golang/golang.org/x/crypto@v0.59.0", "e3b0c4429" /* base64 above decodes to SHA-256("") */},
		{"pkg:golang/github.com/Foo/bar@v2.0.0%2Bincompatible", ""},
		{"pkg:golang/example.com/fork@v1.0.1", "e3b0c4429"},
	}
	if len(bom.Components) != len(want) {
		t.Fatalf("components = %+v", bom.Components)
	}
	for i, w := range want {
		c := bom.Components[i]
		if c.PURL != w.purl || c.BOMRef != w.purl {
			t.Errorf("component %d purl = %s; want %s", i, c.PURL, w.purl)
		}
		if w.sha == "" && len(c.Hashes) != 0 || w.sha != "" && (len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-256" || !strings.HasPrefix(c.Hashes[0].Content, w.sha)) {
			t.Errorf("component %d hashes = %v", i, c.Hashes)
		}
	}
	if len(bom.Dependencies) != 1 || len(bom.Dependencies[0].DependsOn) != 4 {
		t.Errorf("dependencies = %+v", bom.Dependencies)
	}
}

func TestSBOMBadInput(t *testing.T) {
	notGo := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notGo, []byte("#!/bin/sh\necho hi\n"), 0o755)
	for _, args := range [][]string{{"sbom"}, {"sbom", notGo}, {"sbom", notGo + ".missing"}, {"sbom", "a", "b"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || out.Len() != 0 {
			t.Errorf("%v: exit %d out %q; want 2 and no output", args, code, out.String())
		}
	}
}
