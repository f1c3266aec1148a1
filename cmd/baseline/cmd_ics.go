package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/conformance"
)

func init() {
	register(command{
		name:    "ics",
		summary: "write the Implementation Conformance Statement from a device profile and, with --device, the running device's self-check",
		run:     runICS,
	})
}

// icsNow is the clock the support period is checked against; tests pin it.
var icsNow = time.Now

const icsUsage = `usage:
  baseline ics init
      print a profile skeleton listing every provision with empty answers
  baseline ics --profile FILE [--format json|markdown|html]
             [--device URL --device-cert PEM (--token-file F | --token-env VAR)]
      print the Implementation Conformance Statement for the profile

A profile alone is the manufacturer's claim: every Y on a provision the
device can test itself (evidence E) is INCONCLUSIVE until the running
device's self-check results back it, and a mandatory one keeps the
statement incomplete. --device fetches those results: URL is the device's
JSON self-check report (the reference plug serves it at /api/selfcheck),
fetched over HTTPS with the device's certificate pinned exactly (the PEM
file given to --device-cert; no CA is consulted) and the owner's bearer
token read from a file or an environment variable, never from the command
line. The report must name the profile's model and firmware version. Each
check says whether it measured the running device or read its
configuration, and the statement shows the two apart.

Exit status: 0 when the statement is complete and conformant; 1 when it is
not, with one line per problem on stderr (provision ID first); 2 on usage
errors, a profile that cannot be read (with line:column for JSON errors)
or a device report that cannot be fetched or decoded.
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
	var dev deviceFlags
	dev.register(fs)
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
	st, code := loadStatement("ics", *profile, dev, stderr)
	if st == nil {
		return code
	}
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

// deviceFlags are how a command reaches the running device's self-check.
type deviceFlags struct {
	url, cert, tokenFile, tokenEnv string
}

// register adds --device, --device-cert, --token-file and --token-env.
func (d *deviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.url, "device", "", "https `URL` of the running device's JSON self-check report")
	fs.StringVar(&d.cert, "device-cert", "", "the device's TLS certificate (PEM `FILE`), pinned exactly")
	fs.StringVar(&d.tokenFile, "token-file", "", "`FILE` holding the owner's bearer token")
	fs.StringVar(&d.tokenEnv, "token-env", "", "environment `VARIABLE` holding the owner's bearer token")
}

// loadStatement reads the profile and, with a device URL, attaches the
// running device's self-check results. It returns nil and the exit status
// after printing the problem.
func loadStatement(cmd, profile string, dev deviceFlags, stderr io.Writer) (*conformance.Statement, int) {
	f, err := os.Open(profile)
	if err != nil {
		fmt.Fprintf(stderr, "baseline %s: %v\n", cmd, err)
		return nil, 2
	}
	p, err := conformance.DecodeProfile(f, icsNow())
	f.Close()
	if err != nil {
		var pe *conformance.ProfileError
		if errors.As(err, &pe) {
			where := profile
			if w := pe.Where(); w != "" {
				where += ":" + w
			}
			fmt.Fprintf(stderr, "%s: %s\n", where, oneLine(pe.Message()))
		} else {
			fmt.Fprintf(stderr, "%s: %s\n", profile, oneLine(err.Error()))
		}
		return nil, 2
	}
	st := conformance.NewStatement(p)
	if dev.url != "" {
		token, err := readToken(dev.tokenFile, dev.tokenEnv)
		if err != nil {
			fmt.Fprintf(stderr, "baseline %s: %v\n", cmd, err)
			return nil, 2
		}
		rep, err := fetchReport(context.Background(), dev.url, dev.cert, token)
		if err != nil {
			fmt.Fprintf(stderr, "baseline %s: %s\n", cmd, oneLine(err.Error()))
			return nil, 2
		}
		if rep.Model != p.Model || rep.FirmwareVersion != p.FirmwareVersion {
			fmt.Fprintf(stderr, "baseline %s: the device reports model %q firmware %q; the profile is for model %q firmware %q\n",
				cmd, rep.Model, rep.FirmwareVersion, p.Model, p.FirmwareVersion)
			return nil, 2
		}
		st.Attach(rep.Results)
	} else if dev.cert != "" || dev.tokenFile != "" || dev.tokenEnv != "" {
		fmt.Fprintf(stderr, "baseline %s: --device-cert, --token-file and --token-env go with --device\n", cmd)
		return nil, 2
	}
	return st, 0
}

// deviceTimeout bounds fetching a device's self-check report; the device
// runs its checks on the request, which [conformance.DefaultCheckTimeout]
// bounds per check.
const deviceTimeout = 60 * time.Second

// readToken reads the owner's bearer token from a file or an environment
// variable: exactly one must be given. One trailing newline is removed.
func readToken(file, env string) (string, error) {
	var tok string
	switch {
	case file != "" && env != "":
		return "", errors.New("give the token with --token-file or --token-env, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the token: %w", err)
		}
		tok = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	case env != "":
		tok = os.Getenv(env)
	default:
		return "", errors.New("--device needs the owner's token: --token-file FILE or --token-env VAR")
	}
	if tok == "" || len(tok) > 4096 || strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("the owner's token is empty, too long or contains white space")
	}
	return tok, nil
}

// fetchReport GETs the device's JSON self-check report over HTTPS, the
// device's certificate pinned byte for byte, and decodes it strictly.
func fetchReport(ctx context.Context, rawURL, certFile, token string) (*conformance.Report, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("--device %q: want an https URL without user info", rawURL)
	}
	if certFile == "" {
		return nil, errors.New("--device needs --device-cert: the device's certificate (PEM) to pin")
	}
	pemData, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading the device certificate: %w", err)
	}
	blk, _ := pem.Decode(pemData)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", certFile)
	}
	pinned, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The device's certificate is self-signed from its identity
			// key and no CA vouches for it, so chain verification is
			// replaced, not dropped: VerifyConnection accepts exactly the
			// pinned certificate and nothing else.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, pinned.Raw) {
					return errors.New("the device's certificate is not the pinned one")
				}
				now := time.Now()
				if now.Before(pinned.NotBefore) || now.After(pinned.NotAfter) {
					return fmt.Errorf("the pinned certificate is not valid now (valid %s to %s)", pinned.NotBefore.Format(time.DateOnly), pinned.NotAfter.Format(time.DateOnly))
				}
				return nil
			},
		},
		Proxy:                 nil,
		ResponseHeaderTimeout: deviceTimeout,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: deviceTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the device's report: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return nil, fmt.Errorf("the device refused the token (HTTP %d): log in as the owner and pass a fresh token", resp.StatusCode)
		}
		return nil, fmt.Errorf("the device answered HTTP %d, not its report", resp.StatusCode)
	}
	rep, err := conformance.DecodeReport(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("the device's report: %w", err)
	}
	return rep, nil
}
