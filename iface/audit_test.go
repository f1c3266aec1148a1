package iface

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseProcNetFixtures(t *testing.T) {
	if !littleEndian() {
		t.Skip("fixtures were captured on a little-endian kernel")
	}
	read := func(name, network string) []Socket {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseProcNet(bytes.NewReader(b), network)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tcp := read("proc_net_tcp", "tcp")
	if len(tcp) != 3 || tcp[0].Local != netip.MustParseAddrPort("0.0.0.0:443") || !tcp[0].Listening() || tcp[0].Inode != 1603 {
		t.Errorf("tcp[0] %+v", tcp[0])
	}
	if tcp[1].Local != netip.MustParseAddrPort("127.0.0.1:43187") || tcp[1].UID != 1000 {
		t.Errorf("tcp[1] %+v", tcp[1])
	}
	if tcp[2].Listening() || tcp[2].Remote.Port() != 54321 {
		t.Errorf("established socket %+v", tcp[2])
	}
	tcp6 := read("proc_net_tcp6", "tcp")
	if tcp6[0].Local != netip.MustParseAddrPort("[::]:22") {
		t.Errorf("tcp6[0] %v", tcp6[0].Local)
	}
	if tcp6[1].Local != netip.MustParseAddrPort("127.0.0.1:8080") {
		t.Errorf("v4-mapped %v", tcp6[1].Local)
	}
	if tcp6[2].Local != netip.MustParseAddrPort("[::1]:23") {
		t.Errorf("::1 %v", tcp6[2].Local)
	}
	udp := read("proc_net_udp", "udp")
	if !udp[0].Listening() || udp[0].Local.Port() != 5353 || udp[1].Listening() {
		t.Errorf("udp %+v", udp)
	}
}

func littleEndian() bool {
	switch runtime.GOARCH {
	case "amd64", "386", "arm", "arm64", "riscv64", "loong64", "mipsle", "mips64le", "ppc64le", "wasm":
		return true
	}
	return false
}

func TestParseProcNetRefusesMalformed(t *testing.T) {
	hdr := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	for _, in := range []string{
		"",
		"garbage\n",
		hdr + "   0: 0000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1603\n",
		hdr + "   0: 00000000:01BB 00000000:0000 0A 0 0 0 0\n",
		hdr + "   0: 00000000:1BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1603\n",
		hdr + "   0: 00000000:01BB 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 1603\n",
		hdr + "   0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 1603\n",
		hdr + "   0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 " + strings.Repeat("9", 600) + "\n",
	} {
		if _, err := parseProcNet(strings.NewReader(in), "tcp"); !errors.Is(err, errProcNet) {
			t.Errorf("%q: %v", in, err)
		}
	}
	if _, err := parseProcNet(strings.NewReader(hdr), "sctp"); !errors.Is(err, errProcNet) {
		t.Error("unknown network accepted")
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, n := range []string{"proc_net_tcp", "proc_net_tcp6", "proc_net_udp"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("local_address\n 0: 00000000:0000 00000000:0000 0A a b c 0 0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, network := range []string{"tcp", "udp"} {
			socks, err := parseProcNet(bytes.NewReader(data), network)
			if err != nil {
				if !errors.Is(err, errProcNet) {
					t.Fatalf("error %v does not wrap errProcNet", err)
				}
				continue
			}
			if len(socks) > maxProcNetLines || len(socks) > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("%d sockets from %d bytes", len(socks), len(data))
			}
			for _, s := range socks {
				if !s.Local.IsValid() || !s.Remote.IsValid() || s.Network != network {
					t.Fatalf("invalid socket %+v", s)
				}
			}
		}
	})
}

