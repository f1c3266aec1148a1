// Package commission is what a firmware team writes on top of the baseline
// SDK, from a module of its own: the commissioning of a device by its
// owner, in two steps, kept on flash so that a power cut at any moment
// leaves the device in a state it can resume from.
//
//   - Claim: the owner proves possession with the setup secret from the
//     label and sets a password (auth.Service.Setup).
//   - Commission: the owner names the device, gives it the Wi-Fi key (kept
//     sealed in secrets) and chooses whether updates install themselves
//     (update.PolicyStore).
//
// The device's own progress is a small record replaced atomically by
// durable.WriteFile. It is written after the SDK state it summarises, so a
// crash between the two leaves the SDK ahead of the record, never behind;
// Open reconciles the record with auth's state, and Commission can simply
// be run again.
package commission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/update"
)

// Step is how far commissioning has gone.
type Step int

const (
	// Factory: nobody has claimed the device yet.
	Factory Step = iota
	// Claimed: the owner has set a password.
	Claimed
	// Commissioned: the device has a name, a Wi-Fi key and an update policy.
	Commissioned
)

// Record is the device's commissioning progress as kept on flash.
type Record struct {
	Step Step   `json:"step"`
	Name string `json:"name,omitempty"` // set by Commission
}

func (r Record) valid() bool {
	switch r.Step {
	case Factory, Claimed:
		return r.Name == ""
	case Commissioned:
		return r.Name != ""
	}
	return false
}

// WiFiKeyName is the name of the Wi-Fi key in the sealed store.
const WiFiKeyName = "wifi-psk"

// Config says where the device keeps its state.
type Config struct {
	// FS is the flash. Nil means durable.OS.
	FS durable.FS
	// Dir holds everything: the soft KEK's seed, the sealed store, auth's
	// throttle log, the update policy and the commissioning record.
	Dir string
	// Verifier is the setup-secret verifier the factory wrote for this
	// device; it is installed on first start.
	Verifier string
	// Hash and InsecureWeakHash are passed to auth (tests lower the cost).
	Hash             auth.Params
	InsecureWeakHash bool
}

// Device is a device being commissioned.
type Device struct {
	fsys   durable.FS
	dir    string
	store  *secrets.Sealed
	auth   *auth.Service
	policy *update.PolicyStore
	rec    Record
}

const maxRecord = 4 << 10

// ErrWrongStep is returned by Claim and Commission out of order.
var ErrWrongStep = errors.New("commission: step out of order")

// Open starts the device: it opens (creating on first start) the KEK,
// the sealed store, auth and the update policy, installs the factory's
// verifier if auth has none, and reads the commissioning record.
func Open(ctx context.Context, cfg Config) (*Device, error) {
	fsys := cfg.FS
	if fsys == nil {
		fsys = durable.OS
	}
	if err := fsys.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	kek, err := secrets.NewSoftKEK(ctx, secrets.SoftConfig{FS: fsys, Path: path.Join(cfg.Dir, "kek.seed")})
	if err != nil {
		return nil, err
	}
	store, err := secrets.Open(ctx, secrets.Config{FS: fsys, Dir: path.Join(cfg.Dir, "secrets"), KEK: kek})
	if err != nil {
		return nil, err
	}
	svc, err := auth.New(ctx, auth.Config{
		Vault:            store,
		FS:               fsys,
		StateDir:         path.Join(cfg.Dir, "auth"),
		Hash:             cfg.Hash,
		InsecureWeakHash: cfg.InsecureWeakHash,
	})
	if err != nil {
		return nil, err
	}
	d := &Device{fsys: fsys, dir: cfg.Dir, store: store, auth: svc}
	if svc.State() == auth.Unprovisioned && cfg.Verifier != "" {
		if err := svc.Provision(ctx, cfg.Verifier); err != nil {
			d.Close()
			return nil, err
		}
	}
	if d.policy, err = update.OpenPolicyStore(update.PolicyConfig{FS: fsys, Path: path.Join(cfg.Dir, "update-policy.json")}); err != nil {
		d.Close()
		return nil, err
	}
	if d.rec, err = d.readRecord(); err != nil {
		d.Close()
		return nil, err
	}
	// The record is written after auth's state: a crash in between leaves
	// auth ahead, and the device catches up here.
	if d.rec.Step == Factory && svc.State() == auth.Ready {
		if err := d.writeRecord(Record{Step: Claimed}); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func (d *Device) recordPath() string { return path.Join(d.dir, "commission.json") }

func (d *Device) readRecord() (Record, error) {
	b, err := durable.ReadFile(d.fsys, d.recordPath(), maxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil || !r.valid() {
		return Record{}, fmt.Errorf("commission: damaged record %s", d.recordPath())
	}
	return r, nil
}

func (d *Device) writeRecord(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(d.fsys, d.recordPath(), b, 0o600); err != nil {
		return err
	}
	d.rec = r
	return nil
}

// Claim runs the owner's first step: the setup secret from the label, and
// the account and password to use from now on. When it returns nil the
// claim survives power loss.
func (d *Device) Claim(ctx context.Context, source, setupSecret, account, password string) error {
	if d.rec.Step != Factory {
		return ErrWrongStep
	}
	if _, err := d.auth.Setup(ctx, auth.SetupRequest{
		Source:      source,
		SetupSecret: auth.Password(setupSecret),
		Account:     account,
		NewPassword: auth.Password(password),
	}); err != nil {
		return err
	}
	return d.writeRecord(Record{Step: Claimed})
}

// Commission runs the second step. It may be run again after a power cut
// interrupted it: every write it makes is idempotent.
func (d *Device) Commission(ctx context.Context, name string, wifiKey []byte, autoInstall bool) error {
	if d.rec.Step != Claimed || name == "" {
		return ErrWrongStep
	}
	if err := d.store.Put(ctx, WiFiKeyName, wifiKey); err != nil {
		return err
	}
	if _, err := d.policy.SetAutoInstall(autoInstall); err != nil {
		return err
	}
	return d.writeRecord(Record{Step: Commissioned, Name: name})
}

// Record returns the commissioning progress.
func (d *Device) Record() Record { return d.rec }

// Auth returns the device's owner authentication (logins, password changes).
func (d *Device) Auth() *auth.Service { return d.auth }

// Secrets returns the device's sealed store.
func (d *Device) Secrets() *secrets.Sealed { return d.store }

// UpdatePolicy returns the owner's update policy in force.
func (d *Device) UpdatePolicy() update.UpdatePolicy { return d.policy.Policy() }

// Close releases the device's files.
func (d *Device) Close() error { return d.auth.Close() }
