package conformance

import "fmt"

// TS 103 701 is the test specification for EN 303 645. Its editions differ
// in test groups and in three IXIT sections, so every fact below names the
// edition it comes from.
const (
	// TS103701V1 is ETSI TS 103 701 V1.1.1 (2021-08), the edition that
	// assesses EN 303 645 V2.1.1, the standard of this catalog ([Standard]).
	// One test group per provision, numbered like it.
	TS103701V1 = "V1.1.1"
	// TS103701V2 is ETSI TS 103 701 V2.1.1 (2025-05). It follows a later
	// edition of EN 303 645: the public documents written to it list
	// provisions V2.1.1 of the EN does not have (5.1-2A, 6-6 to 6-8), split
	// some provisions into groups (5.3-4A and 5.3-4B …) and rename IXIT
	// sections 11, 15 and 28. Its groups are recorded as those documents
	// show them, for makers whose lab works to it.
	TS103701V2 = "V2.1.1"
)

// Where the facts come from. Each is a public repository, the commit read
// and the file. Only identifiers, counts and kinds are recorded, never text.
const (
	// srcV1 holds the test cases of TS 103 701 V1.1.1 (kinds, and the IXIT
	// sections each case's test units name).
	srcV1 = "ouspg/tcsfw@c6dae9193c10:tcsfw/data/etsi_ts_103_701.txt"
)

// IXITSection is one of the 29 kinds of "Implementation eXtra Information
// for Testing" (IXIT) that TS 103 701 asks the manufacturer for. A test
// lab's conceptual test cases review them against the provision; its
// functional test cases test the device against them.
type IXITSection struct {
	// Number is the section's number, 1–29.
	Number int `json:"number"`
	// Key is its short name in TS 103 701 V1.1.1, "AuthMech".
	Key string `json:"key"`
	// Name is its title in V1.1.1, "Authentication Mechanisms".
	Name string `json:"name"`
	// V2Key and V2Name are what TS 103 701 V2.1.1 calls section Number
	// where that differs (11, 15 and 28), and empty otherwise. The content
	// moved with the names: V1.1.1's 15-Intf holds network, logical,
	// physical and air interfaces, which V2.1.1 splits between
	// 15-PhyIntf and 28-LogIntf, and V1.1.1's 28-ExtAPI (external APIs)
	// has no V2.1.1 section of that name.
	V2Key  string `json:"v2_key,omitempty"`
	V2Name string `json:"v2_name,omitempty"`
}

// ID returns the section as TS 103 701 V1.1.1 writes it: "1-AuthMech".
func (s IXITSection) ID() string { return fmt.Sprintf("%d-%s", s.Number, s.Key) }

