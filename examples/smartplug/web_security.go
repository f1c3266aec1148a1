package main

import (
	"net/http"
	"slices"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/privacy"
)

// securityRoutes are the owner's Security page and its API: recent
// security events, the anomaly alerts, and the switch of the log.
func (d *device) securityRoutes() []route {
	owner := auth.Require(ownerScope)
	return []route{
		{"GET /security", owner, d.securityPage},
		{"POST /security/logging", owner, d.securityLoggingForm},
		{"GET /api/security", owner, d.apiSecurity},
	}
}

// secEventView is one event as the owner sees it.
type secEventView struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Source string    `json:"source"`
	Detail string    `json:"detail"`
}

// secAlertView is one alert as the owner sees it.
type secAlertView struct {
	At     time.Time `json:"at"`
	Metric string    `json:"metric"`
	Raised bool      `json:"raised"`
	Value  float64   `json:"value"`
	Median float64   `json:"median"`
	Reason string    `json:"reason"`
}

// securityState is the data of the Security page and GET /api/security.
type securityState struct {
	Enabled      bool           `json:"logging_enabled"`
	Events       []secEventView `json:"events"` // newest first, at most 200
	Alerts       []secAlertView `json:"alerts"` // newest first
	Active       []string       `json:"active_alerts"`
	Queued       int            `json:"alerts_queued_for_service"`
	Dropped      int            `json:"alerts_dropped"`
	Service      bool           `json:"service_configured"`
	LogDamaged   string         `json:"log_damaged_at_start,omitempty"`
	FailuresHour int            `json:"login_failures_last_hour"`
}

func (d *device) securityState() securityState {
	s := securityState{Enabled: d.sec.log.Enabled(), Active: d.sec.mon.Active(), Service: d.cloud != nil && d.cloud.configured(),
		FailuresHour: d.sec.log.Count(privacy.SecLoginFailed, time.Now().Add(-time.Hour))}
	s.Queued, s.Dropped = d.sec.mon.Pending()
	evs := d.sec.log.Events()
	for i := len(evs) - 1; i >= 0 && len(s.Events) < 200; i-- {
		e := evs[i]
		s.Events = append(s.Events, secEventView{Seq: e.Seq, At: e.At, Kind: e.Kind, Source: e.Source, Detail: e.Detail})
	}
	d.sec.mu.Lock()
	for _, a := range slices.Backward(d.sec.alerts) {
		s.Alerts = append(s.Alerts, secAlertView{At: a.At, Metric: a.Metric, Raised: a.Raised, Value: a.Value, Median: a.Median, Reason: a.Reason})
	}
	s.LogDamaged = d.sec.damaged
	d.sec.mu.Unlock()
	if s.Events == nil {
		s.Events = []secEventView{}
	}
	if s.Alerts == nil {
		s.Alerts = []secAlertView{}
	}
	return s
}

// securityPage is the Security page's data.
type securityPage struct {
	*page
	Security securityState
}

func (d *device) renderSecurity(w http.ResponseWriter, p *securityPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var hw htmlw
	securityPageHTML(&hw, p)
	w.Write(hw.b.Bytes())
}

func (d *device) securityPage(w http.ResponseWriter, r *http.Request) {
	p := &securityPage{page: d.page(r, "Security"), Security: d.securityState()}
	switch r.URL.Query().Get("done") {
	case "off":
		p.Notice = "The security log is switched off. The plug records nothing more until you switch it on."
	case "on":
		p.Notice = "The security log is switched on."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	d.renderSecurity(w, p)
}

// securityLoggingForm switches the log on or off (logging=on|off); the
// switch is itself recorded with the owner's source address.
func (d *device) securityLoggingForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "logging")
	if err == nil && f["logging"] != "on" && f["logging"] != "off" {
		err = &formError{"logging must be on or off; nothing was changed"}
	}
	if err == nil {
		err = d.sec.log.SetEnabled(r.Context(), f["logging"] == "on", source(r))
	}
	if err != nil {
		p := &securityPage{page: d.page(r, "Security"), Security: d.securityState()}
		p.Error = userMessage(err)
		d.renderSecurity(w, p)
		return
	}
	http.Redirect(w, r, "/security?done="+f["logging"], http.StatusSeeOther)
}

func (d *device) apiSecurity(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.securityState())
}
