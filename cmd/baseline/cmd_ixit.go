package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/iotbaseline/baseline/conformance"
)

func init() {
	register(command{
		name:    "ixit",
		summary: "write the TS 103 701 IXIT documents pre-filled from the profile and the running device's self-check results",
		run:     runIXIT,
	})
}

const ixitUsage = `usage:
  baseline ixit --profile FILE [--format markdown|json]
                [--device URL --device-cert PEM (--token-file F | --token-env VAR)]

Writes the 29 IXIT documents ("Implementation eXtra Information for
Testing") that a lab reviews when it assesses the device against
EN 303 645 V2.1.1 under ETSI TS 103 701 V1.1.1, pre-filled. For each
section: the provisions whose test groups read it; what the running
device's self-checks observed (with --device, fetched as for 'baseline
ics': the device's certificate pinned, the owner's token from a file or
the environment), each row labelled "check ID (measured)" or "check ID
(configured)" and, where the check informs one, the IXIT field; and the
maker's answers from the profile, labelled "declared by the maker".
Without --device the IXIT says that no device results were attached.
What no check observes is listed in every section as "MAKER TO WRITE":
the output is a starting point, not a finished IXIT.

Exit status: 0 written; 2 on usage errors, a profile that cannot be read
or a device report that cannot be fetched.
`

func runIXIT(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ixit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ixitUsage) }
	profile := fs.String("profile", "", "device profile `FILE` (JSON)")
	format := fs.String("format", "markdown", "output format: markdown or json")
	var dev deviceFlags
	dev.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *profile == "" {
		fmt.Fprintln(stderr, "baseline ixit: --profile FILE is required, and nothing else")
		return 2
	}
	var write func(*conformance.IXIT, io.Writer) error
	switch *format {
	case "markdown", "md":
		write = (*conformance.IXIT).WriteMarkdown
	case "json":
		write = (*conformance.IXIT).WriteJSON
	default:
		fmt.Fprintf(stderr, "baseline ixit: unknown format %q (markdown or json)\n", *format)
		return 2
	}
	st, code := loadStatement("ixit", *profile, dev, stderr)
	if st == nil {
		return code
	}
	if err := write(st.IXIT(), stdout); err != nil {
		fmt.Fprintf(stderr, "baseline ixit: %v\n", err)
		return 2
	}
	return 0
}
