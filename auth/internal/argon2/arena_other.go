//go:build !unix

package argon2

// allocBlocks allocates n blocks on the Go heap.
func allocBlocks(n uint32) ([]block, func()) { return make([]block, n), nil }
