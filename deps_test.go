package baseline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/internal/testenv"
)

// The SDK's top-level packages. Each may import conformance, durable and internal/...,
// its own subpackages, and nothing else of the module.
var topLevel = []string{"auth", "secrets", "update", "iface", "resilience", "privacy", "erase"}

var heavy = map[string]string{
	"github.com/sigstore/sigstore":         "sigstore",
	"github.com/theupdateframework/go-tuf": "TUF",
	"github.com/tink-crypto/tink-go":       "Tink",
	"github.com/google/go-tpm":             "go-tpm",
	"github.com/ThalesGroup/crypto11":      "crypto11",
	"github.com/miekg/pkcs11":              "pkcs11",
	"github.com/eclipse/paho.mqtt.golang":  "paho",
}

// allowedHeavy lists, per package, the heavy dependencies it may link.
var allowedHeavy = map[string][]string{
	"secrets": {"Tink"},
	"update":  {"TUF", "sigstore"},
}

const module = "github.com/iotbaseline/baseline"

func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "./"+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./%s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// TestDependencyRules enforces ARCHITECTURE.md's rules 1 and 2: packages
// never import each other, and heavy dependencies stay where they are used.
func TestDependencyRules(t *testing.T) {
	testenv.LookPath(t, "go")
	for _, p := range append([]string{"conformance", "conformance/securitytxt"}, topLevel...) {
		if _, err := os.Stat(filepath.Join(p, "doc.go")); err != nil {
			continue // not built yet: a package appears when it has code
		}
		t.Run(p, func(t *testing.T) {
			allowed := map[string]bool{}
			for _, h := range allowedHeavy[p] {
				allowed[h] = true
			}
			for _, dep := range goListDeps(t, p) {
				for prefix, name := range heavy {
					if strings.HasPrefix(dep, prefix) && !allowed[name] {
						t.Errorf("%s links %s (%s)", p, name, dep)
					}
				}
				// conformance and its subpackages are the leaf every package
				// may import: the standard library and each other only.
				if (p == "conformance" || strings.HasPrefix(p, "conformance/")) &&
					dep != module+"/conformance" && !strings.HasPrefix(dep, module+"/conformance/") &&
					!strings.HasPrefix(dep, module+"/internal/") &&
					strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") {
					t.Errorf("%s must use only the standard library, links %s", p, dep)
				}
				if dep == "text/template" {
					t.Errorf("%s links text/template: its run-time method lookup keeps the linker from dropping unused methods in the whole firmware (write pages with internal/htmlw)", p)
				}
				if !strings.HasPrefix(dep, module+"/") {
					continue
				}
				rel := strings.TrimPrefix(dep, module+"/")
				top := strings.SplitN(rel, "/", 2)[0]
				if top != p && top != "conformance" && top != "durable" && top != "internal" {
					t.Errorf("%s imports %s: packages meet in the device's main, not in each other", p, dep)
				}
			}
		})
	}
}

// TestMQTTClientOnlyInItsSubpackage: the MQTT client is linked by
// resilience/mqtt alone (a device opts in by importing it), and that
// package imports nothing of the module but resilience, conformance,
// durable and internal/....
func TestMQTTClientOnlyInItsSubpackage(t *testing.T) {
	testenv.LookPath(t, "go")
	const paho = "github.com/eclipse/paho.mqtt.golang"
	for _, dep := range goListDeps(t, "resilience") {
		if strings.HasPrefix(dep, paho) {
			t.Errorf("resilience links the MQTT client (%s)", dep)
		}
	}
	linked := false
	for _, dep := range goListDeps(t, "resilience/mqtt") {
		if dep == paho {
			linked = true
		}
		for prefix, name := range heavy {
			if strings.HasPrefix(dep, prefix) && name != "paho" {
				t.Errorf("resilience/mqtt links %s (%s)", name, dep)
			}
		}
		if rel, ok := strings.CutPrefix(dep, module+"/"); ok {
			top := strings.SplitN(rel, "/", 2)[0]
			if top != "resilience" && top != "conformance" && top != "durable" && top != "internal" {
				t.Errorf("resilience/mqtt imports %s: packages meet in the device's main, not in each other", dep)
			}
		}
	}
	if !linked {
		t.Errorf("resilience/mqtt does not link %s", paho)
	}
}

// TestReferenceDeviceLinksNoTemplates: the product build of the reference
// device links neither text/template nor html/template (see
// TestDependencyRules for why); its pages are written by Go code. Nor does it
// link Tink's aead package, whose init registers every AEAD key type: the
// secrets store needs only AES-GCM (see secrets/keysetaead.go).
func TestReferenceDeviceLinksNoTemplates(t *testing.T) {
	testenv.LookPath(t, "go")
	out, err := exec.Command("go", "list", "-deps", "-tags", "nodemo", "./examples/smartplug").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "text/template" || dep == "html/template" || dep == "github.com/tink-crypto/tink-go/v2/aead" {
			t.Errorf("examples/smartplug (-tags nodemo) links %s", dep)
		}
	}
}
