package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// FuzzParseCloudURL: whatever --cloud says, the plug accepts only an
// mqtts:// URL, and what it accepts is one host:port that parses back to
// itself.
func FuzzParseCloudURL(f *testing.F) {
	for _, s := range []string{"mqtts://broker.example:8883", "mqtts://127.0.0.1", "mqtts://[::1]:8883/", "mqtt://broker.example:1883",
		"tcp://x:1", "broker:8883", "mqtts://u:p@h", "mqtts://h/p?q#f", "MQTTS://h", "mqtts://h:0", "mqtts:opaque", "mqtts://:8883", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := parseCloudURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(strings.ToLower(s), "mqtts://") {
			t.Fatalf("%q accepted as %q", s, hp)
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" || port == "" {
			t.Fatalf("%q gave %q: %v", s, hp, err)
		}
		again, err := parseCloudURL("mqtts://" + hp)
		if err != nil || again != hp {
			t.Fatalf("%q gave %q, which gives %q %v", s, hp, again, err)
		}
	})
}

// FuzzSetIntervalArgs: the signed command's arguments are decoded strictly
// and the interval it sets is always within bounds, never below the
// configured period.
func FuzzSetIntervalArgs(f *testing.F) {
	for _, s := range []string{`{"seconds":60}`, `{"seconds":59}`, `{"seconds":-1}`, `{"seconds":9223372036854775807}`, `{"seconds":0}`, `{"seconds":86401}`, `{"seconds":60}{}`, `{"seconds":60,"x":1}`, `null`, `[]`, `{"seconds":1e3}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		tel := &telemetry{log: slog.New(slog.DiscardHandler), reset: make(chan struct{}, 1), floor: time.Minute}
		tel.interval.Store(int64(time.Hour))
		err := tel.setIntervalCommand(context.Background(), mqtt.Command{Name: "set-telemetry-interval", Args: args, Signed: true})
		p := tel.period()
		if err != nil && p != time.Hour {
			t.Fatalf("%q refused (%v) but changed the interval to %s", args, err, p)
		}
		if p < tel.floor || p > maxTelemetryInterval {
			t.Fatalf("%q set the interval to %s", args, p)
		}
	})
}
