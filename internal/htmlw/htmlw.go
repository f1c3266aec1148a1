// Package htmlw writes HTML pages without html/template. The template
// package looks methods up by name at run time, which stops the linker
// from dropping unused methods anywhere in a binary that links it (about
// 2 MB in the reference device), so packages linked into firmware render
// their few pages with this writer instead.
//
// The rule that keeps a page safe is the writer's API: markup is written
// only with M, whose argument must be a string constant (the tests of the
// packages using it check every call site), and every value from data goes
// through T (text nodes and double-quoted attribute values) or URL (an
// href/src value). Data never goes into a script, a style, an unquoted
// attribute or a tag or attribute name.
package htmlw

import (
	"bytes"
	"fmt"
	"html"
	"strings"
)

// Writer accumulates one page.
type Writer struct{ b bytes.Buffer }

// M writes markup. Its argument must be a string constant.
func (w *Writer) M(markup string) { w.b.WriteString(markup) }

// T writes text escaped for a text node or a double-quoted attribute value:
// & < > " ' become entities, exactly as html/template escapes them there.
func (w *Writer) T(text string) { w.b.WriteString(html.EscapeString(text)) }

// V writes fmt.Sprint(value) as escaped text.
func (w *Writer) V(value any) { w.T(fmt.Sprint(value)) }

// URL writes a URL for a double-quoted href or src attribute the way
// html/template does: a URL with a scheme other than http, https or
// mailto becomes "#ZgotmplZ" (so javascript: and data: URLs from data
// never run), bytes that may not appear in a URL are percent-encoded, and
// the result is escaped for the attribute.
func (w *Writer) URL(u string) { w.T(filterURL(u)) }

// Bytes returns the page.
func (w *Writer) Bytes() []byte { return w.b.Bytes() }

// String returns the page.
func (w *Writer) String() string { return w.b.String() }

func filterURL(u string) string {
	if i := strings.IndexByte(u, ':'); i >= 0 && !strings.Contains(u[:i], "/") {
		switch strings.ToLower(u[:i]) {
		case "http", "https", "mailto":
		default:
			return "#ZgotmplZ"
		}
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case strings.IndexByte("-._~:/?#[]@!$&*+,;=%", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}
