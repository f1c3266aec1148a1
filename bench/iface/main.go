// Command iface measures the costs the iface package adds and prints them
// beside the plain baseline, with ratios:
//
//   - a full TLS 1.3 handshake (no resumption, ECDSA P-256 certificate
//     verified) with the default hybrid X25519MLKEM768 key exchange against
//     the same handshake restricted to classical X25519;
//   - strict decoding (iface.UnmarshalJSON: size, depth, duplicate keys,
//     UTF-8, unknown fields, trailing data) of a typical 2 KiB settings
//     request, with and without the field validators, against plain
//     encoding/json.Unmarshal of the same body. Target: ≤ 2×.
//
// Run: go run ./bench/iface [-benchtime 300ms] [-rounds 5]
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/iface"
)

// Settings is a typical device settings request body.
type Settings struct {
	Name      string `json:"name"`
	Room      string `json:"room"`
	TimeZone  string `json:"timezone"`
	Wifi      Wifi   `json:"wifi"`
	UpdateURL string `json:"update_url"`
	MQTT      struct {
		Host string `json:"host"`
		Port int    `json:"port"`
		TLS  bool   `json:"tls"`
	} `json:"mqtt"`
	NTP      []string `json:"ntp"`
	Schedule []Slot   `json:"schedule"`
	LED      struct {
		Brightness int    `json:"brightness"`
		Mode       string `json:"mode"`
	} `json:"led"`
}

// Wifi is the network part of Settings.
type Wifi struct {
	SSID     string `json:"ssid"`
	Security string `json:"security"`
	Hidden   bool   `json:"hidden"`
}

// Slot is one schedule entry.
type Slot struct {
	Label string   `json:"label"`
	Days  []string `json:"days"`
	On    int      `json:"on_minute"`
	Off   int      `json:"off_minute"`
	Power int      `json:"max_power_w"`
}

