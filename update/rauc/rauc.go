package rauc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// Errors of the adapter. A failed rauc command is a [*CommandError] that
// wraps ErrCommand.
var (
	// ErrCommand: the rauc command exited with an error or could not be
	// started. The [*CommandError] carries rauc's stderr.
	ErrCommand = errors.New("rauc: command failed")
	// ErrStatus: `rauc status --output-format=json` printed something
	// that is not the status document this package understands, or one
	// beyond its bounds.
	ErrStatus = errors.New("rauc: malformed status output")
	// ErrConfig: the Config is unusable.
	ErrConfig = errors.New("rauc: invalid configuration")
)

// Bounds on what the adapter reads from rauc.
const (
	// MaxStatusBytes bounds the JSON that `rauc status` may print.
	MaxStatusBytes = 1 << 20
	// MaxSlots bounds the number of slots in a status document.
	MaxSlots = 64
	// MaxStderr is how much of rauc's stderr an error keeps (the end,
	// where rauc prints why it failed).
	MaxStderr = 4 << 10
	// maxStdout bounds what the adapter keeps of other commands' stdout.
	maxStdout = 64 << 10
)

// Config configures a [System]. The zero value runs `rauc` from PATH with
// its default system.conf, but Dir is required.
type Config struct {
	// Binary is the rauc executable. Empty means "rauc" looked up in PATH.
	Binary string
	// ConfFile is passed as --conf. Empty means rauc's default
	// (/etc/rauc/system.conf).
	ConfFile string
	// Dir holds the adapter's state file (state.json: the download being
	// staged, the release handed to rauc, the releases that failed their
	// trial here) and is where [System.Begin] stages the bundle that the
	// update client downloads (bundle.raucb); both mode 0600. Required;
	// it must be on a persistent file system with room for one bundle,
	// written only by the updating process.
	Dir string
	// Env is added to the environment of every rauc command, for example
	// "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket".
	// Nil inherits the process environment unchanged.
	Env []string
	// InstalledCounter returns the release counter of the image the
	// device left the factory with, or of one installed outside the
	// adapter (RAUC does not know TUF release counters). The adapter
	// records the counter of every release it commits; the anti-rollback
	// floor is the greater of the two ([System.InstalledCounter]), and
	// Begin refuses a release whose counter is not above it. Nil means 0:
	// until the first commit through the adapter any release is newer.
	InstalledCounter func() uint64
	// Notify receives the adapter's events, as update.FileABConfig.Notify
	// does: update.Downloading while the client writes the staged bundle,
	// update.Installed when rauc has installed it (Slot empty when rauc's
	// status could not say which), update.Committed at Commit,
	// update.RolledBack when Rollback or Reconcile records a release as
	// rejected (Rollback sends it once that record is durable, before it
	// runs rauc's mark-bad, which it may have to be called again for). (TrialBoot is the bootloader's, which the adapter does not
	// see.) Sends never block: an event the channel has no room for is
	// dropped, so a slow or absent UI never holds up an update.
	Notify chan<- update.Event
	// Logger receives the adapter's log; nil discards it.
	Logger *slog.Logger
}

// System is a RAUC system driven through the rauc command line: `rauc
// install`, `rauc status`, `rauc status mark-good|mark-bad|mark-active`. The
// rauc service must be running (rauc's CLI talks to it over D-Bus).
//
// It implements update.Installer: see [System.Begin] and [System.Install]
// for how a verified download maps onto a signed RAUC bundle. It also has
// the Rejected(*update.Release) bool method that update.Client.Check
// consults, as update.FileAB does: see [System.Rollback] and
// [System.Reconcile]. A System is safe for concurrent use within one
// process; only one Begin/Install cycle is in flight.
type System struct {
	cfg Config
	log *slog.Logger

	fsys durable.FS
	// runner runs rauc; nil means the rauc binary (tests of power loss
	// put a model of rauc here, since rauc cannot read their in-memory
	// file system).
	runner func(ctx context.Context, outLimit int, whole bool, args ...string) ([]byte, error)

	// admitHook, when set, replaces the release gate (tests show that the
	// self-check notices a broken one).
	admitHook func(*update.Release) error

	mu     sync.Mutex
	handle *bundleSlot
	st     atomic.Pointer[state] // the state file's content; replaced, never modified; written under mu

	bootState // what VerifyRunning found (bootcheck.go)
}

