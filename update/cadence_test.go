package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// setCadence makes downloads journal progress every n bytes (rounded to
// chunks as in production) or every ivl, for the rest of the test. Tests
// that call it must not be parallel.
func setCadence(t *testing.T, n int64, ivl time.Duration) {
	t.Helper()
	old := cadenceForTest
	cadenceForTest.bytes, cadenceForTest.interval = n, ivl
	t.Cleanup(func() { cadenceForTest = old })
}

// writeTracker is a FileSlot that remembers how far it was written.
type writeTracker struct {
	*FileSlot
	mu      sync.Mutex
	written int64
}

func (w *writeTracker) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.FileSlot.WriteAt(p, off)
	w.mu.Lock()
	w.written = max(w.written, off+int64(n))
	w.mu.Unlock()
	return n, err
}

// TestDownloadJournalCadence: without power loss, a download of 11 chunks
// journaled every 3 chunks syncs the slot at 3, 6 and 9 chunks and once at
// the end, and appends three progress records: not one fsync pair per
// chunk.
func TestDownloadJournalCadence(t *testing.T) {
	setCadence(t, 3*MinChunkSize, time.Hour)
	fx := newFixture(t, false)
	img := randomImage(t, 10*MinChunkSize+99)
	fx.addRelease("fw.bin", img, nil)
	c := fx.client(nil)
	var acks []int64
	c.onCheckpoint = func(off int64) { acks = append(acks, off) }
	slot, err := attempt(c)
	if err != nil || !bytes.Equal(slot.data, img) {
		t.Fatalf("err=%v", err)
	}
	want := []int64{3 * MinChunkSize, 6 * MinChunkSize, 9 * MinChunkSize}
	if fmt.Sprint(acks) != fmt.Sprint(want) {
		t.Fatalf("journaled at %v, want %v", acks, want)
	}
	if slot.writes != 11 || slot.syncs != 4 {
		t.Fatalf("%d writes, %d syncs; want 11 and 4", slot.writes, slot.syncs)
	}
}

// TestDownloadJournalsOnSlowLink: when chunks arrive slower than the
// interval, progress is journaled by time, before the byte bound is
// reached.
func TestDownloadJournalsOnSlowLink(t *testing.T) {
	setCadence(t, 1<<30, 20*time.Millisecond)
	fx := newFixture(t, false)
	img := randomImage(t, 6*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/targets/") {
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		for i := 0; i < len(img); i += MinChunkSize {
			w.Write(img[i : i+MinChunkSize])
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})
	c := fx.client(nil)
	var acks []int64
	c.onCheckpoint = func(off int64) { acks = append(acks, off) }
	slot, err := attempt(c)
	if err != nil || !bytes.Equal(slot.data, img) {
		t.Fatalf("err=%v", err)
	}
	if len(acks) == 0 {
		t.Fatal("no progress journaled although every chunk took longer than the interval")
	}
	t.Logf("journaled at %v", acks)
}

// download runs Check and Download into slot.
func download(c *Client, slot Slot) error {
	rel, err := c.Check(context.Background())
	if err != nil {
		return err
	}
	if rel == nil {
		return errNothing
	}
	_, err = c.Download(context.Background(), rel, slot)
	return err
}

// TestDownloadJournalsBeforeGivingUp: a download that ends early (here a
// body cut short and no retries left) journals the verified chunks it
// wrote, so the next Download resumes after them, not at the last
// periodic checkpoint.
func TestDownloadJournalsBeforeGivingUp(t *testing.T) {
	setCadence(t, 1<<30, time.Hour)
	fx := newFixture(t, false)
	img := randomImage(t, 8*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	// The first response is cut inside chunk 5 and the next ones carry
	// nothing, until the link "comes back" for the second Download.
	var mu sync.Mutex
	responses, back := 0, false
	serveImage(fx, img, `"v1"`, false, func() int {
		mu.Lock()
		defer mu.Unlock()
		if responses++; back {
			return -1
		} else if responses == 1 {
			return 5*MinChunkSize + MinChunkSize/2
		}
		return 0
	})
	slot, err := OpenFileSlot(fx.fs, "slot.img")
	if err != nil {
		t.Fatal(err)
	}
	defer slot.Close()
	if err := download(fx.client(nil), slot); err == nil {
		t.Fatal("the download succeeded over a dead link")
	}
	mu.Lock()
	back = true
	mu.Unlock()
	c := fx.client(nil)
	var offs []int64
	c.onRequest = func(off int64) { offs = append(offs, off) }
	if err := download(c, slot); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(img))
	if _, err := slot.ReadAt(got, 0); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("slot does not hold the image (%v)", err)
	}
	if len(offs) != 1 || offs[0] != 5*MinChunkSize {
		t.Fatalf("requests at %v, want one at %d", offs, 5*MinChunkSize)
	}
}

