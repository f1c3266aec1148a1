package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/auth"
	"github.com/iotbaseline/baseline/conformance"
	"github.com/iotbaseline/baseline/erase"
	"github.com/iotbaseline/baseline/secrets"
	"github.com/iotbaseline/baseline/update"
)

// resetRig is the plug opened in this process on a state directory, its
// own handler chain served over TLS by httptest. restarted is closed when
// the plug would re-exec itself after a reset; restart() then does what
// the next start does: close everything and open the state directory again.
type resetRig struct {
	t         *testing.T
	dir       string
	opts      options
	d         *device
	label     string
	srv       *httptest.Server
	restarted chan struct{}
	busy      atomic.Bool // the update code's Busy hook
}

func openRig(t *testing.T, dir string, o options) *resetRig {
	t.Helper()
	rg := &resetRig{t: t, dir: dir, opts: o}
	rg.open()
	t.Cleanup(rg.close)
	return rg
}

// launch runs the plug's launcher as main does: the test binary is the
// factory image in its slot.
func (rg *resetRig) launch() *bootInfo {
	rg.t.Helper()
	if err := os.MkdirAll(rg.dir, 0o700); err != nil {
		rg.t.Fatal(err)
	}
	boot, err := launch(context.Background(), rg.dir, slog.New(slog.DiscardHandler))
	if err != nil {
		rg.t.Fatal(err)
	}
	return boot
}

func (rg *resetRig) open() {
	rg.t.Helper()
	o := rg.opts
	o.boot = rg.launch()
	d, label, err := openDevice(context.Background(), rg.dir, o, slog.New(slog.DiscardHandler))
	if err != nil {
		o.boot.ab.Close()
		rg.t.Fatal(err)
	}
	rg.restarted = make(chan struct{})
	restarted := rg.restarted
	d.reset.afterReset = func() { close(restarted) }
	d.reset.updateBusy = rg.busy.Load
	h, err := d.routes()
	if err != nil {
		d.Close()
		rg.t.Fatal(err)
	}
	rg.d, rg.srv = d, httptest.NewTLSServer(d.resetGuard(h))
	if label != "" {
		rg.label = label
	}
}

func (rg *resetRig) close() {
	if rg.srv != nil {
		rg.srv.Close()
		rg.srv = nil
	}
	if rg.d != nil {
		rg.d.Close()
		rg.d = nil
	}
}

// restart waits for the plug's restart after a reset, then starts it again.
func (rg *resetRig) restart() {
	rg.t.Helper()
	select {
	case <-rg.restarted:
	case <-time.After(30 * time.Second):
		rg.t.Fatal("the plug did not restart after the reset")
	}
	rg.close()
	rg.open()
}

