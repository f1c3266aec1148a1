package main

import (
	"runtime/debug"
	"sync"
	"time"
)

// memTrimmer hands memory back to the operating system shortly after a
// burst of allocation: start-up (provisioning, keyset and TUF metadata
// parsing), an update check, a login. The Go runtime would otherwise keep
// those pages for minutes, which on a plug with 64 MiB of RAM is memory
// other processes cannot use. Bursts are debounced, so a series of logins
// costs one trim. (auth hashes in its own arena, which it keeps; see
// MaxConcurrentHashes in owner.go.)
type memTrimmer struct {
	mu    sync.Mutex
	timer *time.Timer
}

const trimDelay = 500 * time.Millisecond

// soon schedules a trim trimDelay after the last call.
func (m *memTrimmer) soon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.timer == nil {
		m.timer = time.AfterFunc(trimDelay, debug.FreeOSMemory)
		return
	}
	m.timer.Reset(trimDelay)
}

func (m *memTrimmer) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.timer != nil {
		m.timer.Stop()
	}
}
