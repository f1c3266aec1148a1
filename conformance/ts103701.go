package conformance

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// IXITSection is one of the 29 kinds of "Implementation eXtra Information
// for Testing" (IXIT) documents that ETSI TS 103 701 asks the manufacturer
// to provide for a conformance assessment against EN 303 645. A test lab's
// conceptual test units review them; its functional test units test the
// device against them.
type IXITSection struct {
	// Number is the section's number, 1–29.
	Number int `json:"number"`
	// Key is its short name as TS 103 701 writes it, "AuthMech".
	Key string `json:"key"`
	// Name is its title, "Authentication Mechanisms".
	Name string `json:"name"`
}

// ID returns "1-AuthMech".
func (s IXITSection) ID() string { return fmt.Sprintf("%d-%s", s.Number, s.Key) }

// ixitSections are the 29 IXIT sections, numbered and named as in public
// IXIT and test-group documents that follow TS 103 701.
var ixitSections = [29]IXITSection{
	{1, "AuthMech", "Authentication Mechanisms"},
	{2, "UserInfo", "User Information"},
	{3, "VulnTypes", "Relevant Vulnerabilities"},
	{4, "Conf", "Confirmations"},
	{5, "VulnMon", "Vulnerability Monitoring"},
	{6, "SoftComp", "Software Components"},
	{7, "UpdMech", "Update Mechanisms"},
	{8, "UpdProc", "Update Procedures"},
	{9, "ReplSup", "Replacement Support"},
	{10, "SecParam", "Security Parameters"},
	{11, "SecComMech", "Secure Communication Mechanisms"},
	{12, "NetSecImpl", "Network and Security Implementations"},
	{13, "SoftServ", "Software Services"},
	{14, "SecMgmt", "Secure Management Processes"},
	{15, "PhyIntf", "Physical Interfaces"},
	{16, "CodeMin", "Code Minimization"},
	{17, "PrivlCtrl", "Privilege Control"},
	{18, "AccCtrl", "Access Control"},
	{19, "SecDev", "Secure Development Processes"},
	{20, "SecBoot", "Secure Boot Mechanisms"},
	{21, "PersData", "Personal Data"},
	{22, "ExtSens", "External Sensors"},
	{23, "ResMech", "Resilience Mechanisms"},
	{24, "TelData", "Telemetry Data"},
	{25, "DelFunc", "Deletion Functionalities"},
	{26, "UserDec", "User Decisions"},
	{27, "UserIntf", "User Interfaces"},
	{28, "LogIntf", "Logical Interfaces"},
	{29, "InpVal", "Data Input Validation"},
}

// IXITSections returns the 29 IXIT sections in order.
func IXITSections() []IXITSection { return append([]IXITSection(nil), ixitSections[:]...) }

// provisionIXIT maps each provision to the IXIT sections its test group
// reads, as public TS 103 701 test-group documents state them ("Related
// IXIT"). Where TS 103 701 splits a provision into groups (5.3-4A/B,
// 5.3-6A, 5.3-15A/B, 5.6-4A/B, 6-3A), their sections are merged. 4-1 has no
// test group of its own: the lab reviews the ICS itself.
var provisionIXIT = map[string][]int{
	"5.1-1": {1}, "5.1-2": {1}, "5.1-3": {1}, "5.1-4": {1}, "5.1-5": {1},
	"5.2-1": {2}, "5.2-2": {2, 3, 4}, "5.2-3": {4, 5},
	"5.3-1": {6, 7}, "5.3-2": {7}, "5.3-3": {6, 7}, "5.3-4": {7, 26}, "5.3-5": {6, 7}, "5.3-6": {7, 26},
	"5.3-7": {7}, "5.3-8": {4, 8}, "5.3-9": {7}, "5.3-10": {7}, "5.3-11": {7, 26}, "5.3-12": {7, 26},
	"5.3-13": {2, 6}, "5.3-14": {2, 6, 7}, "5.3-15": {9}, "5.3-16": {2},
	"5.4-1": {1, 2, 7, 10, 11}, "5.4-2": {10}, "5.4-3": {1, 10, 11}, "5.4-4": {10, 11},
	"5.5-1": {11}, "5.5-2": {12}, "5.5-3": {6, 7}, "5.5-4": {1, 13}, "5.5-5": {1, 13, 28},
	"5.5-6": {10, 11}, "5.5-7": {10, 11}, "5.5-8": {4, 10, 14},
	"5.6-1": {15, 28}, "5.6-2": {28}, "5.6-3": {15}, "5.6-4": {15}, "5.6-5": {13}, "5.6-6": {16},
	"5.6-7": {17}, "5.6-8": {18}, "5.6-9": {4, 19},
	"5.7-1": {20}, "5.7-2": {20},
	"5.8-1": {11, 21}, "5.8-2": {11, 21}, "5.8-3": {2, 22},
	"5.9-1": {23}, "5.9-2": {23}, "5.9-3": {23, 28},
	"5.10-1": {24},
	"5.11-1": {10, 21, 25}, "5.11-2": {2, 21, 25}, "5.11-3": {2, 21, 25}, "5.11-4": {2, 21, 25},
	"5.12-1": {26}, "5.12-2": {2, 26}, "5.12-3": {2},
	"5.13-1": {27, 29},
	"6-1":    {2, 21}, "6-2": {21, 26}, "6-3": {21, 25, 26}, "6-4": {21, 24}, "6-5": {2, 24},
}

