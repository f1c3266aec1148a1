package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// fetcher does the client's HTTP: bounded bodies, bounded retries with
// backoff (never on 4xx), redirects only within the same origin, minimum
// transfer rate. It owns a copy of the caller's http.Client so nothing
// global is touched.
type fetcher struct {
	hc       http.Client
	retries  int
	backoff  time.Duration
	minRate  int64
	window   time.Duration
	log      *slog.Logger
	userAgnt string
}

func newFetcher(c *Config) *fetcher {
	f := &fetcher{retries: c.Retries, backoff: c.RetryBackoff, minRate: c.MinRate, window: c.MinRateWindow, log: c.logger(), userAgnt: "baseline-update/1"}
	if c.HTTPClient != nil {
		f.hc = *c.HTTPClient
	} else {
		f.hc = http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			MaxIdleConns:          2,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}}
	}
	f.hc.CheckRedirect = checkRedirect
	return f
}

// checkRedirect allows at most 3 redirects, each to the same scheme and host
// as the original request: a mirror cannot bounce the device elsewhere.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return fmt.Errorf("%w: too many redirects", ErrRedirect)
	}
	orig := via[0].URL
	if req.URL.Scheme != orig.Scheme || req.URL.Host != orig.Host {
		return fmt.Errorf("%w: %s redirected to another origin", ErrRedirect, orig.Redacted())
	}
	return nil
}

// errPermanent marks a failure retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// retry runs op up to 1+retries times with exponential backoff and full
// jitter, stopping at a permanent error or when ctx ends.
func (f *fetcher) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = op(ctx)
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.err
		}
		if ctx.Err() != nil || attempt >= f.retries {
			return err
		}
		f.log.DebugContext(ctx, "update: retrying", "what", what, "attempt", attempt+1, "error", err)
		if !f.sleep(ctx, attempt) {
			return err
		}
	}
}

// sleep waits the jittered backoff for attempt (0-based); false if ctx
// ended first.
func (f *fetcher) sleep(ctx context.Context, attempt int) bool {
	d := f.backoff << min(attempt, 16)
	if d <= 0 || d > time.Minute {
		d = time.Minute
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// classify turns a response status into an error: 4xx are permanent, 5xx
// retryable.
func classify(u string, resp *http.Response) error {
	he := &HTTPError{URL: redact(u), Status: resp.StatusCode}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return permanent{he}
	}
	return he
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	return p.Redacted()
}

// contentTypeOK refuses a response that declares itself as HTML (a captive
// portal or error page); metadata must also not be a non-JSON text type.
func contentTypeOK(resp *http.Response, metadata bool) bool {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "text/html", "application/xhtml+xml":
		return false
	}
	if metadata {
		switch mt {
		case "application/json", "text/plain", "application/octet-stream":
			return true
		}
		return false
	}
	return true
}

// rateGuard cancels a transfer when fewer than minRate*window bytes arrived
// in the last window (slow-retrieval attack). add is called from the reader.
type rateGuard struct {
	n    atomic.Int64
	stop chan struct{}
}

func (f *fetcher) guard(ctx context.Context) (context.Context, *rateGuard, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	g := &rateGuard{stop: make(chan struct{})}
	if f.minRate <= 0 || f.window <= 0 {
		return ctx, g, func() { cancel(nil) }
	}
	need := f.minRate * int64(f.window/time.Millisecond) / 1000
	if need < 1 {
		need = 1
	}
	go func() {
		t := time.NewTicker(f.window)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-g.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				cur := g.n.Load()
				if cur-last < need {
					cancel(ErrSlowRetrieval)
					return
				}
				last = cur
			}
		}
	}()
	return ctx, g, func() { close(g.stop); cancel(nil) }
}

// ctxErr prefers the cancellation cause (ErrSlowRetrieval) over the
// transport's error.
func ctxErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrSlowRetrieval) {
		return permanent{ErrSlowRetrieval}
	}
	return err
}

type countingReader struct {
	r io.Reader
	g *rateGuard
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.g.n.Add(int64(n))
	return n, err
}

// get fetches u whole into memory, refusing more than max bytes.
func (f *fetcher) get(ctx context.Context, u string, max int64) ([]byte, error) {
	var out []byte
	err := f.retry(ctx, u, func(ctx context.Context) error {
		gctx, g, done := f.guard(ctx)
		defer done()
		req, err := http.NewRequestWithContext(gctx, http.MethodGet, u, nil)
		if err != nil {
			return permanent{err}
		}
		req.Header.Set("User-Agent", f.userAgnt)
		resp, err := f.hc.Do(req)
		if err != nil {
			if errors.Is(err, ErrRedirect) {
				return permanent{err}
			}
			return ctxErr(gctx, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return classify(u, resp)
		}
		if !contentTypeOK(resp, true) {
			return permanent{fmt.Errorf("%w: %q for %s", ErrContentType, resp.Header.Get("Content-Type"), redact(u))}
		}
		if resp.ContentLength > max {
			return permanent{fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, redact(u), resp.ContentLength, max)}
		}
		b, err := io.ReadAll(io.LimitReader(countingReader{resp.Body, g}, max+1))
		if err != nil {
			return ctxErr(gctx, err)
		}
		if int64(len(b)) > max {
			return permanent{fmt.Errorf("%w: %s exceeds %d bytes", ErrTooLarge, redact(u), max)}
		}
		out = b
		return nil
	})
	return out, err
}
