package update

// Events of the installer, sent to [FileABConfig.Notify] (and by the RAUC
// adapter, update/rauc, to its Config.Notify) for the device's UI. Together with [Release.Events] (available, security update,
// disruption) they cover an update from announcement to commit or rollback.

// Downloading reports progress: Done of Total bytes of the image are in the
// slot Begin handed out (Client.Download writes a chunk there only after it
// matched its signed hash).
type Downloading struct {
	Path        string
	Done, Total int64
}

// Installed reports an image installed into Slot, pending the restart that
// boots it on trial; Reboot repeats the descriptor's announcement that the
// install restarts the device (5.3-12).
type Installed struct {
	Image  Image
	Slot   string
	Reboot bool
}

// TrialBoot reports that Boot is starting the new image on trial, the
// Attempt-th time of at most MaxAttempts.
type TrialBoot struct {
	Image       Image
	Attempt     int
	MaxAttempts int
}

// Committed reports that the image on trial passed its health check and is
// now the installed one; the installed release counter is its Counter.
type Committed struct {
	Image Image
}

// RolledBack reports that the image on trial was abandoned and the device
// returns to the committed image; the release will not be installed again.
// Automatic is set when Boot rolled back by itself.
type RolledBack struct {
	Image     Image
	Reason    string
	Automatic bool
}

func (Downloading) isEvent() {}
func (Installed) isEvent()   {}
func (TrialBoot) isEvent()   {}
func (Committed) isEvent()   {}
func (RolledBack) isEvent()  {}
