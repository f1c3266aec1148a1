// Command smartplug measures the reference device (examples/smartplug):
// the size of its stripped binary, the time from start to serving its
// first HTTPS request (first start, which provisions the device, and a
// restart), and its resident memory when idle.
//
// Run it from anywhere in the module:
//
//	go run ./bench/smartplug [-idle 10s] [-runs 5] [-tags tpm]
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	idle := flag.Duration("idle", 10*time.Second, "how long the device idles before its RSS is read")
	runs := flag.Int("runs", 5, "restarts timed (the median is printed)")
	tags := flag.String("tags", "", "build tags for the device (tpm, pkcs11)")
	flag.Parse()
	if err := run(*idle, *tags, max(*runs, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "bench/smartplug:", err)
		os.Exit(1)
	}
}

func run(idle time.Duration, tags string, runs int) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	tmp, err := os.MkdirTemp("", "bench-smartplug-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "smartplug")
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./examples/smartplug")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return err
	}
	fmt.Printf("binary (go build -trimpath -ldflags=\"-s -w\"): %d bytes = %.2f MB (%.2f MiB); the demo build (goal <= 12 MB is for the product build)\n",
		st.Size(), float64(st.Size())/1e6, float64(st.Size())/(1<<20))
	// What each step towards the product build saves: every build below is
	// static (CGO_ENABLED=0) unless -tags pkcs11 asks for cgo.
	steps := []struct {
		what string
		b    productBuild
	}{
		{"-tags nodemo (no demo repository writer)", productBuild{tags: tags}},
		{"+ nethttpomithttp2 (no HTTP/2 in net/http)", productBuild{tags: tags, noHTTP2: true}},
		{"+ no inlining outside crypto and runtime (the recommended product build)", productBuild{tags: tags, noHTTP2: true, sizeOpt: true}},
	}
	for _, st := range steps {
		out := filepath.Join(tmp, "size-step")
		if err := st.b.build(root, out, ""); err != nil {
			return err
		}
		pst, err := os.Stat(out)
		if err != nil {
			return err
		}
		fmt.Printf("  %-75s %d bytes = %.2f MB\n", st.what, pst.Size(), float64(pst.Size())/1e6)
	}

	state := filepath.Join(tmp, "state")
	first, err := measure(bin, state, 0)
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	fmt.Printf("first start (provisions: keyset, setup verifier, identity key, TUF repo): listening after %v, first HTTPS response after %v\n",
		first.listening.Round(time.Millisecond), first.serving.Round(time.Millisecond))
	var listen, serve []time.Duration
	for range runs - 1 {
		r, err := measure(bin, state, 0)
		if err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		listen, serve = append(listen, r.listening), append(serve, r.serving)
	}
	again, err := measure(bin, state, idle)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	listen, serve = append(listen, again.listening), append(serve, again.serving)
	slices.Sort(listen)
	slices.Sort(serve)
	fmt.Printf("restart (median of %d): listening after %v, first HTTPS response after %v (range %v..%v)\n", runs,
		listen[len(listen)/2].Round(time.Millisecond), serve[len(serve)/2].Round(time.Millisecond),
		serve[0].Round(time.Millisecond), serve[len(serve)-1].Round(time.Millisecond))
	fmt.Printf("idle RSS after %v: %.1f MiB (anonymous %.1f MiB, file-backed %.1f MiB: the mapped binary; peak %.1f MiB); goal <= 16 MiB\n",
		idle, again.rssMiB, again.anonMiB, again.rssMiB-again.anonMiB, again.hwmMiB)
	f, err := newFactory(root, tmp, 2)
	if err != nil {
		return err
	}
	if err := product(root, f, 0, productBuild{tags: tags, noHTTP2: true, sizeOpt: true}, runs, idle); err != nil {
		return err
	}
	// The same product with the compiler's inlining everywhere, for what
	// the size-optimised build costs or saves at start and in memory.
	return product(root, f, 1, productBuild{tags: tags, noHTTP2: true}, runs, idle)
}