// RelatedIXIT returns the IXIT sections a lab reads to assess provision id
// under TS 103 701, in number order; none for 4-1 or an unknown ID.
func RelatedIXIT(id string) []IXITSection {
	var out []IXITSection
	for _, n := range provisionIXIT[id] {
		out = append(out, ixitSections[n-1])
	}
	return out
}

// IXIT is a set of IXIT documents pre-filled from a statement: for each
// section, what the device's own self-checks observed (with how: measured
// or configured) and what the maker declared in the profile for the
// provisions the section serves, and a list of what only the maker can
// write. It never invents content: every row names its source.
type IXIT struct {
	Schema          string `json:"schema"`
	Manufacturer    string `json:"manufacturer"`
	Model           string `json:"model"`
	FirmwareVersion string `json:"firmware_version"`
	// ChecksAttached is false when the statement had no results from the
	// running device: then no row comes from a self-check.
	ChecksAttached bool           `json:"checks_attached"`
	Sections       []IXITDocument `json:"sections"`
}

// IXITSchema is the value of an IXIT's "schema" field.
const IXITSchema = "baseline.ixit/v1"

// IXITDocument is one pre-filled IXIT section.
type IXITDocument struct {
	IXITSection
	// Provisions are the provisions whose test groups read this section.
	Provisions []string `json:"provisions"`
	// Rows are the facts filled in, each with its source.
	Rows []IXITRow `json:"rows"`
	// MakerToWrite lists what the manufacturer must still document.
	MakerToWrite []string `json:"maker_to_write"`
}

// IXITRow is one fact in an IXIT section.
type IXITRow struct {
	// Provision is the provision the fact is about.
	Provision string `json:"provision"`
	// Source is "check <ID> (measured|configured)" for a fact a self-check
	// observed on the running device, or "declared by the maker" for the
	// profile's answer.
	Source string `json:"source"`
	// Text is the fact: the check's title and what it observed, or the
	// answer and its detail or justification.
	Text string `json:"text"`
}

// makerOnly says, per section, what no self-check can observe.
var makerOnly = map[int]string{
	1:  "every authentication mechanism of the device and its associated services (web, app, API, machine-to-machine), the authenticator each uses and how pre-installed values are generated",
	2:  "where each user-facing document is published (manual, website, packaging) and its URL",
	3:  "the vulnerability classes considered relevant for the product",
	4:  "the manufacturer's confirmations (processes followed, timelines kept)",
	5:  "how vulnerabilities are monitored, triaged and fixed, and the timelines",
	6:  "every software component, whether it is updateable and how",
	7:  "every update mechanism (including those outside the device) and its cryptography",
	8:  "the update procedure from vulnerability to shipped fix, with timelines",
	9:  "how the device can be isolated and its hardware replaced where it cannot be updated",
	10: "every security parameter, where it is stored, how it is generated and protected",
	11: "every secure communication mechanism, its protocols and cryptography",
	12: "which network and security implementations are used and how they were reviewed or evaluated",
	13: "every software service, its interface and whether it is enabled by default",
	14: "the management processes for security parameters over their life",
	15: "every physical interface, its purpose and how debug interfaces are protected",
	16: "how the code is minimised to what the device needs",
	17: "how software runs with the least privilege it needs",
	18: "the hardware's memory access control",
	19: "the secure development process",
	20: "the secure boot mechanism, what it verifies and what happens on a mismatch",
	21: "every category of personal data, its purpose, recipients and retention",
	22: "every external sensor and how users are told about it",
	23: "the resilience mechanisms for network and power outages",
	24: "every telemetry stream, its content and purpose",
	25: "every deletion function, on the device and at associated services",
	26: "every decision the user makes during set-up and use, and its default",
	27: "every user interface",
	28: "every logical interface (network services, APIs) and whether it is needed",
	29: "how every input is validated",
}

