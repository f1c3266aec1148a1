package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/update"
)

// topicAlert carries the plug's security alerts to the associated service.
const topicAlert = "alert"

// integrity is what the plug found when it read its own running image at
// start (5.7-1), and whether it restricted itself because of it (5.7-2).
type integrity struct {
	mu         sync.Mutex
	restricted bool
	finding    string
}

// verifyRunningImage reads the running slot against the digest recorded
// when it was installed (update.FileAB.VerifyRunning), before the plug
// listens or connects to anything. On a mismatch the plug restricts
// itself: its web UI answers only what the owner needs to log in, see the
// finding and install an update (integrityGuard); its cloud link sends
// alerts but no telemetry or switch reports; and it raises an alert (log,
// UI, and the service when one is configured). The restriction lasts
// until the next start, which checks again. The result is also the
// measured self-check update.boot-integrity.
func (d *device) verifyRunningImage(ctx context.Context) error {
	return d.updates.boot.ab.VerifyRunning(ctx, update.BootIntegrity{
		Restrict: func(context.Context) error {
			d.integ.mu.Lock()
			d.integ.restricted = true
			d.integ.mu.Unlock()
			if d.cloud != nil {
				d.cloud.restricted.Store(true)
			}
			return nil
		},
		Alert: func(ctx context.Context, err error) {
			d.integ.mu.Lock()
			d.integ.finding = err.Error()
			d.integ.mu.Unlock()
			d.log.Error("the running firmware image does not match the installed one; network restricted to the alert and updates", "err", err)
			if d.cloud == nil || !d.cloud.configured() {
				return
			}
			b, _ := json.Marshal(struct {
				Kind    string    `json:"kind"`
				Finding string    `json:"finding"`
				Time    time.Time `json:"time"`
			}{"boot-integrity", err.Error(), time.Now().UTC()})
			if qerr := d.cloud.publish(ctx, topicAlert, b); qerr != nil {
				d.log.Error("queueing the boot-integrity alert", "err", qerr)
			}
		},
	})
}

// integrityState reports whether the plug runs restricted and why.
func (d *device) integrityState() (restricted bool, finding string) {
	d.integ.mu.Lock()
	defer d.integ.mu.Unlock()
	return d.integ.restricted, d.integ.finding
}

// integrityGuard, while the plug runs restricted, lets through only what
// the owner needs to log in, read the finding and the self-check, and
// install an update that replaces the image; everything else gets 503
// with the finding.
func (d *device) integrityGuard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if restricted, finding := d.integrityState(); restricted && !allowedRestricted(r) {
			writeJSONError(w, http.StatusServiceUnavailable, "the plug's firmware image does not match the installed one ("+finding+"); only login, the self-check and updates are available until an update replaces it")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func allowedRestricted(r *http.Request) bool {
	p := r.URL.Path
	switch p {
	case "/", "/login", "/logout", "/style.css", "/favicon.ico", "/api/info", "/api/login", "/api/logout", "/selfcheck", "/api/selfcheck":
		return true
	}
	return p == "/update" || strings.HasPrefix(p, "/update/") || p == "/api/update" || strings.HasPrefix(p, "/api/update/")
}
