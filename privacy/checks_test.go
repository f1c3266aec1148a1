package privacy

import (
	"context"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
)

func runCheck(t *testing.T, c conformance.Checker) conformance.CheckResult {
	t.Helper()
	res := conformance.RunChecks(context.Background(), c)
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	if res[0].Method != conformance.Measured {
		t.Fatalf("%s is %s", res[0].ID, res[0].Method)
	}
	return res[0]
}

func TestNoticeCheck(t *testing.T) {
	n := exampleNotice(t)
	if r := runCheck(t, n); r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "3 personal-data categories, 3 purposes, 2 recipients (1 third parties), 2 sensors") {
		t.Fatalf("%+v", r)
	}
	edited := exampleNotice(t)
	edited.Text = strings.Replace(edited.Text, "Metrics Co", "no one", -1)
	if r := runCheck(t, edited); r.Verdict != conformance.Fail {
		t.Fatalf("hand-edited notice passed: %+v", r)
	}
	stale := exampleNotice(t)
	stale.HTML = strings.Replace(stale.HTML, "90 days", "7 days", 1)
	if r := runCheck(t, stale); r.Verdict != conformance.Fail {
		t.Fatalf("stale HTML passed: %+v", r)
	}
}

func TestLedgerCheck(t *testing.T) {
	base, n, c := buildLedger(t, 6)
	fsys := base.Reboot(durable.DropUnsynced)
	l := openLedger(t, ledgerConfig(t, fsys, n, c))
	r := runCheck(t, l)
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "6 events read back from flash, 7 ECDSA P-256 signatures verified") {
		t.Fatalf("%+v", r)
	}
	if l.Len() != 6 {
		t.Fatal("the check recorded an event")
	}
	// A flipped byte on flash under the running ledger fails it, naming the record.
	b := fsys.Contents()[ledgerPath]
	offs, _ := frames(t, b)
	f, _ := fsys.OpenFile(ledgerPath, 2, 0)
	f.Seek(int64(offs[4]+25), 0)
	f.Write([]byte{b[offs[4]+25] ^ 0x10})
	f.Close()
	if r := runCheck(t, l); r.Verdict != conformance.Fail || !strings.Contains(r.Detail, "record 4") {
		t.Fatalf("damaged ledger: %+v", r)
	}
}

func TestTelemetryCheck(t *testing.T) {
	tr := &capture{}
	e := newExporter(t, allowAll(true), tr)
	r := runCheck(t, e)
	if r.Verdict != conformance.Pass || !strings.Contains(r.Observed, "5 declared fields (3 need consent, 1 never sent); probe with an undeclared field: 2 fields out without consent, 4 with") {
		t.Fatalf("%+v", r)
	}
	if len(tr.take()) != 0 || e.Stats().Records != 0 {
		t.Fatal("the check sent telemetry or touched the counters")
	}
	idx := func(name string) int { return e.fields[name] }
	breaks := map[string]func(e *Exporter){
		"pseudonym rule lost": func(e *Exporter) { e.specs[idx("device_id")].Rule.Kind = RuleKeep },
		"consent not asked":   func(e *Exporter) { e.specs[idx("energy_kwh_day")].consent = false },
		"bucket rule lost":    func(e *Exporter) { e.specs[idx("energy_kwh_day")].Rule.Kind = RuleKeep },
		"drop rule lost":      func(e *Exporter) { e.specs[idx("motion_count")].Rule.Kind = RuleKeep },
		"manifest stale":      func(e *Exporter) { e.manifest.Fields[0].Minimisation = "sent as measured" },
	}
	for name, br := range breaks {
		t.Run(name, func(t *testing.T) {
			e := newExporter(t, allowAll(true), &capture{})
			br(e)
			if r := runCheck(t, e); r.Verdict != conformance.Fail {
				t.Fatalf("broken exporter passed: %+v", r)
			}
		})
	}
}
