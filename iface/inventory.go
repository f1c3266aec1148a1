package iface

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"

	"github.com/iotbaseline/baseline/durable"
)

// Access says who may use a declared service.
type Access string

// The access levels a [Service] declares.
const (
	// Authenticated: every request or session is authenticated (by the auth
	// package, mutual TLS, or the protocol itself).
	Authenticated Access = "authenticated"
	// Public: reachable without authentication (for example the HTTP to
	// HTTPS redirect, mDNS announcements, the setup page before
	// provisioning). Keep this list short: a lab reviews every entry.
	Public Access = "public"
)

// Service is one declared network or logical interface of the device
// (provision 5.6-1): what listens, where, why, and who may use it.
type Service struct {
	// Name identifies the service ("web-ui", "mqtt-local", "mdns").
	Name string `json:"name"`
	// Network is "tcp" or "udp".
	Network string `json:"network"`
	// Port is the port it listens on, 1–65535.
	Port int `json:"port"`
	// Addr restricts the declaration to one local address (for example
	// 127.0.0.1 for a loopback-only helper). The zero Addr matches any.
	Addr netip.Addr `json:"addr,omitzero"`
	// Purpose says in plain words why the service exists.
	Purpose string `json:"purpose"`
	// Access is Authenticated or Public.
	Access Access `json:"access"`
	// EnabledByDefault is true for services that run on a device fresh
	// from the factory. Provision 5.6-5 wants unnecessary services off
	// by default: each true entry needs a purpose that justifies it.
	EnabledByDefault bool `json:"enabledByDefault"`
}

// Inventory errors.
var (
	// ErrUndeclared reports a service name or socket absent from the
	// inventory.
	ErrUndeclared = errors.New("iface: service not declared")
	// ErrDisabled reports an attempt to listen for a disabled service.
	ErrDisabled = errors.New("iface: service disabled")
)

// Inventory is the device's declared interfaces together with which of
// them are enabled now: a service registry whose entries start as their
// EnabledByDefault says, so anything not needed out of the box stays off
// until the user or the device enables it (5.6-5). [Inventory.Listen]
// opens only enabled, declared services, and [Audit] compares the
// sockets actually listening against it (5.6-1). Safe for concurrent use.
// Enabled state lives in memory unless [Inventory.PersistTo] names a file
// on flash.
type Inventory struct {
	mu       sync.Mutex
	services []Service
	enabled  map[string]bool
	fsys     durable.FS // nil: state lives in memory only
	file     string
}

// NewInventory validates and records the declared services. Names must be
// unique, networks "tcp" or "udp", ports in range, access levels known and
// purposes non-empty.
func NewInventory(services ...Service) (*Inventory, error) {
	inv := &Inventory{enabled: make(map[string]bool)}
	for _, s := range services {
		if err := Name("name", s.Name); err != nil {
			return nil, fmt.Errorf("iface: service name: %w", err)
		}
		if _, dup := inv.enabled[s.Name]; dup {
			return nil, fmt.Errorf("iface: service %q declared twice", s.Name)
		}
		if s.Network != "tcp" && s.Network != "udp" {
			return nil, fmt.Errorf("iface: service %q: network %q is not tcp or udp", s.Name, s.Network)
		}
		if s.Port < 1 || s.Port > 65535 {
			return nil, fmt.Errorf("iface: service %q: port %d out of range", s.Name, s.Port)
		}
		if s.Access != Authenticated && s.Access != Public {
			return nil, fmt.Errorf("iface: service %q: access %q is not authenticated or public", s.Name, s.Access)
		}
		if s.Purpose == "" {
			return nil, fmt.Errorf("iface: service %q: no purpose declared", s.Name)
		}
		inv.services = append(inv.services, s)
		inv.enabled[s.Name] = s.EnabledByDefault
	}
	return inv, nil
}

// ServiceState is a declared service and whether it is enabled now.
type ServiceState struct {
	Service
	Enabled bool `json:"enabled"`
}

