package conformance

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// IXITSchema is the value of an IXIT's "schema" field in JSON.
const IXITSchema = "baseline.ixit/v1"

// IXIT is the set of 29 IXIT documents pre-filled for a lab assessing the
// device under TS 103 701 V1.1.1. For each section it holds what the
// running device's self-checks observed, what the maker declared in the
// profile for the provisions the section serves, and what only the maker
// can write. It never invents content: every row names its source, and
// everything no source gives is listed under MakerToWrite.
type IXIT struct {
	Schema string `json:"schema"`
	// Standard is [Standard]; TestSpecification the TS 103 701 edition
	// whose sections and field names the documents follow.
	Standard          string `json:"standard"`
	TestSpecification string `json:"test_specification"`
	Manufacturer      string `json:"manufacturer"`
	Model             string `json:"model"`
	FirmwareVersion   string `json:"firmware_version"`
	// ChecksAttached is false when no results from the running device
	// were given: then no row comes from a self-check, and Note says so.
	ChecksAttached bool           `json:"checks_attached"`
	Note           string         `json:"note"`
	Sections       []IXITDocument `json:"sections"`
}

// IXITDocument is one pre-filled IXIT section.
type IXITDocument struct {
	IXITSection
	// Provisions are the provisions whose V1.1.1 test groups read this
	// section, in catalog order.
	Provisions []string `json:"provisions"`
	// DeviceInformed is true when at least one row comes from a
	// self-check of the running device.
	DeviceInformed bool `json:"device_informed"`
	// Rows are the facts filled in: the device's first, by check ID, then
	// the maker's declarations in catalog order.
	Rows []IXITRow `json:"rows"`
	// MakerToWrite lists what the manufacturer must still document, each
	// entry starting "MAKER TO WRITE: ".
	MakerToWrite []string `json:"maker_to_write"`
}

// IXITRow is one fact in an IXIT section.
type IXITRow struct {
	// Provisions are the provisions the fact bears on.
	Provisions []string `json:"provisions"`
	// Source is "check <ID> (measured)" or "check <ID> (configured)" for
	// what a self-check observed on the running device, and "declared by
	// the maker" for the profile's answer.
	Source string `json:"source"`
	// Check, Method and Verdict repeat a check row's source for machines;
	// empty for a declaration.
	Check   string  `json:"check,omitempty"`
	Method  Method  `json:"method,omitempty"`
	Verdict Verdict `json:"verdict,omitempty"`
	// Fields names the IXIT fields the observation informs, as the
	// V1.1.1 test cases name them ("Brute Force Prevention"); empty when
	// the check bears on the section as a whole.
	Fields []string `json:"fields,omitempty"`
	// Text is the fact: the check's title, verdict, what it observed and
	// why; or the answer and the maker's detail or justification.
	Text string `json:"text"`
}

// checkRoutes says which IXIT section, and which of its fields, a
// self-check of the SDK informs beyond the sections its provisions' test
// groups read. A route matches a check whose ID equals it or begins with
// it and a dot. Field names are those the V1.1.1 test cases quote for the
// section; a route without fields informs the section as a whole.
var checkRoutes = []struct {
	check   string
	section int
	fields  []string
}{
	{"auth", 1, nil},
	{"auth.no-default-credential", 1, []string{"Authentication Factor", "Password Generation Mechanism"}},
	{"auth.hash-params", 1, []string{"Cryptographic Details"}},
	{"auth.throttle", 1, []string{"Brute Force Prevention"}},
	{"auth.routes-declared", 13, []string{"Authentication Mechanism"}},
	{"update", 7, nil},
	{"update.trust-root", 7, []string{"Security Guarantees"}},
	{"update.verification", 7, []string{"Security Guarantees", "Cryptographic Details"}},
	{"update.support-period", 2, []string{"Support Period"}},
	{"update.boot-integrity", 20, []string{"Security Guarantees"}},
	{"secrets", 10, nil},
	{"secrets.sealed-at-rest", 10, []string{"Protection Scheme"}},
	{"secrets.device-identity", 10, []string{"Protection Scheme", "Generation Mechanism"}},
	{"iface.tls", 11, []string{"Cryptographic Details", "Security Guarantees"}},
	{"iface.sockets", 13, nil},
	{"iface.sockets", 15, []string{"Status"}},
	{"iface.server", 15, []string{"Disclosed Information"}},
	{"iface.debug", 15, []string{"Debug Interface"}},
	{"iface.privileges", 17, nil},
	{"iface.input", 29, nil},
	{"resilience", 23, nil},
	{"resilience.reconnect-policy", 11, []string{"Resilience Measures"}},
	{"conformance.disclosure", 2, []string{"Publication of Vulnerability Disclosure Policy"}},
	{"conformance.model", 2, []string{"Model Designation"}},
	{"conformance.support-period", 2, []string{"Support Period"}},
	{"conformance.self-check-report", 2, []string{"Documentation of Setup Check"}},
}

