package conformance_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

// A manufacturer checks a statement. A profile alone is the maker's claim:
// each Y that the device could test itself stays INCONCLUSIVE until the
// running device's self-check results are attached (see
// [conformance.Statement.Attach]), and a mandatory one keeps the statement
// incomplete.
func ExampleNewStatement() {
	f, err := os.Open("testdata/complete-profile.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	p, err := conformance.DecodeProfile(f, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	st := conformance.NewStatement(p)
	fmt.Println("complete:", st.Complete, "provisions:", st.Totals.Provisions, "N/A:", st.Totals.NotApplicable)
	for _, id := range []string{"5.1-3", "5.6-9", "5.6-4"} {
		e, _ := st.Entry(id)
		fmt.Println(id+":", e.Support, e.Verdict, e.Basis)
	}

	// Declaring 5.6-8 unmet without saying why breaks rule 4-1.
	for i := range p.Provisions {
		if p.Provisions[i].ID == "5.6-8" {
			p.Provisions[i] = conformance.Answer{ID: "5.6-8", Support: conformance.No}
		}
	}
	for _, pb := range conformance.NewStatement(p).Problems {
		if pb.Provision == "5.6-8" {
			fmt.Println(pb)
		}
	}
	// Output:
	// complete: false provisions: 68 N/A: 3
	// 5.1-3: Y INCONCLUSIVE none
	// 5.6-9: Y DECLARED declared
	// 5.6-4: N/A NOT_APPLICABLE declared
	// 5.6-8: justification: recommendation answered N without a justification (4-1 requires one)
}

// A refused profile names the field and its position.
func ExampleDecodeProfile() {
	doc := `{
  "model": "SP-100",
  "provisions": [
    {"id": "5.1-1", "support": "Y"},
    {"id": "5.1-1", "support": "N"}
  ]
}`
	_, err := conformance.DecodeProfile(strings.NewReader(doc), time.Now())
	fmt.Println(err)
	// Output:
	// conformance: profile 5:5: provisions[1].id (5.1-1): duplicate entry; provisions[0] already answers 5.1-1
}

// hashParams stands in for an SDK package: its check reports what the
// running configuration actually uses.
type hashParams struct{ memoryKiB int }

func (h hashParams) Checks() []conformance.Check {
	return []conformance.Check{{
		ID:         "auth.hash-params",
		Provisions: []string{"5.1-3"},
		Title:      "Password hashing strength",
		Run: func(ctx context.Context) conformance.Result {
			obs := fmt.Sprintf("argon2id m=%d KiB", h.memoryKiB)
			if h.memoryKiB < 19456 {
				return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "below the 19 MiB floor"}
			}
			return conformance.Result{Verdict: conformance.Pass, Observed: obs}
		},
	}}
}

// The device runs its self-checks and serves the report (5.12-3).
func ExampleRunChecks() {
	results := conformance.RunChecks(context.Background(), hashParams{memoryKiB: 19456})
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	conformance.NewReport("SP-100", "1.0.0", at, results).WriteText(os.Stdout)
	// Output:
	// Self-check of SP-100, firmware 1.0.0, 2026-11-26T09:00:00Z
	// Result: all checks passed or were declared
	// PASS         configured auth.hash-params  Password hashing strength (5.1-3): argon2id m=19456 KiB
}

// Live results joined to the statement: a check that fails under a Y makes
// the statement non-conformant.
func ExampleStatement_Attach() {
	f, _ := os.Open("testdata/complete-profile.json")
	defer f.Close()
	p, err := conformance.DecodeProfile(f, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	st := conformance.NewStatement(p)
	st.Attach(conformance.RunChecks(context.Background(), hashParams{memoryKiB: 4096}))
	e, _ := st.Entry("5.1-3")
	fmt.Println(e.Verdict, st.Conformant)
	for _, pb := range st.Problems {
		if pb.Provision == "5.1-3" {
			fmt.Println(pb)
		}
	}
	// Output:
	// FAIL false
	// 5.1-3: check auth.hash-params: declared Y, but the self-check failed: below the 19 MiB floor
}
