package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// plug is the device's actual function: a relay that is on or off. Its state
// survives power loss (written through durable) and never depends on the
// cloud connection (5.9-2: the plug works locally while offline).
type plug struct {
	fsys durable.FS
	path string

	mu      sync.Mutex
	on      bool
	changed time.Time
}

type plugState struct {
	On      bool      `json:"on"`
	Changed time.Time `json:"changed"`
}

const maxPlugState = 4 << 10

func openPlug(fsys durable.FS, dir string) (*plug, error) {
	p := &plug{fsys: fsys, path: filepath.Join(dir, "plug.json")}
	b, err := durable.ReadFile(fsys, p.path, maxPlugState)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, durable.ErrTooLarge):
		// Never switched, or a file no plug wrote: start switched off.
		return p, nil
	case err != nil:
		return nil, err
	}
	var st plugState
	if err := json.Unmarshal(b, &st); err != nil {
		// A corrupt relay state must not brick the device: start switched
		// off, the safe state for a plug, and rewrite on the next change.
		return p, nil
	}
	p.on, p.changed = st.On, st.Changed
	return p, nil
}

func (p *plug) State() plugState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return plugState{On: p.on, Changed: p.changed}
}

// Set switches the relay and persists the new state before reporting it.
func (p *plug) Set(on bool) (plugState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := plugState{On: on, Changed: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(st)
	if err := durable.WriteFile(p.fsys, p.path, b, 0o600); err != nil {
		return plugState{On: p.on, Changed: p.changed}, err
	}
	p.on, p.changed = st.On, st.Changed
	return st, nil
}
