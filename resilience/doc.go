// Package resilience keeps a device orderly and useful when its network or
// power fails: a reconnect [Policy] with a start-up spread sized from the
// fleet and the service's capacity, full jitter and respect for a service's
// busy signals; a [Supervisor] that runs each connection to an associated
// service under that policy and tracks it online or offline; and a durable
// [Outbox] that keeps outgoing messages on flash across outages and power
// loss and delivers them at least once.
//
// Start with [NewSupervisor] and [OpenOutbox]; the package example shows the
// whole wiring.
//
// # Provisions
//
//   - 5.9-1 (resilience built in): the mechanisms below; the statement
//     itself is the manufacturer's declaration.
//   - 5.9-2 (locally functional without network, clean recovery after power
//     loss): [Outbox] ([OpenOutbox], [Outbox.Enqueue], [Outbox.Drain],
//     [Outbox.Ack]) and the local-first pattern below; self-check
//     [Outbox.Checks] ("resilience.outbox").
//   - 5.9-3 (orderly connection, taking the infrastructure's capacity into
//     account): [Policy], [Backoff], [BusyError], [HTTPBusy], [MQTTBusy],
//     [Supervisor]; self-checks [Policy.Checks] and [Supervisor.Checks]
//     ("resilience.reconnect-policy.<service>").
//
// # Quick start
//
//	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: "/data/outbox"})
//	sup := resilience.NewSupervisor(resilience.SupervisorConfig{
//		Policy: resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000},
//	})
//	sup.Add("cloud", func(ctx context.Context, online func()) error {
//		conn, err := dial(ctx)
//		if err != nil {
//			return err // wrap resilience.MQTTBusy(code) / HTTPBusy(...) when busy
//		}
//		defer conn.Close()
//		online()
//		return ob.Drain(ctx, func(ctx context.Context, m resilience.Message) error {
//			return conn.Publish(ctx, m.Topic, m.Key, m.Payload) // m.Key: idempotency key
//		})
//	})
//	go sup.Run(ctx)
//	...
//	err = ob.Enqueue(ctx, resilience.Message{Topic: "telemetry", Payload: p})
//
// Register ob and sup with the device's self-check report:
// conformance.RunChecks(ctx, ob, sup).
//
// # Local first
//
// The device's local functions — switching the plug, its web UI, its
// schedule — never wait for a service. They act, record what a service must
// learn with [Outbox.Enqueue] (which returns once the message is on flash),
// and carry on. The supervisor's connect function drains the outbox while
// the service is reachable; [Supervisor.Online] tells the UI whether to show
// cloud features as available, never whether a local action may proceed.
// After a power cut the outbox is recovered by [OpenOutbox] before anything
// else, so a deletion request made just before the cut is still delivered.
//
// # Orderly reconnection
//
// After an outage a whole fleet reconnects at once. Backoff alone does not
// prevent the surge: in this package's simulation (package resilience/sim,
// program bench/fleet) 50,000 devices and a service admitting 1,000
// connections a second see peaks of 49,000 attempts a second without jitter
// and 63,000 with full jitter after a power cut. The [Policy] draws the
// first attempt uniformly over fleet/capacity × 1.2 and each later one with
// full jitter over consecutive windows never shorter than that, so every
// device attempts once per window and the service sees at most about
// fleet/spread attempts a second: 0.91 × capacity, 99 % of the fleet
// connected in 1.21 × the ideal time, after a power cut and after a
// one-minute network cut alike. Busy signals widen the windows further.
// Declare FleetSize and ServiceCapacity: without them the spread is a 30 s
// guess and the 5.9-3 self-check says so. A user action (pressing "connect"
// in the setup flow) may call [Supervisor.Nudge] to skip the wait.
//
// # At scale: broker clusters and managed services
//
// The device code does not change with the size of the service behind it.
// Package resilience/mqtt speaks plain MQTT 3.1.1 over mutual TLS: the device
// proves itself with its identity key, verifies the service against a
// pinned CA, publishes and subscribes only under its own
// <prefix>/<device-id>/… topics and gets its commands signed. A broker
// cluster (EMQX, HiveMQ, VerneMQ) or a managed service (AWS IoT Core, Azure
// IoT Hub) is set up to match: it authenticates each device by its client
// certificate and maps the certificate's identity to a topic policy that
// allows only that device's prefix — Mosquitto's use_identity_as_username
// with an ACL "pattern readwrite devices/%u/#" is the small version the
// tests run against. The pinned CA is the service's (or the CA that issued
// its certificates); rotating it is a firmware update.
//
// What changes with size is the pacing, and that is declared, not tuned by
// hand: set Policy.FleetSize to the number of devices that share the
// service and Policy.ServiceCapacity to the new connections per second the
// service admits (a managed service publishes it as a connect rate limit
// per account; a cluster's is what its nodes can handshake, TLS included).
// The start-up spread is then FleetSize/ServiceCapacity × SpreadFactor
// (default 1.2): 50,000 devices at 1,000 connections/s spread over 60 s;
// 1,000,000 at 5,000/s over 240 s. The spread is capped at [MaxSpread]
// (6 h) and the 5.9-3 self-check fails a policy that reaches it — the
// service is then too small for the fleet, and no client-side setting fixes
// that. A service that answers "busy" (MQTT CONNACK 3, HTTP 429/503 with
// Retry-After) widens every device's windows further.
//
// Measured against a real broker (bench/fleet -real; BENCHMARKS.md has the
// runs): 2,000 resilience/mqtt Links, each with its own certificate and
// confined by a per-device ACL, declared at 200 connections/s (ideal
// 10 s), and Mosquitto killed and restarted under them. In every run the
// devices' policies scheduled at most 0.90–0.97 × capacity a second and
// 99 % of their first attempts by 1.18–1.24 × the ideal time — what the
// simulator gives for the same policy and outage (within 10 %, both being
// random draws) and for 50,000 devices at 1,000/s (0.88–0.93 ×, 1.19 ×).
// What reached the broker, and when 99 % were back online (1.19 × in
// three runs of nine, 1.38–1.44 × in five, 5.2 × once), also depended on
// the broker keeping up with the TLS handshakes: on the shared 2-core test
// machine, where the 2,000 devices share one process, starved timers fire
// in bunches, a starved broker answers late, and devices whose attempt
// failed wait for their next window. Size ServiceCapacity to
// what the service sustains under load, TLS included.
//
// # Delivery semantics
//
// Delivery is at least once. A message is sent, then acknowledged with
// [Outbox.Ack]; a power cut between the two sends it again after reboot
// under the same [Message.Key], which the service uses to drop the
// duplicate. A message whose Enqueue returned nil is never lost to power
// loss; one whose Ack returned nil is never delivered again. The outbox is
// bounded (records and bytes); when full, [DropLowestOldest] (the default)
// drops the oldest messages of the lowest priority not above the new one's
// and never a [PriorityCritical] one, and [RefuseNew] refuses new ones.
// Every drop and expiry is counted in [Outbox.Stats] and logged.
//
// # Clock jumps
//
// Expiry (Message.TTL) runs on the monotonic clock while the device runs, so
// a wall-clock jump — NTP correcting a dead RTC by years — expires nothing.
// Across a restart the wall clock is the only measure of the time the device
// was off: a message is expired at open if the wall clock says its TTL has
// passed, its TTL restarts if the clock now reads earlier than its creation
// or it was created before 2024 (a clock that was never set). Messages that
// must be delivered however late — deletion requests — should have no TTL.
// The supervisor measures connection stability with time.Now's monotonic
// reading; backoff delays are durations and unaffected by the wall clock.
//
// # Security considerations
//
//   - A hostile or broken server cannot park a device: Retry-After is
//     bounded (Policy.MaxRetryAfter, default 30 min; the parser caps at
//     24 h), and the policy never gives up.
//   - Devices must draw different delays: Policy.Rand defaults to the
//     runtime's OS-seeded generator. Never ship a constant seed.
//   - Every outbox record is length- and CRC32C-framed by internal/durable
//     and decoded with hard bounds (key 128 B, topic 255 B, payload 1 MiB,
//     segment file 4 × (SegmentBytes + MaxBytes + 1 MiB)); a segment that
//     fails them is renamed aside (*.corrupt), the valid records before the
//     damage are kept, and the 5.9-2 self-check reports it.
//   - A full disk fails Enqueue with [ErrStorage] and stores nothing; the
//     caller learns the message was not kept. Payloads are stored as given:
//     encrypt personal data before enqueueing if the flash is not
//     encrypted.
//   - Outbox files are created 0600 in a 0700 directory.
package resilience
