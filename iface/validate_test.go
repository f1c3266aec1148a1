package iface

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestValidators(t *testing.T) {
	type tc struct {
		name string
		err  error
		ok   bool
	}
	long := strings.Repeat("a", 64)
	cases := []tc{
		{"name ok", Name("n", "Kitchen plug ☕"), true},
		{"name 64 runes", Name("n", strings.Repeat("é", 64)), true},
		{"name 65 runes", Name("n", strings.Repeat("é", 65)), false},
		{"name empty", Name("n", ""), false},
		{"name control", Name("n", "a\x00b"), false},
		{"name newline", Name("n", "a\nb"), false},
		{"name bidi", Name("n", "a\u202eb"), false},
		{"name zero width", Name("n", "a\u200bb"), false},
		{"name trailing space", Name("n", "a "), false},
		{"name invalid utf8", Name("n", "a\xffb"), false},
		{"ssid ok", SSID("s", "Home WiFi 5G"), true},
		{"ssid 32", SSID("s", strings.Repeat("x", 32)), true},
		{"ssid 33", SSID("s", strings.Repeat("x", 33)), false},
		{"ssid control", SSID("s", "a\tb"), false},
		{"ssid empty", SSID("s", ""), false},
		{"host ok", Hostname("h", "updates.example.com"), true},
		{"host single", Hostname("h", "plug-01"), true},
		{"host label 63", Hostname("h", strings.Repeat("a", 63)+".com"), true},
		{"host label 64", Hostname("h", long+".com"), false},
		{"host leading hyphen", Hostname("h", "-a.com"), false},
		{"host trailing hyphen", Hostname("h", "a-.com"), false},
		{"host empty label", Hostname("h", "a..com"), false},
		{"host trailing dot", Hostname("h", "a.com."), false},
		{"host underscore", Hostname("h", "a_b.com"), false},
		{"host numeric", Hostname("h", "127.0.0.1"), false},
		{"host crlf", Hostname("h", "a\r\nb"), false},
		{"host 254", Hostname("h", strings.Repeat("a.", 127)), false},
		{"ip v4", IPAddr("ip", "192.0.2.1"), true},
		{"ip v6", IPAddr("ip", "2001:db8::1"), true},
		{"ip zone", IPAddr("ip", "fe80::1%eth0"), false},
		{"ip junk", IPAddr("ip", "1.2.3"), false},
		{"url ok", URL("u", "https://updates.example.com/v1/targets.json?x=1"), true},
		{"url port", URL("u", "https://example.com:8443/"), true},
		{"url ip", URL("u", "https://192.0.2.1/"), true},
		{"url ipv6", URL("u", "https://[2001:db8::1]:443/"), true},
		{"url http refused", URL("u", "http://example.com/"), false},
		{"url http allowed", URL("u", "http://example.com/", "http", "https"), true},
		{"url mqtts", URL("u", "mqtts://broker.example.com:8883", "mqtts"), true},
		{"url creds", URL("u", "https://u:p@example.com/"), false},
		{"url fragment", URL("u", "https://example.com/#x"), false},
		{"url relative", URL("u", "/etc/passwd"), false},
		{"url javascript", URL("u", "javascript:alert(1)"), false},
		{"url file", URL("u", "file:///etc/passwd"), false},
		{"url space", URL("u", "https://example.com/a b"), false},
		{"url crlf", URL("u", "https://example.com/\r\nX: y"), false},
		{"url encoded crlf", URL("u", "https://example.com/a%0d%0aX:%20y"), false},
		{"url bad port", URL("u", "https://example.com:0/"), false},
		{"url big port", URL("u", "https://example.com:65536/"), false},
		{"url empty port", URL("u", "https://example.com:/"), false},
		{"url bad host", URL("u", "https://exa_mple.com/"), false},
		{"url no host", URL("u", "https:///x"), false},
		{"url zone", URL("u", "https://[fe80::1%25eth0]/"), false},
		{"url long", URL("u", "https://example.com/"+strings.Repeat("a", MaxURLBytes)), false},
		{"tz utc", TimeZone("tz", "UTC"), true},
		{"tz traversal", TimeZone("tz", "../../etc/passwd"), false},
		{"tz absolute", TimeZone("tz", "/etc/localtime"), false},
		{"tz dot", TimeZone("tz", "Europe/./Berlin"), false},
		{"tz local", TimeZone("tz", "Local"), false},
		{"tz unknown", TimeZone("tz", "Mars/Olympus_Mons"), false},
		{"tz empty", TimeZone("tz", ""), false},
		{"tz trailing slash", TimeZone("tz", "Europe/"), false},
		{"tz nul", TimeZone("tz", "Europe/Berlin\x00"), false},
		{"int ok", Int("n", 5, 0, 10), true},
		{"int low", Int("n", -1, 0, 10), false},
		{"int high", Int("n", 11, 0, 10), false},
		{"port ok", Port("p", 443), true},
		{"port 0", Port("p", 0), false},
		{"oneof ok", OneOf("m", "auto", "auto", "manual"), true},
		{"oneof bad", OneOf("m", "AUTO", "auto", "manual"), false},
	}
	if TimeZone("tz", "Europe/Berlin") == nil {
		cases = append(cases, tc{"tz berlin", TimeZone("tz", "Europe/Berlin"), true},
			tc{"tz etc", TimeZone("tz", "Etc/GMT+5"), true})
	}
	for _, c := range cases {
		if (c.err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%t", c.name, c.err, c.ok)
			continue
		}
		if c.err != nil {
			var ie *InputError
			if !errors.As(c.err, &ie) || !errors.Is(c.err, ErrInvalidInput) || ie.Field == "" {
				t.Errorf("%s: %v is not an InputError with a field", c.name, c.err)
			}
		}
	}
}

