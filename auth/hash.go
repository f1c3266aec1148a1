package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	xargon2 "golang.org/x/crypto/argon2"

	"github.com/iotbaseline/baseline/auth/internal/argon2"
)

// Params are Argon2id cost parameters.
type Params struct {
	// Memory in KiB. Floor 19456 (19 MiB).
	Memory uint32
	// Time is the number of passes. Floor 2.
	Time uint32
	// Threads is the parallelism (lanes). Floor 1.
	Threads uint8
	// KeyLen is the derived key length in bytes; zero means 32.
	KeyLen uint32
	// SaltLen is the random salt length in bytes; zero means 16.
	SaltLen uint32
}

// FloorParams is the OWASP Argon2id minimum that Config.Hash is raised to:
// m=19 MiB, t=2, p=1. Lower values are refused unless
// Config.InsecureWeakHash is set.
var FloorParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

func (p Params) withDefaults() Params {
	if p.Memory == 0 {
		p.Memory = FloorParams.Memory
	}
	if p.Time == 0 {
		p.Time = FloorParams.Time
	}
	if p.Threads == 0 {
		p.Threads = FloorParams.Threads
	}
	if p.KeyLen == 0 {
		p.KeyLen = 32
	}
	if p.SaltLen == 0 {
		p.SaltLen = 16
	}
	return p
}

// atLeast reports whether p costs at least as much as q in memory and time
// with the same parallelism: a hash made with parameters that are not at
// least the current ones is rehashed at the next successful login.
func (p Params) atLeast(q Params) bool {
	return p.Memory >= q.Memory && p.Time >= q.Time && p.Threads == q.Threads && p.KeyLen >= q.KeyLen
}

// String describes the parameters, for logs and self-check reports.
func (p Params) String() string {
	return fmt.Sprintf("argon2id m=%d t=%d p=%d", p.Memory, p.Time, p.Threads)
}

func (p Params) validate(insecure bool, maxMemory uint32) error {
	if p.Threads == 0 || p.Memory < 8*uint32(p.Threads) || p.Time == 0 || p.Time > maxHashTime ||
		p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen || p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		return fmt.Errorf("%w: %v out of range", ErrWeakParams, p)
	}
	if p.Memory > maxMemory {
		return fmt.Errorf("auth: argon2id memory %d KiB over Config.MaxHashMemory %d KiB", p.Memory, maxMemory)
	}
	if !insecure && !p.atLeast(Params{Memory: FloorParams.Memory, Time: FloorParams.Time, Threads: p.Threads, KeyLen: p.KeyLen}) {
		return fmt.Errorf("%w: %v", ErrWeakParams, p)
	}
	return nil
}

// newHash derives an Argon2id hash of secret with a fresh random salt. It
// does not bound concurrency; the Service does. Off the device (the factory)
// it is what SetupSecret.Verifier uses.
func newHash(secret []byte, p Params) phcHash {
	p = p.withDefaults()
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	return phcHash{Params: p, Salt: salt, Key: xargon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen)}
}

// Verify reports whether secret matches h, comparing in constant time.
func (h phcHash) Verify(secret []byte) bool {
	k := xargon2.IDKey(secret, h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(k, h.Key) == 1
}

// pepperInput binds the password to the device's pepper (held in the vault,
// never next to the hashes), so a dump of the stored hashes alone cannot be
// attacked offline. HMAC output is fixed-size, so the hash cost does not
// depend on the password's length.
func pepperInput(pepper, password []byte) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("baseline auth password v1\x00"))
	m.Write(password)
	return m.Sum(nil)
}

// hasher bounds the number of Argon2id computations in flight: there are
// MaxConcurrentHashes arenas, each Params.Memory KiB, allocated on first use
// and reused for every later hash. A hash runs only while holding an arena,
// so the memory of hashing is bounded by construction and leaves no garbage.
// Arenas not used for arenaIdle are returned to the operating system, so an
// idle device does not keep m KiB per slot resident between logins.
type hasher struct {
	pool chan *argon2.Arena
	// count is incremented for every hash computed (tests assert that a
	// throttled attempt never reaches the hash).
	count func()
	idle  *idleRelease
}

