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
	fmt.Printf("binary (go build -trimpath -ldflags=\"-s -w\"): %d bytes = %.2f MB (%.2f MiB); goal <= 12 MB\n",
		st.Size(), float64(st.Size())/1e6, float64(st.Size())/(1<<20))
	// A product leaves the demo repository writer out (-tags nodemo).
	prod := filepath.Join(tmp, "smartplug-nodemo")
	ptags := "nodemo"
	if tags != "" {
		ptags += "," + tags
	}
	cmd = exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags", ptags, "-o", prod, "./examples/smartplug")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -tags nodemo: %v\n%s", err, out)
	}
	if pst, err := os.Stat(prod); err == nil {
		fmt.Printf("binary without the demo repository writer (-tags nodemo): %d bytes = %.2f MB\n", pst.Size(), float64(pst.Size())/1e6)
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
	return product(root, tmp, tags, runs, idle)
}

// product measures the start of the build a maker ships: -tags nodemo with
// a TUF root built in (a repository made by `baseline release init`), a
// factory record from `baseline provision` on the first start, and, when
// setpriv is installed, under no_new_privs as a service unit with
// NoNewPrivileges=yes starts it (otherwise the plug re-executes itself once
// to set the flag on every thread of a cgo build). The update repository
// URL points at a closed port: the first check runs after serving starts.
// It is built as the plug's documentation recommends for a product:
// CGO_ENABLED=0 (a static binary: no C library to map, and no_new_privs
// set on every thread without the re-execution), except with -tags pkcs11,
// whose module loading needs cgo.
func product(root, tmp, tags string, runs int, idle time.Duration) error {
	cli := filepath.Join(tmp, "baseline")
	cmd := exec.Command("go", "build", "-o", cli, "./cmd/baseline")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/baseline: %v\n%s", err, out)
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
			return err
		}
		args = append(args, "-"+role+"-key", "k-"+role+".key")
	}
	if err := baseline(args...); err != nil {
		return err
	}
	model, err := profileModel(root)
	if err != nil {
		return err
	}
	if err := baseline("provision", "--model", model, "--count", "1", "--serial-prefix", "BENCH", "--labels", "labels.csv", "--records", "records"); err != nil {
		return err
	}
	rootJSON, err := os.ReadFile(filepath.Join(tmp, "repo", "metadata", "1.root.json"))
	if err != nil {
		return err
	}
	bin := filepath.Join(tmp, "smartplug-product")
	ptags := "nodemo"
	if tags != "" {
		ptags += "," + tags
	}
	cmd = exec.Command("go", "build", "-trimpath", "-tags", ptags, "-ldflags=-s -w -X main.updateRootBase64="+base64.StdEncoding.EncodeToString(rootJSON), "-o", bin, "./examples/smartplug")
	cmd.Dir = root
	static := !strings.Contains(tags, "pkcs11")
	if static {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (product): %v\n%s", err, out)
	}
	pst, err := os.Stat(bin)
	if err != nil {
		return err
	}
	recs, _ := filepath.Glob(filepath.Join(tmp, "records", "*.json"))
	if len(recs) != 1 {
		return fmt.Errorf("baseline provision wrote %d records", len(recs))
	}
	extra := []string{"--update-repo", "https://127.0.0.1:9/"}
	how := "re-executing itself once for no_new_privs"
	if _, err := exec.LookPath("setpriv"); err == nil {
		extra = append([]string{"setpriv"}, extra...)
		how = "under setpriv --no-new-privs, as NoNewPrivileges=yes starts it"
	}
	state := filepath.Join(tmp, "product-state")
	first, err := measure(bin, state, 0, append(extra, "--provision", recs[0])...)
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
	build := "CGO_ENABLED=0 (static)"
	if !static {
		build = "cgo (pkcs11)"
	}
	fmt.Printf("product build (-tags nodemo, %s, built-in TUF root, factory record; %s): %d bytes = %.2f MB; first start: first HTTPS response after %v; restart (median of %d) %v (range %v..%v); goal <= 100 ms\n",
		build, how, pst.Size(), float64(pst.Size())/1e6, first.serving.Round(time.Millisecond), runs, serve[len(serve)/2].Round(time.Millisecond), serve[0].Round(time.Millisecond), serve[len(serve)-1].Round(time.Millisecond))
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
