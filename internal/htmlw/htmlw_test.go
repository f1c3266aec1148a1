package htmlw

import (
	"html"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.com/p?a=1&b=2#x": "https://example.com/p?a=1&amp;b=2#x",
		"HTTP://x/":                       "HTTP://x/",
		"mailto:a@b":                      "mailto:a@b",
		"/relative path":                  "/relative%20path",
		`https://x/"><script>`:            "https://x/%22%3e%3cscript%3e",
		"https://x/'()":                   "https://x/%27%28%29",
		"javascript:alert(1)":             "#ZgotmplZ",
		" JavaScript:alert(1)":            "#ZgotmplZ",
		"data:text/html,<b>":              "#ZgotmplZ",
		"vbscript:x":                      "#ZgotmplZ",
		"a/b:c":                           "a/b:c",
		"%41":                             "%41",
	} {
		var w Writer
		w.URL(in)
		if w.String() != want {
			t.Errorf("URL(%q) = %q, want %q", in, w.String(), want)
		}
	}
}

// FuzzWriter: text comes out with no markup character and reads back (as
// a browser unescapes it) exactly; a URL never keeps a quote, angle
// bracket or space, and never a scheme other than http, https or mailto.
func FuzzWriter(f *testing.F) {
	for _, s := range []string{"", `<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, "'", "&amp;", "javascript:x", "https://a/b c", "\x00é日本", `{"a":1}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w Writer
		w.T(s)
		if out := w.String(); strings.ContainsAny(out, `<>"'`) || html.UnescapeString(out) != s {
			t.Fatalf("T(%q) = %q", s, out)
		}
		var u Writer
		u.URL(s)
		out := u.String()
		if strings.ContainsAny(out, "<>\"' \t\n") {
			t.Fatalf("URL(%q) = %q keeps a character that ends the attribute or the URL", s, out)
		}
		raw := html.UnescapeString(out)
		if i := strings.IndexByte(raw, ':'); i >= 0 && !strings.Contains(raw[:i], "/") && raw != "#ZgotmplZ" {
			switch strings.ToLower(raw[:i]) {
			case "http", "https", "mailto":
			default:
				if !strings.Contains(raw[:i], "#") && !strings.Contains(raw[:i], "?") {
					t.Fatalf("URL(%q) = %q keeps scheme %q", s, out, raw[:i])
				}
			}
		}
	})
}
