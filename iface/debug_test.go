package iface

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// TestReleaseBuildHasNoDebug: the default build exposes no debug handler
// and links no debug package; the baseline_debug tag is what adds them.
func TestReleaseBuildHasNoDebug(t *testing.T) {
	if DebugBuild {
		t.Skip("built with -tags baseline_debug")
	}
	if DebugHandler() != nil {
		t.Fatal("release build returns a debug handler")
	}
	gobin := testenv.LookPath(t, "go")
	deps := func(tags string) []string {
		args := []string{"list", "-deps"}
		if tags != "" {
			args = append(args, "-tags", tags)
		}
		out, err := exec.Command(gobin, append(args, ".")...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		return strings.Fields(string(out))
	}
	release := deps("")
	for _, p := range []string{"net/http/pprof", "expvar", "runtime/pprof"} {
		if slices.Contains(release, p) {
			t.Errorf("release build links %s", p)
		}
	}
	// Heavy or unrelated dependencies must stay out of iface.
	for _, p := range release {
		for _, banned := range []string{"tink", "go-tuf", "sigstore", "go-tpm", "crypto11", "circl"} {
			if strings.Contains(p, banned) {
				t.Errorf("iface links %s", p)
			}
		}
	}
	if !slices.Contains(deps("baseline_debug"), "net/http/pprof") {
		t.Error("baseline_debug build does not link pprof: the tag has no effect")
	}
}
