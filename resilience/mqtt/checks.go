package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/resilience"
)

// Checks returns the link's self-checks, each observing the running link:
//
//   - "resilience.mqtt.tls" (5.5-1, measured): the live connection's TLS
//     handshake — version, cipher suite and key-exchange group, the
//     broker's certificate verified against the pinned CA, and the broker
//     having asked for the device's certificate and the identity key
//     having signed the handshake. Inconclusive while not connected.
//   - "resilience.mqtt.delivery" (5.9-2, measured): publishes a QoS 1
//     probe to <prefix>/<device-id>/probe on the live connection and
//     requires the broker's PUBACK and the probe routed back to the device
//     (the link subscribes to its probe topic), so a broker that
//     acknowledges and drops — an ACL that refuses the device its topics —
//     fails it; reports the outbox's depth, the age of
//     its oldest message, drops and expiries, and how many messages the
//     broker acknowledged. Inconclusive while not connected (the outbox
//     then holds the messages), Fail when the outbox's last write failed,
//     the connected broker does not acknowledge, or the latest connection
//     was refused by the route check (the broker's ACL does not let this
//     identity use the device's topics; see ErrUnrouted).
//   - "resilience.mqtt.commands" (5.5-5, measured): sends forged commands
//     — unsigned, signed by a foreign key, oversized — through the same
//     decoder and verifier the command topic feeds, without running
//     anything, and requires each to be refused; reports the pinned key's
//     fingerprint, the last accepted sequence number, the command
//     subscription and the refusals counted.
func (l *Link) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "resilience.mqtt.tls", Method: conformance.Measured, Provisions: []string{"5.5-1"},
			Title: "The connection to the associated service is mutually authenticated TLS: broker verified against a pinned CA, device by its identity key",
			Run:   l.checkTLS},
		{ID: "resilience.mqtt.delivery", Method: conformance.Measured, Provisions: []string{"5.9-2"},
			Title: "Outgoing messages wait on flash while offline and are delivered with broker acknowledgement when connected",
			Run:   l.checkDelivery},
		{ID: "resilience.mqtt.commands", Method: conformance.Measured, Provisions: []string{"5.5-5"},
			Title: "Commands that change security-relevant settings run only with an authorisation signed by a pinned key, unexpired and not replayed",
			Run:   l.checkCommands},
	}
}

func (l *Link) session() (cur, last *session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur, l.last
}

func describeHandshake(hs handshake) string {
	st := hs.state
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s, group %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)
	if len(st.PeerCertificates) > 0 {
		fmt.Fprintf(&b, "; broker certificate %q", st.PeerCertificates[0].Subject.CommonName)
	}
	if len(st.VerifiedChains) > 0 {
		ch := st.VerifiedChains[0]
		fmt.Fprintf(&b, " verified against the pinned CA %q", ch[len(ch)-1].Subject.CommonName)
	} else {
		b.WriteString(" not verified")
	}
	if hs.requested {
		fmt.Fprintf(&b, "; the broker requested the client certificate and the identity key made %d handshake signature(s)", hs.signatures)
	} else {
		b.WriteString("; the broker did not request a client certificate")
	}
	return b.String()
}

