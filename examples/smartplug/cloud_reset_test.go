package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/internal/testenv"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// TestCloudResetDeletion: a factory reset of a plug connected to its
// associated service (Mosquitto, mutual TLS) erases the consent ledger and
// the outbox, sends the service a deletion request carrying the receipt's
// request ID (through a queue the reset does not erase, delivered after
// the restart), sends no more telemetry, refuses an unsigned confirmation,
// and records the service's signed confirmation, which the owner sees on
// the Reset page after setting the plug up again with the label's secret.
func TestCloudResetDeletion(t *testing.T) {
	testenv.Short(t, "smartplug reset against Mosquitto")
	ca := newTestCA(t)
	broker := startMosquitto(t, ca)
	state, secret, devID, certFile, devicePub := provisionedPlug(t, ca)
	cmdKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(cmdKey.Public())
	keyFile := filepath.Join(t.TempDir(), "command-key.pem")
	writePEMFile(t, keyFile, "PUBLIC KEY", pubDER)

	svc, got := mqClient(t, broker, "service", ca.clientTLS(t, "service", nil, nil), "devices/+/msg/#", "devices/+/state")
	root := "devices/" + devID
	telTopic := root + "/msg/telemetry"
	p := startPlug(t, state, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--cloud", "mqtts://"+broker.addr, "--cloud-ca", ca.path("ca.pem"), "--cloud-cert", certFile,
		"--cloud-command-key", keyFile, "--telemetry-interval", "1s", "--cloud-fleet-size", "1", "--cloud-capacity", "100")
	nextOn(t, got, root+"/state")
	c := p.client(t)
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup = %d %s", r.code, r.body)
	}
	jsonDo(t, c, "PUT", p.url("/api/plug"), map[string]bool{"on": true})

	// The reset page names the service, and what the plug keeps for it.
	r := do(t, c, "GET", p.url("/reset"), "", "")
	page := html.UnescapeString(r.body)
	for _, want := range []string{"consent", "update settings", "deletion request for the associated service, until it is sent", "last signed command"} {
		if !strings.Contains(page, want) {
			t.Errorf("the reset instructions do not mention %q", want)
		}
	}

	// The plug's own check of the deletion path, and its statement.
	r = do(t, c, "GET", p.url("/api/selfcheck"), "", "")
	var rep struct {
		Results []struct{ ID, Verdict, Method, Detail string } `json:"results"`
	}
	json.Unmarshal([]byte(r.body), &rep)
	found := false
	for _, res := range rep.Results {
		if res.ID == "smartplug.reset-service" {
			found = true
			if res.Verdict != "PASS" || res.Method != "measured" {
				t.Errorf("smartplug.reset-service = %s %s: %s", res.Verdict, res.Method, res.Detail)
			}
		}
	}
	if !found {
		t.Error("no self-check smartplug.reset-service")
	}
	r = do(t, c, "GET", p.url("/api/ics"), "", "")
	var ics struct {
		Provisions []struct{ ID, Verdict, Basis string } `json:"provisions"`
	}
	json.Unmarshal([]byte(r.body), &ics)
	for _, e := range ics.Provisions {
		if e.ID == "5.11-2" && e.Verdict != "PASS" {
			t.Errorf("ICS 5.11-2 = %s (%s)", e.Verdict, e.Basis)
		}
	}

	// Consent given: telemetry flows.
	var priv privacyState
	r = do(t, c, "GET", p.url("/api/privacy"), "", "")
	if err := json.Unmarshal([]byte(r.body), &priv); err != nil || !priv.Configured {
		t.Fatalf("GET /api/privacy = %d %v %.300s", r.code, err, r.body)
	}
	if r := jsonDo(t, c, "POST", p.url("/api/privacy/consent"), map[string]string{"purpose": "usage-statistics", "decision": "give", "notice_sha256": priv.Notice.SHA256}); r.code != 200 {
		t.Fatalf("consent = %d %s", r.code, r.body)
	}
	var tel telemetryPayload
	openEnv(t, nextOn(t, got, telTopic), &tel)
	for _, dir := range []string{"privacy", "outbox"} {
		if ents, _ := os.ReadDir(filepath.Join(state, dir)); len(ents) == 0 {
			t.Fatalf("state/%s is empty before the reset: the test would prove nothing", dir)
		}
	}

	// The reset: the receipt names the service, its request pending.
	r = jsonDo(t, c, "POST", p.url("/api/reset"), map[string]string{"confirm": "RESET"})
	var res resetResponse
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.code != 200 {
		t.Fatalf("reset = %d %v %s", r.code, err, r.body)
	}
	rc, err := erase.VerifyReceipt([]byte(res.SignedReceipt), devicePub)
	if err != nil {
		t.Fatalf("receipt: %v", err)
	}
	if len(rc.Services) != 1 || rc.Services[0].Service != cloudService || rc.Services[0].Status != erase.Pending || rc.Complete() {
		t.Fatalf("receipt services %+v", rc.Services)
	}
	reqID := rc.Services[0].RequestID
	stores := map[string]bool{}
	for _, s := range rc.Stores {
		stores[s.Store] = s.Verified()
	}
	for _, s := range []string{"owner-login", "sign-in-log", "switch-state", "outbox", "consent", "update-settings"} {
		if !stores[s] {
			t.Errorf("store %s not erased and verified empty: %+v", s, rc.Stores)
		}
	}

	// The service receives the deletion request once the plug is back.
	var dr erase.DeletionRequest
	key := openEnv(t, nextOn(t, got, root+"/msg/erase.request"), &dr)
	if key != reqID || dr.RequestID != reqID || dr.ResetID != rc.ID || dr.Service != cloudService || dr.Type != erase.DefaultTopic {
		t.Fatalf("deletion request key %q %+v; receipt %s request %s", key, dr, rc.ID, reqID)
	}
	// Consent went with the reset: no more telemetry.
	quietOn(t, got, telTopic, 3*time.Second, "telemetry after the reset")
	if ents, err := os.ReadDir(filepath.Join(state, eraseQueueDir)); err != nil || len(ents) != 0 {
		t.Errorf("state/%s after delivery: %d files, %v", eraseQueueDir, len(ents), err)
	}
	if _, err := os.Stat(filepath.Join(state, "update", "policy.json")); err == nil {
		t.Error("update/policy.json survived the reset")
	}
	var left []string
	filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(state, path)
			left = append(left, rel)
		}
		return nil
	})
	t.Logf("state after the reset: %s", strings.Join(left, " "))

	// A confirmation without the service's signature is refused; the
	// signed one is recorded and reported.
	confirm := mqtt.CommandRequest{Device: devID, Name: cmdEraseConfirm,
		Args: json.RawMessage(fmt.Sprintf(`{"request_id":%q,"status":"completed","confirmation":"del-4711"}`, reqID))}
	unsigned, _ := mqtt.EncodeCommand(rand.Reader, nil, confirm)
	publishQoS1(t, svc, root+"/cmd", unsigned)
	confirm.Seq, confirm.Expires = 1, time.Now().Add(time.Minute)
	signed, err := mqtt.EncodeCommand(rand.Reader, cmdKey, confirm)
	if err != nil {
		t.Fatal(err)
	}
	publishQoS1(t, svc, root+"/cmd", signed)
	var cr commandResult
	openEnv(t, nextOn(t, got, root+"/msg/cmd.result"), &cr)
	if cr.Name != cmdEraseConfirm || !cr.OK || !cr.Signed || cr.Seq != 1 {
		t.Fatalf("erase.confirm result %+v", cr)
	}

	// The owner sets the plug up again with the label and sees the
	// service's confirmation with the last receipt.
	c = p.client(t)
	if !waitServing(t, p, c) {
		t.Fatal("the plug does not await setup after the reset")
	}
	if r := jsonDo(t, c, "POST", p.url("/api/setup"), map[string]string{"setup_secret": secret, "password": ownerPassword}); r.code != 200 {
		t.Fatalf("setup after the reset = %d %s", r.code, r.body)
	}
	r = do(t, c, "GET", p.url("/api/privacy"), "", "")
	priv = privacyState{}
	if err := json.Unmarshal([]byte(r.body), &priv); err != nil || len(priv.Purposes) == 0 {
		t.Fatalf("GET /api/privacy after the reset = %d %v", r.code, err)
	}
	for _, pp := range priv.Purposes {
		if pp.Given || pp.State != "not asked" {
			t.Errorf("consent for %s survived the reset: %s", pp.ID, pp.State)
		}
	}
	r = do(t, c, "GET", p.url("/api/reset"), "", "")
	var last lastResetResponse
	if err := json.Unmarshal([]byte(r.body), &last); err != nil || r.code != 200 || last.Receipt == nil {
		t.Fatalf("GET /api/reset = %d %v %s", r.code, err, r.body)
	}
	if rc2, err := erase.VerifyReceipt([]byte(last.SignedReceipt), devicePub); err != nil || rc2.ID != rc.ID {
		t.Fatalf("last receipt: %v", err)
	}
	s := last.Receipt.Services
	if len(s) != 1 || s[0].RequestID != reqID || s[0].Status != erase.Completed || s[0].Confirmation != "del-4711" || !last.Complete {
		t.Fatalf("service status after the confirmation: %+v complete=%v", s, last.Complete)
	}
	page = html.UnescapeString(do(t, c, "GET", p.url("/reset"), "", "").body)
	if !strings.Contains(page, "completed") || !strings.Contains(page, "del-4711") {
		t.Errorf("the Reset page does not show the service's confirmation:\n%.3000s", page)
	}
}