// makerToWrite says, per section, what the IXIT must hold that no
// self-check observes. Capitalised names are fields as the V1.1.1 test
// cases name them.
var makerToWrite = [29]string{
	"every authentication mechanism of the device and its associated services (user, app, API, machine-to-machine): its Description, Authentication Factor, Password Generation Mechanism, Security Guarantees, Cryptographic Details and Brute Force Prevention",
	"where each piece of user information is published and what it says: Publication of Vulnerability Disclosure Policy, Publication of Support Period, Support Period, Model Designation, Documentation of Setup Check, Documentation of Secure Setup, Documentation of Deletion, Documentation of Personal Data, Documentation of Sensors, Documentation of Telemetry Data",
	"the types of vulnerability relevant to the product, each with its Action and Time Frame",
	"the confirmations the maker signs: of vulnerability actions, of vulnerability monitoring, of update procedures, of secure management and of secure development",
	"how vulnerabilities are monitored, identified as affecting the device and rectified",
	"every software component: its Update Mechanism, Update Checking, Initiation and Interaction, and Cryptographic Usage",
	"every update mechanism, including those outside the device: Description, Security Guarantees, Cryptographic Details, Initiation and Interaction, Configuration, User Notification",
	"the update procedures from a reported vulnerability to a deployed fix: Description and Time Frame",
	"for software that cannot be updated: how the device is isolated and its hardware replaced",
	"every security parameter: Type, Description, Security Guarantees, Protection Scheme, Generation Mechanism, Provisioning Mechanism",
	"every communication mechanism: Description, Security Guarantees, Cryptographic Details, Resilience Measures",
	"every network and security implementation and its Review/Evaluation Method",
	"every software service: Description, whether it is enabled by default, Allows Configuration, Authentication Mechanism, Security Guarantees",
	"the secure management of each critical security parameter over its life: generation, provisioning, storage, update, decommissioning, compromise",
	"every interface, network, logical, physical and air: Description, Status, Disclosed Information, Debug Interface, Protection",
	"how the software is minimised to the code the device needs",
	"how each software component is held to the least privilege it needs",
	"the hardware-level access control to memory",
	"the secure development process",
	"every secure boot mechanism: what it verifies (Security Guarantees) and what the user is told on a mismatch",
	"every category of personal data: its Processing Activities, Target Type and protection",
	"every external sensor and where users are told about it",
	"every resilience mechanism against network and power outages: Description, Type, Security Guarantees",
	"every telemetry stream: Purpose, the Personal Data it carries, Security Examination",
	"every deletion function on the device and at associated services: Description, Target Type, Initiation and Interaction",
	"every decision the user takes during setup and use: Description, Triggered By, Options and the default",
	"every user interface through which data is entered",
	"every external API of the device",
	"how every input is validated, per interface and source",
}

// BuildIXIT pre-fills the IXIT documents from profile p and the running
// device's self-check results (from [RunChecks] or [DecodeReport]). With
// results nil no device results are attached: every row is then the
// maker's declaration, and the IXIT says so. An empty, non-nil slice
// means the device reported no checks.
func BuildIXIT(p *Profile, results []CheckResult) *IXIT {
	s := NewStatement(p)
	if results != nil {
		s.Attach(results)
	}
	return s.IXIT()
}

// IXIT pre-fills the IXIT documents from the statement: the profile's
// answers and, where [Statement.Attach] joined them, the self-check
// results. See [BuildIXIT].
func (s *Statement) IXIT() *IXIT {
	x := &IXIT{
		Schema: IXITSchema, Standard: Standard, TestSpecification: "ETSI TS 103 701 " + TS103701V1,
		Manufacturer: s.Manufacturer, Model: s.Model, FirmwareVersion: s.FirmwareVersion,
		ChecksAttached: s.ChecksAttached,
		Sections:       []IXITDocument{},
	}
	switch {
	case !s.ChecksAttached:
		x.Note = "No results from the running device were attached: every row is the maker's declaration."
	case len(s.results) == 0:
		x.Note = "The running device reported no self-check results."
	default:
		x.Note = "Rows from a check were observed by the running device's self-checks: measured ones exercised it, configured ones read its settings."
	}
	results := append([]CheckResult(nil), s.results...)
	sort.SliceStable(results, func(i, j int) bool { return results[i].ID < results[j].ID })
	for _, sec := range ixitSections {
		d := IXITDocument{IXITSection: sec, Provisions: []string{}, Rows: []IXITRow{}}
		for _, pr := range catalog {
			if slices.Contains(v1IXIT(pr.ID), sec.Number) {
				d.Provisions = append(d.Provisions, pr.ID)
			}
		}
		for _, r := range results {
			if row, ok := checkRow(r, sec.Number, d.Provisions); ok {
				d.Rows = append(d.Rows, row)
				d.DeviceInformed = true
			}
		}
		for _, id := range d.Provisions {
			e, _ := s.Entry(id)
			if row, ok := declaredRow(e); ok {
				d.Rows = append(d.Rows, row)
			}
		}
		d.MakerToWrite = []string{"MAKER TO WRITE: " + makerToWrite[sec.Number-1]}
		if !d.DeviceInformed {
			d.MakerToWrite = append(d.MakerToWrite, "MAKER TO WRITE: the whole section; no self-check result of the device informs it")
		}
		x.Sections = append(x.Sections, d)
	}
	return x
}

