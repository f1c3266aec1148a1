package mqtt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/iface"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
	"github.com/iotbaseline/baseline/secrets"
)

// Example wires a device's link to its service, as the device's main does:
// the identity key from the sealed store proves the device in the TLS
// handshake, the supervisor paces the connection, the outbox feeds it and
// one security-relevant command is taken only with a signed authorisation.
// It needs the device's files and a broker, so it is compiled, not run.
func Example() {
	ctx := context.Background()
	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{Path: "/data/kek.seed"})
	if err != nil {
		log.Fatal(err)
	}
	store, err := secrets.Open(ctx, secrets.Config{Dir: "/data/secrets", KEK: kek})
	if err != nil {
		log.Fatal(err)
	}
	id, err := store.Identity(ctx) // crypto.Signer; the key never leaves the store
	if err != nil {
		log.Fatal(err)
	}
	// The factory CA certified the identity's CSR (id.CreateCSR) with
	// CN=plug-0042; the broker's CA and the service's command key were
	// installed with the firmware.
	certDER, _ := os.ReadFile("/data/device-cert.der")
	cert, err := iface.CertificateFromDER(id, certDER)
	if err != nil {
		log.Fatal(err)
	}
	brokerCA := x509.NewCertPool()
	caPEM, _ := os.ReadFile("/etc/plug/broker-ca.pem")
	brokerCA.AppendCertsFromPEM(caPEM)
	tlsCfg, err := iface.ClientTLS(iface.TLSOptions{Certificates: []tls.Certificate{cert}, RootCAs: brokerCA})
	if err != nil {
		log.Fatal(err)
	}
	keyPEM, _ := os.ReadFile("/etc/plug/command-key.pem")
	block, _ := pem.Decode(keyPEM)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	commandKey, _ := pub.(*ecdsa.PublicKey)

	outbox, err := resilience.OpenOutbox(ctx, resilience.OutboxConfig{Dir: "/data/outbox"})
	if err != nil {
		log.Fatal(err)
	}
	link, err := mqtt.New(mqtt.Config{
		Broker:     "mqtt.example.com:8883",
		TLS:        tlsCfg,
		Outbox:     outbox,
		CommandKey: commandKey,
		StateDir:   "/data/mqtt",
		Commands: map[string]mqtt.CommandSpec{
			"set-telemetry-interval": {Run: func(ctx context.Context, c mqtt.Command) error {
				var args struct{ Seconds int }
				if err := json.Unmarshal(c.Args, &args); err != nil || args.Seconds < 10 || args.Seconds > 86400 {
					return fmt.Errorf("bad interval")
				}
				return nil // apply it
			}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	sup := resilience.NewSupervisor(resilience.SupervisorConfig{
		Policy: resilience.Policy{FleetSize: 50000, ServiceCapacity: 1000},
	})
	if err := sup.Add("cloud", link.Connect); err != nil {
		log.Fatal(err)
	}
	go sup.Run(ctx)

	// A local action never waits for the cloud: it records what the
	// service must learn and carries on.
	if err := outbox.Enqueue(ctx, resilience.Message{Topic: "plug.state", Payload: []byte(`{"on":true}`)}); err != nil {
		log.Print(err) // not stored: tell the user
	}
	results := conformance.RunChecks(ctx, link, outbox, sup)
	_ = results
}

// ExampleEncodeCommand is the service's side: it signs a command for one
// device with the key the device pins, a fresh sequence number and a short
// expiry, and publishes it to the device's command topic.
func ExampleEncodeCommand() {
	serviceKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in an HSM in production
	wire, err := mqtt.EncodeCommand(rand.Reader, serviceKey, mqtt.CommandRequest{
		Device:  "plug-0042",
		Name:    "set-telemetry-interval",
		Seq:     1042, // one counter per device, never reused
		Expires: time.Now().Add(2 * time.Minute),
		Args:    json.RawMessage(`{"Seconds":300}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	topic := mqtt.Topics{Prefix: mqtt.DefaultPrefix, DeviceID: "plug-0042"}.Commands()
	name, err := mqtt.DecodeCommand(wire, 0)
	fmt.Println(topic, name, err)
	// Output: devices/plug-0042/cmd set-telemetry-interval <nil>
}

// ExampleOpenEnvelope is the service's side of delivery: it splits the
// idempotency key from a device's message and drops the message if it has
// seen the key before (delivery is at least once).
func ExampleOpenEnvelope() {
	seen := map[string]bool{}
	for _, payload := range [][]byte{
		mqtt.AppendEnvelope(nil, "7f3a", []byte(`{"on":true}`)),
		mqtt.AppendEnvelope(nil, "7f3a", []byte(`{"on":true}`)), // redelivered after a lost PUBACK
	} {
		key, body, err := mqtt.OpenEnvelope(payload)
		if err != nil {
			continue
		}
		if seen[key] {
			fmt.Println("duplicate", key)
			continue
		}
		seen[key] = true
		fmt.Printf("%s %s\n", key, body)
	}
	// Output:
	// 7f3a {"on":true}
	// duplicate 7f3a
}

// ExampleParseCommandResult is the service's side of commands: it keeps
// the CommandID of each command it publishes and matches the device's
// results on devices/<id>/result against them.
func ExampleParseCommandResult() {
	cmd, _ := mqtt.EncodeCommand(nil, nil, mqtt.CommandRequest{Device: "plug-1", Name: "blink"})
	sent := map[string]string{mqtt.CommandID(cmd): "blink"} // published to devices/plug-1/cmd

	// What the device published to devices/plug-1/result:
	payload := []byte(`{"id":"` + mqtt.CommandID(cmd) + `","name":"blink","status":"done"}`)
	r, err := mqtt.ParseCommandResult(payload)
	if err != nil {
		return
	}
	fmt.Println(sent[r.ID], r.Status)
	// Output:
	// blink done
}
