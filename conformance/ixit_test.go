package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// smartplugProfile is the reference plug's profile, the one makers copy.
func smartplugProfile(t *testing.T) *Profile {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "examples", "smartplug", "profile.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := DecodeProfile(f, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// plugResults are results shaped like those the SDK's checks report on a
// running plug: IDs, methods and observed text as the packages write them.
func plugResults() []CheckResult {
	r := func(id string, m Method, v Verdict, observed string, provisions ...string) CheckResult {
		return CheckResult{ID: id, Title: "title of " + id, Provisions: provisions, Method: m, Result: Result{Verdict: v, Observed: observed}}
	}
	return []CheckResult{
		r("auth.no-default-credential", Measured, Pass, "state=ready; owner password >= 15 characters; setup secret: verifier only", "5.1-1", "5.1-2"),
		r("auth.hash-params", Measured, Pass, "argon2id m=19456 t=2 p=1, peppered", "5.1-3"),
		r("auth.throttle", Measured, Pass, "source: 5 free then 1s doubling to 15m; account: 10 free", "5.1-5"),
		r("auth.routes-declared", Configured, Pass, "12 routes: 3 public, 9 need a session", "5.5-4", "5.5-5"),
		r("update.trust-root", Measured, Pass, "root v3; a foreign root was refused", "5.3-10"),
		r("update.verification", Measured, Pass, "unsigned targets refused; corrupted chunk refused", "5.3-7", "5.3-9"),
		r("update.metadata-fresh", Configured, Pass, "targets expire 2026-12-20", "5.3-7"),
		r("secrets.sealed-at-rest", Measured, Pass, "kek=tpm; 4 sealed envelopes", "5.4-1"),
		r("secrets.device-identity", Measured, Inconclusive, "identity=soft", "5.4-2", "5.4-4"),
		r("iface.tls", Measured, Pass, "TLS 1.3 negotiated; TLS 1.1 and RSA key exchange refused", "5.5-1", "5.5-6", "5.5-7"),
		r("iface.sockets", Measured, Pass, "tcp/443 https (declared, enabled)", "5.6-1", "5.6-5"),
		r("iface.privileges", Measured, Pass, "uid=1000; capabilities none; no_new_privs=1", "5.6-7"),
		r("iface.input", Measured, Pass, "hostile JSON refused: 9 of 9", "5.13-1"),
		r("resilience.outbox", Measured, Pass, "queue survives a power cut", "5.9-1", "5.9-2"),
		r("resilience.reconnect-policy.cloud", Measured, Pass, "full jitter, 1s to 5m, Retry-After honoured", "5.9-3"),
		// A check that does not say how it worked reads as configured.
		r("conformance.model", "", Pass, "SP-100 Smart Plug", "5.3-16"),
		// A check the IXIT has no place for appears nowhere.
		r("vendor.private", Measured, Pass, "vendor probe"),
	}
}

func findRow(d IXITDocument, source string) (IXITRow, bool) {
	for _, r := range d.Rows {
		if r.Source == source {
			return r, true
		}
	}
	return IXITRow{}, false
}

func TestBuildIXITProfileOnly(t *testing.T) {
	p := smartplugProfile(t)
	x := BuildIXIT(p, nil)
	if x.Schema != IXITSchema || x.ChecksAttached || len(x.Sections) != 29 || !strings.Contains(x.Note, "No results from the running device were attached") {
		t.Fatalf("%s attached=%v %d sections, note %q", x.Schema, x.ChecksAttached, len(x.Sections), x.Note)
	}
	for _, d := range x.Sections {
		if d.DeviceInformed {
			t.Errorf("%s: device-informed without device results", d.ID())
		}
		for _, r := range d.Rows {
			if r.Source != "declared by the maker" || r.Check != "" {
				t.Errorf("%s: row from %q without device results", d.ID(), r.Source)
			}
		}
		if len(d.MakerToWrite) != 2 || !strings.HasPrefix(d.MakerToWrite[0], "MAKER TO WRITE: ") || !strings.Contains(d.MakerToWrite[1], "no self-check result of the device informs it") {
			t.Errorf("%s: maker items %q", d.ID(), d.MakerToWrite)
		}
	}
	// The maker's answers are carried over verbatim, labelled as theirs.
	a, _ := p.Answer("5.1-5")
	r, ok := findRow(x.Sections[0], "declared by the maker")
	if !ok {
		t.Fatal("AuthMech has no declared row")
	}
	found := false
	for _, r := range x.Sections[0].Rows {
		if slices.Equal(r.Provisions, []string{"5.1-5"}) && r.Text == "Y: "+oneLineText(a.Detail) {
			found = true
		}
	}
	if !found {
		t.Errorf("5.1-5's detail not in AuthMech: first row %+v", r)
	}
	// An N/A carries its justification.
	na, _ := p.Answer("5.3-15")
	if na.Support != NotApplicableSupport {
		t.Fatalf("the reference plug answers 5.3-15 %q", na.Support)
	}
	if r, ok := findRow(x.Sections[8], "declared by the maker"); !ok || r.Text != "N/A: "+oneLineText(na.Justification) {
		t.Errorf("ReplSup row %+v", r)
	}
}

func TestBuildIXITDevice(t *testing.T) {
	p := smartplugProfile(t)
	results := plugResults()
	x := BuildIXIT(p, results)
	if !x.ChecksAttached || !strings.Contains(x.Note, "measured ones exercised it") {
		t.Fatalf("attached %v, note %q", x.ChecksAttached, x.Note)
	}
	byID := map[string]IXITDocument{}
	for _, d := range x.Sections {
		byID[d.ID()] = d
	}
	for _, want := range []struct {
		section, source string
		fields          []string
		observed        string
	}{
		{"1-AuthMech", "check auth.throttle (measured)", []string{"Brute Force Prevention"}, "5 free then 1s doubling to 15m"},
		{"1-AuthMech", "check auth.hash-params (measured)", []string{"Cryptographic Details"}, "argon2id m=19456 t=2 p=1"},
		{"1-AuthMech", "check auth.no-default-credential (measured)", []string{"Authentication Factor", "Password Generation Mechanism"}, "verifier only"},
		{"13-SoftServ", "check auth.routes-declared (configured)", []string{"Authentication Mechanism"}, "9 need a session"},
		{"7-UpdMech", "check update.verification (measured)", []string{"Security Guarantees", "Cryptographic Details"}, "corrupted chunk refused"},
		{"7-UpdMech", "check update.trust-root (measured)", []string{"Security Guarantees"}, "foreign root was refused"},
		{"7-UpdMech", "check update.metadata-fresh (configured)", nil, "expire 2026-12-20"},
		{"10-SecParam", "check secrets.sealed-at-rest (measured)", []string{"Protection Scheme"}, "kek=tpm"},
		{"10-SecParam", "check secrets.device-identity (measured)", []string{"Protection Scheme", "Generation Mechanism"}, "identity=soft"},
		{"11-ComMech", "check iface.tls (measured)", []string{"Cryptographic Details", "Security Guarantees"}, "TLS 1.3 negotiated"},
		{"11-ComMech", "check resilience.reconnect-policy.cloud (measured)", []string{"Resilience Measures"}, "full jitter"},
		{"13-SoftServ", "check iface.sockets (measured)", nil, "tcp/443 https"},
		{"15-Intf", "check iface.sockets (measured)", []string{"Status"}, "tcp/443 https"},
		{"17-PrivlCtrl", "check iface.privileges (measured)", nil, "no_new_privs=1"},
		{"29-InpVal", "check iface.input (measured)", nil, "9 of 9"},
		{"23-ResMech", "check resilience.outbox (measured)", nil, "survives a power cut"},
		{"23-ResMech", "check resilience.reconnect-policy.cloud (measured)", nil, "Retry-After honoured"},
		{"2-UserInfo", "check conformance.model (configured)", []string{"Model Designation"}, "SP-100"},
	} {
		d := byID[want.section]
		r, ok := findRow(d, want.source)
		if !ok {
			t.Errorf("%s: no row %q", want.section, want.source)
			continue
		}
		if !d.DeviceInformed || !slices.Equal(r.Fields, want.fields) || !strings.Contains(r.Text, "observed: ") || !strings.Contains(r.Text, want.observed) {
			t.Errorf("%s %s: %+v", want.section, want.source, r)
		}
		if r.Check == "" || !strings.HasPrefix(want.source, "check "+r.Check+" ("+string(r.Method)+")") {
			t.Errorf("%s: structured source %q %q disagrees with %q", want.section, r.Check, r.Method, r.Source)
		}
	}
	// The inconclusive verdict is carried, not dressed up.
	if r, _ := findRow(byID["10-SecParam"], "check secrets.device-identity (measured)"); r.Verdict != Inconclusive || !strings.Contains(r.Text, "INCONCLUSIVE") {
		t.Errorf("identity row %+v", r)
	}
	// Every check row comes from a given result, its observation verbatim;
	// a check the IXIT has no place for is nowhere.
	given := map[string]CheckResult{}
	for _, r := range results {
		given[r.ID] = r
	}
	for _, d := range x.Sections {
		for _, r := range d.Rows {
			if r.Check == "" {
				continue
			}
			g, ok := given[r.Check]
			if !ok || !strings.Contains(r.Text, g.Observed) || r.Check == "vendor.private" {
				t.Errorf("%s: row %+v", d.ID(), r)
			}
		}
	}
	// Sections the device cannot inform stay the maker's, whole.
	for _, id := range []string{"3-VulnTypes", "4-Conf", "19-SecDev", "20-SecBoot", "21-PersData", "26-UserDec"} {
		d := byID[id]
		if d.DeviceInformed || len(d.MakerToWrite) != 2 || !strings.Contains(d.MakerToWrite[1], "the whole section") {
			t.Errorf("%s: informed %v, maker items %q", id, d.DeviceInformed, d.MakerToWrite)
		}
	}
	// Informed sections still list what the maker writes.
	if d := byID["1-AuthMech"]; len(d.MakerToWrite) != 1 || !strings.HasPrefix(d.MakerToWrite[0], "MAKER TO WRITE: every authentication mechanism") {
		t.Errorf("AuthMech maker items %q", d.MakerToWrite)
	}

	// No results from a device that was asked: attached, and said so.
	if x := BuildIXIT(p, []CheckResult{}); !x.ChecksAttached || !strings.Contains(x.Note, "reported no self-check results") {
		t.Errorf("empty results: %v %q", x.ChecksAttached, x.Note)
	}
}

func TestIXITJSONStable(t *testing.T) {
	p := smartplugProfile(t)
	results := plugResults()
	out := render(t, func(b *bytes.Buffer) error { return BuildIXIT(p, results).WriteJSON(b) })
	reversed := slices.Clone(results)
	slices.Reverse(reversed)
	if again := render(t, func(b *bytes.Buffer) error { return BuildIXIT(p, reversed).WriteJSON(b) }); again != out {
		t.Error("the same results in another order give another IXIT")
	}
	if !json.Valid([]byte(out)) {
		t.Fatal("not JSON")
	}
	var back IXIT
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != IXITSchema || back.TestSpecification != "ETSI TS 103 701 V1.1.1" || len(back.Sections) != 29 ||
		back.Sections[10].Key != "ComMech" || back.Sections[10].V2Key != "SecComMech" || back.Sections[0].Rows[0].Method != Measured {
		t.Errorf("decoded %+v", back.Sections[10].IXITSection)
	}
	// Timestamps are not part of the IXIT: a re-run the next day writes
	// the same document.
	for i := range results {
		results[i].At = testNow
	}
	if again := render(t, func(b *bytes.Buffer) error { return BuildIXIT(p, results).WriteJSON(b) }); again != out {
		t.Error("check times change the IXIT")
	}
}

func TestIXITMarkdown(t *testing.T) {
	md := render(t, func(b *bytes.Buffer) error { return BuildIXIT(hostileProfile(t), plugResults()).WriteMarkdown(b) })
	if n, esc := strings.Count(md, "<"), strings.Count(md, `\<`); n != esc || n == 0 {
		t.Errorf("%d '<', %d escaped", n, esc)
	}
	for _, want := range []string{
		"## IXIT 1-AuthMech: Authentication Mechanisms",
		"## IXIT 11-ComMech: Communication Mechanisms",
		"TS 103 701 V2.1.1 numbers this section 11-SecComMech (Secure Communication Mechanisms).",
		"## IXIT 29-InpVal: Data Input Validation",
		"| 5.1-5 | check auth.throttle \\(measured\\) | Brute Force Prevention |",
		"MAKER TO WRITE: the whole section",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if strings.Count(md, "\n## IXIT ") != 29 {
		t.Errorf("%d sections", strings.Count(md, "\n## IXIT "))
	}
	plain := render(t, func(b *bytes.Buffer) error { return BuildIXIT(exampleProfile(t), nil).WriteMarkdown(b) })
	if !strings.Contains(plain, "No results from the running device were attached") || strings.Contains(plain, "| check ") {
		t.Errorf("profile-only Markdown:\n%.600s", plain)
	}
}
