// Command update benchmarks the update client side by side with plain
// baselines in one run:
//
//   - verify+write: update.Client.Download of an image (HTTP on loopback,
//     chunk hashes, whole-image sha256+sha512, slot writes with fsync and
//     journal per chunk) against a plain io.Copy of the same file into
//     SHA-256; ratio target ≤ 1.15×.
//   - peak RSS (VmHWM) of a process that only downloads, for a 64 MiB and a
//     -size image; target ≤ 16 MiB and within ±2 MiB of each other.
//   - refresh of a repository with -targets targets: update.Client.Refresh
//     against go-tuf v2's own updater on the same repository.
//
// Usage: go run ./bench/update -size 1GiB
//
// Temporary files live under -tmp (default os.TempDir()) and are removed.
// Diagnostics: BENCH_CHILD_ARGS="-cpuprofile /tmp/dl.prof" profiles the
// download child, BENCH_CHILD_ARGS="-nosync-diagnostic" shows what fsync
// costs, BENCH_HWM_DEBUG=1 prints the child's VmHWM at start and after the
// refresh.
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
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/iotbaseline/baseline/internal/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/release"
	"github.com/iotbaseline/baseline/update/release/releasetest"
)

const hw = "test-hw"

// childArgs (env BENCH_CHILD_ARGS) are extra flags for the download child,
// e.g. "-cpuprofile /tmp/dl.prof".
var childArgs string

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

