package privacy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/iotbaseline/baseline/internal/htmlw"
)

// Notice is the plain-language privacy notice built from an [Inventory]
// (provisions 6-1 and 5.8-3): what the device senses, which personal data is
// processed, why, on what basis, by whom and for how long.
//
// The text form is canonical: SHA256 is its digest, and it is what the
// consent ledger binds each decision to. The HTML form is rendered from the
// same inventory, carries the same words, and shows the notice's ID, version
// and digest so a user (or a lab) can match a page to a consent record.
type Notice struct {
	// ID, Version and Language are the inventory's.
	ID, Version, Language string
	// Text is the notice as plain text, lines ending in "\n".
	Text string
	// HTML is a complete HTML page with no scripts and no external
	// resources.
	HTML string
	// SHA256 is the SHA-256 digest of Text.
	SHA256 [32]byte

	inv *Inventory
}

// NoticeRef identifies exactly the notice a user saw: its ID, its version
// and the SHA-256 of its text. A consent decision is bound to one.
type NoticeRef struct {
	// ID and Version are the inventory's notice ID and version.
	ID      string `json:"id"`
	Version string `json:"version"`
	// SHA256 is the hex SHA-256 of the notice's text.
	SHA256 string `json:"sha256"`
}

// NewNotice validates the inventory and builds its notice. The inventory is
// copied: changing it afterwards does not change the notice.
func NewNotice(inv *Inventory) (*Notice, error) {
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	inv = inv.clone()
	v := noticeView(inv)
	text := renderText(v)
	n := &Notice{ID: inv.NoticeID, Version: inv.Version, Language: inv.Language, Text: text, SHA256: sha256.Sum256([]byte(text)), inv: inv}
	v.Digest = n.Hash()
	n.HTML = renderHTML(v)
	return n, nil
}

// Hash returns the hex SHA-256 of the notice's text.
func (n *Notice) Hash() string { return hex.EncodeToString(n.SHA256[:]) }

// Ref returns the reference a consent decision made on this notice carries.
func (n *Notice) Ref() NoticeRef { return NoticeRef{ID: n.ID, Version: n.Version, SHA256: n.Hash()} }

// Inventory returns a copy of the inventory the notice was built from.
func (n *Notice) Inventory() *Inventory { return n.inv.clone() }

// Handler serves the notice: HTML by default, plain text when the request
// asks for text/plain (Accept header) or has ?format=text. Responses carry
// the notice's digest in an ETag and forbid scripts and framing.
func (n *Notice) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("ETag", `"`+n.Hash()+`"`)
		h.Set("Content-Language", n.Language)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		if r.URL.Query().Get("format") == "text" || strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(n.Text))
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(n.HTML))
	})
}

// The view both renderings are made from, so they cannot say different
// things.
type nView struct {
	ID, Version, Language, Product string
	Controller                     Controller
	Sensors                        []nSensor
	Categories                     []nCategory
	Purposes                       []nPurpose
	ThirdParties                   []string
	Digest                         string
}

type nSensor struct {
	Kind, Description, Indicator, Disable string
	Data                                  []string
}

type nCategory struct {
	Name, Description string
	Facts             []string
}

type nPurpose struct {
	ID, Description, Basis, Retention string
	Consent                           bool
	Data, Recipients                  []string
}

