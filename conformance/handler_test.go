package conformance

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type countingChecker struct{ runs *atomic.Int32 }

func (c countingChecker) Checks() []Check {
	return []Check{{ID: "x.count", Provisions: []string{"5.1-3"}, Title: "Counting check", Run: func(context.Context) Result {
		c.runs.Add(1)
		return Result{Verdict: Pass, Observed: "fine"}
	}}}
}

func TestReportHandler(t *testing.T) {
	var runs atomic.Int32
	h := &ReportHandler{Model: "SP-100", FirmwareVersion: "1.0.0", Checkers: []Checker{countingChecker{&runs}}, MinInterval: time.Hour}
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	resp, body := get("/", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Counting check") {
		t.Fatalf("HTML: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", resp.Header)
	}
	resp, body = get("/", map[string]string{"Accept": "application/json"})
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || resp.Header.Get("Content-Type") != "application/json" || !rep.OK || len(rep.Results) != 1 {
		t.Errorf("JSON: %v %+v", err, rep)
	}
	if _, body = get("/?format=text", nil); !strings.Contains(body, "PASS") {
		t.Errorf("text: %q", body)
	}
	if resp, _ = get("/?format=pdf", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown format: %d", resp.StatusCode)
	}
	// Four requests, one run of the checks: the page cannot keep the device busy.
	if n := runs.Load(); n != 1 {
		t.Errorf("checks ran %d times within MinInterval", n)
	}
	post, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed || runs.Load() != 1 {
		t.Errorf("POST: %d, runs %d", post.StatusCode, runs.Load())
	}

	// Once the interval has passed, the checks run again.
	h.mu.Lock()
	h.ranAt = h.ranAt.Add(-2 * time.Hour)
	h.mu.Unlock()
	get("/", nil)
	if n := runs.Load(); n != 2 {
		t.Errorf("checks ran %d times after the interval", n)
	}
}