// ixitSections are the 29 IXIT sections. Keys: every one is named in the
// V1.1.1 test cases (srcV1) as "IXIT <n>-<Key>". V1.1.1 titles: the
// section list in ouspg/tcsfw@ce2bdfa53043:tcsfw/etsi_en_303_645.py.
// V2.1.1 keys and titles: the headings ("Table C.<n>: IXIT <n>-<Key>
// (<title>)") of the Ruuvi Gateway's IXIT documents,
// ruuvi/ruuvi.gateway_esp.c:cra/303645/ixit_<n>-<Key>.md, which agree
// with V1.1.1 on the other 26.
var ixitSections = [29]IXITSection{
	{Number: 1, Key: "AuthMech", Name: "Authentication Mechanisms"},
	{Number: 2, Key: "UserInfo", Name: "User Information"},
	{Number: 3, Key: "VulnTypes", Name: "Relevant Vulnerabilities"},
	{Number: 4, Key: "Conf", Name: "Confirmations"},
	{Number: 5, Key: "VulnMon", Name: "Vulnerability Monitoring"},
	{Number: 6, Key: "SoftComp", Name: "Software Components"},
	{Number: 7, Key: "UpdMech", Name: "Update Mechanisms"},
	{Number: 8, Key: "UpdProc", Name: "Update Procedures"},
	{Number: 9, Key: "ReplSup", Name: "Replacement Support"},
	{Number: 10, Key: "SecParam", Name: "Security Parameters"},
	{Number: 11, Key: "ComMech", Name: "Communication Mechanisms", V2Key: "SecComMech", V2Name: "Secure Communication Mechanisms"},
	{Number: 12, Key: "NetSecImpl", Name: "Network and Security Implementations"},
	{Number: 13, Key: "SoftServ", Name: "Software Services"},
	{Number: 14, Key: "SecMgmt", Name: "Secure Management Processes"},
	{Number: 15, Key: "Intf", Name: "Interfaces", V2Key: "PhyIntf", V2Name: "Physical Interfaces"},
	{Number: 16, Key: "CodeMin", Name: "Code Minimization"},
	{Number: 17, Key: "PrivlCtrl", Name: "Privilege Control"},
	{Number: 18, Key: "AccCtrl", Name: "Access Control"},
	{Number: 19, Key: "SecDev", Name: "Secure Development Processes"},
	{Number: 20, Key: "SecBoot", Name: "Secure Boot Mechanisms"},
	{Number: 21, Key: "PersData", Name: "Personal Data"},
	{Number: 22, Key: "ExtSens", Name: "External Sensors"},
	{Number: 23, Key: "ResMech", Name: "Resilience Mechanisms"},
	{Number: 24, Key: "TelData", Name: "Telemetry Data"},
	{Number: 25, Key: "DelFunc", Name: "Deletion Functionalities"},
	{Number: 26, Key: "UserDec", Name: "User Decisions"},
	{Number: 27, Key: "UserIntf", Name: "User Interfaces"},
	{Number: 28, Key: "ExtAPI", Name: "External APIs", V2Key: "LogIntf", V2Name: "Logical Interfaces"},
	{Number: 29, Key: "InpVal", Name: "Data Input Validation"},
}

// IXITSections returns the 29 IXIT sections in order.
func IXITSections() []IXITSection { return append([]IXITSection(nil), ixitSections[:]...) }

// TestKind says what a TS 103 701 test case assesses.
type TestKind string

// Test case kinds.
const (
	// Conceptual: the lab reviews the IXIT (and ICS) against the
	// provision: conformity of the design.
	Conceptual TestKind = "conceptual"
	// Functional: the lab tests the device, its associated services or
	// the maker's processes against the IXIT: conformity of the
	// implementation.
	Functional TestKind = "functional"
	// ConceptualFunctional: one test case with both kinds of test units
	// (5.3-10-1 in V1.1.1 and V2.1.1).
	ConceptualFunctional TestKind = "conceptual/functional"
)

// TestCase is one test case of a test group: "5.5-4-1", conceptual.
type TestCase struct {
	ID   string   `json:"id"`
	Kind TestKind `json:"kind"`
}

// TestGroup is what TS 103 701 tests a provision with, in one edition.
type TestGroup struct {
	// Provision is the provision of the catalog the group assesses.
	Provision string `json:"provision"`
	// Group is the group's ID: the provision's, or with a letter where
	// the edition splits the provision ("5.3-15A", "5.3-15B").
	Group string `json:"group"`
	// Edition is [TS103701V1] or [TS103701V2].
	Edition string `json:"edition"`
	// IXIT are the numbers of the sections the group reads ([IXITSections]
	// names them; for V2.1.1 use V2Key where it is set). For V1.1.1 they
	// are the sections the group's test units name; for V2.1.1, the
	// document's "Related IXIT". Empty where the source states none: 4-1
	// (its one test case reviews the ICS) and the V2.1.1 documents for
	// 5.1-1 to 5.1-5, which have no "Related IXIT" line.
	IXIT []int `json:"ixit"`
	// Cases are the group's test cases in order.
	Cases []TestCase `json:"cases"`
	// Source is where the group is recorded: "owner/repo@commit:path".
	// Empty means no public source was found and nothing is recorded.
	Source string `json:"source"`
}

const (
	tsV1 = TS103701V1
	tsV2 = TS103701V2
)