// TestResumeAfterPowerLossCoarseJournal cuts power at every write/fsync
// boundary of a download of 10 chunks and a tail that journals every 3
// chunks, with an extra listed whole-image hash (its state journaled) and
// with SHA-256 alone. After the reboot, before anything resumes, the slot
// holds nothing but a prefix of the image (no unverified byte, and none
// from elsewhere); the resumed download starts no earlier than the last
// acknowledged checkpoint and loses at most the cadence's 3 chunks of what
// was written before the cut; and it ends with exactly the image.
func TestResumeAfterPowerLossCoarseJournal(t *testing.T) {
	const every = 3 * MinChunkSize
	setCadence(t, every, time.Hour)
	for _, hashes := range [][]string{nil, {"sha256"}} {
		t.Run(fmt.Sprint(hashes), func(t *testing.T) {
			fx := newFixture(t, false)
			img := randomImage(t, 10*MinChunkSize+99)
			fx.addRelease("fw.bin", img, nil)
			var acked, written int64
			run := func(fsys *durable.CrashFS) error {
				acked, written = 0, 0
				c := fx.client(func(c *Config) { c.FS = fsys; c.ImageHashes = hashes })
				c.onCheckpoint = func(off int64) { acked = off }
				fs, err := OpenFileSlot(fsys, "slot.img")
				if err != nil {
					return err
				}
				defer fs.Close()
				slot := &writeTracker{FileSlot: fs}
				defer func() { written = slot.written }()
				return download(c, slot)
			}
			n := durable.CrashTest(t, nil, run, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, runErr error) {
				if runErr != nil && !durable.IsCrash(runErr) {
					t.Fatalf("point %d: unexpected error %v", point, runErr)
				}
				if b, ok := fsys.Contents()["slot.img"]; ok && (len(b) > len(img) || !bytes.Equal(b, img[:len(b)])) {
					t.Fatalf("point %d %v: after the cut the slot holds %d bytes that are not a prefix of the image", point, mode, len(b))
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
				if err := download(c, slot); err != nil {
					t.Fatalf("point %d %v: Download after reboot: %v", point, mode, err)
				}
				got := make([]byte, len(img)+1)
				if n, _ := slot.ReadAt(got, 0); n != len(img) || !bytes.Equal(got[:n], img) {
					t.Fatalf("point %d %v: slot does not hold exactly the image", point, mode)
				}
				if runErr == nil {
					return // finished before the cut: nothing to resume
				}
				if resumeAt < 0 {
					t.Fatalf("point %d %v: nothing fetched after reboot, though the download was cut", point, mode)
				}
				if resumeAt%MinChunkSize != 0 || resumeAt < acked || written-resumeAt > every {
					t.Fatalf("point %d %v: resumed at %d; acknowledged %d, written %d, cadence %d", point, mode, resumeAt, acked, written, every)
				}
			})
			t.Logf("%d crash points", n)
		})
	}
}

// TestDownloadTamperedChunkNeverWritten: a mirror that alters one byte of
// chunk 4 of 8 gets chunks 0–3 written and nothing of chunk 4 or later,
// although the reader runs a chunk ahead of the writer.
func TestDownloadTamperedChunkNeverWritten(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 8*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	bad := bytes.Clone(img)
	bad[4*MinChunkSize+100] ^= 1
	serveImage(fx, bad, "", false, nil)
	slot, err := attempt(fx.client(nil))
	if !errors.Is(err, ErrTarget) {
		t.Fatalf("got %v, want ErrTarget", err)
	}
	if !bytes.Equal(slot.data, img[:4*MinChunkSize]) {
		t.Fatalf("slot holds %d bytes, want exactly the 4 verified chunks", len(slot.data))
	}
}

