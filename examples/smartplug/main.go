package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Build-time identity of the firmware. A real device sets these with
// -ldflags "-X main.version=...".
var (
	version = "1.0.0"
)

// options are the device's command-line flags.
type options struct {
	state      string
	listen     string
	provision  string
	updateRepo string
	updateRoot string
	logLevel   string
	user       string

	// The associated service (cloud_flags.go).
	cloud             string
	cloudCA           string
	cloudCert         string
	cloudCommandKey   string
	cloudFleet        int
	cloudCapacity     float64
	telemetryInterval time.Duration
	identityCSR       bool

	boot *bootInfo // set by the launcher, not a flag
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("smartplug", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.state, "state", defaultStateDir(), "`DIR` holding the device's state (sealed secrets, settings); created 0700 on first start")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "`ADDR` (host:port) of the HTTPS web UI and API; port 0 picks a free port")
	fs.StringVar(&o.provision, "provision", "", "device record `FILE` from `baseline provision`; used on first start only (default: the device makes its own setup secret and prints it as its label would show it)")
	fs.StringVar(&o.updateRepo, "update-repo", "", "https `URL` of the TUF update repository (default: a local repository the device creates and serves itself)")
	fs.StringVar(&o.updateRoot, "update-root", "", "TUF root.json `FILE` to trust for --update-repo (in a product it is built into the firmware)")
	fs.StringVar(&o.logLevel, "log", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.user, "user", "", "when started as root: after binding the port, hand the state directory to this `account` and run as it, without capabilities (5.6-7)")
	cloudFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := checkCloudFlags(&o); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// defaultStateDir is a directory next to where the device was started, so
// that `go run ./examples/smartplug` needs nothing configured and leaves
// nothing outside the working directory.
func defaultStateDir() string { return "smartplug-state" }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smartplug:", err)
		os.Exit(2)
	}
	err = run(ctx, o, os.Stdout, os.Stderr)
	if rb, ok := errors.AsType[*errReboot](err); ok {
		// The plug's "reboot": execute the committed slot's image, whose
		// launcher starts the slot FileAB.Boot names (launcher.go).
		fmt.Fprintln(os.Stderr, "smartplug:", rb)
		stop()
		err = reboot(rb)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smartplug:", err)
		os.Exit(1)
	}
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// run starts the device and serves until ctx is cancelled. What a user needs
// goes to stdout (URL, and on first start the setup secret as the label
// would show it); logs go to stderr.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	log := newLogger(o.logLevel, stderr)
	// No later exec may gain privileges (5.6-7). A plug's firmware runs as
	// its own unprivileged user; started as root with --user, it binds its
	// port and then drops to that user (dropToUser).
	ensureNoNewPrivs(log)
	dir, err := filepath.Abs(o.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if o.identityCSR {
		return writeIdentityCSR(ctx, dir, o, stdout, log)
	}
	// The launcher (the plug's bootloader): records a factory image, asks
	// the A/B installer which slot to start and executes it if that is
	// not this image (see launcher.go).
	if o.boot, err = launch(ctx, dir, log); err != nil {
		return err
	}
	d, label, err := openDevice(ctx, dir, o, log)
	if err != nil {
		o.boot.ab.Close()
		return err
	}
	defer d.Close()
	ctx, d.restart = context.WithCancelCause(ctx)
	// 5.7-1/5.7-2: read the running image before listening or connecting.
	// A mismatch (or an unreadable slot) restricts the plug and alerts;
	// any other error (ctx ended, no hooks) means nothing was checked.
	if err := d.verifyRunningImage(ctx); err != nil {
		if restricted, _ := d.integrityState(); !restricted {
			return fmt.Errorf("boot integrity: %w", err)
		}
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	if err := d.startTLS(ctx, addr); err != nil {
		ln.Close()
		return err
	}
	d.declareInterface(addr)
	srv, err := d.server()
	if err != nil {
		ln.Close()
		return err
	}
	// The port is bound: a plug started as root gives root up now.
	if err := dropToUser(o.user, dir, log); err != nil {
		ln.Close()
		return err
	}

	url := "https://" + addr + "/"
	if host, port, _ := net.SplitHostPort(addr); host == "127.0.0.1" {
		url = "https://localhost:" + port + "/"
	}
	fmt.Fprintf(stdout, "smartplug %s (%s) serving on %s\n", version, d.model, url)
	fmt.Fprintf(stdout, "listening: %s\n", addr)
	fmt.Fprintf(stdout, "device certificate: %s\n", d.certPath())
	switch {
	case label != "":
		// The device's label, as a factory would print it. Shown once: the
		// device keeps only its verifier, so it cannot show it again.
		fmt.Fprintf(stdout, "setup secret: %s\n", label)
		fmt.Fprintln(stdout, "Open the URL, accept the device's certificate, and type the setup secret to choose your password.")
	case d.setupPending():
		fmt.Fprintln(stdout, "Open the URL and type the setup secret from the device's label to choose your password.")
	default:
		fmt.Fprintln(stdout, "Open the URL and log in.")
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	d.startBackground(ctx)
	err = srv.Serve(ctx, ln)
	d.stopBackground()
	if rb, ok := errors.AsType[*errReboot](context.Cause(ctx)); ok {
		return rb
	}
	if err != nil && !strings.Contains(err.Error(), "use of closed network connection") {
		return err
	}
	return nil
}
