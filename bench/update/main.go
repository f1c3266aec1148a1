// Command update benchmarks the update client side by side with plain
// baselines in one run:
//
//   - verify+write: a device program (bench/update/devclient, which links
//     only package update) downloads an image from a repository written by
//     update/release (HTTP on loopback; every chunk checked against the
//     descriptor's SHA-256 chaining value before it is written to a file
//     slot; progress journaled every 16 MiB or 2 s, slot fsynced before
//     each journal record and at the end), and reads the same image from an
//     offline bundle, against a plain io.Copy of the same file into
//     SHA-256. Rounds are interleaved (baseline, ours, baseline, ours…)
//     because the machine is shared; each round's ratio is ours divided by
//     the mean of the two baseline runs around it, for wall time and for
//     CPU time (user+sys, getrusage), and the median over rounds is
//     reported. Targets: wall ≤ 1.15×, CPU ≤ 1.25×. With -sha512, a copy
//     of the -size image whose target also lists SHA-512 is measured over
//     HTTP as well: what an extra listed hash costs.
//   - disk floor (diagnostic): the same bytes written to a file with no
//     hashing, with an fsync per chunk, with one fsync at the end, and
//     with an fsync every 16 MiB (the most a download may leave
//     unjournaled) both through the page cache and, on Linux, with
//     O_DIRECT over the file already written (as an A/B device overwrites
//     its inactive slot): what the storage alone costs, beside the ratio,
//     and from it the least wall and CPU time any program that reads,
//     hashes and durably writes the image at that bound can take here.
//   - peak RSS (VmHWM) of the device program for a 64 MiB and a -size
//     image; target ≤ 16 MiB and within ±2 MiB of each other. The device
//     program's VmHWM right after start (runtime + init of linked packages,
//     before the client does anything) is printed too.
//   - refresh of a repository with -targets targets: update.Client.Refresh
//     against go-tuf v2's own updater on the same repository.
//
// Usage: go run ./bench/update -size 1GiB [-sha512] [-cpuprofile /tmp/dl] [-product]
//
// The load average at start is printed: the ratios mean little on a busy
// machine. Temporary files live under -tmp (default os.TempDir()) and are
// removed. -cpuprofile PREFIX writes the device program's CPU profile of
// the first round of the -size image (PREFIX-HTTP.prof,
// PREFIX-offline.prof) for go tool pprof. BENCH_CHILD_ARGS is passed to
// the device program: "-nosync-diagnostic" shows what fsync costs (no
// slot fsync, state in memory), "-memprofile FILE" writes its allocations.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

const hw = "test-hw"

// profPrefix is the -cpuprofile flag.
var profPrefix string

// keepFiles is the -keep flag.
var keepFiles bool

