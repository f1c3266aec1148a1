package mqtt_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/resilience/mqtt"
)

var b64 = base64.RawURLEncoding

func body(s string) string { return b64.EncodeToString([]byte(s)) }

// A valid signature's base64 (its value does not matter to the decoder).
var sig = b64.EncodeToString(bytes.Repeat([]byte{0x30}, 70))

// commandVectors are wire forms and whether the strict decoder accepts
// them; they also seed FuzzDecodeCommand.
var commandVectors = []struct {
	name string
	wire string
	ok   bool
}{
	{"unsigned", body(`{"device":"dev1","name":"blink"}`), true},
	{"signed", body(`{"device":"dev1","name":"set-endpoint","seq":7,"exp":1900000000,"args":{"url":"https://a"}}`) + "." + sig, true},
	{"whitespace", body(` { "device" : "dev1" , "name" : "blink" } `), true},
	{"args array", body(`{"device":"dev1","name":"x","args":[1,2,{"a":null}]}`), true},
	{"empty", "", false},
	{"only dot", ".", false},
	{"empty signature", body(`{"device":"dev1","name":"blink"}`) + ".", false},
	{"two dots", body(`{"device":"dev1","name":"blink"}`) + "." + sig + "." + sig, false},
	{"padded", base64.URLEncoding.EncodeToString([]byte(`{"device":"dev1","name":"blinkxy"}`)), false},
	{"std alphabet", base64.RawStdEncoding.EncodeToString([]byte(`{"device":"dev1","name":"b>>?"}`)), false},
	{"signature too long", body(`{"device":"dev1","name":"blink"}`) + "." + b64.EncodeToString(make([]byte, 81)), false},
	{"trailing data", body(`{"device":"dev1","name":"blink"}x`), false},
	{"trailing object", body(`{"device":"dev1","name":"blink"}{}`), false},
	{"trailing comma", body(`{"device":"dev1","name":"blink",}`), false},
	{"repeated field", body(`{"device":"dev1","name":"blink","name":"set-endpoint"}`), false},
	{"unknown field", body(`{"device":"dev1","name":"blink","admin":true}`), false},
	{"missing device", body(`{"name":"blink"}`), false},
	{"missing name", body(`{"device":"dev1"}`), false},
	{"not an object", body(`["dev1","blink"]`), false},
	{"null", body(`null`), false},
	{"device with slash", body(`{"device":"dev1/#","name":"blink"}`), false},
	{"device escaped slash", body(`{"device":"dev1\u002f+","name":"blink"}`), false},
	{"name upper case", body(`{"device":"dev1","name":"Blink"}`), false},
	{"name too long", body(`{"device":"dev1","name":"` + strings.Repeat("a", 65) + `"}`), false},
	{"seq exponent", body(`{"device":"dev1","name":"x","seq":1e3}`), false},
	{"seq negative", body(`{"device":"dev1","name":"x","seq":-1}`), false},
	{"seq fraction", body(`{"device":"dev1","name":"x","seq":1.0}`), false},
	{"seq string", body(`{"device":"dev1","name":"x","seq":"1"}`), false},
	{"seq overflow", body(`{"device":"dev1","name":"x","seq":18446744073709551616}`), false},
	{"exp above int63", body(`{"device":"dev1","name":"x","exp":9223372036854775808}`), false},
	{"device number", body(`{"device":1,"name":"x"}`), false},
	{"args invalid", body(`{"device":"dev1","name":"x","args":{]}`), false},
	{"unterminated", body(`{"device":"dev1","name":"x"`), false},
}

func TestDecodeCommand(t *testing.T) {
	for _, v := range commandVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			_, err := mqtt.DecodeCommand([]byte(v.wire), 0)
			var re *mqtt.RefusedError
			switch {
			case v.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !v.ok && (!errors.As(err, &re) || re.Reason != mqtt.RefusedMalformed):
				t.Fatalf("got %v, want refused as malformed", err)
			}
		})
	}
	long := body(`{"device":"dev1","name":"blink","args":"` + strings.Repeat("a", 200) + `"}`)
	if _, err := mqtt.DecodeCommand([]byte(long), 100); !errors.Is(err, mqtt.ErrRefused) || !strings.Contains(err.Error(), "oversize") {
		t.Fatalf("oversized command: %v", err)
	}
}

