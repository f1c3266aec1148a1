package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
)

// allowEntry is one line of the allow-list: a fingerprint or a path glob,
// and the reason it is allowed.
type allowEntry struct {
	pattern, reason string
	line            int
	used            bool
}

var fingerprintRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

const maxAllowList = 1 << 20

// parseAllow reads an allow-list: one entry per line, "PATTERN REASON…"
// separated by spaces or tabs, where PATTERN is a finding's fingerprint
// (16 lower-case hex digits) or a slash-separated path glob in path.Match
// syntax, matched against the path as the report prints it; a leading
// "**/" matches any leading directories, a trailing "/**" everything below
// a directory. Blank lines and lines
// starting with # are ignored. An entry without a reason is an error:
// every exception must say why.
func parseAllow(r io.Reader) ([]*allowEntry, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAllowList+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAllowList {
		return nil, errors.New("allow-list larger than 1 MiB")
	}
	var out []*allowEntry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		reason = strings.TrimSpace(reason)
		if reason == "" {
			return nil, fmt.Errorf("line %d: %q has no reason: every allowed finding must say why", i+1, pat)
		}
		if !fingerprintRe.MatchString(pat) {
			if _, err := path.Match(strings.TrimPrefix(strings.TrimSuffix(pat, "/**"), "**/"), "x"); err != nil {
				return nil, fmt.Errorf("line %d: bad pattern %q: %v", i+1, pat, err)
			}
		}
		out = append(out, &allowEntry{pattern: pat, reason: reason, line: i + 1})
	}
	return out, nil
}

func (e *allowEntry) matches(f scanFinding) bool {
	if fingerprintRe.MatchString(e.pattern) {
		return e.pattern == f.Fingerprint
	}
	return globMatch(e.pattern, f.Path)
}

// globMatch is path.Match with two additions: a leading "**/" matches any
// number of leading directories, a trailing "/**" everything below.
func globMatch(pat, p string) bool {
	if rest, ok := strings.CutPrefix(pat, "**/"); ok {
		for {
			if globMatch(rest, p) {
				return true
			}
			i := strings.IndexByte(p, '/')
			if i < 0 {
				return false
			}
			p = p[i+1:]
		}
	}
	if dir, ok := strings.CutSuffix(pat, "/**"); ok {
		for i := 0; i <= len(p); i++ {
			if i == len(p) || p[i] == '/' {
				if ok, _ := path.Match(dir, p[:i]); ok {
					return true
				}
			}
		}
		return false
	}
	ok, _ := path.Match(pat, p)
	return ok
}

// applyAllow moves allowed findings to Suppressed with their reason (the
// first matching entry's), lists the entries that matched nothing, and
// sorts both lists by path and offset.
func (r *scanResult) applyAllow(allow []*allowEntry) {
	keep := []scanFinding{}
	for _, f := range r.Findings {
		allowed := false
		for _, e := range allow {
			if e.matches(f) {
				e.used = true
				f.Reason = e.reason
				allowed = true
				break
			}
		}
		if allowed {
			r.Suppressed = append(r.Suppressed, f)
		} else {
			keep = append(keep, f)
		}
	}
	r.Findings = keep
	for _, e := range allow {
		if !e.used {
			r.UnusedAllow = append(r.UnusedAllow, fmt.Sprintf("line %d: %s", e.line, e.pattern))
		}
	}
	sortFindings(r.Findings)
	sortFindings(r.Suppressed)
}

func sortFindings(fs []scanFinding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Path != fs[j].Path {
			return fs[i].Path < fs[j].Path
		}
		return fs[i].Offset < fs[j].Offset
	})
}

// readSealedNames reads the -sealed-names file: one name per line, blank
// lines and # comments ignored.
func readSealedNames(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAllowList+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAllowList {
		return nil, errors.New("larger than 1 MiB")
	}
	var names []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := strings.TrimSpace(string(line))
		if n == "" || strings.HasPrefix(n, "#") {
			continue
		}
		if len(n) < 3 || len(n) > 128 || strings.ContainsAny(n, " \t") {
			return nil, fmt.Errorf("line %d: a name is 3 to 128 bytes without spaces", i+1)
		}
		names = append(names, n)
	}
	return names, nil
}
