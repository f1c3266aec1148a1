package iface

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

func results(t *testing.T, sc *SelfCheck) map[string]conformance.CheckResult {
	t.Helper()
	out := map[string]conformance.CheckResult{}
	for _, r := range conformance.RunChecks(context.Background(), sc) {
		out[r.ID] = r
	}
	return out
}

func TestSelfCheckRunningDevice(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	_, portStr, _ := net.SplitHostPort(ts.addr)
	port, _ := strconv.Atoi(portStr)
	inv := testInventory(t, Service{Name: "web", Network: "tcp", Port: port, Addr: netip.MustParseAddr("127.0.0.1"),
		Purpose: "web UI and local API", Access: Authenticated, EnabledByDefault: true})

	// Privileges are read from a fixture: the test machine may run as root.
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "self", "status"), statusFixture)
	sc := &SelfCheck{
		ServerTLS:   ts.srv.Config().TLS,
		ClientTLS:   ts.tls,
		Server:      ts.srv,
		Inventory:   inv,
		Audit:       AuditOptions{ProcessOnly: true},
		AllowedCaps: 1 << capNetBindService,
		Probe:       ProbeOptions{ProcRoot: t.TempDir(), EtcRoot: t.TempDir(), RunRoot: t.TempDir()},
		ProcRoot:    proc,
	}
	res := results(t, sc)
	for _, id := range []string{"iface.tls", "iface.server", "iface.sockets", "iface.debug", "iface.input", "iface.privileges"} {
		if res[id].Verdict != conformance.Pass {
			t.Errorf("%s: %s %s (%s)", id, res[id].Verdict, res[id].Detail, res[id].Observed)
		}
	}
	if obs := res["iface.tls"].Observed; !strings.Contains(obs, "TLS 1.3") || !strings.Contains(obs, "X25519MLKEM768") {
		t.Errorf("tls observed %q", obs)
	}
	if obs := res["iface.sockets"].Observed; !strings.Contains(obs, "web tcp 127.0.0.1:"+portStr) {
		t.Errorf("sockets observed %q", obs)
	}

	// An undeclared listener turns 5.6-1 into FAIL.
	rogue, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	res = results(t, sc)
	if r := res["iface.sockets"]; r.Verdict != conformance.Fail || !strings.Contains(r.Detail, rogue.Addr().String()) {
		t.Errorf("rogue listener: %s %s", r.Verdict, r.Detail)
	}
}

func TestSelfCheckFailures(t *testing.T) {
	// Weak TLS configuration, no inventory, a debug process, root.
	_, cert := testIdentity(t)
	weak := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	probe := t.TempDir()
	fakeProc(t, probe, "7", "telnetd", "telnetd")
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "self", "status"), strings.Replace(statusFixture, "Uid:\t1000\t1000", "Uid:\t0\t0", 1))
	sc := &SelfCheck{ServerTLS: weak, Probe: ProbeOptions{ProcRoot: probe, EtcRoot: probe, RunRoot: probe}, ProcRoot: proc}
	res := results(t, sc)
	want := map[string]conformance.Verdict{
		"iface.tls":        conformance.Fail,
		"iface.server":     conformance.NotApplicable,
		"iface.sockets":    conformance.Fail,
		"iface.debug":      conformance.Fail,
		"iface.privileges": conformance.Fail,
	}
	for id, v := range want {
		if res[id].Verdict != v {
			t.Errorf("%s: %s (%s), want %s", id, res[id].Verdict, res[id].Detail, v)
		}
	}
	// Capabilities beyond the allowed set fail; missing no_new_privs is
	// inconclusive.
	writeFile(t, filepath.Join(proc, "self", "status"), strings.Replace(statusFixture, "CapEff:\t0000000000000400", "CapEff:\t0000000000201000", 1))
	if r := results(t, sc)["iface.privileges"]; r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "cap_sys_admin") {
		t.Errorf("extra caps: %s %s", r.Verdict, r.Detail)
	}
	writeFile(t, filepath.Join(proc, "self", "status"), strings.Replace(strings.Replace(statusFixture, "NoNewPrivs:\t1", "NoNewPrivs:\t0", 1), "CapEff:\t0000000000000400", "CapEff:\t0000000000000000", 1))
	if r := results(t, sc)["iface.privileges"]; r.Verdict != conformance.Inconclusive {
		t.Errorf("no_new_privs unset: %s %s", r.Verdict, r.Detail)
	}
	writeFile(t, filepath.Join(proc, "self", "status"), strings.Replace(statusFixture, "CapEff:\t0000000000000400", "CapEff:\t0000000000000000", 1))
	if r := results(t, sc)["iface.privileges"]; r.Verdict != conformance.Pass {
		t.Errorf("unprivileged: %s %s", r.Verdict, r.Detail)
	}
}