// do sends a request with the given bearer token ("" for none) and extra
// header pairs.
func (rg *resetRig) do(method, path, token, ctype, body string, hdr ...string) resp {
	rg.t.Helper()
	req, _ := http.NewRequest(method, rg.srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := rg.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := c.Do(req)
	if err != nil {
		rg.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(b), r.Header}
}

func (rg *resetRig) json(method, path, token string, v any, hdr ...string) resp {
	rg.t.Helper()
	b, _ := json.Marshal(v)
	return rg.do(method, path, token, "application/json", string(b), hdr...)
}

// setup sets the owner up with the label's secret and returns a token.
func (rg *resetRig) setup(secret string) string {
	rg.t.Helper()
	r := rg.json("POST", "/api/setup", "", map[string]string{"setup_secret": secret, "password": ownerPassword})
	if r.code != 200 {
		rg.t.Fatalf("setup with the label's secret = %d %s", r.code, r.body)
	}
	var s sessionResponse
	json.Unmarshal([]byte(r.body), &s)
	return s.Token
}

func (rg *resetRig) login(password string) (string, int) {
	rg.t.Helper()
	r := rg.json("POST", "/api/login", "", map[string]string{"password": password})
	var s sessionResponse
	json.Unmarshal([]byte(r.body), &s)
	return s.Token, r.code
}

// use gives the plug some of the owner's data: a switch state, a queued
// report, a sign-in attempt.
func (rg *resetRig) use(token string) {
	rg.t.Helper()
	if r := rg.json("PUT", "/api/plug", token, map[string]bool{"on": true}); r.code != 200 {
		rg.t.Fatalf("switch on = %d %s", r.code, r.body)
	}
	if _, code := rg.login("not the owner's password, surely"); code != 401 {
		rg.t.Fatalf("wrong password = %d", code)
	}
}

func (rg *resetRig) publicKey() crypto.PublicKey {
	rg.t.Helper()
	id, err := rg.d.store.Identity(context.Background())
	if err != nil {
		rg.t.Fatal(err)
	}
	return id.Public()
}

// assertErased reads the state directory: none of the owner's data is left
// in any store the reset erases, and what it keeps is still there.
func assertErased(t *testing.T, dir string) {
	t.Helper()
	for _, name := range ownerSecrets {
		if _, err := os.Stat(filepath.Join(dir, "secrets", name+".sec")); err == nil {
			t.Errorf("secrets/%s.sec survived the reset", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "plug.json")); err == nil {
		t.Error("plug.json survived the reset")
	}
	for _, sub := range []string{"auth", "outbox"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 0 {
			t.Errorf("%s/ still holds %d files after the reset", sub, len(ents))
		}
	}
	for _, kept := range []string{"secrets/auth.setup-verifier.sec", "secrets/.identity.sec", "secrets/update.root-pin.sec", "identity.json", "reset.journal"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("the reset removed %s, which it must keep: %v", kept, err)
		}
	}
}

// checkReceipt verifies a signed receipt with the device's key, checks that
// it names every store verified empty, and that a tampered copy fails.
func checkReceipt(t *testing.T, signed []byte, pub crypto.PublicKey) *erase.Receipt {
	t.Helper()
	rc, err := erase.VerifyReceipt(signed, pub)
	if err != nil {
		t.Fatalf("the plug's receipt does not verify with its identity key: %v\n%s", err, signed)
	}
	stores := map[string]bool{}
	for _, s := range rc.Stores {
		stores[s.Store] = s.Verified()
	}
	for _, want := range []string{"owner-login", "sign-in-log", "switch-state", "outbox"} {
		if !stores[want] {
			t.Errorf("the receipt does not show %s erased and verified empty: %+v", want, rc.Stores)
		}
	}
	if !rc.Complete() || len(rc.Services) != 0 {
		t.Errorf("receipt complete=%v services=%v; want complete with no service", rc.Complete(), rc.Services)
	}
	tampered := bytes.Replace(signed, []byte(`"verification":"empty"`), []byte(`"verification":"emptY"`), 1)
	if bytes.Equal(tampered, signed) {
		t.Fatal("found nothing to tamper with")
	}
	if _, err := erase.VerifyReceipt(tampered, pub); !errors.Is(err, erase.ErrBadReceipt) {
		t.Errorf("a tampered receipt verified: %v", err)
	}
	other, _ := secrets.Open(context.Background(), secrets.Config{Dir: t.TempDir(), KEK: testKEK(t)})
	otherID, err := other.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := erase.VerifyReceipt(signed, otherID.Public()); !errors.Is(err, erase.ErrBadReceipt) {
		t.Errorf("the receipt verified with another device's key: %v", err)
	}
	return rc
}

func testKEK(t testing.TB) secrets.KEK {
	k, err := secrets.NewSoftKEK(context.Background(), secrets.SoftConfig{Path: filepath.Join(t.TempDir(), "seed")})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// afterReset checks the next start: unprovisioned, the old password
// refused, the label's secret sets the plug up again, and it starts off.
func (rg *resetRig) afterReset(label string) {
	rg.t.Helper()
	if rg.d.owner.setUp() {
		rg.t.Fatal("after the reset and restart the plug still has an owner")
	}
	if r := rg.do("GET", "/api/info", "", "", ""); !strings.Contains(r.body, `"setup_required": true`) {
		rg.t.Errorf("api/info after the reset: %s", r.body)
	}
	if _, code := rg.login(ownerPassword); code == 200 {
		rg.t.Fatal("the old password still logs in after the reset")
	}
	tok := rg.setup(label)
	if r := rg.do("GET", "/api/plug", tok, "", ""); r.code != 200 || !strings.Contains(r.body, `"on": false`) {
		rg.t.Errorf("after reset and new setup the plug reads %d %s; want off", r.code, r.body)
	}
	if _, code := rg.login(ownerPassword); code != 200 {
		rg.t.Errorf("the new owner's password does not log in: %d", code)
	}
}

// A reset through the JSON API on a self-provisioned plug: the receipt is
// signed by the device identity, every store of the owner's data is empty
// on flash, the old owner's password envelope cannot be decrypted any more
// (crypto erase), and after the restart the label's secret sets it up.
func TestResetThroughAPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	rg := openRig(t, dir, options{})
	label := rg.label
	if label == "" {
		t.Fatal("a self-provisioned plug printed no label secret")
	}
	tok := rg.setup(label)
	rg.use(tok)
	oldOwner, err := os.ReadFile(filepath.Join(dir, "secrets", "auth.owner.sec"))
	if err != nil {
		t.Fatal(err)
	}

	r := rg.json("POST", "/api/reset", tok, map[string]string{"confirm": "RESET"})
	if r.code != 200 {
		t.Fatalf("reset = %d %s", r.code, r.body)
	}
	var res resetResponse
	if err := json.Unmarshal([]byte(r.body), &res); err != nil {
		t.Fatal(err)
	}
	rc := checkReceipt(t, []byte(res.SignedReceipt), rg.publicKey())
	if rc.ID != res.ReceiptID || res.Confirmation != rc.Confirmation() || !strings.Contains(res.Confirmation, "All your data was deleted") {
		t.Errorf("the response's confirmation does not match its receipt: %+v", res)
	}
	if !strings.Contains(res.Service, "No associated service is configured") {
		t.Errorf("the response does not say that no associated service was configured: %q", res.Service)
	}
	// Until the restart the plug serves nothing, and the old session is
	// refused by auth itself.
	if r := rg.do("GET", "/api/plug", tok, "", ""); r.code != http.StatusServiceUnavailable {
		t.Errorf("a request between the reset and the restart = %d; want 503", r.code)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := rg.d.owner.svc.SessionFromRequest(req); err == nil {
		t.Error("the old owner's session is still valid after the reset")
	}
	assertErased(t, dir)
	// Crypto erase: the old envelope, put back, cannot be opened.
	os.WriteFile(filepath.Join(dir, "secrets", "auth.owner.sec"), oldOwner, 0o600)
	if _, err := rg.d.store.Get(context.Background(), "auth.owner"); err == nil {
		t.Fatal("the owner's old password envelope still decrypts after the reset")
	}
	os.Remove(filepath.Join(dir, "secrets", "auth.owner.sec"))

	rg.restart()
	if rg.d.reset.resetter.Pending() {
		t.Fatal("a completed reset is pending after the restart")
	}
	if got, err := rg.d.reset.resetter.Receipt(); err != nil || got.ID != rc.ID {
		t.Errorf("the journal's last receipt = %v, %v; want %s", got, err, rc.ID)
	}
	rg.afterReset(label)
}

// The same through the HTML form on a plug provisioned from a factory
// record: the page shows the instructions (what is deleted, what is kept
// and why), then the receipt in words and as signed JSON to download; the
// setup secret of the record's label still works afterwards.
func TestResetThroughFormFactoryRecord(t *testing.T) {
	secret, err := auth.NewSetupSecret()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := secret.Verifier(auth.Params{})
	if err != nil {
		t.Fatal(err)
	}
	rec := auth.ProvisioningRecord{Schema: auth.ProvisioningSchema, Serial: "SP100-000042", Model: "SP-100 Smart Plug",
		DeviceID: strings.Repeat("ab", 16), SetupVerifier: verifier, Created: time.Now().UTC()}
	var b bytes.Buffer
	if err := rec.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	recFile := filepath.Join(t.TempDir(), "record.json")
	os.WriteFile(recFile, b.Bytes(), 0o600)
	dir := filepath.Join(t.TempDir(), "state")
	rg := openRig(t, dir, options{provision: recFile})
	if rg.label != "" {
		t.Fatal("a plug with a factory record printed a setup secret")
	}
	tok := rg.setup(secret.Reveal())
	rg.use(tok)

	page := rg.do("GET", "/reset", tok, "", "")
	for _, want := range []string{"Factory reset: what it does", "your login: password and open sessions",
		"whether the plug is on and when it was last switched", "It keeps:", "the setup secret printed on the label",
		"the firmware&#39;s trust root", "type RESET", `action="/reset"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the reset page does not show %q", want)
		}
	}
	if strings.Contains(page.body, "The last factory reset") {
		t.Error("a plug never reset shows a last reset")
	}
	if r := rg.do("GET", "/", tok, "", ""); !strings.Contains(r.body, `href="/reset"`) {
		t.Error("the owner's pages have no link to the reset page")
	}

	r := rg.do("POST", "/reset", tok, "application/x-www-form-urlencoded", url.Values{"confirm": {"RESET"}}.Encode())
	if r.code != 200 || !strings.Contains(r.body, "The plug was reset to factory settings") {
		t.Fatalf("reset form = %d %s", r.code, r.body)
	}
	m := regexp.MustCompile(`(?s)<textarea id="receipt"[^>]*>(.*?)</textarea>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no signed receipt on the page:\n%s", r.body)
	}
	signed := []byte(html.UnescapeString(m[1]))
	rc := checkReceipt(t, signed, rg.publicKey())
	for _, b := range textBlocks(rc.Confirmation()) {
		for _, x := range append(b.Items, b.Text) {
			if !strings.Contains(html.UnescapeString(r.body), x) {
				t.Errorf("the page does not show the receipt's %q", x)
			}
		}
	}
	if !strings.Contains(r.body, `href="data:application/json;base64,`) || !strings.Contains(r.body, "No associated service is configured") {
		t.Error("the page offers no download of the receipt or does not say that no associated service was configured")
	}
	if sc := r.hdr.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("the reset page does not clear the session cookie: %q", sc)
	}
	assertErased(t, dir)
	rg.restart()
	rg.afterReset(secret.Reveal())
	// The new owner's reset page shows the last reset's receipt, with the
	// services' status as it stands now.
	tok, _ = rg.login(ownerPassword)
	page = rg.do("GET", "/reset", tok, "", "")
	if !strings.Contains(page.body, "The last factory reset") || !strings.Contains(page.body, "Factory reset "+rc.ID+" completed") ||
		!strings.Contains(page.body, `id="last-receipt-download" href="data:application/json;base64,`) {
		t.Errorf("the reset page does not show the last reset's receipt:\n%s", page.body)
	}
}

// A refused reset changes nothing: not logged in, a wrong confirmation (API
// and form), a cross-site form post, and a reset while an update
// installs all leave the state directory byte-identical.
func TestResetRefusedChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	rg := openRig(t, dir, options{})
	tok := rg.setup(rg.label)
	rg.use(tok)
	before := snapshot(t, dir)
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name  string
		r     func() resp
		code  int
		reply string
	}{
		{"api without session", func() resp { return rg.json("POST", "/api/reset", "", map[string]string{"confirm": "RESET"}) }, 401, ""},
		{"form without session", func() resp { return rg.do("POST", "/reset", "", form, "confirm=RESET") }, 401, ""},
		{"api forged session", func() resp {
			return rg.json("POST", "/api/reset", tok[:len(tok)-2]+"xx", map[string]string{"confirm": "RESET"})
		}, 401, ""},
		{"api wrong word", func() resp { return rg.json("POST", "/api/reset", tok, map[string]string{"confirm": "reset"}) }, 400, "nothing was changed"},
		{"api no word", func() resp { return rg.json("POST", "/api/reset", tok, map[string]string{}) }, 400, ""},
		{"form wrong word", func() resp { return rg.do("POST", "/reset", tok, form, "confirm=yes") }, 200, "Nothing was changed"},
		{"form extra field", func() resp { return rg.do("POST", "/reset", tok, form, "confirm=RESET&x=1") }, 200, "unexpected field"},
		{"cross-site form", func() resp {
			return rg.do("POST", "/reset", tok, form, "confirm=RESET", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		}, 403, ""},
		{"cross-site api", func() resp {
			return rg.do("POST", "/api/reset", tok, "application/json", `{"confirm":"RESET"}`, "Origin", "https://evil.example")
		}, 403, ""},
	} {
		r := tc.r()
		if r.code != tc.code || !strings.Contains(r.body, tc.reply) {
			t.Errorf("%s: %d %.200s; want %d with %q", tc.name, r.code, r.body, tc.code, tc.reply)
		}
		sameSnapshot(t, tc.name, before, snapshot(t, dir))
	}

	rg.busy.Store(true)
	if r := rg.json("POST", "/api/reset", tok, map[string]string{"confirm": "RESET"}); r.code != http.StatusConflict || !strings.Contains(r.body, "an update is installing") {
		t.Errorf("reset while an update installs = %d %s; want 409", r.code, r.body)
	}
	if r := rg.do("POST", "/reset", tok, form, "confirm=RESET"); !strings.Contains(r.body, "cannot reset now: an update is installing") {
		t.Errorf("the form does not say why it refused:\n%s", r.body)
	}
	if r := rg.do("GET", "/reset", tok, "", ""); !strings.Contains(r.body, "cannot reset now") {
		t.Error("the reset page does not warn that an update is installing")
	}
	sameSnapshot(t, "while busy", before, snapshot(t, dir))
	select {
	case <-rg.restarted:
		t.Fatal("a refused reset restarted the plug")
	default:
	}
	// Still the same owner, still working.
	if r := rg.do("GET", "/api/plug", tok, "", ""); r.code != 200 || !strings.Contains(r.body, `"on": true`) {
		t.Errorf("after refused resets the plug reads %d %s", r.code, r.body)
	}
}

