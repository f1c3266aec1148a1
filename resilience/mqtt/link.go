package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/resilience"
)

// Defaults of Config.
const (
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	DefaultAckTimeout     = 30 * time.Second
)

// commandQueue bounds the commands waiting for the command worker; more
// are refused (RefusedBusy) instead of piling up in memory.
const commandQueue = 8

// Errors of the Link.
var (
	// ErrRunning: Connect was called while another Connect of the same
	// Link runs. Add a Link to one Supervisor, once.
	ErrRunning = errors.New("mqtt: link already connecting")
	// ErrAckTimeout: the broker did not acknowledge within
	// Config.AckTimeout; the connection is treated as dead and closed.
	ErrAckTimeout = errors.New("mqtt: broker did not acknowledge in time")
	// ErrConnectionLost: the connection to the broker dropped.
	ErrConnectionLost = errors.New("mqtt: connection lost")
	// ErrUnrouted: the broker accepted the connection but did not route
	// the device's own probe back to it — its ACL or topic policy refuses
	// this identity the device's topics (MQTT 3.1.1 acknowledges a
	// PUBLISH the ACL dropped, so this is the only way to learn it). The
	// link does not go online and leaves the outbox untouched.
	ErrUnrouted = errors.New("mqtt: the broker does not let this identity use the device's topics")
)

// Config configures New. Broker and TLS are required; every other zero
// field takes the documented default.
type Config struct {
	// Broker is the host:port of the broker's TLS listener
	// ("mqtt.example.com:8883", "127.0.0.1:8883"). The host is the name
	// the broker's certificate must carry unless TLS.ServerName says
	// otherwise.
	Broker string

	// TLS is the client configuration, as iface.ClientTLS returns it:
	// Certificates holds exactly one certificate, the device's, whose
	// PrivateKey is the device identity's crypto.Signer (a TPM, PKCS#11 or
	// sealed soft key: it signs the handshake and never leaves its store;
	// iface.CertificateFromDER assembles it), and RootCAs pins the CA that
	// issued the broker's certificate. New refuses a nil RootCAs (every
	// system root), InsecureSkipVerify, a floor below TLS 1.2, and a
	// certificate that does not belong to its key. Session resumption is
	// switched off so that every connection is authenticated by the
	// identity key.
	TLS *tls.Config

	// DeviceID is the device's own topic level and its MQTT client ID.
	// Empty means the client certificate's subject common name, which is
	// what a broker with use_identity_as_username (Mosquitto) or a
	// certificate-to-thing mapping (managed services) authorises. A
	// different ID is allowed (a service that maps certificates to thing
	// names); the TLS self-check then says INCONCLUSIVE and why. At most
	// MaxDeviceID bytes of ASCII letters, digits, '.', '_' and '-'.
	DeviceID string
	// Prefix is the topic prefix (default DefaultPrefix, "devices"); see
	// Topics for the layout.
	Prefix string

	// Outbox is drained to <prefix>/<device-id>/msg/<topic> with QoS 1
	// while connected; a message is acknowledged in the outbox only after
	// the broker's PUBACK. Nil means the link publishes nothing but its
	// presence.
	Outbox *resilience.Outbox

	// Commands maps command names to what they do. Nil means the device
	// takes no commands and does not subscribe to its command topic.
	Commands map[string]CommandSpec
	// CommandKey is the pinned ECDSA P-256 public key whose signature
	// authorises a command (see EncodeCommand). Required when a command
	// does not AllowUnsigned.
	CommandKey *ecdsa.PublicKey
	// StateDir holds the replay state of signed commands (the highest
	// sequence number accepted), written through FS. Required when
	// CommandKey is set. Nothing else may write in it.
	StateDir string
	// FS is the file system of StateDir; nil means durable.OS.
	FS durable.FS
	// MaxCommandBytes bounds one command on the wire (default
	// DefaultMaxCommandBytes, at most MaxCommandBytes).
	MaxCommandBytes int
	// MaxCommandLifetime bounds how far ahead of the device's clock a
	// signed command's expiry may lie (default DefaultCommandLifetime).
	MaxCommandLifetime time.Duration

	// KeepAlive is the MQTT keep-alive interval (default 30 s): a broker
	// that vanishes without closing the connection is noticed within
	// about 1.5 times it.
	KeepAlive time.Duration
	// ConnectTimeout bounds the TCP connect, TLS handshake and CONNACK
	// (default 30 s).
	ConnectTimeout time.Duration
	// AckTimeout bounds the wait for PUBACK and SUBACK (default 30 s);
	// after it the connection is closed and the message stays in the
	// outbox.
	AckTimeout time.Duration

	// Now is the wall clock commands' expiry is judged by (default
	// time.Now).
	Now func() time.Time
	// Logger receives connection and command events; nil discards them.
	// It never receives command arguments, signatures or payloads.
	Logger *slog.Logger
}

