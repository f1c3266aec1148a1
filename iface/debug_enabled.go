//go:build baseline_debug

package iface

import (
	"expvar"
	"net/http"
	"net/http/pprof"
)

// DebugBuild reports whether this binary was built with the baseline_debug
// tag. It is true here: this is a development build, and the 5.6-4
// self-check reports FAIL for it.
const DebugBuild = true

// DebugHandler returns the debug endpoints (pprof under /debug/pprof/,
// expvar under /debug/vars) in builds tagged baseline_debug, and nil in
// release builds. Mount it only when it is non-nil, on a declared,
// authenticated, loopback-only service.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}
