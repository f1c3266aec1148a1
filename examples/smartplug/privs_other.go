//go:build !linux

package main

import "log/slog"

// ensureNoNewPrivs: no_new_privs is a Linux feature.
func ensureNoNewPrivs(log *slog.Logger) {}
