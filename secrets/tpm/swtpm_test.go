package tpm_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/secrets/tpm"
)

// swtpm is a software TPM run by the test, with its state in a directory
// that survives restarts.
type swtpm struct {
	bin   string
	state string
	port  int
	cmd   *exec.Cmd
	done  chan error
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSWTPM starts swtpm on free loopback ports with a fresh state
// directory; it is stopped when the test ends.
func startSWTPM(t *testing.T) *swtpm {
	t.Helper()
	s := &swtpm{bin: testenv.LookPath(t, "swtpm"), state: t.TempDir()}
	s.start(t)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *swtpm) start(t *testing.T) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s.port = freePort(t)
		ctrl := freePort(t)
		s.cmd = exec.Command(s.bin, "socket", "--tpm2",
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", s.port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ctrl),
			"--tpmstate", "dir="+s.state,
			"--flags", "not-need-init,startup-clear",
			"--log", "file="+filepath.Join(s.state, "log"))
		if err := s.cmd.Start(); err != nil {
			testenv.Unavailable(t, "swtpm does not start: "+err.Error())
		}
		s.done = make(chan error, 1)
		go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(s.cmd, s.done)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case lastErr = <-s.done:
				goto retry // exited: most likely a port race; try new ports
			default:
			}
			c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
			if err == nil {
				c.Close()
				return
			}
			lastErr = err
			time.Sleep(20 * time.Millisecond)
		}
		s.stop(t)
	retry:
	}
	log, _ := os.ReadFile(filepath.Join(s.state, "log"))
	t.Fatalf("swtpm did not come up: %v\n%s", lastErr, log)
}

func (s *swtpm) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// stop terminates swtpm; its state directory is kept.
func (s *swtpm) stop(t *testing.T) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// restart stops swtpm and starts it again on the same state, as a device
// reboot does.
func (s *swtpm) restart(t *testing.T) {
	t.Helper()
	s.stop(t)
	s.start(t)
}

func (s *swtpm) dial(t *testing.T) transport.TPMCloser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := tpm.DialTCP(ctx, s.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}
