package conformance

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleReportJSON(t testing.TB) []byte {
	t.Helper()
	rs := RunChecks(context.Background(), liveChecker{memoryKiB: 19456})
	var buf bytes.Buffer
	if err := NewReport("SP-100", "1.0.0", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), rs).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeReportRoundTrip(t *testing.T) {
	data := sampleReportJSON(t)
	rep, err := DecodeReport(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Model != "SP-100" || len(rep.Results) != 3 || rep.Results[0].ID != "auth.hash-params" || rep.Results[0].Method != Configured {
		t.Fatalf("decoded %+v", rep)
	}
	// Attached, the results back the provisions they cover.
	s := NewStatement(exampleProfile(t))
	s.Attach(rep.Results)
	if e, _ := s.Entry("5.1-3"); e.Verdict != Pass || e.Basis != BasisConfigured {
		t.Errorf("5.1-3 from a decoded report: %s %s", e.Verdict, e.Basis)
	}
}

func TestDecodeReportRefuses(t *testing.T) {
	good := string(sampleReportJSON(t))
	tests := map[string]string{
		"trailing brace":   good + "}",
		"trailing bracket": good + "]",
		"second value":     good + "{}",
		"unknown field":    strings.Replace(good, `"model"`, `"modle": 1, "model"`, 1),
		"bad verdict":      strings.Replace(good, `"verdict": "PASS"`, `"verdict": "OK"`, 1),
		"bad method":       strings.Replace(good, `"method": "configured"`, `"method": "tested"`, 1),
		"no method":        strings.Replace(good, `"method": "configured",`, ``, 1),
		"no id":            strings.Replace(good, `"id": "auth.hash-params"`, `"id": ""`, 1),
		"no provisions": strings.Replace(good, `"provisions": [
        "5.1-3"
      ]`, `"provisions": []`, 1),
		"control char":  strings.Replace(good, `"SP-100"`, `"SP-100\u001b[2J"`, 1),
		"not json":      "<html>login</html>",
		"invalid utf8":  strings.Replace(good, "SP-100", "SP-\xff", 1),
		"huge":          good[:len(good)-2] + `, "x": "` + strings.Repeat("a", MaxReportSize) + `"}`,
		"wrong type":    strings.Replace(good, `"ok": false`, `"ok": "yes"`, 1),
		"empty":         "",
		"null document": "null",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if in == good {
				t.Fatal("the mutation did not apply")
			}
			rep, err := DecodeReport(strings.NewReader(in))
			if err == nil && name == "null document" && rep != nil && len(rep.Results) == 0 {
				return // an empty report is a report without results
			}
			if err == nil {
				t.Fatalf("accepted: %+v", rep)
			}
			if !errors.Is(err, ErrReport) {
				t.Errorf("error %v does not wrap ErrReport", err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error echoes too much input: %d bytes", len(err.Error()))
			}
		})
	}
}

func FuzzDecodeReport(f *testing.F) {
	f.Add(sampleReportJSON(f))
	f.Add([]byte(`{"results":[{"id":"a","provisions":["5.1-1"],"verdict":"PASS","method":"measured"}]}`))
	f.Add([]byte(`{}}`))
	f.Add(append(sampleReportJSON(f), ']'))
	f.Add(append(sampleReportJSON(f), ` {}`...))
	f.Add([]byte(`{"a":1}}`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`{"a":1} {"b":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := DecodeReport(bytes.NewReader(data))
		if err != nil {
			if rep != nil {
				t.Fatal("a report returned with an error")
			}
			return
		}
		for _, r := range rep.Results {
			if !r.Verdict.Valid() || (r.Method != Measured && r.Method != Configured) || r.ID == "" {
				t.Fatalf("invalid result accepted: %+v", r)
			}
		}
		// What decodes re-encodes and decodes to the same results.
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeReport(&buf)
		if err != nil {
			t.Fatalf("re-encoded report refused: %v", err)
		}
		if len(again.Results) != len(rep.Results) {
			t.Fatal("results changed in a round trip")
		}
		NewStatement(&Profile{}).Attach(rep.Results)
	})
}