// productBuild is the -product flag.
var productBuild bool

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// childResult is what devclient prints.
type childResult struct {
	Seconds    float64 `json:"seconds"`
	CPU        float64 `json:"cpu_seconds"`
	HWMKiB     int64   `json:"hwm_kib"`
	StartKiB   int64   `json:"start_hwm_kib"`
	RefreshKiB int64   `json:"refresh_hwm_kib"`
	AnonKiB    int64   `json:"rss_anon_kib"`
	FileKiB    int64   `json:"rss_file_kib"`
	StartAnon  int64   `json:"start_anon_kib"`
	StartFile  int64   `json:"start_file_kib"`
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	sizeFlag := flag.String("size", "1GiB", "large image size (KiB/MiB/GiB suffix); a 64MiB image is always measured too")
	chunkFlag := flag.String("chunk", "1MiB", "descriptor chunk size")
	rounds := flag.Int("rounds", 5, "interleaved rounds per image and mode")
	sha512 := flag.Bool("sha512", false, "also measure, over HTTP, a copy of the -size image whose target lists SHA-512 too (the device then computes it as well)")
	targets := flag.Int("targets", 1000, "targets in the refresh benchmark repository")
	runs := flag.Int("runs", 5, "refresh runs per client")
	tmp := flag.String("tmp", os.TempDir(), "directory for temporary files")
	cpuprofile := flag.String("cpuprofile", "", "write the device program's CPU profile of the first round of the -size image to PREFIX-http.prof and PREFIX-bundle.prof")
	flag.BoolVar(&productBuild, "product", false, "build the device program as examples/smartplug's documentation recommends for a product (static, no HTTP/2, inlining only in crypto and the runtime) instead of with go build's defaults")
	keep := flag.Bool("keep", false, "keep the temporary directory (repository, bundles, devclient) and print its name, to run devclient by hand")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	check(err)
	chunk, err := parseSize(*chunkFlag)
	check(err)
	dir, err := os.MkdirTemp(*tmp, "bench-update-")
	check(err)
	profPrefix = *cpuprofile
	keepFiles = *keep
	err = run(dir, size, int(chunk), *rounds, *sha512, *targets, *runs)
	if keepFiles {
		fmt.Println("kept", dir)
	} else {
		os.RemoveAll(dir)
	}
	check(err)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// goTool finds the go command: $GOROOT/bin/go when go run set GOROOT,
// else go on PATH.
func goTool() string {
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// hashFile is the baseline: io.Copy of the file into SHA-256.
func hashFile(file string) (wall, cpu time.Duration, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := sha256.New()
	t, c := time.Now(), cpuTime()
	if _, err := io.Copy(h, f); err != nil {
		return 0, 0, err
	}
	return time.Since(t), cpuTime() - c, nil
}

// readOnlyCPU is the CPU time of reading file in chunk-sized reads (the
// median of three).
func readOnlyCPU(file string, chunk int) (time.Duration, error) {
	var cs []float64
	buf := make([]byte, chunk)
	for range 3 {
		f, err := os.Open(file)
		if err != nil {
			return 0, err
		}
		c := cpuTime()
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		cs = append(cs, (cpuTime() - c).Seconds())
		f.Close()
	}
	return time.Duration(median(cs) * float64(time.Second)), nil
}

// floorCadence is the fsync cadence of the journal-bound disk floors:
// the most a download may leave unjournaled (update's 16 MiB bound), so
// the floor is as cheap as that bound allows.
const floorCadence = 16 << 20

// diskFloor writes file's bytes to dst in chunk-sized writes without
// hashing: what storage alone costs. It fsyncs after every `every` bytes
// (0: once, at the end). With direct, dst must already hold the bytes of a
// file as long (it is overwritten in place, as an A/B device overwrites its
// inactive slot) and the writes bypass the page cache (O_DIRECT, Linux
// only); otherwise dst is removed and created afresh. dst is left in place.
func diskFloor(file, dst string, chunk int, every int64, direct bool) (wall, cpu time.Duration, err error) {
	in, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if direct {
		flags = os.O_WRONLY | oDirect
	} else if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
		return 0, 0, err
	}
	out, err := os.OpenFile(dst, flags, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer out.Close()
	// O_DIRECT needs a buffer aligned to the device's blocks.
	raw := make([]byte, chunk+4096)
	a := int(-uintptr(unsafe.Pointer(&raw[0])) & 4095)
	buf := raw[a : a+chunk]
	t, c := time.Now(), cpuTime()
	var off, synced int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return 0, 0, werr
			}
			off += int64(n)
			if every > 0 && off-synced >= every {
				if err := out.Sync(); err != nil {
					return 0, 0, err
				}
				synced = off
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if err := out.Sync(); err != nil {
		return 0, 0, err
	}
	return time.Since(t), cpuTime() - c, nil
}

func run(dir string, size int64, chunk, rounds int, sha512 bool, ntargets, runs int) error {
	ctx := context.Background()
	fmt.Printf("go %s, %s/%s, %d CPUs, chunk %s, %d interleaved rounds\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), human(int64(chunk)), rounds)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at start: %s", b)
	}
	devclient := filepath.Join(dir, "devclient")
	bargs := []string{"build", "-o", devclient}
	if productBuild {
		// As examples/smartplug's documentation recommends for a product.
		bargs = append(bargs, "-trimpath", "-tags", "nethttpomithttp2", "-gcflags=all=-l", "-gcflags=crypto/...=", "-gcflags=runtime=", "-ldflags=-s -w")
	}
	build := exec.Command(goTool(), append(bargs, "github.com/iotbaseline/baseline/bench/update/devclient")...)
	build.Stderr = os.Stderr
	if productBuild {
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		fmt.Println("device program built as a product: CGO_ENABLED=0, -tags nethttpomithttp2, inlining only in crypto/... and runtime, -s -w")
	}
	if err := build.Run(); err != nil {
		return fmt.Errorf("building devclient: %w", err)
	}
	t0 := time.Now()
	imgDir := filepath.Join(dir, "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return err
	}
	imgRes, err := releasetest.Build(ctx, imgDir, releasetest.Options{Targets: 1, HardwareID: hw, Seed: 1})
	if err != nil {
		return err
	}
	sizes := []int64{64 << 20}
	if size != 64<<20 {
		sizes = append(sizes, size)
	}
	var paths []string
	for i, sz := range sizes {
		p := fmt.Sprintf("big/%d.bin", sz)
		err := imgRes.Repo.AddTarget(ctx, release.Target{
			Path:       p,
			Image:      io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), sz),
			Descriptor: update.Descriptor{HardwareID: hw, ReleaseCounter: uint64(1_000_000 + i), Version: "big", ChunkSize: chunk},
		})
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	// The same bytes as the -size image, listed with SHA-512 too.
	sha512Path := ""
	if sha512 {
		sha512Path = fmt.Sprintf("big/%d-sha512.bin", size)
		err := imgRes.Repo.AddTarget(ctx, release.Target{
			Path:       sha512Path,
			Image:      io.LimitReader(rand.NewChaCha8([32]byte{byte(len(sizes) - 1)}), size),
			Descriptor: update.Descriptor{HardwareID: hw, ReleaseCounter: uint64(1_000_000 + len(sizes)), Version: "big", ChunkSize: chunk},
			SHA512:     true,
		})
		if err != nil {
			return err
		}
		paths = append(paths, sha512Path)
	}
	fmt.Printf("images written by update/release in %v (target hashes: sha256%s)\n", time.Since(t0).Round(time.Millisecond), map[bool]string{true: "; and sha256+sha512 for a copy of the " + human(size) + " image"}[sha512])
	rootFile := filepath.Join(dir, "root.json")
	if err := os.WriteFile(rootFile, imgRes.TrustedRoot, 0o600); err != nil {
		return err
	}
	imgSrv := httptest.NewServer(http.FileServer(http.Dir(imgDir)))
	defer imgSrv.Close()
	childArgs := strings.Fields(os.Getenv("BENCH_CHILD_ARGS"))

	fmt.Println("\n== verify+write vs io.Copy into SHA-256 (same file); medians over interleaved rounds ==")
	hwm := map[int64][]float64{}
	for _, p := range paths {
		tf, ok := imgRes.Repo.Target(p)
		if !ok {
			return fmt.Errorf("no target %s", p)
		}
		sz := tf.Length
		file := filepath.Join(imgDir, "targets", filepath.FromSlash(release.HashPrefixedPath(p, tf.Hashes["sha256"])))
		bundleFile := filepath.Join(dir, fmt.Sprintf("bundle-%d.tar", sz))
		bf, err := os.Create(bundleFile)
		if err != nil {
			return err
		}
		if err := release.WriteBundle(bf, os.DirFS(imgDir), p, nil); err != nil {
			bf.Close()
			return err
		}
		if err := bf.Close(); err != nil {
			return err
		}
		if _, _, err := hashFile(file); err != nil { // warm the page cache
			return err
		}
		type mode struct{ name, bundle string }
		modes := []mode{{"HTTP loopback", ""}, {"offline bundle", bundleFile}}
		if p == sha512Path {
			modes = []mode{{"HTTP loopback, target lists SHA-512 too", ""}}
		}
		type stats struct {
			base, ours, ratio, baseCPU, oursCPU, cpuRatio, hwm, start, refresh, anon, file, sanon, sfile []float64
			// the same transfer over HTTP into SHA-256 by io.Copy in a
			// child process (HTTP modes only), and ours against it
			plain, plainCPU, plainRatio, plainCPURatio []float64
		}
		fileURL := imgSrv.URL + "/targets/" + release.HashPrefixedPath(p, tf.Hashes["sha256"])
		st := make([]stats, len(modes))
		var floorChunk, floorEnd, floorEndCPU, floorBound, floorBoundCPU, floorDirect, floorDirectCPU []float64
		for r := range rounds {
			for mi, m := range modes {
				b1, c1, err := hashFile(file)
				if err != nil {
					return err
				}
				var plain childResult
				if m.bundle == "" {
					out, err := exec.Command(devclient, "-plain-http", fileURL).Output()
					if err != nil {
						return fmt.Errorf("devclient -plain-http: %v", err)
					}
					if err := json.Unmarshal(out, &plain); err != nil {
						return err
					}
				}
				work := filepath.Join(dir, "work")
				args := append([]string{"-url", imgSrv.URL, "-root", rootFile, "-target", p, "-work", work, "-hw", hw, "-bundle", m.bundle}, childArgs...)
				if profPrefix != "" && r == 0 && sz == size && p != sha512Path {
					args = append(args, "-cpuprofile", profPrefix+"-"+strings.Fields(m.name)[0]+".prof")
				}
				cmd := exec.Command(devclient, args...)
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				os.RemoveAll(work)
				if err != nil {
					return fmt.Errorf("devclient: %v", err)
				}
				var cr childResult
				if err := json.Unmarshal(out, &cr); err != nil {
					return err
				}
				b2, c2, err := hashFile(file)
				if err != nil {
					return err
				}
				base := (b1 + b2).Seconds() / 2
				baseCPU := (c1 + c2).Seconds() / 2
				s := &st[mi]
				s.base = append(s.base, base)
				s.ours = append(s.ours, cr.Seconds)
				s.ratio = append(s.ratio, cr.Seconds/base)
				s.baseCPU = append(s.baseCPU, baseCPU)
				s.oursCPU = append(s.oursCPU, cr.CPU)
				s.cpuRatio = append(s.cpuRatio, cr.CPU/baseCPU)
				s.hwm = append(s.hwm, float64(cr.HWMKiB)/1024)
				s.start = append(s.start, float64(cr.StartKiB)/1024)
				s.refresh = append(s.refresh, float64(cr.RefreshKiB)/1024)
				s.anon = append(s.anon, float64(cr.AnonKiB)/1024)
				s.file = append(s.file, float64(cr.FileKiB)/1024)
				s.sanon = append(s.sanon, float64(cr.StartAnon)/1024)
				s.sfile = append(s.sfile, float64(cr.StartFile)/1024)
				if m.bundle == "" {
					s.plain = append(s.plain, plain.Seconds)
					s.plainCPU = append(s.plainCPU, plain.CPU)
					s.plainRatio = append(s.plainRatio, cr.Seconds/plain.Seconds)
					s.plainCPURatio = append(s.plainCPURatio, cr.CPU/plain.CPU)
				}
			}
			if r < 3 && p != sha512Path { // disk floor, a few rounds
				dst := filepath.Join(dir, "floor")
				d, _, err := diskFloor(file, dst, chunk, int64(chunk), false)
				if err != nil {
					return err
				}
				floorChunk = append(floorChunk, d.Seconds())
				d, c, err := diskFloor(file, dst, chunk, 0, false)
				if err != nil {
					return err
				}
				floorEnd = append(floorEnd, d.Seconds())
				floorEndCPU = append(floorEndCPU, c.Seconds())
				d, c, err = diskFloor(file, dst, chunk, floorCadence, false)
				if err != nil {
					return err
				}
				floorBound = append(floorBound, d.Seconds())
				floorBoundCPU = append(floorBoundCPU, c.Seconds())
				if directFloor(sz, chunk) { // over the file just written
					d, c, err = diskFloor(file, dst, chunk, floorCadence, true)
					if err != nil {
						return err
					}
					floorDirect = append(floorDirect, d.Seconds())
					floorDirectCPU = append(floorDirectCPU, c.Seconds())
				}
				os.Remove(dst)
			}
		}
		if !keepFiles {
			os.Remove(bundleFile)
		}
		mbps := func(d float64) float64 { return float64(sz) / d / 1e6 }
		for mi, m := range modes {
			s := st[mi]
			fmt.Printf("%-6s io.Copy→SHA-256 %6.3fs (%5.0f MB/s, cpu %6.3fs) | ours %6.3fs (%5.0f MB/s, cpu %6.3fs) | wall ratio %5.2f× (rounds %s) | cpu ratio %5.2f× | peak RSS %5.1f MiB (max %5.1f; %4.1f at start = anon %3.1f + file %3.1f; %4.1f after refresh; at end anon %4.1f + file %4.1f) | %s\n",
				human(sz), median(s.base), mbps(median(s.base)), median(s.baseCPU), median(s.ours), mbps(median(s.ours)), median(s.oursCPU),
				median(s.ratio), fmtList(s.ratio), median(s.cpuRatio), median(s.hwm), slices.Max(s.hwm), median(s.start), median(s.sanon), median(s.sfile), median(s.refresh), median(s.anon), median(s.file), m.name)
			if len(s.plain) > 0 {
				fmt.Printf("%-6s   same transfer, plain io.Copy of the HTTP body→SHA-256 %6.3fs (cpu %6.3fs) = %4.2f× wall, %4.2f× cpu of the file baseline | ours against it: wall %5.2f× (rounds %s), cpu %5.2f×\n",
					human(sz), median(s.plain), median(s.plainCPU), median(s.plain)/median(s.base), median(s.plainCPU)/median(s.baseCPU), median(s.plainRatio), fmtList(s.plainRatio), median(s.plainCPURatio))
			}
			if p != sha512Path {
				hwm[sz] = append(hwm[sz], s.hwm...)
			}
		}
		if p == sha512Path {
			continue
		}
		fmt.Printf("%-6s disk floor (no hashing, no network): write+fsync per chunk %6.3fs = %4.2f× the baseline; write + one fsync %6.3fs = %4.2f× (cpu %6.3fs = %4.2f× the baseline's cpu)\n",
			human(sz), median(floorChunk), median(floorChunk)/median(st[0].base), median(floorEnd), median(floorEnd)/median(st[0].base), median(floorEndCPU), median(floorEndCPU)/median(st[0].baseCPU))
		// What durably writing the image costs on its own, beside reading
		// it: the baseline's cpu + (floor cpu - read cpu) is the least a
		// program that reads, hashes and writes the bytes through the page
		// cache with one fsync can spend. The read alone is measured here.
		rc, err := readOnlyCPU(file, chunk)
		if err != nil {
			return err
		}
		base, baseCPU := median(st[0].base), median(st[0].baseCPU)
		least := func(floorCPU []float64) float64 { return baseCPU + median(floorCPU) - rc.Seconds() }
		fmt.Printf("%-6s   reading the file alone: cpu %6.3fs; so reading, hashing and writing through the page cache with one fsync costs at least %6.3fs of cpu = %4.2f× the baseline's\n",
			human(sz), rc.Seconds(), least(floorEndCPU), least(floorEndCPU)/baseCPU)
		// A download may leave at most 16 MiB unjournaled, so it syncs at
		// least that often: the floors that bind it. Its wall time is at
		// least the larger of the baseline's and the write's (if reading
		// and writing overlapped perfectly); its CPU at least the
		// baseline's plus the write's.
		fmt.Printf("%-6s   at the journal's bound (an fsync every %s, no hashing): through the page cache %6.3fs = %4.2f× the baseline (least cpu of ours %6.3fs = %4.2f×)",
			human(sz), human(floorCadence), median(floorBound), median(floorBound)/base, least(floorBoundCPU), least(floorBoundCPU)/baseCPU)
		if len(floorDirect) > 0 {
			fmt.Printf("; O_DIRECT over the existing file %6.3fs = %4.2f× (least cpu of ours %6.3fs = %4.2f×)",
				median(floorDirect), median(floorDirect)/base, least(floorDirectCPU), least(floorDirectCPU)/baseCPU)
		}
		fmt.Println()
	}
	if len(sizes) == 2 {
		a, b := hwm[sizes[0]], hwm[sizes[1]]
		fmt.Printf("peak RSS: 64MiB median %.1f MiB (max %.1f), %s median %.1f MiB (max %.1f), difference of medians %+.1f MiB\n",
			median(a), slices.Max(a), human(sizes[1]), median(b), slices.Max(b), median(b)-median(a))
	}

	fmt.Printf("\n== refresh of a %d-target repository (%d runs each, fresh state) ==\n", ntargets, runs)
	repoDir := filepath.Join(dir, "repo")
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return err
	}
	res, err := releasetest.Build(ctx, repoDir, releasetest.Options{Targets: ntargets, HardwareID: hw})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()
	var ours, theirs time.Duration
	for r := range runs {
		st := filepath.Join(dir, fmt.Sprintf("ours%d", r))
		t := time.Now()
		c, err := update.New(update.Config{TrustedRoot: res.TrustedRoot, RepositoryURL: srv.URL, HardwareID: hw, Dir: st, FS: durable.OS})
		if err != nil {
			return err
		}
		if err := c.Refresh(ctx); err != nil {
			return err
		}
		ours += time.Since(t)
		os.RemoveAll(st)

		gt := filepath.Join(dir, fmt.Sprintf("gotuf%d", r))
		t = time.Now()
		cfg, err := config.New(srv.URL+"/metadata", res.TrustedRoot)
		if err != nil {
			return err
		}
		cfg.LocalMetadataDir = filepath.Join(gt, "metadata")
		cfg.LocalTargetsDir = filepath.Join(gt, "targets")
		cfg.RemoteTargetsURL = srv.URL + "/targets"
		if err := cfg.EnsurePathsExist(); err != nil {
			return err
		}
		up, err := updater.New(cfg)
		if err != nil {
			return err
		}
		if err := up.Refresh(); err != nil {
			return err
		}
		theirs += time.Since(t)
		os.RemoveAll(gt)
	}
	fmt.Printf("update.Client.Refresh: %v/run | go-tuf updater.Refresh: %v/run | ratio %.2f×\n",
		(ours / time.Duration(runs)).Round(time.Microsecond), (theirs / time.Duration(runs)).Round(time.Microsecond), ours.Seconds()/theirs.Seconds())
	return nil
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}
