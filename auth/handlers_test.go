package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// post sends body verbatim to path and returns the status and whether a
// session cookie was set.
func (w *web) post(path, body string) (int, bool) {
	w.t.Helper()
	req, _ := http.NewRequest("POST", w.srv.URL+path, strings.NewReader(body))
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == CookieName && c.Value != "" {
			return resp.StatusCode, true
		}
	}
	return resp.StatusCode, false
}

// TestHandlersRefuseTrailingData: a request body is one JSON value and
// nothing else. A body with the right credentials followed by a stray '}'
// or ']' (which json.Decoder.More does not see) or by a second value is
// refused before anything is checked: no session, no setup, no throttle
// charge. The same credentials without the tail then work.
func TestHandlersRefuseTrailingData(t *testing.T) {
	tails := map[string]string{"brace": "}", "bracket": "]", "second value": `{}`, "garbage": "x"}

	t.Run("setup", func(t *testing.T) {
		w := newWeb(t)
		w.provision()
		b, _ := json.Marshal(map[string]string{"setup_secret": w.secret.Reveal(), "account": ownerAcct, "new_password": ownerPW})
		for name, tail := range tails {
			if code, cookie := w.post("/api/setup", string(b)+tail); code != http.StatusBadRequest || cookie {
				t.Errorf("%s: status %d, cookie %v; want 400 without a session", name, code, cookie)
			}
			if st := w.s.State(); st != AwaitingSetup {
				t.Fatalf("%s: state %v after a refused request; want AwaitingSetup", name, st)
			}
		}
		if code, cookie := w.post("/api/setup", string(b)+" \n"); code != http.StatusCreated || !cookie {
			t.Fatalf("setup with trailing white space only: %d, cookie %v", code, cookie)
		}
	})

	t.Run("login", func(t *testing.T) {
		w := newWeb(t)
		w.setUp()
		before, _ := w.s.thr.sourceState("127.0.0.1")
		b, _ := json.Marshal(map[string]string{"account": ownerAcct, "password": ownerPW})
		for name, tail := range tails {
			if code, cookie := w.post("/api/login", string(b)+tail); code != http.StatusBadRequest || cookie {
				t.Errorf("%s: status %d, cookie %v; want 400 without a session", name, code, cookie)
			}
		}
		if after, _ := w.s.thr.sourceState("127.0.0.1"); after != before {
			t.Error("refused requests were charged as attempts")
		}
		if code, cookie := w.post("/api/login", string(b)); code != http.StatusOK || !cookie {
			t.Fatalf("login: %d, cookie %v", code, cookie)
		}
	})
}