// arenaIdle is how long hash arenas stay resident after the last hash. A
// burst of logins reuses warm memory; an idle device gives it back.
const arenaIdle = 3 * time.Second

type idleRelease struct {
	after  time.Duration
	mu     sync.Mutex
	t      *time.Timer
	closed bool
}

func newHasher(n int, count func()) hasher {
	h := hasher{pool: make(chan *argon2.Arena, n), count: count, idle: &idleRelease{after: arenaIdle}}
	for range n {
		h.pool <- new(argon2.Arena)
	}
	return h
}

func (h *hasher) do(ctx context.Context, fn func(a *argon2.Arena)) error {
	var a *argon2.Arena
	select {
	case a = <-h.pool:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() {
		h.pool <- a
		h.armIdle()
	}()
	if h.count != nil {
		h.count()
	}
	if w, ok := ctx.Value(hashWatchKey{}).(*hashWatch); ok {
		w.n.Add(1)
	}
	fn(a)
	return nil
}

// hashWatchKey carries a *hashWatch in a context.
type hashWatchKey struct{}

// hashWatch counts the Argon2id computations made under one context, so a
// self-check can see whether a request it sent reached the hasher (a
// refusal by state must not) without being confused by concurrent logins.
type hashWatch struct{ n atomic.Int64 }

// watchHashes returns ctx carrying a new hashWatch.
func watchHashes(ctx context.Context) (context.Context, *hashWatch) {
	w := new(hashWatch)
	return context.WithValue(ctx, hashWatchKey{}, w), w
}

// armIdle (re)starts the idle timer after a hash.
func (h *hasher) armIdle() {
	h.idle.mu.Lock()
	defer h.idle.mu.Unlock()
	if h.idle.closed {
		return
	}
	if h.idle.t == nil {
		h.idle.t = time.AfterFunc(h.idle.after, h.releaseIdle)
		return
	}
	h.idle.t.Reset(h.idle.after)
}

// releaseIdle frees the memory of every arena not in use now. A hash that
// wants an arena meanwhile waits the few microseconds the unmapping takes;
// a freed arena maps fresh memory on its next use.
func (h *hasher) releaseIdle() {
	var taken []*argon2.Arena
	for {
		select {
		case a := <-h.pool:
			taken = append(taken, a)
			continue
		default:
		}
		break
	}
	for _, a := range taken {
		a.Free()
		h.pool <- a
	}
}

// stopIdle stops the idle timer for good (Service.Close).
func (h *hasher) stopIdle() {
	h.idle.mu.Lock()
	defer h.idle.mu.Unlock()
	h.idle.closed = true
	if h.idle.t != nil {
		h.idle.t.Stop()
	}
}

// newHashIn is newHash computed in an arena.
func newHashIn(a *argon2.Arena, secret []byte, p Params) phcHash {
	p = p.withDefaults()
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	return phcHash{Params: p, Salt: salt, Key: argon2.IDKey(a, secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen)}
}

// verifyIn is Verify computed in an arena.
func (h phcHash) verifyIn(a *argon2.Arena, secret []byte) bool {
	k := argon2.IDKey(a, secret, h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(k, h.Key) == 1
}

// TuneParams returns parameters that take about budget to compute on this
// machine: starting from base (raised to the floor), it doubles the time
// cost while one hash takes less than half the budget. The memory cost is
// left as given, since it is bounded by RAM, not by patience. It measures
// with the wall clock, so call it once at provisioning or first boot and
// store the result in the device's configuration.
func TuneParams(ctx context.Context, base Params, budget time.Duration) (Params, error) {
	p := base.withDefaults()
	if p.Memory < FloorParams.Memory {
		p.Memory = FloorParams.Memory
	}
	if p.Time < FloorParams.Time {
		p.Time = FloorParams.Time
	}
	pw := []byte("tune")
	for p.Time < maxHashTime {
		if err := ctx.Err(); err != nil {
			return Params{}, err
		}
		start := time.Now()
		newHash(pw, p)
		d := time.Since(start)
		if d*2 > budget {
			break
		}
		next := p.Time * 2
		if next > maxHashTime {
			next = maxHashTime
		}
		p.Time = next
	}
	return p, nil
}
