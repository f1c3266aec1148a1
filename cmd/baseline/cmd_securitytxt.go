package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/conformance/securitytxt"
)

func init() {
	register(command{
		name:    "securitytxt",
		summary: "generate or validate a security.txt file (RFC 9116, provision 5.2-1)",
		run:     runSecurityTxt,
	})
}

// now is the clock of the subcommands; tests replace it.
var now = time.Now

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func securityTxtUsage(w io.Writer) {
	fmt.Fprintln(w, `usage: baseline securitytxt generate --contact URI [--contact URI...] [flags]
       baseline securitytxt validate FILE   (FILE "-" reads standard input)

generate writes an RFC 9116 file to standard output (or -o FILE) after
validating it; validate lists every problem of an existing file and exits 1
if it has errors (warnings alone exit 0).`)
}

func runSecurityTxt(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		securityTxtUsage(stderr)
		return 2
	}
	switch args[0] {
	case "generate":
		return securityTxtGenerate(args[1:], stdout, stderr)
	case "validate":
		return securityTxtValidate(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		securityTxtUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "baseline securitytxt: unknown action %q\n", args[0])
	securityTxtUsage(stderr)
	return 2
}

func securityTxtGenerate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("securitytxt generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f securitytxt.File
	var contact, enc, ack, canon, policy, hiring listFlag
	fs.Var(&contact, "contact", "`URI` to report vulnerabilities to: mailto:, tel: or https:// (repeatable, required)")
	fs.Var(&enc, "encryption", "`URI` of an encryption key: https://, dns: or openpgp4fpr: (repeatable)")
	fs.Var(&ack, "acknowledgments", "https:// `URI` of the acknowledgments page (repeatable)")
	fs.Var(&canon, "canonical", "https:// `URI` where this file is published (repeatable)")
	fs.Var(&policy, "policy", "https:// `URI` of the disclosure policy (repeatable)")
	fs.Var(&hiring, "hiring", "https:// `URI` of security job openings (repeatable)")
	langs := fs.String("languages", "", "comma-separated preferred `languages` (e.g. en,de)")
	expires := fs.String("expires", "", "expiry `time` in RFC 3339 (default: now + --valid-for)")
	validFor := fs.Duration("valid-for", 180*24*time.Hour, "validity when --expires is not given (RFC 9116 recommends < 1 year)")
	out := fs.String("o", "", "write to `FILE` instead of standard output")
	profile := fs.String("profile", "", "device profile `FILE` (baseline ics) whose vulnerability_disclosure contact and policy_url are used when --contact / --policy are not given")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "baseline securitytxt generate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	t := now()
	if *profile != "" {
		c, pol, err := disclosureFromProfile(*profile, t)
		if err != nil {
			fmt.Fprintf(stderr, "baseline securitytxt generate: %s\n", oneLine(err.Error()))
			return 2
		}
		if len(contact) == 0 && c != "" {
			contact = listFlag{c}
		}
		if len(policy) == 0 && pol != "" {
			policy = listFlag{pol}
		}
	}
	f.Contact, f.Encryption, f.Acknowledgments, f.Canonical, f.Policy, f.Hiring = contact, enc, ack, canon, policy, hiring
	if *langs != "" {
		for _, l := range strings.Split(*langs, ",") {
			f.PreferredLanguages = append(f.PreferredLanguages, strings.TrimSpace(l))
		}
	}
	if *expires != "" {
		e, err := time.Parse(time.RFC3339, *expires)
		if err != nil {
			fmt.Fprintf(stderr, "baseline securitytxt generate: --expires: %q is not an RFC 3339 time (e.g. 2027-01-31T23:59:59Z)\n", *expires)
			return 2
		}
		f.Expires = e
	} else {
		f.Expires = t.Add(*validFor).UTC().Truncate(time.Second)
	}
	b, err := f.Marshal(t)
	var ps *securitytxt.Problems
	if errors.As(err, &ps) {
		for _, p := range *ps {
			fmt.Fprintf(stderr, "baseline securitytxt generate: %s\n", oneLine(p.String()))
		}
		return 2
	} else if err != nil {
		fmt.Fprintf(stderr, "baseline securitytxt generate: %s\n", oneLine(err.Error()))
		return 2
	}
	for _, p := range f.Validate(t) { // warnings
		fmt.Fprintf(stderr, "baseline securitytxt generate: %s\n", oneLine(p.String()))
	}
	if *out == "" {
		stdout.Write(b)
		return 0
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "baseline securitytxt generate: %s\n", oneLine(err.Error()))
		return 2
	}
	return 0
}

func securityTxtValidate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") && args[0] != "-" {
		fmt.Fprintln(stderr, "usage: baseline securitytxt validate FILE")
		return 2
	}
	var r io.Reader = os.Stdin
	if args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintf(stderr, "baseline securitytxt validate: %s\n", oneLine(err.Error()))
			return 2
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, securitytxt.MaxSize+1))
	if err != nil {
		fmt.Fprintf(stderr, "baseline securitytxt validate: %s\n", oneLine(err.Error()))
		return 2
	}
	p := securitytxt.Parse(data, now())
	for _, pr := range p.Problems {
		fmt.Fprintf(stdout, "%s: %s\n", args[0], oneLine(pr.String()))
	}
	if p.Signed {
		fmt.Fprintf(stdout, "%s: note: OpenPGP signature present but not verified by this tool\n", args[0])
	}
	if securitytxt.HasErrors(p.Problems) {
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid (%d contact(s), expires %s)\n", args[0], len(p.Contact), p.Expires.UTC().Format(time.RFC3339))
	return 0
}

// disclosureFromProfile reads the disclosure contact (as a URI: a bare
// e-mail address becomes mailto:) and policy URL from a device profile, so
// that security.txt and the ICS say the same (5.2-1).
func disclosureFromProfile(name string, t time.Time) (contact, policy string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	p, err := conformance.DecodeProfile(f, t)
	if err != nil {
		return "", "", err
	}
	contact = p.VulnerabilityDisclosure.Contact
	if contact != "" && !strings.Contains(contact, ":") {
		contact = "mailto:" + contact
	}
	return contact, p.VulnerabilityDisclosure.PolicyURL, nil
}
