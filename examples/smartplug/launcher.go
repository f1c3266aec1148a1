package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/iotbaseline/baseline/update"
)

// The plug's firmware image is its own executable. Two slot files under
// state/slots hold the committed image and the next one; update.FileAB's
// journal there is the boot pointer. The launcher below is the plug's
// "bootloader": it runs first in every start, asks FileAB.Boot which slot
// to start, and re-executes that slot's image in the same process
// (syscall.Exec: one process, so memory is not doubled). A restart after an
// install ("reboot") is the same: the running firmware shuts down and
// executes the committed slot's image, whose launcher then calls Boot again.
//
// The rules, in the order the launcher applies them:
//
//  1. Started by the launcher (bootSlotEnv set): run. Boot was called (and
//     read the slot through SHA-256) just before; the running executable
//     must be the named slot's file, else the plug refuses to start (so a
//     bad environment cannot make it loop).
//  2. Started by hand (or by a reboot): hash the running executable. If it
//     is none of the images the journal knows (committed, pending, rejected)
//     and its release counter is not below the committed one, it is a
//     factory flash — the very first start, or a developer's fresh `go run`
//     build — and FileAB.Flash records it as the committed image (logged).
//     A build with a lower counter is never recorded: the plug starts the
//     committed image instead (anti-rollback), and says so.
//  3. FileAB.Boot names the slot (counting a trial boot, or rolling back
//     after too many). If that slot's image is the running executable, the
//     plug runs in this process; otherwise it executes the slot.

// bootSlotEnv names the slot the launcher started; it is removed from the
// environment at once, so nothing the plug starts inherits it.
const bootSlotEnv = "SMARTPLUG_BOOTED_SLOT"

// maxTrialBoots is how many starts a new image gets to commit itself.
const maxTrialBoots = 3

// releaseCounter is the release counter of this build (anti-rollback): a
// release must carry a greater one to be installed. A maker sets it with
// the version: -ldflags "-X main.version=1.1.0 -X main.releaseCounter=2".
var releaseCounter = "1"

// installedCounter is releaseCounter as a number.
var installedCounter = func() uint64 {
	n, err := strconv.ParseUint(releaseCounter, 10, 64)
	if err != nil || n == 0 {
		panic("smartplug: main.releaseCounter must be a positive integer, set with -ldflags -X")
	}
	return n
}()

// bootInfo is what the launcher hands to the running firmware.
type bootInfo struct {
	ab     *update.FileAB
	events chan update.Event // the installer's events
	slots  [2]string         // slot-a, slot-b paths
	slot   string            // the slot this image runs from ("" when run from elsewhere)
	trial  bool              // on trial: health check, then commit or roll back
	self   update.Image      // this executable
}

func (b *bootInfo) slotPath(s string) string {
	if s == "b" {
		return b.slots[1]
	}
	return b.slots[0]
}

// launch runs the launcher: it returns when this process is to run the
// plug, or executes another slot's image (and does not return).
func launch(ctx context.Context, dir string, log *slog.Logger) (*bootInfo, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	slotsDir := filepath.Join(dir, "slots")
	b := &bootInfo{events: make(chan update.Event, 64),
		slots: [2]string{filepath.Join(slotsDir, "slot-a"), filepath.Join(slotsDir, "slot-b")}}
	if err := prepareSlots(slotsDir, b.slots); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	open := func() error {
		b.ab, err = update.NewFileAB(update.FileABConfig{
			Dir: slotsDir, SlotA: b.slots[0], SlotB: b.slots[1], MaxAttempts: maxTrialBoots,
			// Until the first start records this build with Flash, the
			// journal's factory state is an empty slot a with counter 0.
			Factory:    update.Image{},
			VerifyBoot: true, Notify: b.events, Logger: log,
		})
		return err
	}
	if err := open(); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}

	if slot, ok := os.LookupEnv(bootSlotEnv); ok {
		// The launcher that executed this image called Boot, which read
		// the slot through SHA-256 (VerifyBoot) just before: this process
		// must be that slot's file, and the slot the one Boot named.
		os.Unsetenv(bootSlotEnv)
		st := b.ab.Status()
		var want *update.Image
		switch {
		case slot == st.Slot:
			want = &st.Installed
		case st.Phase == update.PhaseTrial && (slot == "a" || slot == "b"):
			want, b.trial = st.Pending, true
		}
		if want == nil || !sameFile(exe, b.slotPath(slot)) {
			b.ab.Close()
			return nil, fmt.Errorf("launcher: started as slot %q, but this image is not that slot's: refusing to start", slot)
		}
		b.slot, b.self = slot, *want
		return b, nil
	}

	// Started by hand, or by a restart: identify this image by its hash.
	if b.self, err = imageOf(exe); err != nil {
		b.ab.Close()
		return nil, fmt.Errorf("launcher: reading the running image: %w", err)
	}
	self := b.self

	flashIfNew(ctx, b, exe, log)
	for tries := 0; ; tries++ {
		d, err := b.ab.Boot(ctx)
		if errors.Is(err, update.ErrImageCorrupt) {
			// The committed slot no longer holds the image installed
			// there (5.7-1). There is no other image to start: run this
			// one, and let the firmware's own start-up check
			// (verifyRunningImage) restrict the network and raise the
			// alert (5.7-2) instead of silently refusing to start.
			log.Error("launcher: the committed slot's image does not match the installed one; starting restricted", "err", err)
			b.slot = b.ab.Status().Slot
			return b, nil
		}
		if err != nil {
			b.ab.Close()
			return nil, fmt.Errorf("launcher: %w", err)
		}
		if d.RolledBack != nil {
			log.Warn("launcher: the new image was rolled back", "version", d.RolledBack.Image.Version, "reason", d.RolledBack.Reason)
		}
		if bytes.Equal(d.Image.SHA256, self.SHA256) {
			b.slot, b.trial = d.Slot, d.Trial
			return b, nil
		}
		log.Info("launcher: starting slot", "slot", d.Slot, "version", d.Image.Version, "trial", d.Trial, "attempt", d.Attempt)
		b.ab.Close()
		err = execImage(d.Path, os.Args[1:], map[string]string{bootSlotEnv: d.Slot})
		// Still here: the image could not be started at all.
		if oerr := open(); oerr != nil {
			return nil, fmt.Errorf("launcher: %w (after: %v)", oerr, err)
		}
		if !d.Trial || tries > 0 {
			b.ab.Close()
			return nil, fmt.Errorf("launcher: starting slot %s: %w", d.Slot, err)
		}
		log.Error("launcher: the new image cannot be started; rolling back", "version", d.Image.Version, "err", err)
		if rerr := b.ab.Rollback(ctx, "the image could not be started: "+err.Error()); rerr != nil {
			b.ab.Close()
			return nil, fmt.Errorf("launcher: %w", rerr)
		}
	}
}

