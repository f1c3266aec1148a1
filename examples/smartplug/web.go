package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/iface"
)

//go:embed templates/style.css
var styleCSS []byte

// Request limits. The hardened server caps every body at maxBody; forms and
// JSON bodies are far smaller.
const (
	maxBody      = 64 << 10
	maxFormBody  = 8 << 10
	maxJSONBody  = 8 << 10
	maxFieldLen  = 1024
	jsonDepth    = 4
	ownerAccount = "owner"
)

// page is the data every page gets.
type page struct {
	Title        string
	Model        string
	Manufacturer string
	Version      string
	SupportEnd   string
	LoggedIn     bool
	Error        string
	Notice       string

	Plug    plugState
	Cloud   string
	Update  updateStatus
	Checks  []conformance.CheckResult
	Summary string
}

// route is one entry of the device's route table. Every route is declared
// with its auth rule: public, setup flow (served only until the owner has a
// password) or owner session. The gate denies anything undeclared (5.5-4).
type route struct {
	pattern string
	rule    auth.Rule
	h       http.HandlerFunc
}

// ownerScope is the scope auth grants the owner's sessions by default.
const ownerScope = "admin"

func (d *device) routeTable() []route {
	owner := auth.Require(ownerScope)
	rs := []route{
		// Public: the front page (setup or login form until logged in),
		// what the device is and how long it is supported, where to report
		// vulnerabilities.
		{"GET /{$}", auth.Public, d.home},
		{"POST /login", auth.Public, d.loginForm},
		{"GET /about", auth.Public, d.about},
		{"GET /style.css", auth.Public, d.style},
		{"GET /favicon.ico", auth.Public, favicon},
		{"GET /.well-known/security.txt", auth.Public, d.securityTxtHandler},
		{"GET /privacy", auth.Public, d.privacyNotice},
		{"GET /privacy/label.json", auth.Public, d.privacyLabel},
		{"GET /api/info", auth.Public, d.apiInfo},
		{"POST /api/login", auth.Public, d.apiLogin},
		// Setup flow: gone once the owner has a password.
		{"POST /setup", auth.SetupFlow, d.setupForm},
		{"POST /api/setup", auth.SetupFlow, d.apiSetup},

		// Owner only.
		{"POST /logout", owner, d.logoutForm},
		{"POST /plug", owner, d.plugForm},
		{"GET /password", owner, d.passwordPage},
		{"POST /password", owner, d.passwordForm},
		{"GET /selfcheck", owner, d.selfcheckPage},
		{"POST /api/logout", owner, d.apiLogout},
		{"GET /api/plug", owner, d.apiPlugGet},
		{"PUT /api/plug", owner, d.apiPlugPut},
		{"POST /api/password", owner, d.apiPassword},
		{"GET /api/selfcheck", owner, d.apiSelfcheck},
		{"GET /api/ics", owner, d.apiICS},
		{"GET /ics", owner, d.icsPage},
	}
	return slices.Concat(rs, d.updateRoutes(), d.privacyRoutes(), d.resetRoutes(), d.securityRoutes())
}

// routes builds the handler: the route table on an auth.Gate (deny by
// default), cross-origin protection (Sec-Fetch-Site /
// Origin) for every state-changing request including the public login and
// setup forms, and two conveniences for people: a page request the gate
// refuses goes to the front page instead of showing a JSON error, and a
// replayed setup gets a clear 409 instead of the gate's 404.
func (d *device) routes() (http.Handler, error) {
	gate := auth.NewGate(d.owner.svc)
	for _, rt := range d.routeTable() {
		gate.Handle(rt.pattern, rt.rule, rt.h)
	}
	d.web.gateChecker = gate
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/style.css" && r.URL.Path != "/favicon.ico" {
			w.Header().Set("Cache-Control", "no-store")
		}
		if r.Method == http.MethodPost && (r.URL.Path == "/setup" || r.URL.Path == "/api/setup") && d.owner.setUp() {
			d.replayedSetup(w, r)
			return
		}
		if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/" {
			w = &toFrontPage{ResponseWriter: w, r: r}
		}
		gate.ServeHTTP(w, r)
	})
	return cop.Handler(h), nil
}

// toFrontPage turns the gate's 401/403 on a page into a redirect to the
// front page, which shows the login or setup form.
type toFrontPage struct {
	http.ResponseWriter
	r          *http.Request
	redirected bool
}

func (t *toFrontPage) WriteHeader(code int) {
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		t.redirected = true
		t.Header().Del("Content-Type")
		t.Header().Del("WWW-Authenticate")
		t.Header().Set("Location", "/")
		t.ResponseWriter.WriteHeader(http.StatusSeeOther)
		return
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *toFrontPage) Write(b []byte) (int, error) {
	if t.redirected {
		return len(b), nil
	}
	return t.ResponseWriter.Write(b)
}

