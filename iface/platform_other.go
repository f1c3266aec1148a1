//go:build !linux

package iface

// defaultProcRoot is empty: there is no Linux /proc here, so the socket
// audit, debug probe and privilege check report errors.ErrUnsupported
// unless a test supplies a fixture root.
const defaultProcRoot = ""
