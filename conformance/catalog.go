package conformance

import "strings"

// Status is whether a provision is mandatory or recommended.
type Status string

// Provision statuses.
const (
	Mandatory   Status = "M"
	Recommended Status = "R"
)

// Evidence is what the SDK can honestly say about a provision.
type Evidence string

// Evidence kinds.
const (
	// EvidenceEnforced: SDK code does it and a runtime self-check observes it.
	EvidenceEnforced Evidence = "E"
	// EvidenceBuild: produced by the CLI at build or release time.
	EvidenceBuild Evidence = "B"
	// EvidenceDeclaration: only the manufacturer knows; reported as DECLARED.
	EvidenceDeclaration Evidence = "D"
)

// Provision is one provision of ETSI EN 303 645 V2.1.1.
//
// Some provisions are backed by two kinds of evidence. Evidence is then the
// primary kind (the one the SDK leans on most) and Secondary the other;
// BothKinds says how they combine: true ("E+B") means both are produced for
// the same provision, false ("E/D") means each covers a part — for example
// 5.4-2 is enforced on hardware backends and only declared on the soft one.
// A provision whose Evidence is [EvidenceDeclaration] and which has no
// Secondary kind is a pure declaration: [RunChecks] never reports it as Pass.
type Provision struct {
	// ID is the provision's number, "5.1-1".
	ID string
	// Clause is the clause the provision belongs to, "5.1".
	Clause string
	// Status is M or R.
	Status Status
	// Conditions lists the numbered conditions (1–13, see [Conditions])
	// that must all hold for the provision to apply. Empty means the
	// provision applies to every device, unless OtherCondition is set.
	Conditions []int
	// OtherCondition, when set, describes a condition the standard attaches
	// to the provision that is not one of the 13 numbered ones (5.8-2 and
	// 5.8-3, marked "C" without a number). The profile's conditions cannot
	// decide it, so the manufacturer's answer does: N/A is accepted with a
	// justification saying why the condition does not hold.
	OtherCondition string
	// Summary says in plain words what the provision asks for. It is a
	// paraphrase, not the standard's text.
	Summary string
	// Packages lists the SDK packages in this release that implement the
	// provision ("cmd" is the manufacturer's CLI, cmd/baseline). It is
	// empty where no SDK package does yet: the device's own code must
	// implement the provision and, where [Provision.needsCheck], register
	// a self-check for it.
	Packages []string
	// Evidence is the primary kind of evidence the SDK gives.
	Evidence Evidence
	// Secondary is a second kind of evidence, or "" when there is one.
	Secondary Evidence
	// BothKinds is true when Evidence and Secondary are both produced
	// ("E+B"), false when each covers part of the provision ("E/D").
	BothKinds bool
}

// evidenceNotation returns the evidence kinds as written in the provision
// map: "E", "E+B", "E/D", "B/D", "B/E".
func (p Provision) evidenceNotation() string {
	if p.Secondary == "" {
		return string(p.Evidence)
	}
	sep := "/"
	if p.BothKinds {
		sep = "+"
	}
	return string(p.Evidence) + sep + string(p.Secondary)
}

// pureDeclaration reports whether only the manufacturer can vouch for the
// provision: its only evidence kind is [EvidenceDeclaration].
func (p Provision) pureDeclaration() bool {
	return p.Evidence == EvidenceDeclaration && p.Secondary == ""
}

// needsCheck reports whether a Y for the provision must be backed by a
// self-check of the running device: its primary evidence kind is
// [EvidenceEnforced]. A statement turns such a Y into INCONCLUSIVE when no
// attached self-check covers it, and a mandatory one makes the statement
// incomplete: the maker's word alone does not stand for what the device
// can test itself.
func (p Provision) needsCheck() bool { return p.Evidence == EvidenceEnforced }

// Conditional reports whether the provision applies only where some
// condition holds.
func (p Provision) Conditional() bool {
	return len(p.Conditions) > 0 || p.OtherCondition != ""
}

