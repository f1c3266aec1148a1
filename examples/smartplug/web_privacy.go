package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/privacy"
)

// privacyRoutes are the owner's privacy settings: consent per purpose
// (given and withdrawn through the signed, crash-safe consent ledger, each
// decision shown with the notice text it was made on), the telemetry
// manifest (what is sent, why, to whom, how minimised and how often) and
// the log of what was handed to the link. All need the owner's session.
func (d *device) privacyRoutes() []route {
	owner := auth.Require(ownerScope)
	return []route{
		{"GET /privacy/settings", owner, d.privacySettingsPage},
		{"POST /privacy/consent", owner, d.consentForm},
		{"GET /privacy/receipt/{seq}", owner, d.consentReceipt},
		{"GET /api/privacy", owner, d.apiPrivacy},
		{"POST /api/privacy/consent", owner, d.apiConsent},
	}
}

// consentPurpose is one purpose that rests on consent, as the owner sees
// it.
type consentPurpose struct {
	ID            string    `json:"id"`
	Description   string    `json:"description"`
	Recipients    []string  `json:"recipients"`
	RetentionDays int       `json:"retention_days"`
	Fields        []string  `json:"fields"`
	Given         bool      `json:"given"`
	State         string    `json:"state"` // "given", "refused", "withdrawn", "expired" or "not asked"
	Since         time.Time `json:"since,omitzero"`
	Receipt       uint64    `json:"receipt_seq,omitempty"`
}

// sentMessage is one entry of the exporter's log of what it handed to the
// link, its body as text.
type sentMessage struct {
	At        time.Time `json:"at"`
	Recipient string    `json:"recipient"`
	Purposes  []string  `json:"purposes"`
	Body      string    `json:"body"`
}

// privacyState is the data of the settings page and GET /api/privacy.
type privacyState struct {
	Notice     privacy.NoticeRef   `json:"notice"`
	Purposes   []consentPurpose    `json:"purposes"`
	Service    string              `json:"service"` // the link in words
	Configured bool                `json:"service_configured"`
	Interval   string              `json:"telemetry_interval"`
	Manifest   *privacy.Manifest   `json:"manifest"`
	Sent       []sentMessage       `json:"sent"`
	Stats      privacy.ExportStats `json:"export_stats"`
}

func (d *device) privacyState(ctx context.Context) privacyState {
	t := d.cloud.tel
	inv := d.notice.Inventory()
	st := privacyState{Notice: d.notice.Ref(), Service: d.cloud.describe(), Configured: d.cloud.configured(),
		Interval: t.period().String(), Manifest: t.exp.Manifest(), Stats: t.exp.Stats()}
	for _, e := range t.exp.Sent() {
		st.Sent = append(st.Sent, sentMessage{At: e.At, Recipient: e.Recipient, Purposes: e.Purposes, Body: string(e.Body)})
	}
	for _, p := range inv.Purposes {
		if p.LegalBasis != privacy.BasisConsent {
			continue
		}
		cp := consentPurpose{ID: p.ID, Description: p.Description, RetentionDays: p.RetentionDays, State: "not asked"}
		for _, r := range p.Recipients {
			if rc, ok := inv.Recipient(r); ok {
				cp.Recipients = append(cp.Recipients, rc.Name)
			}
		}
		for _, f := range st.Manifest.Fields {
			if f.Purpose == p.ID && f.Sent {
				cp.Fields = append(cp.Fields, f.Name)
			}
		}
		if ev, ok := t.ledger.Latest(consentSubject, p.ID); ok {
			cp.State, cp.Since, cp.Receipt = ev.Kind.String(), ev.At, ev.Seq
		}
		cp.Given = t.ledger.Allowed(ctx, consentSubject, p.ID)
		if cp.State == "given" && !cp.Given {
			cp.State = "given on an earlier notice: asked again"
		}
		st.Purposes = append(st.Purposes, cp)
	}
	return st
}

// privacyPage is the settings page's data.
type privacyPage struct {
	*page
	Privacy    privacyState
	NoticeText string
	Receipt    uint64
}

