package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"

	"github.com/iotbaseline/baseline/update/internal/wire"
)

// Slot is where a downloaded image is written: the inactive firmware slot
// (a partition, a UBI volume, a file). The installer implements it. Download
// writes only chunks that already matched their signed hash, in order, and
// calls Sync before it records progress, so after power loss the journal
// never claims more than the slot holds.
type Slot interface {
	// WriteAt writes p at offset off, as io.WriterAt.
	WriteAt(p []byte, off int64) (n int, err error)
	// Sync makes every completed WriteAt durable.
	Sync() error
}

// SlotIdentifier is implemented by slots that keep their identity across
// reboots (a partition name, a file path). A download interrupted by power
// loss resumes only into a slot with the same SlotID; into any other slot,
// or a slot without one, it starts over from the first chunk, so a resumed
// image never mixes two slots.
type SlotIdentifier interface {
	SlotID() string
}

// Verified is an image that was downloaded (or read from a bundle) into a
// Slot and matched its signed length, every chunk hash, every whole-image
// hash, the device's hardware ID, release counter and, when configured, the
// ML-DSA co-signature. Only [Client.Download] and [Client.OpenBundle] create
// one; an installer accepts nothing else.
type Verified struct {
	release Release
	slot    Slot
	sealed  bool
}

// Valid reports whether v was produced by a verification (a zero Verified,
// which any package can write, is not).
func (v *Verified) Valid() bool { return v != nil && v.sealed }

// Release returns a copy of the release that was verified.
func (v *Verified) Release() Release {
	if !v.Valid() {
		return Release{}
	}
	return v.release.clone()
}

// Slot returns the slot holding the verified image.
func (v *Verified) Slot() Slot {
	if !v.Valid() {
		return nil
	}
	return v.slot
}

// journal records.
const (
	recHeader    = 'H'
	recValidator = 'V'
	recProgress  = 'C'
)

type journalHeader struct {
	// Format is the descriptor format the progress refers to: a journal
	// written under another format never matches, so the download starts
	// over.
	Format  int    `json:"format"`
	Path    string `json:"path"`
	Length  int64  `json:"length"`
	SHA256  string `json:"sha256"`
	Counter uint64 `json:"counter"`
	Chunk   int    `json:"chunk"`
	Slot    string `json:"slot"`
}

type progress struct {
	next   int      // chunks done
	states [][]byte // states of the extra whole-image hashes after those chunks
}

// plan is what Download verifies against.
type plan struct {
	rel    *Release
	chunk  int
	hashes []ChunkHash // chaining values; the last is the whole-image SHA-256
	// algs are the whole-image hashes other than sha256 that are listed
	// (and wanted, see Config.ImageHashes): computed beside the writes and
	// compared at the end. SHA-256 is checked through the chain.
	algs []string
}

func (c *Client) plan(r *Release) (*plan, error) {
	p := &plan{rel: r}
	want := supportedHashes
	if len(c.cfg.ImageHashes) > 0 {
		want = c.cfg.ImageHashes
	}
	for _, a := range supportedHashes {
		if _, ok := r.Hashes[a]; ok && a != "sha256" && slices.Contains(want, a) {
			p.algs = append(p.algs, a)
		}
	}
	if len(r.Hashes["sha256"]) != sha256.Size {
		return nil, &ReleaseError{Path: r.Path, Err: fmt.Errorf("%w: no sha256 whole-image hash", ErrTarget)}
	}
	if d := r.Descriptor; d != nil {
		p.chunk, p.hashes = d.ChunkSize, d.Chunks
	} else {
		var h ChunkHash
		copy(h[:], r.Hashes["sha256"])
		p.chunk, p.hashes = int(r.Length), []ChunkHash{h}
	}
	return p, nil
}

func newHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	panic("update: unsupported hash " + alg)
}

