package main

import "syscall"

// oDirect opens a file for writes that bypass the page cache.
const oDirect = syscall.O_DIRECT

// directFloor reports whether the O_DIRECT disk floor can be measured for
// an image of size bytes written in chunk-sized pieces: every write must be
// a whole number of 4 KiB blocks.
func directFloor(size int64, chunk int) bool { return size%4096 == 0 && chunk%4096 == 0 }