// TestDownloadLargeChunksOneBuffer: chunks above pipelineMaxChunk are
// moved through a single buffer (no overlap, bounded RAM); the download
// still ends with the image, journaled at every chunk as each exceeds
// the cadence's share.
func TestDownloadLargeChunksOneBuffer(t *testing.T) {
	const cs = pipelineMaxChunk + MinChunkSize
	if chunkBuffers(cs) != 1 || chunkBuffers(DefaultChunkSize) != 2 {
		t.Fatalf("buffers: %d for %d-byte chunks, %d for the default", chunkBuffers(cs), cs, chunkBuffers(DefaultChunkSize))
	}
	setCadence(t, cs, time.Hour)
	fx := newFixture(t, false)
	img := randomImage(t, 2*cs+100)
	fx.addRelease("fw.bin", img, func(d *Descriptor) {
		chunks, _, err := HashChunks(bytes.NewReader(img), cs)
		if err != nil {
			t.Fatal(err)
		}
		d.ChunkSize, d.Chunks = cs, chunks
	})
	c := fx.client(nil)
	var acks []int64
	c.onCheckpoint = func(off int64) { acks = append(acks, off) }
	slot, err := attempt(c)
	if err != nil || !bytes.Equal(slot.data, img) {
		t.Fatalf("err=%v", err)
	}
	if fmt.Sprint(acks) != fmt.Sprint([]int64{cs, 2 * cs}) {
		t.Fatalf("journaled at %v", acks)
	}
}

// countingSeeker counts the bytes read through it.
type countingSeeker struct {
	*bytes.Reader
	read int64
}

func (c *countingSeeker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += int64(n)
	return n, err
}