// Services lists the declared services, sorted by name, with their
// current state: the inventory a device documents and its self-check
// reports.
func (inv *Inventory) Services() []ServiceState {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]ServiceState, 0, len(inv.services))
	for _, s := range inv.services {
		out = append(out, ServiceState{Service: s, Enabled: inv.enabled[s.Name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Enable turns a declared service on; it takes effect at the next
// [Inventory.Listen]. With [Inventory.PersistTo] the choice is written to
// flash first: on error nothing changed, in memory or on flash.
func (inv *Inventory) Enable(ctx context.Context, name string) error { return inv.set(ctx, name, true) }

// Disable turns a declared service off. The device must close its
// listener; [Audit] reports the service as FAIL while it still listens.
// Persisted like [Inventory.Enable].
func (inv *Inventory) Disable(ctx context.Context, name string) error {
	return inv.set(ctx, name, false)
}

func (inv *Inventory) set(ctx context.Context, name string, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.enabled[name]; !ok {
		return fmt.Errorf("%w: %q", ErrUndeclared, printable(name, 64))
	}
	if inv.fsys != nil && inv.enabled[name] != on {
		next := make(map[string]bool, len(inv.enabled))
		for k, v := range inv.enabled {
			next[k] = v
		}
		next[name] = on
		if err := inv.save(next); err != nil {
			return err
		}
	}
	inv.enabled[name] = on
	return nil
}

// maxInventoryFile bounds the persisted service state.
const maxInventoryFile = 64 << 10

type inventoryFile struct {
	Version int             `json:"version"`
	Enabled map[string]bool `json:"enabled"`
}

// PersistTo makes the enabled/disabled choices survive reboots: it loads
// the state saved in the file at path, if any, and from then on every
// [Inventory.Enable] and [Inventory.Disable] replaces that file atomically
// (temp file, fsync, rename, directory fsync) before it takes effect.
// Entries for services the firmware no longer declares are dropped; a
// service declared since the file was written starts as its
// EnabledByDefault says. A file that does not parse is an error and the
// defaults stay in force. Call it once, before opening listeners.
func (inv *Inventory) PersistTo(path string) error { return inv.persist(durable.OS, path) }

func (inv *Inventory) persist(fsys durable.FS, name string) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	b, err := durable.ReadFile(fsys, name, maxInventoryFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("iface: service state %s: %w", name, err)
	default:
		var f inventoryFile
		if err := unmarshalJSON(b, &f, JSONLimits{MaxBytes: maxInventoryFile, MaxDepth: 4}); err != nil || f.Version != 1 {
			return fmt.Errorf("iface: service state %s is corrupt: %v", name, err)
		}
		for k, v := range f.Enabled {
			if _, declared := inv.enabled[k]; declared {
				inv.enabled[k] = v
			}
		}
	}
	inv.fsys, inv.file = fsys, name
	return nil
}

func (inv *Inventory) save(state map[string]bool) error {
	b, err := json.Marshal(inventoryFile{Version: 1, Enabled: state})
	if err != nil {
		return err
	}
	if err := durable.WriteFile(inv.fsys, inv.file, b, 0o600); err != nil {
		return fmt.Errorf("iface: saving service state: %w", err)
	}
	return nil
}

// Lookup returns the declared service called name.
func (inv *Inventory) Lookup(name string) (ServiceState, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, s := range inv.services {
		if s.Name == name {
			return ServiceState{Service: s, Enabled: inv.enabled[name]}, true
		}
	}
	return ServiceState{}, false
}

// Listen opens the listener of the declared TCP service name on its
// declared address and port, if the service is enabled: the one way a
// device should open a listening TCP socket, so that nothing listens
// without a declaration. For UDP services use [Inventory.ListenPacket].
func (inv *Inventory) Listen(ctx context.Context, name string) (net.Listener, error) {
	s, err := inv.ready(name, "tcp")
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", listenAddr(s))
}

// ListenPacket is [Inventory.Listen] for a declared UDP service.
func (inv *Inventory) ListenPacket(ctx context.Context, name string) (net.PacketConn, error) {
	s, err := inv.ready(name, "udp")
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, "udp", listenAddr(s))
}

func (inv *Inventory) ready(name, network string) (Service, error) {
	st, ok := inv.Lookup(name)
	if !ok {
		return Service{}, fmt.Errorf("%w: %q", ErrUndeclared, printable(name, 64))
	}
	if st.Network != network {
		return Service{}, fmt.Errorf("iface: service %q is %s, not %s", name, st.Network, network)
	}
	if !st.Enabled {
		return Service{}, fmt.Errorf("%w: %q", ErrDisabled, name)
	}
	return st.Service, nil
}

func listenAddr(s Service) string {
	host := ""
	if s.Addr.IsValid() {
		host = s.Addr.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(s.Port))
}

// match returns the declared service covering a listening socket and
// whether it is enabled. A service declared for one address does not cover
// a socket bound to another address or to all of them.
func (inv *Inventory) match(network string, a netip.AddrPort) (s Service, enabled, ok bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, d := range inv.services {
		if d.Network != network || d.Port != int(a.Port()) {
			continue
		}
		if d.Addr.IsValid() && d.Addr.Unmap() != a.Addr().Unmap() {
			continue
		}
		return d, inv.enabled[d.Name], true
	}
	return Service{}, false, false
}
