package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/iface"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// cloudService names the device's associated service in the supervisor.
const cloudService = "cloud"

// cloudPolicy paces the connection to the associated service: full jitter,
// never giving up, start-up spread sized from the declared fleet and
// service capacity (5.9-3). These are the defaults of --cloud-fleet-size
// and --cloud-capacity.
var cloudPolicy = resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000}

// Outbox topics the plug publishes under devices/<device-id>/msg/.
const (
	topicState     = "plug.state" // switch reports
	topicTelemetry = "telemetry"  // consented, minimised telemetry (telemetry.go)
	topicCmdResult = "cmd.result" // the outcome of each command the service sent
	topicConsent   = "consent"    // the signed receipt of each consent decision
)

// errNoService: the plug was started without --cloud, so nothing can be
// sent to an associated service.
var errNoService = errors.New("no associated service is configured (the plug runs fully local)")

// cloudLink is the device's connection to its associated service: MQTT
// 3.1.1 over mutual TLS (resilience/mqtt), in which the plug proves itself
// with its identity key from the sealed store and verifies the broker
// against the pinned --cloud-ca. A resilience Supervisor runs it under
// cloudPolicy; everything the plug sends — switch reports, telemetry,
// command results and whatever publish is given — goes through the durable
// Outbox first, so it survives power loss and is delivered (at least once,
// with its idempotency key) when the broker is reachable. The plug never
// waits for any of it: switching is local and works offline (5.9-2).
//
// Without --cloud (broker == "") the plug runs fully local: no connection,
// nothing queued, and the link's self-checks say that no service is
// configured rather than pass.
type cloudLink struct {
	log    *slog.Logger
	outbox *resilience.Outbox
	broker string // host:port of the broker; "" when no service is configured
	sup    *resilience.Supervisor
	link   *mqtt.Link
	tel    *telemetry

	// signedCommands: --cloud-command-key was given, so commands that
	// change something (erase.confirm among them) can run.
	signedCommands bool

	// restricted: the running image failed its start-up check
	// (integrity.go); only alerts are sent.
	restricted atomic.Bool
}

func newCloudLink(ctx context.Context, d *device, o options, log *slog.Logger) (*cloudLink, error) {
	ob, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: filepath.Join(d.dir, "outbox"), Logger: log})
	if err != nil {
		return nil, err
	}
	c := &cloudLink{log: log, outbox: ob}
	if o.cloud != "" {
		c.broker = strings.TrimPrefix(o.cloud, "mqtts://")
	}
	if c.tel, err = openTelemetry(ctx, d, c, o.telemetryInterval); err != nil {
		ob.Close()
		return nil, err
	}
	if c.broker == "" {
		return c, nil
	}
	// Deletion requests of a factory reset wait in a queue of their own
	// until the plug is back with its service (cloud_erase.go).
	if err := c.forwardDeletionRequests(ctx, d.path(eraseQueueDir)); err != nil {
		log.Warn("deletion requests not all moved to the outbox; retried at the next start", "err", err)
	}
	if err := c.connectLink(ctx, d, o); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// connectLink builds the MQTT link and its supervisor from the flags.
func (c *cloudLink) connectLink(ctx context.Context, d *device, o options) error {
	tlsCfg, err := d.cloudTLS(ctx, o.cloudCA, o.cloudCert)
	if err != nil {
		return err
	}
	cfg := mqtt.Config{
		Broker:   c.broker,
		TLS:      tlsCfg,
		DeviceID: d.ident.DeviceID,
		Outbox:   c.outbox,
		Logger:   c.log,
		Commands: map[string]mqtt.CommandSpec{
			// Harmless: changes nothing and sends nothing but its result.
			// (A "send telemetry now" command would let the service cut
			// the periods short and so learn finer figures than the
			// notice states.)
			"ping": {Run: c.withResult(ping), AllowUnsigned: true},
		},
	}
	if o.cloudCommandKey != "" {
		if cfg.CommandKey, err = readCommandKey(o.cloudCommandKey); err != nil {
			return fmt.Errorf("--cloud-command-key: %w", err)
		}
		cfg.StateDir = d.path("mqtt")
		c.signedCommands = true
		// Changes a setting: only with the service's signature.
		cfg.Commands["set-telemetry-interval"] = mqtt.CommandSpec{Run: c.withResult(c.tel.setIntervalCommand)}
		// The service's answer to a deletion request (5.11-2): only
		// signed, so no broker can mark a deletion done.
		cfg.Commands[cmdEraseConfirm] = mqtt.CommandSpec{Run: c.withResult(d.eraseConfirmCommand)}
	}
	if c.link, err = mqtt.New(cfg); err != nil {
		return fmt.Errorf("MQTT link: %w", err)
	}
	policy := cloudPolicy
	policy.FleetSize, policy.ServiceCapacity = o.cloudFleet, o.cloudCapacity
	c.sup = resilience.NewSupervisor(resilience.SupervisorConfig{Policy: policy, Logger: c.log})
	return c.sup.Add(cloudService, c.link.Connect)
}

