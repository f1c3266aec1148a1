package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/iface"
)

// checkers lists every self-check source of the running device: each SDK
// package reports on itself from the live configuration, and the device
// adds what only it can observe.
func (d *device) checkers() []conformance.Checker {
	cs := []conformance.Checker{d.store, d.owner, d.updates, d.cloud, conformance.CheckerFunc(d.deviceChecks)}
	if d.gateChecker != nil {
		cs = append(cs, d.gateChecker)
	}
	if d.srv != nil {
		cs = append(cs, &iface.SelfCheck{
			ServerTLS: d.tlsConfig,
			Server:    d.srv,
			Inventory: d.inventory(),
			// On a laptop other programs listen too; the device answers
			// for its own sockets. A dedicated device audits them all.
			Audit: iface.AuditOptions{ProcessOnly: true},
			JSON:  iface.JSONLimits{MaxBytes: maxJSONBody, MaxDepth: jsonDepth},
		})
	}
	return cs
}

// deviceChecks are the smart plug's own observations.
func (d *device) deviceChecks() []conformance.Check {
	return []conformance.Check{
		{ID: "smartplug.state-private", Provisions: []string{"5.4-1"},
			Title: "The plug's stored data can be read only by the plug's own software",
			Run:   d.checkStatePrivate},
		{ID: "smartplug.local-first", Provisions: []string{"5.9-2"},
			Title: "The switch state is kept on the plug itself and survives power cuts and cloud outages",
			Run:   d.checkLocalFirst},
	}
}

// checkStatePrivate walks the state directory: no file or directory may
// be accessible to group or others.
func (d *device) checkStatePrivate(ctx context.Context) conformance.Result {
	var open []string
	n := 0
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		n++
		rel, _ := filepath.Rel(d.dir, p)
		// The demo repository and the certificate are public by nature.
		if strings.HasPrefix(rel, "demo-repo") || rel == "tls-cert.pem" {
			return nil
		}
		if info.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s (%v)", rel, info.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "cannot inspect the state directory: " + err.Error()}
	}
	if len(open) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: strings.Join(open, ", "), Detail: "these are readable or writable by other users of the system"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("%d entries under %s, none open to group or others", n, d.dir)}
}

// checkLocalFirst compares the switch state on flash with the live one.
func (d *device) checkLocalFirst(ctx context.Context) conformance.Result {
	live := d.plug.State()
	b, err := durable.ReadFile(durable.OS, d.plug.path, maxPlugState)
	if os.IsNotExist(err) && !live.On && live.Changed.IsZero() {
		return conformance.Result{Verdict: conformance.Pass, Observed: "never switched; starts off after a power cut", Detail: ""}
	}
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "switch state not readable from flash: " + err.Error()}
	}
	var st plugState
	if err := json.Unmarshal(b, &st); err != nil || st.On != live.On || !st.Changed.Equal(live.Changed) {
		return conformance.Result{Verdict: conformance.Fail, Observed: string(bytes.TrimSpace(b)), Detail: "the state on flash differs from the live state"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("on=%v stored on flash; cloud link: %s", live.On, d.cloud.describe())}
}