// Download fetches the release into slot and returns it as [Verified].
//
// The release is looked up again in the current trusted metadata and every
// policy check repeated. The image is fetched with HTTP Range requests (with
// If-Range once the server gave a validator), each chunk is read into
// memory, checked against its signed SHA-256 chaining value and only then
// written to the slot, while the next chunk is read and checked. The slot
// is synced and then the progress journaled (crash-safe, in Config.FS)
// before the verified bytes not yet journaled would exceed 16 MiB, when
// 2 s have passed since the last time, and when the download ends early;
// so power loss costs at most 16 MiB or 2 s of written transfer, whichever
// is less, plus the chunk being read: a later Download of the same release
// resumes where the journal says. At the end the slot is synced
// and the other whole-image hashes TUF lists are checked as well. A server
// ignoring Range (200 instead of 206) restarts the transfer from 0; a wrong
// Content-Range, a body longer than the signed length, a transfer below the
// minimum rate, or a chunk that fails its hash end the download with an
// error, leaving unverified bytes nowhere.
func (c *Client) Download(ctx context.Context, r *Release, slot Slot) (*Verified, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == nil || slot == nil {
		return nil, errors.New("update: Download needs a release and a slot")
	}
	rel, err := c.lookup(r.Path)
	if err != nil {
		return nil, err
	}
	if rel.Length != r.Length || !rel.Hashes.Equal(r.Hashes) {
		return nil, &ReleaseError{Path: r.Path, Err: fmt.Errorf("%w: release changed since it was looked up", ErrTarget)}
	}
	p, err := c.plan(rel)
	if err != nil {
		return nil, err
	}
	u, err := c.targetURL(rel)
	if err != nil {
		return nil, err
	}
	src := func(ctx context.Context, off int64, validator string) (io.ReadCloser, int64, string, error) {
		return c.openRange(ctx, u, off, rel.Length, validator)
	}
	if err := c.fetchInto(ctx, p, src, slot); err != nil {
		return nil, &ReleaseError{Path: rel.Path, Err: err}
	}
	return &Verified{release: rel.clone(), slot: slot, sealed: true}, nil
}

func (c *Client) targetURL(r *Release) (string, error) {
	name := r.Path
	if c.trusted.Root.Signed.ConsistentSnapshot {
		i := strings.LastIndex(name, "/")
		name = name[:i+1] + hex.EncodeToString(r.Hashes["sha256"]) + "." + name[i+1:]
		if r.Hashes["sha256"] == nil {
			return "", fmt.Errorf("%w: consistent snapshot needs a sha256", ErrTarget)
		}
	}
	var b strings.Builder
	for i, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", &ReleaseError{Path: r.Path, Err: fmt.Errorf("%w: unsafe target path", ErrTarget)}
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(seg))
	}
	return c.cfg.TargetsURL + b.String(), nil
}

// source opens the image at off: it returns the body positioned at start
// (off, or 0 when the server sent the whole entity) and the validator.
type source func(ctx context.Context, off int64, validator string) (body io.ReadCloser, start int64, newValidator string, err error)

func (c *Client) openRange(ctx context.Context, u string, off, length int64, validator string) (io.ReadCloser, int64, string, error) {
	if c.onRequest != nil {
		c.onRequest(off)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, "", permanent{err}
	}
	req.Header.Set("User-Agent", c.f.userAgnt)
	req.Header.Set("Accept-Encoding", "identity")
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
		if validator != "" {
			req.Header.Set("If-Range", validator)
		}
	}
	resp, err := c.f.hc.Do(req)
	if err != nil {
		if errors.Is(err, ErrRedirect) {
			return nil, 0, "", permanent{err}
		}
		return nil, 0, "", ctxErr(ctx, err)
	}
	fail := func(err error) (io.ReadCloser, int64, string, error) {
		resp.Body.Close()
		return nil, 0, "", err
	}
	if !contentTypeOK(resp, false) {
		return fail(permanent{fmt.Errorf("%w: %q", ErrContentType, resp.Header.Get("Content-Type"))})
	}
	v := resp.Header.Get("ETag")
	if v == "" || strings.HasPrefix(v, "W/") {
		v = resp.Header.Get("Last-Modified")
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, 0, v, nil
	case http.StatusPartialContent:
		if off == 0 {
			return fail(permanent{&HTTPError{URL: redact(u), Status: resp.StatusCode, Reason: "partial content without a Range request"}})
		}
		first, last, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != off || last >= length || last < first || (total >= 0 && total != length) {
			return fail(permanent{&HTTPError{URL: redact(u), Status: resp.StatusCode, Reason: "Content-Range does not match the request"}})
		}
		return resp.Body, off, v, nil
	}
	return fail(classify(redact(u), resp))
}

