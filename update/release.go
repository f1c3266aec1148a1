package update

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Release is a target the signed metadata offers to this device: its path,
// length and hashes from TUF and its [Descriptor]. A Release says what may be
// downloaded; only [Client.Download] (or [Client.OpenBundle]) turns it into
// an installable [Verified].
type Release struct {
	// Path is the TUF target path.
	Path string
	// Length is the image's signed length in bytes.
	Length int64
	// Hashes are the image's signed hashes by algorithm name.
	Hashes metadata.Hashes
	// Descriptor is the release's descriptor. It is nil only for a target
	// accepted under Config.InsecureAllowNoDescriptor.
	Descriptor *Descriptor
}

// clone returns a deep copy, so a Verified's release cannot be changed
// through a value handed out earlier.
func (r Release) clone() Release {
	out := r
	out.Hashes = metadata.Hashes{}
	for k, v := range r.Hashes {
		out.Hashes[k] = slices.Clone(v)
	}
	if r.Descriptor != nil {
		d := *r.Descriptor
		d.Risks = slices.Clone(d.Risks)
		d.Chunks = slices.Clone(d.Chunks)
		if d.CoSignature != nil {
			cs := *d.CoSignature
			cs.Signature = slices.Clone(cs.Signature)
			d.CoSignature = &cs
		}
		out.Descriptor = &d
	}
	return out
}

// Events returns the typed events a device announces for this release
// before installing it: [SecurityUpdate] (5.3-11) or [UpdateAvailable], and
// [Disruption] (5.3-12).
func (r *Release) Events() []Event {
	d := r.Descriptor
	if d == nil {
		return []Event{UpdateAvailable{Path: r.Path}}
	}
	var ev []Event
	if d.Security {
		ev = append(ev, SecurityUpdate{Path: r.Path, Version: d.Version, ReleaseCounter: d.ReleaseCounter, Risks: slices.Clone(d.Risks)})
	} else {
		ev = append(ev, UpdateAvailable{Path: r.Path, Version: d.Version, ReleaseCounter: d.ReleaseCounter})
	}
	ev = append(ev, Disruption{Path: r.Path, Reboot: d.Reboot, Downtime: d.Downtime})
	return ev
}

// Event is a notification for the device's user interface (provisions
// 5.3-11, 5.3-12). The concrete types are a release's announcements
// [UpdateAvailable], [SecurityUpdate] and [Disruption]; the Scheduler's
// [InstallDeferred], [ReleasePostponed] and [CheckFailed] (a failed check
// or install, with its reason); the PolicyStore's [PolicyChanged] and
// [ReleasePostponed]; and the installer's [Downloading], [Installed],
// [TrialBoot], [Committed] and [RolledBack]. Every source delivers them
// on a channel with a send that never blocks.
type Event interface{ isEvent() }

// UpdateAvailable announces a release that is not marked as a security
// update.
type UpdateAvailable struct {
	Path           string
	Version        string
	ReleaseCounter uint64
}

// SecurityUpdate announces a security update and the risks it mitigates, as
// the manufacturer wrote them into the signed descriptor (provision 5.3-11).
type SecurityUpdate struct {
	Path           string
	Version        string
	ReleaseCounter uint64
	Risks          []string
}

// Disruption tells the user, before installation, what installing will do
// to the device's basic functioning (provision 5.3-12).
type Disruption struct {
	Path     string
	Reboot   bool
	Downtime time.Duration
}

func (UpdateAvailable) isEvent() {}
func (SecurityUpdate) isEvent()  {}
func (Disruption) isEvent()      {}

// ReleaseError says why a target was refused. It unwraps to the sentinel
// (ErrHardware, ErrRollback, ErrCoSignature, ErrDescriptor, ErrTooLarge,
// ErrNotFound…).
type ReleaseError struct {
	Path string
	Err  error
}

func (e *ReleaseError) Error() string { return fmt.Sprintf("update: target %q: %v", e.Path, e.Err) }

// Unwrap returns the reason.
func (e *ReleaseError) Unwrap() error { return e.Err }

var supportedHashes = []string{"sha256", "sha384", "sha512"}

