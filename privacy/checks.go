package privacy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// Checks returns the notice's self-check "privacy.notice" (6-1, 5.8-3),
// measured: the notice is fetched through its own [Notice.Handler], as a
// user's browser would, in both forms, and compared with a notice rendered
// afresh from the inventory it was built from; it fails when what the
// device serves is not what its inventory declares (a hand-edited or stale
// text), and reports what the inventory declares.
func (n *Notice) Checks() []conformance.Check {
	return []conformance.Check{{
		ID: "privacy.notice", Method: conformance.Measured, Provisions: []string{"6-1", "5.8-3"},
		Title: "The privacy notice served says which personal data is processed, why, by whom and how each sensor senses, as the device's inventory declares",
		Run: func(ctx context.Context) conformance.Result {
			fresh, err := NewNotice(n.inv)
			if err != nil {
				return conformance.Result{Verdict: conformance.Fail, Detail: "the inventory in force does not validate: " + err.Error()}
			}
			get := func(query string) (string, string) {
				req, err := http.NewRequestWithContext(ctx, "GET", "/privacy"+query, nil)
				if err != nil {
					return "", ""
				}
				var rec recorder
				n.Handler().ServeHTTP(&rec, req)
				return rec.body.String(), rec.Header().Get("ETag")
			}
			text, etag := get("?format=text")
			html, _ := get("")
			inv := n.inv
			third := 0
			for _, r := range inv.Recipients {
				if r.Role == RoleThirdParty {
					third++
				}
			}
			obs := fmt.Sprintf("notice %s v%s sha256:%.16s…: %d personal-data categories, %d purposes, %d recipients (%d third parties), %d sensors",
				n.ID, n.Version, fresh.Hash(), len(inv.Categories), len(inv.Purposes), len(inv.Recipients), third, len(inv.Sensors))
			switch {
			case text != fresh.Text:
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the text served differs from the notice the inventory gives"}
			case html != fresh.HTML:
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the HTML page served differs from the notice the inventory gives"}
			case n.SHA256 != fresh.SHA256 || etag != `"`+fresh.Hash()+`"`:
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the notice's digest does not match its text: consent would be bound to the wrong notice"}
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: obs + "; text and HTML served match the inventory"}
		},
	}}
}

// Checks returns the ledger's self-check "privacy.consent-ledger" (6-2,
// 6-3), measured: the whole ledger is read back from flash and verified
// end to end ([Ledger.Verify]: strict decoding, sequence, hash chain,
// acknowledged head, every record's signature, and that flash holds what
// the device wrote). It fails on the first bad record. It records no
// event of its own.
func (l *Ledger) Checks() []conformance.Check {
	return []conformance.Check{{
		ID: "privacy.consent-ledger", Method: conformance.Measured, Provisions: []string{"6-2", "6-3"},
		Title: "Consent decisions are kept in a signed, hash-chained ledger bound to the notice shown, and withdrawal is honoured",
		Run: func(ctx context.Context) conformance.Result {
			res, err := l.Verify(ctx)
			if ctx.Err() != nil {
				return conformance.Result{Verdict: conformance.NotRun, Detail: "verification interrupted: " + ctx.Err().Error()}
			}
			if err != nil {
				return conformance.Result{Verdict: conformance.Fail, Detail: err.Error()}
			}
			l.smu.RLock()
			given := 0
			for _, ev := range l.state {
				if ev.Kind == Given {
					given++
				}
			}
			decisions := len(l.state)
			l.smu.RUnlock()
			obs := fmt.Sprintf("%d events read back from flash, %d %s signatures verified, hash chain and acknowledged head intact (head %x…); %d subject/purpose decisions, %d consents given; notice in force %s v%s",
				res.Records-1, res.Signatures, keyName(l.pub), res.Head[:8], decisions, given, l.ref.ID, l.ref.Version)
			return conformance.Result{Verdict: conformance.Pass, Observed: obs}
		},
	}}
}

func keyName(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "RSA"
}

// probeField is the undeclared field the telemetry check pushes through
// the exporter's filter; it must never come out.
const probeField = "baseline_selfcheck_undeclared"

// Checks returns the exporter's self-check "privacy.telemetry" (6-4, 6-5),
// measured: a probe record holding every declared field and an undeclared
// one goes through the exporter's own filter — the code every Export
// runs — once with consent refused and once with it given, without being
// sent and without touching the counters. It fails if the undeclared field,
// a dropped field, a raw value under a pseudonym, or a consent-based field
// without consent comes out, or if the manifest the device shows is not
// the one its schema gives.
func (e *Exporter) Checks() []conformance.Check {
	return []conformance.Check{{
		ID: "privacy.telemetry", Method: conformance.Measured, Provisions: []string{"6-4", "6-5"},
		Title: "Telemetry sends only declared, minimised fields, only with consent where consent is the basis, and the manifest matches",
		Run:   e.checkTelemetry,
	}}
}