// statusNotation returns the status as written in the standard's tables:
// "M", "R", "M C(1)", "R C(3,4)", "M C" (a condition without a number).
func (p Provision) statusNotation() string {
	s := string(p.Status)
	switch {
	case len(p.Conditions) > 0:
		parts := make([]string, len(p.Conditions))
		for i, c := range p.Conditions {
			parts[i] = itoa(c)
		}
		s += " C(" + strings.Join(parts, ",") + ")"
	case p.OtherCondition != "":
		s += " C"
	}
	return s
}

func itoa(n int) string {
	if n < 0 || n > 99 {
		panic("conformance: condition number out of range")
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

// clone returns a deep copy so callers cannot change the catalog.
func (p Provision) clone() Provision {
	p.Conditions = append([]int(nil), p.Conditions...)
	p.Packages = append([]string(nil), p.Packages...)
	return p
}

// Condition is one of the 13 numbered conditions of EN 303 645 V2.1.1 that
// make a provision applicable.
type Condition struct {
	// Number is the condition's number in the standard, 1–13.
	Number int
	// Key is the condition's name in a profile's "conditions" object.
	Key string
	// Description says when the condition holds.
	Description string
}

// The numbered conditions. Conditions 4 and 5 are two sides of one fact: a
// profile states it once, as "constrained".
var conditions = [13]Condition{
	{1, "passwords_used", "the device uses passwords"},
	{2, "preinstalled_passwords", "the device ships with pre-installed passwords (for example a per-device setup secret on a label)"},
	{3, "not_updateable", "the device's software components cannot be updated"},
	{4, "constrained", "the device is a constrained device"},
	{5, "not_constrained", "the device is not a constrained device"},
	{6, "telemetry", "telemetry data is collected"},
	{7, "consent_processing", "personal data is processed on the basis of the consumer's consent"},
	{8, "user_authentication", "users can authenticate against the device"},
	{9, "automatic_updates_or_notifications", "the device supports automatic updates and/or update notifications"},
	{10, "hardcoded_identity", "a hard-coded unique per-device identity is used for security purposes"},
	{11, "network_updates", "updates are delivered over a network interface"},
	{12, "update_mechanism", "an update mechanism is implemented"},
	{13, "physical_debug_interface", "a debug interface is physically accessible"},
}

// Conditions returns the 13 numbered conditions, in order.
func Conditions() []Condition {
	return append([]Condition(nil), conditions[:]...)
}

// LookupCondition returns condition n (1–13).
func LookupCondition(n int) (Condition, bool) {
	if n < 1 || n > len(conditions) {
		return Condition{}, false
	}
	return conditions[n-1], true
}

// Catalog returns every provision of EN 303 645 V2.1.1 in the standard's
// order (4-1, 5.1-1 … 6-5). The slice and its provisions are copies.
func Catalog() []Provision {
	out := make([]Provision, len(catalog))
	for i, p := range catalog {
		out[i] = p.clone()
	}
	return out
}

// Lookup returns the provision with the given ID.
func Lookup(id string) (Provision, bool) {
	if i, ok := catalogIndex[id]; ok {
		return catalog[i].clone(), true
	}
	return Provision{}, false
}

var catalogIndex = func() map[string]int {
	m := make(map[string]int, len(catalog))
	for i, p := range catalog {
		if _, dup := m[p.ID]; dup {
			panic("conformance: duplicate provision " + p.ID)
		}
		m[p.ID] = i
	}
	return m
}()

// Shorthands that keep the table below readable.
const (
	m = Mandatory
	r = Recommended
	e = EvidenceEnforced
	b = EvidenceBuild
	d = EvidenceDeclaration
)

func conds(n ...int) []int    { return n }
func pk(s ...string) []string { return s }

// catalog holds the provisions in the standard's order. Summaries are our
// own paraphrases; the standard's text is not reproduced.
var catalog = []Provision{
	{ID: "4-1", Clause: "4", Status: m, Summary: "Record a justification for every recommendation the device treats as not applicable or does not meet.", Packages: pk("conformance"), Evidence: e},

	{ID: "5.1-1", Clause: "5.1", Status: m, Conditions: conds(1), Summary: "Outside the factory state, every password is either unique to the device or chosen by the user; no shared defaults.", Packages: pk("auth"), Evidence: e},
	{ID: "5.1-2", Clause: "5.1", Status: m, Conditions: conds(2), Summary: "Pre-installed per-device passwords are generated so that knowing one device's password, serial or model does not help guess another's.", Packages: pk("auth", "cmd"), Evidence: e, Secondary: b, BothKinds: true},
	{ID: "5.1-3", Clause: "5.1", Status: m, Summary: "User authentication uses current, well-regarded cryptography suited to the device and its risks.", Packages: pk("auth"), Evidence: e},
	{ID: "5.1-4", Clause: "5.1", Status: m, Conditions: conds(8), Summary: "Where users log in to the device, they have an easy way to change the credential they use.", Packages: pk("auth"), Evidence: e},
	{ID: "5.1-5", Clause: "5.1", Status: m, Conditions: conds(5), Summary: "A device that is not constrained makes guessing credentials over the network impractical (throttling, delays).", Packages: pk("auth"), Evidence: e},

	{ID: "5.2-1", Clause: "5.2", Status: m, Summary: "The manufacturer publishes a vulnerability disclosure policy with a contact point and what reporters can expect.", Packages: pk("conformance", "cmd"), Evidence: b, Secondary: d},
	{ID: "5.2-2", Clause: "5.2", Status: r, Summary: "Reported vulnerabilities are fixed without undue delay.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.2-3", Clause: "5.2", Status: r, Summary: "Throughout the support period the manufacturer keeps watching its products and services for vulnerabilities and fixes them.", Packages: pk("conformance", "cmd"), Evidence: b, Secondary: d},

	{ID: "5.3-1", Clause: "5.3", Status: r, Summary: "Every software component on the device can be updated securely.", Packages: pk("update"), Evidence: b},
	{ID: "5.3-2", Clause: "5.3", Status: m, Conditions: conds(5), Summary: "A device that is not constrained has a mechanism to install updates securely.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-3", Clause: "5.3", Status: m, Conditions: conds(12), Summary: "Applying an update is easy for the user.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-4", Clause: "5.3", Status: r, Conditions: conds(12), Summary: "Updates are installed by automatic mechanisms.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-5", Clause: "5.3", Status: r, Conditions: conds(12), Summary: "The device looks for security updates after it starts and then at regular intervals.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-6", Clause: "5.3", Status: r, Conditions: conds(9, 12), Summary: "Automatic updates and update notifications are on out of the box, and the user can turn them on or off or postpone them.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-7", Clause: "5.3", Status: m, Conditions: conds(12), Summary: "The update mechanism relies on current, well-regarded cryptography.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-8", Clause: "5.3", Status: m, Conditions: conds(12), Summary: "Security updates are delivered in good time.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.3-9", Clause: "5.3", Status: r, Conditions: conds(12), Summary: "The device checks that an update is genuine and unmodified before using it.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-10", Clause: "5.3", Status: m, Conditions: conds(11, 12), Summary: "Updates received over a network are checked for authenticity and integrity against an established trust anchor.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-11", Clause: "5.3", Status: r, Conditions: conds(12), Summary: "The user is told clearly when a security update is needed and which risks it addresses.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-12", Clause: "5.3", Status: r, Conditions: conds(12), Summary: "The user is warned before an update interrupts what the device normally does.", Packages: pk("update"), Evidence: e},
	{ID: "5.3-13", Clause: "5.3", Status: m, Summary: "The manufacturer publishes the support period clearly, where users can find it.", Packages: pk("conformance", "update"), Evidence: b},
	{ID: "5.3-14", Clause: "5.3", Status: r, Conditions: conds(3, 4), Summary: "For a constrained device whose software cannot be updated, the manufacturer publishes why, how and for how long hardware is replaced, and the support period.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.3-15", Clause: "5.3", Status: r, Conditions: conds(3, 4), Summary: "A constrained device whose software cannot be updated can be isolated and its hardware replaced.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.3-16", Clause: "5.3", Status: m, Summary: "The model designation is easy to find, on a label or through a physical interface.", Packages: pk("conformance"), Evidence: b},

	{ID: "5.4-1", Clause: "5.4", Status: m, Summary: "Sensitive security parameters kept in persistent storage are protected at rest.", Packages: pk("secrets"), Evidence: e},
	{ID: "5.4-2", Clause: "5.4", Status: m, Conditions: conds(10), Summary: "A hard-coded per-device identity used for security resists physical, electrical and software tampering.", Packages: pk("secrets"), Evidence: e, Secondary: d},
	{ID: "5.4-3", Clause: "5.4", Status: m, Summary: "No critical security parameters are hard-coded in the device's source code.", Packages: pk("cmd"), Evidence: b},
	{ID: "5.4-4", Clause: "5.4", Status: m, Summary: "Keys and credentials for update checks and for talking to associated services are unique per device and generated so that fleets cannot be attacked as a class.", Packages: pk("secrets", "cmd"), Evidence: b, Secondary: e},

	{ID: "5.5-1", Clause: "5.5", Status: m, Summary: "The device communicates using current, well-regarded cryptography.", Packages: pk("iface"), Evidence: e},
	{ID: "5.5-2", Clause: "5.5", Status: r, Summary: "Network and security functions, cryptography above all, come from reviewed or evaluated implementations.", Packages: pk("conformance"), Evidence: b},
	{ID: "5.5-3", Clause: "5.5", Status: r, Summary: "Cryptographic algorithms and primitives can be replaced by an update.", Packages: pk("secrets", "update"), Evidence: b},
	{ID: "5.5-4", Clause: "5.5", Status: r, Summary: "Once set up, the device's network-reachable functions require authentication first.", Packages: pk("auth", "iface"), Evidence: e},
	{ID: "5.5-5", Clause: "5.5", Status: m, Summary: "Changing security-relevant settings over a network requires authentication, apart from network protocols the device depends on where the manufacturer explains why.", Packages: pk("auth"), Evidence: e},
	{ID: "5.5-6", Clause: "5.5", Status: r, Summary: "Critical security parameters are encrypted while in transit, in a way suited to the technology and risk.", Packages: pk("iface", "privacy"), Evidence: e},
	{ID: "5.5-7", Clause: "5.5", Status: m, Summary: "Critical security parameters sent over remotely reachable interfaces are kept confidential.", Packages: pk("iface"), Evidence: e},
	{ID: "5.5-8", Clause: "5.5", Status: m, Summary: "The manufacturer manages the device's critical security parameters through secure processes over their whole life.", Packages: pk("conformance"), Evidence: d},

	{ID: "5.6-1", Clause: "5.6", Status: m, Summary: "Network and logical interfaces that are not used are turned off.", Packages: pk("iface"), Evidence: e},
	{ID: "5.6-2", Clause: "5.6", Status: m, Summary: "Once set up, the device reveals as little security-relevant information as possible to unauthenticated parties on the network.", Packages: pk("iface"), Evidence: e},
	{ID: "5.6-3", Clause: "5.6", Status: r, Summary: "The hardware exposes no physical interfaces to attack beyond what it needs.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.6-4", Clause: "5.6", Status: m, Conditions: conds(13), Summary: "A debug interface that can be reached physically is disabled in software.", Packages: pk("iface"), Evidence: e, Secondary: d},
	{ID: "5.6-5", Clause: "5.6", Status: r, Summary: "Only the software services needed for the device's intended use are enabled.", Packages: pk("iface"), Evidence: e},
	{ID: "5.6-6", Clause: "5.6", Status: r, Summary: "The code is kept to what the device needs to work.", Packages: pk("conformance"), Evidence: b},
	{ID: "5.6-7", Clause: "5.6", Status: r, Summary: "Software runs with the fewest privileges it needs.", Packages: pk("iface"), Evidence: e},
	{ID: "5.6-8", Clause: "5.6", Status: r, Summary: "The hardware controls access to memory.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.6-9", Clause: "5.6", Status: r, Summary: "The manufacturer develops the device's software following a secure development process.", Packages: pk("conformance"), Evidence: d},

	{ID: "5.7-1", Clause: "5.7", Status: r, Summary: "The device verifies its own software with a secure boot mechanism.", Packages: pk("update"), Evidence: e},
	{ID: "5.7-2", Clause: "5.7", Status: r, Summary: "When the device detects that its software was changed without authorisation, it alerts the user or administrator and limits its network access to what that alert needs.", Packages: pk("update"), Evidence: e},

	{ID: "5.8-1", Clause: "5.8", Status: r, Summary: "Personal data travelling between the device and services is kept confidential with current cryptography.", Packages: pk("privacy"), Evidence: e},
	{ID: "5.8-2", Clause: "5.8", Status: m, OtherCondition: "sensitive personal data is exchanged between the device and associated services", Summary: "Sensitive personal data exchanged with associated services is kept confidential with suitable cryptography.", Packages: pk("privacy"), Evidence: e},
	{ID: "5.8-3", Clause: "5.8", Status: m, OtherCondition: "the device has external sensing capabilities", Summary: "Every way the device senses its surroundings is documented clearly for the user.", Packages: pk("privacy"), Evidence: e, Secondary: d},

	{ID: "5.9-1", Clause: "5.9", Status: r, Summary: "The device and its services are built to cope with network and power outages.", Packages: pk("resilience"), Evidence: d},
	{ID: "5.9-2", Clause: "5.9", Status: r, Summary: "Without network the device keeps working locally, and after a power cut it recovers cleanly.", Packages: pk("resilience"), Evidence: e},
	{ID: "5.9-3", Clause: "5.9", Status: r, Summary: "The device joins networks in an orderly, expected way that does not overload the infrastructure.", Packages: pk("resilience"), Evidence: e},

	{ID: "5.10-1", Clause: "5.10", Status: r, Conditions: conds(6), Summary: "Collected telemetry is examined for signs of security anomalies.", Packages: pk("privacy"), Evidence: e},

	{ID: "5.11-1", Clause: "5.11", Status: m, Summary: "The user can erase their data from the device in a simple way.", Packages: pk("erase"), Evidence: e},
	{ID: "5.11-2", Clause: "5.11", Status: r, Summary: "From the device, the user can have their personal data removed from associated services in a simple way.", Packages: pk("erase"), Evidence: e},
	{ID: "5.11-3", Clause: "5.11", Status: r, Summary: "Users get clear instructions for deleting their personal data.", Packages: pk("erase"), Evidence: e, Secondary: d},
	{ID: "5.11-4", Clause: "5.11", Status: r, Summary: "Users get a clear confirmation once their personal data has been deleted.", Packages: pk("erase"), Evidence: e},

	{ID: "5.12-1", Clause: "5.12", Status: r, Summary: "Installing and maintaining the device asks few decisions of the user and follows usable-security practice.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.12-2", Clause: "5.12", Status: r, Summary: "The manufacturer tells users how to set the device up securely.", Packages: pk("conformance"), Evidence: d},
	{ID: "5.12-3", Clause: "5.12", Status: r, Summary: "Users are told how to check that their device is securely set up.", Packages: pk("conformance"), Evidence: e},

	{ID: "5.13-1", Clause: "5.13", Status: m, Summary: "The device validates all data it receives, from user interfaces, APIs and networks.", Packages: pk("iface"), Evidence: e},

	{ID: "6-1", Clause: "6", Status: m, Summary: "Consumers are told clearly which personal data each device and service processes, how, by whom (third parties included) and why.", Packages: pk("privacy"), Evidence: e, Secondary: d},
	{ID: "6-2", Clause: "6", Status: m, Conditions: conds(7), Summary: "Where processing rests on consent, that consent is obtained validly.", Packages: pk("privacy"), Evidence: e},
	{ID: "6-3", Clause: "6", Status: m, Conditions: conds(7), Summary: "Consumers who consented can withdraw their consent at any time.", Packages: pk("privacy"), Evidence: e},
	{ID: "6-4", Clause: "6", Status: r, Conditions: conds(6), Summary: "Telemetry processes no more personal data than the function needs.", Packages: pk("privacy"), Evidence: e},
	{ID: "6-5", Clause: "6", Status: m, Conditions: conds(6), Summary: "Consumers are told which telemetry is collected, how it is used, by whom and why.", Packages: pk("privacy"), Evidence: e},
}
