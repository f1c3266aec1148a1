// Command baseline is the manufacturer's tool for devices built on the
// baseline SDK: it writes the Implementation Conformance Statement, provisions
// factory batches, makes signing keys, publishes releases into a static TUF
// repository, scans for hard-coded secrets, writes security.txt and SBOMs, and
// pre-fills the TS 103 701 IXIT documents and signs the evidence (ICS, IXIT,
// SBOM, scan result) into one in-toto attestation bound to a firmware image.
//
// Run `baseline help` for the list of subcommands.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own file (cmd_NAME.go) and
// registers itself in init.
type command struct {
	name    string
	summary string
	// run executes the subcommand with its arguments and returns the exit
	// status: 0 success, 1 a finding or failed check, 2 a usage or input
	// error.
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("baseline: duplicate command " + c.name)
	}
	commands[c.name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "baseline: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: baseline <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'baseline <command> -h' for a command's flags.")
}

// oneLine flattens an error message so that each problem stays on its own
// output line.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