// Link is a device's MQTT 3.1.1 connection to its associated service:
// mutual TLS with the device identity, presence by retained message and
// last will, the outbox drained with QoS 1, and authorised commands. It
// does not reconnect by itself (paho's automatic reconnect and connect
// retry are off): Connect is a resilience.ConnectFunc that a
// resilience.Supervisor runs under its Policy, so reconnects after an
// outage are spread over the fleet. It is safe for concurrent use.
type Link struct {
	cfg    Config
	topics Topics
	base   *tls.Config
	id     identity
	guard  *replayGuard
	log    *slog.Logger

	running atomic.Bool

	mu     sync.Mutex
	cur    *session // nil while not connected
	last   *session // the latest connection, also after it ended
	change time.Time
	stats  Stats
	// unrouted: the latest route check failed.
	unrouted bool
}

// session is one accepted connection.
type session struct {
	client  paho.Client
	lost    <-chan struct{}
	hs      handshake
	since   time.Time
	ended   time.Time
	granted int // SUBACK for the command topic: QoS, 0x80 refused, -1 none

	pmu    sync.Mutex
	probes map[string]chan struct{} // nonces published to the probe topic, awaiting their echo
}

// probeNonce returns a fresh payload for the probe topic and a channel
// closed when the broker routes it back; done forgets it.
func (s *session) probeNonce(kind string) (payload string, echo <-chan struct{}, done func()) {
	var b [16]byte
	rand.Read(b[:])
	payload = kind + " " + hex.EncodeToString(b[:])
	ch := make(chan struct{})
	s.pmu.Lock()
	if s.probes == nil {
		s.probes = map[string]chan struct{}{}
	}
	s.probes[payload] = ch
	s.pmu.Unlock()
	return payload, ch, func() {
		s.pmu.Lock()
		delete(s.probes, payload)
		s.pmu.Unlock()
	}
}

// probeArrived is the probe topic's message handler.
func (s *session) probeArrived(_ paho.Client, m paho.Message) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if ch, ok := s.probes[string(m.Payload())]; ok {
		close(ch)
		delete(s.probes, string(m.Payload()))
	}
}

// Stats is a snapshot of the link's counters since New.
type Stats struct {
	// Connected reports whether the broker has accepted the current
	// connection; Since is when that last changed.
	Connected bool
	Since     time.Time
	// Connects counts connections the broker accepted.
	Connects uint64
	// Published counts outbox messages the broker acknowledged (PUBACK).
	Published uint64
	// CommandsRun counts commands that passed every check and ran;
	// CommandsFailed those of them whose Run returned an error.
	CommandsRun, CommandsFailed uint64
	// Refused counts refused commands by reason.
	Refused map[Reason]uint64
	// LastSeq is the highest sequence number of a signed command accepted.
	LastSeq uint64
	// Results counts the command results published to the result topic
	// (one for every command received, run or refused).
	Results uint64
	// Unrouted counts connections on which the broker did not route the
	// device's own messages back to it: its ACL refuses the device the
	// topics it uses (a certificate for one device with another's
	// DeviceID). The link then neither goes online nor drains the outbox.
	Unrouted uint64
}