func (l *Link) checkTLS(ctx context.Context) conformance.Result {
	cur, last := l.session()
	if cur == nil {
		obs := "not connected to " + l.cfg.Broker
		if last != nil {
			obs += fmt.Sprintf("; the last connection (ended %s) had %s", last.ended.UTC().Format(time.RFC3339), describeHandshake(last.hs))
		}
		detail := "the link is not connected now, so there is no live handshake to observe"
		if l.id.leaf.Subject.CommonName != l.topics.DeviceID {
			detail += "; the client certificate's common name differs from the device ID: a broker that authorises topics by certificate identity will not let the device use its topics"
		}
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs, Detail: detail}
	}
	obs := fmt.Sprintf("connected to %s as %q (client certificate %q) since %s; %s",
		l.cfg.Broker, l.topics.DeviceID, l.id.leaf.Subject.CommonName, cur.since.UTC().Format(time.RFC3339), describeHandshake(cur.hs))
	var bad []string
	if cur.hs.state.Version < tls.VersionTLS12 {
		bad = append(bad, "protocol below TLS 1.2")
	}
	if len(cur.hs.state.VerifiedChains) == 0 {
		bad = append(bad, "the broker's certificate was not verified")
	}
	if !cur.hs.requested || cur.hs.signatures == 0 {
		bad = append(bad, "the device was not authenticated by its identity key: the broker accepts clients without certificates")
	}
	if len(bad) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: strings.Join(bad, "; ")}
	}
	if l.id.leaf.Subject.CommonName != l.topics.DeviceID {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "the client certificate's common name differs from the device ID: a broker that authorises topics by certificate identity will not let the device use its topics"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

func (l *Link) checkDelivery(ctx context.Context) conformance.Result {
	var obs []string
	var storageErr string
	if ob := l.cfg.Outbox; ob != nil {
		st := ob.Stats()
		oldest := "none"
		if msgs := ob.Pending(0); len(msgs) > 0 {
			first := slices.MinFunc(msgs, func(a, b resilience.Message) int { return a.Created.Compare(b.Created) }).Created
			oldest = time.Since(first).Round(time.Second).String()
		}
		obs = append(obs, fmt.Sprintf("outbox: %d pending (%d bytes), oldest %s old; %d dropped, %d expired since open",
			st.Pending, st.PendingBytes, oldest, st.Dropped, st.Expired))
		storageErr = st.LastError
	} else {
		obs = append(obs, "no outbox configured")
	}
	s := l.Stats()
	obs = append(obs, fmt.Sprintf("%d outbox messages acknowledged by the broker (PUBACK) in %d connections", s.Published, s.Connects))
	if storageErr != "" {
		return conformance.Result{Verdict: conformance.Fail, Observed: strings.Join(obs, "; "),
			Detail: "the outbox's last write failed: " + storageErr}
	}
	cur, _ := l.session()
	l.mu.Lock()
	unrouted := l.unrouted
	l.mu.Unlock()
	if s.Unrouted > 0 {
		obs = append(obs, fmt.Sprintf("%d connections on which the broker did not route the device's own topics back", s.Unrouted))
	}
	if cur == nil && unrouted {
		return conformance.Result{Verdict: conformance.Fail, Observed: "not connected; " + strings.Join(obs, "; "),
			Detail: fmt.Sprintf("the broker accepted the connection of identity %q but dropped what it published under %s: its ACL or topic policy refuses this identity the device's topics, so the device stays offline and holds its messages",
				l.id.leaf.Subject.CommonName, l.topics.Root()+"/")}
	}
	if cur == nil {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "not connected; " + strings.Join(obs, "; "),
			Detail: "the link is not connected now: messages are held, delivery cannot be observed"}
	}
	probe, echo, done := cur.probeNonce("probe")
	defer done()
	start := time.Now()
	err := l.wait(ctx, cur, cur.client.Publish(l.topics.Probe(), 1, false, probe))
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: "connected; " + strings.Join(obs, "; "),
			Detail: "the broker did not acknowledge a QoS 1 probe on the live connection: " + err.Error()}
	}
	acked := time.Since(start)
	if err := l.waitEcho(ctx, cur, echo); err != nil {
		detail := "the broker acknowledged a QoS 1 probe but did not route it back: " + err.Error()
		if errors.Is(err, ErrUnrouted) {
			detail = fmt.Sprintf("the broker acknowledged a QoS 1 probe to %s but did not route it back within %s: its ACL or topic policy no longer lets identity %q use the device's topics, and what the device publishes is dropped",
				l.topics.Probe(), l.cfg.AckTimeout, l.id.leaf.Subject.CommonName)
		}
		return conformance.Result{Verdict: conformance.Fail, Observed: "connected; " + strings.Join(obs, "; "), Detail: detail}
	}
	obs = append([]string{fmt.Sprintf("connected; QoS 1 probe to %s acknowledged in %s and routed back to the device in %s",
		l.topics.Probe(), acked.Round(time.Microsecond), time.Since(start).Round(time.Microsecond))}, obs...)
	return conformance.Result{Verdict: conformance.Pass, Observed: strings.Join(obs, "; ")}
}

