// Package conformance states which provisions of ETSI EN 303 645 V2.1.1 a
// device meets and ties each claim to evidence the running device produces:
// the catalog of the 68 provisions, the device profile, the Implementation
// Conformance Statement (ICS) with its 4-1 rules, the self-check engine every
// SDK package reports into, and the reports built from them.
//
// It imports only the standard library, so every package of the SDK may
// import it.
//
// Start with [DecodeProfile] and [NewStatement] for the manufacturer's
// statement (the `baseline ics` command does exactly that), and with
// [RunChecks] and [NewReport] for the report the device serves about
// itself.
//
// # Provisions
//
//   - 4-1: [NewStatement] refuses, as a [Problem] naming the provision, any N
//     or N/A of a recommendation without a justification, and any N/A where
//     the provision's conditions hold ([Profile.Applicability]). On the
//     device, [Profile.Checks] re-checks the embedded profile
//     ("conformance.ics-justified").
//   - 5.2-1, 5.3-13, 5.3-16: [Profile] carries the disclosure contact and
//     policy URL, the end of the support period and the model designation;
//     a statement without them is incomplete, and [Profile.Checks] fails
//     when the running device lacks them or its support period has ended.
//   - 5.3-14, 5.3-15: a part whose software cannot be updated (a radio
//     co-processor in ROM, or a whole constrained device) is declared in
//     the profile's non_updatable list ([NonUpdatable]): what it is, why it
//     cannot be updated, how it is isolated, how and until when the
//     hardware is replaced. A declaration missing a field is a [Problem]
//     naming the field and the provision; the statement names the parts
//     (JSON, Markdown, HTML and the 5.3-14/15 rows); [Profile.Checks]
//     adds conformance.non-updatable, which reports them as DECLARED —
//     read from the profile, never measured — and fails when one is
//     incomplete or its replacement period has ended.
//   - 5.12-3: [Statement.WriteHTML] and [Report.WriteHTML] write pages a
//     non-expert can read (plain-language results, no scripts);
//     [Report.WriteJSON] is the machine-readable form; [ReportHandler]
//     serves them and checks that it has checks to show.
//   - Declarations (evidence kind D: 5.2-2, 5.3-8, 5.5-8, 5.6-3, 5.6-8,
//     5.6-9, 5.12-1, 5.12-2 …) are recorded from the profile and reported
//     as DECLARED, never PASS, even by a check that claims otherwise
//     ([RunChecks]).
//
// # Evidence: measured, configured, declared
//
// A profile answer is the maker's claim. For a provision the device can
// test itself ([Provision.needsCheck], evidence E), a Y stands only when a
// self-check of the running device covers it: without one the entry is
// INCONCLUSIVE with [BasisNone] ("nothing on this device checks this"),
// and a mandatory one makes the statement incomplete. A statement built
// from a profile alone therefore never reads "complete and conformant";
// [Statement.Attach] joins the running device's results, which the device
// computes with [RunChecks] and a lab fetches with `baseline ics --device`
// ([DecodeReport] reads them). An answer may name the checks that back it
// ([Answer.Checks]); a named check that did not run makes the entry
// INCONCLUSIVE.
//
// Each [Check] says how it works ([Check.Method]): [Measured] checks
// exercise the running device as a lab would (a real TLS handshake, a
// hostile request through the device's own handler chain, a probe of the
// login throttle); [Configured] checks read the settings in force. Each
// entry's [Entry.Basis] and the totals keep them apart, and the reports
// say "tested" only for a measured PASS; a configured PASS reads "set as
// required".
//
// # TS 103 701
//
// A lab assessing a device under ETSI TS 103 701 runs one test group per
// provision: conceptual test cases review the maker's IXIT documents
// ("Implementation eXtra Information for Testing", 29 sections,
// [IXITSections]) against the provision, functional ones test the device
// against them. [TestGroups] lists, per provision, each group's test cases
// with their kind ([Conceptual], [Functional]) and the IXIT sections it
// reads; [RelatedIXIT] gives those sections for the edition this catalog
// is assessed with.
//
// Two editions are recorded, each entry naming its public source
// ([TestGroup.Source], owner/repo@commit:path): [TS103701V1] (2021-08),
// which assesses EN 303 645 V2.1.1, from its test-case text as published
// in the ouspg/tcsfw repository (the sections are those its test units
// name); and [TS103701V2] (2025-05), from the Ruuvi Gateway's public
// self-assessment written to it (its "Related IXIT" lines and the groups
// into which it splits 5.3-4, 5.3-6, 5.3-15, 5.6-4, 5.13-1 and 6-3).
// V2.1.1 renames sections 11, 15 and 28 (11-SecComMech, 15-PhyIntf,
// 28-LogIntf for V1.1.1's 11-ComMech, 15-Intf, 28-ExtAPI) and moves
// content between them; [IXITSection.V2Key] says so. These are
// third-party transcriptions, not ETSI's text: verify them against your
// copy of the TS before you rely on them. Only identifiers, kinds and
// section numbers are recorded.
//
// [BuildIXIT] pre-fills the 29 sections (V1.1.1 numbering) from the
// profile and the running device's self-check results, and `baseline
// ixit` writes them as JSON ("baseline.ixit/v1") or Markdown. Pre-filled:
// what a self-check observed, labelled "check ID (measured)" or "check ID
// (configured)" and, where the check informs one, the IXIT field the
// V1.1.1 test cases name (auth.throttle: "Brute Force Prevention" of
// 1-AuthMech; iface.tls: "Cryptographic Details" of 11-ComMech;
// iface.sockets: 13-SoftServ and "Status" of 15-Intf; secrets.*:
// 10-SecParam; update.*: 7-UpdMech; update.boot-integrity: "Security
// Guarantees" of 20-SecBoot; iface.privileges: 17-PrivlCtrl;
// iface.input: 29-InpVal; resilience.*: 23-ResMech), and the maker's answer
// for each provision the section serves, labelled "declared by the maker".
// Left for the maker, in every section, as "MAKER TO WRITE": the entries
// themselves (every mechanism, component, interface and parameter with its
// fields) and every section no check informs, such as 3-VulnTypes,
// 4-Conf, 19-SecDev and the physical interfaces of 15-Intf. Without
// device results the IXIT says that none were attached, and no row comes
// from a check.
//
// # The catalog
//
// [Catalog] lists every provision with its clause, status (M/R), the
// numbered conditions (1–13, see [Conditions]) under which it applies, a
// summary in our own words, the SDK packages that implement it and the kind
// of evidence the SDK can give: E (enforced and observed by a self-check),
// B (produced at build or release time by the CLI) or D (only the
// manufacturer can declare it). Where the provision map gives two kinds
// ("E/D", "E+B", "B/D", "B/E") they are [Provision.Evidence] and
// [Provision.Secondary]; [Provision.evidenceNotation] writes them back.
//
// # Applicability
//
// A provision applies when it has no condition, or when every one of its
// numbered conditions holds: 5.3-14 and 5.3-15, C(3,4), apply only to a
// constrained device whose software cannot be updated; 5.3-6, C(9,12), only
// where automatic updates or notifications are supported and an update
// mechanism exists; 5.3-10, C(11,12), only where updates arrive over a
// network and an update mechanism exists. One condition that does not hold
// is enough to make a provision not applicable. Conditions 4 and 5 (the
// device is / is not constrained) are one fact: [Profile.Constrained].
//
// 5.8-2 and 5.8-3 are marked "M C" in the provision map with no condition
// number, and no numbered condition covers them (the provision list gives
// no "where" clause either). We record their condition as text
// ([Provision.OtherCondition]: sensitive personal data exchanged with
// associated services; external sensing capabilities) and let the
// manufacturer decide ([ManufacturerDecides]): N/A is accepted, but only
// with a justification, and an N is a non-conformity like any mandatory N.
//
// # Profile format
//
// A profile is one JSON object (at most [MaxProfileSize] bytes); every
// field below is known, any other is refused:
//
//	{
//	  "schema": "baseline.profile/v1",
//	  "manufacturer": "Example Devices Ltd",
//	  "model": "SP-100 Smart Plug",              // 5.3-16
//	  "firmware_version": "1.0.0",
//	  "constrained": false,                      // conditions 4 and 5
//	  "conditions": {"passwords_used": true, …}, // the other 11, by name
//	  "support_period_end": "2031-12-31",        // 5.3-13, not in the past
//	  "vulnerability_disclosure": {              // 5.2-1
//	    "contact": "mailto:security@example.com",
//	    "policy_url": "https://example.com/security/policy"
//	  },
//	  "non_updatable": [                         // 5.3-14, 5.3-15; optional
//	    {"part": "Zigbee co-processor (ROM)", "reason": "why",
//	     "isolation": "how", "replacement": "how a user gets it replaced",
//	     "replacement_until": "2031-12-31"}     // not in the past
//	  ],
//	  "provisions": [
//	    {"id": "5.1-1", "support": "Y", "detail": "how", "justification": ""},
//	    {"id": "5.6-4", "support": "N/A", "detail": "", "justification": "why"}
//	  ]
//	}
//
// Condition names are listed by [Conditions] (Condition.Key); null means
// unanswered. examples/smartplug/profile.json is a complete example.
//
// # Quick start
//
// The manufacturer starts from the skeleton (`baseline ics init`), answers
// every provision, and checks the statement:
//
//	p, err := conformance.DecodeProfile(f, time.Now())
//	if err != nil { ... } // *ProfileError: field, line and column
//	st := conformance.NewStatement(p)
//	for _, pb := range st.Problems {
//		fmt.Println(pb) // "5.6-8: justification: recommendation answered N without …"
//	}
//	st.WriteHTML(w)
//
// A device joins its live self-checks to the statement and serves the
// report:
//
//	results := conformance.RunChecks(ctx, authChecker, updateChecker, ifaceChecker)
//	st.Attach(results) // backs each Y; a FAIL under a Y makes the statement non-conformant
//	conformance.NewReport(p.Model, p.FirmwareVersion, time.Now(), results).WriteHTML(w)
//
// or simply mounts a [ReportHandler], which runs the checks at most once
// per interval and serves HTML, JSON or text:
//
//	mux.Handle("/selfcheck", &conformance.ReportHandler{
//		Model: p.Model, FirmwareVersion: p.FirmwareVersion,
//		Checkers: []conformance.Checker{authChecker, updateChecker},
//	})
//
// Every SDK package implements [Checker]; its checks observe the running
// device or read its configuration, say which ([Check.Method]), and return
// a [Result] with what they saw.
//
// # Security considerations
//
// Profiles are input from a file a build pipeline may not fully trust:
// [DecodeProfile] reads at most [MaxProfileSize] bytes, refuses unknown and
// repeated fields, unknown and repeated provisions, control and
// bidirectional-override characters, support periods that have ended, and
// disclosure URLs that are not https. Reports escape everything that comes
// from a profile or a check (HTML: every value escaped for text or a quoted
// attribute, links only http, https or mailto — the same escaping
// html/template applies, without linking it; Markdown: backslash escapes), so a profile cannot inject markup into the page a user reads.
// A check result must never carry a secret: reports print Observed and
// Detail verbatim. Observed values describe the device's security
// configuration, so 5.6-2 (minimise unauthenticated disclosure) argues for
// mounting [ReportHandler] behind the device's authentication; its pages
// forbid scripts and framing through Content-Security-Policy and are never
// cached.
//
// A statement is only as good as the declarations in it: a D provision
// answered Y is the manufacturer's word. The statement says so (DECLARED)
// instead of turning it into a PASS.
package conformance
