package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func init() {
	register(command{
		name:    "residue",
		summary: "search a device's state image for planted user data after a factory reset (5.11-1 lab check)",
		run:     runResidue,
	})
}

const residueUsage = `usage: baseline residue -needles FILE [-format text|json] PATH...

The lab check of EN 303 645 5.11-1 (TS 103 701 asks for it): plant known user
data on the device (a password, a Wi-Fi passphrase, a name), run its factory
reset as documented, dump its storage (the state directory, a file system
image, a flash dump), then search the dump for what was planted.

-needles names a file with one planted value per line (at least 8 bytes each;
# starts a comment). Each PATH — a file or a directory tree, symbolic links
not followed — is read as a stream and searched for every value in these
forms: raw bytes, lower- and upper-case hex, and base64 (standard and URL
alphabets, at every byte alignment, so a value inside a longer base64 text is
found too). Each hit names the file, the byte offset, the value's line number
in -needles and the form; the values themselves are not printed.

Exit status: 0 nothing found; 1 a hit (the reset left user data readable);
2 usage errors or a PATH that could not be read completely.
`

// residueForm is one encoding of a needle to search for.
type residueForm struct {
	needle int // line number in the needles file
	form   string
	bytes  []byte
}

// residueForms returns the forms of needle v: raw, hex, and the parts of
// its base64 encoding that do not depend on the bytes around it, for each
// of the three byte alignments in both alphabets.
func residueForms(line int, v []byte) []residueForm {
	out := []residueForm{
		{line, "raw", v},
		{line, "hex", []byte(hex.EncodeToString(v))},
		{line, "HEX", []byte(strings.ToUpper(hex.EncodeToString(v)))},
	}
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
		for shift := 0; shift < 3; shift++ {
			buf := append(make([]byte, shift), v...)
			s := enc.e.EncodeToString(buf)
			// Character i holds bits [6i, 6i+6); the value holds bits
			// [8·shift, 8·(shift+len)). Keep the characters wholly inside.
			lo := (8*shift + 5) / 6
			hi := (8 * (shift + len(v))) / 6
			if hi > len(s) {
				hi = len(s)
			}
			if hi-lo >= 8 {
				out = append(out, residueForm{line, fmt.Sprintf("%s (alignment %d)", enc.name, shift), []byte(s[lo:hi])})
			}
		}
	}
	return out
}

type residueHit struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Needle int    `json:"needle_line"`
	Form   string `json:"form"`
}

type residueError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

type residueResult struct {
	Schema       string         `json:"schema"`
	Hits         []residueHit   `json:"hits"`
	Errors       []residueError `json:"errors"`
	FilesSearch  int            `json:"files_searched"`
	BytesSearch  int64          `json:"bytes_searched"`
	NeedleCount  int            `json:"needles"`
	FormsPerItem int            `json:"forms_searched"`
}

func runResidue(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("residue", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, residueUsage) }
	needlesFile := fl.String("needles", "", "`FILE` with one planted value per line")
	format := fl.String("format", "text", "output format: text or json")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *needlesFile == "" || fl.NArg() == 0 || (*format != "text" && *format != "json") {
		fmt.Fprint(stderr, residueUsage)
		return 2
	}
	f, err := os.Open(*needlesFile)
	if err != nil {
		fmt.Fprintf(stderr, "baseline residue: %v\n", err)
		return 2
	}
	var forms []residueForm
	longest, count := 0, 0
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for line := 1; sc.Scan(); line++ {
		v := sc.Bytes()
		if len(v) == 0 || v[0] == '#' {
			continue
		}
		if len(v) < 8 || len(v) > 4096 {
			f.Close()
			fmt.Fprintf(stderr, "baseline residue: %s line %d: a planted value must be 8–4096 bytes (shorter ones match by chance)\n", *needlesFile, line)
			return 2
		}
		count++
		for _, fm := range residueForms(line, bytes.Clone(v)) {
			forms = append(forms, fm)
			longest = max(longest, len(fm.bytes))
		}
	}
	f.Close()
	if count == 0 {
		fmt.Fprintf(stderr, "baseline residue: %s has no values\n", *needlesFile)
		return 2
	}
	res := residueResult{Schema: "baseline.residue/v1", Hits: []residueHit{}, Errors: []residueError{}, NeedleCount: count, FormsPerItem: len(forms)}
	search := func(path, rel string) {
		fh, err := os.Open(path)
		if err != nil {
			res.Errors = append(res.Errors, residueError{Path: rel, Error: err.Error()})
			return
		}
		defer fh.Close()
		n, hits, err := residueSearch(fh, forms, longest)
		res.FilesSearch++
		res.BytesSearch += n
		for _, h := range hits {
			h.Path = rel
			res.Hits = append(res.Hits, h)
		}
		if err != nil {
			res.Errors = append(res.Errors, residueError{Path: rel, Error: err.Error()})
		}
	}
	for _, root := range fl.Args() {
		info, err := os.Lstat(root)
		if err != nil {
			res.Errors = append(res.Errors, residueError{Path: root, Error: err.Error()})
			continue
		}
		if !info.IsDir() {
			search(root, root)
			continue
		}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				res.Errors = append(res.Errors, residueError{Path: p, Error: err.Error()})
				return nil
			}
			if d.Type().IsRegular() {
				search(p, p)
			} else if d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			return nil
		})
	}
	sort.SliceStable(res.Hits, func(i, j int) bool {
		if res.Hits[i].Path != res.Hits[j].Path {
			return res.Hits[i].Path < res.Hits[j].Path
		}
		return res.Hits[i].Offset < res.Hits[j].Offset
	})
	if *format == "json" {
		writeJSONIndent(stdout, res)
	} else {
		for _, h := range res.Hits {
			fmt.Fprintf(stdout, "%s@%d: planted value from line %d, %s\n", h.Path, h.Offset, h.Needle, h.Form)
		}
		for _, e := range res.Errors {
			fmt.Fprintf(stdout, "%s: not searched completely: %s\n", e.Path, e.Error)
		}
		fmt.Fprintf(stdout, "searched %d files, %d bytes for %d planted values in %d forms: %d hit(s)\n",
			res.FilesSearch, res.BytesSearch, count, len(forms), len(res.Hits))
	}
	switch {
	case len(res.Hits) > 0:
		return 1
	case len(res.Errors) > 0:
		return 2
	}
	return 0
}

// residueSearch streams r in chunks that overlap by the longest form, so a
// value across a chunk boundary is found once.
func residueSearch(r io.Reader, forms []residueForm, longest int) (int64, []residueHit, error) {
	const chunk = 1 << 20
	overlap := longest - 1
	buf := make([]byte, overlap+chunk)
	var (
		base  int64
		kept  int
		total int64
		hits  []residueHit
	)
	for {
		n, err := io.ReadFull(r, buf[kept:])
		total += int64(n)
		data := buf[:kept+n]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return total, hits, err
		}
		// A match must start before the overlap carried to the next round
		// (unless this is the last round), so none is reported twice.
		limit := len(data)
		if !eof {
			limit = len(data) - overlap
		}
		for _, fm := range forms {
			for i := 0; i < limit; {
				j := bytes.Index(data[i:], fm.bytes)
				if j < 0 || i+j >= limit {
					break
				}
				hits = append(hits, residueHit{Offset: base + int64(i+j), Needle: fm.needle, Form: fm.form})
				i += j + 1
			}
		}
		if eof {
			return total, hits, nil
		}
		kept = copy(buf, data[len(data)-overlap:])
		base += int64(len(data) - overlap)
	}
}
