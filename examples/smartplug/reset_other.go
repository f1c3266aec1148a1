//go:build !unix

package main

import (
	"log/slog"
	"os"
)

// reexec ends the plug after a factory reset where it cannot replace
// itself: the next start opens every store empty.
func reexec(log *slog.Logger) {
	log.Info("factory reset done; start the plug again to set it up")
	os.Exit(0)
}
