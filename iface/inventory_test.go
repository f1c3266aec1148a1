package iface

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

var persistServices = []Service{
	{Name: "web", Network: "tcp", Port: 443, Purpose: "web UI", Access: Authenticated, EnabledByDefault: true},
	{Name: "ssh", Network: "tcp", Port: 22, Purpose: "technician shell", Access: Authenticated},
}

func TestInventoryPersistsAcrossReboot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "services.json")
	inv := testInventory(t, persistServices...)
	if err := inv.PersistTo(path); err != nil {
		t.Fatal(err)
	}
	if err := inv.Enable(ctx, "ssh"); err != nil {
		t.Fatal(err)
	}
	if err := inv.Disable(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	// "Reboot": a fresh inventory with the same declarations.
	inv2 := testInventory(t, persistServices...)
	if err := inv2.PersistTo(path); err != nil {
		t.Fatal(err)
	}
	if s, _ := inv2.Lookup("ssh"); !s.Enabled {
		t.Error("ssh enablement lost")
	}
	if s, _ := inv2.Lookup("web"); s.Enabled {
		t.Error("web disablement lost")
	}
	// A firmware that no longer declares ssh ignores its entry; a newly
	// declared service starts at its default.
	inv3 := testInventory(t, persistServices[0], Service{Name: "mdns", Network: "udp", Port: 5353, Purpose: "discovery", Access: Public})
	if err := inv3.PersistTo(path); err != nil {
		t.Fatal(err)
	}
	if _, ok := inv3.Lookup("ssh"); ok {
		t.Error("undeclared service resurrected from file")
	}
	if s, _ := inv3.Lookup("mdns"); s.Enabled {
		t.Error("new service not at its default")
	}
	// A corrupt or planted file is refused; defaults stay.
	for _, bad := range []string{`{"version":1,"enabled":{"ssh":true},"x":1}`, `{"version":2,"enabled":{}}`, `garbage`} {
		os.WriteFile(path, []byte(bad), 0o600)
		inv4 := testInventory(t, persistServices...)
		if err := inv4.PersistTo(path); err == nil {
			t.Errorf("corrupt file %q accepted", bad)
		}
		if s, _ := inv4.Lookup("ssh"); s.Enabled {
			t.Errorf("corrupt file %q changed state", bad)
		}
	}
}

// TestInventoryEnableCrashSafe cuts power at every write/fsync boundary of
// an Enable: after reboot ssh is either still off (old) or on (new), and
// on if Enable had returned nil.
func TestInventoryEnableCrashSafe(t *testing.T) {
	ctx := context.Background()
	var acked bool
	setup := func(fsys *durable.CrashFS) {
		acked = false
		inv := testInventory(t, persistServices...)
		if err := inv.persist(fsys, "services.json"); err != nil {
			t.Fatal(err)
		}
		if err := inv.Disable(ctx, "web"); err != nil { // an existing file to replace
			t.Fatal(err)
		}
	}
	run := func(fsys *durable.CrashFS) error {
		inv := testInventory(t, persistServices...)
		if err := inv.persist(fsys, "services.json"); err != nil {
			return err
		}
		err := inv.Enable(ctx, "ssh")
		if err == nil {
			acked = true
		} else if s, _ := inv.Lookup("ssh"); s.Enabled {
			t.Fatalf("failed Enable changed the in-memory state: %v", err)
		}
		return err
	}
	n := durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		inv := testInventory(t, persistServices...)
		if err := inv.persist(fsys, "services.json"); err != nil {
			t.Fatalf("point %d %v: state unreadable after crash: %v", point, mode, err)
		}
		ssh, _ := inv.Lookup("ssh")
		web, _ := inv.Lookup("web")
		if web.Enabled {
			t.Fatalf("point %d %v: earlier acknowledged Disable(web) lost", point, mode)
		}
		if acked && !ssh.Enabled {
			t.Fatalf("point %d %v: acknowledged Enable(ssh) lost", point, mode)
		}
	})
	if n < 3 {
		t.Fatalf("only %d boundaries exercised", n)
	}
}

func TestInventoryEnableFailsOnFullDisk(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	inv := testInventory(t, persistServices...)
	if err := inv.persist(fsys, "services.json"); err != nil {
		t.Fatal(err)
	}
	fsys.CrashAt(1)
	if err := inv.Enable(ctx, "ssh"); err == nil {
		t.Fatal("Enable reported success without saving")
	}
	if s, _ := inv.Lookup("ssh"); s.Enabled {
		t.Error("failed Enable changed state")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := inv.Enable(cctx, "web"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

func TestInventoryConcurrentUse(t *testing.T) {
	ctx := context.Background()
	inv := testInventory(t, persistServices...)
	if err := inv.persist(durable.NewCrashFS(), "services.json"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			if i%2 == 0 {
				inv.Enable(ctx, "ssh")
			} else {
				inv.Disable(ctx, "ssh")
			}
		}
	}()
	for range 50 {
		inv.Services()
		inv.match("tcp", netip.MustParseAddrPort("0.0.0.0:22"))
	}
	<-done
	if s, _ := inv.Lookup("ssh"); s.Enabled {
		t.Error("last call was Disable")
	}
}
