package resilience

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// Checks returns the outbox's self-check for provision 5.9-2: the outbox
// recovered at open and its storage is healthy now. It observes the
// outbox's directory (quarantined segments, from this boot or earlier) and
// the last write: Pass when both are clean, Inconclusive when segments were
// quarantined (the device recovered, but messages in the corrupt part were
// lost), Fail when the outbox is closed or its last write failed.
func (o *Outbox) Checks() []conformance.Check {
	return []conformance.Check{{
		ID:         "resilience.outbox",
		Provisions: []string{"5.9-2"},
		Title:      "Outgoing messages are kept on flash across outages and power loss, and were recovered at start",
		Run: func(ctx context.Context) conformance.Result {
			o.mu.Lock()
			closed := o.closed
			o.mu.Unlock()
			if closed {
				return conformance.Result{Verdict: conformance.Fail, Detail: "outbox is closed"}
			}
			st := o.Stats()
			// Look again now: a file renamed aside by an earlier boot, or a
			// directory that vanished, shows here.
			quarantined := 0
			des, err := o.fsys.ReadDir(o.cfg.Dir)
			if err != nil {
				return conformance.Result{Verdict: conformance.Fail, Detail: "outbox directory unreadable: " + err.Error()}
			}
			for _, de := range des {
				if strings.HasSuffix(de.Name(), quarExt) {
					quarantined++
				}
			}
			obs := fmt.Sprintf("%d pending (%d bytes) in %d segments (%d bytes); recovered %d at open, %d torn bytes cut; %d quarantined segments; %d delivered, %d dropped, %d expired since open",
				st.Pending, st.PendingBytes, st.Segments, st.DiskBytes, st.Recovered, st.TornBytes, quarantined, st.Delivered, st.Dropped, st.Expired)
			switch {
			case st.LastError != "":
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "last outbox write failed: " + st.LastError}
			case quarantined > 0:
				return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
					Detail: "corrupt outbox segments were renamed aside (*" + quarExt + "); messages in their corrupt part were lost"}
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: obs}
		},
	}}
}

// Checks returns the policy's self-check for provision 5.9-3: connection
// attempts are spread to fit the service. It is [conformance.Measured]: it
// reads the policy (fleet size and service capacity declared, start-up
// spread at least fleet/capacity, cap at least the base and at most one
// hour) and then draws the first attempts of a simulated fleet from the
// policy's own [Backoff], requiring them to spread evenly over the start-up
// window, and sends a busy signal, requiring its Retry-After to be waited
// out. It is Inconclusive when the fleet is not declared (the spread is then
// a guess) and Fails otherwise.
func (p Policy) Checks() []conformance.Check {
	return []conformance.Check{p.check("resilience.reconnect-policy", "")}
}

func (p Policy) check(id, service string) conformance.Check {
	title := "Connections are made in an orderly way: start-up spread sized from fleet/capacity, full jitter, busy signals honoured"
	if service != "" {
		title += " (" + service + ")"
	}
	return conformance.Check{
		ID:         id,
		Method:     conformance.Measured,
		Provisions: []string{"5.9-3"},
		Title:      title,
		Run: func(ctx context.Context) conformance.Result {
			q := p.normalized()
			obs := p.String()
			var bad []string
			if q.Cap < q.Base {
				bad = append(bad, "cap below base")
			}
			if q.Cap > maxSaneCap {
				bad = append(bad, fmt.Sprintf("cap %v above %v: a recovered service waits too long for the fleet", q.Cap, maxSaneCap))
			}
			if p.Declared() {
				if p.Spread() < p.Ideal() {
					bad = append(bad, fmt.Sprintf("start-up spread %v shorter than fleet/capacity %v", p.Spread(), p.Ideal()))
				}
				if p.Ideal() > MaxSpread {
					bad = append(bad, "fleet/capacity exceeds MaxSpread: the service is too small for the fleet")
				}
			}
			if len(bad) > 0 {
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: strings.Join(bad, "; ")}
			}
			if !p.Declared() {
				return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
					Detail: "fleet size and service capacity not declared: the start-up spread is the default, not sized for the service"}
			}
			if msg := probeBackoff(p); msg != "" {
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: msg}
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: obs + fmt.Sprintf(
				"; tested: %d simulated devices' first attempts spread over the start-up window (no tenth above 1.5× its share), a busy signal's Retry-After waited out", probeDevices)}
		},
	}
}

// probeDevices is how many devices probeBackoff simulates.
const probeDevices = 2000

// probeBackoff draws the first connection attempt of probeDevices devices
// from the policy's own Backoff and checks that they spread evenly over
// the start-up window, then that a busy signal's Retry-After is waited
// out. It returns what is wrong, or "".
func probeBackoff(p Policy) string {
	spread := p.Spread()
	if spread <= 0 {
		return "start-up spread is zero: a fleet reconnects at once"
	}
	var buckets [10]int
	for range probeDevices {
		d := p.NewBackoff().Start()
		if d < 0 || d > spread {
			return fmt.Sprintf("a first attempt was drawn at %v, outside the start-up spread %v", d, spread)
		}
		buckets[min(int(int64(d)*10/int64(spread)), 9)]++
	}
	for i, n := range buckets {
		if n > probeDevices/10*3/2 {
			return fmt.Sprintf("first attempts bunch up: %d of %d fall in tenth %d of the start-up spread", n, probeDevices, i+1)
		}
	}
	b := p.NewBackoff()
	b.Start()
	wait := 7 * time.Second
	if q := p.normalized(); wait > q.MaxRetryAfter {
		wait = q.MaxRetryAfter
	}
	if d := b.Failed(&BusyError{Reason: "probe", RetryAfter: wait}); d < wait {
		return fmt.Sprintf("after a busy signal asking for %v the next attempt came after %v", wait, d)
	}
	return ""
}

// maxSaneCap is the longest retry cap the policy check accepts.
const maxSaneCap = time.Hour