// cutReader returns an error once n bytes were read.
type cutReader struct {
	r io.Reader
	n int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// TestBundleResume: a bundle install cut off in the middle of the image
// (the stick pulled) journals the verified chunks it wrote; offered the
// bundle again, the client resumes after them — skipping the image's
// first bytes by seeking when the reader can seek, by reading otherwise —
// and the slot ends with exactly the image.
func TestBundleResume(t *testing.T) {
	setCadence(t, 1<<30, time.Hour) // only the early-end checkpoint
	for _, seekable := range []bool{true, false} {
		t.Run(fmt.Sprint("seekable=", seekable), func(t *testing.T) {
			fx := newFixture(t, false)
			img := randomImage(t, 12*MinChunkSize+7)
			fx.addRelease("fw.bin", img, nil)
			b := bundleBytes(t, fx, "fw.bin", nil)
			imgAt := int64(bytes.Index(b, img[:256]))
			slot, err := OpenFileSlot(fx.fs, "slot.img")
			if err != nil {
				t.Fatal(err)
			}
			defer slot.Close()
			cut := &cutReader{r: bytes.NewReader(b), n: imgAt + 7*MinChunkSize + 100}
			if _, err := fx.client(nil).OpenBundle(context.Background(), cut, slot); err == nil {
				t.Fatal("a cut bundle was accepted")
			}
			var r io.Reader
			cs := &countingSeeker{Reader: bytes.NewReader(b)}
			if seekable {
				r = cs
			} else {
				r = struct{ io.Reader }{cs}
			}
			tr := &writeTracker{FileSlot: slot}
			first := int64(-1)
			c := fx.client(nil)
			v, err := c.OpenBundle(context.Background(), r, &firstWrite{writeTracker: tr, first: &first})
			if err != nil || !v.Valid() {
				t.Fatal(err)
			}
			got := make([]byte, len(img)+1)
			if n, _ := slot.ReadAt(got, 0); n != len(img) || !bytes.Equal(got[:n], img) {
				t.Fatal("slot does not hold exactly the image")
			}
			if first != 7*MinChunkSize {
				t.Fatalf("resumed writing at %d, want %d", first, 7*MinChunkSize)
			}
			end := imgAt + int64(len(img)) // the image entry's last byte, +1
			if seekable && cs.read > end-7*MinChunkSize {
				t.Fatalf("read %d bundle bytes, image ends at %d: the written chunks were read again", cs.read, end)
			}
			if !seekable && cs.read < end {
				t.Fatalf("read %d bundle bytes from a reader that cannot seek, image ends at %d", cs.read, end)
			}
		})
	}
}

// firstWrite records the offset of the first write.
type firstWrite struct {
	*writeTracker
	first *int64
}

func (f *firstWrite) WriteAt(p []byte, off int64) (int, error) {
	if *f.first < 0 {
		*f.first = off
	}
	return f.writeTracker.WriteAt(p, off)
}

// slowSyncSlot is a FileSlot whose first Sync does not return before
// the writer has written through chunk 4 (or 5 s passed), and then takes
// 50 ms more; it records how far the slot was written by the time that
// Sync began or while it ran.
type slowSyncSlot struct {
	writeTracker
	once         sync.Once
	reached      chan struct{} // closed when 4 chunks are written
	during       int64         // furthest write while the first Sync ran
	waited, busy bool
}

func (s *slowSyncSlot) WriteAt(p []byte, off int64) (int, error) {
	n, err := s.writeTracker.WriteAt(p, off)
	s.mu.Lock()
	if s.busy {
		s.during = max(s.during, off+int64(n))
	}
	if off+int64(n) >= 4*MinChunkSize && s.reached != nil {
		close(s.reached)
		s.reached = nil
	}
	s.mu.Unlock()
	return n, err
}

func (s *slowSyncSlot) Sync() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.busy = true
		// The writer may already be past chunk 2 (where this checkpoint
		// began) when its goroutine gets here; that counts as written
		// beside the checkpoint too.
		s.during = s.written
		reached := s.reached
		s.mu.Unlock()
		if reached == nil {
			s.waited = true // chunk 4 was written before this Sync began
		} else {
			select {
			case <-reached:
				s.waited = true
			case <-time.After(5 * time.Second):
			}
		}
		time.Sleep(50 * time.Millisecond)
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	})
	return s.writeTracker.Sync()
}

// TestDownloadJournalsBesideWrites: with a FileSlot, a checkpoint's slot
// sync and journal append run while the writer goes on: the checkpoint
// starts when half the cadence (4 chunks) is unjournaled, chunks 3 and 4
// are written while its Sync is still running, and chunk 5 is not (it
// would leave more than the cadence unjournaled), so power loss still
// costs at most the cadence. Then the download completes with the image.
func TestDownloadJournalsBesideWrites(t *testing.T) {
	setCadence(t, 4*MinChunkSize, time.Hour)
	fx := newFixture(t, false)
	img := randomImage(t, 12*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	c := fx.client(nil)
	var acks []int64
	c.onCheckpoint = func(off int64) { acks = append(acks, off) }
	fs, err := OpenFileSlot(fx.fs, "slot.img")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	slot := &slowSyncSlot{writeTracker: writeTracker{FileSlot: fs}, reached: make(chan struct{})}
	if err := download(c, slot); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(img)+1)
	if n, _ := fs.ReadAt(got, 0); n != len(img) || !bytes.Equal(got[:n], img) {
		t.Fatal("slot does not hold exactly the image")
	}
	if !slot.waited {
		t.Fatal("the writer did not reach chunk 4 while the first checkpoint's Sync ran: checkpoints stop the writes")
	}
	if slot.during != 4*MinChunkSize {
		t.Fatalf("while the first checkpoint (at 2 chunks) was syncing, the slot was written to %d bytes; want exactly 4 chunks (the cadence)", slot.during)
	}
	if len(acks) == 0 || acks[0] != 2*MinChunkSize {
		t.Fatalf("journaled at %v; want the first at 2 chunks", acks)
	}
	t.Logf("journaled at %v", acks)
}
