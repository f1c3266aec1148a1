package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/iotbaseline/baseline/durable"
)

// DefaultMaxSecurityPostpone is how long the owner may postpone a security
// release when PolicyConfig.MaxSecurityPostpone is zero (provision 5.3-8:
// security updates are installed in a timely manner even when the owner
// asked to wait).
const DefaultMaxSecurityPostpone = 72 * time.Hour

// maxPolicySize bounds the policy file: a larger file is refused before it
// is decoded, so a corrupted or planted file cannot make the device
// allocate without bound.
const maxPolicySize = 1 << 10

// policyVersion is the only file format version decodePolicy accepts.
const policyVersion = 1

// ErrPolicy is returned for a policy file that cannot be decoded, and for a
// change the policy refuses.
var ErrPolicy = errors.New("update: invalid update policy")

// UpdatePolicy is the owner's choice of when updates are installed
// (provision 5.3-6). Its zero value is the secure default: automatic
// installation on (5.3-4), notifications on, nothing postponed.
type UpdatePolicy struct {
	// AutoInstallOff switches automatic installation off. The Scheduler
	// still checks for releases and announces them (unless NotificationsOff)
	// but never installs one.
	AutoInstallOff bool `json:"autoInstallOff,omitempty"`
	// NotificationsOff stops the Scheduler from announcing releases
	// (UpdateAvailable, SecurityUpdate, Disruption) to the device's UI.
	NotificationsOff bool `json:"notificationsOff,omitempty"`
	// Postponed, when not nil, is the one release the owner asked to wait
	// for. A newer release is not covered by it.
	Postponed *Postponement `json:"postponed,omitempty"`
}

// Postponement is the owner's request to install one release later.
type Postponement struct {
	// ReleaseCounter names the postponed release.
	ReleaseCounter uint64 `json:"counter"`
	// Security records that the release is a security release, so its
	// postponement ends at At plus the maker's cap at the latest.
	Security bool `json:"security,omitempty"`
	// At is when the owner postponed it.
	At time.Time `json:"at"`
	// Until is when the postponement ends; the zero time (feature releases
	// only) means until the owner resumes it.
	Until time.Time `json:"until,omitzero"`
	// Capped records that the owner asked for longer than the maker's cap
	// on security postponements, and Until is the cap's end (5.3-8).
	Capped bool `json:"capped,omitempty"`
}

// policyFile is the on-disk form: the policy and a format version.
type policyFile struct {
	V int `json:"v"`
	UpdatePolicy
}

// encodePolicy returns the file form of p.
func encodePolicy(p UpdatePolicy) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(policyFile{V: policyVersion, UpdatePolicy: p})
}

