package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

func init() {
	register(command{
		name:    "ics",
		summary: "write the Implementation Conformance Statement from a device profile",
		run:     runICS,
	})
}

// icsNow is the clock the support period is checked against; tests pin it.
var icsNow = time.Now

const icsUsage = `usage:
  baseline ics init
      print a profile skeleton listing every provision with empty answers
  baseline ics --profile FILE [--format json|markdown|html]
      print the Implementation Conformance Statement for the profile

Exit status: 0 when the statement is complete and conformant; 1 when it is
not, with one line per problem on stderr (provision ID first); 2 on usage
errors or a profile that cannot be read (with line:column for JSON errors).
`

func runICS(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "init" {
		if len(args) > 1 {
			fmt.Fprintf(stderr, "baseline ics init: unexpected argument %q\n", args[1])
			return 2
		}
		if err := conformance.Skeleton().WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "baseline ics init: %v\n", err)
			return 2
		}
		return 0
	}
	fs := flag.NewFlagSet("ics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, icsUsage) }
	profile := fs.String("profile", "", "device profile `FILE` (JSON)")
	format := fs.String("format", "json", "output format: json, markdown or html")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "baseline ics: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *profile == "" {
		fmt.Fprintln(stderr, "baseline ics: --profile FILE is required (start one with 'baseline ics init')")
		fs.Usage()
		return 2
	}
	var write func(*conformance.Statement, io.Writer) error
	switch *format {
	case "json":
		write = (*conformance.Statement).WriteJSON
	case "markdown", "md":
		write = (*conformance.Statement).WriteMarkdown
	case "html":
		write = (*conformance.Statement).WriteHTML
	default:
		fmt.Fprintf(stderr, "baseline ics: unknown format %q (json, markdown or html)\n", *format)
		return 2
	}
	f, err := os.Open(*profile)
	if err != nil {
		fmt.Fprintf(stderr, "baseline ics: %v\n", err)
		return 2
	}
	p, err := conformance.DecodeProfile(f, icsNow())
	f.Close()
	if err != nil {
		var pe *conformance.ProfileError
		if errors.As(err, &pe) {
			where := *profile
			if w := pe.Where(); w != "" {
				where += ":" + w
			}
			fmt.Fprintf(stderr, "%s: %s\n", where, oneLine(pe.Message()))
		} else {
			fmt.Fprintf(stderr, "%s: %s\n", *profile, oneLine(err.Error()))
		}
		return 2
	}
	st := conformance.NewStatement(p)
	if err := write(st, stdout); err != nil {
		fmt.Fprintf(stderr, "baseline ics: writing the statement: %v\n", err)
		return 2
	}
	if st.Conformant {
		return 0
	}
	for _, pb := range st.Problems {
		fmt.Fprintln(stderr, oneLine(pb.String()))
	}
	return 1
}
