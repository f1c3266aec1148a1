package privacy

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
)

func exampleJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exampleInventory(t testing.TB) *Inventory {
	t.Helper()
	inv, err := DecodeInventory(bytes.NewReader(exampleJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func exampleNotice(t testing.TB) *Notice {
	t.Helper()
	n, err := NewNotice(exampleInventory(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInventoryRefusedWithField(t *testing.T) {
	cases := []struct {
		name, field string
		mutate      func(*Inventory)
	}{
		{"wrong schema", "schema", func(i *Inventory) { i.Schema = "v0" }},
		{"bad notice id", "notice_id", func(i *Inventory) { i.NoticeID = "Acme Notice" }},
		{"no version", "version", func(i *Inventory) { i.Version = "" }},
		{"bad language", "language", func(i *Inventory) { i.Language = "english" }},
		{"http policy", "controller.policy_url", func(i *Inventory) { i.Controller.PolicyURL = "http://acme.example/privacy" }},
		{"bad contact", "controller.contact", func(i *Inventory) { i.Controller.Contact = "call us" }},
		{"unknown legal basis", "purposes[1].legal_basis", func(i *Inventory) { i.Purposes[1].LegalBasis = "because" }},
		{"unknown category", "purposes[0].categories[0]", func(i *Inventory) { i.Purposes[0].Categories[0] = "mood" }},
		{"unknown recipient", "purposes[1].recipients[1]", func(i *Inventory) { i.Purposes[1].Recipients[1] = "data-broker" }},
		{"repeated reference", "purposes[1].recipients[1]", func(i *Inventory) { i.Purposes[1].Recipients[1] = "acme-cloud" }},
		{"negative retention", "purposes[0].retention_days", func(i *Inventory) { i.Purposes[0].RetentionDays = -1 }},
		{"category for no purpose", "categories[2]", func(i *Inventory) { i.Purposes[1].Categories = []string{"energy-use"} }},
		{"repeated category", "categories[1].id", func(i *Inventory) { i.Categories[1].ID = "energy-use" }},
		{"unknown source", "categories[0].source", func(i *Inventory) { i.Categories[0].Source = "camera" }},
		{"no storage", "categories[0].storage", func(i *Inventory) { i.Categories[0].Storage = nil }},
		{"bad storage", "categories[0].storage[1]", func(i *Inventory) { i.Categories[0].Storage[1] = "usb" }},
		{"bidi override", "categories[0].description", func(i *Inventory) { i.Categories[0].Description = "safe \u202e" }},
		{"control char", "categories[0].name", func(i *Inventory) { i.Categories[0].Name = "a\x07b" }},
		{"bad role", "recipients[1].role", func(i *Inventory) { i.Recipients[1].Role = "partner" }},
		{"bad country", "recipients[0].country", func(i *Inventory) { i.Recipients[0].Country = "Germany" }},
		{"unknown sensor kind", "sensors[0].kind", func(i *Inventory) { i.Sensors[0].Kind = "x-ray" }},
		{"sensor unknown category", "sensors[1].categories[0]", func(i *Inventory) { i.Sensors[1].Categories[0] = "faces" }},
		{"sensor no description", "sensors[0].description", func(i *Inventory) { i.Sensors[0].Description = "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := exampleInventory(t)
			c.mutate(inv)
			err := inv.Validate()
			var ie *InventoryError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInventory) {
				t.Fatalf("got %v, want an InventoryError", err)
			}
			if ie.Field != c.field {
				t.Fatalf("field %q, want %q (%v)", ie.Field, c.field, err)
			}
			if _, err := NewNotice(inv); err == nil {
				t.Fatal("NewNotice accepted an invalid inventory")
			}
		})
	}
}

func TestDecodeInventoryStrict(t *testing.T) {
	good := exampleJSON(t)
	cases := []struct {
		name, doc, field string
	}{
		{"unknown field", strings.Replace(string(good), `"version": "3",`, `"version": "3", "colour": "red",`, 1), "colour"},
		{"repeated field", strings.Replace(string(good), `"version": "3",`, `"version": "3", "version": "4",`, 1), "version"},
		{"unknown nested field", strings.Replace(string(good), `"sold": false}`, `"sold": false, "price": 3}`, 1), "recipients[0].price"},
		{"repeated nested field", strings.Replace(string(good), `"sold": false}`, `"sold": false, "sold": true}`, 1), "recipients[0].sold"},
		{"wrong type", strings.Replace(string(good), `"retention_days": 90`, `"retention_days": "90"`, 1), "purposes.retention_days"},
		{"trailing data", string(good) + `{}`, ""},
		{"truncated", string(good[:len(good)/2]), "categories[1].linked"},
		{"too large", string(good) + strings.Repeat(" ", MaxInventorySize), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeInventory(strings.NewReader(c.doc))
			var ie *InventoryError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an InventoryError", err)
			}
			if ie.Field != c.field {
				t.Fatalf("field %q, want %q (%v)", ie.Field, c.field, err)
			}
		})
	}
	if _, err := DecodeInventory(bytes.NewReader(append(good, "\n\t "...))); err != nil {
		t.Fatalf("trailing white space refused: %v", err)
	}
}

func TestNoticeSaysWhatTheInventoryDeclares(t *testing.T) {
	n := exampleNotice(t)
	for _, want := range []string{
		"Privacy notice: Acme SP-100 Smart Plug",
		"Notice acme-sp100-privacy, version 3, language en",
		"- power: Measures the electricity drawn",
		"How you can tell it is on: nothing on the device shows it. You can switch it off: no.",
		"- Presence at home: Whether someone moved in the room, by the hour.\n  sensitive; linked to you; kept on the device; from the motion sensor.",
		"Based on: your consent. You can refuse it, and withdraw it at any time",
		"Received by: Acme Cloud (us, DE); Metrics Co (third party, US).",
		"Received by: no one; it stays on the device.",
		"Kept: 90 days.",
		"Third parties\n- Metrics Co (third party, US)\n",
	} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, n.Text)
		}
	}
	for _, want := range []string{
		"<h1>Privacy notice: Acme SP-100 Smart Plug</h1>",
		"<dt>power</dt><dd>Measures the electricity drawn",
		"<dt>Presence at home</dt><dd>Whether someone moved in the room, by the hour.<br>sensitive; linked to you; kept on the device; from the motion sensor.</dd>",
		"Received by: Acme Cloud (us, DE); Metrics Co (third party, US).",
		"<li>Metrics Co (third party, US)</li>",
		"Notice acme-sp100-privacy, version 3, language en.",
	} {
		if !strings.Contains(n.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if !strings.Contains(n.HTML, n.Hash()) {
		t.Error("HTML does not show the notice's digest")
	}
	n2 := exampleNotice(t)
	if n2.Text != n.Text || n2.SHA256 != n.SHA256 || n2.HTML != n.HTML {
		t.Fatal("the same inventory gave two different notices")
	}
}

func TestNoticeAndLabelChangeWithInventory(t *testing.T) {
	base := exampleNotice(t)
	baseLabel := labelJSON(t, NewLabel(base, nil))
	changes := map[string]func(*Inventory){
		"retention":        func(i *Inventory) { i.Purposes[0].RetentionDays = 365 },
		"recipient sold":   func(i *Inventory) { i.Recipients[1].Sold = true },
		"sensor indicator": func(i *Inventory) { i.Sensors[0].Indicator = "a red LED" },
		"legal basis":      func(i *Inventory) { i.Purposes[0].LegalBasis = BasisLegitimateInterests },
		"new category": func(i *Inventory) {
			i.Categories = append(i.Categories, Category{ID: "voice", Name: "Voice", Description: "Voice commands.", Source: "user", Storage: []string{"cloud"}})
			i.Purposes[1].Categories = append(i.Purposes[1].Categories, "voice")
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			inv := exampleInventory(t)
			change(inv)
			n, err := NewNotice(inv)
			if err != nil {
				t.Fatal(err)
			}
			if n.SHA256 == base.SHA256 || n.Text == base.Text || n.HTML == base.HTML {
				t.Fatal("notice did not change with the inventory")
			}
			if labelJSON(t, NewLabel(n, nil)) == baseLabel {
				t.Fatal("label did not change with the inventory")
			}
		})
	}
	// The notice is a copy: changing the inventory afterwards changes nothing.
	inv := exampleInventory(t)
	n, _ := NewNotice(inv)
	inv.Purposes[0].Description = "something else"
	if n.Inventory().Purposes[0].Description == "something else" {
		t.Fatal("notice shares the caller's inventory")
	}
}

func TestNoticeHTMLEscapesInventoryText(t *testing.T) {
	inv := exampleInventory(t)
	inv.Categories[0].Description = `<script>alert(1)</script> & "quotes"`
	inv.Controller.Name = `<img src=x onerror=alert(1)>`
	n, err := NewNotice(inv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(n.HTML, "<script") || strings.Contains(n.HTML, "<img") {
		t.Fatalf("markup from the inventory reached the page:\n%s", n.HTML)
	}
	if !strings.Contains(n.HTML, "&lt;script&gt;") {
		t.Fatal("escaped text missing")
	}
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/privacy?format=text", nil))
	if rec.Body.String() != n.Text || rec.Header().Get("ETag") != `"`+n.Hash()+`"` {
		t.Fatal("handler did not serve the text form with its digest")
	}
	rec = httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/privacy", nil))
	if rec.Body.String() != n.HTML || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatal("handler did not serve the HTML form under a strict CSP")
	}
}

func labelJSON(t *testing.T, l *Label) string {
	t.Helper()
	var b bytes.Buffer
	if err := l.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLabelValidatesAgainstPublishedSchema(t *testing.T) {
	prof := &conformance.Profile{Manufacturer: "Acme Devices Ltd", Model: "SP-100", FirmwareVersion: "1.2.0", SupportPeriodEnd: "2031-12-31",
		VulnerabilityDisclosure: conformance.Disclosure{Contact: "mailto:security@acme.example", PolicyURL: "https://acme.example/security"}}
	n := exampleNotice(t)
	for _, p := range []*conformance.Profile{nil, prof} {
		if _, err := DecodeLabel(strings.NewReader(labelJSON(t, NewLabel(n, p)))); err != nil {
			t.Fatalf("label does not validate: %v", err)
		}
	}
	l := NewLabel(n, prof)
	dp := l.DataPractices
	if !dp.SharedWithThirdParties || dp.Sold || dp.Tracking || !slices.Equal(dp.OtherCollectedData, []string{"device-id"}) ||
		!slices.Equal(dp.StoredInCloud, []string{"energy-use", "device-id"}) || len(dp.SensorDataCollection) != 2 ||
		l.Security.SecurityUpdatesUntil != "2031-12-31" || dp.DataTypes[0].RetentionDays != 90 ||
		!slices.Equal(dp.DataTypes[0].SharedWith, []string{"acme-cloud", "metrics-co"}) {
		t.Fatalf("label does not say what the inventory declares: %+v", l)
	}
}