// flashIfNew applies rule 2: a build started by hand that the journal does
// not know, and whose counter is not below the committed one, is recorded
// as the committed image.
func flashIfNew(ctx context.Context, b *bootInfo, exe string, log *slog.Logger) {
	st := b.ab.Status()
	known := bytes.Equal(st.Installed.SHA256, b.self.SHA256) || (st.Pending != nil && bytes.Equal(st.Pending.SHA256, b.self.SHA256))
	for _, r := range st.Rejected {
		known = known || bytes.Equal(r.Image.SHA256, b.self.SHA256)
	}
	switch {
	case known:
		return
	case b.self.Counter < st.Installed.Counter:
		log.Warn("launcher: this build is older than the committed image and is not recorded (anti-rollback); starting the committed image",
			"build", b.self.Version, "build_counter", b.self.Counter, "committed", st.Installed.Version, "committed_counter", st.Installed.Counter)
		return
	case st.Phase == update.PhasePendingReboot || st.Phase == update.PhaseTrial:
		log.Warn("launcher: a release awaits its trial; this build is not recorded until it is committed or rolled back",
			"build", b.self.Version, "pending", st.Pending.Version)
		return
	}
	f, err := os.Open(exe)
	if err == nil {
		err = b.ab.Flash(ctx, b.self, f)
		f.Close()
	}
	if err != nil {
		log.Error("launcher: recording this build as the committed image failed; starting the committed image", "err", err)
		return
	}
	if st.Installed.SHA256 == nil {
		log.Info("launcher: first start: this build is recorded as the factory image", "version", b.self.Version, "counter", b.self.Counter)
	} else {
		log.Info("launcher: this build differs from the committed image and is not older: recorded as a factory re-flash",
			"version", b.self.Version, "counter", b.self.Counter, "previous", st.Installed.Version)
	}
}

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// imageOf describes the executable at path as this build: its length and
// SHA-256, with the build's version and release counter.
func imageOf(path string) (update.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return update.Image{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return update.Image{}, err
	}
	return update.Image{Version: version, Counter: installedCounter, Length: n, SHA256: h.Sum(nil)}, nil
}

// prepareSlots creates the slot directory and both slot files, executable
// by the plug's account only: FileAB keeps a file's mode when it rewrites
// it, so a slot stays startable.
func prepareSlots(dir string, slots [2]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, s := range slots {
		f, err := os.OpenFile(s, os.O_RDONLY|os.O_CREATE, 0o700)
		if err != nil {
			return err
		}
		f.Close()
		if err := os.Chmod(s, 0o700); err != nil {
			return err
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// execImage replaces this process with the image at path, run with args
// and the environment plus set (minus bootSlotEnv unless set names it). It
// returns only on failure.
func execImage(path string, args []string, set map[string]string) error {
	env := make([]string, 0, len(os.Environ())+len(set))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, bootSlotEnv+"=") {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return syscall.Exec(path, append([]string{path}, args...), env)
}

// errReboot is the cause with which the running firmware ends its serving
// context to restart into the committed slot (after an install, or after a
// rollback).
type errReboot struct {
	reason string
	path   string // the committed slot's image
	listen string // the address the plug served on
}

func (e *errReboot) Error() string { return "restarting: " + e.reason }

// reboot executes the committed slot's image with the plug's arguments,
// keeping the address it was serving on (so a page open in the browser
// finds the plug again). Its launcher calls Boot, which starts the new image
// on trial, or the committed one after a rollback.
func reboot(r *errReboot) error {
	args := withoutFlag(os.Args[1:], "listen")
	if r.listen != "" {
		args = append(args, "--listen", r.listen)
	}
	return execImage(r.path, args, nil)
}

// withoutFlag drops every occurrence of the flag name (-name, --name, with
// "=value" or a separate value) from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		n := strings.TrimLeft(a, "-")
		if a == n || len(a)-len(n) > 2 {
			out = append(out, a)
			continue
		}
		if n == name {
			i++ // the value follows
			continue
		}
		if strings.HasPrefix(n, name+"=") {
			continue
		}
		out = append(out, a)
	}
	return out
}
