//go:build !baseline_debug

package iface

import "net/http"

// DebugBuild reports whether this binary was built with the baseline_debug
// tag. In the default (release) build it is false, [DebugHandler] returns
// nil and no debug code (net/http/pprof, expvar) is linked at all.
const DebugBuild = false

// DebugHandler returns the debug endpoints (pprof, expvar) in builds
// tagged baseline_debug, and nil in release builds. Mount it only when it
// is non-nil, on a declared, authenticated, loopback-only service.
func DebugHandler() http.Handler { return nil }
