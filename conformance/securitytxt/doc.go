// Package securitytxt writes and checks security.txt files (RFC 9116), the
// machine-readable pointer to a manufacturer's vulnerability disclosure
// contact that EN 303 645 provision 5.2-1 asks to be published.
//
// A device that serves a web interface should also serve this file at
// [Path] (/.well-known/security.txt), so that a researcher who finds a flaw
// in the device in front of them learns where to report it without
// searching the manufacturer's website. The file is plain text, a few lines
// long, and must carry an expiry date, so a device builds it at start-up
// rather than shipping a fixed copy that goes stale in the field.
//
// It imports only the standard library, like its parent package
// conformance, so any firmware can link it without new dependencies.
//
// # Provisions
//
//   - 5.2-1 (vulnerability disclosure policy published): [File] holds the
//     contact, policy and expiry; [File.Marshal] renders a valid file and
//     refuses an invalid one; [Parse] and [File.Validate] list every
//     problem of an existing file.
//
// # Quick start
//
// Build the file from the contact and policy URL the device profile
// already carries (conformance.Profile.VulnerabilityDisclosure), so the
// device and its conformance statement name the same contact, and serve
// it:
//
//	f := securitytxt.File{
//		Contact: []string{"mailto:psirt@example.com"},
//		Policy:  []string{"https://example.com/disclosure"},
//		Expires: time.Now().Add(180 * 24 * time.Hour),
//	}
//	body, err := f.Marshal(time.Now())
//	if err != nil {
//		return err // a *Problems listing what is wrong
//	}
//	mux.HandleFunc("GET "+securitytxt.Path, func(w http.ResponseWriter, r *http.Request) {
//		w.Header().Set("Content-Type", securitytxt.ContentType)
//		w.Write(body)
//	})
//
// The reference device (examples/smartplug) does exactly this at boot. On
// the manufacturer's side, `baseline securitytxt generate` writes the file
// for a website and `baseline securitytxt validate` checks one in CI; both
// use this package.
//
// [Parse] reads a file with a size bound ([MaxSize]) and never fails: it
// returns what it could read and every problem as a [Problem] with a line
// number and a [Severity], so a CI job can list them all at once.
// [HasErrors] tells errors (a MUST of RFC 9116 broken) from warnings.
//
// # Security considerations
//
// Web URIs must use https (RFC 9116 section 2.5.3 and following); the
// parser never fetches anything. An OpenPGP cleartext-signed file is parsed
// but its signature is not verified here: [Parsed.Signed] tells the caller to
// verify it with the key named in Encryption. Keep Expires under a year
// ahead ([MaxRecommendedValidity]): a contact that outlives the team
// behind it sends reports nowhere.
package securitytxt