// BuildIXIT pre-fills the IXIT documents from a statement: the profile's
// answers and, where [Statement.Attach] joined them, the device's
// self-check results.
func BuildIXIT(s *Statement) *IXIT {
	x := &IXIT{Schema: IXITSchema, Manufacturer: s.Manufacturer, Model: s.Model, FirmwareVersion: s.FirmwareVersion, ChecksAttached: s.ChecksAttached}
	for _, sec := range ixitSections {
		doc := IXITDocument{IXITSection: sec, Provisions: []string{}, Rows: []IXITRow{}}
		seenCheck := map[string]bool{}
		for _, e := range s.Provisions {
			if !slices.Contains(provisionIXIT[e.ID], sec.Number) {
				continue
			}
			doc.Provisions = append(doc.Provisions, e.ID)
			for _, r := range e.Checks {
				if seenCheck[r.ID] {
					continue
				}
				seenCheck[r.ID] = true
				text := r.Title + ": " + string(r.Verdict)
				if r.Observed != "" {
					text += "; observed: " + oneLineText(r.Observed)
				}
				if r.Detail != "" {
					text += " (" + oneLineText(r.Detail) + ")"
				}
				doc.Rows = append(doc.Rows, IXITRow{Provision: e.ID, Source: "check " + r.ID + " (" + string(r.Method) + ")", Text: text})
			}
			switch e.Support {
			case Yes:
				if e.Detail != "" {
					doc.Rows = append(doc.Rows, IXITRow{Provision: e.ID, Source: "declared by the maker", Text: "Y: " + oneLineText(e.Detail)})
				}
			case No, NotApplicableSupport:
				doc.Rows = append(doc.Rows, IXITRow{Provision: e.ID, Source: "declared by the maker", Text: string(e.Support) + ": " + oneLineText(e.Justification)})
			}
		}
		doc.MakerToWrite = []string{"MAKER TO WRITE: " + makerOnly[sec.Number]}
		x.Sections = append(x.Sections, doc)
	}
	return x
}

// WriteJSON writes the IXIT as indented JSON.
func (x *IXIT) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, x) }

// WriteMarkdown writes one heading per IXIT section with its rows and
// what the maker must still write.
func (x *IXIT) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# IXIT (ETSI TS 103 701): %s\n\n", mdText(orDash(x.Model)))
	fmt.Fprintf(&b, "Manufacturer %s, firmware %s. ", mdText(orDash(x.Manufacturer)), mdText(orDash(x.FirmwareVersion)))
	if x.ChecksAttached {
		b.WriteString("Rows marked *check* were observed by the running device's self-checks; *measured* ones exercised it, *configured* ones read its settings. ")
	} else {
		b.WriteString("No results from the running device were attached: every row is the maker's declaration. ")
	}
	b.WriteString("Rows marked *declared* are the maker's answers in the profile. Everything under \"Maker to write\" is still missing.\n\n")
	for _, d := range x.Sections {
		fmt.Fprintf(&b, "## IXIT %s: %s\n\n", d.ID(), d.Name)
		if len(d.Provisions) > 0 {
			fmt.Fprintf(&b, "Read for %s.\n\n", strings.Join(d.Provisions, ", "))
		}
		if len(d.Rows) > 0 {
			b.WriteString("| Provision | Source | Fact |\n|---|---|---|\n")
			for _, r := range d.Rows {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Provision, mdCell(r.Source), mdCell(r.Text))
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