// New checks cfg and returns a Link, which does nothing until a
// Supervisor runs its Connect. It opens the replay state in cfg.StateDir
// (ErrState when it is corrupt: the device would otherwise forget which
// signed commands it has run).
func New(cfg Config) (*Link, error) {
	if cfg.Broker == "" {
		return nil, errors.New("mqtt: Config.Broker is required")
	}
	base, id, err := prepareTLS(cfg.TLS, hostOf(cfg.Broker))
	if err != nil {
		return nil, err
	}
	if cfg.DeviceID == "" {
		cfg.DeviceID = id.leaf.Subject.CommonName
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	topics := Topics{Prefix: cfg.Prefix, DeviceID: cfg.DeviceID}
	if err := topics.Validate(); err != nil {
		return nil, fmt.Errorf("%w: prefix %q, device ID %q", err, cfg.Prefix, cfg.DeviceID)
	}
	if cfg.MaxCommandBytes <= 0 {
		cfg.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if cfg.MaxCommandBytes > MaxCommandBytes {
		return nil, fmt.Errorf("mqtt: MaxCommandBytes above %d", MaxCommandBytes)
	}
	if cfg.MaxCommandLifetime <= 0 {
		cfg.MaxCommandLifetime = DefaultCommandLifetime
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FS == nil {
		cfg.FS = durable.OS
	}
	cmds := make(map[string]CommandSpec, len(cfg.Commands))
	needKey := false
	for name, spec := range cfg.Commands {
		if !validName(name) || spec.Run == nil {
			return nil, fmt.Errorf("mqtt: command %q needs a valid name and a Run function", name)
		}
		needKey = needKey || !spec.AllowUnsigned
		cmds[name] = spec
	}
	cfg.Commands = cmds
	if k := cfg.CommandKey; k != nil && k.Curve != elliptic.P256() {
		return nil, errors.New("mqtt: CommandKey must be an ECDSA P-256 key")
	}
	if needKey && cfg.CommandKey == nil {
		return nil, errors.New("mqtt: commands that require an authorisation need Config.CommandKey")
	}
	l := &Link{cfg: cfg, topics: topics, base: base, id: id, log: cfg.Logger, change: cfg.Now()}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if cfg.CommandKey != nil {
		if cfg.StateDir == "" {
			return nil, errors.New("mqtt: Config.StateDir is required with CommandKey (replay protection)")
		}
		if l.guard, err = openReplayGuard(cfg.FS, cfg.StateDir); err != nil {
			return nil, err
		}
	}
	l.stats.Refused = map[Reason]uint64{}
	return l, nil
}

// Topics returns the link's topic layout.
func (l *Link) Topics() Topics { return l.topics }

// Connected reports whether the broker has accepted the current
// connection. Local functions should not wait for it.
func (l *Link) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur != nil
}

// Stats returns a snapshot of the link's counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Connected, s.Since = l.cur != nil, l.change
	s.Refused = make(map[Reason]uint64, len(l.stats.Refused))
	for k, v := range l.stats.Refused {
		s.Refused[k] = v
	}
	if l.guard != nil {
		s.LastSeq = l.guard.lastSeq()
	}
	return s
}

func (l *Link) count(f func(s *Stats)) {
	l.mu.Lock()
	f(&l.stats)
	l.mu.Unlock()
}

// Connect runs one connection; it is the link's resilience.ConnectFunc:
//
//	sup.Add("cloud", link.Connect)
//
// It dials Config.Broker, performs the TLS handshake with the device
// identity, sends CONNECT (MQTT 3.1.1, clean session, client ID the device
// ID, last will "offline" retained on the state topic), subscribes to the
// command topic when commands are configured, checks that the broker routes
// the device's own topics (a nonce published to the probe topic must come
// back; if not, the ACL refuses this identity those topics, and Connect
// returns ErrUnrouted without going online), publishes "online" retained,
// calls online and then drains the outbox until the connection is lost or
// ctx is done. On ctx's end it publishes "offline" and disconnects
// cleanly; on any other end it closes the connection and the broker
// publishes the will. A CONNACK refusing with "server unavailable" (3) is
// returned as a resilience.BusyError so the policy backs off as from a
// busy service.
func (l *Link) Connect(ctx context.Context, online func()) error {
	if !l.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer l.running.Store(false)

	var (
		signs     atomic.Int64
		requested atomic.Bool
		connMu    sync.Mutex
		conn      net.Conn
		aborted   bool
		state     tls.ConnectionState
	)
	tcfg := l.id.clientConfig(l.base, &signs, &requested)
	dial := func(*url.URL, paho.ClientOptions) (net.Conn, error) {
		dctx, cancel := context.WithTimeout(ctx, l.cfg.ConnectTimeout)
		defer cancel()
		var d net.Dialer
		raw, err := d.DialContext(dctx, "tcp", l.cfg.Broker)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, tcfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, err
		}
		connMu.Lock()
		defer connMu.Unlock()
		if aborted {
			tc.Close()
			return nil, context.Canceled
		}
		conn, state = tc, tc.ConnectionState()
		return tc, nil
	}
	closeConn := func() {
		connMu.Lock()
		defer connMu.Unlock()
		aborted = true
		if conn != nil {
			conn.Close()
		}
	}

	lost := make(chan struct{})
	var (
		lostOnce sync.Once
		lostErr  error
	)
	opts := paho.NewClientOptions().
		AddBroker("tls://"+l.cfg.Broker).
		SetClientID(l.topics.DeviceID).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetKeepAlive(l.cfg.KeepAlive).
		SetPingTimeout(l.cfg.KeepAlive/2).
		SetConnectTimeout(l.cfg.ConnectTimeout).
		SetWriteTimeout(l.cfg.AckTimeout).
		SetOrderMatters(true).
		SetBinaryWill(l.topics.State(), []byte(StateOffline), 1, true).
		SetCustomOpenConnectionFn(dial).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			lostOnce.Do(func() {
				lostErr = err
				close(lost)
			})
		})
	client := paho.NewClient(opts)
	tok := client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		closeConn()
		<-tok.Done()
		client.Disconnect(0)
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() == connackServerUnavailable {
			return fmt.Errorf("mqtt: connecting to %s: %w", l.cfg.Broker,
				&resilience.BusyError{Reason: "mqtt connack 3 server unavailable"})
		}
		return fmt.Errorf("mqtt: connecting to %s: %w", l.cfg.Broker, err)
	}

	s := &session{client: client, lost: lost, since: l.cfg.Now(), granted: -1,
		hs: handshake{state: state, requested: requested.Load(), signatures: signs.Load()}}
	l.mu.Lock()
	l.cur, l.last, l.change = s, s, s.since
	l.stats.Connects++
	l.mu.Unlock()
	l.log.Info("mqtt: connected", "broker", l.cfg.Broker, "device", l.topics.DeviceID,
		"tls", tls.VersionName(state.Version), "group", state.CurveID.String())

	stopCommands := func() {}
	graceful := false
	defer func() {
		l.mu.Lock()
		l.cur, s.ended, l.change = nil, l.cfg.Now(), l.cfg.Now()
		l.mu.Unlock()
		if graceful {
			// A clean DISCONNECT discards the will: say "offline" first.
			pt := client.Publish(l.topics.State(), 1, true, StateOffline)
			select {
			case <-pt.Done():
			case <-lost:
			case <-time.After(min(l.cfg.AckTimeout, 2*time.Second)):
			}
			client.Disconnect(250)
		} else {
			closeConn()
			client.Disconnect(0)
		}
		stopCommands()
	}()

	if len(l.cfg.Commands) > 0 {
		var err error
		if stopCommands, err = l.subscribe(ctx, s); err != nil {
			return err
		}
	}
	if err := l.checkRoute(ctx, s); err != nil {
		graceful = ctx.Err() != nil
		return err
	}
	if err := l.wait(ctx, s, client.Publish(l.topics.State(), 1, true, StateOnline)); err != nil {
		graceful = ctx.Err() != nil
		return fmt.Errorf("mqtt: publishing presence: %w", err)
	}
	online()

	var err error
	if ob := l.cfg.Outbox; ob != nil {
		dctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-lost:
				cancel()
			case <-dctx.Done():
			}
		}()
		err = ob.Drain(dctx, func(ctx context.Context, m resilience.Message) error {
			payload := AppendEnvelope(make([]byte, 0, len(m.Key)+1+len(m.Payload)), m.Key, m.Payload)
			if err := l.wait(ctx, s, client.Publish(l.topics.Message(m.Topic), 1, false, payload)); err != nil {
				return err
			}
			l.count(func(st *Stats) { st.Published++ })
			return nil
		})
		cancel()
	} else {
		select {
		case <-lost:
		case <-ctx.Done():
		}
	}
	switch {
	case ctx.Err() != nil:
		graceful = true
		return ctx.Err()
	case isClosed(lost):
		l.log.Warn("mqtt: connection lost", "broker", l.cfg.Broker, "err", lostErr)
		return fmt.Errorf("%w: %v", ErrConnectionLost, lostErr)
	}
	l.log.Warn("mqtt: closing connection", "broker", l.cfg.Broker, "err", err)
	return err
}

