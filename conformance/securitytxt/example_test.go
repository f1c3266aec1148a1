package securitytxt_test

import (
	"fmt"
	"time"

	"github.com/iotbaseline/baseline/conformance/securitytxt"
)

func Example() {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f := securitytxt.File{
		Contact: []string{"mailto:psirt@example.com"},
		Expires: now.AddDate(0, 6, 0),
		Policy:  []string{"https://example.com/disclosure"},
	}
	b, err := f.Marshal(now)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	p := securitytxt.Parse(b, now)
	fmt.Println("problems:", len(p.Problems))
	// Output:
	// # Security contact of this product (RFC 9116).
	// Contact: mailto:psirt@example.com
	// Expires: 2027-05-26T00:00:00Z
	// Policy: https://example.com/disclosure
	// problems: 0
}
