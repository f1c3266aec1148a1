package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/conformance"
)

// mapVault stands in for secrets.Store.
type mapVault struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (v *mapVault) Get(_ context.Context, name string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, ok := v.m[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

func (v *mapVault) Put(_ context.Context, name string, b []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.m[name] = b
	return nil
}

// The factory makes a setup secret for the label and a verifier for the
// device; the owner sets a password with the secret; logins are throttled.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "auth-example")
	defer os.RemoveAll(dir)

	// Factory.
	secret, _ := auth.NewSetupSecret()
	verifier, _ := secret.Verifier(auth.Params{})
	fmt.Println("printed:", strings.Contains(fmt.Sprint(secret), secret.Reveal())) // never prints the secret itself

	// Device.
	svc, err := auth.New(ctx, auth.Config{Vault: &mapVault{m: map[string][]byte{}}, StateDir: dir})
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	fmt.Println(svc.State())
	svc.Provision(ctx, verifier)
	_, err = svc.Authenticate(ctx, auth.Attempt{Source: "192.0.2.1:50000", Account: "admin", Password: "admin"})
	fmt.Println(errors.Is(err, auth.ErrNotProvisioned))

	// Owner, typing the label.
	ses, err := svc.Setup(ctx, auth.SetupRequest{Source: "192.0.2.1:50000", SetupSecret: auth.Password(secret.Reveal()), Account: "owner", NewPassword: "a long river of green teacups"})
	fmt.Println(svc.State(), ses.Account, err)

	// An attacker guessing.
	for range 6 {
		_, err = svc.Authenticate(ctx, auth.Attempt{Source: "203.0.113.9:4444", Account: "owner", Password: "guess"})
	}
	var th auth.ErrThrottled
	fmt.Println(errors.As(err, &th), th.Limit)
	// Output:
	// printed: false
	// unprovisioned
	// true
	// ready owner <nil>
	// true source
}

// Every route is added with its rule. The gate serves what the rule admits
// and refuses the rest (before setup, only public and setup-flow routes);
// its self-check sends refused requests to every non-public route.
func ExampleGate() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "auth-example")
	defer os.RemoveAll(dir)
	svc, _ := auth.New(ctx, auth.Config{Vault: &mapVault{m: map[string][]byte{}}, StateDir: dir})
	defer svc.Close()

	gate := auth.NewGate(svc)
	gate.Handle("GET /model", auth.Public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "SP-100")
	}))
	gate.Handle("POST /api/wifi", auth.RequireFresh("admin"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("not reached without a fresh admin session")
	}))
	for _, req := range []*http.Request{httptest.NewRequest("GET", "/model", nil), httptest.NewRequest("POST", "/api/wifi", nil)} {
		rec := httptest.NewRecorder()
		gate.ServeHTTP(rec, req)
		fmt.Println(req.Method, req.URL.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	for _, r := range conformance.RunChecks(ctx, gate) {
		fmt.Println(r.ID, r.Verdict)
	}
	// Output:
	// GET /model 200 SP-100
	// POST /api/wifi 403 setup required
	// auth.routes-declared PASS
}

func ExampleParseSetupSecret() {
	_, err := auth.ParseSetupSecret("7K3Q-M9XD-2WRT-F8NB-0")
	fmt.Println(err)
	// Output: auth: malformed setup secret
}

// The factory side (what `baseline provision` does per device): the label
// text goes to the printer stream, only the verifier to the device.
func ExampleNewSetupSecret() {
	secret, err := auth.NewSetupSecret()
	if err != nil {
		panic(err)
	}
	verifier, err := secret.Verifier(auth.Params{}) // floor parameters
	if err != nil {
		panic(err)
	}
	label := secret.Reveal() // e.g. "7K3Q-M9XD-2WRT-F8NB-P"
	fmt.Println(len(label), strings.HasPrefix(verifier, "$argon2id$v=19$m=19456,t=2,p=1$"), secret.Matches(verifier))
	fmt.Println(strings.Contains(fmt.Sprintf("%v %+v %#v", secret, secret, secret), label)) // a SetupSecret never prints itself
	// Output:
	// 21 true true
	// false
}
