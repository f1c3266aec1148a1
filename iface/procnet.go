package iface

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Bounds of [parseProcNet].
const (
	// maxProcNetLines bounds the sockets read from one /proc/net file.
	maxProcNetLines = 1 << 16
	// maxProcNetLine bounds one line; real lines are about 150 bytes.
	maxProcNetLine = 512
)

// errProcNet reports a /proc/net file that does not parse or exceeds the
// bounds.
var errProcNet = errors.New("iface: malformed /proc/net table")

// Socket is one row of /proc/net/{tcp,tcp6,udp,udp6}.
type Socket struct {
	// Network is "tcp" or "udp" (both address families).
	Network string `json:"network"`
	// Local and Remote are the socket's addresses; IPv4-mapped IPv6
	// addresses are unmapped.
	Local  netip.AddrPort `json:"local"`
	Remote netip.AddrPort `json:"remote"`
	// State is the kernel's state number (TCP_LISTEN is 0x0A; an
	// unconnected UDP socket is 0x07).
	State uint8 `json:"state"`
	// UID owns the socket; Inode identifies it (see /proc/PID/fd).
	UID   uint32 `json:"uid"`
	Inode uint64 `json:"inode"`
}

const (
	tcpListen = 0x0A
	udpClose  = 0x07
)

// Listening reports whether the socket accepts traffic from anyone: a TCP
// socket in LISTEN, or an unconnected, bound UDP socket.
func (s Socket) Listening() bool {
	switch s.Network {
	case "tcp":
		return s.State == tcpListen
	case "udp":
		return s.State == udpClose && s.Remote.Port() == 0 && s.Local.Port() != 0
	}
	return false
}

// String formats the socket as "tcp 0.0.0.0:443".
func (s Socket) String() string { return s.Network + " " + s.Local.String() }

// parseProcNet parses a /proc/net/tcp, tcp6, udp or udp6 table. network is
// "tcp" or "udp" (the family follows from the address width). At most
// maxProcNetLines rows of at most 512 bytes each are accepted; anything
// else is errProcNet.
func parseProcNet(r io.Reader, network string) ([]Socket, error) {
	if network != "tcp" && network != "udp" {
		return nil, fmt.Errorf("%w: network %q", errProcNet, network)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxProcNetLine), maxProcNetLine)
	var out []Socket
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if !strings.Contains(line, "local_address") {
				return nil, fmt.Errorf("%w: missing header", errProcNet)
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(out) >= maxProcNetLines {
			return nil, fmt.Errorf("%w: more than %d rows", errProcNet, maxProcNetLines)
		}
		s, err := parseProcNetLine(line, network)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errProcNet, err)
	}
	if first {
		return nil, fmt.Errorf("%w: empty", errProcNet)
	}
	return out, nil
}

func parseProcNetLine(line, network string) (Socket, error) {
	f := strings.Fields(line)
	// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
	if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
		return Socket{}, fmt.Errorf("%w: short row", errProcNet)
	}
	local, err := parseHexAddrPort(f[1])
	if err != nil {
		return Socket{}, err
	}
	remote, err := parseHexAddrPort(f[2])
	if err != nil {
		return Socket{}, err
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil || len(f[3]) != 2 {
		return Socket{}, fmt.Errorf("%w: state", errProcNet)
	}
	uid, err := strconv.ParseUint(f[7], 10, 32)
	if err != nil {
		return Socket{}, fmt.Errorf("%w: uid", errProcNet)
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return Socket{}, fmt.Errorf("%w: inode", errProcNet)
	}
	return Socket{Network: network, Local: local, Remote: remote, State: uint8(st), UID: uint32(uid), Inode: inode}, nil
}

// parseHexAddrPort decodes "0100007F:0CEA": the address as 32-bit words in
// the kernel's byte order, the port big-endian hex.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || (len(a) != 8 && len(a) != 32) {
		return netip.AddrPort{}, fmt.Errorf("%w: address", errProcNet)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: port", errProcNet)
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: address", errProcNet)
	}
	// Each 4-byte word was printed as a host-order uint32 with %08X.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	var addr netip.Addr
	if len(b) == 4 {
		addr = netip.AddrFrom4([4]byte(b))
	} else {
		addr = netip.AddrFrom16([16]byte(b)).Unmap()
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
