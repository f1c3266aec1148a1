package iface

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func formRequest(target, ctype, body string) *httptestRequest {
	r := httptest.NewRequest("POST", target, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return &httptestRequest{r}
}

type httptestRequest struct{ r *http.Request }

func TestDecodeForm(t *testing.T) {
	const ct = "application/x-www-form-urlencoded"
	good := formRequest("/login", ct, "password=a+long+pass%C3%A9&account=owner")
	got, err := DecodeForm(good.r, FormLimits{}, "password", "account")
	if err != nil || got["password"] != "a long passé" || got["account"] != "owner" {
		t.Fatalf("good form: %v %v", got, err)
	}
	for name, tt := range map[string]struct {
		target, ctype, body string
		field               string
		tooLarge            bool
	}{
		"json body":        {"/login", "application/json", `{"password":"x"}`, "", false},
		"no content type":  {"/login", "", "password=x&account=y", "", false},
		"query parameter":  {"/login?next=/evil", ct, "password=x&account=y", "", false},
		"unknown field":    {"/login", ct, "password=x&account=y&admin=1", "admin", false},
		"repeated field":   {"/login", ct, "password=x&password=y&account=y", "password", false},
		"missing field":    {"/login", ct, "password=x", "account", false},
		"field too long":   {"/login", ct, "password=" + strings.Repeat("a", defaultMaxFormField+1) + "&account=y", "password", true},
		"body too large":   {"/login", ct, "password=x&account=" + strings.Repeat("a", defaultMaxFormBytes), "", true},
		"invalid utf-8":    {"/login", ct, "password=%ff&account=y", "password", false},
		"bad escape":       {"/login", ct, "password=%zz&account=y", "", false},
		"semicolon split":  {"/login", ct, "password=x;account=y", "", false},
		"control in field": {"/login", ct, "password=x&acc%0Aount=y", "acc?ount", false},
	} {
		t.Run(name, func(t *testing.T) {
			req := formRequest(tt.target, tt.ctype, tt.body)
			_, err := DecodeForm(req.r, FormLimits{}, "password", "account")
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
			if tt.field != "" && ie.Field != tt.field {
				t.Errorf("field %q, want %q", ie.Field, tt.field)
			}
			if errors.Is(err, ErrTooLarge) != tt.tooLarge {
				t.Errorf("TooLarge = %v", !tt.tooLarge)
			}
			if strings.Contains(err.Error(), "aaaa") {
				t.Errorf("error echoes the value: %v", err)
			}
		})
	}
}

func FuzzDecodeForm(f *testing.F) {
	f.Add("password=x&account=y")
	f.Add("password=x&password=y")
	f.Add("%zz=1")
	f.Add("a;b=c")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		got, err := DecodeForm(r, FormLimits{MaxBytes: 256, MaxField: 32}, "password", "account")
		if err != nil {
			return
		}
		if len(got) != 2 || len(got["password"]) > 32 || len(got["account"]) > 32 {
			t.Fatalf("accepted %q as %v", body, got)
		}
	})
}