func TestInputErrorMapsTo400(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteInputError(rec, Hostname("wifi.host", "bad host"))
	if rec.Code != 400 {
		t.Fatalf("status %d", rec.Code)
	}
	var eb errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
		t.Fatal(err)
	}
	if eb.Error != "invalid input" || eb.Field != "wifi.host" || eb.Reason != "invalid hostname" {
		t.Errorf("body %+v", eb)
	}
	if strings.Contains(rec.Body.String(), "bad host") {
		t.Error("value echoed")
	}
	rec = httptest.NewRecorder()
	WriteInputError(rec, SSID("ssid", strings.Repeat("x", 40)))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("too long: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	WriteInputError(rec, errors.New("internal detail"))
	if rec.Code != 400 || strings.Contains(rec.Body.String(), "internal") {
		t.Errorf("foreign error: %d %s", rec.Code, rec.Body)
	}
	// Attacker-chosen field names are neutralised.
	rec = httptest.NewRecorder()
	WriteInputError(rec, &InputError{Field: "a\u202e\x1b[31m", Reason: "unknown field"})
	json.Unmarshal(rec.Body.Bytes(), &eb)
	for _, r := range eb.Field {
		if !unicode.IsPrint(r) {
			t.Errorf("field %q has non-printable %U", eb.Field, r)
		}
	}
}

// Fuzz properties: a validator that accepts a value accepts only what its
// documentation promises, and never panics.

func FuzzName(f *testing.F) {
	for _, s := range []string{"Kitchen", "a\u202eb", "", " a", "\xff", strings.Repeat("é", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Name("n", s) != nil {
			return
		}
		if !utf8.ValidString(s) || s == "" || utf8.RuneCountInString(s) > MaxNameRunes || strings.TrimSpace(s) != s {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}

func FuzzSSID(f *testing.F) {
	for _, s := range []string{"Home", "a\x00", "", strings.Repeat("x", 33), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if SSID("s", s) != nil {
			return
		}
		if !utf8.ValidString(s) || len(s) == 0 || len(s) > 32 || strings.ContainsFunc(s, unicode.IsControl) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzHostname(f *testing.F) {
	for _, s := range []string{"a.example.com", "-a", "a..b", "1.2.3.4", "a\r\nb", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Hostname("h", s) != nil {
			return
		}
		if len(s) == 0 || len(s) > 253 || strings.HasPrefix(s, "-") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
			t.Fatalf("accepted %q", s)
		}
		for _, l := range strings.Split(s, ".") {
			if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
				t.Fatalf("accepted %q (label %q)", s, l)
			}
		}
		if strings.ContainsFunc(s, func(r rune) bool {
			return !(r == '-' || r == '.' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)))
		}) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzURL(f *testing.F) {
	for _, s := range []string{"https://example.com/a?b=c", "https://u:p@x/", "javascript:alert(1)", "https://[::1]:8443/", "https://a.com:0", "https://a.com/#f", "https://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if URL("u", s) != nil {
			return
		}
		if !strings.HasPrefix(s, "https://") || len(s) > MaxURLBytes || strings.ContainsAny(s, " \r\n\t\x00#@") && strings.ContainsAny(s[:strings.IndexAny(s[8:]+"/", "/?")+8], "@") {
			t.Fatalf("accepted %q", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '#' {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func FuzzTimeZone(f *testing.F) {
	for _, s := range []string{"UTC", "Europe/Berlin", "../etc/passwd", "/etc/localtime", "Local", "America/Argentina/Buenos_Aires", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if TimeZone("tz", s) != nil {
			return
		}
		if s == "" || len(s) > MaxTimeZoneBytes || s[0] == '/' || s == "Local" || strings.Contains(s, "..") || strings.Contains(s, "//") || strings.HasSuffix(s, "/") {
			t.Fatalf("accepted %q", s)
		}
		for _, seg := range strings.Split(s, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func FuzzInt(f *testing.F) {
	f.Add(int64(5), int64(0), int64(10))
	f.Add(int64(-1), int64(0), int64(10))
	f.Fuzz(func(t *testing.T, v, lo, hi int64) {
		if (Int("n", v, lo, hi) == nil) != (v >= lo && v <= hi) {
			t.Fatalf("Int(%d, %d, %d)", v, lo, hi)
		}
	})
}

func FuzzIPAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "::1", "fe80::1%eth0", "1.2.3", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if IPAddr("ip", s) != nil {
			return
		}
		if strings.ContainsAny(s, "%[] \r\n") || len(s) > 64 {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzOneOf(f *testing.F) {
	f.Add("auto")
	f.Add("AUTO")
	f.Fuzz(func(t *testing.T, s string) {
		if (OneOf("m", s, "auto", "manual") == nil) != (s == "auto" || s == "manual") {
			t.Fatalf("OneOf(%q)", s)
		}
	})
}
