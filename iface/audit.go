package iface

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// AuditOptions tunes [Audit]. The zero value audits every listening socket
// in the device's network namespace, loopback ones included: what a port
// scan of the device could find, and more.
type AuditOptions struct {
	// ProcessOnly restricts the audit to sockets this process holds open
	// (matched through /proc/self/fd). Use it when other software on the
	// same host is audited separately; the default audits them all.
	ProcessOnly bool
	// IgnoreLoopback skips sockets bound to loopback addresses, which no
	// network peer can reach. Default false: they must be declared too.
	IgnoreLoopback bool
	// ProcRoot is the proc file system to read; "" means /proc. Tests
	// point it at a fixture directory.
	ProcRoot string
}

// AuditedSocket is one listening socket and what the inventory says
// about it.
type AuditedSocket struct {
	Socket
	// Service is the declared service covering the socket, "" if none.
	Service string `json:"service,omitempty"`
	// Own is true when this process holds the socket.
	Own bool `json:"own"`
	// Problem is "" for a declared, enabled service; otherwise
	// "undeclared" or "declared but disabled".
	Problem string `json:"problem,omitempty"`
}

// AuditReport lists every listening socket the audit saw.
type AuditReport struct {
	Sockets []AuditedSocket `json:"sockets"`
}

// Problems returns the sockets that fail the audit.
func (r *AuditReport) Problems() []AuditedSocket {
	var out []AuditedSocket
	for _, s := range r.Sockets {
		if s.Problem != "" {
			out = append(out, s)
		}
	}
	return out
}

// OK reports whether every listening socket is a declared, enabled service.
func (r *AuditReport) OK() bool { return len(r.Problems()) == 0 }

// Audit reads the listening sockets from /proc/net/{tcp,tcp6,udp,udp6}
// and checks each against inv: a socket no enabled service declares is a
// problem (5.6-1), and so is a disabled service still listening (5.6-5).
// On systems without /proc it returns an error wrapping
// errors.ErrUnsupported.
func Audit(ctx context.Context, inv *Inventory, o AuditOptions) (*AuditReport, error) {
	root := o.ProcRoot
	if root == "" {
		if defaultProcRoot == "" {
			return nil, fmt.Errorf("iface: socket audit: %w", errUnsupportedPlatform)
		}
		root = defaultProcRoot
	}
	own, err := ownSocketInodes(root)
	if err != nil && o.ProcessOnly {
		return nil, err
	}
	rep := &AuditReport{}
	seen := map[string]bool{}
	for _, t := range []struct{ file, network string }{
		{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"},
	} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		socks, err := readProcNet(filepath.Join(root, "net", t.file), t.network)
		if err != nil {
			if os.IsNotExist(err) && t.file[len(t.file)-1] == '6' {
				continue // kernel without IPv6
			}
			return nil, err
		}
		for _, s := range socks {
			if !s.Listening() {
				continue
			}
			if o.IgnoreLoopback && s.Local.Addr().IsLoopback() {
				continue
			}
			isOwn := own[s.Inode]
			if o.ProcessOnly && !isOwn {
				continue
			}
			key := s.String() + "/" + strconv.FormatUint(s.Inode, 10)
			if seen[key] {
				continue
			}
			seen[key] = true
			as := AuditedSocket{Socket: s, Own: isOwn}
			svc, enabled, ok := inv.match(s.Network, s.Local)
			switch {
			case !ok:
				as.Problem = "undeclared"
			case !enabled:
				as.Service, as.Problem = svc.Name, "declared but disabled"
			default:
				as.Service = svc.Name
			}
			rep.Sockets = append(rep.Sockets, as)
		}
	}
	return rep, nil
}

// maxProcNetBytes bounds one /proc/net file read (64 Ki rows of ~150 B).
const maxProcNetBytes = 16 << 20

func readProcNet(path, network string) ([]Socket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcNet(io.LimitReader(f, maxProcNetBytes), network)
}

// maxFDs bounds the /proc/self/fd entries inspected.
const maxFDs = 1 << 16

// ownSocketInodes returns the inodes of the sockets this process holds.
func ownSocketInodes(root string) (map[uint64]bool, error) {
	dir := filepath.Join(root, "self", "fd")
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("iface: socket audit: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(maxFDs)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("iface: socket audit: %w", err)
	}
	own := make(map[uint64]bool)
	for _, n := range names {
		target, err := os.Readlink(filepath.Join(dir, n))
		if err != nil {
			continue // closed meanwhile
		}
		if in, ok := socketInode(target); ok {
			own[in] = true
		}
	}
	return own, nil
}

// socketInode parses "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}