// decodePolicy parses a policy file strictly: at most maxPolicySize bytes,
// one JSON object of the current version with no unknown fields and nothing
// after it. Errors wrap ErrPolicy.
func decodePolicy(data []byte) (UpdatePolicy, error) {
	fail := func(format string, a ...any) (UpdatePolicy, error) {
		return UpdatePolicy{}, fmt.Errorf("%w: "+format, append([]any{ErrPolicy}, a...)...)
	}
	if len(data) > maxPolicySize {
		return fail("%d bytes, limit %d", len(data), maxPolicySize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f policyFile
	if err := dec.Decode(&f); err != nil {
		return fail("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("trailing data")
	}
	if f.V != policyVersion {
		return fail("version %d, want %d", f.V, policyVersion)
	}
	if err := f.validate(); err != nil {
		return UpdatePolicy{}, err
	}
	return f.UpdatePolicy, nil
}

func (p UpdatePolicy) validate() error {
	if q := p.Postponed; q != nil {
		if q.ReleaseCounter == 0 || q.At.IsZero() {
			return fmt.Errorf("%w: postponement without release counter or time", ErrPolicy)
		}
		if q.Security && q.Until.IsZero() {
			return fmt.Errorf("%w: security postponement without end", ErrPolicy)
		}
		if q.Capped && !q.Security {
			return fmt.Errorf("%w: only a security postponement is capped", ErrPolicy)
		}
		if !q.Until.IsZero() && q.Until.Before(q.At) {
			return fmt.Errorf("%w: postponement ends before it starts", ErrPolicy)
		}
	}
	return nil
}

// clone returns a copy of p that shares no memory with it.
func (p UpdatePolicy) clone() UpdatePolicy {
	if p.Postponed != nil {
		q := *p.Postponed
		p.Postponed = &q
	}
	return p
}

// postponedUntil says whether r is postponed at now and until when (the
// zero time: until the owner resumes it). A security postponement ends at
// At+secCap at the latest whatever the file says, and ends at once when the
// clock reads earlier than At (a clock set back must not stretch it).
func (p UpdatePolicy) postponedUntil(r *Release, now time.Time, secCap time.Duration) (bool, time.Time) {
	q := p.Postponed
	if q == nil || r == nil || r.Descriptor == nil || r.Descriptor.ReleaseCounter != q.ReleaseCounter {
		return false, time.Time{}
	}
	if r.Descriptor.Security || q.Security {
		end := q.At.Add(secCap)
		if !q.Until.IsZero() && q.Until.Before(end) {
			end = q.Until
		}
		if now.Before(q.At) || !now.Before(end) {
			return false, time.Time{}
		}
		return true, end
	}
	if q.Until.IsZero() {
		return true, time.Time{}
	}
	if now.Before(q.Until) {
		return true, q.Until
	}
	return false, time.Time{}
}

// capped reports whether a security postponement that ends at end (as
// postponedUntil computed it) ends there because of the maker's cap: it
// was capped when the owner asked, or a cap lowered since ends it sooner.
func (q *Postponement) capped(end time.Time) bool {
	return q != nil && q.Security && (end.Before(q.Until) || q.Capped && end.Equal(q.Until))
}

// PolicyChanged reports a change of the update policy: the owner's, or
// Reset when an unreadable policy file was replaced by the defaults.
type PolicyChanged struct {
	Policy UpdatePolicy
	Reset  bool
}

// ReleasePostponed reports that installing a release was postponed until
// Until (zero: until the owner resumes it). Capped is set when the owner
// asked for longer than the maker's cap on security postponements and
// Until is the cap (provision 5.3-8).
type ReleasePostponed struct {
	Path           string
	ReleaseCounter uint64
	Security       bool
	Until          time.Time
	Capped         bool
}

func (PolicyChanged) isEvent()    {}
func (ReleasePostponed) isEvent() {}

// PolicyConfig configures a PolicyStore.
type PolicyConfig struct {
	// FS is where the policy file lives. Required; durable.OS on a device.
	FS durable.FS
	// Path names the policy file. Required.
	Path string
	// MaxSecurityPostpone caps how long a security release may be
	// postponed (provision 5.3-8). Zero means DefaultMaxSecurityPostpone;
	// a negative value means security releases cannot be postponed.
	MaxSecurityPostpone time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Notify receives every change as an event; nil means none. Sends
	// never block: an event the channel has no room for is dropped (the
	// setter that made the change returns it as well).
	Notify chan<- Event
}

// PolicyStore holds the owner's UpdatePolicy and keeps it in a small file,
// replaced atomically through durable.WriteFile: after a power loss the
// device finds the old policy or the new one, never a mix (provision 5.3-6).
// Every change is returned as an event and sent to PolicyConfig.Notify.
// It is safe for concurrent use.
type PolicyStore struct {
	cfg PolicyConfig

	mu      sync.Mutex
	p       UpdatePolicy
	changed chan struct{} // closed and replaced at every change
}

// OpenPolicyStore reads the policy file. A missing file means the default
// policy (the zero UpdatePolicy). A file that cannot be decoded — it can
// only be planted or damaged, as durable.WriteFile never leaves a torn
// one — is also read as the default policy, the secure one, and reported
// as a PolicyChanged event with Reset set; the file is rewritten at the
// next change.
func OpenPolicyStore(cfg PolicyConfig) (*PolicyStore, error) {
	if cfg.FS == nil || cfg.Path == "" {
		return nil, fmt.Errorf("%w: PolicyConfig needs FS and Path", ErrConfig)
	}
	if cfg.MaxSecurityPostpone == 0 {
		cfg.MaxSecurityPostpone = DefaultMaxSecurityPostpone
	}
	if cfg.MaxSecurityPostpone < 0 {
		cfg.MaxSecurityPostpone = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &PolicyStore{cfg: cfg, changed: make(chan struct{})}
	data, err := durable.ReadFile(cfg.FS, cfg.Path, maxPolicySize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, durable.ErrTooLarge):
		s.notify(PolicyChanged{Reset: true})
	case err != nil:
		return nil, fmt.Errorf("update: reading policy: %w", err)
	default:
		p, err := decodePolicy(data)
		if err != nil {
			s.notify(PolicyChanged{Reset: true})
		} else {
			s.p = p
		}
	}
	return s, nil
}

// Policy returns a copy of the policy in force.
func (s *PolicyStore) Policy() UpdatePolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.clone()
}

// MaxSecurityPostpone returns the maker's cap on postponing a security
// release.
func (s *PolicyStore) MaxSecurityPostpone() time.Duration { return s.cfg.MaxSecurityPostpone }

// SetAutoInstall switches automatic installation on or off (provision
// 5.3-6). The change is on flash when it returns nil.
func (s *PolicyStore) SetAutoInstall(on bool) (PolicyChanged, error) {
	return s.change(func(p *UpdatePolicy) { p.AutoInstallOff = !on })
}

// SetNotifications switches the announcement of releases on or off
// (provision 5.3-6).
func (s *PolicyStore) SetNotifications(on bool) (PolicyChanged, error) {
	return s.change(func(p *UpdatePolicy) { p.NotificationsOff = !on })
}

// Postpone postpones installing r until until (the zero time: until Resume,
// for a feature release). A security release is postponed for at most the
// maker's cap from now: a longer or open-ended request is shortened to the
// cap and the event says Capped (provision 5.3-8). It replaces any earlier
// postponement. An until that is not after now is refused.
func (s *PolicyStore) Postpone(r *Release, until time.Time) (ReleasePostponed, error) {
	if r == nil || r.Descriptor == nil {
		return ReleasePostponed{}, fmt.Errorf("%w: postponing a release without descriptor", ErrPolicy)
	}
	// Wall-clock time only, so the policy in memory is the one on flash.
	now := s.cfg.Now().Round(0)
	until = until.Round(0)
	if !until.IsZero() && !until.After(now) {
		return ReleasePostponed{}, fmt.Errorf("%w: postponement ends in the past", ErrPolicy)
	}
	d := r.Descriptor
	ev := ReleasePostponed{Path: r.Path, ReleaseCounter: d.ReleaseCounter, Security: d.Security, Until: until}
	if d.Security {
		limit := now.Add(s.cfg.MaxSecurityPostpone)
		if until.IsZero() || until.After(limit) {
			ev.Until, ev.Capped = limit, true
		}
		if !ev.Until.After(now) {
			return ReleasePostponed{}, fmt.Errorf("%w: security releases cannot be postponed on this device", ErrPolicy)
		}
	}
	q := &Postponement{ReleaseCounter: d.ReleaseCounter, Security: d.Security, At: now, Until: ev.Until, Capped: ev.Capped}
	if _, err := s.change(func(p *UpdatePolicy) { p.Postponed = q }, ev); err != nil {
		return ReleasePostponed{}, err
	}
	return ev, nil
}

// Resume ends any postponement, so the postponed release is installed at
// the Scheduler's next decision.
func (s *PolicyStore) Resume() (PolicyChanged, error) {
	return s.change(func(p *UpdatePolicy) { p.Postponed = nil })
}

// change applies f to a copy of the policy, writes it and only then makes
// it the policy in force; extra events are sent before PolicyChanged.
func (s *PolicyStore) change(f func(*UpdatePolicy), extra ...Event) (PolicyChanged, error) {
	s.mu.Lock()
	p := s.p.clone()
	f(&p)
	data, err := encodePolicy(p)
	if err == nil {
		err = durable.WriteFile(s.cfg.FS, s.cfg.Path, data, 0o600)
	}
	if err != nil {
		s.mu.Unlock()
		return PolicyChanged{}, fmt.Errorf("update: saving policy: %w", err)
	}
	s.p = p
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	ev := PolicyChanged{Policy: p.clone()}
	for _, e := range extra {
		s.notify(e)
	}
	s.notify(ev)
	return ev, nil
}

// watch returns a channel closed at the next change.
func (s *PolicyStore) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *PolicyStore) notify(e Event) {
	trySend(s.cfg.Notify, e)
}
