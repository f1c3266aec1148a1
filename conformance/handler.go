package conformance

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultReportInterval is how long [ReportHandler] reuses one run of the
// checks when ReportHandler.MinInterval is zero.
const DefaultReportInterval = 30 * time.Second

// ReportHandler serves the device's self-check report (5.12-3) over HTTP:
// an HTML page by default, JSON for "?format=json" or an Accept header
// asking for application/json, plain text for "?format=text". Only GET and
// HEAD are allowed. Pages carry a Content-Security-Policy that forbids
// scripts, and are not cached.
//
// The checks run on a request at most once per MinInterval; requests in
// between get the last report, so the page cannot be used to keep the
// device busy. The zero value serves an empty report; set the fields before
// the first request and do not change them afterwards.
type ReportHandler struct {
	// Model and FirmwareVersion identify the device on the page.
	Model           string
	FirmwareVersion string
	// Checkers are the SDK packages and device code whose checks run.
	Checkers []Checker
	// MinInterval is how long a report is reused; zero means
	// DefaultReportInterval.
	MinInterval time.Duration

	mu     sync.Mutex
	report *Report
	ranAt  time.Time
}

// Report returns the current report, running the checks if the last run
// is older than MinInterval.
func (h *ReportHandler) Report(ctx context.Context) *Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	interval := h.MinInterval
	if interval <= 0 {
		interval = DefaultReportInterval
	}
	now := time.Now()
	if h.report == nil || now.Sub(h.ranAt) >= interval || now.Before(h.ranAt) {
		h.report = NewReport(h.Model, h.FirmwareVersion, now, RunChecks(ctx, h.Checkers...))
		h.ranAt = now
	}
	return h.report
}

// ServeHTTP serves the report.
func (h *ReportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "application/json") {
		format = "json"
	}
	var (
		write func(*Report, *bytes.Buffer) error
		ctype string
	)
	switch format {
	case "", "html":
		write, ctype = func(rp *Report, b *bytes.Buffer) error { return rp.WriteHTML(b) }, "text/html; charset=utf-8"
	case "json":
		write, ctype = func(rp *Report, b *bytes.Buffer) error { return rp.WriteJSON(b) }, "application/json"
	case "text":
		write, ctype = func(rp *Report, b *bytes.Buffer) error { return rp.WriteText(b) }, "text/plain; charset=utf-8"
	default:
		http.Error(w, "unknown format", http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := write(h.Report(r.Context()), &buf); err != nil {
		http.Error(w, "report unavailable", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(buf.Bytes())
}
