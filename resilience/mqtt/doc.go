// Package mqtt connects a device to its associated service over MQTT 3.1.1:
// mutual TLS in which the device proves itself with its identity key, the
// resilience Outbox drained with QoS 1 and acknowledged only after the
// broker's PUBACK, presence by retained message and last will, and commands
// from the service that run only with an authorisation signed by a pinned
// key. It uses the Eclipse Paho client (github.com/eclipse/paho.mqtt.golang),
// which only devices that import this package link.
//
// Start with New, then give Link.Connect to a resilience.Supervisor: the
// link never reconnects by itself (Paho's automatic reconnect and connect
// retry are off), so every attempt after boot or an outage follows the
// device's resilience.Policy — start-up spread sized from the fleet and the
// service's capacity, full jitter, busy signals honoured.
//
// # Provisions
//
//   - 5.5-1 (communicate securely): TLS 1.2 or later (Config.TLS as
//     iface.ClientTLS builds it), the broker verified against a pinned CA
//     (a nil RootCAs is refused), the device authenticated by its identity
//     key on every connection; self-check "resilience.mqtt.tls" observes
//     the live handshake.
//   - 5.5-5 (security-relevant changes only when authorised): commands are
//     refused unless signed by Config.CommandKey, unexpired, for this device
//     and with a sequence number above every one accepted before, which is
//     kept on flash (CommandSpec.AllowUnsigned opts a harmless command out);
//     self-check "resilience.mqtt.commands".
//   - 5.9-2 (local operation and recovery when the network is lost): the
//     device's messages wait in the resilience.Outbox and are delivered at
//     least once when the broker is back; self-check
//     "resilience.mqtt.delivery" reports the outbox's depth, the age of its
//     oldest message and its drops, and probes the live connection.
//   - 5.9-3 (orderly reconnection): the Supervisor running Link.Connect
//     and its self-check "resilience.reconnect-policy.<service>".
//
// # Quick start
//
//	id, err := store.Identity(ctx)                          // secrets: the key never leaves its store
//	cert, err := iface.CertificateFromDER(id, deviceCertDER) // issued by the factory CA for the CSR
//	tlsCfg, err := iface.ClientTLS(iface.TLSOptions{Certificates: []tls.Certificate{cert}, RootCAs: brokerCA})
//	link, err := mqtt.New(mqtt.Config{
//		Broker:     "mqtt.example.com:8883",
//		TLS:        tlsCfg,  // device ID = the certificate's common name
//		Outbox:     outbox, // resilience.OpenOutbox
//		CommandKey: serviceKey, StateDir: "/data/mqtt",
//		Commands: map[string]mqtt.CommandSpec{
//			"set-telemetry-interval": {Run: setInterval}, // needs a signature
//			"blink":                  {Run: blink, AllowUnsigned: true},
//		},
//	})
//	sup := resilience.NewSupervisor(resilience.SupervisorConfig{
//		Policy: resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000},
//	})
//	sup.Add("cloud", link.Connect)
//	go sup.Run(ctx)
//	...
//	err = outbox.Enqueue(ctx, resilience.Message{Topic: "plug.state", Payload: p})
//
// Register the link with the self-check report next to the outbox and the
// supervisor: conformance.RunChecks(ctx, link, outbox, sup).
//
// # Topics
//
// Everything lies under <prefix>/<device-id>/ (see Topics): state (retained
// "online"/"offline"), msg/<outbox topic>, cmd, result and probe. The prefix is
// "devices" unless Config.Prefix says otherwise; the device ID is the client
// certificate's common name unless Config.DeviceID says otherwise, and is
// also the MQTT client ID. A broker confines each device to its own subtree
// with one rule per identity. For Mosquitto (tested here with Debian's
// 2.0.11):
//
//	listener 8883
//	cafile ca.pem
//	certfile server.pem
//	keyfile server.key
//	require_certificate true
//	use_identity_as_username true
//	allow_anonymous false
//	acl_file acl        # pattern readwrite devices/%u/#
//
// A broker cluster (EMQX, HiveMQ, VerneMQ) or a managed service (AWS IoT
// Core, Azure IoT Hub) takes the same device code: mutual TLS with a
// certificate per device, and a topic policy keyed on the certificate's
// identity (for AWS IoT Core a policy variable such as
// ${iot:Connection.Thing.ThingName} in place of %u, with Prefix and DeviceID
// set to match the service's topic rules).
//
// # Delivery
//
// Each outbox message is published with QoS 1 to
// <prefix>/<device-id>/msg/<topic>, its payload framed as
// "<idempotency key> LF <payload>" (AppendEnvelope; the service splits it
// with OpenEnvelope). The outbox acknowledges it only once the broker's
// PUBACK arrived, so a broker that dies, or a device that loses power,
// between PUBLISH and PUBACK delivers the message again after the
// reconnection, under the same key: the service drops the duplicate. A
// message waits on flash while the broker is unreachable (until its TTL,
// if it has one); a full outbox follows its drop policy (resilience.DropPolicy) and counts the
// drops. Each connection starts a clean MQTT session: what the device has
// not delivered lives in the outbox, not in the broker or the client.
//
// # Commands
//
// The service publishes to <prefix>/<device-id>/cmd the wire form that
// EncodeCommand builds: base64url of a JSON body naming the device, the
// command, a sequence number, an expiry (Unix seconds) and optional
// arguments, then "." and base64url of an ECDSA P-256 signature over it.
// The device decodes it strictly (DecodeCommand: bounded, no unknown or
// repeated field, no trailing data), looks up the CommandSpec, verifies the
// signature against the pinned Config.CommandKey, checks the device, the
// expiry (not past, not further ahead than Config.MaxCommandLifetime) and
// that the sequence number is above the last accepted one; it writes that
// number to flash (durable.WriteFile) and only then runs the command.
// Every refusal is counted by reason (Stats.Refused) and logged without
// the command's arguments.
//
// For every command it receives the device publishes a CommandResult to
// <prefix>/<device-id>/result: the command's CommandID (a hash of the bytes
// the service sent, so a result names even a command that could not be
// decoded), its name and sequence number when known, and "done", "failed"
// or "refused" with the Reason. It carries no arguments and no error
// text. Results go out with QoS 1 on the live connection and are not kept
// in the outbox: a result lost with the connection is not sent again, and
// the service, seeing "offline" on the state topic, sends the command
// again (signed with a new sequence number). The service decodes results
// with ParseCommandResult.
//
// # Security considerations
//
//   - The identity key signs one TLS handshake per connection and is
//     otherwise untouched; a TPM or PKCS#11 key works as is. Session
//     resumption is off so that every connection is authenticated by it.
//   - A broker that is compromised or misconfigured can drop, delay or
//     replay messages on the command topic but cannot make a signed command
//     up, extend its expiry, address it to another device or run it twice.
//     Commands run at most once: a power cut after the sequence number is
//     stored and before the command finished loses the command; the
//     service sends it again with a new sequence number.
//   - Signed commands need a set clock: before 2024 the device refuses them
//     (RefusedClock), since it cannot judge their expiry.
//   - Commands sent while the device is offline are not kept by the broker
//     (clean session); the service sends them again, newly signed, when the
//     state topic says "online".
//   - Paho reads a whole MQTT packet before this package sees it: bound the
//     broker's message size (Mosquitto: message_size_limit or
//     max_packet_size) so that no client can make the device allocate
//     without limit. Commands above Config.MaxCommandBytes are refused
//     before they are decoded.
//   - MQTT 3.1.1 has no way to tell a client that the broker's ACL dropped
//     its PUBLISH (Mosquitto still acknowledges it), so the outbox would
//     take the PUBACK of a dropped message for a delivery. The link
//     therefore checks the route on every connection before it goes
//     online: it subscribes to its probe topic, publishes a fresh nonce
//     there and requires it back within Config.AckTimeout. A broker whose
//     ACL refuses the identity the device's topics — a certificate for
//     device A used with device B's DeviceID — fails the check: Connect
//     returns ErrUnrouted, the attempt counts as failed for the policy,
//     Stats.Unrouted counts it, the delivery self-check fails, and the
//     outbox keeps every message. The delivery self-check sends the same
//     kind of probe on the live connection, so an ACL revoked while the
//     device is connected shows there and the next connection is refused;
//     messages the broker acknowledged and dropped in between are lost to
//     the service, since MQTT 3.1.1 gives no other signal. The broker's
//     topic policy must
//     therefore let a device subscribe to, as well as publish on, its own
//     probe topic.
//
// # Fleet behaviour against a real broker
//
// Package mqtttest runs Mosquitto with a test CA for tests and benchmarks
// and RunFleet connects a fleet of real Links to it. TestFleetBrokerRestart
// connects 2,000 Links (each with its own key and certificate, confined by
// the per-device ACL), kills and restarts the broker, waits for every
// device to come back, and asserts what the devices' policies scheduled:
// no sliding one-second window above 1.1 × the declared capacity, and 99 %
// of the devices drawing their first attempt within 1.3 × the ideal
// fleet/capacity of noticing the loss. bench/fleet -real measures the same
// run — the rate at a proxy in front of the broker and in Mosquitto's log,
// the time until 99 % are back — next to the simulator's run of the same
// policy; BENCHMARKS.md has the figures.
package mqtt
