//go:build baseline_debug

package iface

import (
	"net/http/httptest"
	"testing"
)

func TestDebugBuildServesPprof(t *testing.T) {
	h := DebugHandler()
	if h == nil || !DebugBuild {
		t.Fatal("debug build without debug handler")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != 200 {
		t.Errorf("pprof index: %d", rec.Code)
	}
}