// parseContentRange parses "bytes first-last/total" (total may be "*": -1).
func parseContentRange(s string) (first, last, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total = -1
	if tot != "*" {
		total, err3 = strconv.ParseInt(tot, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || (tot != "*" && (total < 0 || last >= total)) {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// Journal cadence: how far the journal may lag the verified bytes already
// in the slot. Each checkpoint costs an fsync of the slot and one of the
// journal; taken after every chunk they cost more than hashing and writing
// the image (see BENCHMARKS.md), so progress is journaled at most every
// checkpointBytes of written image or checkpointInterval, whichever comes
// first, and power loss costs at most that much transfer.
const (
	checkpointBytes    = 16 << 20
	checkpointInterval = 2 * time.Second
)

// cadenceForTest, when non-zero, replaces the cadence: set only by tests
// (not parallel ones), to exercise multi-chunk checkpoints on small images.
var cadenceForTest struct {
	bytes    int64
	interval time.Duration
}

// transfer is the state of one fetchInto: what is in the slot and what the
// journal says.
type transfer struct {
	c     *Client
	p     *plan
	slot  Slot
	j     *durable.Log
	every int64         // checkpointBytes, or the test's value
	ivl   time.Duration // checkpointInterval, or the test's value

	// off is how many verified bytes were written to the slot (a chunk
	// boundary, or the length at the end); whole are the extra
	// whole-image hashes after them and states their marshaled states,
	// from which every attempt starts (whatever a failed attempt's reader
	// hashed).
	off    int64
	whole  []hash.Hash
	states [][]byte
	// synced is the offset the journal's last progress record names: the
	// slot was synced up to it before the record was appended. last is
	// when that happened (or the transfer started).
	synced int64
	last   time.Time
	// ioFailed is set once a slot write or sync, or a journal append,
	// failed: no best-effort checkpoint follows such an error.
	ioFailed bool
	rec      []byte
}

// checkpoint makes the verified bytes written so far durable and then
// journals them: the slot is synced before the record is appended, so the
// journal never claims more than the slot holds. No other checkpoint may
// be in flight.
func (t *transfer) checkpoint() error {
	if t.off == t.synced {
		t.last = time.Now()
		return nil
	}
	if err := t.persist(t.off, t.states); err != nil {
		t.ioFailed = true
		return err
	}
	t.acked(t.off)
	return nil
}

// persist syncs the slot and then appends the progress record for off
// (a chunk boundary or the end) with the extra hashes' states after it.
// It touches nothing of t but its record buffer, so it may run beside
// the writer (see copyChunks); one at a time.
func (t *transfer) persist(off int64, states [][]byte) error {
	if err := t.slot.Sync(); err != nil {
		return fmt.Errorf("update: slot sync: %w", err)
	}
	next := int((off + int64(t.p.chunk) - 1) / int64(t.p.chunk))
	t.rec = append(t.rec[:0], recProgress)
	t.rec = binary.BigEndian.AppendUint32(t.rec, uint32(next))
	for _, st := range states {
		t.rec = binary.BigEndian.AppendUint16(t.rec, uint16(len(st)))
		t.rec = append(t.rec, st...)
	}
	return t.j.Append(t.rec)
}

// acked records that the journal now names off.
func (t *transfer) acked(off int64) {
	t.synced, t.last = off, time.Now()
	if t.c.onCheckpoint != nil {
		t.c.onCheckpoint(off)
	}
}

// due reports whether progress must be journaled now that t.off bytes are
// written, with no checkpoint in flight: writing one more chunk before
// the next checkpoint would let the journal lag by more than t.every
// bytes, or t.ivl has passed.
func (t *transfer) due() bool {
	lag := t.off - t.synced
	return lag > 0 && (lag+int64(t.p.chunk) > t.every || time.Since(t.last) >= t.ivl)
}

// concurrentSyncer is implemented by the slots of this package whose Sync
// may run while a WriteAt is in progress (FileSlot, the A/B slot). For
// them copyChunks journals in the background; any other Slot is synced
// only between writes, as Slot's documentation promises.
type concurrentSyncer interface {
	syncsConcurrently()
}

// fetchInto runs the chunked, journaled, resumable transfer.
func (c *Client) fetchInto(ctx context.Context, p *plan, src source, slot Slot) (err error) {
	rel := p.rel
	hdr := journalHeader{Format: wire.Format, Path: rel.Path, Length: rel.Length, SHA256: hex.EncodeToString(rel.Hashes["sha256"]), Chunk: p.chunk}
	if rel.Descriptor != nil {
		hdr.Counter = rel.Descriptor.ReleaseCounter
	}
	if id, ok := slot.(SlotIdentifier); ok {
		hdr.Slot = id.SlotID()
	}
	hb, _ := json.Marshal(hdr)
	hrec := append([]byte{recHeader}, hb...)
	j, err := durable.OpenLog(c.cfg.FS, c.file(journalFile), durable.LogOptions{MaxRecord: 64 << 10})
	if err != nil {
		return err
	}
	defer j.Close()
	prog, validator, err := readJournal(j, hrec, len(p.algs))
	if err != nil {
		return err
	}
	t := &transfer{c: c, p: p, slot: slot, j: j, every: checkpointBytes, ivl: checkpointInterval, whole: make([]hash.Hash, len(p.algs)), last: time.Now()}
	if c.cfg.CheckpointBytes > 0 {
		t.every = c.cfg.CheckpointBytes
	}
	if cadenceForTest.bytes > 0 {
		t.every = cadenceForTest.bytes
	}
	if cadenceForTest.interval > 0 {
		t.ivl = cadenceForTest.interval
	}
	restart := func() error {
		t.off, t.synced, t.states, t.last = 0, 0, nil, time.Now()
		validator = ""
		return j.Rewrite([][]byte{hrec})
	}
	if hdr.Slot == "" {
		prog.next = 0 // an anonymous slot may not be the one written before
	}
	if prog.next > 0 && prog.next < len(p.hashes) {
		for i, a := range p.algs {
			if err := newHash(a).(encoding.BinaryUnmarshaler).UnmarshalBinary(prog.states[i]); err != nil {
				prog.next = 0
				break
			}
		}
	} else {
		// A journal never records the last chunk (the slot is synced and
		// the journal removed instead); older ones did: fetch it again.
		prog.next = 0
	}
	if prog.next == 0 {
		if err := restart(); err != nil {
			return err
		}
	} else {
		t.off = int64(prog.next) * int64(p.chunk)
		t.synced, t.states = t.off, prog.states
	}
	defer func() {
		// Verified chunks written since the last checkpoint stay in the
		// slot; journal them, so that a later Download resumes after them
		// instead of up to checkpointBytes earlier. Not after a failed
		// slot or journal write: then nothing more is claimed.
		if err != nil && !t.ioFailed && t.off < rel.Length {
			_ = t.checkpoint()
		}
	}()

	bufs := make([][]byte, chunkBuffers(p.chunk))
	for i := range bufs {
		bufs[i] = make([]byte, p.chunk)
	}
	stalls := 0
	for t.off < rel.Length {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, a := range p.algs {
			t.whole[i] = newHash(a)
			if t.off > 0 {
				if err := t.whole[i].(encoding.BinaryUnmarshaler).UnmarshalBinary(t.states[i]); err != nil {
					return err
				}
			}
		}
		gctx, g, done := c.f.guard(ctx)
		body, start, v, err := src(gctx, t.off, validator)
		if err != nil {
			done()
			var perm permanent
			if errors.As(err, &perm) || ctx.Err() != nil || stalls >= c.cfg.Retries {
				return unwrapPermanent(err)
			}
			if !c.f.sleep(ctx, stalls) {
				return ctx.Err()
			}
			stalls++
			continue
		}
		if start != t.off {
			// The server sent the whole entity (Range ignored, or If-Range
			// said it changed): start over; every chunk is re-verified.
			if err := restart(); err != nil {
				body.Close()
				done()
				return err
			}
			for i, a := range p.algs {
				t.whole[i] = newHash(a)
			}
		}
		if start == 0 && v != "" && v != validator {
			validator = v
			if err := j.Append(append([]byte{recValidator}, v...)); err != nil {
				body.Close()
				done()
				return err
			}
		}
		progressed, err := t.copyChunks(gctx, io.LimitReader(countingReader{body, g}, rel.Length-t.off), body, bufs)
		done()
		if err == nil {
			continue
		}
		if errors.Is(err, errTruncated) {
			if cerr := ctxErr(gctx, nil); cerr != nil {
				return unwrapPermanent(cerr)
			}
			if progressed {
				stalls = 0
			} else if stalls++; stalls > c.cfg.Retries {
				return fmt.Errorf("%w: body ended before the signed length", ErrTarget)
			} else if !c.f.sleep(ctx, stalls-1) {
				return ctx.Err()
			}
			continue
		}
		return err
	}
	// The last checkpoint: the whole image is made durable before it is
	// reported verified.
	if err := slot.Sync(); err != nil {
		t.ioFailed = true
		return fmt.Errorf("update: slot sync: %w", err)
	}
	for i, a := range p.algs {
		if subtle.ConstantTimeCompare(t.whole[i].Sum(nil), rel.Hashes[a]) != 1 {
			_ = restart()
			return fmt.Errorf("%w: whole-image %s mismatch", ErrTarget, a)
		}
	}
	j.Close()
	return durable.Remove(c.cfg.FS, c.file(journalFile))
}

func unwrapPermanent(err error) error {
	var p permanent
	if errors.As(err, &p) {
		return p.err
	}
	return err
}

var errTruncated = errors.New("update: truncated body")

// chunkBuffers is how many chunk buffers a download holds: two, so that
// the reader reads and verifies chunk i+1 while chunk i is written to the
// slot (and, at a checkpoint, synced and journaled); with one, writing and
// verifying alternate (see BENCHMARKS.md). A third would add RAM and no
// overlap, as there are only these two stages. Chunks larger than
// pipelineMaxChunk get one buffer, so a download never holds more than
// MaxChunkSize of buffers: as much as one buffer of the largest chunk.
func chunkBuffers(chunk int) int {
	if chunk <= pipelineMaxChunk {
		return 2
	}
	return 1
}

const pipelineMaxChunk = MaxChunkSize / 4

// hashPiece is how much the reader reads before it hashes: small enough
// that the bytes are hashed from the CPU cache they were just copied into
// (a whole 1 MiB chunk is read back from memory), large enough to keep
// system calls few. Like io.Copy's 32 KiB buffer in the baseline.
const hashPiece = 64 << 10

// chunkRead is one chunk read and verified by the reader goroutine.
type chunkRead struct {
	b   []byte
	n   int
	err error
}

// checkChunk feeds chunk idx, or its rest, into h, the whole-image SHA-256
// in its state after chunk idx-1 (and the chunk's bytes before chunk), and
// compares the result with the signed entry: the
// chaining value, or for the last chunk the whole-image digest. Matching a
// signed chaining value with other bytes than the release's takes a
// collision or second preimage of SHA-256's compression function chain.
func checkChunk(h hash.Hash, chunk []byte, hashes []ChunkHash, idx int) error {
	h.Write(chunk)
	var got []byte
	if idx == len(hashes)-1 {
		var sum [sha256.Size]byte
		got = h.Sum(sum[:0])
	} else {
		cv, err := wire.ChainValue(h)
		if err != nil {
			return err
		}
		got = cv[:]
	}
	if subtle.ConstantTimeCompare(got, hashes[idx][:]) != 1 {
		return fmt.Errorf("%w: chunk %d hash mismatch", ErrTarget, idx)
	}
	return nil
}

// copyChunks moves chunks from r to the slot in a pipeline of two stages
// over the chunk buffers: a reader goroutine reads a chunk and checks it
// against its signed chaining value (one SHA-256 pass over the image checks
// every chunk and, at the last chunk, the whole image); the caller's
// goroutine writes each verified chunk to the slot while the extra
// whole-image hashes (sha384/sha512, when listed) advance over it, hands
// the buffer back and, when a checkpoint is due (t.due, or the interval
// passed while it waited for the reader), syncs the slot and journals the
// progress. So reading and verifying chunk i+1 overlaps writing chunk i,
// and still no chunk reaches the slot before it is verified, nor is
// progress journaled before the slot holds it durably. copyChunks closes
// body before it returns.
func (t *transfer) copyChunks(ctx context.Context, r io.Reader, body io.Closer, bufs [][]byte) (progressed bool, err error) {
	p := t.p
	length := p.rel.Length
	free := make(chan []byte, len(bufs))
	for _, b := range bufs {
		free <- b
	}
	full := make(chan chunkRead, len(bufs))
	stop := make(chan struct{})
	go func(pos int64) {
		defer close(full)
		send := func(cr chunkRead) bool {
			select {
			case full <- cr:
				return cr.err == nil
			case <-stop:
				return false
			}
		}
		// The whole-image SHA-256 continues from the signed chaining
		// value of the chunk before pos.
		var prev ChunkHash
		if pos > 0 {
			prev = p.hashes[pos/int64(p.chunk)-1]
		}
		h, err := wire.HasherAt(prev, pos)
		if err != nil {
			send(chunkRead{err: err})
			return
		}
		for pos < length {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n := int(min(int64(p.chunk), length-pos))
			idx := int(pos / int64(p.chunk))
			// Each piece is hashed right after it is read, while it is
			// still in the CPU's cache; the last one goes through the
			// check, which compares the chunk's chaining value.
			for k := 0; ; {
				m := min(hashPiece, n-k)
				if _, err := io.ReadFull(r, b[k:k+m]); err != nil {
					send(chunkRead{err: errTruncated})
					return
				}
				if k+m < n {
					h.Write(b[k : k+m])
					k += m
					continue
				}
				if err := t.c.verifyChunk(h, b[k:n], p.hashes, idx); err != nil {
					send(chunkRead{err: err})
					return
				}
				break
			}
			if !send(chunkRead{b: b, n: n}) {
				return
			}
			pos += int64(n)
		}
	}(t.off)
	defer func() {
		close(stop)
		body.Close()
		for range full {
		}
	}()
	// Checkpoints of a slot that may sync beside a write run in their own
	// goroutine (bg), started once half the cadence is unjournaled, while
	// the writer goes on with the next chunks; the writer waits for one
	// only when the next chunk would leave more than t.every bytes
	// unjournaled, so the bound on what power loss costs holds as before.
	// (Syncing in the writer stalls the reader for as long as the fsync
	// takes; see BENCHMARKS.md.) At most one is in flight; its result is
	// taken by the writer, which alone updates t.
	_, bg := t.slot.(concurrentSyncer)
	var ck chan error // the checkpoint in flight, or nil
	var ckOff int64
	startCheckpoint := func() {
		ckOff = t.off
		states := t.states
		ck = make(chan error, 1)
		go func() { ck <- t.persist(ckOff, states) }()
	}
	endCheckpoint := func(err error) error {
		ck = nil
		if err != nil {
			t.ioFailed = true
			return err
		}
		t.acked(ckOff)
		return nil
	}
	defer func() {
		if ck != nil {
			_ = endCheckpoint(<-ck)
		}
	}()
	timer := time.NewTimer(max(t.ivl-time.Since(t.last), 0))
	defer timer.Stop()
	var wg sync.WaitGroup
	for t.off < length {
		var cr chunkRead
		var ok bool
		select {
		case cr, ok = <-full:
		case err := <-ck:
			if err := endCheckpoint(err); err != nil {
				return progressed, err
			}
			continue
		case <-timer.C:
			// The reader is slow (a slow link): journal what is written
			// rather than let the lag grow past the interval.
			timer.Reset(t.ivl)
			switch {
			case ck != nil:
			case bg && t.off > t.synced:
				startCheckpoint()
			default:
				if err := t.checkpoint(); err != nil {
					return progressed, err
				}
			}
			continue
		}
		if !ok {
			return progressed, errTruncated
		}
		if cr.err != nil {
			if errors.Is(cr.err, errTruncated) {
				if cerr := ctxErr(ctx, nil); cerr != nil {
					return progressed, unwrapPermanent(cerr)
				}
			}
			return progressed, cr.err
		}
		for t.off > t.synced && t.off+int64(cr.n)-t.synced > t.every {
			// Writing this chunk before a checkpoint lands would leave
			// more than the cadence unjournaled.
			var err error
			if ck != nil {
				err = endCheckpoint(<-ck)
			} else {
				err = t.checkpoint()
			}
			if err != nil {
				return progressed, err
			}
		}
		// The extra whole-image hashes advance while the verified chunk is
		// written. Once WriteAt returned (io.WriterAt never retains p) and
		// they are done, the buffer goes back to the reader.
		chunk := cr.b[:cr.n]
		for _, h := range t.whole {
			wg.Go(func() { h.Write(chunk) })
		}
		_, werr := t.slot.WriteAt(chunk, t.off)
		wg.Wait()
		free <- cr.b
		if werr != nil {
			t.ioFailed = true
			return progressed, fmt.Errorf("update: slot write: %w", werr)
		}
		states := make([][]byte, len(t.whole))
		for i, h := range t.whole {
			st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				return progressed, err
			}
			states[i] = st
		}
		t.off += int64(cr.n)
		t.states = states
		progressed = true
		if t.off >= length {
			break
		}
		switch {
		case ck != nil:
		case bg:
			// Half the cadence, so that the writer rarely waits.
			if lag := t.off - t.synced; lag > 0 && (2*lag+int64(p.chunk) > t.every || time.Since(t.last) >= t.ivl) {
				startCheckpoint()
				timer.Reset(t.ivl)
			}
		case t.due():
			if err := t.checkpoint(); err != nil {
				return progressed, err
			}
			timer.Reset(t.ivl)
		}
	}
	if ck != nil {
		if err := endCheckpoint(<-ck); err != nil {
			return progressed, err
		}
	}
	return progressed, nil
}

// readJournal returns the progress recorded for the transfer identified by
// hrec (none if the journal belongs to another transfer).
func readJournal(j *durable.Log, hrec []byte, nstates int) (progress, string, error) {
	var prog progress
	var validator string
	first := true
	match := false
	err := j.Scan(func(_ int64, rec []byte) error {
		if first {
			first = false
			match = bytes.Equal(rec, hrec)
			return nil
		}
		if !match || len(rec) == 0 {
			return nil
		}
		switch rec[0] {
		case recValidator:
			validator = string(rec[1:])
		case recProgress:
			if len(rec) < 5 {
				return nil
			}
			pr := progress{next: int(binary.BigEndian.Uint32(rec[1:5]))}
			rest := rec[5:]
			for range nstates {
				if len(rest) < 2 {
					return nil
				}
				l := int(binary.BigEndian.Uint16(rest))
				if len(rest) < 2+l {
					return nil
				}
				pr.states = append(pr.states, rest[2:2+l])
				rest = rest[2+l:]
			}
			if pr.next > prog.next {
				prog = pr
			}
		}
		return nil
	})
	if err != nil {
		return progress{}, "", err
	}
	if !match {
		return progress{}, "", nil
	}
	return prog, validator, nil
}

// FileSlot is a [Slot] backed by a file in a durable.FS: for devices whose
// inactive slot is a file (or a block device path), and for tests. Its
// SlotID is the file name, so a download resumes into it after a reboot.
type FileSlot struct {
	mu   sync.Mutex
	f    durable.File
	w    slotWriter
	name string
}

// SlotID returns the file name the slot was opened with.
func (s *FileSlot) SlotID() string { return s.name }

// OpenFileSlot opens (creating if needed, mode 0600) the file name in fsys as
// a slot; a nil fsys means the operating system's file system. Its existing
// content is left alone: Download overwrites chunk by chunk.
//
// Writes go through the page cache; Sync makes them durable (one fsync of
// the file) and may run while a write is in progress, so a download
// journals its progress without stopping the writes. On Linux, with the
// operating system's file system, the pages of the image are dropped from
// the cache once a Sync made them durable: an image written once and read
// back at most once does not evict the device's cached files, and the
// cache holds at most what a download writes between two checkpoints.
func OpenFileSlot(fsys durable.FS, name string) (*FileSlot, error) {
	if fsys == nil {
		fsys = durable.OS
	}
	_, statErr := fsys.Stat(name)
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := fsys.SyncDir(dirOf(name)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &FileSlot{f: f, w: newSlotWriter(f), name: name}, nil
}

func dirOf(name string) string {
	if i := strings.LastIndexAny(name, `/`+string(os.PathSeparator)); i >= 0 {
		if i == 0 {
			return name[:1]
		}
		return name[:i]
	}
	return "."
}

// WriteAt writes p at off.
func (s *FileSlot) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.writeAt(p, off)
}

// Sync flushes the file. It may run while a WriteAt is in progress (a
// download journals its progress beside the writes); it makes durable at
// least every WriteAt that returned before it was called.
func (s *FileSlot) Sync() error { return s.w.sync(&s.mu) }

func (*FileSlot) syncsConcurrently() {}

// ReadAt reads from the slot (for an installer's final check or a test).
func (s *FileSlot) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.ReadAt(p, off)
}

// Close closes the file.
func (s *FileSlot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// Reverify reads the image back from r (normally the slot it was written
// to) and checks every chunk against its signed chaining value, the
// whole-image SHA-256 and every other signed whole-image hash again.
// An installer may call it just before activating the slot, to catch flash
// that lost or changed data since the download — in particular chunks
// written before a reboot the download resumed across. It reads with one
// chunk-sized buffer and honours ctx between chunks.
func (v *Verified) Reverify(ctx context.Context, r io.ReaderAt) error {
	if !v.Valid() {
		return fmt.Errorf("%w: not a verified image", ErrTarget)
	}
	rel := v.release
	chunk := rel.Length
	var hashes []ChunkHash
	if d := rel.Descriptor; d != nil {
		chunk, hashes = int64(d.ChunkSize), d.Chunks
	} else {
		var h ChunkHash
		copy(h[:], rel.Hashes["sha256"])
		hashes = []ChunkHash{h}
	}
	var algs []string
	var whole []hash.Hash
	for _, a := range supportedHashes {
		if _, ok := rel.Hashes[a]; ok && a != "sha256" {
			algs = append(algs, a)
			whole = append(whole, newHash(a))
		}
	}
	h256 := sha256.New()
	buf := make([]byte, chunk)
	for off, i := int64(0), 0; off < rel.Length; off, i = off+chunk, i+1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, rel.Length-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil && !(err == io.EOF && n > 0) {
			return fmt.Errorf("update: reverify: %w", err)
		}
		if i >= len(hashes) {
			return fmt.Errorf("%w: slot chunk %d changed", ErrTarget, i)
		}
		if err := checkChunk(h256, buf[:n], hashes, i); err != nil {
			return fmt.Errorf("%w: slot chunk %d changed", ErrTarget, i)
		}
		for _, h := range whole {
			h.Write(buf[:n])
		}
	}
	if subtle.ConstantTimeCompare(h256.Sum(nil), rel.Hashes["sha256"]) != 1 {
		return fmt.Errorf("%w: slot whole-image sha256 mismatch", ErrTarget)
	}
	for i, a := range algs {
		if subtle.ConstantTimeCompare(whole[i].Sum(nil), rel.Hashes[a]) != 1 {
			return fmt.Errorf("%w: slot whole-image %s mismatch", ErrTarget, a)
		}
	}
	return nil
}