type childResult struct {
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"`
	HWMKiB  int64   `json:"hwm_kib"`
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
	sizeFlag := flag.String("size", "64MiB", "image size (KiB/MiB/GiB suffix)")
	chunkFlag := flag.String("chunk", "1MiB", "descriptor chunk size")
	targets := flag.Int("targets", 1000, "targets in the refresh benchmark repository")
	runs := flag.Int("runs", 5, "refresh runs per client")
	tmp := flag.String("tmp", os.TempDir(), "directory for temporary files")
	// child mode: download one target and report time and VmHWM.
	child := flag.Bool("child", false, "internal: run the download in this process")
	url := flag.String("url", "", "internal")
	rootFile := flag.String("root", "", "internal")
	target := flag.String("target", "", "internal")
	work := flag.String("work", "", "internal")
	hashes := flag.String("hashes", "", "internal")
	bundle := flag.String("bundle", "", "internal")
	nosync := flag.Bool("nosync-diagnostic", false, "child: slot Sync is a no-op and state is in memory (diagnostic only: shows what fsync costs)")
	cpuprofile := flag.String("cpuprofile", "", "write the download's CPU profile here (child)")
	flag.Parse()
	if *child {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			check(err)
			check(pprof.StartCPUProfile(f))
			defer pprof.StopCPUProfile()
		}
		if err := runChild(*url, *rootFile, *target, *work, *hashes, *bundle, *nosync); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	childArgs = os.Getenv("BENCH_CHILD_ARGS")
	size, err := parseSize(*sizeFlag)
	check(err)
	chunk, err := parseSize(*chunkFlag)
	check(err)
	dir, err := os.MkdirTemp(*tmp, "bench-update-")
	check(err)
	defer os.RemoveAll(dir)
	if err := run(dir, size, int(chunk), *targets, *runs); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir string, size int64, chunk, ntargets, runs int) error {
	ctx := context.Background()
	repoDir := filepath.Join(dir, "repo")
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return err
	}
	fmt.Printf("go %s, %s/%s, %d CPUs\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	t0 := time.Now()
	res, err := releasetest.Build(ctx, repoDir, releasetest.Options{Targets: ntargets, HardwareID: hw})
	if err != nil {
		return err
	}
	// The images go into a repository of their own, so the download's
	// memory is measured without the 1,000-target metadata (that is the
	// refresh benchmark's).
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
	fmt.Printf("repository: %d targets + %d images, built in %v\n", ntargets, len(sizes), time.Since(t0).Round(time.Millisecond))
	rootFile := filepath.Join(dir, "root.json")
	if err := os.WriteFile(rootFile, imgRes.TrustedRoot, 0o600); err != nil {
		return err
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()
	imgSrv := httptest.NewServer(http.FileServer(http.Dir(imgDir)))
	defer imgSrv.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}

	fmt.Println("\n== verify+write vs io.Copy into SHA-256 (same file) ==")
	hwm := map[int64]int64{}
	for i, p := range paths {
		tf, ok := imgRes.Repo.Target(p)
		if !ok {
			return fmt.Errorf("no target %s", p)
		}
		file := filepath.Join(imgDir, "targets", filepath.FromSlash(release.HashPrefixedPath(p, tf.Hashes["sha256"])))
		var baseCPU time.Duration
		base := func() (time.Duration, error) {
			f, err := os.Open(file)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			h := sha256.New()
			t, c := time.Now(), cpuTime()
			if _, err := io.Copy(h, f); err != nil {
				return 0, err
			}
			el := time.Since(t)
			if cc := cpuTime() - c; baseCPU == 0 || cc < baseCPU {
				baseCPU = cc
			}
			return el, nil
		}
		if _, err := base(); err != nil { // warm the page cache for both
			return err
		}
		b1, err := base()
		if err != nil {
			return err
		}
		bundleFile := filepath.Join(dir, "bundle.tar")
		bf, err := os.Create(bundleFile)
		if err != nil {
			return err
		}
		if err := update.WriteBundle(bf, os.DirFS(imgDir), p, nil); err != nil {
			bf.Close()
			return err
		}
		if err := bf.Close(); err != nil {
			return err
		}
		type mode struct{ name, hashes, bundle string }
		for _, m := range []mode{
			{"HTTP loopback, whole-image sha256+sha512", "sha256,sha512", ""},
			{"HTTP loopback, whole-image sha256", "sha256", ""},
			{"offline bundle file, whole-image sha256+sha512", "sha256,sha512", bundleFile},
			{"offline bundle file, whole-image sha256", "sha256", bundleFile},
		} {
			hashes := m.hashes
			work := filepath.Join(dir, fmt.Sprintf("child%d", i))
			args := []string{"-child", "-url", imgSrv.URL, "-root", rootFile, "-target", p, "-work", work, "-hashes", hashes, "-bundle", m.bundle}
			if childArgs != "" {
				args = append(args, strings.Fields(childArgs)...)
			}
			cmd := exec.Command(exe, args...)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			os.RemoveAll(work)
			if err != nil {
				return fmt.Errorf("child: %v", err)
			}
			var cr childResult
			if err := json.Unmarshal(out, &cr); err != nil {
				return err
			}
			b2, err := base()
			if err != nil {
				return err
			}
			b := min(b1, b2)
			b1 = b2
			sz := tf.Length
			mbps := func(d float64) float64 { return float64(sz) / d / 1e6 }
			fmt.Printf("%-6s io.Copy→SHA-256 %6.3fs (%5.0f MB/s, cpu %6.3fs) | ours %6.3fs (%5.0f MB/s, cpu %6.3fs) | wall ratio %5.2f× | cpu ratio %5.2f× | peak RSS %5.1f MiB | %s\n",
				human(sz), b.Seconds(), mbps(b.Seconds()), baseCPU.Seconds(), cr.Seconds, mbps(cr.Seconds), cr.CPU, cr.Seconds/b.Seconds(), cr.CPU/baseCPU.Seconds(), float64(cr.HWMKiB)/1024, m.name)
			if m.bundle == "" && hashes == "sha256,sha512" {
				hwm[sz] = cr.HWMKiB
			}
		}
		os.Remove(bundleFile)
	}
	if len(sizes) == 2 {
		d := float64(hwm[sizes[1]]-hwm[sizes[0]]) / 1024
		fmt.Printf("peak RSS difference %s vs 64MiB: %+.1f MiB\n", human(sizes[1]), d)
	}

	fmt.Printf("\n== refresh of a %d-target repository (%d runs each, fresh state) ==\n", ntargets+len(sizes), runs)
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

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

type noSync struct{ *update.FileSlot }

func (noSync) Sync() error { return nil }

func runChild(url, rootFile, target, work, hashes, bundle string, nosync bool) error {
	ctx := context.Background()
	if os.Getenv("BENCH_HWM_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "VmHWM at child start: %d KiB\n", vmHWM())
	}
	root, err := os.ReadFile(rootFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	var stateFS durable.FS = durable.OS
	if nosync {
		stateFS = durable.NewCrashFS()
	}
	c, err := update.New(update.Config{TrustedRoot: root, RepositoryURL: url, HardwareID: hw, Dir: filepath.Join(work, "state"), FS: stateFS,
		ImageHashes: strings.Split(hashes, ",")})
	if err != nil {
		return err
	}
	slot, err := update.OpenFileSlot(durable.OS, filepath.Join(work, "slot"))
	if err != nil {
		return err
	}
	defer slot.Close()
	var dst update.Slot = slot
	if nosync {
		dst = noSync{slot}
	}
	var v *update.Verified
	var el, cpu time.Duration
	if bundle != "" {
		f, err := os.Open(bundle)
		if err != nil {
			return err
		}
		defer f.Close()
		t, c0 := time.Now(), cpuTime()
		if v, err = c.OpenBundle(ctx, f, dst); err != nil {
			return err
		}
		el, cpu = time.Since(t), cpuTime()-c0
	} else {
		if err := c.Refresh(ctx); err != nil {
			return err
		}
		rel, err := c.Lookup(target)
		if err != nil {
			return err
		}
		if os.Getenv("BENCH_HWM_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "VmHWM after refresh: %d KiB\n", vmHWM())
		}
		t, c0 := time.Now(), cpuTime()
		if v, err = c.Download(ctx, rel, dst); err != nil {
			return err
		}
		el, cpu = time.Since(t), cpuTime()-c0
	}
	if !v.Valid() {
		return fmt.Errorf("not verified")
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{Seconds: el.Seconds(), CPU: cpu.Seconds(), HWMKiB: vmHWM()})
}

func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}
