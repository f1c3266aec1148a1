package conformance

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
type Provision struct {
	ID         string
	Clause     string
	Status     Status
	Conditions []int
	Summary    string
	Packages   []string
	Evidence   Evidence
}

// catalog is filled in by the full catalog (TODO in progress).
var catalog []Provision

// Lookup returns the provision with the given ID.
func Lookup(id string) (Provision, bool) {
	for _, p := range catalog {
		if p.ID == id {
			return p, true
		}
	}
	return Provision{}, false
}
