package resilience_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/iotbaseline/baseline/resilience"
)

// The local-first pattern: local functions write to the outbox and never
// wait for the network; the supervisor's connect function drains it while
// the service is reachable.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: dir})
	if err != nil {
		panic(err)
	}
	defer ob.Close()

	// A local action works offline: it records what the cloud must learn.
	if err := ob.Enqueue(ctx,
		resilience.Message{Topic: "telemetry", Payload: []byte(`{"watts":42}`)},
		resilience.Message{Key: "erase-7", Topic: "erase.request", Priority: resilience.PriorityCritical},
	); err != nil {
		panic(err) // not stored: tell the user, do not pretend it was
	}

	sup := resilience.NewSupervisor(resilience.SupervisorConfig{
		// Declare the fleet and what the service admits (5.9-3).
		Policy: resilience.Policy{FleetSize: 1, ServiceCapacity: 10},
	})
	delivered := make(chan string, 2)
	sup.Add("cloud", func(ctx context.Context, online func()) error {
		// Dial the service here; return its busy signal as
		// resilience.MQTTBusy(code) or resilience.HTTPBusy(...).
		online()
		return ob.Drain(ctx, func(ctx context.Context, m resilience.Message) error {
			// Send m with m.Key as the idempotency key; return nil once
			// the service accepted it.
			delivered <- m.Topic
			return nil
		})
	})
	go sup.Run(ctx)
	fmt.Println(<-delivered)
	fmt.Println(<-delivered)
	// Output:
	// erase.request
	// telemetry
}

func ExamplePolicy() {
	p := resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000}
	fmt.Println("ideal:", p.Ideal())
	fmt.Println("start-up spread:", p.Spread())
	// Output:
	// ideal: 50s
	// start-up spread: 1m0s
}

func ExampleBackoff() {
	p := resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000, Rand: func() float64 { return 0.5 }}
	b := p.NewBackoff()
	fmt.Println("first attempt after boot in", b.Start())
	fmt.Println("after a busy server:", b.Failed(resilience.MQTTBusy(resilience.MQTTServerBusy)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println("after 503 Retry-After 300:", b.Failed(resilience.HTTPBusy(503, "300", now)))
	// Output:
	// first attempt after boot in 30s
	// after a busy server: 1m0s
	// after 503 Retry-After 300: 6m30s
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, ok := resilience.ParseRetryAfter("Thu, 01 Jan 2026 00:02:00 GMT", now)
	fmt.Println(d, ok)
	d, ok = resilience.ParseRetryAfter("120", now)
	fmt.Println(d, ok)
	// Output:
	// 2m0s true
	// 2m0s true
}
