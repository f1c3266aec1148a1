//go:build !linux

package main

import (
	"errors"
	"log/slog"
)

// ensureNoNewPrivs: no_new_privs is a Linux feature.
func ensureNoNewPrivs(log *slog.Logger) {}

// dropToUser: the privilege drop is implemented for Linux only.
func dropToUser(name, stateDir string, log *slog.Logger) error {
	if name == "" {
		return nil
	}
	return errors.New("--user is supported on Linux only")
}