func noticeView(inv *Inventory) nView {
	v := nView{ID: inv.NoticeID, Version: inv.Version, Language: inv.Language, Product: inv.Product, Controller: inv.Controller}
	catName := map[string]string{}
	for _, c := range inv.Categories {
		catName[c.ID] = c.Name
	}
	names := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = catName[id]
		}
		return out
	}
	for _, s := range inv.Sensors {
		ns := nSensor{Kind: s.Kind, Description: s.Description, Indicator: s.Indicator, Disable: "no", Data: names(s.Categories)}
		if s.UserCanDisable {
			ns.Disable = "yes"
		}
		if ns.Indicator == "" {
			ns.Indicator = "nothing on the device shows it"
		}
		v.Sensors = append(v.Sensors, ns)
	}
	for _, c := range inv.Categories {
		var facts []string
		if c.Sensitive {
			facts = append(facts, "sensitive")
		}
		if c.Linked {
			facts = append(facts, "linked to you")
		} else {
			facts = append(facts, "not linked to you")
		}
		if c.Tracking {
			facts = append(facts, "used to track you across other companies' apps, sites or devices")
		}
		facts = append(facts, "kept on the "+strings.Join(c.Storage, " and the "))
		switch c.Source {
		case "user":
			facts = append(facts, "entered by you")
		case "device":
			facts = append(facts, "produced by the device")
		default:
			for _, s := range inv.Sensors {
				if s.ID == c.Source {
					facts = append(facts, "from the "+s.Kind+" sensor")
				}
			}
		}
		v.Categories = append(v.Categories, nCategory{Name: c.Name, Description: c.Description, Facts: facts})
	}
	third := map[string]bool{}
	for _, p := range inv.Purposes {
		np := nPurpose{ID: p.ID, Description: p.Description, Basis: basisWords[p.LegalBasis], Consent: p.LegalBasis == BasisConsent, Data: names(p.Categories)}
		switch p.RetentionDays {
		case 0:
			np.Retention = "not kept once used"
		case 1:
			np.Retention = "1 day"
		default:
			np.Retention = fmt.Sprintf("%d days", p.RetentionDays)
		}
		for _, id := range p.Recipients {
			r, _ := inv.Recipient(id)
			np.Recipients = append(np.Recipients, recipientWords(r))
			if r.Role == RoleThirdParty && !third[r.ID] {
				third[r.ID] = true
				v.ThirdParties = append(v.ThirdParties, recipientWords(r))
			}
		}
		v.Purposes = append(v.Purposes, np)
	}
	return v
}

func recipientWords(r Recipient) string {
	role := map[Role]string{RoleController: "us", RoleProcessor: "processes it for us", RoleThirdParty: "third party"}[r.Role]
	s := r.Name + " (" + role + ", " + r.Country
	if r.Sold {
		s += ", your data is sold to them"
	}
	return s + ")"
}

// renderText writes the canonical text form. It is built by hand rather
// than with a template so that its exact bytes, which are hashed, are easy
// to see and stable.
func renderText(v nView) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	indent := func(prefix, s string) {
		for i, l := range strings.Split(s, "\n") {
			if i == 0 {
				line("%s%s", prefix, l)
			} else {
				line("%s%s", strings.Repeat(" ", len([]rune(prefix))), l)
			}
		}
	}
	line("Privacy notice: %s", v.Product)
	line("Notice %s, version %s, language %s", v.ID, v.Version, v.Language)
	line("Responsible: %s. Contact: %s. Full policy: %s", v.Controller.Name, v.Controller.Contact, v.Controller.PolicyURL)
	line("")
	line("What this device senses")
	if len(v.Sensors) == 0 {
		line("- It has no sensors that observe its surroundings.")
	}
	for _, s := range v.Sensors {
		indent("- "+s.Kind+": ", s.Description)
		line("  How you can tell it is on: %s. You can switch it off: %s.", s.Indicator, s.Disable)
		if len(s.Data) > 0 {
			line("  Personal data it produces: %s.", strings.Join(s.Data, "; "))
		}
	}
	line("")
	line("Personal data")
	if len(v.Categories) == 0 {
		line("- The device and its services process no personal data.")
	}
	for _, c := range v.Categories {
		indent("- "+c.Name+": ", c.Description)
		line("  %s.", strings.Join(c.Facts, "; "))
	}
	line("")
	line("Why it is used, who receives it, how long it is kept")
	for _, p := range v.Purposes {
		indent("- ", p.Description)
		line("  Purpose ID: %s. Data: %s.", p.ID, strings.Join(p.Data, "; "))
		if p.Consent {
			line("  Based on: your consent. You can refuse it, and withdraw it at any time; withdrawing stops it at once.")
		} else {
			line("  Based on: %s.", p.Basis)
		}
		if len(p.Recipients) == 0 {
			line("  Received by: no one; it stays on the device.")
		} else {
			line("  Received by: %s.", strings.Join(p.Recipients, "; "))
		}
		line("  Kept: %s.", p.Retention)
	}
	line("")
	line("Third parties")
	if len(v.ThirdParties) == 0 {
		line("- None: no personal data is given to third parties.")
	}
	for _, t := range v.ThirdParties {
		line("- %s", t)
	}
	return b.String()
}

