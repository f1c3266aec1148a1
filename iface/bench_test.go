package iface

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// benchBody is a ~2 KiB settings request like the one bench/iface uses.
func benchBody() []byte {
	var b strings.Builder
	b.WriteString(`{"name":"Living room plug","room":"Living room","timezone":"Europe/Berlin",` +
		`"wifi":{"ssid":"Home network 5G","security":"wpa3","hidden":false},` +
		`"update_url":"https://updates.example.com/smartplug/v1/","schedule":[`)
	for i := 0; b.Len() < 1950; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"label":"Evening lamp ` + strconv.Itoa(i) + `","days":["mon","tue","wed","thu","fri"],"on_minute":1080,"off_minute":1380,"max_power_w":60}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

type benchSettings struct {
	Name      string    `json:"name"`
	Room      string    `json:"room"`
	TimeZone  string    `json:"timezone"`
	Wifi      benchWifi `json:"wifi"`
	UpdateURL string    `json:"update_url"`
	Schedule  []struct {
		Label string   `json:"label"`
		Days  []string `json:"days"`
		On    int      `json:"on_minute"`
		Off   int      `json:"off_minute"`
		Power int      `json:"max_power_w"`
	} `json:"schedule"`
}

// benchWifi is the network part of benchSettings.
type benchWifi struct {
	SSID     string `json:"ssid"`
	Security string `json:"security"`
	Hidden   bool   `json:"hidden"`
}

func BenchmarkDecodeStrict2KiB(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var s benchSettings
		if err := unmarshalJSON(body, &s, JSONLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEncodingJSON2KiB(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var s benchSettings
		if err := json.Unmarshal(body, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckJSON2KiB(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkJSON(body, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func benchHandshake(b *testing.B, curves []tls.CurveID) {
	s, c := testConfigs(b)
	c.CurvePreferences = curves
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TLSHandshake(context.Background(), s, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHandshakeHybrid(b *testing.B) { benchHandshake(b, nil) }
func BenchmarkHandshakeX25519(b *testing.B) { benchHandshake(b, []tls.CurveID{tls.X25519}) }

func BenchmarkValidators(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Name("n", "Living room plug")
		_ = SSID("s", "Home network 5G")
		_ = Hostname("h", "broker.example.com")
		_ = URL("u", "https://updates.example.com/smartplug/v1/")
		_ = TimeZone("tz", "UTC")
	}
}
