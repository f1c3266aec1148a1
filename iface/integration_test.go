package iface

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// foreignListeners returns the TCP ports in [lo, hi] on which some other
// process listens, so the scan can leave them out: the machine running the
// tests is shared, and only this process's exposure is under test.
func foreignListeners(t *testing.T, lo, hi int) map[int]bool {
	t.Helper()
	own, _ := ownSocketInodes("/proc")
	out := map[int]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		socks, err := readProcNet(f, "tcp")
		if err != nil {
			continue
		}
		for _, s := range socks {
			p := int(s.Local.Port())
			if s.Listening() && p >= lo && p <= hi && !own[s.Inode] {
				out[p] = true
			}
		}
	}
	return out
}

type nmapRun struct {
	Hosts []struct {
		Ports []struct {
			Protocol string `xml:"protocol,attr"`
			PortID   int    `xml:"portid,attr"`
			State    struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
			Service struct {
				Name      string `xml:"name,attr"`
				Product   string `xml:"product,attr"`
				Version   string `xml:"version,attr"`
				ExtraInfo string `xml:"extrainfo,attr"`
				Tunnel    string `xml:"tunnel,attr"`
			} `xml:"service"`
			Scripts []struct {
				ID     string `xml:"id,attr"`
				Output string `xml:"output,attr"`
			} `xml:"script"`
		} `xml:"ports>port"`
	} `xml:"host"`
}