// testGroupData: edition, provision, group, IXIT sections, one letter per
// test case in order (c conceptual, f functional, x both), source. The
// case IDs are the group's followed by -1, -2 …
var testGroupData = []struct {
	edition, provision, group string
	ixit                      []int
	kinds, source             string
}{
	{tsV1, "4-1", "4-1", nil, "c", srcV1},
	{tsV1, "5.1-1", "5.1-1", []int{1}, "cf", srcV1},
	{tsV2, "5.1-1", "5.1-1", nil, "cf", "ruuvi/ruuvi.gateway_esp.c@7a8c132020b6:cra/303645/Self_Assessment_Test_Group_5_1-1.md"},
	{tsV1, "5.1-2", "5.1-2", []int{1}, "cf", srcV1},
	{tsV2, "5.1-2", "5.1-2", nil, "cf", "ruuvi/ruuvi.gateway_esp.c@9ef2768cf161:cra/303645/Self_Assessment_Test_Group_5_1-2.md"},
	{tsV1, "5.1-3", "5.1-3", []int{1}, "cf", srcV1},
	{tsV2, "5.1-3", "5.1-3", nil, "cf", "ruuvi/ruuvi.gateway_esp.c@b6583be59839:cra/303645/Self_Assessment_Test_Group_5_1-3.md"},
	{tsV1, "5.1-4", "5.1-4", []int{1, 2}, "cf", srcV1},
	{tsV2, "5.1-4", "5.1-4", nil, "cf", "ruuvi/ruuvi.gateway_esp.c@8ef1399d2f47:cra/303645/Self_Assessment_Test_Group_5_1-4.md"},
	{tsV1, "5.1-5", "5.1-5", []int{1}, "cf", srcV1},
	{tsV2, "5.1-5", "5.1-5", nil, "cf", "ruuvi/ruuvi.gateway_esp.c@38194d531011:cra/303645/Self_Assessment_Test_Group_5_1-5.md"},
	{tsV1, "5.2-1", "5.2-1", []int{2}, "cf", srcV1},
	{tsV2, "5.2-1", "5.2-1", []int{2}, "cf", "ruuvi/ruuvi.gateway_esp.c@1d94b6bed4ba:cra/303645/Self_Assessment_Test_Group_5_2-1.md"},
	{tsV1, "5.2-2", "5.2-2", []int{2, 3, 4}, "c", srcV1},
	{tsV2, "5.2-2", "5.2-2", []int{2, 3, 4}, "c", "ruuvi/ruuvi.gateway_esp.c@361d7e48b34d:cra/303645/Self_Assessment_Test_Group_5_2-2.md"},
	{tsV1, "5.2-3", "5.2-3", []int{4, 5}, "c", srcV1},
	{tsV2, "5.2-3", "5.2-3", []int{4, 5}, "c", "ruuvi/ruuvi.gateway_esp.c@f9ff85981614:cra/303645/Self_Assessment_Test_Group_5_2-3.md"},
	{tsV1, "5.3-1", "5.3-1", []int{6}, "cf", srcV1},
	{tsV2, "5.3-1", "5.3-1", []int{6, 7}, "cf", "ruuvi/ruuvi.gateway_esp.c@dc33264d0c8d:cra/303645/Self_Assessment_Test_Group_5_3-1.md"},
	{tsV1, "5.3-2", "5.3-2", []int{7}, "cf", srcV1},
	{tsV2, "5.3-2", "5.3-2", []int{7}, "cf", "ruuvi/ruuvi.gateway_esp.c@19cf688d1be3:cra/303645/Self_Assessment_Test_Group_5_3-2.md"},
	{tsV1, "5.3-3", "5.3-3", []int{6, 7}, "c", srcV1},
	{tsV2, "5.3-3", "5.3-3", []int{6, 7}, "c", "ruuvi/ruuvi.gateway_esp.c@8462b3dec63b:cra/303645/Self_Assessment_Test_Group_5_3-3.md"},
	{tsV1, "5.3-4", "5.3-4", []int{6, 7}, "c", srcV1},
	{tsV2, "5.3-4", "5.3-4A", []int{7}, "cf", "ruuvi/ruuvi.gateway_esp.c@ea436fb89904:cra/303645/Self_Assessment_Test_Group_5_3-4A.md"},
	{tsV2, "5.3-4", "5.3-4B", []int{7, 26}, "cf", "ruuvi/ruuvi.gateway_esp.c@d27591b35e64:cra/303645/Self_Assessment_Test_Group_5_3-4B.md"},
	{tsV1, "5.3-5", "5.3-5", []int{6, 7}, "c", srcV1},
	{tsV2, "5.3-5", "5.3-5", []int{6, 7}, "c", "ruuvi/ruuvi.gateway_esp.c@340ca95fce3e:cra/303645/Self_Assessment_Test_Group_5_3-5.md"},
	{tsV1, "5.3-6", "5.3-6", []int{7}, "cf", srcV1},
	{tsV2, "5.3-6", "5.3-6A", []int{7, 26}, "cf", "ruuvi/ruuvi.gateway_esp.c@a4164a3f14cf:cra/303645/Self_Assessment_Test_Group_5_3-6A.md"},
	{tsV2, "5.3-6", "5.3-6B", []int{7, 26}, "cf", "ruuvi/ruuvi.gateway_esp.c@d278a573a757:cra/303645/Self_Assessment_Test_Group_5_3-6B.md"},
	{tsV1, "5.3-7", "5.3-7", []int{7}, "c", srcV1},
	{tsV2, "5.3-7", "5.3-7", []int{7}, "c", "ruuvi/ruuvi.gateway_esp.c@e083e6605153:cra/303645/Self_Assessment_Test_Group_5_3-7.md"},
	{tsV1, "5.3-8", "5.3-8", []int{4, 8}, "c", srcV1},
	{tsV2, "5.3-8", "5.3-8", []int{4, 8}, "c", "ruuvi/ruuvi.gateway_esp.c@7b46e3499891:cra/303645/Self_Assessment_Test_Group_5_3-8.md"},
	{tsV1, "5.3-9", "5.3-9", []int{7}, "c", srcV1},
	{tsV2, "5.3-9", "5.3-9", []int{7}, "cf", "ruuvi/ruuvi.gateway_esp.c@7a45132b0cd7:cra/303645/Self_Assessment_Test_Group_5_3-9.md"},
	{tsV1, "5.3-10", "5.3-10", []int{7}, "x", srcV1},
	{tsV2, "5.3-10", "5.3-10", []int{7}, "x", "ruuvi/ruuvi.gateway_esp.c@a5983fa75fda:cra/303645/Self_Assessment_Test_Group_5_3-10.md"},
	{tsV1, "5.3-11", "5.3-11", []int{7}, "c", srcV1},
	{tsV2, "5.3-11", "5.3-11", []int{7, 26}, "c", "ruuvi/ruuvi.gateway_esp.c@bf7b130982e1:cra/303645/Self_Assessment_Test_Group_5_3-11.md"},
	{tsV1, "5.3-12", "5.3-12", []int{7}, "c", srcV1},
	{tsV2, "5.3-12", "5.3-12", []int{7, 26}, "c", "ruuvi/ruuvi.gateway_esp.c@1b410055fe78:cra/303645/Self_Assessment_Test_Group_5_3-12.md"},
	{tsV1, "5.3-13", "5.3-13", []int{2}, "cf", srcV1},
	{tsV2, "5.3-13", "5.3-13", []int{2, 6}, "cf", "ruuvi/ruuvi.gateway_esp.c@1becc6a2b8d3:cra/303645/Self_Assessment_Test_Group_5_3-13.md"},
	{tsV1, "5.3-14", "5.3-14", []int{2}, "cf", srcV1},
	{tsV2, "5.3-14", "5.3-14", []int{2, 6, 7}, "cf", "ruuvi/ruuvi.gateway_esp.c@8ef544b1cc37:cra/303645/Self_Assessment_Test_Group_5_3-14.md"},
	{tsV1, "5.3-15", "5.3-15", []int{9}, "cf", srcV1},
	{tsV2, "5.3-15", "5.3-15A", []int{9}, "cf", "ruuvi/ruuvi.gateway_esp.c@13c78561ee1d:cra/303645/Self_Assessment_Test_Group_5_3-15A.md"},
	{tsV2, "5.3-15", "5.3-15B", []int{9}, "cf", "ruuvi/ruuvi.gateway_esp.c@414b93629ded:cra/303645/Self_Assessment_Test_Group_5_3-15B.md"},
	{tsV1, "5.3-16", "5.3-16", []int{2}, "cf", srcV1},
	{tsV2, "5.3-16", "5.3-16", []int{2}, "cf", "ruuvi/ruuvi.gateway_esp.c@885480674c08:cra/303645/Self_Assessment_Test_Group_5_3-16.md"},
	{tsV1, "5.4-1", "5.4-1", []int{1, 10}, "cf", srcV1},
	{tsV2, "5.4-1", "5.4-1", []int{1, 2, 7, 10, 11}, "cf", "ruuvi/ruuvi.gateway_esp.c@ea9bddcaea63:cra/303645/Self_Assessment_Test_Group_5_4-1.md"},
	{tsV1, "5.4-2", "5.4-2", []int{10}, "cf", srcV1},
	{tsV2, "5.4-2", "5.4-2", []int{10}, "cf", "ruuvi/ruuvi.gateway_esp.c@31adafae650e:cra/303645/Self_Assessment_Test_Group_5_4-2.md"},
	{tsV1, "5.4-3", "5.4-3", []int{10}, "cf", srcV1},
	{tsV2, "5.4-3", "5.4-3", []int{1, 10, 11}, "cf", "ruuvi/ruuvi.gateway_esp.c@f46a94e44cfb:cra/303645/Self_Assessment_Test_Group_5_4-3.md"},
	{tsV1, "5.4-4", "5.4-4", []int{10}, "c", srcV1},
	{tsV2, "5.4-4", "5.4-4", []int{10, 11}, "c", "ruuvi/ruuvi.gateway_esp.c@ee84a94c11df:cra/303645/Self_Assessment_Test_Group_5_4-4.md"},
	{tsV1, "5.5-1", "5.5-1", []int{11}, "cf", srcV1},
	{tsV2, "5.5-1", "5.5-1", []int{11}, "cf", "ruuvi/ruuvi.gateway_esp.c@07bf4e2676d1:cra/303645/Self_Assessment_Test_Group_5_5-1.md"},
	{tsV1, "5.5-2", "5.5-2", []int{12}, "cf", srcV1},
	{tsV2, "5.5-2", "5.5-2", []int{12}, "cf", "ruuvi/ruuvi.gateway_esp.c@84e5ecdfe7c8:cra/303645/Self_Assessment_Test_Group_5_5-2.md"},
	{tsV1, "5.5-3", "5.5-3", []int{6}, "c", srcV1},
	{tsV2, "5.5-3", "5.5-3", []int{6, 7}, "c", "ruuvi/ruuvi.gateway_esp.c@8009ba9ecd63:cra/303645/Self_Assessment_Test_Group_5_5-3.md"},
	{tsV1, "5.5-4", "5.5-4", []int{1, 13}, "cf", srcV1},
	{tsV2, "5.5-4", "5.5-4", []int{1, 13}, "cf", "ruuvi/ruuvi.gateway_esp.c@90383997214c:cra/303645/Self_Assessment_Test_Group_5_5-4.md"},
	{tsV1, "5.5-5", "5.5-5", []int{11, 13}, "cf", srcV1},
	{tsV2, "5.5-5", "5.5-5", []int{1, 13, 28}, "cf", "ruuvi/ruuvi.gateway_esp.c@d05a33423168:cra/303645/Self_Assessment_Test_Group_5_5-5.md"},
	{tsV1, "5.5-6", "5.5-6", []int{10, 11}, "cf", srcV1},
	{tsV2, "5.5-6", "5.5-6", []int{10, 11}, "cf", "ruuvi/ruuvi.gateway_esp.c@d87f1085a1a3:cra/303645/Self_Assessment_Test_Group_5_5-6.md"},
	{tsV1, "5.5-7", "5.5-7", []int{10, 11}, "cf", srcV1},
	{tsV2, "5.5-7", "5.5-7", []int{10, 11}, "cf", "ruuvi/ruuvi.gateway_esp.c@d5f51781a095:cra/303645/Self_Assessment_Test_Group_5_5-7.md"},
	{tsV1, "5.5-8", "5.5-8", []int{4, 14}, "c", srcV1},
	{tsV2, "5.5-8", "5.5-8", []int{4, 10, 14}, "c", "ruuvi/ruuvi.gateway_esp.c@ac19820f1f54:cra/303645/Self_Assessment_Test_Group_5_5-8.md"},
	{tsV1, "5.6-1", "5.6-1", []int{15}, "cf", srcV1},
	{tsV2, "5.6-1", "5.6-1", []int{15, 28}, "cf", "ruuvi/ruuvi.gateway_esp.c@b0b7c1db0503:cra/303645/Self_Assessment_Test_Group_5_6-1.md"},
	{tsV1, "5.6-2", "5.6-2", []int{15}, "cf", srcV1},
	{tsV2, "5.6-2", "5.6-2", []int{28}, "cf", "ruuvi/ruuvi.gateway_esp.c@8e7902776ce6:cra/303645/Self_Assessment_Test_Group_5_6-2.md"},
	{tsV1, "5.6-3", "5.6-3", []int{15}, "cf", srcV1},
	{tsV2, "5.6-3", "5.6-3", []int{15}, "cf", "ruuvi/ruuvi.gateway_esp.c@726f4ab99ae5:cra/303645/Self_Assessment_Test_Group_5_6-3.md"},
	{tsV1, "5.6-4", "5.6-4", []int{15}, "cf", srcV1},
	{tsV2, "5.6-4", "5.6-4A", []int{15}, "cf", "ruuvi/ruuvi.gateway_esp.c@5e1693d730b9:cra/303645/Self_Assessment_Test_Group_5_6-4A.md"},
	{tsV2, "5.6-4", "5.6-4B", []int{15}, "cf", "ruuvi/ruuvi.gateway_esp.c@b38c5423cb6d:cra/303645/Self_Assessment_Test_Group_5_6-4B.md"},
	{tsV1, "5.6-5", "5.6-5", []int{13}, "c", srcV1},
	{tsV2, "5.6-5", "5.6-5", []int{13}, "c", "ruuvi/ruuvi.gateway_esp.c@f5265dac6a37:cra/303645/Self_Assessment_Test_Group_5_6-5.md"},
	{tsV1, "5.6-6", "5.6-6", []int{16}, "c", srcV1},
	{tsV2, "5.6-6", "5.6-6", []int{16}, "c", "ruuvi/ruuvi.gateway_esp.c@420b6ca3671f:cra/303645/Self_Assessment_Test_Group_5_6-6.md"},
	{tsV1, "5.6-7", "5.6-7", []int{17}, "c", srcV1},
	{tsV2, "5.6-7", "5.6-7", []int{17}, "c", "ruuvi/ruuvi.gateway_esp.c@9bf1bad3344c:cra/303645/Self_Assessment_Test_Group_5_6-7.md"},
	{tsV1, "5.6-8", "5.6-8", []int{18}, "c", srcV1},
	{tsV2, "5.6-8", "5.6-8", []int{18}, "c", "ruuvi/ruuvi.gateway_esp.c@7383a1a0ce7c:cra/303645/Self_Assessment_Test_Group_5_6-8.md"},
	{tsV1, "5.6-9", "5.6-9", []int{4, 19}, "c", srcV1},
	{tsV2, "5.6-9", "5.6-9", []int{4, 19}, "c", "ruuvi/ruuvi.gateway_esp.c@5e6220f0f8f4:cra/303645/Self_Assessment_Test_Group_5_6-9.md"},
	{tsV1, "5.7-1", "5.7-1", []int{20}, "cf", srcV1},
	{tsV2, "5.7-1", "5.7-1", []int{20}, "cf", "ruuvi/ruuvi.gateway_esp.c@5be09416f670:cra/303645/Self_Assessment_Test_Group_5_7-1.md"},
	{tsV1, "5.7-2", "5.7-2", []int{20}, "cf", srcV1},
	{tsV2, "5.7-2", "5.7-2", []int{20}, "cf", "ruuvi/ruuvi.gateway_esp.c@5d0ab9002d9f:cra/303645/Self_Assessment_Test_Group_5_7-2.md"},
	{tsV1, "5.8-1", "5.8-1", []int{11, 21}, "cf", srcV1},
	{tsV2, "5.8-1", "5.8-1", []int{11, 21}, "cf", "ruuvi/ruuvi.gateway_esp.c@d39e88582ad7:cra/303645/Self_Assessment_Test_Group_5_8-1.md"},
	{tsV1, "5.8-2", "5.8-2", []int{11, 21}, "cf", srcV1},
	{tsV2, "5.8-2", "5.8-2", []int{11, 21}, "cf", "ruuvi/ruuvi.gateway_esp.c@424206942609:cra/303645/Self_Assessment_Test_Group_5_8-2.md"},
	{tsV1, "5.8-3", "5.8-3", []int{2, 22}, "f", srcV1},
	{tsV2, "5.8-3", "5.8-3", []int{2, 22}, "f", "ruuvi/ruuvi.gateway_esp.c@5a6a53cf9029:cra/303645/Self_Assessment_Test_Group_5_8-3.md"},
	{tsV1, "5.9-1", "5.9-1", []int{23}, "cf", srcV1},
	{tsV2, "5.9-1", "5.9-1", []int{23}, "cf", "ruuvi/ruuvi.gateway_esp.c@32bf5373a46b:cra/303645/Self_Assessment_Test_Group_5_9-1.md"},
	{tsV1, "5.9-2", "5.9-2", []int{23}, "cf", srcV1},
	{tsV2, "5.9-2", "5.9-2", []int{23}, "cf", "ruuvi/ruuvi.gateway_esp.c@c8ea8faed8d5:cra/303645/Self_Assessment_Test_Group_5_9-2.md"},
	{tsV1, "5.9-3", "5.9-3", []int{11}, "cf", srcV1},
	{tsV2, "5.9-3", "5.9-3", []int{23, 28}, "cf", "ruuvi/ruuvi.gateway_esp.c@19564913ddfb:cra/303645/Self_Assessment_Test_Group_5_9-3.md"},
	{tsV1, "5.10-1", "5.10-1", []int{24}, "c", srcV1},
	{tsV2, "5.10-1", "5.10-1", []int{24}, "c", "ruuvi/ruuvi.gateway_esp.c@6e74a21f8e14:cra/303645/Self_Assessment_Test_Group_5_10-1.md"},
	{tsV1, "5.11-1", "5.11-1", []int{10, 21, 25}, "cf", srcV1},
	{tsV2, "5.11-1", "5.11-1", []int{10, 21, 25}, "cf", "ruuvi/ruuvi.gateway_esp.c@e4e66023004d:cra/303645/Self_Assessment_Test_Group_5_11-1.md"},
	{tsV1, "5.11-2", "5.11-2", []int{21, 25}, "cf", srcV1},
	{tsV2, "5.11-2", "5.11-2", []int{2, 21, 25}, "cf", "ruuvi/ruuvi.gateway_esp.c@3788dea70141:cra/303645/Self_Assessment_Test_Group_5_11-2.md"},
	{tsV1, "5.11-3", "5.11-3", []int{2, 21, 25}, "f", srcV1},
	{tsV2, "5.11-3", "5.11-3", []int{2, 21, 25}, "f", "ruuvi/ruuvi.gateway_esp.c@f6aba5f5675c:cra/303645/Self_Assessment_Test_Group_5_11-3.md"},
	{tsV1, "5.11-4", "5.11-4", []int{2, 25}, "f", srcV1},
	{tsV2, "5.11-4", "5.11-4", []int{2, 21, 25}, "f", "ruuvi/ruuvi.gateway_esp.c@c7eaf5abd26c:cra/303645/Self_Assessment_Test_Group_5_11-4.md"},
	{tsV1, "5.12-1", "5.12-1", []int{26}, "cf", srcV1},
	{tsV2, "5.12-1", "5.12-1", []int{26}, "cf", "ruuvi/ruuvi.gateway_esp.c@155add7e8454:cra/303645/Self_Assessment_Test_Group_5_12-1.md"},
	{tsV1, "5.12-2", "5.12-2", []int{2, 26}, "f", srcV1},
	{tsV2, "5.12-2", "5.12-2", []int{2, 26}, "f", "ruuvi/ruuvi.gateway_esp.c@c4df6bafc29b:cra/303645/Self_Assessment_Test_Group_5_12-2.md"},
	{tsV1, "5.12-3", "5.12-3", []int{2}, "f", srcV1},
	{tsV2, "5.12-3", "5.12-3", []int{2}, "cf", "ruuvi/ruuvi.gateway_esp.c@c181beed8abe:cra/303645/Self_Assessment_Test_Group_5_12-3.md"},
	{tsV1, "5.13-1", "5.13-1", []int{11, 27, 28, 29}, "cf", srcV1},
	{tsV2, "5.13-1", "5.13-1A", []int{27, 29}, "cf", "ruuvi/ruuvi.gateway_esp.c@9fbfbedd30c0:cra/303645/Self_Assessment_Test_Group_5_13-1A.md"},
	{tsV2, "5.13-1", "5.13-1B", []int{15, 28, 29}, "cf", "ruuvi/ruuvi.gateway_esp.c@7f4f30e0a16a:cra/303645/Self_Assessment_Test_Group_5_13-1B.md"},
	{tsV1, "6-1", "6-1", []int{2, 21}, "cf", srcV1},
	{tsV2, "6-1", "6-1", []int{2, 21}, "cf", "ruuvi/ruuvi.gateway_esp.c@9454b0386806:cra/303645/Self_Assessment_Test_Group_6-1.md"},
	{tsV1, "6-2", "6-2", []int{21}, "cf", srcV1},
	{tsV2, "6-2", "6-2", []int{21, 26}, "cf", "ruuvi/ruuvi.gateway_esp.c@cdaab08e9d8e:cra/303645/Self_Assessment_Test_Group_6-2.md"},
	{tsV1, "6-3", "6-3", []int{21}, "cf", srcV1},
	{tsV2, "6-3", "6-3A", []int{21, 25, 26}, "cf", "ruuvi/ruuvi.gateway_esp.c@58c39088e79b:cra/303645/Self_Assessment_Test_Group_6-3A.md"},
	{tsV2, "6-3", "6-3B", []int{21, 26}, "cf", "ruuvi/ruuvi.gateway_esp.c@2ec3867dd0b0:cra/303645/Self_Assessment_Test_Group_6-3B.md"},
	{tsV1, "6-4", "6-4", []int{21, 24}, "c", srcV1},
	{tsV2, "6-4", "6-4", []int{21, 24}, "c", "ruuvi/ruuvi.gateway_esp.c@481fb742ad3f:cra/303645/Self_Assessment_Test_Group_6-4.md"},
	{tsV1, "6-5", "6-5", []int{2, 24}, "cf", srcV1},
	{tsV2, "6-5", "6-5", []int{2, 24}, "cf", "ruuvi/ruuvi.gateway_esp.c@e80ac8ead592:cra/303645/Self_Assessment_Test_Group_6-5.md"},
}