// TestInstallDuringResetRefused: the other direction of the reset/update
// exclusion. While a factory reset runs, the owner's install request is
// refused with 503 and a reason, and the Scheduler's install (apply) with
// errResetting (the Scheduler reports an Apply error as a CheckFailed
// event and retries: update's TestSchedulerApplyFailureRetries). The
// state directory and the A/B slots are untouched.
func TestInstallDuringResetRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	rg := openRig(t, dir, options{})
	tok := rg.setup(rg.label)
	rg.use(tok)
	before := snapshot(t, dir)
	ab := rg.d.updates.boot.ab.Status()
	rg.d.reset.resetting.Store(true)
	defer rg.d.reset.resetting.Store(false)

	for _, r := range []resp{
		rg.json("POST", "/api/update/install", tok, nil),
		rg.do("POST", "/update/install", tok, "application/x-www-form-urlencoded", ""),
	} {
		if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "resetting to factory settings") {
			t.Errorf("install during a reset = %d %s; want 503 with the reason", r.code, r.body)
		}
	}
	// A request that passed the web layer before the reset began.
	if err := rg.d.updates.installNow(context.Background()); !errors.Is(err, errResetting) {
		t.Errorf("installNow during a reset = %v, want errResetting", err)
	}
	rel := &update.Release{Path: "fw-9.bin", Length: 1, Descriptor: &update.Descriptor{ReleaseCounter: 9}}
	if err := rg.d.updates.apply(context.Background(), rel); !errors.Is(err, errResetting) {
		t.Fatalf("apply during a reset = %v, want errResetting", err)
	}
	if n := rg.d.updates.installing.Load(); n != 0 {
		t.Errorf("apply left the install count at %d", n)
	}
	if st := rg.d.updates.status(); st.LastInstall != errResetting.Error() {
		t.Errorf("update status does not say why: %q", st.LastInstall)
	}
	if got := rg.d.updates.boot.ab.Status(); got.Phase != ab.Phase || got.Slot != ab.Slot || got.Installed.Counter != ab.Installed.Counter {
		t.Errorf("A/B state changed: %+v, was %+v", got, ab)
	}
	sameSnapshot(t, "install during a reset", before, snapshot(t, dir))
}