// New returns a System for cfg. It runs no rauc command (call
// [System.Status] to learn whether the rauc service answers, and
// [System.Reconcile] once at start). It reads the adapter's state file,
// Config.Dir/state.json (which release was handed to rauc, which releases
// failed their trial here, which download the staging file holds),
// refusing one it did not write (ErrState), and removes a staging file the
// state does not vouch for.
func New(cfg Config) (*System, error) {
	return newSystem(cfg, durable.OS)
}

func newSystem(cfg Config, fsys durable.FS) (*System, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Config.Dir is required", ErrConfig)
	}
	if cfg.Binary == "" {
		cfg.Binary = "rauc"
	}
	cfg.Env = append([]string(nil), cfg.Env...)
	for _, e := range cfg.Env {
		if !strings.Contains(e, "=") {
			return nil, fmt.Errorf("%w: Config.Env entry without '='", ErrConfig)
		}
	}
	if err := fsys.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("rauc: staging directory: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &System{cfg: cfg, log: log, fsys: fsys}
	st, err := loadState(fsys, s.statePath())
	if err != nil {
		return nil, err
	}
	s.st.Store(st)
	stale := []string{legacyMarker}
	if st.Staging == nil {
		stale = append(stale, bundleName)
	}
	for _, name := range stale {
		if err := durable.Remove(fsys, filepath.Join(cfg.Dir, name)); err != nil {
			return nil, fmt.Errorf("rauc: discarding a stale staged bundle: %w", err)
		}
	}
	return s, nil
}

func (s *System) statePath() string { return filepath.Join(s.cfg.Dir, stateName) }

// CommandError is a rauc command that failed.
type CommandError struct {
	// Command is the rauc subcommand and its arguments (never the
	// environment).
	Command []string
	// ExitCode is the exit status, or -1 when rauc did not run to its end.
	ExitCode int
	// Reason is the "LastError:" line `rauc install` prints on stdout
	// (for example "signature verification failed: Verify error:
	// self-signed certificate"), "" when there was none.
	Reason string
	// Stderr is the last MaxStderr bytes of rauc's stderr, with control
	// characters replaced, so a log or UI can show it safely.
	Stderr string
	// Err is the underlying error from os/exec.
	Err error
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("rauc: %s failed (exit %d)", strings.Join(e.Command, " "), e.ExitCode)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Stderr != "" {
		msg += "; stderr: " + e.Stderr
	}
	return msg
}

// Unwrap returns ErrCommand and the exec error.
func (e *CommandError) Unwrap() []error { return []error{ErrCommand, e.Err} }

// boundedBuffer keeps the first limit bytes (head) or the last limit bytes
// (tail) written to it and counts the rest.
type boundedBuffer struct {
	limit int
	tail  bool
	buf   []byte
	over  int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if b.tail {
		b.buf = append(b.buf, p...)
		if d := len(b.buf) - b.limit; d > 0 {
			b.over += int64(d)
			b.buf = append(b.buf[:0], b.buf[d:]...)
		}
		return n, nil
	}
	room := b.limit - len(b.buf)
	if room > len(p) {
		room = len(p)
	}
	b.buf = append(b.buf, p[:room]...)
	b.over += int64(len(p) - room)
	return n, nil
}

// cleanText makes rauc's output safe to embed in an error: printable
// characters only, trimmed.
func cleanText(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, string(bytes.ToValidUTF8(b, []byte("?"))))
	return strings.Join(strings.Fields(s), " ")
}

