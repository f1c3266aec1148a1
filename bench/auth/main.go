// Command auth measures the auth package against its targets, side by side
// with the plain baseline in one run.
//
// A successful login (auth.Service.Authenticate: throttle admission and
// success records, NFKC, pepper, hash slot, Argon2id, constant-time compare,
// session) is timed against a raw argon2.IDKey with the same parameters,
// warm and cold, target ratio <= 1.05. A throttled attempt is timed, target
// < 50 µs. A fresh process makes 100 concurrent login attempts and reports
// its peak RSS (VmHWM), target <= MaxConcurrentHashes × m + 8 MiB.
//
// Usage:
//
//	go run ./bench/auth [-n 10] [-throttled 20000] [-concurrent 100]
//
// Throttle state lives on an in-memory durable.CrashFS, so the figures
// measure the code, not the flash; -disk DIR uses a real directory instead
// (each admitted attempt then costs an fsync).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/durable"
)

const password = "a long river of green teacups"

type vault struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (v *vault) Get(_ context.Context, n string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, ok := v.m[n]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

func (v *vault) Put(_ context.Context, n string, b []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.m[n] = append([]byte(nil), b...)
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	f := flag.NewFlagSet("auth", flag.ContinueOnError)
	f.SetOutput(stderr)
	n := f.Int("n", 10, "logins per warm/cold series")
	throttled := f.Int("throttled", 20000, "throttled attempts to time")
	concurrent := f.Int("concurrent", 100, "concurrent attempts for the RSS measurement")
	disk := f.String("disk", "", "keep throttle state in this directory instead of memory")
	mode := f.String("mode", "", "internal: rss")
	if err := f.Parse(args); err != nil {
		return 2
	}
	if *mode == "rss" {
		return rssChild(*concurrent, stdout, stderr)
	}
	ctx := context.Background()
	svc, err := newService(ctx, *disk, 2)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer svc.Close()
	p := auth.FloorParams
	fmt.Fprintf(stdout, "auth bench: %s, GOMAXPROCS=%d, %s\n", p, runtime.GOMAXPROCS(0), runtime.Version())

	salt := make([]byte, 16)
	raw := func() { argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32) }
	src := 0
	login := func(s *auth.Service) {
		src++
		if _, err := s.Authenticate(ctx, auth.Attempt{Source: "192.0.2." + strconv.Itoa(src%200) + ":1", Account: "owner", Password: password}); err != nil {
			panic(err)
		}
	}
	ok := true
	for _, cold := range []bool{false, true} {
		label := "warm (memory resident)"
		ours := func() { login(svc) }
		if cold {
			// Cold: the first login after boot, in a fresh Service whose
			// hash arena is not yet allocated, against a raw IDKey after the
			// heap was returned to the OS.
			label = "cold (first login after boot)"
			ours = func() {
				s, err := rebootService(ctx, svc)
				if err != nil {
					panic(err)
				}
				defer s.Close()
				runtime.GC()
				debug.FreeOSMemory()
				start := time.Now()
				login(s)
				coldTime = time.Since(start)
			}
		}
		// Interleave so that both see the same machine load.
		// The ratio is the median of per-pair ratios, robust to the load
		// of a shared machine drifting during the run.
		var tr, to, rs []time.Duration
		raw()
		ours()
		timeOurs := func() time.Duration {
			d := timeIt(ours, false)
			if cold {
				d = coldTime
			}
			return d
		}
		for i := range *n {
			a, b := timeIt(raw, cold), timeOurs()
			if i%2 == 1 { // alternate which goes first
				b, a = timeOurs(), timeIt(raw, cold)
			}
			tr, to = append(tr, a), append(to, b)
			rs = append(rs, time.Duration(float64(b)/float64(a)*1e6))
		}
		mr, mo := median(tr), median(to)
		ratio := float64(median(rs)) / 1e6
		fmt.Fprintf(stdout, "%s: raw argon2.IDKey median %v, auth login median %v, median paired ratio %.3f× (target ≤ 1.05×) %s\n",
			label, mr.Round(10*time.Microsecond), mo.Round(10*time.Microsecond), ratio, verdict(ratio <= 1.05))
		ok = ok && ratio <= 1.05
	}

	// Throttled attempts: refused before the hash and before any write.
	for range 10 {
		svc.Authenticate(ctx, auth.Attempt{Source: "203.0.113.66:1", Account: "owner", Password: "wrong password guess"})
	}
	start := time.Now()
	refused := 0
	for range *throttled {
		_, err := svc.Authenticate(ctx, auth.Attempt{Source: "203.0.113.66:1", Account: "owner", Password: "wrong password guess"})
		if errors.Is(err, auth.ErrThrottled{}) {
			refused++
		}
	}
	per := time.Since(start) / time.Duration(*throttled)
	fmt.Fprintf(stdout, "throttled attempt: %v each over %d attempts (%d refused) (target < 50µs) %s\n", per, *throttled, refused, verdict(per < 50*time.Microsecond && refused == *throttled))
	ok = ok && per < 50*time.Microsecond && refused == *throttled

	// Peak RSS in a fresh process.
	out, err := exec.Command(os.Args[0], "-mode=rss", "-concurrent", strconv.Itoa(*concurrent)).CombinedOutput()
	fmt.Fprint(stdout, string(out))
	if err != nil || !strings.Contains(string(out), "PASS") {
		ok = false
	}
	if !ok {
		fmt.Fprintln(stdout, "FAIL: a target was missed")
		return 1
	}
	return 0
}