// productBuild is how the plug is built for a product (see the "Build
// tags" section of its documentation).
type productBuild struct {
	tags    string // extra build tags (tpm, pkcs11)
	noHTTP2 bool   // -tags nethttpomithttp2
	sizeOpt bool   // no inlining except in crypto/... and runtime
}

func (b productBuild) cgo() bool { return strings.Contains(b.tags, "pkcs11") }

func (b productBuild) String() string {
	s := "-tags nodemo"
	if b.noHTTP2 {
		s += ",nethttpomithttp2"
	}
	if b.sizeOpt {
		s += ", inlining only in crypto and runtime"
	}
	if b.cgo() {
		return s + ", cgo (pkcs11)"
	}
	return s + ", CGO_ENABLED=0 (static)"
}

// build builds the plug into out; ldflags are added to -s -w.
func (b productBuild) build(root, out, ldflags string) error {
	tags := "nodemo"
	if b.noHTTP2 {
		tags += ",nethttpomithttp2"
	}
	if b.tags != "" {
		tags += "," + b.tags
	}
	args := []string{"build", "-trimpath", "-tags", tags, "-ldflags=-s -w" + ldflags}
	if b.sizeOpt {
		args = append(args, "-gcflags=all=-l", "-gcflags=crypto/...=", "-gcflags=runtime=")
	}
	cmd := exec.Command("go", append(args, "-o", out, "./examples/smartplug")...)
	cmd.Dir = root
	if !b.cgo() {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// factory is what a maker's factory gives the product builds: a TUF
// repository made by `baseline release init` (its root is built into each
// product binary) and one `baseline provision` record per product measured.
type factory struct {
	dir      string
	rootJSON []byte
	records  []string
}

func newFactory(root, parent string, n int) (*factory, error) {
	tmp, err := os.MkdirTemp(parent, "factory-")
	if err != nil {
		return nil, err
	}
	cli := filepath.Join(tmp, "baseline")
	cmd := exec.Command("go", "build", "-o", cli, "./cmd/baseline")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/baseline: %v\n%s", err, out)
	}
	env := append(os.Environ(), "BENCH_PASSPHRASE=bench-passphrase-not-secret")
	baseline := func(args ...string) error {
		c := exec.Command(cli, args...)
		c.Env, c.Dir = env, tmp
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("baseline %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	args := []string{"release", "init", "-repo", "repo", "-passphrase-env", "BENCH_PASSPHRASE"}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := baseline("keygen", "-out", "k-"+role, "-passphrase-env", "BENCH_PASSPHRASE"); err != nil {
			return nil, err
		}
		args = append(args, "-"+role+"-key", "k-"+role+".key")
	}
	if err := baseline(args...); err != nil {
		return nil, err
	}
	model, err := profileModel(root)
	if err != nil {
		return nil, err
	}
	if err := baseline("provision", "--model", model, "--count", strconv.Itoa(n), "--serial-prefix", "BENCH", "--labels", "labels.csv", "--records", "records"); err != nil {
		return nil, err
	}
	rootJSON, err := os.ReadFile(filepath.Join(tmp, "repo", "metadata", "1.root.json"))
	if err != nil {
		return nil, err
	}
	recs, _ := filepath.Glob(filepath.Join(tmp, "records", "*.json"))
	if len(recs) != n {
		return nil, fmt.Errorf("baseline provision wrote %d records, want %d", len(recs), n)
	}
	return &factory{dir: tmp, rootJSON: rootJSON, records: recs}, nil
}

// product measures the start of the build a maker ships: -tags nodemo with
// f's TUF root built in, f's i-th factory record on the first start, and, when
// setpriv is installed, under no_new_privs as a service unit with
// NoNewPrivileges=yes starts it (otherwise the plug re-executes itself once
// to set the flag on every thread of a cgo build). The update repository
// URL points at a closed port: the first check runs after serving starts.
// It is built as pb says; the plug's documentation recommends for a
// product CGO_ENABLED=0 (a static binary: no C library to map, and
// no_new_privs set on every thread without the re-execution), except with
// -tags pkcs11, whose module loading needs cgo, no HTTP/2, and inlining only
// in crypto and the runtime.
func product(root string, f *factory, i int, pb productBuild, runs int, idle time.Duration) error {
	tmp, err := os.MkdirTemp(f.dir, "product-")
	if err != nil {
		return err
	}
	bin := filepath.Join(tmp, "smartplug-product")
	if err := pb.build(root, bin, " -X main.updateRootBase64="+base64.StdEncoding.EncodeToString(f.rootJSON)); err != nil {
		return err
	}
	pst, err := os.Stat(bin)
	if err != nil {
		return err
	}
	extra := []string{"--update-repo", "https://127.0.0.1:9/"}
	how := "re-executing itself once for no_new_privs"
	if _, err := exec.LookPath("setpriv"); err == nil {
		extra = append([]string{"setpriv"}, extra...)
		how = "under setpriv --no-new-privs, as NoNewPrivileges=yes starts it"
	}
	state := filepath.Join(tmp, "product-state")
	first, err := measure(bin, state, 0, append(extra, "--provision", f.records[i])...)
	if err != nil {
		return fmt.Errorf("product first start: %w", err)
	}
	var serve []time.Duration
	var last result
	for i := range runs {
		wait := time.Duration(0)
		if i == runs-1 {
			wait = idle
		}
		r, err := measure(bin, state, wait, extra...)
		if err != nil {
			return fmt.Errorf("product restart: %w", err)
		}
		serve, last = append(serve, r.serving), r
	}
	slices.Sort(serve)
	fmt.Printf("product build (%s, built-in TUF root, factory record; %s): %d bytes = %.2f MB; first start: first HTTPS response after %v; restart (median of %d) %v (range %v..%v); goal <= 100 ms\n",
		pb, how, pst.Size(), float64(pst.Size())/1e6, first.serving.Round(time.Millisecond), runs, serve[len(serve)/2].Round(time.Millisecond), serve[0].Round(time.Millisecond), serve[len(serve)-1].Round(time.Millisecond))
	fmt.Printf("product build idle RSS after %v: %.1f MiB (anonymous %.1f MiB, file-backed %.1f MiB; peak %.1f MiB); goal <= 16 MiB\n",
		idle, last.rssMiB, last.anonMiB, last.rssMiB-last.anonMiB, last.hwmMiB)
	return nil
}

// profileModel reads the model name from the plug's embedded profile.
func profileModel(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "examples", "smartplug", "profile.json"))
	if err != nil {
		return "", err
	}
	var p struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return "", err
	}
	return p.Model, nil
}