// checkRoute subscribes to the probe topic, publishes a fresh nonce to it
// and waits for the broker to route it back. A broker whose ACL refuses
// the device its topics acknowledges the PUBLISH and drops it: without
// this check the outbox would take PUBACKs for messages nobody receives
// and acknowledge them away.
func (l *Link) checkRoute(ctx context.Context, s *session) error {
	want, echo, done := s.probeNonce("route")
	defer done()
	t := s.client.Subscribe(l.topics.Probe(), 1, s.probeArrived)
	if err := l.wait(ctx, s, t); err != nil {
		return fmt.Errorf("mqtt: subscribing to %s: %w", l.topics.Probe(), err)
	}
	refused := false
	if st, ok := t.(*paho.SubscribeToken); ok {
		if q, ok := st.Result()[l.topics.Probe()]; ok && q == 0x80 {
			refused = true
		}
	}
	if !refused {
		if err := l.wait(ctx, s, s.client.Publish(l.topics.Probe(), 1, false, want)); err != nil {
			return fmt.Errorf("mqtt: publishing to %s: %w", l.topics.Probe(), err)
		}
		switch err := l.waitEcho(ctx, s, echo); {
		case err == nil:
			l.mu.Lock()
			l.unrouted = false
			l.mu.Unlock()
			return nil
		case !errors.Is(err, ErrUnrouted):
			return err
		}
	}
	l.mu.Lock()
	l.stats.Unrouted++
	l.unrouted = true
	l.mu.Unlock()
	l.log.Error("mqtt: the broker does not route the device's topics back to it; not going online",
		"topic", l.topics.Probe(), "device", l.topics.DeviceID, "subscription_refused", refused)
	return fmt.Errorf("%w: nothing published to %s came back (subscription refused: %v)", ErrUnrouted, l.topics.Probe(), refused)
}