func (d *device) privacySettingsPage(w http.ResponseWriter, r *http.Request) {
	p := &privacyPage{page: d.page(r, "Privacy"), Privacy: d.privacyState(r.Context()), NoticeText: d.notice.Text}
	switch r.URL.Query().Get("done") {
	case "given":
		p.Notice = "Your consent was recorded."
	case "withdrawn":
		p.Notice = "Your consent was withdrawn. The plug sends nothing more for this purpose."
	}
	if n, err := strconv.ParseUint(r.URL.Query().Get("receipt"), 10, 64); err == nil && n > 0 && n <= uint64(d.cloud.tel.ledger.Len()) {
		p.Receipt = n
	}
	d.renderPrivacy(w, p)
}

func (d *device) renderPrivacy(w http.ResponseWriter, p *privacyPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var hw htmlw
	privacySettingsPage(&hw, p)
	w.Write(hw.b.Bytes())
}

// consentForm takes purpose, decision (give or withdraw) and the SHA-256
// of the notice the page showed.
func (d *device) consentForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "purpose", "decision", "notice")
	var rc *privacy.Receipt
	if err == nil {
		rc, err = d.decideConsent(r, f["purpose"], f["decision"], f["notice"])
	}
	if err != nil {
		p := &privacyPage{page: d.page(r, "Privacy"), Privacy: d.privacyState(r.Context()), NoticeText: d.notice.Text}
		p.Error = consentMessage(err)
		w.WriteHeader(consentStatus(err))
		d.renderPrivacy(w, p)
		return
	}
	done := "given"
	if rc.Event.State != privacy.Given {
		done = "withdrawn"
	}
	http.Redirect(w, r, "/privacy/settings?done="+done+"&receipt="+strconv.FormatUint(rc.Proof.Seq, 10), http.StatusSeeOther)
}

var errDecisionWord = &formError{"The decision must be give or withdraw."}

func (d *device) decideConsent(r *http.Request, purpose, decision, noticeHash string) (*privacy.Receipt, error) {
	if decision != "give" && decision != "withdraw" {
		return nil, errDecisionWord
	}
	return d.cloud.tel.decide(r.Context(), purpose, decision == "give", noticeHash)
}

func consentMessage(err error) string {
	switch {
	case errors.Is(err, errNoticeChanged), errors.Is(err, privacy.ErrNoticeMismatch):
		return "The privacy notice changed since this page was shown. Read it again below and decide again."
	case errors.Is(err, privacy.ErrNotConsentPurpose), errors.Is(err, privacy.ErrDecision):
		return "That purpose does not exist or does not rest on consent."
	case errors.Is(err, errDecisionWord):
		return errDecisionWord.msg
	}
	var fe *formError
	if errors.As(err, &fe) {
		return fe.msg
	}
	// A withdrawal takes effect before it is written (see privacy.Ledger).
	return "The plug could not save the decision. A withdrawal is in effect until the plug restarts; please try again."
}

func consentStatus(err error) int {
	var fe *formError
	switch {
	case errors.Is(err, errNoticeChanged), errors.Is(err, privacy.ErrNoticeMismatch):
		return http.StatusConflict
	case errors.Is(err, privacy.ErrNotConsentPurpose), errors.Is(err, privacy.ErrDecision), errors.As(err, &fe):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// consentReceipt serves the signed receipt of one ledger event as JSON
// (privacy.VerifyReceipt checks it against the plug's public key).
func (d *device) consentReceipt(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 || seq > uint64(d.cloud.tel.ledger.Len()) {
		writeJSONError(w, http.StatusNotFound, "no such receipt")
		return
	}
	rc, err := d.cloud.tel.ledger.Receipt(r.Context(), seq)
	if err != nil {
		d.log.Error("consent receipt", "seq", seq, "err", err)
		writeJSONError(w, http.StatusInternalServerError, "the receipt could not be read")
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

func (d *device) apiPrivacy(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.privacyState(r.Context()))
}

func (d *device) apiConsent(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Purpose      string `json:"purpose"`
		Decision     string `json:"decision"`
		NoticeSHA256 string `json:"notice_sha256"`
	}
	if !decode(w, r, &req) {
		return
	}
	rc, err := d.decideConsent(r, req.Purpose, req.Decision, strings.ToLower(req.NoticeSHA256))
	if err != nil {
		writeJSONError(w, consentStatus(err), consentMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, rc)
}
