package rauc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/update"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Checks returns the adapter's self-checks, all [conformance.Measured]:
//
//   - update.rauc-boot (5.3-2): runs `rauc status --output-format=json`
//     against the running rauc service and reads what the bootloader
//     reports through it. PASS when rauc answers, names a booted slot, and
//     the bootloader marks that slot good; FAIL when rauc does not answer,
//     its output does not decode, no slot is booted, or the booted slot is
//     marked bad (it will not be started again) or its mark is unknown.
//     It changes nothing. A pending install (the primary slot is not the
//     booted one) is reported in Observed.
//   - update.rauc-install-gate (5.3-2, 5.3-9): probes the gates Install
//     and Begin apply, writing nothing and running no rauc command: a nil
//     and a zero *update.Verified must be refused as unverified; a release
//     with [System.InstalledCounter]'s counter must be refused as a
//     rollback (when nothing was committed through the adapter and
//     Config.InstalledCounter is not set, the check is INCONCLUSIVE: the
//     adapter then refuses no older release); when releases failed their
//     trial here, the newest of them must be refused. RAUC's own signature check
//     of the bundle is not probed here (that would need a bundle signed by
//     an untrusted key on the device); the package tests do it.
//   - update.boot-integrity (5.7-1, 5.7-2): what [System.VerifyRunning]
//     found when it read the booted slot at start: PASS when it matched
//     the checksum RAUC recorded, FAIL when it did not (and whether the
//     network restriction took effect), INCONCLUSIVE before VerifyRunning
//     ran, for a slot RAUC did not install, or for a slot type other than
//     raw. Each run first probes the comparison with a small sample
//     (changed bytes, one byte short must be refused). It runs no rauc
//     command and reads no slot.
func (s *System) Checks() []conformance.Check {
	return []conformance.Check{
		{ID: "update.rauc-boot", Method: conformance.Measured, Provisions: []string{"5.3-2"},
			Title: "RAUC answers and the bootloader marks the booted slot good", Run: s.checkBoot},
		{ID: "update.rauc-install-gate", Method: conformance.Measured, Provisions: []string{"5.3-2", "5.3-9"},
			Title: "Only an image that update verified reaches rauc install, never an older release", Run: s.checkGate},
		s.bootCheck(),
	}
}

func (s *System) checkBoot(ctx context.Context) conformance.Result {
	st, err := s.Status(ctx)
	if err != nil {
		return conformance.Result{Verdict: conformance.Fail, Detail: "rauc status: " + err.Error()}
	}
	b := st.BootedSlot()
	if b == nil {
		return conformance.Result{Verdict: conformance.Fail, Observed: fmt.Sprintf("booted %q, no slot in state booted", st.Booted),
			Detail: "rauc cannot tell which slot runs, so it cannot mark it good or install into the other one"}
	}
	obs := fmt.Sprintf("booted slot %s (bootname %s) boot status %q, primary %s", b.Name, b.Bootname, b.BootStatus, st.Primary)
	if st.PendingReboot() {
		obs += "; an install awaits the restart"
	}
	switch b.BootStatus {
	case "good":
		return conformance.Result{Verdict: conformance.Pass, Observed: obs}
	case "bad":
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the running slot is marked bad: the bootloader will not start it again"}
	default:
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: "the bootloader gives no good/bad mark for the running slot"}
	}
}

func (s *System) checkGate(ctx context.Context) conformance.Result {
	if err := ctx.Err(); err != nil {
		return conformance.Result{Verdict: conformance.NotRun, Detail: err.Error()}
	}
	var bad []string
	for name, v := range map[string]*update.Verified{"nil image": nil, "unverified image": {}} {
		if err := accept(v); !errors.Is(err, update.ErrUnverified) {
			bad = append(bad, name+" accepted for install")
		}
	}
	obs := "unverified image refused by Install's gate"
	floor := s.cfg.InstalledCounter != nil || s.state().Installed != nil
	if floor {
		inst := s.InstalledCounter()
		r := &update.Release{Path: "probe", Descriptor: &update.Descriptor{ReleaseCounter: inst}}
		if err := s.gate(r); !errors.Is(err, update.ErrRollback) {
			bad = append(bad, fmt.Sprintf("release with the installed counter %d admitted", inst))
		}
		obs += fmt.Sprintf("; release counter %d (installed) refused by Begin", inst)
	} else {
		obs += "; nothing committed through the adapter and no installed counter configured, so the adapter refuses no older release"
	}
	if rj := s.state().Rejected; len(rj) > 0 {
		last := rj[len(rj)-1].Release
		im := last.image()
		r := &update.Release{Path: last.Path, Length: last.Length, Hashes: metadata.Hashes{"sha256": im.SHA256},
			Descriptor: &update.Descriptor{ReleaseCounter: last.Counter}}
		if err := s.gate(r); !errors.Is(err, update.ErrRejected) && !errors.Is(err, update.ErrRollback) {
			bad = append(bad, fmt.Sprintf("release %s, which failed its trial here, admitted", last.Path))
		}
		obs += fmt.Sprintf("; release %s (failed its trial here, %d remembered) refused by Begin", last.Path, len(rj))
	}
	if len(bad) > 0 {
		return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: strings.Join(bad, "; ")}
	}
	if !floor {
		return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
			Detail: "no release has been committed through the adapter and Config.InstalledCounter is not set: nothing refuses a release older than the factory image; set Config.InstalledCounter to the factory image's release counter"}
	}
	return conformance.Result{Verdict: conformance.Pass, Observed: obs}
}
