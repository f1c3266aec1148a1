package mqtt

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/iotbaseline/baseline/durable"
)

// seqFile names the replay state in Config.StateDir.
const seqFile = "command-seq"

// seqMagic starts the replay state file.
const seqMagic = "baseline-mqtt-command-seq v1 "

// ErrState: the replay state on flash is unreadable or corrupt. New
// refuses to start rather than forget which commands it has run.
var ErrState = errors.New("mqtt: command replay state unreadable")

// replayGuard remembers, durably, the highest sequence number of a signed
// command the device accepted: a command is accepted only with a higher
// one, and the number is on flash before the command runs, so neither a
// replay nor a power cut followed by a replay runs a command twice.
type replayGuard struct {
	fsys durable.FS
	path string

	mu   sync.Mutex
	last uint64
}

func openReplayGuard(fsys durable.FS, dir string) (*replayGuard, error) {
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	g := &replayGuard{fsys: fsys, path: filepath.Join(dir, seqFile)}
	b, err := durable.ReadFile(fsys, g.path, 64)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return g, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	n, ok := parseSeq(b)
	if !ok {
		return nil, fmt.Errorf("%w: %s is corrupt", ErrState, g.path)
	}
	g.last = n
	return g, nil
}

func parseSeq(b []byte) (uint64, bool) {
	s, ok := strings.CutPrefix(string(b), seqMagic)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "\n")
	if !ok || s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// accept records seq as used if it is above every sequence number
// accepted before. It returns RefusedReplayed for an old one and
// RefusedStorage when the new number could not be made durable (the
// command must not run then: after a reboot it could be replayed).
func (g *replayGuard) accept(seq uint64) (Reason, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seq <= g.last {
		return RefusedReplayed, nil
	}
	data := []byte(seqMagic + strconv.FormatUint(seq, 10) + "\n")
	if err := durable.WriteFile(g.fsys, g.path, data, 0o600); err != nil {
		return RefusedStorage, err
	}
	g.last = seq
	return "", nil
}

func (g *replayGuard) lastSeq() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}
