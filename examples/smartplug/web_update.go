package main

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/iface"
	"github.com/iotbaseline/baseline/update"
)

// maxPostponeHours bounds a postponement the owner can ask for (a feature
// release); a security release is capped by maxSecurityPostpone anyway.
const maxPostponeHours = 24 * 90

// updateRoutes are the update page and API. Every route is the owner's;
// every state-changing one is a POST or PUT behind the gate and the
// cross-origin check.
func (d *device) updateRoutes() []route {
	owner := auth.Require(ownerScope)
	return []route{
		{"GET /update", owner, d.updatePage},
		{"POST /update", owner, d.updateCheckForm},
		{"POST /update/install", owner, d.updateInstallForm},
		{"POST /update/auto", owner, d.updateAutoForm},
		{"POST /update/postpone", owner, d.updatePostponeForm},
		{"POST /update/resume", owner, d.updateResumeForm},
		{"GET /api/update", owner, d.apiUpdate},
		{"POST /api/update/check", owner, d.apiUpdateCheck},
		{"POST /api/update/install", owner, d.apiUpdateInstall},
		{"PUT /api/update/policy", owner, d.apiUpdatePolicy},
		{"POST /api/update/postpone", owner, d.apiUpdatePostpone},
		{"POST /api/update/resume", owner, d.apiUpdateResume},
	}
}

// updateNotice maps the fixed "done" codes of the update forms to
// messages; nothing from the query string is reflected.
func updateNotice(code string) string {
	switch code {
	case "install":
		return "Installing: the plug downloads the update, checks it and then restarts into it. This page shows the progress."
	case "auto-on":
		return "Updates are installed automatically again."
	case "auto-off":
		return "Updates will not be installed automatically. The plug still tells you about them."
	case "postpone":
		return "The update is postponed."
	case "capped":
		return "This is a security update: it can be postponed for at most " + maxSecurityPostpone.String() + ", so it is postponed until then."
	case "resume":
		return "The postponement is over: the update is installed at the next opportunity."
	}
	return ""
}

func (d *device) updatePage(w http.ResponseWriter, r *http.Request) {
	p := d.page(r, "Updates")
	p.Notice = updateNotice(r.URL.Query().Get("done"))
	p.Update = d.updates.status()
	d.render(w, "update.html", p)
}

func (d *device) updatePageError(w http.ResponseWriter, r *http.Request, err error) {
	p := d.page(r, "Updates")
	p.Error = updateMessage(err)
	p.Update = d.updates.status()
	d.render(w, "update.html", p)
}

// updateMessage is userMessage with the update's own refusals.
func updateMessage(err error) string {
	switch {
	case errors.Is(err, errNothingToInstall):
		return "There is no update to install: the plug is up to date."
	case errors.Is(err, errPlaceholder):
		return "The demo repository's release only shows how an update is announced; it is not a firmware image and is not installed. Publish a real release with baseline release add and start the plug with --update-repo and --update-root."
	case errors.Is(err, errResetting):
		return "A factory reset is running; nothing was installed. The plug restarts when the reset is done and checks for updates again."
	case errors.Is(err, update.ErrPolicy):
		return "That postponement is not possible (it must end in the future)."
	}
	var fe *formError
	if errors.As(err, &fe) {
		return fe.msg
	}
	return "The update could not be started: " + oneLineErr(err)
}

func (d *device) updateCheckForm(w http.ResponseWriter, r *http.Request) {
	if _, err := parseForm(w, r); err != nil {
		d.updatePageError(w, r, err)
		return
	}
	d.updates.check(r.Context())
	http.Redirect(w, r, "/update", http.StatusSeeOther)
}

func (d *device) updateInstallForm(w http.ResponseWriter, r *http.Request) {
	_, err := parseForm(w, r)
	if err == nil {
		err = d.updates.installNow(r.Context())
	}
	if err != nil {
		d.updatePageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/update?done=install", http.StatusSeeOther)
}

func (d *device) updateAutoForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "on")
	if err == nil && f["on"] != "true" && f["on"] != "false" {
		err = &formError{"Automatic installation must be on or off."}
	}
	if err == nil {
		err = d.updates.setAutoInstall(f["on"] == "true")
	}
	if err != nil {
		d.updatePageError(w, r, err)
		return
	}
	code := "auto-off"
	if f["on"] == "true" {
		code = "auto-on"
	}
	http.Redirect(w, r, "/update?done="+code, http.StatusSeeOther)
}

func (d *device) updatePostponeForm(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r, "hours")
	var ev update.ReleasePostponed
	if err == nil {
		var h int
		if h, err = strconv.Atoi(f["hours"]); err != nil || h < 1 || h > maxPostponeHours {
			err = &formError{"Choose how many hours to postpone (1 to " + strconv.Itoa(maxPostponeHours) + ")."}
		} else {
			ev, err = d.updates.postpone(time.Duration(h) * time.Hour)
		}
	}
	if err != nil {
		d.updatePageError(w, r, err)
		return
	}
	code := "postpone"
	if ev.Capped {
		code = "capped"
	}
	http.Redirect(w, r, "/update?done="+code, http.StatusSeeOther)
}

func (d *device) updateResumeForm(w http.ResponseWriter, r *http.Request) {
	_, err := parseForm(w, r)
	if err == nil {
		err = d.updates.resume()
	}
	if err != nil {
		d.updatePageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/update?done=resume", http.StatusSeeOther)
}

// ---- JSON API ----

func (d *device) apiUpdate(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.updates.status())
}

func (d *device) apiUpdateCheck(w http.ResponseWriter, r *http.Request) {
	d.updates.check(r.Context())
	writeJSON(w, http.StatusOK, d.updates.status())
}

// apiUpdateInstall starts installing the offered release (202); the plug
// restarts into it when it is installed. GET /api/update shows progress.
func (d *device) apiUpdateInstall(w http.ResponseWriter, r *http.Request) {
	if err := d.updates.installNow(r.Context()); err != nil {
		code := http.StatusConflict
		if !errors.Is(err, errNothingToInstall) && !errors.Is(err, errPlaceholder) && !errors.Is(err, errResetting) {
			code = http.StatusBadGateway
		}
		writeJSONError(w, code, updateMessage(err))
		return
	}
	writeJSON(w, http.StatusAccepted, d.updates.status())
}

func (d *device) apiUpdatePolicy(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AutoInstall *bool `json:"auto_install"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.AutoInstall == nil {
		iface.WriteInputError(w, &iface.InputError{Field: "auto_install", Reason: "required"})
		return
	}
	if err := d.updates.setAutoInstall(*req.AutoInstall); err != nil {
		writeAPIError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d.updates.status())
}

func (d *device) apiUpdatePostpone(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Hours int `json:"hours"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Hours < 1 || req.Hours > maxPostponeHours {
		iface.WriteInputError(w, &iface.InputError{Field: "hours", Reason: "out of range"})
		return
	}
	if _, err := d.updates.postpone(time.Duration(req.Hours) * time.Hour); err != nil {
		writeJSONError(w, http.StatusConflict, updateMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, d.updates.status())
}

func (d *device) apiUpdateResume(w http.ResponseWriter, r *http.Request) {
	if err := d.updates.resume(); err != nil {
		writeAPIError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d.updates.status())
}