// coldTime is the duration of the last cold login (its set-up excluded).
var coldTime time.Duration

// services remembers each Service's vault so a "rebooted" one can be made.
var vaults = map[*auth.Service]*vault{}

// rebootService opens a new Service on the same vault, as after a reboot.
func rebootService(ctx context.Context, old *auth.Service) (*auth.Service, error) {
	return auth.New(ctx, auth.Config{Vault: vaults[old], FS: durable.NewCrashFS(), StateDir: "/state",
		Throttle: auth.ThrottleConfig{AccountFree: 1 << 20, GlobalBudget: 1 << 20}})
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func timeIt(fn func(), cold bool) time.Duration {
	if cold {
		runtime.GC()
		debug.FreeOSMemory()
	}
	start := time.Now()
	fn()
	return time.Since(start)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func newService(ctx context.Context, disk string, inFlight int) (*auth.Service, error) {
	var fsys durable.FS = durable.NewCrashFS()
	dir := "/state"
	if disk != "" {
		fsys, dir = durable.OS, disk
	}
	v := &vault{m: map[string][]byte{}}
	cfg := auth.Config{Vault: v, FS: fsys, StateDir: dir, MaxConcurrentHashes: inFlight,
		// Generous limits: this measures cost, not policy.
		Throttle: auth.ThrottleConfig{AccountFree: 1 << 20, GlobalBudget: 1 << 20}}
	svc, err := auth.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	vaults[svc] = v
	secret, _ := auth.NewSetupSecret()
	verifier, _ := secret.Verifier(auth.Params{})
	if err := svc.Provision(ctx, verifier); err != nil {
		return nil, err
	}
	if _, err := svc.Setup(ctx, auth.SetupRequest{Source: "192.0.2.250:1", SetupSecret: auth.Password(secret.Reveal()), Account: "owner", NewPassword: password}); err != nil {
		return nil, err
	}
	return svc, nil
}

// rssChild makes concurrent login attempts from distinct sources in a
// fresh process and reports its peak resident set (VmHWM).
func rssChild(concurrent int, stdout, stderr io.Writer) int {
	ctx := context.Background()
	const inFlight = 2
	m := int64(auth.FloorParams.Memory) << 10
	// The factory's verifier is computed in this process too (upstream
	// IDKey, m of garbage): collect it and reset the high-water mark
	// after set-up, so the figure is the device's, not the factory's.
	svc, err := newService(ctx, "", inFlight)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer svc.Close()
	runtime.GC()
	debug.FreeOSMemory()
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	base := vm("VmRSS")
	var wg sync.WaitGroup
	var mu sync.Mutex
	okN := 0
	for i := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := password
			if i%2 == 1 {
				pw = "wrong password, still hashed"
			}
			_, err := svc.Authenticate(ctx, auth.Attempt{Source: fmt.Sprintf("198.51.100.%d:1", i), Account: "owner", Password: auth.Password(pw)})
			if err == nil || errors.Is(err, auth.ErrBadCredentials) {
				mu.Lock()
				okN++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	peak := vm("VmHWM")
	file := vm("RssFile")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	target := inFlight*m + 8<<20
	anonPeak := peak - file
	good := reset && peak > 0 && anonPeak <= target && okN == concurrent
	mib := func(v int64) float64 { return float64(v) / (1 << 20) }
	fmt.Fprintf(stdout, "%d concurrent attempts (%d hashed, ≤ %d in flight, m=%d MiB, HashMemory %d MiB): peak RSS %.1f MiB, of which %.1f MiB file-backed pages of this binary (%.1f MiB before the attempts; HWM reset after set-up: %v)\n",
		concurrent, okN, inFlight, m>>20, svc.HashMemory()>>20, mib(peak), mib(file), mib(base), reset)
	fmt.Fprintf(stdout, "  peak RSS without the binary's file pages %.1f MiB vs target %d×m+8 MiB = %.1f MiB %s; with them %.1f MiB (%+.1f MiB); Go heap in use %.1f MiB, %d GC cycles\n",
		mib(anonPeak), inFlight, mib(target), verdict(good), mib(peak), mib(peak-target), mib(int64(ms.HeapInuse)), ms.NumGC)
	if !good {
		return 1
	}
	return 0
}

// vm returns a /proc/self/status field in bytes (0 if unavailable).
func vm(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
