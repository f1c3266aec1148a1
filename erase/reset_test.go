package erase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

const journalPath = "/persist/erase.journal"

// plant writes user data into dir on fsys, durably.
func plant(t testing.TB, fsys durable.FS, dir string, n int) {
	t.Helper()
	if err := fsys.MkdirAll(path.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := path.Join(dir, fmt.Sprintf("f%d", i))
		if i%2 == 1 {
			p = path.Join(dir, "sub", fmt.Sprintf("f%d", i))
		}
		if err := durable.WriteFile(fsys, p, []byte(fmt.Sprintf("USERDATA-%s-%d", dir, i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func dirRegistry(fsys durable.FS) (*Registry, []*DirStore) {
	wifi := &DirStore{StoreName: "wifi", Dir: "/data/wifi", FS: fsys}
	logs := &DirStore{StoreName: "logs", Dir: "/data/logs", FS: fsys, Overwrite: true}
	return NewRegistry().Add(wifi, WiFi).Add(logs, Logs), []*DirStore{wifi, logs}
}

func hasUserData(fsys *durable.CrashFS) bool {
	for _, b := range fsys.Contents() {
		if bytes.Contains(b, []byte("USERDATA")) {
			return true
		}
	}
	return false
}

func TestDirStoreEraseVerify(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	plant(t, fsys, "/data/wifi", 5)
	d := &DirStore{StoreName: "wifi", Dir: "/data/wifi", FS: fsys}
	if err := d.Verify(ctx); err == nil {
		t.Fatal("Verify on a store holding data returned nil")
	}
	sr, err := d.Erase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sr.Items != 5 || sr.Method != Delete || sr.Store != "wifi" {
		t.Errorf("receipt = %+v, want 5 items deleted", sr)
	}
	if err := d.Verify(ctx); err != nil {
		t.Errorf("Verify after Erase: %v", err)
	}
	if hasUserData(fsys) {
		t.Error("user data still on the file system")
	}
	// Idempotent: erasing an empty or missing directory succeeds.
	if sr, err := d.Erase(ctx); err != nil || sr.Items != 0 {
		t.Errorf("second Erase = %+v, %v", sr, err)
	}
	missing := &DirStore{StoreName: "x", Dir: "/nope", FS: fsys}
	if _, err := missing.Erase(ctx); err != nil {
		t.Errorf("Erase of a missing dir: %v", err)
	}
	if err := missing.Verify(ctx); err != nil {
		t.Errorf("Verify of a missing dir: %v", err)
	}
}

func TestDirStoreErrorNamesNoFile(t *testing.T) {
	fsys := durable.NewCrashFS()
	fsys.MkdirAll("/data/u", 0o700)
	if err := durable.WriteFile(fsys, "/data/u/alice-holiday.jpg", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := (&DirStore{StoreName: "u", Dir: "/data/u", FS: fsys}).Verify(context.Background())
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("alice")) {
		t.Errorf("Verify error = %v: want an error that names no file", err)
	}
}

func TestResetErasesEveryStore(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	plant(t, fsys, "/data/wifi", 3)
	plant(t, fsys, "/data/logs", 4)
	reg, stores := dirRegistry(fsys)
	r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if err := s.Verify(ctx); err != nil {
			t.Error(err)
		}
	}
	if hasUserData(fsys) {
		t.Error("user data remains after reset")
	}
	if len(rc.Stores) != 2 || !rc.Complete() {
		t.Fatalf("receipt = %+v", rc)
	}
	if rc.Stores[0].Items != 3 || rc.Stores[1].Items != 4 || rc.Stores[1].Method != Overwrite {
		t.Errorf("receipt stores = %+v", rc.Stores)
	}
	if r.Pending() {
		t.Error("Pending after a completed reset")
	}
	// A reset survives a restart: the receipt is read back from the journal.
	r.Close()
	r2, err := Open(ctx, Config{FS: fsys.Reboot(durable.DropUnsynced), Journal: journalPath, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rc2, err := r2.Receipt()
	if err != nil || rc2.ID != rc.ID {
		t.Errorf("receipt after restart = %+v, %v", rc2, err)
	}
}

// orderEraser records the order stores are erased in.
type orderEraser struct {
	name   string
	method Method
	log    *[]string
	mu     *sync.Mutex
	fail   error
}

func (o *orderEraser) Name() string   { return o.name }
func (o *orderEraser) Method() Method { return o.method }
func (o *orderEraser) Erase(ctx context.Context) (StoreReceipt, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	*o.log = append(*o.log, o.name)
	if o.fail != nil {
		return StoreReceipt{}, o.fail
	}
	return StoreReceipt{Method: o.method}, nil
}
func (o *orderEraser) Verify(ctx context.Context) error { return nil }

func TestResetCryptoEraseFirst(t *testing.T) {
	ctx := context.Background()
	var log []string
	var mu sync.Mutex
	reg := NewRegistry().
		Add(&orderEraser{name: "logs", method: Delete, log: &log, mu: &mu}, Logs).
		Add(&orderEraser{name: "secrets", method: CryptoErase, log: &log, mu: &mu}, Secrets).
		Add(&orderEraser{name: "files", method: Overwrite, log: &log, mu: &mu}, UserFiles)
	r, err := Open(ctx, Config{FS: durable.NewCrashFS(), Journal: journalPath, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(log) != "[secrets logs files]" {
		t.Errorf("erase order = %v, want crypto erase first", log)
	}
}

func TestResetRefusedWhileBusy(t *testing.T) {
	ctx := context.Background()
	fsys := durable.NewCrashFS()
	plant(t, fsys, "/data/wifi", 3)
	reg, stores := dirRegistry(fsys)
	busy := true
	r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg,
		Busy: BusyFunc(func(context.Context) (bool, string) { return busy, "an update is installing" })})
	if err != nil {
		t.Fatal(err)
	}
	before := fsys.Ops()
	_, err = r.Reset(ctx)
	var be *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &be) || be.Reason != "an update is installing" {
		t.Fatalf("Reset while busy = %v, want ErrBusy with the reason", err)
	}
	if fsys.Ops() != before || r.Pending() || stores[0].Verify(ctx) == nil {
		t.Error("a refused reset changed something")
	}
	busy = false
	if _, err := r.Reset(ctx); err != nil {
		t.Fatal(err)
	}
}

// blockingEraser blocks in Erase until released.
type blockingEraser struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingEraser) Name() string { return "slow" }
func (b *blockingEraser) Erase(ctx context.Context) (StoreReceipt, error) {
	close(b.started)
	<-b.release
	return StoreReceipt{}, nil
}

func TestSecondConcurrentResetRefused(t *testing.T) {
	ctx := context.Background()
	be := &blockingEraser{started: make(chan struct{}), release: make(chan struct{})}
	r, err := Open(ctx, Config{FS: durable.NewCrashFS(), Journal: journalPath, Registry: NewRegistry().Add(be, Caches)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { _, err := r.Reset(ctx); done <- err }()
	<-be.started
	if _, err := r.Reset(ctx); !errors.Is(err, ErrInProgress) {
		t.Errorf("second Reset = %v, want ErrInProgress", err)
	}
	if _, err := r.Resume(ctx); !errors.Is(err, ErrInProgress) {
		t.Errorf("Resume during Reset = %v, want ErrInProgress", err)
	}
	close(be.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFailingStoreLeavesResetPending(t *testing.T) {
	ctx := context.Background()
	var log []string
	var mu sync.Mutex
	bad := &orderEraser{name: "flaky", method: Delete, log: &log, mu: &mu, fail: errors.New("flash error")}
	good := &orderEraser{name: "good", method: Delete, log: &log, mu: &mu}
	reg := NewRegistry().Add(bad, Caches).Add(good, Logs)
	r, err := Open(ctx, Config{FS: durable.NewCrashFS(), Journal: journalPath, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Reset(ctx)
	var se *StoreError
	if !errors.Is(err, ErrIncomplete) || !errors.As(err, &se) || se.Store != "flaky" {
		t.Fatalf("Reset = %v, want ErrIncomplete naming flaky", err)
	}
	if !r.Pending() {
		t.Fatal("a failed reset is not pending")
	}
	if fmt.Sprint(log) != "[flaky good]" {
		t.Errorf("erased %v: the other stores must still be erased", log)
	}
	bad.fail = nil
	rc, err := r.Resume(ctx)
	if err != nil || rc == nil || !rc.Complete() {
		t.Fatalf("Resume = %+v, %v", rc, err)
	}
	if fmt.Sprint(log) != "[flaky good flaky]" {
		t.Errorf("Resume erased %v, want only the failed store again", log)
	}
}

// TestResetCrashAtEveryBoundary cuts power at every write/fsync boundary
// of a reset; after the reboot, Resume completes and either nothing was
// erased (the plan never reached flash) or everything is verified empty.
func TestResetCrashAtEveryBoundary(t *testing.T) {
	ctx := context.Background()
	setup := func(fsys *durable.CrashFS) {
		plant(t, fsys, "/data/wifi", 3)
		plant(t, fsys, "/data/logs", 2)
	}
	run := func(fsys *durable.CrashFS) error {
		reg, _ := dirRegistry(fsys)
		r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg})
		if err != nil {
			return err
		}
		_, err = r.Reset(ctx)
		return err
	}
	n := durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		reg, stores := dirRegistry(fsys)
		r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg})
		if err != nil {
			t.Fatalf("crash at %d (%v): Open: %v", point, mode, err)
		}
		started := r.Pending() || r.orderOf() != nil
		if _, err := r.Resume(ctx); err != nil {
			t.Fatalf("crash at %d (%v): Resume: %v", point, mode, err)
		}
		if !started {
			// The plan never reached flash: nothing may have been erased.
			if !hasUserData(fsys) || stores[0].Verify(ctx) == nil || stores[1].Verify(ctx) == nil {
				t.Errorf("crash at %d (%v): no plan on flash but data was erased", point, mode)
			}
			return
		}
		if runErr == nil && point == 0 && r.Pending() {
			t.Errorf("completed reset still pending")
		}
		for _, s := range stores {
			if err := s.Verify(ctx); err != nil {
				t.Errorf("crash at %d (%v): %v", point, mode, err)
			}
		}
		if hasUserData(fsys) {
			t.Errorf("crash at %d (%v): user data readable after resume", point, mode)
		}
		if rc, err := r.Receipt(); err != nil || !rc.Complete() {
			t.Errorf("crash at %d (%v): receipt %+v, %v", point, mode, rc, err)
		}
	})
	t.Logf("%d crash points", n)
}

// TestDirStoreEraseDurable: once Erase returns, the removals survive power
// loss (each directory was synced), for both the delete and overwrite
// methods.
func TestDirStoreEraseDurable(t *testing.T) {
	ctx := context.Background()
	for _, overwrite := range []bool{false, true} {
		fsys := durable.NewCrashFS()
		plant(t, fsys, "/data/logs", 4)
		d := &DirStore{StoreName: "logs", Dir: "/data/logs", FS: fsys, Overwrite: overwrite}
		if _, err := d.Erase(ctx); err != nil {
			t.Fatal(err)
		}
		after := fsys.Reboot(durable.DropUnsynced)
		d.FS = after
		if err := d.Verify(ctx); err != nil {
			t.Errorf("overwrite=%v: after power loss: %v", overwrite, err)
		}
		if hasUserData(after) {
			t.Errorf("overwrite=%v: user data back after power loss", overwrite)
		}
	}
}

// BenchmarkReset: a reset of two directories of 50 files each on the
// in-memory CrashFS (the cost of the journal and the erase logic, not of
// flash).
func BenchmarkReset(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		fsys := durable.NewCrashFS()
		plant(b, fsys, "/data/wifi", 50)
		plant(b, fsys, "/data/logs", 50)
		reg, _ := dirRegistry(fsys)
		r, err := Open(ctx, Config{FS: fsys, Journal: journalPath, Registry: reg})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := r.Reset(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
