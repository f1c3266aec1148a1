package securitytxt

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func good() File {
	return File{
		Contact:            []string{"mailto:security@example.com", "https://example.com/security"},
		Expires:            now.Add(180 * 24 * time.Hour),
		Encryption:         []string{"https://example.com/pgp.asc"},
		Acknowledgments:    []string{"https://example.com/hall-of-fame"},
		PreferredLanguages: []string{"en", "de-CH"},
		Canonical:          []string{"https://example.com/.well-known/security.txt"},
		Policy:             []string{"https://example.com/disclosure"},
		Hiring:             []string{"https://example.com/jobs"},
	}
}

func TestRoundTrip(t *testing.T) {
	f := good()
	b, err := f.Marshal(now)
	if err != nil {
		t.Fatal(err)
	}
	p := Parse(b, now)
	if len(p.Problems) != 0 {
		t.Fatalf("problems in generated file: %v\n%s", p.Problems, b)
	}
	if !p.Expires.Equal(f.Expires) || strings.Join(p.Contact, " ") != strings.Join(f.Contact, " ") ||
		strings.Join(p.PreferredLanguages, ",") != "en,de-CH" || len(p.Hiring) != 1 || len(p.Policy) != 1 ||
		len(p.Canonical) != 1 || len(p.Acknowledgments) != 1 || len(p.Encryption) != 1 {
		t.Fatalf("round trip lost fields: %+v", p.File)
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	cases := map[string]func(*File){
		"no contact":    func(f *File) { f.Contact = nil },
		"http contact":  func(f *File) { f.Contact = []string{"http://example.com"} },
		"no expires":    func(f *File) { f.Expires = time.Time{} },
		"expired":       func(f *File) { f.Expires = now.Add(-time.Hour) },
		"bad lang":      func(f *File) { f.PreferredLanguages = []string{"en_US"} },
		"ftp policy":    func(f *File) { f.Policy = []string{"ftp://example.com/p"} },
		"newline value": func(f *File) { f.Contact = []string{"mailto:a@b.c\nContact: mailto:evil@x.y"} },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			f := good()
			mut(&f)
			b, err := f.Marshal(now)
			if !errors.Is(err, ErrInvalid) || b != nil {
				t.Fatalf("Marshal = %q, %v; want ErrInvalid", b, err)
			}
		})
	}
}

func TestExpiresWarning(t *testing.T) {
	f := good()
	f.Expires = now.Add(400 * 24 * time.Hour)
	b, err := f.Marshal(now)
	if err != nil {
		t.Fatal(err)
	}
	p := Parse(b, now)
	if HasErrors(p.Problems) || len(p.Problems) != 1 || p.Problems[0].Severity != Warning || p.Problems[0].Field != "Expires" {
		t.Fatalf("problems = %v; want one Expires warning", p.Problems)
	}
}

func TestParseProblems(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // substrings of problems, in order
	}{
		{"empty", "", []string{"error: Contact: required", "error: Expires: required"}},
		{"garbage line", "Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\nthis is not a field\n", []string{"line 3: error: not a field"}},
		{"two expires", "Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\nExpires: 2027-02-01T00:00:00Z\n", []string{"line 3: error: Expires: must appear exactly once"}},
		{"bad date", "Contact: mailto:a@b.c\nExpires: tomorrow\n", []string{"line 2: error: Expires: \"tomorrow\" is not an RFC 3339"}},
		{"expired", "Contact: mailto:a@b.c\nExpires: 2020-01-01T00:00:00Z\n", []string{"line 2: error: Expires: the file expired"}},
		{"http contact", "Contact: http://example.com\nExpires: 2027-01-01T00:00:00Z\n", []string{"line 1: error: Contact: \"http://example.com\": web URIs must use https", "Contact: required"}},
		{"two langs", "Contact: tel:+1-201-555-0123\nExpires: 2027-01-01T00:00:00Z\nPreferred-Languages: en\npreferred-languages: fr\n", []string{"line 4: error: Preferred-Languages: must appear at most once"}},
		{"unsigned block", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\n", []string{"signed message has no signature block"}},
		{"not utf8", "Contact: mailto:a@b.c\xff\n", []string{"not UTF-8"}},
		{"too large", strings.Repeat("# x\n", MaxSize/4+1), []string{"larger than 32 KiB"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Parse([]byte(c.in), now)
			if len(p.Problems) != len(c.want) {
				t.Fatalf("problems = %v; want %d", p.Problems, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(p.Problems[i].String(), w) {
					t.Errorf("problem %d = %q; want it to contain %q", i, p.Problems[i], w)
				}
			}
		})
	}
}

func TestParseAcceptsRFCShapes(t *testing.T) {
	in := "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n# comment\r\n" +
		"CONTACT: mailto:security@example.com\r\ncontact:https://example.com/report\r\n" +
		"Expires: 2027-01-01T00:00:00.000Z\r\nX-Unknown-Extension: whatever\r\n" +
		"Encryption: openpgp4fpr:5f2de5521c63a801ab59ccb603d49de44b29100f\r\n" +
		"-----BEGIN PGP SIGNATURE-----\r\n\r\nabc\r\n-----END PGP SIGNATURE-----\r\n"
	p := Parse([]byte(in), now)
	if len(p.Problems) != 0 {
		t.Fatalf("problems = %v", p.Problems)
	}
	if !p.Signed || len(p.Contact) != 2 || len(p.Encryption) != 1 || p.Expires.Year() != 2027 {
		t.Fatalf("parsed = %+v", p)
	}
}

func FuzzParse(f *testing.F) {
	g := good()
	b, _ := g.Marshal(now)
	f.Add(b)
	f.Add([]byte("Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\n"))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n- Contact: tel:+1\n-----BEGIN PGP SIGNATURE-----\n"))
	f.Add([]byte("Preferred-Languages: en, , x-\n:\n\n#"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Parse(data, now)
		if HasErrors(p.Problems) {
			return
		}
		// A file the parser accepts must survive generation and re-parsing.
		out, err := p.File.Marshal(now)
		if err != nil {
			t.Fatalf("accepted file does not marshal: %v", err)
		}
		q := Parse(out, now)
		if HasErrors(q.Problems) || !q.Expires.Equal(p.Expires) || len(q.Contact) != len(p.Contact) {
			t.Fatalf("re-parse differs: %v", q.Problems)
		}
	})
}
