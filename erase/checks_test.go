package erase

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

func runResetCheck(t *testing.T, r *Resetter) conformance.Result {
	t.Helper()
	cs := r.Checks()
	if len(cs) != 1 || cs[0].ID != "erase.factory-reset" || cs[0].Method != conformance.Measured || cs[0].Provisions[0] != "5.11-1" {
		t.Fatalf("checks = %+v", cs)
	}
	return cs[0].Run(context.Background())
}

func TestCheckPasses(t *testing.T) {
	fsys := durable.NewCrashFS()
	plant(t, fsys, "/data/wifi", 2)
	reg, stores := dirRegistry(fsys)
	r, err := Open(context.Background(), Config{FS: fsys, Journal: journalPath, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	res := runResetCheck(t, r)
	if res.Verdict != conformance.Pass || !strings.Contains(res.Observed, "2 stores registered") {
		t.Fatalf("result = %+v", res)
	}
	// The check changed nothing a user could notice: the stores are intact
	// and the scratch directory is gone.
	if stores[0].Verify(context.Background()) == nil {
		t.Error("the check erased a registered store")
	}
	for _, f := range fsys.Files() {
		if strings.Contains(f, "selftest") {
			t.Errorf("scratch file left behind: %s", f)
		}
	}
}

type noVerify struct{}

func (noVerify) Name() string { return "dumps" }
func (noVerify) Erase(context.Context) (StoreReceipt, error) {
	return StoreReceipt{}, nil
}

func TestCheckFailsWithoutVerifier(t *testing.T) {
	fsys := durable.NewCrashFS()
	reg, _ := dirRegistry(fsys)
	reg.Add(noVerify{}, CrashDumps)
	r, _ := Open(context.Background(), Config{FS: fsys, Journal: journalPath, Registry: reg})
	if res := runResetCheck(t, r); res.Verdict != conformance.Fail || !strings.Contains(res.Detail, "dumps") {
		t.Errorf("result = %+v, want FAIL naming dumps", res)
	}
	r2, _ := Open(context.Background(), Config{FS: fsys, Journal: "/p2/j", Registry: NewRegistry()})
	if res := runResetCheck(t, r2); res.Verdict != conformance.Fail {
		t.Errorf("empty registry: %+v", res)
	}
}

// stickyFS ignores removals: a device whose deletes silently do nothing.
type stickyFS struct{ *durable.CrashFS }

func (stickyFS) Remove(string) error { return nil }

func TestCheckFailsWhenDeletesDoNothing(t *testing.T) {
	fsys := stickyFS{durable.NewCrashFS()}
	reg := NewRegistry().Add(&DirStore{StoreName: "wifi", Dir: "/data/wifi", FS: fsys}, WiFi)
	r, err := Open(context.Background(), Config{FS: fsys, Journal: journalPath, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if res := runResetCheck(t, r); res.Verdict != conformance.Fail || !strings.Contains(res.Detail, "self-test") {
		t.Errorf("result = %+v, want FAIL from the self-test", res)
	}
}

func TestCheckFailsWhilePending(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	reg := NewRegistry().Add(&orderEraser{name: "x", method: Delete, log: new([]string), mu: new(sync.Mutex), fail: fs.ErrPermission}, Caches)
	r, _ := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg})
	r.Reset(ctx)
	if res := runResetCheck(t, r); res.Verdict != conformance.Fail || !strings.Contains(res.Detail, "not completed") {
		t.Errorf("result = %+v", res)
	}
}

func TestInstructions(t *testing.T) {
	reg := NewRegistry().
		Add(Crypto("secrets", nopCrypto{}), Secrets).
		Add(&DirStore{StoreName: "wifi", Dir: "/w"}, WiFi).
		AddService(Service{Name: "cloud", Holds: "your usage history"})
	txt := reg.Instructions()
	for _, want := range []string{
		"keys, tokens and passwords kept in the encrypted store (made unreadable by destroying its encryption keys, then deleted)",
		"Wi-Fi networks and their passwords (deleted)",
		"the firmware: the device needs it to start",
		"the firmware's trust root (update signing keys): so the device still installs only genuine updates",
		"cloud: your usage history",
		"finishes it when it starts again",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("instructions lack %q:\n%s", want, txt)
		}
	}
}

type nopCrypto struct{}

func (nopCrypto) Erase(context.Context) error        { return nil }
func (nopCrypto) VerifyErased(context.Context) error { return nil }