// run runs rauc with args and returns its stdout: with whole set, at most
// outLimit bytes (more is an error); otherwise the last outLimit bytes.
func (s *System) run(ctx context.Context, outLimit int, whole bool, args ...string) ([]byte, error) {
	if s.runner != nil {
		return s.runner(ctx, outLimit, whole, args...)
	}
	full := make([]string, 0, len(args)+1)
	if s.cfg.ConfFile != "" {
		full = append(full, "--conf="+s.cfg.ConfFile)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, s.cfg.Binary, full...)
	if s.cfg.Env != nil {
		cmd.Env = append(os.Environ(), s.cfg.Env...)
	}
	stdout := &boundedBuffer{limit: outLimit, tail: !whole}
	stderr := &boundedBuffer{limit: MaxStderr, tail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if err != nil {
		code := -1
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			code = xe.ExitCode()
		}
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		s.log.Warn("rauc: command failed", "command", args, "exit", code)
		return nil, &CommandError{Command: append([]string(nil), args...), ExitCode: code,
			Reason: lastError(stdout.buf), Stderr: cleanText(stderr.buf), Err: err}
	}
	if whole && stdout.over > 0 {
		return nil, fmt.Errorf("%w: rauc %s printed more than %d bytes", ErrStatus, args[0], outLimit)
	}
	return stdout.buf, nil
}

// lastError returns the text of the last "LastError:" line in out, cleaned
// and at most MaxStderr bytes long.
func lastError(out []byte) string {
	var last []byte
	for line := range bytes.Lines(out) {
		if rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("LastError:")); ok {
			last = rest
		}
	}
	if len(last) > MaxStderr {
		last = last[:MaxStderr]
	}
	return cleanText(last)
}

// InstallBundle runs `rauc install` on the bundle at path. RAUC itself
// checks the bundle's signature against the keyring in system.conf and its
// compatible string, writes the inactive slot group and makes it the
// primary boot target. This is the low-level call: it takes any path, so
// the bundle's only protection is RAUC's signature check. An update client
// installs through [System.Begin] and [System.Install] instead, which run
// this only on a bundle that update's verification produced.
//
// The adapter no longer vouches for the slot it committed last (rauc may
// write it), so a later [System.Rollback] abandons whatever runs; the
// committed release counter stays the anti-rollback floor.
func (s *System) InstallBundle(ctx context.Context, path string) error {
	s.mu.Lock()
	if in := s.state().Installed; in != nil && in.Slot != "" {
		n := s.state().clone()
		n.Installed.Slot = ""
		if err := s.save(n); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	return s.installBundle(ctx, path)
}

func (s *System) installBundle(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	_, err = s.run(ctx, maxStdout, false, "install", abs)
	return err
}

// MarkGood runs `rauc status mark-good booted`: the running slot passed its
// health check and the bootloader keeps it.
func (s *System) MarkGood(ctx context.Context) error {
	_, err := s.run(ctx, maxStdout, false, "status", "mark-good", "booted")
	return err
}

// MarkBad runs `rauc status mark-bad booted`: the running slot failed and
// the bootloader must not start it again.
func (s *System) MarkBad(ctx context.Context) error {
	_, err := s.run(ctx, maxStdout, false, "status", "mark-bad", "booted")
	return err
}

// MarkActive runs `rauc status mark-active SLOT` (SLOT is a slot name,
// "booted" or "other"): the bootloader starts SLOT next.
func (s *System) MarkActive(ctx context.Context, slot string) error {
	if slot == "" || strings.HasPrefix(slot, "-") {
		return fmt.Errorf("rauc: invalid slot identifier %q", slot)
	}
	_, err := s.run(ctx, maxStdout, false, "status", "mark-active", slot)
	return err
}

// Status runs `rauc status --output-format=json` and decodes it with
// [ParseStatus].
func (s *System) Status(ctx context.Context) (*Status, error) {
	out, err := s.run(ctx, MaxStatusBytes, true, "status", "--output-format=json")
	if err != nil {
		return nil, err
	}
	return ParseStatus(out)
}
