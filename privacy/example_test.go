package privacy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/privacy"
)

const inventoryJSON = `{
  "schema": "baseline.privacy-inventory/v1",
  "notice_id": "acme-sp100-privacy", "version": "1", "language": "en",
  "product": "Acme SP-100 Smart Plug",
  "controller": {"name": "Acme Devices Ltd", "contact": "privacy@acme.example", "policy_url": "https://acme.example/privacy"},
  "sensors": [{"id": "meter", "kind": "power", "description": "Measures the power the appliance draws.",
               "indicator": "", "user_can_disable": false, "categories": ["energy-use"]}],
  "categories": [{"id": "energy-use", "name": "Energy use", "description": "When and how much electricity is used.",
                  "sensitive": false, "linked": true, "tracking": false, "source": "meter", "storage": ["cloud"]}],
  "purposes": [
    {"id": "report", "description": "Weekly energy report in the app.", "legal_basis": "contract",
     "categories": ["energy-use"], "recipients": ["acme-cloud"], "retention_days": 90},
    {"id": "analytics", "description": "Product improvement statistics.", "legal_basis": "consent",
     "categories": ["energy-use"], "recipients": ["acme-cloud"], "retention_days": 30}],
  "recipients": [{"id": "acme-cloud", "name": "Acme Cloud", "role": "controller", "country": "DE", "sold": false}]
}`

const schemaJSON = `{
  "schema": "baseline.telemetry-schema/v1",
  "fields": [
    {"name": "power_w", "description": "Power drawn, in watts.", "type": "number", "purpose": "report",
     "category": "energy-use", "recipient": "acme-cloud", "rule": {"kind": "coarsen", "step": 10}},
    {"name": "kwh_day", "description": "Energy used today.", "type": "number", "purpose": "analytics",
     "category": "energy-use", "recipient": "acme-cloud", "rule": {"kind": "bucket", "bounds": [1, 5, 10]}}
  ]
}`

// printer is the device's transport; here it prints what would be sent.
type printer struct{}

func (printer) Send(ctx context.Context, m privacy.Message) error {
	fmt.Printf("to %s: %s\n", m.Recipient, m.Body)
	return nil
}

// Example wires the package as a device does: inventory → notice, consent
// ledger, telemetry exporter asking the ledger before every record.
func Example() {
	ctx := context.Background()
	inv, err := privacy.DecodeInventory(strings.NewReader(inventoryJSON))
	if err != nil {
		panic(err)
	}
	notice, _ := privacy.NewNotice(inv)
	fmt.Println(strings.SplitN(notice.Text, "\n", 2)[0])

	// The device key signs the ledger; on a device it lives in a TPM or
	// the sealed secret store. The flash here is simulated.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ledger, err := privacy.OpenLedger(ctx, privacy.LedgerConfig{
		FS: durable.NewCrashFS(), Path: "/data/privacy/consent.log", Signer: key, Notice: notice,
	})
	if err != nil {
		panic(err)
	}
	defer ledger.Close()

	schema, _ := privacy.DecodeSchema(strings.NewReader(schemaJSON))
	exp, err := privacy.NewExporter(privacy.ExporterConfig{Notice: notice, Schema: schema, Consent: ledger, Transport: printer{}})
	if err != nil {
		panic(err)
	}
	rec := privacy.Record{"power_w": 1234.5, "kwh_day": 7.2, "wifi_ssid": "HomeNet"}

	exp.Export(ctx, "owner", rec) // no consent yet: analytics withheld

	receipt, _ := ledger.Record(ctx, privacy.Decision{Kind: privacy.Given, Subject: "owner", Purpose: "analytics", Method: "app", Notice: notice.Ref()})
	fmt.Println("receipt verifies:", privacy.VerifyReceipt(receipt, key.Public()) == nil)
	exp.Export(ctx, "owner", rec)

	ledger.Record(ctx, privacy.Decision{Kind: privacy.Withdrawn, Subject: "owner", Purpose: "analytics", Method: "app"})
	exp.Export(ctx, "owner", rec) // the next record after withdrawal

	st := exp.Stats()
	fmt.Printf("undeclared dropped: %d, withheld: %d\n", st.Undeclared, st.Withheld)
	// Output:
	// Privacy notice: Acme SP-100 Smart Plug
	// to acme-cloud: {"power_w":1230}
	// receipt verifies: true
	// to acme-cloud: {"power_w":1230,"kwh_day":"5-<10"}
	// to acme-cloud: {"power_w":1230}
	// undeclared dropped: 3, withheld: 2
}
