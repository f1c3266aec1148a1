//go:build !linux

package main

// oDirect is zero where O_DIRECT is not available.
const oDirect = 0

// directFloor reports false: the O_DIRECT disk floor is Linux only.
func directFloor(int64, int) bool { return false }