func (d *device) replayedSetup(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/setup" {
		writeAPIError(w, auth.ErrAlreadySetUp)
		return
	}
	p := d.page(r, "Log in")
	p.Error = userMessage(auth.ErrAlreadySetUp)
	d.render(w, "login.html", p)
}

func (d *device) loggedIn(r *http.Request) bool {
	_, err := d.owner.svc.SessionFromRequest(r)
	return err == nil
}

// source is the client's address, the key of per-source throttling.
func source(r *http.Request) string { return auth.SourceFromRequest(r) }

func (d *device) page(r *http.Request, title string) *page {
	return &page{Title: title, Model: d.model, Manufacturer: d.manufacturer, Version: version, SupportEnd: d.supportEnd, LoggedIn: d.loggedIn(r)}
}

func (d *device) render(w http.ResponseWriter, name string, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	f, ok := pageFuncs[name]
	if !ok {
		d.log.Error("no such page", "name", name)
		f = errorPage
	}
	var hw htmlw
	f(&hw, p)
	w.Write(hw.b.Bytes())
}

// ---- forms ----

// formError is a refused form: a message for the user; nothing was changed.
type formError struct{ msg string }

func (e *formError) Error() string { return e.msg }

// parseForm reads a urlencoded form that must have exactly the named
// fields, each once, valid UTF-8 and at most maxFieldLen bytes, through
// iface.DecodeForm: bodies over maxFormBody, other content types, query
// parameters, unknown, repeated or missing fields are refused before
// anything is acted on. The refusal is turned into a sentence for the page.
func parseForm(w http.ResponseWriter, r *http.Request, fields ...string) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	f, err := iface.DecodeForm(r, iface.FormLimits{MaxBytes: maxFormBody, MaxField: maxFieldLen}, fields...)
	var ie *iface.InputError
	if err == nil || !errors.As(err, &ie) {
		return f, err
	}
	switch {
	case ie.Field == "" && ie.TooLarge:
		return nil, &formError{"The form was too large."}
	case ie.Reason == "not a form (wrong content type)":
		return nil, &formError{"The form was not sent as a form (wrong content type)."}
	case ie.Reason == "unexpected parameters in the address":
		return nil, &formError{"Unexpected parameters in the address."}
	case ie.Reason == "unexpected field":
		return nil, &formError{"The form has an unexpected field."}
	case ie.Reason == "repeated field":
		return nil, &formError{"The form has a repeated field."}
	case ie.Reason == "missing":
		return nil, &formError{"The form is missing a field."}
	case ie.Field != "":
		return nil, &formError{"A field is too long or not valid text."}
	}
	return nil, &formError{"The form could not be read."}
}

// userMessage turns an error from auth (or a form) into a sentence for the
// owner, without revealing which part of a credential was wrong.
func userMessage(err error) string {
	var fe *formError
	var pe *auth.PolicyError
	var th auth.ErrThrottled
	switch {
	case errors.As(err, &fe):
		return fe.msg
	case errors.As(err, &th):
		return fmt.Sprintf("Too many attempts. Wait %s before trying again.", retrySeconds(th.RetryAfter)+"s")
	case errors.Is(err, auth.ErrMalformedSetupSecret), errors.Is(err, auth.ErrTrivialSecret):
		return "That is not a valid setup secret: check it against the label (17 letters and digits)."
	case errors.Is(err, auth.ErrBadCredentials):
		return "That did not match. Check it and try again."
	case errors.Is(err, auth.ErrAlreadySetUp):
		return "This plug is already set up. Log in with your password."
	case errors.Is(err, auth.ErrNotProvisioned):
		return "This plug is not set up yet. Use the setup secret from its label."
	case errors.As(err, &pe):
		return "Please choose another password: " + pe.Reason + "."
	case errors.Is(err, errMismatch):
		return "The two new passwords are not the same."
	case errors.Is(err, auth.ErrPresenceRequired):
		return "Type your current password."
	case errors.Is(err, auth.ErrNoSetupVerifier):
		return "This plug was not provisioned at the factory; it cannot be set up."
	}
	return "Something went wrong on the plug. Nothing was changed; please try again."
}

var errMismatch = errors.New("smartplug: passwords differ")

func retrySeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// status maps an error to the API's HTTP status.
func status(err error) int {
	var fe *formError
	var pe *auth.PolicyError
	var th auth.ErrThrottled
	var ie *iface.InputError
	switch {
	case errors.As(err, &th):
		return http.StatusTooManyRequests
	case errors.As(err, &ie):
		return ie.Status()
	case errors.As(err, &fe), errors.As(err, &pe), errors.Is(err, errMismatch), errors.Is(err, auth.ErrPresenceRequired),
		errors.Is(err, auth.ErrMalformedSetupSecret), errors.Is(err, auth.ErrTrivialSecret):
		return http.StatusBadRequest
	case errors.Is(err, auth.ErrBadCredentials):
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrAlreadySetUp), errors.Is(err, auth.ErrNotProvisioned):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// ---- pages ----

func (d *device) home(w http.ResponseWriter, r *http.Request) {
	if !d.owner.setUp() {
		d.render(w, "setup.html", d.page(r, "Set up"))
		return
	}
	if !d.loggedIn(r) {
		d.render(w, "login.html", d.page(r, "Log in"))
		return
	}
	p := d.page(r, "Plug")
	p.Notice = noticeFor(r.URL.Query().Get("done"))
	p.Plug = d.plug.State()
	p.Cloud = d.cloud.describe()
	p.Update = d.updates.status()
	d.render(w, "home.html", p)
}

// noticeFor maps the fixed "done" codes of post-redirect-get to messages;
// nothing from the query string is reflected.
func noticeFor(code string) string {
	switch code {
	case "setup":
		return "Your plug is set up. You are logged in."
	case "login":
		return "You are logged in."
	case "password":
		return "Your password was changed. Other browsers and apps were logged out."
	}
	return ""
}

func (d *device) setupForm(w http.ResponseWriter, r *http.Request) {
	ses, err := d.doSetup(w, r, nil)
	if err != nil {
		p := d.page(r, "Set up")
		p.Error = userMessage(err)
		tmpl := "setup.html"
		if errors.Is(err, auth.ErrAlreadySetUp) {
			tmpl = "login.html"
		}
		d.render(w, tmpl, p)
		return
	}
	auth.SetCookie(w, ses)
	http.Redirect(w, r, "/?done=setup", http.StatusSeeOther)
}

type setupRequest struct {
	SetupSecret string `json:"setup_secret"`
	Password    string `json:"password"`
}

// doSetup completes setup from the form (req nil) or the API, returning
// the owner's first session.
func (d *device) doSetup(w http.ResponseWriter, r *http.Request, req *setupRequest) (*auth.Session, error) {
	if req == nil {
		f, err := parseForm(w, r, "setup_secret", "password", "confirm")
		if err != nil {
			return nil, err
		}
		if f["password"] != f["confirm"] {
			return nil, errMismatch
		}
		req = &setupRequest{SetupSecret: f["setup_secret"], Password: f["password"]}
	}
	return d.owner.setup(r.Context(), source(r), req.SetupSecret, req.Password)
}

func (d *device) loginForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "password")
	var ses *auth.Session
	if err == nil {
		ses, err = d.owner.login(r.Context(), source(r), f["password"])
	}
	if err != nil {
		var th auth.ErrThrottled
		if errors.As(err, &th) {
			w.Header().Set("Retry-After", retrySeconds(th.RetryAfter))
		}
		p := d.page(r, "Log in")
		p.Error = userMessage(err)
		tmpl := "login.html"
		if errors.Is(err, auth.ErrNotProvisioned) {
			tmpl = "setup.html"
		}
		d.render(w, tmpl, p)
		return
	}
	auth.SetCookie(w, ses)
	http.Redirect(w, r, "/?done=login", http.StatusSeeOther)
}

func (d *device) logoutForm(w http.ResponseWriter, r *http.Request) {
	if err := d.owner.logout(r.Context()); err != nil {
		d.log.Warn("logout", "err", err)
	}
	auth.ClearCookie(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (d *device) about(w http.ResponseWriter, r *http.Request) {
	d.render(w, "about.html", d.page(r, "About"))
}

func (d *device) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(styleCSS)
}

// favicon answers the browser's automatic icon request with no content
// (the plug has no icon) rather than a 404 in its console.
func favicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}

func (d *device) securityTxtHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(d.securityTxt)
}

func (d *device) plugForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "on")
	if err == nil && f["on"] != "true" && f["on"] != "false" {
		err = &formError{"The switch position must be on or off."}
	}
	if err == nil {
		_, err = d.plug.Set(f["on"] == "true")
		if err == nil {
			d.cloud.report(r.Context(), d.plug.State())
		}
	}
	if err != nil {
		p := d.page(r, "Plug")
		p.Error = userMessage(err)
		p.Plug, p.Cloud, p.Update = d.plug.State(), d.cloud.describe(), d.updates.status()
		d.render(w, "home.html", p)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (d *device) passwordPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, "password.html", d.page(r, "Change password"))
}

