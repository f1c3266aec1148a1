package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// The scanner reads every file as a stream, in rounds. Each round holds
// the last scanLookback+scanOverlap bytes of the previous round followed by
// up to scanChunk new bytes, and reports only the candidates that start in
// its window [lo, limit): lo is scanLookback (0 in the first round), limit
// is scanOverlap before the end of the data (the end itself in the last
// round). The windows partition the stream, so each candidate is reported
// exactly once; every candidate is shorter than scanOverlap (see the max*
// limits in scan_detect.go), so one that spans a chunk boundary is seen
// whole; and detectors may look up to scanLookback bytes back from a
// candidate (the credential word before a value, the byte before a token).
// Memory stays constant however large the file.
const (
	scanChunk    = 1 << 20
	scanOverlap  = 32 << 10
	scanLookback = 256
	// textSniff: a file whose first textSniff bytes hold no NUL byte and
	// are UTF-8 is text, and its findings carry a line number.
	textSniff = 8 << 10
	// maxFindingsPerFile bounds the memory one hostile or degenerate file
	// can make the report take; the file is then reported as an error.
	maxFindingsPerFile = 1000
)

// scanFinding is one hard-coded secret candidate. It never holds the
// secret: Preview shows its first four characters and its length, and
// Fingerprint is 16 hex digits of a SHA-256, stable across runs, for the
// allow-list.
type scanFinding struct {
	Kind        string `json:"kind"`
	Detail      string `json:"detail"`
	Path        string `json:"path"`
	Offset      int64  `json:"offset"`
	Line        int    `json:"line,omitempty"`
	Length      int    `json:"length"`
	Preview     string `json:"preview"`
	Fingerprint string `json:"fingerprint"`
	// Reason is the allow-list reason, for a suppressed finding.
	Reason string `json:"reason,omitempty"`
}

type scanError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// scanResult is the report, JSON schema baseline.scan/v1.
type scanResult struct {
	Schema      string        `json:"schema"`
	Findings    []scanFinding `json:"findings"`
	Suppressed  []scanFinding `json:"suppressed"`
	Errors      []scanError   `json:"errors"`
	UnusedAllow []string      `json:"unused_allow_entries"`
	// FilesScanned counts the files read to their end; BytesScanned the
	// bytes read from every file, including those that failed part way.
	FilesScanned int   `json:"files_scanned"`
	BytesScanned int64 `json:"bytes_scanned"`
}

type scanner struct {
	// chunk and overlap are scanChunk and scanOverlap; tests lower chunk
	// to put boundaries where they want them.
	chunk, overlap int
	sealed         []sealedName
	res            scanResult

	// Reused between files and chunks, so that scanning allocates per
	// finding, not per byte.
	buf, lower, b64, dec, pem []byte
	found                     []detection
	hits                      []wordHit
}

func newScanner(sealed []string) *scanner {
	s := &scanner{
		chunk:   scanChunk,
		overlap: scanOverlap,
		res: scanResult{Schema: "baseline.scan/v1", Findings: []scanFinding{}, Suppressed: []scanFinding{},
			Errors: []scanError{}, UnusedAllow: []string{}},
	}
	for _, n := range sealed {
		s.sealed = append(s.sealed, sealedName{name: n, lower: []byte(strings.ToLower(n))})
	}
	return s
}

// walk scans root. A root named on the command line is followed if it is
// a symbolic link and opened whatever its type (a block device holding a
// flash dump is fine). Inside a directory, symbolic links, devices, pipes
// and sockets are skipped, so the walk never leaves the tree, and .git is
// not entered. Errors are recorded and the walk goes on.
func (s *scanner) walk(root string) {
	info, err := os.Stat(root)
	if err != nil {
		s.fail(filepath.ToSlash(root), err)
		return
	}
	if !info.IsDir() {
		s.scanFile(root, filepath.ToSlash(root))
		return
	}
	if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		root += string(filepath.Separator) // WalkDir does not follow a symbolic link at the root
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		name := filepath.ToSlash(p)
		if err != nil {
			s.fail(name, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		s.scanFile(p, name)
		return nil
	})
}

func (s *scanner) fail(name string, err error) {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Op + ": " + pe.Err.Error()
	}
	s.res.Errors = append(s.res.Errors, scanError{Path: name, Error: msg})
}

func (s *scanner) scanFile(p, name string) {
	f, err := os.Open(p)
	if err != nil {
		s.fail(name, err)
		return
	}
	defer f.Close()
	if err := s.scanReader(f, name); err != nil {
		s.fail(name, err)
	}
}

var errTooManyFindings = fmt.Errorf("more than %d findings: the rest of the file was not scanned", maxFindingsPerFile)

// scanReader scans one stream, reporting findings under name.
func (s *scanner) scanReader(r io.Reader, name string) error {
	if s.chunk <= scanLookback {
		panic("baseline scan: chunk not larger than the lookback")
	}
	need := scanLookback + s.overlap + s.chunk
	if cap(s.buf) < need {
		s.buf = make([]byte, need)
	}
	buf := s.buf[:need]
	var (
		base  int64 // stream offset of buf[0]
		kept  int   // bytes carried over from the previous round
		lo    int   // start of this round's window
		lines = 1   // line number at buf[0]
		text  = true
		first = true
		count int
	)
	for {
		n, err := io.ReadFull(r, buf[kept:])
		s.res.BytesScanned += int64(n)
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return err
		}
		data := buf[:kept+n]
		if first {
			first = false
			text = isText(data[:min(len(data), textSniff)])
			if eof && isKEKSeed(data) {
				s.found = append(s.found, detection{kind: kindKEKSeed, detail: "seed file of the secrets package's soft KEK",
					at: 0, length: len(data), preview: preview(data), fingerprint: fingerprint(data)})
			}
		}
		limit := len(data)
		if !eof {
			limit = len(data) - s.overlap
		}
		s.detect(data, lo, limit, text)
		if err := s.report(name, base, data, lines, text, &count); err != nil {
			return err
		}
		if eof {
			break
		}
		cut := limit - scanLookback
		if text {
			lines += bytes.Count(data[:cut], []byte{'\n'})
		}
		kept = copy(buf, data[cut:])
		base += int64(cut)
		lo = scanLookback
	}
	s.res.FilesScanned++
	return nil
}

// isText: no NUL byte and valid UTF-8 (but for a character cut at the
// end of the sniffed bytes).
func isText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for cut := 0; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

// report turns the detections of one round (s.found) into findings.
// line is the line number at data[0]; *count the findings of this file so
// far.
func (s *scanner) report(name string, base int64, data []byte, line int, text bool, count *int) error {
	sort.Slice(s.found, func(i, j int) bool { return s.found[i].at < s.found[j].at })
	counted := 0
	for _, d := range s.found {
		if *count >= maxFindingsPerFile {
			return errTooManyFindings
		}
		*count++
		f := scanFinding{Kind: d.kind, Detail: d.detail, Path: name, Offset: base + int64(d.at), Length: d.length,
			Preview: d.preview, Fingerprint: d.fingerprint}
		if d.kind == kindSealedName {
			// The name and where it is, never the value: a low-entropy
			// value's hash could be brute-forced.
			f.Fingerprint = fingerprint([]byte(d.sealed + "\x00" + name))
		}
		if text {
			line += bytes.Count(data[counted:d.at], []byte{'\n'})
			counted = d.at
			f.Line = line
		}
		s.res.Findings = append(s.res.Findings, f)
	}
	s.found = s.found[:0]
	return nil
}
