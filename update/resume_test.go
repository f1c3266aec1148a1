package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// serveImage serves the target with Range/If-Range support (ETag "v1"),
// letting cut decide how many body bytes each response carries (-1 = all).
func serveImage(fx *fixture, img []byte, etag string, ignoreRange bool, cut func() int) {
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/targets/") {
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
			return
		}
		if ignoreRange {
			r.Header.Del("Range")
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		n := -1
		if cut != nil {
			n = cut()
		}
		if n >= 0 {
			w = &cutWriter{ResponseWriter: w, left: n}
		}
		http.ServeContent(w, r, "fw.bin", time.Time{}, bytes.NewReader(img))
	})
}

type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.left <= 0 {
		panic(http.ErrAbortHandler)
	}
	if len(p) > c.left {
		c.ResponseWriter.Write(p[:c.left])
		c.left = 0
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	n, err := c.ResponseWriter.Write(p)
	c.left -= n
	return n, err
}

func TestDownloadResumesAfterRandomCuts(t *testing.T) {
	for seed := range uint64(4) {
		fx := newFixture(t, false)
		img := randomImage(t, 9*MinChunkSize+17)
		fx.addRelease("fw.bin", img, nil)
		rng := rand.New(rand.NewPCG(seed, 1))
		var mu sync.Mutex
		serveImage(fx, img, `"v1"`, false, func() int {
			mu.Lock()
			defer mu.Unlock()
			return rng.IntN(3 * MinChunkSize)
		})
		c := fx.client(func(c *Config) { c.Retries = 200; c.RetryBackoff = time.Microsecond })
		var offs []int64
		c.onRequest = func(off int64) { offs = append(offs, off) }
		slot, err := attempt(c)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !bytes.Equal(slot.data, img) {
			t.Fatalf("seed %d: slot differs from image", seed)
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] < offs[i-1] {
				t.Fatalf("seed %d: restarted from %d after %d although the server honours Range", seed, offs[i], offs[i-1])
			}
		}
	}
}

func TestDownloadServerIgnoresRange(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 6*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	first := true
	// First response is cut after 2.5 chunks; afterwards the server ignores
	// Range and sends 200 with the whole entity.
	serveImage(fx, img, "", true, func() int {
		if first {
			first = false
			return 5 * MinChunkSize / 2
		}
		return -1
	})
	c := fx.client(func(c *Config) { c.Retries = 2; c.RetryBackoff = time.Microsecond })
	var offs []int64
	c.onRequest = func(off int64) { offs = append(offs, off) }
	slot, err := attempt(c)
	if err != nil || !bytes.Equal(slot.data, img) {
		t.Fatalf("err=%v", err)
	}
	if len(offs) != 2 || offs[1] != 2*MinChunkSize {
		t.Fatalf("requests at %v, want [0 %d]", offs, 2*MinChunkSize)
	}
}

func TestDownloadRefusesBadContentRange(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 4*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	n := 0
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/targets/") {
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
			return
		}
		n++
		if n == 1 {
			w.Header().Set("Content-Length", "100000")
			w.Write(img[:MinChunkSize+10])
			return
		}
		// Claims a range other than the one asked for.
		w.Header().Set("Content-Range", "bytes 0-99/16384")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(img[:100])
	})
	c := fx.client(func(c *Config) { c.Retries = 2; c.RetryBackoff = time.Microsecond })
	slot, err := attempt(c)
	if !errors.Is(err, ErrHTTP) {
		t.Fatalf("got %v, want ErrHTTP", err)
	}
	// Only the first, verified chunk reached the slot.
	if !bytes.Equal(slot.data, img[:MinChunkSize]) {
		t.Fatalf("slot holds %d bytes", len(slot.data))
	}
}

func TestDownloadRefusesHTMLAndNoRetryOn4xx(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/targets/") {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>captive portal</html>"))
			return
		}
		http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
	})
	mustRefuse(t, fx.client(nil), ErrContentType)

	var calls int
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "timestamp.json") {
			calls++
			http.Error(w, "no", http.StatusForbidden+1) // 404
			return
		}
		http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
	})
	c := fx.client(func(c *Config) { c.Retries = 5; c.RetryBackoff = time.Microsecond })
	mustRefuse(t, c, ErrNotFound)
	if calls != 1 {
		t.Fatalf("4xx retried: %d calls", calls)
	}
	calls = 0
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "timestamp.json") {
			calls++
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
	})
	mustRefuse(t, c, ErrHTTP)
	if calls != 6 {
		t.Fatalf("5xx: %d calls, want 1+5 retries", calls)
	}
}

// TestResumeAfterPowerLoss cuts power at every write/fsync boundary of a
// refresh plus download, reboots (dropping or keeping unsynced data) and
// checks that a new client finishes with the correct image, resuming no
// earlier than the last chunk whose progress was acknowledged.
func TestResumeAfterPowerLoss(t *testing.T) {
	// Both with an extra whole-image hash (sha512, whose state is
	// journaled) and with SHA-256 alone (the chain: nothing journaled but
	// the chunk count).
	for _, hashes := range [][]string{nil, {"sha256"}} {
		t.Run(fmt.Sprint(hashes), func(t *testing.T) { resumeAfterPowerLoss(t, hashes) })
	}
}