// release checks one signed target against the device's policy.
func (c *Client) release(path string, tf *metadata.TargetFiles) (*Release, error) {
	fail := func(err error) (*Release, error) { return nil, &ReleaseError{Path: path, Err: err} }
	if tf.Length <= 0 || tf.Length > c.cfg.MaxTargetSize {
		return fail(fmt.Errorf("%w: length %d outside 1..%d", ErrTooLarge, tf.Length, c.cfg.MaxTargetSize))
	}
	if len(tf.Hashes) == 0 {
		return fail(fmt.Errorf("%w: no hashes", ErrTarget))
	}
	for alg := range tf.Hashes {
		if !slices.Contains(supportedHashes, alg) {
			return fail(fmt.Errorf("%w: unsupported hash algorithm %q", ErrTarget, alg))
		}
	}
	r := &Release{Path: path, Length: tf.Length, Hashes: Release{Hashes: tf.Hashes}.clone().Hashes}
	var custom []byte
	if tf.Custom != nil {
		custom = *tf.Custom
	}
	d, err := DecodeDescriptor(custom)
	switch {
	case errors.Is(err, ErrNoDescriptor) && c.cfg.InsecureAllowNoDescriptor:
		if tf.Length > MaxChunkSize || tf.Hashes["sha256"] == nil {
			return fail(fmt.Errorf("%w: a target without descriptor must be at most %d bytes with a sha256", ErrDescriptor, MaxChunkSize))
		}
		return r, nil
	case err != nil:
		return fail(err)
	}
	if d.HardwareID != c.cfg.HardwareID {
		return fail(ErrHardware)
	}
	if inst := c.cfg.InstalledCounter(); d.ReleaseCounter <= inst {
		return fail(fmt.Errorf("%w: %d <= installed %d", ErrRollback, d.ReleaseCounter, inst))
	}
	if err := d.CheckLength(tf.Length); err != nil {
		return fail(err)
	}
	// The chain's last entry is the whole-image SHA-256: it must be the
	// one TUF signed, so the chunk checks and the whole-image check agree.
	if subtle.ConstantTimeCompare(d.Chunks[len(d.Chunks)-1][:], tf.Hashes["sha256"]) != 1 {
		return fail(descErr("chunks", "last entry is not the target's sha256"))
	}
	if c.cfg.CoSignKey != nil {
		if err := c.verifyCoSignature(c.cfg.CoSignKey, d.CoSignature, path, tf.Length, tf.Hashes, d.ReleaseCounter, d.HardwareID); err != nil {
			return fail(err)
		}
	}
	r.Descriptor = d
	return r, nil
}

// Updater is what a device's update scheduler needs from a client: the
// newest applicable release, or (nil, nil) when the device is up to date,
// and a way to install one ([Client.Apply]). [*Client] implements it.
type Updater interface {
	Check(ctx context.Context) (*Release, error)
	Apply(ctx context.Context, r *Release) error
}

var _ Updater = (*Client)(nil)

// Lookup returns the release at a target path from the last refreshed
// metadata, after every policy check (hardware ID, release counter,
// co-signature, descriptor consistency).
func (c *Client) Lookup(path string) (*Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookup(path)
}

func (c *Client) lookup(path string) (*Release, error) {
	if c.trusted == nil {
		return nil, ErrNotRefreshed
	}
	tf, ok := c.trusted.Targets[metadata.TARGETS].Signed.Targets[path]
	if !ok {
		return nil, &ReleaseError{Path: path, Err: ErrNotFound}
	}
	return c.release(path, tf)
}

// Check refreshes the metadata and returns the newest release for this
// hardware whose release counter exceeds the installed one, or (nil, nil)
// when the device is up to date. Targets for other hardware, and releases
// that failed their trial on this device (see [Config.Installer]), are
// skipped; if the newest candidate fails a policy check (for example its
// co-signature), Check returns that error rather than silently offering an
// older release.
func (c *Client) Check(ctx context.Context) (*Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	inst := c.cfg.InstalledCounter()
	var best string
	var bestCounter uint64
	var ours int         // targets for this hardware ID
	var otherHW []string // a few other hardware IDs, for the log
	for p, tf := range c.trusted.Targets[metadata.TARGETS].Signed.Targets {
		var custom []byte
		if tf.Custom != nil {
			custom = *tf.Custom
		}
		d, err := DecodeDescriptor(custom)
		if err == nil && d.HardwareID != c.cfg.HardwareID {
			if len(otherHW) < 4 && !slices.Contains(otherHW, d.HardwareID) {
				otherHW = append(otherHW, d.HardwareID)
			}
			continue
		}
		if err == nil {
			ours++
		}
		if err != nil || d.ReleaseCounter <= inst ||
			c.rejected(&Release{Path: p, Length: tf.Length, Hashes: tf.Hashes, Descriptor: d}) {
			continue
		}
		if d.ReleaseCounter > bestCounter || (d.ReleaseCounter == bestCounter && p < best) {
			best, bestCounter = p, d.ReleaseCounter
		}
	}
	if best == "" {
		if ours == 0 && len(otherHW) > 0 {
			// Otherwise the device would never update and never say why.
			slices.Sort(otherHW)
			c.cfg.logger().Warn("update: the repository has releases, but none for this device's hardware ID; compare Config.HardwareID with the -hardware-id the releases were published with",
				"hardware_id", c.cfg.HardwareID, "repository_hardware_ids", otherHW)
		}
		return nil, nil
	}
	return c.lookup(best)
}
