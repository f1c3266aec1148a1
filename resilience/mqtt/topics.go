package mqtt

import (
	"errors"
	"strings"
)

// DefaultPrefix is the first topic level when Config.Prefix is empty.
const DefaultPrefix = "devices"

// MaxDeviceID bounds the length of a device ID (one topic level).
const MaxDeviceID = 64

// Topics is one device's topic layout. Every topic the device uses lies
// under <prefix>/<device-id>/, so one broker rule per device identity
// ("pattern readwrite devices/%u/#" in Mosquitto, a policy variable such as
// ${iot:Connection.Thing.ThingName} in a managed service) confines each
// device to its own topics:
//
//	<prefix>/<device-id>/state        retained "online" or "offline" (last will), QoS 1
//	<prefix>/<device-id>/msg/<topic>  outbox messages, QoS 1, payload framed by AppendEnvelope
//	<prefix>/<device-id>/cmd          commands to the device, QoS 1 (see EncodeCommand)
//	<prefix>/<device-id>/result       what became of each command, QoS 1 (see CommandResult)
//	<prefix>/<device-id>/probe        the route check at each connection and the delivery
//	                                  self-check's probe, QoS 1, not retained
//
// A service subscribes to <prefix>/+/msg/# for every device's messages and
// to <prefix>/+/state for their presence.
type Topics struct {
	// Prefix is the first level or levels ("devices", "acme/plug-v2").
	Prefix string
	// DeviceID is the device's own level.
	DeviceID string
}

// Payloads of the state topic.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// ErrTopic: a prefix or device ID cannot form the topic layout.
var ErrTopic = errors.New("mqtt: invalid topic prefix or device ID")

// validLevel reports whether s is one topic level made of ASCII letters,
// digits, '.', '_' and '-': no separators, no wildcards, nothing a broker
// or a policy variable could read in two ways.
func validLevel(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Validate reports whether the layout is usable: the prefix is one or more
// levels and the device ID one level (at most MaxDeviceID bytes), each made
// of ASCII letters, digits, '.', '_' and '-'.
func (t Topics) Validate() error {
	if !validLevel(t.DeviceID, MaxDeviceID) {
		return ErrTopic
	}
	if len(t.Prefix) > 128 {
		return ErrTopic
	}
	for _, l := range strings.Split(t.Prefix, "/") {
		if !validLevel(l, 128) {
			return ErrTopic
		}
	}
	return nil
}

// Root returns <prefix>/<device-id>.
func (t Topics) Root() string { return t.Prefix + "/" + t.DeviceID }

// All returns the filter <prefix>/<device-id>/# that covers the device's
// topics.
func (t Topics) All() string { return t.Root() + "/#" }

// State returns the presence topic.
func (t Topics) State() string { return t.Root() + "/state" }

// Commands returns the topic the device takes commands from.
func (t Topics) Commands() string { return t.Root() + "/cmd" }

// Results returns the topic the device publishes its command results to
// (see CommandResult).
func (t Topics) Results() string { return t.Root() + "/result" }

// Probe returns the topic of the delivery self-check's probe.
func (t Topics) Probe() string { return t.Root() + "/probe" }

// Message returns the topic an outbox message of the given topic is
// published to: <prefix>/<device-id>/msg/<topic>. Outbox topics are
// printable ASCII; the MQTT wildcards '+' and '#', which a PUBLISH may not
// carry, and '%' are percent-encoded (%2B, %23, %25), so every outbox
// topic maps to one MQTT topic and back. '/' is kept and makes levels.
func (t Topics) Message(topic string) string {
	return t.Root() + "/msg/" + escapeTopic(topic)
}

func escapeTopic(s string) string {
	if !strings.ContainsAny(s, "+#%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			b.WriteString("%2B")
		case '#':
			b.WriteString("%23")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