// checkRow returns the row for result r in section n, if r informs it:
// by a route in [checkRoutes], or because a provision r covers has a test
// group that reads the section.
func checkRow(r CheckResult, n int, sectionProvisions []string) (IXITRow, bool) {
	var fields, provs []string
	routed := false
	for _, rt := range checkRoutes {
		if rt.section == n && (r.ID == rt.check || strings.HasPrefix(r.ID, rt.check+".")) {
			routed = true
			for _, f := range rt.fields {
				if !slices.Contains(fields, f) {
					fields = append(fields, f)
				}
			}
		}
	}
	for _, id := range r.Provisions {
		if slices.Contains(sectionProvisions, id) {
			provs = append(provs, id)
		}
	}
	if !routed && len(provs) == 0 {
		return IXITRow{}, false
	}
	if len(provs) == 0 {
		provs = append([]string{}, r.Provisions...)
	}
	method := r.Method
	if method != Measured {
		method = Configured
	}
	text := oneLineText(r.Title) + ": " + string(r.Verdict)
	if r.Observed != "" {
		text += "; observed: " + oneLineText(r.Observed)
	}
	if r.Detail != "" {
		text += " (" + oneLineText(r.Detail) + ")"
	}
	return IXITRow{
		Provisions: provs, Source: "check " + r.ID + " (" + string(method) + ")",
		Check: r.ID, Method: method, Verdict: r.Verdict, Fields: fields, Text: text,
	}, true
}

// declaredRow returns the maker's answer for entry e, if the profile gives
// one with something to say.
func declaredRow(e Entry) (IXITRow, bool) {
	var text string
	switch e.Support {
	case Yes:
		if strings.TrimSpace(e.Detail) == "" {
			return IXITRow{}, false
		}
		text = "Y: " + oneLineText(e.Detail)
	case No, NotApplicableSupport:
		text = string(e.Support) + ": " + oneLineText(firstNonEmpty(e.Justification, "(no justification given)"))
	default:
		return IXITRow{}, false
	}
	return IXITRow{Provisions: []string{e.ID}, Source: "declared by the maker", Text: text}, true
}

// WriteJSON writes the IXIT as indented JSON. The same IXIT always
// writes the same bytes.
func (x *IXIT) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, x) }

// WriteMarkdown writes one heading per IXIT section with the provisions
// it serves, its rows and what the maker must still write. Everything from
// the profile or a check is escaped.
func (x *IXIT) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# IXIT: %s\n\n", mdText(orDash(x.Model)))
	fmt.Fprintf(&b, "Manufacturer %s, firmware %s. Implementation eXtra Information for Testing for %s, sections as in %s. ",
		mdText(orDash(x.Manufacturer)), mdText(orDash(x.FirmwareVersion)), x.Standard, x.TestSpecification)
	b.WriteString(mdText(x.Note))
	b.WriteString(" Rows *declared by the maker* are the profile's answers. Every item under \"Maker to write\" is still missing: this is a starting point, not the finished IXIT.\n\n")
	for _, d := range x.Sections {
		fmt.Fprintf(&b, "## IXIT %s: %s\n\n", d.ID(), d.Name)
		if d.V2Key != "" {
			fmt.Fprintf(&b, "TS 103 701 %s numbers this section %d-%s (%s).\n\n", TS103701V2, d.Number, d.V2Key, d.V2Name)
		}
		if len(d.Provisions) > 0 {
			fmt.Fprintf(&b, "Read by the test groups of %s.\n\n", strings.Join(d.Provisions, ", "))
		} else {
			b.WriteString("No test group of the catalog's provisions reads this section.\n\n")
		}
		if len(d.Rows) > 0 {
			b.WriteString("| Provisions | Source | Fields | Fact |\n|---|---|---|---|\n")
			for _, r := range d.Rows {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", strings.Join(r.Provisions, ", "), mdCell(r.Source), mdCell(strings.Join(r.Fields, "; ")), mdCell(r.Text))
			}
			b.WriteString("\n")
		}
		b.WriteString("Maker to write:\n\n")
		for _, m := range d.MakerToWrite {
			fmt.Fprintf(&b, "- %s\n", mdText(m))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
