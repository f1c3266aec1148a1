package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

func TestIXITCommand(t *testing.T) {
	icsFixClock(t, icsToday)
	var out, errb bytes.Buffer
	if code := run([]string{"ixit", "--profile", smartplugProfile}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	md := out.String()
	for _, want := range []string{"No results from the running device were attached", "## IXIT 1-AuthMech: Authentication Mechanisms", "MAKER TO WRITE", "## IXIT 29-InpVal"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "| check ") {
		t.Error("a row from a check without --device")
	}

	// Without the device, JSON says so too.
	out.Reset()
	if code := run([]string{"ixit", "--profile", smartplugProfile, "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var alone conformance.IXIT
	if err := json.Unmarshal(out.Bytes(), &alone); err != nil || alone.ChecksAttached || !strings.Contains(alone.Note, "No results from the running device were attached") {
		t.Fatalf("profile only: %v %v %q", err, alone.ChecksAttached, alone.Note)
	}
}

func TestIXITCommandDevice(t *testing.T) {
	icsFixClock(t, icsToday)
	p, results := smartplugBacking(t)
	dev := newFakeDevice(t, p.Model, p.FirmwareVersion, results)
	tokenFile := writeTemp(t, "token", dev.token+"\n")
	url := dev.srv.URL + "/api/selfcheck"

	var out, errb bytes.Buffer
	if code := run([]string{"ixit", "--profile", smartplugProfile, "--format", "json", "--device", url, "--device-cert", dev.certPEM, "--token-file", tokenFile}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String()+errb.String(), dev.token) {
		t.Fatal("the owner's token was printed")
	}
	var x conformance.IXIT
	if err := json.Unmarshal(out.Bytes(), &x); err != nil {
		t.Fatal(err)
	}
	if !x.ChecksAttached || len(x.Sections) != 29 || x.Schema != "baseline.ixit/v1" {
		t.Fatalf("attached %v, %d sections, schema %q", x.ChecksAttached, len(x.Sections), x.Schema)
	}
	// Every check the device reported that the IXIT has a place for is
	// there, labelled with its method, and nothing else is.
	reported := map[string]bool{}
	for _, r := range results {
		reported[r.ID] = true
	}
	seen := map[string]bool{}
	for _, d := range x.Sections {
		for _, r := range d.Rows {
			if r.Check == "" {
				continue
			}
			if !reported[r.Check] || r.Source != "check "+r.Check+" (measured)" || !strings.Contains(r.Text, "observed: probe") {
				t.Errorf("%s: row %+v", d.ID(), r)
			}
			seen[r.Check] = true
		}
	}
	for _, id := range []string{"auth.throttle", "auth.hash-params", "iface.tls", "iface.sockets", "secrets.sealed-at-rest", "update.verification", "resilience.outbox"} {
		if reported[id] && !seen[id] {
			t.Errorf("%s reported but in no section", id)
		}
	}
	var throttle *conformance.IXITRow
	for i, r := range x.Sections[0].Rows {
		if r.Check == "auth.throttle" {
			throttle = &x.Sections[0].Rows[i]
		}
	}
	if throttle == nil || !slices.Equal(throttle.Fields, []string{"Brute Force Prevention"}) {
		t.Errorf("AuthMech throttle row: %+v", throttle)
	}

	// Markdown and the token from the environment.
	t.Setenv("PLUG_TOKEN", dev.token)
	out.Reset()
	if code := run([]string{"ixit", "--profile", smartplugProfile, "--device", url, "--device-cert", dev.certPEM, "--token-env", "PLUG_TOKEN"}, &out, &errb); code != 0 {
		t.Fatalf("--token-env: exit %d: %s", code, errb.String())
	}
	if md := out.String(); !strings.Contains(md, "| check auth.throttle \\(measured\\) | Brute Force Prevention |") || strings.Contains(md, "No results from the running device") {
		t.Errorf("markdown with the device:\n%.800s", md)
	}

	otherCert := writeTemp(t, "other.pem", selfSignedPEM(t))
	for name, args := range map[string][]string{
		"no profile":        {},
		"unknown format":    {"--profile", smartplugProfile, "--format", "pdf"},
		"cert without URL":  {"--profile", smartplugProfile, "--device-cert", dev.certPEM},
		"wrong certificate": {"--profile", smartplugProfile, "--device", url, "--device-cert", otherCert, "--token-file", tokenFile},
		"no token":          {"--profile", smartplugProfile, "--device", url, "--device-cert", dev.certPEM},
		"stray argument":    {"--profile", smartplugProfile, "extra"},
	} {
		out.Reset()
		errb.Reset()
		if code := run(append([]string{"ixit"}, args...), &out, &errb); code != 2 || out.Len() != 0 || strings.Contains(errb.String(), dev.token) {
			t.Errorf("%s: exit %d, stdout %d bytes, stderr %q", name, code, out.Len(), errb.String())
		}
	}
}