// TestEncodeCommandRoundTrip: what EncodeCommand produces, the decoder
// accepts; EncodeCommand refuses what the device would refuse.
func TestEncodeCommandRoundTrip(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req := mqtt.CommandRequest{Device: "dev1", Name: "set-endpoint", Seq: 3, Expires: time.Unix(1900000000, 0), Args: json.RawMessage(`{"url":"x"}`)}
	w, err := mqtt.EncodeCommand(rand.Reader, k, req)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := mqtt.DecodeCommand(w, 0); err != nil || name != "set-endpoint" {
		t.Fatalf("decoded %q, %v", name, err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for what, r := range map[string]mqtt.CommandRequest{
		"no seq":       {Device: "dev1", Name: "x", Expires: time.Unix(1900000000, 0)},
		"no expiry":    {Device: "dev1", Name: "x", Seq: 1},
		"bad device":   {Device: "dev/1", Name: "x", Seq: 1, Expires: time.Unix(1900000000, 0)},
		"bad name":     {Device: "dev1", Name: "X", Seq: 1, Expires: time.Unix(1900000000, 0)},
		"invalid args": {Device: "dev1", Name: "x", Seq: 1, Expires: time.Unix(1900000000, 0), Args: json.RawMessage(`{`)},
	} {
		if _, err := mqtt.EncodeCommand(rand.Reader, k, r); err == nil {
			t.Errorf("%s: encoded", what)
		}
	}
	if _, err := mqtt.EncodeCommand(rand.Reader, p384, req); err == nil {
		t.Error("P-384 key accepted for commands")
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(body(`{"a":1}}`)))
	f.Add([]byte(body(`{"a":1}]`)))
	f.Add([]byte(body(`{"a":1} {"b":2}`)))
	f.Add([]byte(body(`{"device":"dev1","name":"blink"}}`)))
	f.Add([]byte(body(`{"device":"dev1","name":"blink"}]`)))
	for _, v := range commandVectors {
		f.Add([]byte(v.wire))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := mqtt.DecodeCommand(b, 512)
		if err != nil {
			if !errors.Is(err, mqtt.ErrRefused) {
				t.Fatalf("error %v is not a refusal", err)
			}
			return
		}
		if len(b) > 512 || name == "" {
			t.Fatalf("accepted %d bytes with name %q", len(b), name)
		}
		// An accepted body is exactly one JSON object.
		bodyB64, _, _ := bytes.Cut(b, []byte("."))
		raw, err := b64.DecodeString(string(bodyB64))
		if err != nil || !json.Valid(raw) || bytes.TrimSpace(raw)[0] != '{' {
			t.Fatalf("accepted a body that is not one JSON object: %q", raw)
		}
	})
}

var envelopeVectors = [][]byte{
	[]byte("k-1\n{\"on\":true}"),
	[]byte("k\n"),
	[]byte("\npayload"),
	[]byte("no line feed"),
	[]byte("k\x00ey\npayload"),
	[]byte(strings.Repeat("k", 128) + "\nx"),
	[]byte(strings.Repeat("k", 129) + "\nx"),
	[]byte("k\n\n\n"),
}

func TestEnvelope(t *testing.T) {
	for i, want := range []bool{true, true, false, false, false, true, false, true} {
		_, _, err := mqtt.OpenEnvelope(envelopeVectors[i])
		if (err == nil) != want {
			t.Errorf("%q: err %v", envelopeVectors[i], err)
		}
	}
	key, payload, err := mqtt.OpenEnvelope(mqtt.AppendEnvelope(nil, "k 1", []byte("a\nb")))
	if err != nil || key != "k 1" || string(payload) != "a\nb" {
		t.Fatalf("round trip: %q %q %v", key, payload, err)
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	for _, v := range envelopeVectors {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		key, payload, err := mqtt.OpenEnvelope(b)
		if err != nil {
			return
		}
		if len(key) == 0 || len(key) > mqtt.MaxKey || !bytes.Equal(mqtt.AppendEnvelope(nil, key, payload), b) {
			t.Fatalf("%q opened as %q / %q", b, key, payload)
		}
	})
}

func TestTopics(t *testing.T) {
	tp := mqtt.Topics{Prefix: "acme/plug-v2", DeviceID: "SN-0042"}
	if err := tp.Validate(); err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		tp.State():               "acme/plug-v2/SN-0042/state",
		tp.Commands():            "acme/plug-v2/SN-0042/cmd",
		tp.Probe():               "acme/plug-v2/SN-0042/probe",
		tp.All():                 "acme/plug-v2/SN-0042/#",
		tp.Message("plug.state"): "acme/plug-v2/SN-0042/msg/plug.state",
		tp.Message("a/b+#%"):     "acme/plug-v2/SN-0042/msg/a/b%2B%23%25",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for _, bad := range []mqtt.Topics{
		{Prefix: "devices", DeviceID: ""},
		{Prefix: "devices", DeviceID: "dev/1"},
		{Prefix: "devices", DeviceID: "dev+"},
		{Prefix: "devices", DeviceID: "#"},
		{Prefix: "devices", DeviceID: strings.Repeat("d", 65)},
		{Prefix: "", DeviceID: "dev1"},
		{Prefix: "a//b", DeviceID: "dev1"},
		{Prefix: "/devices", DeviceID: "dev1"},
		{Prefix: "$SYS", DeviceID: "dev1"},
		{Prefix: "dev+ices", DeviceID: "dev1"},
	} {
		if err := bad.Validate(); !errors.Is(err, mqtt.ErrTopic) {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestNewRefusesUnsafeConfig: New refuses every configuration that would
// connect without authenticating both ends, or run commands without
// replay protection.
func TestNewRefusesUnsafeConfig(t *testing.T) {
	p := newPKI(t)
	good := func() mqtt.Config { return mqtt.Config{Broker: "127.0.0.1:8883", TLS: p.clientTLS(t, "dev1")} }
	if l, err := mqtt.New(good()); err != nil || l.Topics().DeviceID != "dev1" || l.Topics().Prefix != "devices" {
		t.Fatalf("good config: %v", err)
	}
	other := p.clientTLS(t, "dev1")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	run := mqtt.CommandSpec{Run: nil}
	for what, mod := range map[string]func(c *mqtt.Config){
		"no broker":        func(c *mqtt.Config) { c.Broker = "" },
		"no TLS":           func(c *mqtt.Config) { c.TLS = nil },
		"system roots":     func(c *mqtt.Config) { c.TLS.RootCAs = nil },
		"skip verify":      func(c *mqtt.Config) { c.TLS.InsecureSkipVerify = true },
		"TLS 1.1":          func(c *mqtt.Config) { c.TLS.MinVersion = tls.VersionTLS11 },
		"no certificate":   func(c *mqtt.Config) { c.TLS.Certificates = nil },
		"two certificates": func(c *mqtt.Config) { c.TLS.Certificates = append(c.TLS.Certificates, other.Certificates[0]) },
		"key of another":   func(c *mqtt.Config) { c.TLS.Certificates[0].PrivateKey = other.Certificates[0].PrivateKey },
		"not a signer":     func(c *mqtt.Config) { c.TLS.Certificates[0].PrivateKey = "key" },
		"callback": func(c *mqtt.Config) {
			c.TLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, nil }
		},
		"bad device ID":      func(c *mqtt.Config) { c.DeviceID = "dev/+" },
		"bad prefix":         func(c *mqtt.Config) { c.Prefix = "devices/#" },
		"command without fn": func(c *mqtt.Config) { c.Commands = map[string]mqtt.CommandSpec{"x": run} },
		"signed command without key": func(c *mqtt.Config) {
			c.Commands = map[string]mqtt.CommandSpec{"x": {Run: func(_ context.Context, _ mqtt.Command) error { return nil }}}
		},
		"key without state dir": func(c *mqtt.Config) { c.CommandKey = &key.PublicKey },
		"P-384 command key":     func(c *mqtt.Config) { c.CommandKey = &p384.PublicKey; c.StateDir = t.TempDir() },
		"huge commands":         func(c *mqtt.Config) { c.MaxCommandBytes = mqtt.MaxCommandBytes + 1 },
	} {
		c := good()
		mod(&c)
		if _, err := mqtt.New(c); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
}