func (d *device) passwordForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "current", "password", "confirm")
	if err == nil && f["password"] != f["confirm"] {
		err = errMismatch
	}
	var ses *auth.Session
	if err == nil {
		ses, err = d.owner.changePassword(r.Context(), source(r), f["current"], f["password"])
	}
	if err != nil {
		p := d.page(r, "Change password")
		p.Error = userMessage(err)
		d.render(w, "password.html", p)
		return
	}
	auth.SetCookie(w, ses)
	http.Redirect(w, r, "/?done=password", http.StatusSeeOther)
}

func (d *device) selfcheck(ctx context.Context) *conformance.Report {
	return d.web.report.Report(ctx)
}

func (d *device) selfcheckPage(w http.ResponseWriter, r *http.Request) {
	rep := d.selfcheck(r.Context())
	p := d.page(r, "Self-check")
	p.Checks = rep.Results
	if rep.OK {
		p.Summary = "Everything the plug can check looks fine."
	} else {
		p.Summary = fmt.Sprintf("%d of %d checks need attention or could not be confirmed; each says why.",
			rep.Counts[conformance.Fail]+rep.Counts[conformance.Inconclusive]+rep.Counts[conformance.NotRun], len(rep.Results))
	}
	d.render(w, "selfcheck.html", p)
}

// ---- JSON API ----

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

type apiError struct {
	Error      string `json:"error"`
	RetryAfter int64  `json:"retry_after_seconds,omitempty"`
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

func writeAPIError(w http.ResponseWriter, err error) {
	var ie *iface.InputError
	if errors.As(err, &ie) {
		iface.WriteInputError(w, err)
		return
	}
	e := apiError{Error: userMessage(err)}
	var th auth.ErrThrottled
	if errors.As(err, &th) {
		s := retrySeconds(th.RetryAfter)
		w.Header().Set("Retry-After", s)
		e.RetryAfter, _ = strconv.ParseInt(s, 10, 64)
	}
	writeJSON(w, status(err), e)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return iface.DecodeRequest(w, r, v, iface.JSONLimits{MaxBytes: maxJSONBody, MaxDepth: jsonDepth}) == nil
}

type infoResponse struct {
	Model         string `json:"model"`
	Manufacturer  string `json:"manufacturer"`
	Version       string `json:"firmware_version"`
	SupportEnd    string `json:"support_period_end"`
	SetupRequired bool   `json:"setup_required"`
	SecurityTxt   string `json:"security_txt"`
}

func (d *device) apiInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, infoResponse{Model: d.model, Manufacturer: d.manufacturer, Version: version,
		SupportEnd: d.supportEnd, SetupRequired: !d.owner.setUp(), SecurityTxt: "/.well-known/security.txt"})
}

type sessionResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

func writeSession(w http.ResponseWriter, ses *auth.Session) {
	auth.SetCookie(w, ses)
	writeJSON(w, http.StatusOK, sessionResponse{Token: ses.Token(), Expires: ses.Expires})
}

func (d *device) apiSetup(w http.ResponseWriter, r *http.Request) {
	var req setupRequest
	if !decode(w, r, &req) {
		return
	}
	ses, err := d.doSetup(w, r, &req)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	writeSession(w, ses)
}

func (d *device) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	ses, err := d.owner.login(r.Context(), source(r), req.Password)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	writeSession(w, ses)
}

func (d *device) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := d.owner.logout(r.Context()); err != nil {
		writeAPIError(w, err)
		return
	}
	auth.ClearCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (d *device) apiPlugGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.plug.State())
}

func (d *device) apiPlugPut(w http.ResponseWriter, r *http.Request) {
	var req struct {
		On *bool `json:"on"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.On == nil {
		iface.WriteInputError(w, &iface.InputError{Field: "on", Reason: "required"})
		return
	}
	st, err := d.plug.Set(*req.On)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	d.cloud.report(r.Context(), st)
	writeJSON(w, http.StatusOK, st)
}

func (d *device) apiPassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Current  string `json:"current"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	ses, err := d.owner.changePassword(r.Context(), source(r), req.Current, req.Password)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	writeSession(w, ses)
}

func (d *device) apiSelfcheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	d.selfcheck(r.Context()).WriteJSON(w)
}

// statement is the ICS from the embedded profile joined with the live
// self-check results.
func (d *device) statement(ctx context.Context) *conformance.Statement {
	st := conformance.NewStatement(d.profile)
	st.Attach(d.selfcheck(ctx).Results)
	return st
}

// icsPage serves the statement as conformance renders it: a standalone
// page with its own inline style, so its CSP allows inline styles and
// nothing else.
func (d *device) icsPage(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := d.statement(r.Context()).WriteHTML(&b); err != nil {
		writeAPIError(w, err)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (d *device) apiICS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	d.statement(r.Context()).WriteJSON(w)
}
