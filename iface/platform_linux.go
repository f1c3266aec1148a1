//go:build linux

package iface

// defaultProcRoot is where the kernel's process and socket tables are.
const defaultProcRoot = "/proc"