// cloudTLS assembles the client side of mutual TLS: the device
// certificate from --cloud-cert with the identity key as its private key
// (the key never leaves the sealed store or token), and only the CAs of
// --cloud-ca as roots for the broker's certificate.
func (d *device) cloudTLS(ctx context.Context, caFile, certFile string) (*tls.Config, error) {
	cas, err := readPEMBlocks(caFile, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("--cloud-ca: %w", err)
	}
	pool := x509.NewCertPool()
	for _, der := range cas {
		ca, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("--cloud-ca: %w", err)
		}
		pool.AddCert(ca)
	}
	chain, err := readPEMBlocks(certFile, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("--cloud-cert: %w", err)
	}
	id, err := d.store.Identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("device identity: %w", err)
	}
	cert, err := iface.CertificateFromDER(id, chain...)
	if err != nil {
		return nil, fmt.Errorf("--cloud-cert: %w (it must be issued for this plug's -identity-csr)", err)
	}
	if cn := cert.Leaf.Subject.CommonName; cn != d.ident.DeviceID {
		return nil, fmt.Errorf("--cloud-cert: issued for device %q, this plug is %q", cn, d.ident.DeviceID)
	}
	return iface.ClientTLS(iface.TLSOptions{Certificates: []tls.Certificate{cert}, RootCAs: pool})
}

func (c *cloudLink) configured() bool { return c.broker != "" }

func (c *cloudLink) run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !c.restricted.Load() {
			c.tel.run(ctx)
		}
	}()
	defer func() { <-done }()
	if c.sup == nil {
		<-ctx.Done()
		return
	}
	if err := c.sup.Run(ctx); err != nil && ctx.Err() == nil {
		c.log.Error("cloud supervisor stopped", "err", err)
	}
}

func (c *cloudLink) close() error {
	err := c.tel.close()
	return errors.Join(err, c.outbox.Close())
}

// report queues the plug's new state for the service and counts the
// switch for telemetry. It costs one local append to flash and never
// waits for the network; without a service nothing is queued.
func (c *cloudLink) report(ctx context.Context, st plugState) {
	if c.tel != nil {
		c.tel.switched(st)
	}
	if !c.configured() || c.restricted.Load() {
		return
	}
	b, _ := json.Marshal(st)
	err := c.outbox.Enqueue(context.WithoutCancel(ctx), resilience.Message{
		Topic: topicState, Priority: resilience.PriorityNormal, TTL: 24 * time.Hour, Payload: b})
	if err != nil {
		c.log.Warn("cloud report not queued", "err", err)
	}
}

// publish queues payload for the associated service under the outbox topic
// kind (published to devices/<device-id>/msg/<kind>), at the highest
// priority and without expiry: it is for messages that must reach the
// service however late, such as a deletion request after a factory reset.
// It returns once the message is on flash (the outbox's ErrFull,
// ErrStorage … otherwise), or errNoService when the plug runs without
// --cloud. Delivery is at least once; the service drops duplicates by the
// envelope's idempotency key (mqtt.OpenEnvelope).
func (c *cloudLink) publish(ctx context.Context, kind string, payload []byte) error {
	if !c.configured() {
		return errNoService
	}
	return c.outbox.Enqueue(ctx, resilience.Message{Topic: kind, Priority: resilience.PriorityCritical, Payload: payload})
}

