package main

import (
	"bytes"
	"encoding/json"
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
	// With the device: rows from its checks, labelled with their method.
	p, results := smartplugBacking(t)
	dev := newFakeDevice(t, p.Model, p.FirmwareVersion, results)
	tokenFile := writeTemp(t, "token", dev.token)
	out.Reset()
	errb.Reset()
	if code := run([]string{"ixit", "--profile", smartplugProfile, "--format", "json", "--device", dev.srv.URL + "/api/selfcheck", "--device-cert", dev.certPEM, "--token-file", tokenFile}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var x conformance.IXIT
	if err := json.Unmarshal(out.Bytes(), &x); err != nil {
		t.Fatal(err)
	}
	if !x.ChecksAttached || len(x.Sections) != 29 {
		t.Fatalf("attached %v, %d sections", x.ChecksAttached, len(x.Sections))
	}
	found := false
	for _, r := range x.Sections[0].Rows {
		if r.Source == "check auth.throttle (measured)" {
			found = true
		}
	}
	if !found {
		t.Errorf("AuthMech rows: %+v", x.Sections[0].Rows)
	}
	for _, args := range [][]string{{}, {"--profile", smartplugProfile, "--format", "pdf"}, {"--profile", smartplugProfile, "--device-cert", dev.certPEM}} {
		if code := run(append([]string{"ixit"}, args...), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