// waitEcho waits, after the PUBACK, for a probe to come back: ErrUnrouted
// when it has not within Config.AckTimeout.
func (l *Link) waitEcho(ctx context.Context, s *session, echo <-chan struct{}) error {
	timer := time.NewTimer(l.cfg.AckTimeout)
	defer timer.Stop()
	select {
	case <-echo:
		return nil
	case <-s.lost:
		return ErrConnectionLost
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return ErrUnrouted
	}
}

// connackServerUnavailable is MQTT 3.1.1's CONNACK return code 3.
const connackServerUnavailable = 3

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// wait waits for the broker's acknowledgement of t (PUBACK, SUBACK).
func (l *Link) wait(ctx context.Context, s *session, t paho.Token) error {
	timer := time.NewTimer(l.cfg.AckTimeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-s.lost:
		// The acknowledgement may have arrived just before the loss.
		if isClosed(t.Done()) && t.Error() == nil {
			return nil
		}
		return ErrConnectionLost
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return ErrAckTimeout
	}
}

// subscribe subscribes to the command topic and starts the command
// worker; the returned function stops it.
func (l *Link) subscribe(ctx context.Context, s *session) (stop func(), err error) {
	var (
		qmu    sync.Mutex
		closed bool
	)
	queue := make(chan []byte, commandQueue)
	done := make(chan struct{})
	quit := make(chan struct{})
	handler := func(_ paho.Client, m paho.Message) {
		p := m.Payload()
		if len(p) > l.cfg.MaxCommandBytes {
			l.refusedResult(s, p, refuse(RefusedOversize, ""))
			return
		}
		qmu.Lock()
		defer qmu.Unlock()
		if closed {
			l.refusedResult(s, p, refuse(RefusedBusy, ""))
			return
		}
		select {
		case queue <- p:
		default:
			l.refusedResult(s, p, refuse(RefusedBusy, ""))
		}
	}
	go func() {
		defer close(done)
		for {
			select {
			case p := <-queue:
				l.handleCommand(ctx, s, p)
			case <-quit:
				for {
					select {
					case p := <-queue:
						l.refusedResult(s, p, refuse(RefusedBusy, ""))
					default:
						return
					}
				}
			}
		}
	}()
	stop = func() {
		qmu.Lock()
		closed = true
		qmu.Unlock()
		close(quit)
		<-done
	}
	t := s.client.Subscribe(l.topics.Commands(), 1, handler)
	if err := l.wait(ctx, s, t); err != nil {
		stop()
		return func() {}, fmt.Errorf("mqtt: subscribing to commands: %w", err)
	}
	granted := -1
	if st, ok := t.(*paho.SubscribeToken); ok {
		if q, ok := st.Result()[l.topics.Commands()]; ok {
			granted = int(q)
		}
	}
	l.mu.Lock()
	s.granted = granted
	l.mu.Unlock()
	if granted == 0x80 {
		l.log.Error("mqtt: the broker refused the command subscription", "topic", l.topics.Commands())
	}
	return stop, nil
}

