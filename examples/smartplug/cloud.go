package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/resilience"
)

// cloudService names the device's associated service in the supervisor.
const cloudService = "cloud"

// cloudPolicy paces the (simulated) cloud connection: full jitter, never
// giving up, start-up spread sized from the declared fleet and service
// capacity (5.9-3).
var cloudPolicy = resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000}

// cloudLink is the device's connection to its associated service,
// simulated: the "service" accepts most attempts, refuses some, sometimes
// answers busy, and drops connections after a while. A resilience
// Supervisor runs it; switch reports go through a durable resilience
// Outbox, so they survive power loss and are delivered once the service
// is reachable. The plug never waits for any of it: switching is local
// and works offline (5.9-2).
type cloudLink struct {
	log    *slog.Logger
	rnd    func() float64
	sup    *resilience.Supervisor
	outbox *resilience.Outbox
	down   bool // the simulated service is unreachable (--cloud off)
}

func newCloudLink(ctx context.Context, d *device, down bool, log *slog.Logger) (*cloudLink, error) {
	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: filepath.Join(d.dir, "outbox"), Logger: log})
	if err != nil {
		return nil, err
	}
	c := &cloudLink{log: log, rnd: rand.Float64, outbox: ob, down: down}
	c.sup = resilience.NewSupervisor(resilience.SupervisorConfig{Policy: cloudPolicy, Logger: log})
	if err := c.sup.Add(cloudService, c.connect); err != nil {
		ob.Close()
		return nil, err
	}
	return c, nil
}

var (
	errSimRefused = errors.New("simulated service unreachable")
	errSimDropped = errors.New("simulated service dropped the connection")
)

// connect is one simulated connection: dial, go online, deliver the outbox
// until the service drops the connection.
func (c *cloudLink) connect(ctx context.Context, online func()) error {
	if !sleepCtx(ctx, time.Duration(50+c.rnd()*200)*time.Millisecond) {
		return ctx.Err()
	}
	switch r := c.rnd(); {
	case c.down || r < 0.2:
		return errSimRefused
	case r < 0.3:
		return fmt.Errorf("simulated service: %w", &resilience.BusyError{RetryAfter: 5 * time.Second})
	}
	online()
	up, cancel := context.WithTimeout(ctx, time.Duration(30+c.rnd()*90)*time.Second)
	defer cancel()
	err := c.outbox.Drain(up, func(ctx context.Context, m resilience.Message) error {
		// The simulated service accepts each message after a round trip.
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
		return nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errSimDropped
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *cloudLink) run(ctx context.Context) {
	if err := c.sup.Run(ctx); err != nil && ctx.Err() == nil {
		c.log.Error("cloud supervisor stopped", "err", err)
	}
}

func (c *cloudLink) close() error { return c.outbox.Close() }

// report queues the plug's new state for the service. It costs one local
// append to flash and never waits for the network.
func (c *cloudLink) report(ctx context.Context, st plugState) {
	b, _ := json.Marshal(st)
	err := c.outbox.Enqueue(context.WithoutCancel(ctx), resilience.Message{
		Topic: "plug.state", Priority: resilience.PriorityNormal, TTL: 24 * time.Hour, Payload: b})
	if err != nil {
		c.log.Warn("cloud report not queued", "err", err)
	}
}

// describe says in words what the connection is doing, for the UI.
func (c *cloudLink) describe() string {
	st, _ := c.sup.Status(cloudService)
	pending := c.outbox.Stats().Pending
	var s string
	switch {
	case st.Online:
		s = "online (simulated service) since " + st.Since.Format("15:04:05")
	case !st.NextAttempt.IsZero():
		s = fmt.Sprintf("offline, next attempt in %s", max(0, time.Until(st.NextAttempt)).Round(time.Second))
	default:
		s = "connecting"
	}
	if pending > 0 {
		s += fmt.Sprintf("; %d report(s) waiting to be sent", pending)
	}
	return s
}

// Checks are the supervisor's (pacing, 5.9-3) and the outbox's (durable
// local queue, 5.9-2) self-checks.
func (c *cloudLink) Checks() []conformance.Check {
	return append(c.sup.Checks(), c.outbox.Checks()...)
}