// TestNmapSeesOnlyDeclaredPort: the hardened server on loopback, scanned
// with version detection and ssl-enum-ciphers across the ports around it,
// shows exactly the declared port, no product version, and TLS 1.2+ with
// AEAD suites only.
func TestNmapSeesOnlyDeclaredPort(t *testing.T) {
	nmap := testenv.LookPath(t, "nmap")
	testenv.Short(t, "nmap scan")
	ts := startServer(t, ServerConfig{})
	_, ps, _ := net.SplitHostPort(ts.addr)
	port, _ := strconv.Atoi(ps)
	lo, hi := max(1, port-40), min(65535, port+40)
	skip := foreignListeners(t, lo, hi)
	var list []string
	for p := lo; p <= hi; p++ {
		if !skip[p] {
			list = append(list, strconv.Itoa(p))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "nmap.xml")
	// --version-light keeps the scan to ~20 s on a shared CI machine; the
	// full intensity a lab uses (~100 s) was run by hand and also reports
	// "ssl/unknown" with no product or version.
	cmd := exec.CommandContext(ctx, nmap, "-Pn", "-n", "-sT", "-sV", "--version-light",
		"--script", "ssl-enum-ciphers", "-p", strings.Join(list, ","), "-oX", out, "127.0.0.1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nmap: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var run nmapRun
	if err := xml.Unmarshal(raw, &run); err != nil {
		t.Fatalf("nmap XML: %v", err)
	}
	var open []int
	for _, h := range run.Hosts {
		for _, p := range h.Ports {
			if p.State.State != "open" {
				continue
			}
			open = append(open, p.PortID)
			if p.PortID != port {
				continue
			}
			svc := p.Service
			t.Logf("nmap: %d/%s service=%q product=%q version=%q extra=%q tunnel=%q", p.PortID, p.Protocol, svc.Name, svc.Product, svc.Version, svc.ExtraInfo, svc.Tunnel)
			if svc.Version != "" || strings.ContainsAny(svc.ExtraInfo, "0123456789") {
				t.Errorf("version banner detected: %q %q", svc.Version, svc.ExtraInfo)
			}
			for _, s := range p.Scripts {
				if s.ID != "ssl-enum-ciphers" {
					continue
				}
				t.Logf("ssl-enum-ciphers:%s", s.Output)
				for _, line := range strings.Split(s.Output, "\n") {
					line = strings.TrimSpace(line)
					switch {
					case strings.HasPrefix(line, "SSLv") || strings.HasPrefix(line, "TLSv1.0") || strings.HasPrefix(line, "TLSv1.1"):
						t.Errorf("protocol below TLS 1.2 offered: %s", line)
					case strings.HasPrefix(line, "TLS_"):
						if !strings.Contains(line, "_GCM_") && !strings.Contains(line, "_CHACHA20_POLY1305_") {
							t.Errorf("non-AEAD suite offered: %s", line)
						}
						if !strings.HasPrefix(line, "TLS_AKE_") && !strings.HasPrefix(line, "TLS_ECDHE_") {
							t.Errorf("suite without ECDHE offered: %s", line)
						}
					}
				}
				if !strings.Contains(s.Output, "TLSv1.2") && !strings.Contains(s.Output, "TLSv1.3") {
					t.Errorf("ssl-enum-ciphers found no TLS 1.2/1.3: %s", s.Output)
				}
			}
		}
	}
	// The machine is shared: a port another process opened during the
	// scan is not this server's exposure. Anything else is.
	later := foreignListeners(t, lo, hi)
	var ours []int
	for _, p := range open {
		if p != port && later[p] {
			t.Logf("ignoring port %d: another process started listening during the scan", p)
			continue
		}
		ours = append(ours, p)
	}
	if len(ours) != 1 || ours[0] != port {
		t.Fatalf("open ports %v, want only the declared %d (scanned %d-%d minus other processes' %v)", ours, port, lo, hi, skip)
	}
	// The device's own audit agrees with the scanner.
	inv, err := NewInventory(Service{Name: "web", Network: "tcp", Port: port, Purpose: "web UI", Access: Authenticated, EnabledByDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Audit(ctx, inv, AuditOptions{ProcessOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Sockets) != 1 {
		t.Errorf("self-audit disagrees with nmap: %+v", rep.Sockets)
	}
}

type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// TestTestsslProtocolsAndCiphers runs testssl.sh against the hardened
// server: no protocol below TLS 1.2, every cipher suite offered is ECDHE
// with AEAD.
func TestTestsslProtocolsAndCiphers(t *testing.T) {
	bin, err := exec.LookPath("testssl")
	if err != nil {
		bin = testenv.LookPath(t, "testssl.sh")
	}
	testenv.Short(t, "testssl scan")
	ts := startServer(t, ServerConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "testssl.json")
	cmd := exec.CommandContext(ctx, bin, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
		"--connect-timeout", "10", "--openssl-timeout", "10",
		"-p", "-E", "-f", "--jsonfile", out, ts.addr)
	cmd.Dir = t.TempDir()
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("testssl timed out:\n%s", b)
	}
	raw, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("testssl wrote no JSON (%v):\n%s", err, b)
	}
	var fs []testsslFinding
	if err := json.Unmarshal(raw, &fs); err != nil {
		t.Fatalf("testssl JSON: %v", err)
	}
	byID := map[string]string{}
	var ciphers []string
	for _, f := range fs {
		byID[f.ID] = f.Finding
		if strings.HasPrefix(f.ID, "cipher-tls") || strings.HasPrefix(f.ID, "cipher-ssl") {
			ciphers = append(ciphers, f.Finding)
		}
	}
	for _, p := range []string{"SSLv2", "SSLv3", "TLS1", "TLS1_1"} {
		if !strings.Contains(byID[p], "not offered") {
			t.Errorf("%s: %q, want not offered", p, byID[p])
		}
	}
	for _, p := range []string{"TLS1_2", "TLS1_3"} {
		if !strings.HasPrefix(byID[p], "offered") {
			t.Errorf("%s: %q, want offered", p, byID[p])
		}
	}
	if len(ciphers) == 0 {
		t.Fatalf("testssl listed no ciphers:\n%s", b)
	}
	for _, c := range ciphers {
		t.Logf("cipher: %s", c)
		aead := strings.Contains(c, "GCM") || strings.Contains(c, "ChaCha20") || strings.Contains(c, "CHACHA20")
		if !aead {
			t.Errorf("non-AEAD cipher offered: %s", c)
		}
		if strings.HasPrefix(c, "TLS 1.2") && !strings.Contains(c, "ECDH") {
			t.Errorf("TLS 1.2 cipher without ECDHE: %s", c)
		}
	}
}