func (l *Link) refused(err error) {
	var re *RefusedError
	if !errors.As(err, &re) {
		return
	}
	l.count(func(s *Stats) { s.Refused[re.Reason]++ })
	l.log.Warn("mqtt: command refused", "reason", string(re.Reason), "command", re.Name)
}

// handleCommand authorises one command, runs it and publishes its result.
func (l *Link) handleCommand(ctx context.Context, s *session, p []byte) {
	c, spec, err := l.authorise(p, l.cfg.Now(), true)
	if err != nil {
		l.refusedResult(s, p, err)
		return
	}
	l.log.Info("mqtt: running command", "command", c.Name, "signed", c.Signed, "seq", c.Seq)
	err = spec.Run(ctx, c)
	l.count(func(s *Stats) {
		s.CommandsRun++
		if err != nil {
			s.CommandsFailed++
		}
	})
	r := CommandResult{ID: CommandID(p), Name: c.Name, Seq: c.Seq, Status: ResultDone}
	if err != nil {
		r.Status = ResultFailed
		l.log.Warn("mqtt: command failed", "command", c.Name, "err", err)
	}
	l.publishResult(s, r)
}

// refusedResult counts a refusal and tells the service.
func (l *Link) refusedResult(s *session, p []byte, err error) {
	l.refused(err)
	var re *RefusedError
	if errors.As(err, &re) {
		l.publishResult(s, CommandResult{ID: CommandID(p), Name: re.Name, Status: ResultRefused, Reason: re.Reason})
	}
}

// publishResult publishes r to the result topic with QoS 1 on the live
// connection without waiting for the PUBACK: a result is not kept in the
// outbox, and one lost with the connection is not sent again.
func (l *Link) publishResult(s *session, r CommandResult) {
	s.client.Publish(l.topics.Results(), 1, false, r.encode())
	l.count(func(st *Stats) { st.Results++ })
}

// authorise decodes p and decides whether it may run. With consume it
// records a signed command's sequence number durably (it then can never
// run again); without, it only compares (the self-check's probes).
func (l *Link) authorise(p []byte, now time.Time, consume bool) (Command, CommandSpec, error) {
	w, err := decodeCommand(p, l.cfg.MaxCommandBytes)
	if err != nil {
		return Command{}, CommandSpec{}, err
	}
	spec, ok := l.cfg.Commands[w.name]
	if !ok {
		return Command{}, spec, refuse(RefusedUnknown, w.name)
	}
	signed := w.sig != nil
	if signed {
		if l.cfg.CommandKey == nil || !ecdsa.VerifyASN1(l.cfg.CommandKey, commandDigest(w.body), w.sig) {
			return Command{}, spec, refuse(RefusedBadSignature, w.name)
		}
	} else if !spec.AllowUnsigned {
		return Command{}, spec, refuse(RefusedUnsigned, w.name)
	}
	if w.device != l.topics.DeviceID {
		return Command{}, spec, refuse(RefusedWrongDevice, w.name)
	}
	if signed && (w.seq == 0 || w.exp == 0) {
		return Command{}, spec, refuse(RefusedMalformed, w.name)
	}
	c := Command{Name: w.name, Args: w.args, Signed: signed, Seq: w.seq}
	if w.exp != 0 {
		c.Expires = time.Unix(w.exp, 0)
		switch {
		case now.Before(clockFloor):
			return Command{}, spec, refuse(RefusedClock, w.name)
		case !now.Before(c.Expires):
			return Command{}, spec, refuse(RefusedExpired, w.name)
		case c.Expires.Sub(now) > l.cfg.MaxCommandLifetime:
			return Command{}, spec, refuse(RefusedTooLong, w.name)
		}
	}
	if signed {
		if l.guard == nil {
			return Command{}, spec, refuse(RefusedBadSignature, w.name)
		}
		if !consume {
			if w.seq <= l.guard.lastSeq() {
				return Command{}, spec, refuse(RefusedReplayed, w.name)
			}
			return c, spec, nil
		}
		if r, err := l.guard.accept(w.seq); r != "" {
			if err != nil {
				l.log.Error("mqtt: replay state not written", "err", err)
			}
			return Command{}, spec, refuse(r, w.name)
		}
	}
	return c, spec, nil
}