func TestSelfCheckServerCatchesLeakyHandler(t *testing.T) {
	// A device that runs the handler without Harden leaks its banner and
	// error text: the check sees it.
	srv, err := NewServer(ServerConfig{Handler: http.NotFoundHandler(), TLS: &tls.Config{MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	srv.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "lighttpd/1.4.59")
		http.Error(w, "no such file /var/www"+r.URL.Path, 404)
	})
	r := results(t, &SelfCheck{Server: srv})["iface.server"]
	if r.Verdict != conformance.Fail {
		t.Errorf("leaky server: %s %s", r.Verdict, r.Detail)
	}
}

func TestSelfCheckRefusesWeakClientConfig(t *testing.T) {
	s, c := testConfigs(t)
	for name, mut := range map[string]func(*tls.Config){
		"skip verify":    func(c *tls.Config) { c.InsecureSkipVerify = true },
		"tls 1.1":        func(c *tls.Config) { c.MinVersion = tls.VersionTLS11 },
		"default suites": func(c *tls.Config) { c.CipherSuites = nil },
		"cbc suite":      func(c *tls.Config) { c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA} },
	} {
		weak := c.Clone()
		mut(weak)
		r := results(t, &SelfCheck{ServerTLS: s, ClientTLS: weak})["iface.tls"]
		if r.Verdict != conformance.Fail {
			t.Errorf("%s: %s %s", name, r.Verdict, r.Detail)
		}
	}
	if r := results(t, &SelfCheck{ServerTLS: s, ClientTLS: c})["iface.tls"]; r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "client configuration") {
		t.Errorf("good client: %s %s %s", r.Verdict, r.Detail, r.Observed)
	}
}

// TestSelfCheckInputThroughDeviceHandlers: with input probes, iface.input
// sends hostile JSON through the device's own handler chain. A handler that
// decodes strictly passes; one that decodes leniently (encoding/json
// accepts unknown fields and duplicate keys) and goes on to check the
// password fails the check.
func TestSelfCheckInputThroughDeviceHandlers(t *testing.T) {
	lim := JSONLimits{MaxBytes: 4096, MaxDepth: 16}
	login := func(strict bool) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Password string `json:"password"`
			}
			var err error
			if strict {
				err = DecodeJSON(r.Body, &req, lim)
			} else {
				err = json.NewDecoder(r.Body).Decode(&req)
			}
			if err != nil {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			http.Error(w, "wrong password", http.StatusUnauthorized)
		})
		return mux
	}
	for _, strict := range []bool{true, false} {
		srv, err := NewServer(ServerConfig{Handler: login(strict), TLS: &tls.Config{MinVersion: tls.VersionTLS12}})
		if err != nil {
			t.Fatal(err)
		}
		sc := &SelfCheck{Server: srv, JSON: lim, InputProbes: []InputProbe{{Path: "/api/login"}}}
		var chk conformance.Check
		for _, c := range sc.Checks() {
			if c.ID == "iface.input" {
				chk = c
			}
		}
		if chk.Method != conformance.Measured {
			t.Errorf("with probes iface.input is %q, want measured", chk.Method)
		}
		r := results(t, sc)["iface.input"]
		switch {
		case strict && r.Verdict != conformance.Pass:
			t.Errorf("strict handler: %s %s", r.Verdict, r.Detail)
		case !strict && (r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "got past the decoder")):
			t.Errorf("lenient handler: %s %s", r.Verdict, r.Detail)
		}
	}
	// Without probes the check only exercises the library and says so.
	sc := &SelfCheck{JSON: lim}
	for _, c := range sc.Checks() {
		if c.ID == "iface.input" && c.Method == conformance.Measured {
			t.Error("without probes iface.input claims to measure")
		}
	}
	if r := results(t, sc)["iface.input"]; r.Verdict != conformance.Pass || !strings.Contains(r.Detail, "configured only") {
		t.Errorf("library-only input check: %s %q", r.Verdict, r.Detail)
	}
}
