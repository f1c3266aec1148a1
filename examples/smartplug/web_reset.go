package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/erase"
)

// resetRoutes are the factory reset's pages and API, owner only. The
// confirmation is a POST: auth's gate needs the owner's session and the
// cross-origin protection in routes refuses it from any other site.
func (d *device) resetRoutes() []route {
	owner := auth.Require(ownerScope)
	return []route{
		{"GET /reset", owner, d.resetPage},
		{"POST /reset", owner, d.resetForm},
		{"POST /api/reset", owner, d.apiReset},
		{"GET /api/reset", owner, d.apiLastReset},
	}
}

// resetView is what the reset page shows: the instructions before,
// the receipt after.
type resetView struct {
	*page
	Word         string
	Instructions []textBlock
	Busy         string
	Done         bool
	Confirmation []textBlock
	Receipt      string // signed JSON
	ReceiptURL   string // data: URL of the same (base64 only), for download
	ReceiptID    string
	NoService    bool
	// Last is the receipt of the previous reset, with each associated
	// service's deletion status as it stands now (a service confirms
	// after the plug restarted).
	Last *resetView
}

func (d *device) resetView(r *http.Request) *resetView {
	v := &resetView{page: d.page(r, "Factory reset"), Word: resetWord, Instructions: textBlocks(d.resetRegistry().Instructions())}
	if busy, why := d.resetBusy(r.Context()); busy {
		v.Busy = why
	}
	return v
}

// done fills in the receipt part of v: in words, signed, and for download.
func (v *resetView) done(rc *erase.Receipt, signed []byte) {
	v.Done, v.Confirmation, v.Receipt, v.ReceiptID = true, textBlocks(rc.Confirmation()), string(signed), rc.ID
	// A data: URL made here from the plug's own bytes (base64 only: no
	// quote or markup can occur in it).
	v.ReceiptURL = ("data:application/json;base64," + base64.StdEncoding.EncodeToString(signed))
	v.NoService = len(rc.Services) == 0
}

func (d *device) resetPage(w http.ResponseWriter, r *http.Request) {
	v := d.resetView(r)
	if rc, err := d.reset.resetter.Receipt(); err == nil {
		if signed, err := d.signReceipt(r.Context(), rc); err == nil {
			v.Last = &resetView{}
			v.Last.done(rc, signed)
		}
	}
	d.renderReset(w, v)
}

func (d *device) resetForm(w http.ResponseWriter, r *http.Request) {
	v := d.resetView(r)
	f, err := parseForm(w, r, "confirm")
	if err == nil && !confirmed(f["confirm"]) {
		err = &formError{"Type " + resetWord + " in capitals to confirm. Nothing was changed."}
	}
	if err != nil {
		v.Error = userMessage(err)
		d.renderReset(w, v)
		return
	}
	rc, signed, began, err := d.factoryReset(r.Context())
	if began {
		defer d.restartWhenDone(r)
	}
	if err != nil {
		v.Error = resetMessage(err)
		d.renderReset(w, v)
		return
	}
	auth.ClearCookie(w)
	v.LoggedIn = false
	v.done(rc, signed)
	d.renderReset(w, v)
}

// renderReset writes the page with its length and flushes it: the plug
// restarts right after a reset, and the owner must get the whole receipt.
func (d *device) renderReset(w http.ResponseWriter, v *resetView) {
	var hw htmlw
	resetPageHTML(&hw, v)
	writeFinal(w, "text/html; charset=utf-8", http.StatusOK, hw.b.Bytes())
}

// writeFinal writes a whole response with its length and flushes it.
func writeFinal(w http.ResponseWriter, ctype string, code int, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
	http.NewResponseController(w).Flush()
}

// textBlock is a paragraph of erase's plain text, or the list that
// follows it.
type textBlock struct {
	Text  string
	Items []string
}

// textBlocks lays out the text erase renders (Registry.Instructions,
// Receipt.Confirmation) for a page: lines starting "  - " become list
// items, other lines are joined into paragraphs, and a blank line ends one.
func textBlocks(s string) []textBlock {
	var out []textBlock
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, textBlock{Text: strings.Join(para, " ")})
			para = nil
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if item, ok := strings.CutPrefix(l, "  - "); ok {
			flush()
			if len(out) == 0 || out[len(out)-1].Items == nil {
				out = append(out, textBlock{})
			}
			out[len(out)-1].Items = append(out[len(out)-1].Items, item)
			continue
		}
		if l = strings.TrimSpace(l); l == "" {
			flush()
			continue
		}
		para = append(para, l)
	}
	flush()
	return out
}