func (l *Link) checkCommands(ctx context.Context) conformance.Result {
	var signedName string
	var unsigned []string
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Commands)) {
		if l.cfg.Commands[name].AllowUnsigned {
			unsigned = append(unsigned, name)
		} else if signedName == "" {
			signedName = name
		}
	}
	var obs []string
	if len(l.cfg.Commands) == 0 {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "no commands configured; the link does not subscribe to a command topic",
			Detail: "the device takes no commands over MQTT, so there is nothing to authorise here"}
	}
	if l.cfg.CommandKey != nil {
		der, _ := x509.MarshalPKIXPublicKey(l.cfg.CommandKey)
		sum := sha256.Sum256(der)
		obs = append(obs, "pinned ECDSA P-256 command key sha256:"+hex.EncodeToString(sum[:8]))
	}
	st := l.Stats()
	if l.guard != nil {
		obs = append(obs, fmt.Sprintf("last accepted sequence number %d (on flash)", st.LastSeq))
	}
	if len(unsigned) > 0 {
		obs = append(obs, "run without authorisation, declared not security-relevant: "+strings.Join(unsigned, ", "))
	}
	if cur, _ := l.session(); cur != nil {
		switch g := cur.granted; {
		case g == 0x80:
			obs = append(obs, "the broker refused the subscription to "+l.topics.Commands())
		case g >= 0:
			// Mosquitto grants a subscription its ACL then filters, so
			// this says what SUBACK said, not that commands can arrive.
			obs = append(obs, fmt.Sprintf("SUBACK for %s: QoS %d granted", l.topics.Commands(), g))
		}
	} else {
		obs = append(obs, "not connected")
	}
	var refused []string
	for _, r := range reasons {
		if n := st.Refused[r]; n > 0 {
			refused = append(refused, fmt.Sprintf("%s %d", r, n))
		}
	}
	if len(refused) == 0 {
		refused = []string{"none"}
	}
	obs = append(obs, fmt.Sprintf("%d commands run (%d failed); refused: %s", st.CommandsRun, st.CommandsFailed, strings.Join(refused, ", ")))
	if signedName == "" {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: strings.Join(obs, "; "),
			Detail: "every command runs without authorisation: that no command changes a security-relevant setting is the maker's declaration, not checked here"}
	}
	if msg := l.probeCommands(signedName); msg != "" {
		return conformance.Result{Verdict: conformance.Fail, Observed: strings.Join(obs, "; "), Detail: msg}
	}
	obs = append(obs, fmt.Sprintf("tested: unsigned, foreign-signed and oversized %q commands refused by the command decoder and verifier", signedName))
	return conformance.Result{Verdict: conformance.Pass, Observed: strings.Join(obs, "; ")}
}

// probeCommands sends hostile commands through authorise without
// consuming sequence numbers or running anything, and says what was not
// refused as it should be.
func (l *Link) probeCommands(name string) string {
	now := l.cfg.Now()
	req := CommandRequest{Device: l.topics.DeviceID, Name: name, Seq: ^uint64(0) >> 1, Expires: now.Add(l.cfg.MaxCommandLifetime / 2)}
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "probe key: " + err.Error()
	}
	unsigned, err1 := EncodeCommand(nil, nil, req)
	forged, err2 := EncodeCommand(rand.Reader, foreign, req)
	if err := errors.Join(err1, err2); err != nil {
		return "building probes: " + err.Error()
	}
	oversized := append(append([]byte{}, forged...), make([]byte, l.cfg.MaxCommandBytes)...)
	for _, p := range []struct {
		what    string
		payload []byte
		want    Reason
	}{
		{"an unsigned command", unsigned, RefusedUnsigned},
		{"a command signed by a foreign key", forged, RefusedBadSignature},
		{"an oversized command", oversized, RefusedOversize},
	} {
		_, _, err := l.authorise(p.payload, now, false)
		var re *RefusedError
		if !errors.As(err, &re) || re.Reason != p.want {
			return fmt.Sprintf("%s %q was not refused as %s (got %v)", p.what, name, p.want, err)
		}
	}
	return ""
}