// TestResetRefusedWhileOneOfTwoInstallsRuns: the Scheduler's install and
// the owner's overlap; the second apply ends at once (here: the demo
// repository's placeholder; on a product, update.ErrBusy). Its end must
// not let a factory reset start while the first still installs.
func TestResetRefusedWhileOneOfTwoInstallsRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	rg := openRig(t, dir, options{})
	tok := rg.setup(rg.label)
	rg.use(tok)
	u := rg.d.updates
	rg.d.reset.updateBusy = u.busy // the plug's own hook, not the rig's stand-in
	u.installing.Add(1)            // the first apply, still downloading
	rel := &update.Release{Path: "fw-9.bin", Length: 1, Descriptor: &update.Descriptor{ReleaseCounter: 9}}
	if err := u.apply(context.Background(), rel); err == nil {
		t.Fatal("the overlapping apply succeeded")
	}
	before := snapshot(t, dir)
	if r := rg.json("POST", "/api/reset", tok, map[string]string{"confirm": "RESET"}); r.code != http.StatusConflict || !strings.Contains(r.body, "an update is installing") {
		t.Fatalf("reset while the first install runs = %d %s; want 409", r.code, r.body)
	}
	sameSnapshot(t, "reset refused", before, snapshot(t, dir))
	u.installing.Add(-1) // the first apply ends
	if n := u.installing.Load(); n != 0 {
		t.Fatalf("install count %d after both ended", n)
	}
}

