// Package durable is the SDK's one way to keep state on flash so that it
// survives power loss: atomic file replacement ([WriteFile]: temp file in the
// same directory, fsync, rename, fsync of the directory), an append-only
// record log framed with length and CRC32C whose torn tail is cut when it is
// opened ([Log]), and a crash-simulating in-memory file system for tests
// ([CrashFS], [CrashTest]) that drops unsynced writes — or keeps them, torn —
// at any chosen write/fsync boundary.
//
// Every state machine of the SDK writes through an [FS] so that its tests can
// crash it at every boundary and check the invariants: a file holds its old
// content or its new content, never a mix; no record that was acknowledged
// is lost.
package durable