type result struct {
	listening, serving time.Duration
	rssMiB, hwmMiB     float64
	anonMiB            float64
}

func measure(bin, state string, idle time.Duration, extra ...string) (result, error) {
	var r result
	cmd := exec.Command(bin, append([]string{"--state", state, "--listen", "127.0.0.1:0", "--log", "warn"}, extra...)...)
	if len(extra) > 0 && extra[0] == "setpriv" {
		cmd = exec.Command("setpriv", append(append([]string{"--no-new-privs", bin}, "--state", state, "--listen", "127.0.0.1:0", "--log", "warn"), extra[1:]...)...)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	cmd.Stderr = io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(out)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "listening: "); ok {
			addr = a
			r.listening = time.Since(start)
			break
		}
	}
	if addr == "" {
		return r, fmt.Errorf("device printed no listening line")
	}
	go io.Copy(io.Discard, out)
	pemBytes, err := os.ReadFile(filepath.Join(state, "tls-cert.pem"))
	if err != nil {
		return r, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for time.Since(start) < 60*time.Second {
		resp, err := c.Get("https://" + addr + "/api/info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				r.serving = time.Since(start)
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if r.serving == 0 {
		return r, fmt.Errorf("no HTTPS response within 60s")
	}
	c.CloseIdleConnections()
	if idle > 0 {
		time.Sleep(idle)
		r.rssMiB, r.hwmMiB, r.anonMiB, err = rss(cmd.Process.Pid)
	}
	return r, err
}

// rss reads the resident set size, its peak and its anonymous part from
// /proc/PID/status.
func rss(pid int) (cur, peak, anon float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		}
	}
	return cur, peak, anon, nil
}