var testGroupIndex = func() map[string][]TestGroup {
	kinds := map[rune]TestKind{'c': Conceptual, 'f': Functional, 'x': ConceptualFunctional}
	m := map[string][]TestGroup{}
	for _, d := range testGroupData {
		g := TestGroup{Provision: d.provision, Group: d.group, Edition: d.edition, IXIT: d.ixit, Source: d.source}
		for i, k := range []rune(d.kinds) {
			g.Cases = append(g.Cases, TestCase{ID: fmt.Sprintf("%s-%d", d.group, i+1), Kind: kinds[k]})
		}
		m[d.provision] = append(m[d.provision], g)
	}
	return m
}()

// TestGroups returns the TS 103 701 test groups for a provision of the
// catalog: first the V1.1.1 group, then the V2.1.1 groups as public
// documents written to that edition show them. None for an unknown ID.
func TestGroups(provisionID string) []TestGroup {
	gs := testGroupIndex[provisionID]
	out := make([]TestGroup, len(gs))
	for i, g := range gs {
		g.IXIT = append([]int{}, g.IXIT...)
		g.Cases = append([]TestCase(nil), g.Cases...)
		out[i] = g
	}
	return out
}

// RelatedIXIT returns the IXIT sections the V1.1.1 test group of
// provision id reads, in number order: none for 4-1 or an unknown ID.
func RelatedIXIT(id string) []IXITSection {
	var out []IXITSection
	for _, n := range v1IXIT(id) {
		out = append(out, ixitSections[n-1])
	}
	return out
}

// v1IXIT returns the section numbers of provision id's V1.1.1 group.
func v1IXIT(id string) []int {
	for _, g := range testGroupIndex[id] {
		if g.Edition == TS103701V1 {
			return g.IXIT
		}
	}
	return nil
}