func testInventory(t *testing.T, svcs ...Service) *Inventory {
	t.Helper()
	inv, err := NewInventory(svcs...)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestInventoryValidation(t *testing.T) {
	ok := Service{Name: "web", Network: "tcp", Port: 443, Purpose: "web UI", Access: Authenticated}
	for _, bad := range []Service{
		{Network: "tcp", Port: 443, Purpose: "x", Access: Public},
		{Name: "a", Network: "sctp", Port: 443, Purpose: "x", Access: Public},
		{Name: "a", Network: "tcp", Port: 0, Purpose: "x", Access: Public},
		{Name: "a", Network: "tcp", Port: 70000, Purpose: "x", Access: Public},
		{Name: "a", Network: "tcp", Port: 1, Purpose: "", Access: Public},
		{Name: "a", Network: "tcp", Port: 1, Purpose: "x", Access: "maybe"},
	} {
		if _, err := NewInventory(ok, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if _, err := NewInventory(ok, ok); err == nil {
		t.Error("duplicate name accepted")
	}
}

func TestInventoryListenDefaultOff(t *testing.T) {
	inv := testInventory(t,
		Service{Name: "web", Network: "tcp", Port: freePort(t, "tcp"), Addr: netip.MustParseAddr("127.0.0.1"), Purpose: "web UI", Access: Authenticated, EnabledByDefault: true},
		Service{Name: "ssh", Network: "tcp", Port: 2222, Addr: netip.MustParseAddr("127.0.0.1"), Purpose: "service technician shell", Access: Authenticated},
		Service{Name: "mdns", Network: "udp", Port: freePort(t, "udp"), Addr: netip.MustParseAddr("127.0.0.1"), Purpose: "discovery", Access: Public},
	)
	ctx := context.Background()
	if _, err := inv.Listen(ctx, "ssh"); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled service opened: %v", err)
	}
	if _, err := inv.Listen(ctx, "telnet"); !errors.Is(err, ErrUndeclared) {
		t.Errorf("undeclared service opened: %v", err)
	}
	if _, err := inv.Listen(ctx, "mdns"); err == nil {
		t.Error("udp service opened as tcp")
	}
	if err := inv.Enable(ctx, "telnet"); !errors.Is(err, ErrUndeclared) {
		t.Errorf("enable undeclared: %v", err)
	}
	ln, err := inv.Listen(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := inv.Enable(ctx, "mdns"); err != nil {
		t.Fatal(err)
	}
	pc, err := inv.ListenPacket(ctx, "mdns")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	st := inv.Services()
	if len(st) != 3 || st[0].Name != "mdns" || !st[0].Enabled || st[2].Name != "web" || st[1].Enabled {
		t.Errorf("services %+v", st)
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestAuditCatchesUndeclaredListener is the acceptance test of 5.6-1: the
// audit of this process's real sockets passes with only declared services
// listening, and fails, naming the socket, once the test opens one more.
func TestAuditCatchesUndeclaredListener(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, err := Audit(context.Background(), testInventory(t), AuditOptions{})
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("non-Linux audit: %v", err)
		}
		return
	}
	ctx := context.Background()
	inv := testInventory(t,
		Service{Name: "web", Network: "tcp", Port: freePort(t, "tcp"), Addr: netip.MustParseAddr("127.0.0.1"), Purpose: "web UI", Access: Authenticated, EnabledByDefault: true},
		Service{Name: "discovery", Network: "udp", Port: freePort(t, "udp"), Addr: netip.MustParseAddr("127.0.0.1"), Purpose: "local discovery", Access: Public, EnabledByDefault: true},
	)
	web, err := inv.Listen(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	disc, err := inv.ListenPacket(ctx, "discovery")
	if err != nil {
		t.Fatal(err)
	}
	defer disc.Close()
	opts := AuditOptions{ProcessOnly: true}
	rep, err := Audit(ctx, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("clean process failed the audit: %+v", rep.Problems())
	}
	if len(rep.Sockets) != 2 {
		t.Fatalf("audit saw %d sockets, want 2: %+v", len(rep.Sockets), rep.Sockets)
	}

	rogue, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	rogueUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rogueUDP.Close()
	rep, err = Audit(ctx, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	probs := rep.Problems()
	want := map[string]bool{
		"tcp " + rogue.Addr().String():         false,
		"udp " + rogueUDP.LocalAddr().String(): false,
	}
	for _, p := range probs {
		if _, ok := want[p.Socket.String()]; ok && p.Problem == "undeclared" && p.Own {
			want[p.Socket.String()] = true
		}
	}
	for k, found := range want {
		if !found {
			t.Errorf("audit missed undeclared listener %s; problems %+v", k, probs)
		}
	}

	// Disabling a service whose socket is still open is also a finding.
	if err := inv.Disable(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	rep, _ = Audit(ctx, inv, opts)
	found := false
	for _, p := range rep.Problems() {
		if p.Service == "web" && p.Problem == "declared but disabled" {
			found = true
		}
	}
	if !found {
		t.Errorf("disabled-but-listening not reported: %+v", rep.Problems())
	}
}

func TestAuditFixtureRoot(t *testing.T) {
	if !littleEndian() {
		t.Skip("fixtures were captured on a little-endian kernel")
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "net"), 0o755)
	os.MkdirAll(filepath.Join(root, "self", "fd"), 0o755)
	for _, n := range []string{"tcp", "tcp6", "udp"} {
		b, _ := os.ReadFile(filepath.Join("testdata", "proc_net_"+n))
		os.WriteFile(filepath.Join(root, "net", n), b, 0o644)
	}
	// udp6 missing: a kernel without IPv6 is fine.
	os.Symlink("socket:[1603]", filepath.Join(root, "self", "fd", "3"))
	os.Symlink("/dev/null", filepath.Join(root, "self", "fd", "0"))
	inv := testInventory(t,
		Service{Name: "web", Network: "tcp", Port: 443, Purpose: "web UI", Access: Authenticated, EnabledByDefault: true},
		Service{Name: "mdns", Network: "udp", Port: 5353, Purpose: "discovery", Access: Public, EnabledByDefault: true},
	)
	rep, err := Audit(context.Background(), inv, AuditOptions{ProcRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems() {
		got = append(got, p.Socket.String())
	}
	wantProbs := "tcp 127.0.0.1:43187,tcp [::]:22,tcp 127.0.0.1:8080,tcp [::1]:23"
	if strings.Join(got, ",") != wantProbs {
		t.Errorf("problems %v, want %s", got, wantProbs)
	}
	if !rep.Sockets[0].Own || rep.Sockets[0].Service != "web" {
		t.Errorf("own socket %+v", rep.Sockets[0])
	}
	rep, _ = Audit(context.Background(), inv, AuditOptions{ProcRoot: root, IgnoreLoopback: true})
	if n := len(rep.Problems()); n != 1 {
		t.Errorf("IgnoreLoopback: %d problems, want 1 ([::]:22)", n)
	}
	rep, _ = Audit(context.Background(), inv, AuditOptions{ProcRoot: root, ProcessOnly: true})
	if len(rep.Sockets) != 1 || !rep.OK() {
		t.Errorf("ProcessOnly: %+v", rep.Sockets)
	}
}