// commandResult is what the plug reports back for each command it ran.
type commandResult struct {
	Name   string `json:"name"`
	Seq    uint64 `json:"seq,omitempty"`
	Signed bool   `json:"signed"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// withResult queues the outcome of each command for the service on
// topicCmdResult (MQTT 3.1.1 has no reply channel).
func (c *cloudLink) withResult(run func(context.Context, mqtt.Command) error) func(context.Context, mqtt.Command) error {
	return func(ctx context.Context, cmd mqtt.Command) error {
		err := run(ctx, cmd)
		res := commandResult{Name: cmd.Name, Seq: cmd.Seq, Signed: cmd.Signed, OK: err == nil}
		if err != nil {
			res.Error = err.Error()
		}
		b, _ := json.Marshal(res)
		if qerr := c.outbox.Enqueue(context.WithoutCancel(ctx), resilience.Message{
			Topic: topicCmdResult, Priority: resilience.PriorityNormal, TTL: 24 * time.Hour, Payload: b}); qerr != nil {
			c.log.Warn("command result not queued", "command", cmd.Name, "err", qerr)
		}
		return err
	}
}

// ping is the unsigned "ping" command: the service learns from its result
// that the plug is reachable and takes commands.
func ping(ctx context.Context, c mqtt.Command) error {
	if len(c.Args) != 0 && string(c.Args) != "null" {
		return errors.New("ping takes no arguments")
	}
	return nil
}

// describe says in words what the connection is doing, for the UI.
func (c *cloudLink) describe() string {
	if !c.configured() {
		return "no associated service is configured: the plug runs fully local and sends nothing anywhere"
	}
	st, _ := c.sup.Status(cloudService)
	pending := c.outbox.Stats().Pending
	var s string
	switch {
	case st.Online:
		s = "online (mqtts://" + c.broker + ") since " + st.Since.Format("15:04:05")
	case !st.NextAttempt.IsZero():
		s = fmt.Sprintf("offline (mqtts://%s), next attempt in %s", c.broker, max(0, time.Until(st.NextAttempt)).Round(time.Second))
	default:
		s = "connecting to mqtts://" + c.broker
	}
	if pending > 0 {
		s += fmt.Sprintf("; %d message(s) waiting to be sent", pending)
	}
	return s
}

// Checks are the supervisor's (pacing, 5.9-3), the outbox's (durable
// local queue, 5.9-2) and the MQTT link's (live TLS handshake 5.5-1,
// delivery 5.9-2, command authorisation 5.5-5) self-checks. Without a
// service the link's checks are not applicable and the pacing check is
// inconclusive, each saying why: there is no link to observe.
func (c *cloudLink) Checks() []conformance.Check {
	cs := c.outbox.Checks()
	if c.configured() {
		cs = append(cs, c.sup.Checks()...)
		return append(cs, c.link.Checks()...)
	}
	const why = "no associated service is configured (the plug was started without --cloud): it connects to nothing and queues nothing, so there is no link to observe"
	noLink := func(id, prov, title string, v conformance.Verdict) conformance.Check {
		return conformance.Check{ID: id, Provisions: []string{prov}, Title: title,
			Run: func(context.Context) conformance.Result {
				return conformance.Result{Verdict: v, Observed: "--cloud not given", Detail: why}
			}}
	}
	return append(cs,
		noLink("resilience.reconnect-policy."+cloudService, "5.9-3", "The connection to the associated service is paced so that a fleet does not overload it", conformance.Inconclusive),
		noLink("resilience.mqtt.tls", "5.5-1", "The link to the associated service uses mutual TLS with the device identity", conformance.NotApplicable),
		noLink("resilience.mqtt.delivery", "5.9-2", "Messages for the associated service wait on flash and are delivered when it is reachable", conformance.NotApplicable),
		noLink("resilience.mqtt.commands", "5.5-5", "Commands from the associated service that change a setting need its signature", conformance.NotApplicable),
	)
}
