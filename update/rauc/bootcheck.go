package rauc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/update"
)

// Checksum is what RAUC recorded about the image it wrote into a slot:
// its SHA-256 and size, from the signed bundle's manifest, as `rauc status
// --detailed` prints them under slot_status.checksum.
type Checksum struct {
	SHA256 []byte
	Size   int64
}

// ParseChecksum returns the checksum RAUC recorded for slot in the output
// of `rauc status --detailed --output-format=json`, and false when it
// recorded none (a slot RAUC never installed, such as the factory image).
// It is bounded like [ParseStatus] (which it runs first, so a document it
// refuses is refused here too); a checksum whose sha256 is not 64 hex
// digits, or whose size is not a positive integer, wraps ErrStatus.
func ParseChecksum(b []byte, slot string) (Checksum, bool, error) {
	if _, err := ParseStatus(b); err != nil {
		return Checksum{}, false, err
	}
	var doc struct {
		Slots []map[string]struct {
			SlotStatus *struct {
				Checksum *struct {
					SHA256 *string `json:"sha256"`
					Size   *int64  `json:"size"`
				} `json:"checksum"`
			} `json:"slot_status"`
		} `json:"slots"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return Checksum{}, false, fmt.Errorf("%w: slot_status: %v", ErrStatus, err)
	}
	for _, one := range doc.Slots {
		body, ok := one[slot]
		if !ok {
			continue
		}
		if body.SlotStatus == nil || body.SlotStatus.Checksum == nil {
			return Checksum{}, false, nil
		}
		c := body.SlotStatus.Checksum
		if c.SHA256 == nil || c.Size == nil {
			return Checksum{}, false, fmt.Errorf("%w: slot %q checksum without sha256 or size", ErrStatus, slot)
		}
		sum, err := hex.DecodeString(*c.SHA256)
		if err != nil || len(sum) != 32 {
			return Checksum{}, false, fmt.Errorf("%w: slot %q checksum is not a SHA-256", ErrStatus, slot)
		}
		if *c.Size <= 0 {
			return Checksum{}, false, fmt.Errorf("%w: slot %q checksum size %d", ErrStatus, slot, *c.Size)
		}
		return Checksum{SHA256: sum, Size: *c.Size}, true, nil
	}
	return Checksum{}, false, fmt.Errorf("%w: no slot %q", ErrStatus, slot)
}

// bootResult is what VerifyRunning found; never modified once stored.
type bootResult struct {
	slot, device string
	size         int64
	skipped      string // why nothing was compared ("" when it was)
	err          error  // nil: the slot matched
	restrictErr  error
}

// bootState is embedded in System.
type bootState struct {
	boot atomic.Pointer[bootResult]
	// verify is the comparison; tests replace it to show that the
	// self-check notices when it is broken.
	verify func(ctx context.Context, r io.Reader, length int64, want []byte) error
}

func (s *System) verifier() func(ctx context.Context, r io.Reader, length int64, want []byte) error {
	if s.verify != nil {
		return s.verify
	}
	return update.VerifyImage
}

// VerifyRunning checks, at start, that the booted slot still holds the
// image RAUC wrote into it (EN 303 645 5.7-1), and on a mismatch calls
// h.Restrict and then h.Alert (5.7-2), as update.FileAB.VerifyRunning does;
// see update.BootIntegrity for the hooks' contract. It reads the checksum
// RAUC recorded at install (`rauc status --detailed`: the SHA-256 and size
// of the image from the bundle, whose signature RAUC checked, and which
// update verified against its TUF target before that) and reads that many
// bytes of the booted slot's device through SHA-256 (update.VerifyImage,
// constant memory).
//
// What it covers: slots of type raw, which RAUC fills with the image byte
// for byte (a squashfs or erofs root file system, a kernel image). For
// other slot types RAUC may unpack an archive or the mounted file system
// may change its own device, so nothing is compared, it returns nil and the
// self-check is INCONCLUSIVE; likewise for a slot RAUC never installed (the
// factory image has no recorded checksum). A device that cannot be opened
// or read counts as changed (fail closed). Bytes after the image's size
// are not compared (a partition is larger than its image).
//
// The threat model is FileAB's: the record lives in RAUC's status file,
// which is not signed, so an attacker who can rewrite it as well as the
// slot is not detected, and code already running as the firmware can skip
// the call. For secure boot proper, use the platform's verified boot
// (a signed bootloader, dm-verity); this is the check on top of it, or in
// its place on hardware without one.
func (s *System) VerifyRunning(ctx context.Context, h update.BootIntegrity) error {
	if h.Restrict == nil || h.Alert == nil {
		return fmt.Errorf("%w: BootIntegrity needs both Restrict and Alert", ErrConfig)
	}
	out, err := s.run(ctx, MaxStatusBytes, true, "status", "--detailed", "--output-format=json")
	if err != nil {
		return err
	}
	st, err := ParseStatus(out)
	if err != nil {
		return err
	}
	b := st.BootedSlot()
	if b == nil {
		return fmt.Errorf("%w: no slot in state booted", ErrStatus)
	}
	res := &bootResult{slot: b.Name, device: b.Device}
	sum, ok, err := ParseChecksum(out, b.Name)
	switch {
	case err != nil:
		return err
	case !ok:
		res.skipped = "RAUC recorded no checksum for the booted slot (it did not install it, as with the factory image)"
	case b.Type != "raw":
		res.skipped = fmt.Sprintf("the booted slot has type %q: only raw slots hold the image byte for byte", b.Type)
	}
	if res.skipped != "" {
		s.boot.Store(res)
		s.log.Warn("rauc: boot integrity not verified", "slot", b.Name, "reason", res.skipped)
		return nil
	}
	res.size = sum.Size
	err = s.compare(ctx, b.Device, sum)
	if err == nil {
		s.boot.Store(res)
		s.log.Info("rauc: booted slot verified", "slot", b.Name, "bytes", sum.Size)
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	res.err = err
	s.log.Error("rauc: the booted slot does not match the image RAUC installed; restricting the network", "slot", b.Name, "err", err)
	found := err
	if rerr := h.Restrict(ctx); rerr != nil {
		res.restrictErr = rerr
		found = errors.Join(err, fmt.Errorf("rauc: network restriction failed: %w", rerr))
	}
	s.boot.Store(res)
	h.Alert(ctx, found)
	return found
}

func (s *System) compare(ctx context.Context, device string, sum Checksum) error {
	f, err := os.Open(device)
	if err != nil {
		return fmt.Errorf("%w: opening %s: %v", update.ErrImageCorrupt, device, err)
	}
	defer f.Close()
	if err := s.verifier()(ctx, f, sum.Size, sum.SHA256); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		if !errors.Is(err, update.ErrImageCorrupt) {
			err = fmt.Errorf("%w: reading: %v", update.ErrImageCorrupt, err)
		}
		return fmt.Errorf("%w (%s)", err, device)
	}
	return nil
}

func (s *System) bootCheck() conformance.Check {
	return conformance.Check{ID: "update.boot-integrity", Method: conformance.Measured, Provisions: []string{"5.7-1", "5.7-2"},
		Title: "At start the booted RAUC slot was read and matched the image RAUC installed; a mismatch restricts the network and alerts",
		Run:   s.checkBootIntegrity}
}

// probe offers the comparison a sample: intact it must match, with a byte
// changed or one byte short it must not.
func (s *System) probe(ctx context.Context) error {
	sample := make([]byte, 100<<10+17)
	for i := range sample {
		sample[i] = byte(i*131 + i>>8)
	}
	want := sha256.Sum256(sample)
	v := s.verifier()
	if err := v(ctx, bytes.NewReader(sample), int64(len(sample)), want[:]); err != nil {
		return fmt.Errorf("an intact sample was refused: %v", err)
	}
	for _, off := range []int{0, len(sample) / 2, len(sample) - 1} {
		changed := append([]byte(nil), sample...)
		changed[off] ^= 1
		if err := v(ctx, bytes.NewReader(changed), int64(len(sample)), want[:]); !errors.Is(err, update.ErrImageCorrupt) {
			return fmt.Errorf("a sample with byte %d changed was accepted", off)
		}
	}
	if err := v(ctx, bytes.NewReader(sample[:len(sample)-1]), int64(len(sample)), want[:]); !errors.Is(err, update.ErrImageCorrupt) {
		return errors.New("a sample one byte short was accepted")
	}
	return nil
}

func (s *System) checkBootIntegrity(ctx context.Context) conformance.Result {
	if err := s.probe(ctx); err != nil {
		if ctx.Err() != nil {
			return conformance.Result{Verdict: conformance.NotRun, Detail: "interrupted: " + ctx.Err().Error()}
		}
		return conformance.Result{Verdict: conformance.Fail, Observed: "the slot comparison was probed with changed samples",
			Detail: "the comparison used at start is broken: " + err.Error()}
	}
	probe := "comparison probed: changed first, middle and last byte and one byte short all refused"
	res := s.boot.Load()
	switch {
	case res == nil:
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: probe,
			Detail: "the booted slot has not been verified since this firmware started: call System.VerifyRunning at start"}
	case res.skipped != "":
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: "booted slot " + res.slot + "; " + probe,
			Detail: res.skipped + ", so it was not compared"}
	case res.err == nil:
		return conformance.Result{Verdict: conformance.Pass,
			Observed: fmt.Sprintf("at start, booted slot %s (%s) was read: %d bytes, SHA-256 matches the checksum RAUC recorded at install; %s", res.slot, res.device, res.size, probe)}
	}
	reaction := "network restricted to alert and update endpoints (Restrict returned nil), then the alert raised"
	if res.restrictErr != nil {
		reaction = "the network restriction FAILED (" + res.restrictErr.Error() + "), the alert raised"
	}
	return conformance.Result{Verdict: conformance.Fail, Observed: fmt.Sprintf("at start, booted slot %s was read and does not match: %s", res.slot, reaction),
		Detail: "the running image is not the one RAUC installed: " + res.err.Error()}
}
