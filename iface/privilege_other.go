//go:build !linux

package iface

// SetNoNewPrivs is Linux-only; here it returns an error wrapping
// errors.ErrUnsupported.
func SetNoNewPrivs() error { return errUnsupportedPlatform }

// DropPrivileges is Linux-only; here it returns an error wrapping
// errors.ErrUnsupported.
func DropPrivileges(uid, gid int) error { return errUnsupportedPlatform }