func resumeAfterPowerLoss(t *testing.T, hashes []string) {
	fx := newFixture(t, false)
	img := randomImage(t, 4*MinChunkSize+99)
	fx.addRelease("fw.bin", img, nil)
	var acked int64
	run := func(fsys *durable.CrashFS) error {
		acked = 0
		c := fx.client(func(c *Config) { c.FS = fsys; c.ImageHashes = hashes })
		c.onCheckpoint = func(off int64) { acked = off }
		slot, err := OpenFileSlot(fsys, "slot.img")
		if err != nil {
			return err
		}
		defer slot.Close()
		rel, err := c.Check(context.Background())
		if err != nil {
			return err
		}
		_, err = c.Download(context.Background(), rel, slot)
		return err
	}
	n := durable.CrashTest(t, nil, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		if point > 0 && !durable.IsCrash(runErr) && runErr != nil {
			t.Fatalf("point %d: unexpected error %v", point, runErr)
		}
		c := fx.client(func(c *Config) { c.FS = fsys; c.ImageHashes = hashes })
		resumeAt := int64(-1)
		c.onRequest = func(off int64) {
			if resumeAt < 0 {
				resumeAt = off
			}
		}
		slot, err := OpenFileSlot(fsys, "slot.img")
		if err != nil {
			t.Fatal(err)
		}
		defer slot.Close()
		rel, err := c.Check(context.Background())
		if err != nil || rel == nil {
			t.Fatalf("point %d %v: Check after reboot: %v", point, mode, err)
		}
		v, err := c.Download(context.Background(), rel, slot)
		if err != nil || !v.Valid() {
			t.Fatalf("point %d %v: Download after reboot: %v", point, mode, err)
		}
		got := make([]byte, len(img))
		if _, err := slot.ReadAt(got, 0); err != nil || !bytes.Equal(got, img) {
			t.Fatalf("point %d %v: slot does not hold the image (%v)", point, mode, err)
		}
		if resumeAt < 0 {
			resumeAt = int64(len(img)) // nothing left to fetch
		}
		if point > 0 && resumeAt < acked {
			t.Fatalf("point %d %v: resumed at %d though %d bytes were acknowledged", point, mode, resumeAt, acked)
		}
	})
	t.Logf("%d crash points", n)
}

// TestRefreshPowerLoss: power loss at every boundary of a refresh never
// loses an acknowledged refresh: once Refresh returned nil, a replay of the
// older repository state is refused after reboot, and the client always
// comes back usable.
func TestRefreshPowerLoss(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	oldTS, oldSnap, oldTargets := fx.repo.ReadMeta("timestamp.json"), fx.repo.ReadMeta("snapshot.json"), fx.repo.ReadMeta("targets.json")
	setup := func(fsys *durable.CrashFS) {
		fx.repo.WriteMeta("timestamp.json", oldTS)
		fx.repo.WriteMeta("snapshot.json", oldSnap)
		fx.repo.WriteMeta("targets.json", oldTargets)
		if err := fx.client(func(c *Config) { c.FS = fsys }).Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := fx.repo.Publish(); err != nil {
		t.Fatal(err)
	}
	newTS, newSnap, newTargets := fx.repo.ReadMeta("timestamp.json"), fx.repo.ReadMeta("snapshot.json"), fx.repo.ReadMeta("targets.json")
	run := func(fsys *durable.CrashFS) error {
		fx.repo.WriteMeta("timestamp.json", newTS)
		fx.repo.WriteMeta("snapshot.json", newSnap)
		fx.repo.WriteMeta("targets.json", newTargets)
		return fx.client(func(c *Config) { c.FS = fsys }).Refresh(context.Background())
	}
	durable.CrashTest(t, setup, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
		// Replay the old state.
		fx.repo.WriteMeta("timestamp.json", oldTS)
		fx.repo.WriteMeta("snapshot.json", oldSnap)
		fx.repo.WriteMeta("targets.json", oldTargets)
		err := fx.client(func(c *Config) { c.FS = fsys }).Refresh(context.Background())
		if runErr == nil && !errors.Is(err, ErrMetadata) {
			t.Fatalf("point %d %v: acknowledged refresh lost: replay gave %v", point, mode, err)
		}
		// The current state is always accepted.
		fx.repo.WriteMeta("timestamp.json", newTS)
		fx.repo.WriteMeta("snapshot.json", newSnap)
		fx.repo.WriteMeta("targets.json", newTargets)
		if err := fx.client(func(c *Config) { c.FS = fsys }).Refresh(context.Background()); err != nil {
			t.Fatalf("point %d %v: refresh after reboot: %v", point, mode, err)
		}
	})
}

// TestResumeOnlyIntoSameSlot: progress journaled for one slot is not
// reused for another, which would leave the second slot's first chunks
// unwritten.
func TestResumeOnlyIntoSameSlot(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 4*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	setCadence(t, MinChunkSize, 0) // journal every chunk
	fsys := fx.fs
	var acked int64
	c := fx.client(nil)
	c.onCheckpoint = func(off int64) {
		acked = off
		if off == 2*MinChunkSize {
			fsys.CrashAt(1)
		}
	}
	a, err := OpenFileSlot(fsys, "slot-a")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(context.Background(), rel, a); !durable.IsCrash(err) {
		t.Fatalf("expected the simulated power loss, got %v", err)
	}
	if acked != 2*MinChunkSize {
		t.Fatalf("acked %d", acked)
	}
	fsys = fsys.Reboot(durable.KeepUnsynced)
	c2 := fx.client(func(c *Config) { c.FS = fsys })
	var first int64 = -1
	c2.onRequest = func(off int64) {
		if first < 0 {
			first = off
		}
	}
	b, err := OpenFileSlot(fsys, "slot-b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Download(context.Background(), rel, b); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(img))
	if _, err := b.ReadAt(got, 0); err != nil || !bytes.Equal(got, img) || first != 0 {
		t.Fatalf("slot-b: err=%v equal=%v first request at %d", err, bytes.Equal(got, img), first)
	}
}
