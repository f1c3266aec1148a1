// Command devclient is the device side of bench/update: a program that
// links only package update (as a device's firmware would) and downloads
// one target into a file slot, or reads one offline bundle, then prints the
// elapsed wall time, CPU time and peak RSS (VmHWM) as JSON. bench/update
// builds and runs it; it is not meant to be run by hand.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// Result is what devclient prints.
type Result struct {
	Seconds    float64 `json:"seconds"`
	CPU        float64 `json:"cpu_seconds"`
	HWMKiB     int64   `json:"hwm_kib"`
	StartKiB   int64   `json:"start_hwm_kib"`
	RefreshKiB int64   `json:"refresh_hwm_kib"`
	// AnonKiB and FileKiB split the resident set at the end: heap, stacks
	// and runtime (anonymous) versus pages of the program's own binary
	// (file-backed).
	AnonKiB      int64 `json:"rss_anon_kib"`
	FileKiB      int64 `json:"rss_file_kib"`
	StartAnonKiB int64 `json:"start_anon_kib"`
	StartFileKiB int64 `json:"start_file_kib"`
}

func main() {
	url := flag.String("url", "", "repository URL")
	rootFile := flag.String("root", "", "trusted root.json")
	target := flag.String("target", "", "target path")
	work := flag.String("work", "", "work directory (state and slot)")
	hw := flag.String("hw", "", "hardware ID")
	bundle := flag.String("bundle", "", "offline bundle file instead of HTTP")
	nosync := flag.Bool("nosync-diagnostic", false, "slot Sync is a no-op and state is in memory (diagnostic only: shows what fsync costs)")
	discard := flag.Bool("discard-diagnostic", false, "the slot discards writes, state is in memory (diagnostic only: the read and verify stage alone)")
	cpuprofile := flag.String("cpuprofile", "", "write the download's CPU profile here")
	memprofile := flag.String("memprofile", "", "write an allocation profile (every allocation) here at exit")
	plain := flag.String("plain-http", "", "baseline instead: io.Copy the body of a GET of this URL into SHA-256 (no verification, no slot)")
	flag.Parse()
	if *memprofile != "" {
		runtime.MemProfileRate = 1
		defer func() {
			f, err := os.Create(*memprofile)
			check(err)
			check(pprof.Lookup("allocs").WriteTo(f, 0))
			f.Close()
		}()
	}
	start, startAnon, startFile := vmHWM(), status("RssAnon:"), status("RssFile:")
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	var res Result
	var err error
	if *plain != "" {
		res, err = plainHTTP(*plain)
	} else {
		res, err = run(*url, *rootFile, *target, *work, *hw, *bundle, *nosync, *discard)
	}
	check(err)
	res.StartKiB, res.StartAnonKiB, res.StartFileKiB = start, startAnon, startFile
	check(json.NewEncoder(os.Stdout).Encode(res))
	if *memprofile != "" {
		pprof.StopCPUProfile()
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "devclient:", err)
		os.Exit(1)
	}
}

type noSync struct{ *update.FileSlot }

func (noSync) Sync() error { return nil }

type discardSlot struct{}

func (discardSlot) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
func (discardSlot) Sync() error                              { return nil }
func (discardSlot) SlotID() string                           { return "discard" }

func run(url, rootFile, target, work, hw, bundle string, nosync, discard bool) (Result, error) {
	var res Result
	ctx := context.Background()
	root, err := os.ReadFile(rootFile)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return res, err
	}
	var stateFS durable.FS = durable.OS
	if nosync || discard {
		stateFS = durable.NewCrashFS()
	}
	c, err := update.New(update.Config{TrustedRoot: root, RepositoryURL: url, HardwareID: hw, Dir: filepath.Join(work, "state"), FS: stateFS})
	if err != nil {
		return res, err
	}
	slot, err := update.OpenFileSlot(durable.OS, filepath.Join(work, "slot"))
	if err != nil {
		return res, err
	}
	defer slot.Close()
	var dst update.Slot = slot
	if nosync {
		dst = noSync{slot}
	}
	if discard {
		dst = discardSlot{}
	}
	var v *update.Verified
	var el, cpu time.Duration
	if bundle != "" {
		f, err := os.Open(bundle)
		if err != nil {
			return res, err
		}
		defer f.Close()
		t, c0 := time.Now(), cpuTime()
		if v, err = c.OpenBundle(ctx, f, dst); err != nil {
			return res, err
		}
		el, cpu = time.Since(t), cpuTime()-c0
	} else {
		if err := c.Refresh(ctx); err != nil {
			return res, err
		}
		rel, err := c.Lookup(target)
		if err != nil {
			return res, err
		}
		res.RefreshKiB = vmHWM()
		t, c0 := time.Now(), cpuTime()
		if v, err = c.Download(ctx, rel, dst); err != nil {
			return res, err
		}
		el, cpu = time.Since(t), cpuTime()-c0
	}
	if !v.Valid() {
		return res, fmt.Errorf("not verified")
	}
	res.Seconds, res.CPU, res.HWMKiB = el.Seconds(), cpu.Seconds(), vmHWM()
	res.AnonKiB, res.FileKiB = status("RssAnon:"), status("RssFile:")
	return res, nil
}

// plainHTTP is the HTTP baseline: the same transfer, hashed with SHA-256
// by a plain io.Copy, nothing verified or written.
func plainHTTP(u string) (Result, error) {
	var res Result
	h := sha256.New()
	t, c0 := time.Now(), cpuTime()
	resp, err := http.Get(u)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if _, err := io.Copy(h, resp.Body); err != nil {
		return res, err
	}
	res.Seconds, res.CPU, res.HWMKiB = time.Since(t).Seconds(), (cpuTime() - c0).Seconds(), vmHWM()
	return res, nil
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func vmHWM() int64 { return status("VmHWM:") }

// status reads one kB field of /proc/self/status.
func status(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}
