package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// testOwnerToken is the owner's bearer token of every fake device, made
// at run time (a token literal in the source is what baseline scan looks
// for).
var testOwnerToken = rand.Text()

// fakeDevice serves a self-check report the way the reference plug does:
// JSON at /api/selfcheck, only with the owner's bearer token, over TLS
// with the device's own certificate.
type fakeDevice struct {
	srv     *httptest.Server
	certPEM string
	token   string
	body    func() []byte
}

func newFakeDevice(t *testing.T, model, version string, results []conformance.CheckResult) *fakeDevice {
	t.Helper()
	d := &fakeDevice{token: testOwnerToken}
	var buf bytes.Buffer
	if err := conformance.NewReport(model, version, time.Now(), results).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	report := buf.Bytes()
	d.body = func() []byte { return report }
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/selfcheck" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+d.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(d.body())
	}))
	t.Cleanup(d.srv.Close)
	d.certPEM = writeTemp(t, "device.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.srv.Certificate().Raw})))
	return d
}

// smartplugBacking returns results that back every Y of the reference
// profile that needs a check, as the running plug's self-check would,
// with the named checks where the profile names them.
func smartplugBacking(t *testing.T) (*conformance.Profile, []conformance.CheckResult) {
	t.Helper()
	f, err := os.Open(smartplugProfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := conformance.DecodeProfile(f, icsToday)
	if err != nil {
		t.Fatal(err)
	}
	var rs []conformance.CheckResult
	for _, a := range p.Provisions {
		pr, _ := conformance.Lookup(a.ID)
		if a.Support != conformance.Yes {
			continue
		}
		ids := a.Checks
		if len(ids) == 0 && pr.Evidence == conformance.EvidenceEnforced {
			ids = []string{"test." + a.ID}
		}
		for _, id := range ids {
			rs = append(rs, conformance.CheckResult{ID: id, Title: id, Provisions: []string{a.ID}, Method: conformance.Measured,
				Result: conformance.Result{Verdict: conformance.Pass, Observed: "probe", At: time.Now()}})
		}
	}
	return p, rs
}

func TestICSDevice(t *testing.T) {
	icsFixClock(t, icsToday)
	p, results := smartplugBacking(t)
	dev := newFakeDevice(t, p.Model, p.FirmwareVersion, results)
	tokenFile := writeTemp(t, "token", dev.token+"\n")
	url := dev.srv.URL + "/api/selfcheck"

	code, out, errs := runICSCmd("--profile", smartplugProfile, "--device", url, "--device-cert", dev.certPEM, "--token-file", tokenFile)
	var st struct {
		ChecksAttached bool `json:"checks_attached"`
		Totals         struct {
			Pass, Measured, Unbacked int
		} `json:"totals"`
		Problems []conformance.Problem `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, errs)
	}
	if !st.ChecksAttached || st.Totals.Unbacked != 0 || st.Totals.Measured == 0 || st.Totals.Measured != st.Totals.Pass {
		t.Errorf("with the device: %+v", st.Totals)
	}
	// Every mandatory answer is Y and backed by the device's (here all
	// passing) results: no problem remains, and the statement says
	// conformant (exit 0). The recommendations answered N do not change that.
	for _, pb := range st.Problems {
		if pb.Field == "evidence" || pb.Field == "checks" {
			t.Errorf("evidence problem with the device's results attached: %s", pb)
		}
	}
	if code != 0 || strings.Contains(errs, "evidence:") || len(st.Problems) != 0 {
		t.Errorf("exit %d, %d problems, stderr:\n%s", code, len(st.Problems), errs)
	}

	// The token may also come from the environment.
	t.Setenv("PLUG_TOKEN", dev.token)
	if code, _, errs := runICSCmd("--profile", smartplugProfile, "--device", url, "--device-cert", dev.certPEM, "--token-env", "PLUG_TOKEN"); code != 0 || strings.Contains(errs, "evidence:") {
		t.Errorf("--token-env: exit %d %s", code, errs)
	}

	// httptest's servers all share one certificate; a pin on another
	// key must be refused.
	otherCert := writeTemp(t, "other.pem", selfSignedPEM(t))
	wrongToken := writeTemp(t, "wrong", "not-the-token")
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"wrong certificate":  {[]string{"--device", url, "--device-cert", otherCert, "--token-file", tokenFile}, "not the pinned one"},
		"wrong token":        {[]string{"--device", url, "--device-cert", dev.certPEM, "--token-file", wrongToken}, "refused the token"},
		"no token":           {[]string{"--device", url, "--device-cert", dev.certPEM}, "needs the owner's token"},
		"no certificate":     {[]string{"--device", url, "--token-file", tokenFile}, "needs --device-cert"},
		"plain http":         {[]string{"--device", strings.Replace(url, "https:", "http:", 1), "--device-cert", dev.certPEM, "--token-file", tokenFile}, "want an https URL"},
		"not the report":     {[]string{"--device", dev.srv.URL + "/other", "--device-cert", dev.certPEM, "--token-file", tokenFile}, "HTTP 404"},
		"cert without URL":   {[]string{"--device-cert", dev.certPEM}, "go with --device"},
		"token file and env": {[]string{"--device", url, "--device-cert", dev.certPEM, "--token-file", tokenFile, "--token-env", "PLUG_TOKEN"}, "not both"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runICSCmd(append([]string{"--profile", smartplugProfile}, tt.args...)...)
			if code != 2 || out != "" || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stdout %d bytes, stderr %q; want exit 2 and %q", code, len(out), errs, tt.want)
			}
			if strings.Contains(errs, dev.token) {
				t.Error("the token appears in an error")
			}
		})
	}

	// A report for another model or firmware is refused, and so is a
	// report with trailing data or a result that claims an unknown method.
	for name, body := range map[string]func() []byte{
		"other firmware": func() []byte {
			var b bytes.Buffer
			conformance.NewReport(p.Model, "9.9.9", time.Now(), results).WriteJSON(&b)
			return b.Bytes()
		},
		"trailing data": func() []byte { return append(bytes.Clone(dev.body()), '}') },
		"bad method": func() []byte {
			return bytes.Replace(dev.body(), []byte(`"method": "measured"`), []byte(`"method": "trust-me"`), 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newFakeDevice(t, p.Model, p.FirmwareVersion, results)
			d.body = body
			code, _, errs := runICSCmd("--profile", smartplugProfile, "--device", d.srv.URL+"/api/selfcheck", "--device-cert", d.certPEM, "--token-file", tokenFile)
			if code != 2 || errs == "" {
				t.Errorf("exit %d stderr %q", code, errs)
			}
		})
	}

	// A device that no longer runs a check the profile names: INCONCLUSIVE
	// and incomplete.
	var fewer []conformance.CheckResult
	for _, r := range results {
		if r.ID != "auth.throttle" {
			fewer = append(fewer, r)
		}
	}
	d := newFakeDevice(t, p.Model, p.FirmwareVersion, fewer)
	_, _, errs = runICSCmd("--profile", smartplugProfile, "--device", d.srv.URL+"/api/selfcheck", "--device-cert", d.certPEM, "--token-file", tokenFile)
	if !strings.Contains(errs, `5.1-5: checks: the profile names self-check "auth.throttle", which the device did not run`) {
		t.Errorf("a missing named check is not reported:\n%s", errs)
	}
}

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