// confirmed reports whether the owner typed the confirmation word.
func confirmed(s string) bool { return strings.TrimSpace(s) == resetWord }

// resetMessage turns a reset's error into a sentence for the owner.
func resetMessage(err error) string {
	var be *erase.BusyError
	switch {
	case errors.As(err, &be):
		return "The plug cannot reset now: " + be.Reason + ". Nothing was changed."
	case errors.Is(err, erase.ErrInProgress):
		return "A factory reset is already running."
	case errors.Is(err, erase.ErrIncomplete):
		return "The reset did not finish. The plug restarts now and finishes it before doing anything else."
	}
	return "The reset did not finish. The plug restarts now and finishes it before doing anything else."
}

// resetRequest is the API's confirmation: {"confirm": "RESET"}.
type resetRequest struct {
	Confirm string `json:"confirm"`
}

// resetResponse is the API's answer: the signed receipt (verify it with
// erase.VerifyReceipt and the key of tls-cert.pem), the same receipt in
// words, and where the associated service stands.
type resetResponse struct {
	SignedReceipt string `json:"signed_receipt"`
	ReceiptID     string `json:"receipt_id"`
	Complete      bool   `json:"complete"`
	Confirmation  string `json:"confirmation"`
	Service       string `json:"associated_service"`
	Restart       string `json:"restart"`
}

const noServiceWords = "No associated service is configured on this plug: it sent your data to no online service, so there is nothing to delete elsewhere."

func (d *device) apiReset(w http.ResponseWriter, r *http.Request) {
	var req resetRequest
	if !decode(w, r, &req) {
		return
	}
	if !confirmed(req.Confirm) {
		writeJSONError(w, http.StatusBadRequest, `confirm must be "`+resetWord+`"; nothing was changed`)
		return
	}
	rc, signed, began, err := d.factoryReset(r.Context())
	if began {
		defer d.restartWhenDone(r)
	}
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, erase.ErrBusy) || errors.Is(err, erase.ErrInProgress) {
			code = http.StatusConflict
		}
		b, _ := json.Marshal(apiError{Error: resetMessage(err)})
		writeFinal(w, "application/json", code, append(b, '\n'))
		return
	}
	svc := noServiceWords
	if len(rc.Services) > 0 {
		svc = "Deletion requested from the associated service: the request is sent when the plug is back online after its restart, and the service's answer shows on the Reset page (and GET /api/reset)."
	}
	auth.ClearCookie(w)
	b, _ := json.MarshalIndent(resetResponse{SignedReceipt: string(signed), ReceiptID: rc.ID, Complete: rc.Complete(),
		Confirmation: rc.Confirmation(), Service: svc, Restart: "the plug restarts now and then waits for the setup secret from its label"}, "", "  ")
	writeFinal(w, "application/json", http.StatusOK, append(b, '\n'))
}

// lastResetResponse is GET /api/reset: the receipt of the last reset,
// signed, with each associated service's deletion status as it stands now.
type lastResetResponse struct {
	SignedReceipt string         `json:"signed_receipt"`
	Receipt       *erase.Receipt `json:"receipt"`
	Complete      bool           `json:"complete"`
	Confirmation  string         `json:"confirmation"`
}

func (d *device) apiLastReset(w http.ResponseWriter, r *http.Request) {
	rc, err := d.reset.resetter.Receipt()
	if err != nil {
		writeJSONError(w, http.StatusNotFound, "no factory reset has completed on this plug")
		return
	}
	signed, err := d.signReceipt(r.Context(), rc)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "the receipt could not be signed")
		return
	}
	b, _ := json.MarshalIndent(lastResetResponse{SignedReceipt: string(signed), Receipt: rc, Complete: rc.Complete(), Confirmation: rc.Confirmation()}, "", "  ")
	writeFinal(w, "application/json", http.StatusOK, append(b, '\n'))
}