// A reset cut short (here: one store cannot be erased) stays pending in
// the journal; the next start finishes it before opening anything else.
func TestResetInterruptedFinishesAtNextStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	rg := openRig(t, dir, options{})
	label := rg.label
	tok := rg.setup(label)
	rg.use(tok)
	// plug.json as a non-empty directory: its removal fails.
	os.Remove(filepath.Join(dir, "plug.json"))
	os.MkdirAll(filepath.Join(dir, "plug.json", "x"), 0o700)

	r := rg.json("POST", "/api/reset", tok, map[string]string{"confirm": "RESET"})
	if r.code != 500 || !strings.Contains(r.body, "finishes it before doing anything else") {
		t.Fatalf("a reset with a failing store = %d %s", r.code, r.body)
	}
	if !rg.d.reset.resetter.Pending() {
		t.Fatal("a failed reset is not pending")
	}
	// The next start cannot open the plug's state until the reset is done.
	select {
	case <-rg.restarted:
	case <-time.After(30 * time.Second):
		t.Fatal("the plug did not restart after the failed reset")
	}
	rg.close()
	o := rg.opts
	o.boot = rg.launch()
	defer o.boot.ab.Close()
	if _, _, err := openDevice(context.Background(), dir, o, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "factory reset") {
		t.Fatalf("the plug started with a reset it could not finish: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "plug.json"))
	rg.open()
	if rg.d.reset.resetter.Pending() {
		t.Fatal("the reset is still pending after the next start")
	}
	rc, err := rg.d.reset.resetter.Receipt()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := rg.d.signReceipt(context.Background(), rc)
	if err != nil {
		t.Fatal(err)
	}
	checkReceipt(t, signed, rg.publicKey())
	rg.afterReset(label)
}

func TestTextBlocks(t *testing.T) {
	got := textBlocks("Title\n\nIt deletes:\n  - a (x)\n  - b\n\nIt keeps:\n  - c\nOne line\nand its second.\n")
	want := []textBlock{{Text: "Title"}, {Text: "It deletes:"}, {Items: []string{"a (x)", "b"}}, {Text: "It keeps:"}, {Items: []string{"c"}}, {Text: "One line and its second."}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("textBlocks = %+v\nwant %+v", got, want)
	}
}

// The reset journal is a state entry of its own (privacy_test.go's
// TestDevicePrivacy requires every entry to be declared).
func init() {
	stateDeclarations[resetJournalFile] = struct{ category, reason string }{
		reason: "the factory reset's journal: store and service names, categories, counts, times and random IDs, never the owner's data"}
}

// The plug's reset self-checks pass on the plug as it runs, and the
// receipt check fails when the served certificate is not the identity's.
func TestResetSelfChecks(t *testing.T) {
	rg := openRig(t, filepath.Join(t.TempDir(), "state"), options{})
	ctx := context.Background()
	if err := rg.d.startTLS(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var checks []conformance.Check
	checks = append(checks, rg.d.resetChecks()...)
	checks = append(checks, rg.d.reset.resetter.Checks()...)
	ids := map[string]bool{}
	for _, c := range checks {
		ids[c.ID] = true
		r := c.Run(ctx)
		if r.Verdict != conformance.Pass {
			t.Errorf("%s = %s: %s", c.ID, r.Verdict, r.Detail)
		}
		if c.ID == "smartplug.reset-service" && !strings.Contains(r.Observed, "--cloud not given") {
			// TestCloudResetDeletion sees it pass with a service.
			t.Errorf("%s without a service observed %q", c.ID, r.Observed)
		}
	}
	for _, want := range []string{"erase.factory-reset", "smartplug.reset-instructions", "smartplug.reset-receipt", "smartplug.reset-service"} {
		if !ids[want] {
			t.Errorf("no self-check %s", want)
		}
	}
	other := openRig(t, filepath.Join(t.TempDir(), "other"), options{})
	if err := other.d.startTLS(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	rg.d.web.tlsCert = other.d.web.tlsCert
	for _, c := range rg.d.resetChecks() {
		if c.ID == "smartplug.reset-receipt" {
			if r := c.Run(ctx); r.Verdict != conformance.Fail {
				t.Errorf("with another device's certificate the receipt check says %s", r.Verdict)
			}
		}
	}
}

// With an associated service configured (deleteAtService set), the reset
// registers it, the instructions name it, a deletion request carrying the
// receipt's request ID goes through the hook, and the receipt shows it
// pending until the service's confirmation is recorded.
func TestResetAsksTheServiceToDelete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := secrets.Open(ctx, secrets.Config{Dir: filepath.Join(dir, "secrets"), KEK: testKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	type req struct{ key, topic string }
	var sent []req
	d := &device{dir: dir, log: slog.New(slog.DiscardHandler), store: store}
	d.reset.deleteAtService = erase.OutboxFunc(func(ctx context.Context, key, topic string, payload []byte) error {
		sent = append(sent, req{key, topic})
		return nil
	})
	if err := d.openReset(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.reset.resetter.Close()
	if text := d.resetRegistry().Instructions(); !strings.Contains(text, "Online services") || !strings.Contains(text, "the switch reports, usage figures and consent receipts the plug sent it") {
		t.Errorf("the instructions do not name the associated service:\n%s", text)
	}
	rc, err := d.reset.resetter.Reset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Services) != 1 || rc.Services[0].Service != cloudService || rc.Services[0].Status != erase.Pending {
		t.Fatalf("receipt services = %+v; want the cloud pending", rc.Services)
	}
	if len(sent) != 1 || sent[0].key != rc.Services[0].RequestID {
		t.Fatalf("deletion requests sent = %+v; want one with request ID %s", sent, rc.Services[0].RequestID)
	}
	if rc.Complete() || !strings.Contains(rc.Confirmation(), "waiting for the service to confirm") {
		t.Errorf("a pending deletion is shown as done:\n%s", rc.Confirmation())
	}
	if err := d.reset.resetter.UpdateService(ctx, rc.Services[0].RequestID, erase.Completed, "DEL-123"); err != nil {
		t.Fatal(err)
	}
	rc, _ = d.reset.resetter.Receipt()
	if !rc.Complete() || !strings.Contains(rc.Confirmation(), "reference DEL-123") {
		t.Errorf("after the service's confirmation:\n%s", rc.Confirmation())
	}
}
