package update

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Apply installs r through [Config.Installer]: Begin prepares the inactive
// slot, [Client.Download] writes the verified image into it (resuming an
// interrupted transfer), and Install activates the [*Verified] for a trial
// boot. When Apply returns nil the release is installed and boots on trial at
// the next restart; the device restarts when it suits the user (5.3-12), and
// the new firmware commits after its health check (for [FileAB]:
// [FileAB.Boot] in the launcher, then [FileAB.Commit] or [FileAB.Rollback]).
//
// Only one Apply runs at a time; a second one returns ErrBusy at once. On
// error nothing was activated: the committed image stays in force, and a
// later Apply of the same release resumes the download.
func (c *Client) Apply(ctx context.Context, r *Release) error {
	inst := c.cfg.Installer
	if inst == nil {
		return fmt.Errorf("%w: Apply needs Config.Installer", ErrConfig)
	}
	if r == nil {
		return errors.New("update: Apply needs a release")
	}
	if !c.applying.CompareAndSwap(false, true) {
		return ErrBusy
	}
	defer c.applying.Store(false)
	slot, err := inst.Begin(ctx, r)
	if err != nil {
		return err
	}
	if cl, ok := slot.(io.Closer); ok {
		defer cl.Close()
	}
	v, err := c.Download(ctx, r, slot)
	if err != nil {
		return err
	}
	return inst.Install(ctx, v)
}

// rejected reports whether the installer remembers r as failed on this
// device (optional: installers implementing Rejected(*Release) bool).
func (c *Client) rejected(r *Release) bool {
	rj, ok := c.cfg.Installer.(interface{ Rejected(*Release) bool })
	if !ok || !rj.Rejected(r) {
		return false
	}
	c.f.log.Info("update: not offering a release that failed its trial on this device", "path", r.Path)
	return true
}
