package conformance

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Verdict is the outcome of one self-check.
type Verdict string

// The verdicts a [Check] may return. Only Pass and Fail are claims about the
// device that a check observed; the others say why no such claim is made.
const (
	// Pass: the check observed the provision being met by the running device.
	Pass Verdict = "PASS"
	// Fail: the check observed the provision not being met.
	Fail Verdict = "FAIL"
	// Inconclusive: the check ran but cannot vouch for the provision, for
	// example because a weaker fallback is in use. Result.Detail says why.
	Inconclusive Verdict = "INCONCLUSIVE"
	// NotApplicable: the provision's condition does not hold on this device.
	NotApplicable Verdict = "NOT_APPLICABLE"
	// Declared: only the manufacturer can know; the statement is recorded as
	// their claim. A declaration is never reported as Pass.
	Declared Verdict = "DECLARED"
	// NotRun: the check was not run (not registered, cancelled or timed out).
	NotRun Verdict = "NOT_RUN"
)

// Valid reports whether v is one of the defined verdicts.
func (v Verdict) Valid() bool {
	switch v {
	case Pass, Fail, Inconclusive, NotApplicable, Declared, NotRun:
		return true
	}
	return false
}

// Method says how a check reached its verdict. Reports show the methods apart
// and only a measured PASS reads "confirmed".
type Method string

const (
	// Configured: the check read the settings in force (a parameter, a file
	// mode, a declared list). Its PASS means "set as required", not that the
	// running device was seen to behave so. The zero Method reads as
	// Configured, so a check that does not say how it worked never claims
	// more than this.
	Configured Method = "configured"
	// Measured: the check exercised the running device the way a lab would
	// (a real handshake on the server's own config, a hostile request through
	// the device's own handler chain, a corrupted chunk through the real
	// verifier) and must fail when the device is broken the way it guards
	// against.
	Measured Method = "measured"
)

// Result is what one run of a [Check] observed.
type Result struct {
	// Verdict is the outcome.
	Verdict Verdict `json:"verdict"`
	// Observed is the value the check saw, in words a reader can compare
	// with the provision (for example "argon2id m=19456 t=2 p=1").
	// It never holds a secret.
	Observed string `json:"observed,omitempty"`
	// Detail explains the verdict, required for anything but Pass.
	Detail string `json:"detail,omitempty"`
	// At is when the check ran. RunChecks fills it in when zero.
	At time.Time `json:"at"`
}

// Check is one self-check a package contributes to the device's report
// (provision 5.12-3) and to the evidence in its conformance statement.
type Check struct {
	// ID names the check, "package.what" (for example "auth.hash-params").
	ID string
	// Provisions lists the provision IDs the check gives evidence for.
	Provisions []string
	// Title says in plain words what is checked, for the report a device's
	// owner reads.
	Title string
	// Method says whether Run measures the running device or reads its
	// configuration; the zero value is [Configured].
	Method Method
	// Run performs the check. It must honour ctx, must not change device
	// state that a user could notice, and must not return secrets.
	Run func(ctx context.Context) Result
}

// Checker is implemented by every package of the SDK, and may be by the
// device's own code: it lists the self-checks that observe the running
// configuration.
type Checker interface {
	Checks() []Check
}

// CheckerFunc adapts a function to a [Checker].
type CheckerFunc func() []Check

// Checks calls f.
func (f CheckerFunc) Checks() []Check { return f() }

// CheckResult is a check together with its result.
type CheckResult struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Provisions []string `json:"provisions"`
	// Method is the check's [Method], never empty in a result.
	Method Method `json:"method"`
	Result
}

// DefaultCheckTimeout bounds each check run by [RunChecks].
const DefaultCheckTimeout = 10 * time.Second

// RunChecks runs every check of every checker, one after another, each under
// its own timeout of [DefaultCheckTimeout]. A check that panics is reported as
// Fail with the panic message; one that overruns its timeout or returns an
// invalid verdict is reported as NotRun or Inconclusive. A Pass for a check
// whose provisions are all declarations in the catalog is downgraded to
// Declared: a declaration is never reported as PASS. Results are sorted by ID.
func RunChecks(ctx context.Context, checkers ...Checker) []CheckResult {
	var out []CheckResult
	for _, c := range checkers {
		if c == nil {
			continue
		}
		for _, chk := range c.Checks() {
			out = append(out, runOne(ctx, chk))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func runOne(ctx context.Context, chk Check) (cr CheckResult) {
	cr = CheckResult{ID: chk.ID, Title: chk.Title, Provisions: append([]string(nil), chk.Provisions...), Method: chk.Method}
	if cr.Method != Measured {
		cr.Method = Configured
	}
	if chk.Run == nil {
		cr.Result = Result{Verdict: NotRun, Detail: "check has no Run function", At: time.Now().UTC()}
		return cr
	}
	if err := ctx.Err(); err != nil {
		cr.Result = Result{Verdict: NotRun, Detail: "not run: " + err.Error(), At: time.Now().UTC()}
		return cr
	}
	cctx, cancel := context.WithTimeout(ctx, DefaultCheckTimeout)
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Result{Verdict: Fail, Detail: fmt.Sprintf("check panicked: %v", p)}
			}
		}()
		done <- chk.Run(cctx)
	}()
	var r Result
	select {
	case r = <-done:
	case <-cctx.Done():
		r = Result{Verdict: NotRun, Detail: "check did not finish: " + cctx.Err().Error()}
	}
	if !r.Verdict.Valid() {
		r = Result{Verdict: Inconclusive, Detail: fmt.Sprintf("check returned unknown verdict %q", r.Verdict)}
	}
	if r.Verdict == Pass && allDeclarations(chk.Provisions) {
		r.Verdict = Declared
		if r.Detail == "" {
			r.Detail = "provision can only be declared by the manufacturer"
		}
	}
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	cr.Result = r
	return cr
}

// allDeclarations reports whether every listed provision is, in the catalog,
// something only the manufacturer can declare (evidence kind D alone).
func allDeclarations(ids []string) bool {
	if len(ids) == 0 {
		return false
	}
	for _, id := range ids {
		p, ok := Lookup(id)
		if !ok || !p.pureDeclaration() {
			return false
		}
	}
	return true
}
