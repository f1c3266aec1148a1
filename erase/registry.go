package erase

import (
	"fmt"
	"slices"
)

// Category names a kind of user data a store holds, so that the
// instructions (5.11-3) and the receipt (5.11-4) can say in plain words
// what was deleted without naming any of it.
type Category string

// The categories the SDK knows by name. A device may use others; they are
// shown as written.
const (
	Secrets     Category = "secrets"     // keys, tokens and passwords in the sealed store
	Credentials Category = "credentials" // the owner's login (password verifier, sessions)
	WiFi        Category = "wifi"        // Wi-Fi networks and their passphrases
	Consent     Category = "consent"     // the record of what the owner agreed to
	Telemetry   Category = "telemetry"   // usage data waiting to be sent
	Logs        Category = "logs"        // event and security logs
	CrashDumps  Category = "crash-dumps" // memory dumps of crashed programs
	Caches      Category = "caches"      // cached data from services
	UserFiles   Category = "user-files"  // schedules, names, settings the owner made
)

var categoryWords = map[Category]string{
	Secrets:     "keys, tokens and passwords kept in the encrypted store",
	Credentials: "your login: password and open sessions",
	WiFi:        "Wi-Fi networks and their passwords",
	Consent:     "the record of what you agreed to share",
	Telemetry:   "usage data not yet sent",
	Logs:        "event and security logs",
	CrashDumps:  "crash reports",
	Caches:      "data cached from online services",
	UserFiles:   "your settings, schedules and names",
}

// Words returns the category in plain words for a user.
func (c Category) Words() string {
	if w, ok := categoryWords[c]; ok {
		return w
	}
	return string(c)
}

// Entry is one registered store.
type Entry struct {
	Eraser   Eraser
	Category Category
}

// Kept is something a factory reset deliberately keeps, with the reason
// (shown to the user by the instructions).
type Kept struct {
	What string
	Why  string
}

// Service is an associated service that holds the user's data and deletes
// it on request (5.11-2).
type Service struct {
	// Name identifies the service in requests and receipts ("cloud").
	Name string
	// Holds says in plain words what the service keeps ("your usage
	// history and the device's link to your account").
	Holds string
	// Topic is the outbox topic of its deletion requests; empty means
	// "erase.request".
	Topic string
}

// DefaultKept is what every device keeps through a reset: the firmware and
// its trust root. Registry starts with it.
var DefaultKept = []Kept{
	{What: "the firmware", Why: "the device needs it to start; it holds no personal data"},
	{What: "the firmware's trust root (update signing keys)", Why: "so the device still installs only genuine updates after the reset; it holds no personal data"},
}

// Registry lists the device's stores of user data, what each holds, what a
// reset keeps and the associated services. A device builds it once in main;
// the reset, the instructions and the self-check read it. It is not safe for
// concurrent modification; build it before use.
type Registry struct {
	entries  []Entry
	kept     []Kept
	services []Service
	howTo    string
}

// NewRegistry returns a registry that keeps [DefaultKept].
func NewRegistry() *Registry { return &Registry{kept: slices.Clone(DefaultKept)} }

// Add registers a store and the category of data it holds. It panics on a
// programmer error: a nil Eraser, a bad or duplicate name, a category that
// is empty or longer than the 64 printable bytes a receipt carries.
func (r *Registry) Add(e Eraser, c Category) *Registry {
	if e == nil {
		panic("erase: Registry.Add with nil Eraser")
	}
	name := e.Name()
	if !validName(name) {
		panic(fmt.Sprintf("erase: invalid store name %q", name))
	}
	if c == "" || len(c) > maxName || !printable(string(c)) {
		// The receipt carries the category; Sign would refuse it only at
		// the end of a reset.
		panic(fmt.Sprintf("erase: store %q: category must be 1 to %d printable bytes", name, maxName))
	}
	for _, x := range r.entries {
		if x.Eraser.Name() == name {
			panic(fmt.Sprintf("erase: store %q registered twice", name))
		}
	}
	r.entries = append(r.entries, Entry{Eraser: e, Category: c})
	return r
}

// Keep records something else the reset keeps, and why.
func (r *Registry) Keep(what, why string) *Registry {
	r.kept = append(r.kept, Kept{What: what, Why: why})
	return r
}

// AddService registers an associated service. It panics on a bad or
// duplicate name.
func (r *Registry) AddService(s Service) *Registry {
	if !validName(s.Name) {
		panic(fmt.Sprintf("erase: invalid service name %q", s.Name))
	}
	for _, x := range r.services {
		if x.Name == s.Name {
			panic(fmt.Sprintf("erase: service %q registered twice", s.Name))
		}
	}
	r.services = append(r.services, s)
	return r
}

// Entries returns the registered stores in registration order.
func (r *Registry) Entries() []Entry { return slices.Clone(r.entries) }

// KeptItems returns what a reset keeps.
func (r *Registry) KeptItems() []Kept { return slices.Clone(r.kept) }

// Services returns the associated services.
func (r *Registry) Services() []Service { return slices.Clone(r.services) }

func (r *Registry) entry(name string) (Entry, bool) {
	for _, e := range r.entries {
		if e.Eraser.Name() == name {
			return e, true
		}
	}
	return Entry{}, false
}

func (r *Registry) service(name string) (Service, bool) {
	for _, s := range r.services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// maxName bounds store and service names.
const maxName = 64

// validName accepts 1 to 64 ASCII letters, digits, '.', '_' and '-'.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func methodOf(e Eraser) Method {
	if d, ok := e.(Describer); ok && d.Method().valid() {
		return d.Method()
	}
	return Delete
}