func (e *Exporter) checkTelemetry(ctx context.Context) conformance.Result {
	const marker = "SELFCHECK-RAW-4f1c"
	rec := Record{probeField: marker}
	for _, s := range e.specs {
		switch s.Type {
		case TypeString:
			rec[s.Name] = marker
		case TypeNumber:
			rec[s.Name] = 123456.789
		case TypeInteger:
			rec[s.Name] = 987654321
		case TypeBool:
			rec[s.Name] = true
		case TypeTime:
			rec[s.Name] = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		}
	}
	// What comes out is judged against the declaration (the schema and the
	// notice's inventory), not against the filter's own tables.
	type decl struct {
		Field
		consent bool
	}
	declared := map[string]decl{}
	for _, f := range e.schema.Fields {
		p, _ := e.cfg.Notice.inv.Purpose(f.Purpose)
		declared[f.Name] = decl{f, p.LegalBasis == BasisConsent}
	}
	var bad []string
	var sentWith, sentWithout int
	for _, allowed := range []bool{false, true} {
		var c counts
		msgs := e.prepare(ctx, "baseline-selfcheck", rec, allowAllChecker(allowed), &c)
		if c.undeclared != 1 {
			bad = append(bad, fmt.Sprintf("the undeclared probe field was counted %d times, not once", c.undeclared))
		}
		for _, m := range msgs {
			var body map[string]json.RawMessage
			if err := json.Unmarshal(m.Body, &body); err != nil {
				bad = append(bad, "a message body is not a JSON object")
				continue
			}
			for name, v := range body {
				d, ok := declared[name]
				switch {
				case !ok:
					bad = append(bad, "undeclared field "+name+" came out")
				case d.Rule.Kind == RuleDrop:
					bad = append(bad, "dropped field "+name+" came out")
				case d.consent && !allowed:
					bad = append(bad, "field "+name+" came out without consent")
				case d.Recipient != m.Recipient:
					bad = append(bad, "field "+name+" went to "+m.Recipient)
				case d.Rule.Kind == RulePseudonym && (bytes.Contains(v, []byte(marker)) || bytes.Contains(v, []byte("987654321"))):
					bad = append(bad, "field "+name+" came out unpseudonymised")
				case d.Rule.Kind == RuleBucket || d.Rule.Kind == RuleCoarsen:
					if bytes.Contains(v, []byte("123456.789")) || bytes.Contains(v, []byte("987654321")) {
						bad = append(bad, "field "+name+" came out unminimised")
					}
				}
			}
			if allowed {
				sentWith += len(body)
			} else {
				sentWithout += len(body)
			}
		}
	}
	fresh, err := NewManifest(e.cfg.Notice, e.schema)
	if err != nil {
		bad = append(bad, "the schema no longer fits the notice: "+err.Error())
	} else {
		var a, b bytes.Buffer
		fresh.WriteJSON(&a)
		e.manifest.WriteJSON(&b)
		if a.String() != b.String() {
			bad = append(bad, "the manifest shown differs from the one the schema gives")
		}
	}
	consentFields, dropFields := 0, 0
	for _, s := range e.specs {
		if s.consent {
			consentFields++
		}
		if s.Rule.Kind == RuleDrop {
			dropFields++
		}
	}
	st := e.Stats()
	obs := fmt.Sprintf("%d declared fields (%d need consent, %d never sent); probe with an undeclared field: %d fields out without consent, %d with; manifest sha256 of schema %.16s…; since start %d records, %d undeclared and %d withheld fields dropped",
		len(e.specs), consentFields, dropFields, sentWithout, sentWith, e.manifest.SchemaSHA256, st.Records, st.Undeclared, st.Withheld)
	if len(bad) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: strings.Join(bad, "; ")}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}

type allowAllChecker bool

func (a allowAllChecker) Allowed(context.Context, string, string) bool { return bool(a) }

// recorder is the response writer the notice check serves into (the
// device's own handler, called in process, as a browser's request would
// reach it); net/http/httptest is not linked into device firmware.
type recorder struct {
	hdr  http.Header
	body bytes.Buffer
}

func (r *recorder) Header() http.Header {
	if r.hdr == nil {
		r.hdr = http.Header{}
	}
	return r.hdr
}
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}
