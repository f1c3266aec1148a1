package iface

import (
	"errors"
	"fmt"
)

// errUnsupportedPlatform wraps errors.ErrUnsupported for the Linux-only
// audits (/proc, prctl, setuid) on other systems.
var errUnsupportedPlatform = fmt.Errorf("iface: needs Linux /proc: %w", errors.ErrUnsupported)