func sampleBody() []byte {
	var s Settings
	s.Name, s.Room, s.TimeZone = "Living room plug", "Living room", "Europe/Berlin"
	s.Wifi = Wifi{SSID: "Home network 5G", Security: "wpa3"}
	s.UpdateURL = "https://updates.example.com/smartplug/v1/"
	s.MQTT.Host, s.MQTT.Port, s.MQTT.TLS = "broker.example.com", 8883, true
	s.NTP = []string{"0.pool.ntp.org", "1.pool.ntp.org", "time.example.com"}
	s.LED.Brightness, s.LED.Mode = 40, "night"
	for i := 0; len(mustJSON(s)) < 2048-110; i++ {
		s.Schedule = append(s.Schedule, Slot{Label: "Evening lamp " + strconv.Itoa(i),
			Days: []string{"mon", "tue", "wed", "thu", "fri"}, On: 1080 + i, Off: 1380, Power: 60})
	}
	return mustJSON(s)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var days = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// validate applies the field validators a device would run on Settings.
func validate(s *Settings) error {
	for _, err := range []error{
		iface.Name("name", s.Name), iface.Name("room", s.Room), iface.TimeZone("timezone", s.TimeZone),
		iface.SSID("wifi.ssid", s.Wifi.SSID), iface.OneOf("wifi.security", s.Wifi.Security, "wpa2", "wpa3"),
		iface.URL("update_url", s.UpdateURL), iface.Hostname("mqtt.host", s.MQTT.Host), iface.Port("mqtt.port", s.MQTT.Port),
		iface.Int("led.brightness", int64(s.LED.Brightness), 0, 100), iface.OneOf("led.mode", s.LED.Mode, "day", "night", "off"),
	} {
		if err != nil {
			return err
		}
	}
	for _, h := range s.NTP {
		if err := iface.Hostname("ntp", h); err != nil {
			return err
		}
	}
	for _, sl := range s.Schedule {
		if err := iface.Name("schedule.label", sl.Label); err != nil {
			return err
		}
		for _, d := range sl.Days {
			if err := iface.OneOf("schedule.days", d, days...); err != nil {
				return err
			}
		}
		if err := iface.Int("schedule.on_minute", int64(sl.On), 0, 1439); err != nil {
			return err
		}
		if err := iface.Int("schedule.off_minute", int64(sl.Off), 0, 1439); err != nil {
			return err
		}
		if err := iface.Int("schedule.max_power_w", int64(sl.Power), 0, 3680); err != nil {
			return err
		}
	}
	return nil
}

type result struct {
	name string
	r    testing.BenchmarkResult
}

func (r result) ns() float64 { return float64(r.r.T.Nanoseconds()) / float64(r.r.N) }

func (r result) print() {
	fmt.Printf("  %-44s %12.0f ns/op %8d B/op %6d allocs/op  (n=%d)\n", r.name, r.ns(), r.r.AllocedBytesPerOp(), r.r.AllocsPerOp(), r.r.N)
}

// rounds is how many times each measurement is repeated, interleaved with
// the ones it is compared to; the fastest round is reported, since on a
// shared machine noise only ever adds time.
var rounds = flag.Int("rounds", 5, "interleaved rounds per measurement (fastest is reported)")

// compare measures fs interleaved, round after round, and keeps each one's
// fastest round.
func compare(names []string, fs ...func(b *testing.B)) []result {
	out := make([]result, len(fs))
	for r := 0; r < *rounds; r++ {
		for i, f := range fs {
			res := result{names[i], testing.Benchmark(func(b *testing.B) { b.ReportAllocs(); f(b) })}
			if r == 0 || res.ns() < out[i].ns() {
				out[i] = res
			}
		}
	}
	return out
}

func main() {
	benchtime := flag.Duration("benchtime", 300*time.Millisecond, "time per measurement round")
	testing.Init()
	flag.Parse()
	_ = flag.Set("test.benchtime", benchtime.String())

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	cert, err := iface.SelfSigned(key, []string{"plug.local"}, 0)
	check(err)
	server, err := iface.ServerTLS(iface.TLSOptions{Certificates: []tls.Certificate{cert}})
	check(err)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	hybrid, err := iface.ClientTLS(iface.TLSOptions{RootCAs: pool, ServerName: "plug.local"})
	check(err)
	classical, err := iface.ClientTLS(iface.TLSOptions{RootCAs: pool, ServerName: "plug.local", CurvePreferences: []tls.CurveID{tls.X25519}})
	check(err)
	ctx := context.Background()
	for _, c := range []*tls.Config{hybrid, classical} {
		hs, err := iface.TLSHandshake(ctx, server, c)
		check(err)
		fmt.Println("negotiated:", hs)
	}
	handshake := func(c *tls.Config) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if _, err := iface.TLSHandshake(ctx, server, c); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	fmt.Println("Full TLS 1.3 handshake, in-memory, ECDSA P-256 certificate verified:")
	hx := compare([]string{"default (X25519MLKEM768 hybrid)", "X25519 only"}, handshake(hybrid), handshake(classical))
	h, x := hx[0], hx[1]
	h.print()
	x.print()
	fmt.Printf("  ratio hybrid / X25519: %.2fx\n\n", h.ns()/x.ns())

	body := sampleBody()
	var probe Settings
	check(iface.DecodeJSON(bytes.NewReader(body), &probe, iface.JSONLimits{}))
	check(validate(&probe))
	fmt.Printf("Decoding a %d-byte settings request (%d schedule slots):\n", len(body), len(probe.Schedule))
	plainF := func(b *testing.B) {
		for b.Loop() {
			var s Settings
			if err := json.Unmarshal(body, &s); err != nil {
				b.Fatal(err)
			}
		}
	}
	strictF := func(b *testing.B) {
		for b.Loop() {
			var s Settings
			if err := iface.DecodeJSON(bytes.NewReader(body), &s, iface.JSONLimits{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	fullF := func(b *testing.B) {
		for b.Loop() {
			var s Settings
			if err := iface.DecodeJSON(bytes.NewReader(body), &s, iface.JSONLimits{}); err != nil {
				b.Fatal(err)
			}
			if err := validate(&s); err != nil {
				b.Fatal(err)
			}
		}
	}
	js := compare([]string{"encoding/json.Unmarshal", "iface.UnmarshalJSON (strict)", "iface.UnmarshalJSON + field validators"}, plainF, strictF, fullF)
	plain, strict, full := js[0], js[1], js[2]
	plain.print()
	strict.print()
	full.print()
	fmt.Printf("  ratio strict / encoding/json:              %.2fx\n", strict.ns()/plain.ns())
	fmt.Printf("  ratio strict+validators / encoding/json:   %.2fx (target ≤ 2x)\n", full.ns()/plain.ns())
	if full.ns()/plain.ns() > 2 {
		fmt.Println("  TARGET MISSED")
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/iface:", err)
		os.Exit(1)
	}
}