// renderHTML writes the notice as an HTML page. Markup only through M with
// constants; data only through T and URL (package internal/htmlw).
func renderHTML(v nView) string {
	var w htmlw.Writer
	joined := func(xs []string) {
		for i, x := range xs {
			if i > 0 {
				w.M("; ")
			}
			w.T(x)
		}
	}
	w.M("<!DOCTYPE html>\n<html lang=\"")
	w.T(v.Language)
	w.M("\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Privacy notice: ")
	w.T(v.Product)
	w.M("</title>\n<style>body{font-family:sans-serif;max-width:46em;margin:1em auto;padding:0 1em;line-height:1.45}dt{font-weight:bold;margin-top:.6em}small{color:#555}</style>\n</head><body>\n<h1>Privacy notice: ")
	w.T(v.Product)
	w.M("</h1>\n<p>Responsible: ")
	w.T(v.Controller.Name)
	w.M(". Contact: ")
	w.T(v.Controller.Contact)
	w.M(". <a href=\"")
	w.URL(v.Controller.PolicyURL)
	w.M("\">Full policy</a>.</p>\n<h2>What this device senses</h2>")
	if len(v.Sensors) == 0 {
		w.M("<p>It has no sensors that observe its surroundings.</p>")
	}
	w.M("\n<dl>")
	for _, x := range v.Sensors {
		w.M("\n<dt>")
		w.T(x.Kind)
		w.M("</dt><dd>")
		w.T(x.Description)
		w.M("<br>How you can tell it is on: ")
		w.T(x.Indicator)
		w.M(". You can switch it off: ")
		w.T(x.Disable)
		w.M(".")
		if len(x.Data) > 0 {
			w.M("<br>Personal data it produces: ")
			joined(x.Data)
			w.M(".")
		}
		w.M("</dd>")
	}
	w.M("\n</dl>\n<h2>Personal data</h2>")
	if len(v.Categories) == 0 {
		w.M("<p>The device and its services process no personal data.</p>")
	}
	w.M("\n<dl>")
	for _, c := range v.Categories {
		w.M("\n<dt>")
		w.T(c.Name)
		w.M("</dt><dd>")
		w.T(c.Description)
		w.M("<br>")
		joined(c.Facts)
		w.M(".</dd>")
	}
	w.M("\n</dl>\n<h2>Why it is used, who receives it, how long it is kept</h2>\n<dl>")
	for _, p := range v.Purposes {
		w.M("\n<dt>")
		w.T(p.Description)
		w.M("</dt><dd>Purpose ID: ")
		w.T(p.ID)
		w.M(". Data: ")
		joined(p.Data)
		w.M(".<br>\n")
		if p.Consent {
			w.M("Based on: your consent. You can refuse it, and withdraw it at any time; withdrawing stops it at once.")
		} else {
			w.M("Based on: ")
			w.T(p.Basis)
			w.M(".")
		}
		w.M("<br>\nReceived by: ")
		if len(p.Recipients) > 0 {
			joined(p.Recipients)
		} else {
			w.M("no one; it stays on the device")
		}
		w.M(".<br>\nKept: ")
		w.T(p.Retention)
		w.M(".</dd>")
	}
	w.M("\n</dl>\n<h2>Third parties</h2>\n<ul>")
	if len(v.ThirdParties) == 0 {
		w.M("<li>None: no personal data is given to third parties.</li>")
	}
	for _, t := range v.ThirdParties {
		w.M("<li>")
		w.T(t)
		w.M("</li>")
	}
	w.M("</ul>\n<p><small>Notice ")
	w.T(v.ID)
	w.M(", version ")
	w.T(v.Version)
	w.M(", language ")
	w.T(v.Language)
	w.M(". SHA-256 of the text form: ")
	w.T(v.Digest)
	w.M("</small></p>\n</body></html>\n")
	return w.String()
}
