package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxLabelSize is the largest label document [DecodeLabel] reads.
const MaxLabelSize = 1 << 20

// ErrLabel is wrapped by every error [DecodeLabel] returns for a document
// that is not a valid label.
var ErrLabel = errors.New("privacy: invalid label")

// DecodeLabel reads a privacy label the way a shop, an app or a test lab
// receiving it would: at most [MaxLabelSize] bytes; no repeated, unknown or
// wrongly typed fields; no trailing data after the document; and every rule
// of the published [LabelJSONSchema] (required fields, the schema constant,
// enumerations, identifier and country patterns, ranges). The schema itself
// is interpreted, not restated in Go, so the published file and this check
// cannot drift apart. Errors wrap [ErrLabel] and name the field (as a path
// like $.data_practices.purposes[0].legal_basis).
func DecodeLabel(r io.Reader) (*Label, error) {
	data, err := readBounded(r, MaxLabelSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLabel, err)
	}
	var l Label
	if err := decodeStrict(data, &l); err != nil {
		var se *strictError
		if errors.As(err, &se) && se.field != "" {
			return nil, fmt.Errorf("%w: %s: %s", ErrLabel, se.field, se.reason)
		} else if se != nil {
			return nil, fmt.Errorf("%w: %s", ErrLabel, se.reason)
		}
		return nil, fmt.Errorf("%w: %v", ErrLabel, err)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLabel, err)
	}
	s, err := labelSchema()
	if err != nil {
		return nil, err
	}
	if err := s.check(s.root, doc, "$"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLabel, err)
	}
	return &l, nil
}

// schemaWalker checks a decoded JSON document against the subset of JSON
// Schema (draft 2020-12) that LabelJSONSchema uses.
type schemaWalker struct {
	root     map[string]any
	patterns map[string]*regexp.Regexp
}

// schemaKeywords are the keywords the walker understands; a schema using
// any other keyword is refused, so a schema that grows one cannot pass
// unchecked.
var schemaKeywords = []string{"$ref", "const", "enum", "type", "properties", "required", "additionalProperties",
	"items", "minItems", "minLength", "pattern", "minimum", "maximum", "description", "title", "$schema", "$id", "$defs"}

var labelSchema = sync.OnceValues(func() (*schemaWalker, error) {
	return compileSchema(LabelJSONSchema)
})

// compileSchema parses a schema document, refuses unknown keywords and
// unresolvable references, and compiles its patterns once.
func compileSchema(b []byte) (*schemaWalker, error) {
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("privacy: label schema: %v", err)
	}
	w := &schemaWalker{root: root, patterns: map[string]*regexp.Regexp{}}
	var walk func(s map[string]any, at string, depth int) error
	walk = func(s map[string]any, at string, depth int) error {
		if depth > 32 {
			return fmt.Errorf("privacy: label schema: %s: nested too deeply", at)
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !slices.Contains(schemaKeywords, k) {
				return fmt.Errorf("privacy: label schema: %s: keyword %q not supported", at, k)
			}
		}
		if ref, ok := s["$ref"].(string); ok {
			if _, err := w.resolve(ref); err != nil {
				return fmt.Errorf("privacy: label schema: %s: %v", at, err)
			}
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("privacy: label schema: %s: %v", at, err)
			}
			w.patterns[p] = re
		}
		sub := func(m any, name string) error {
			if ms, ok := m.(map[string]any); ok {
				return walk(ms, at+"/"+name, depth+1)
			}
			return nil
		}
		if props, ok := s["properties"].(map[string]any); ok {
			for k, v := range props {
				if err := sub(v, "properties/"+k); err != nil {
					return err
				}
			}
		}
		if defs, ok := s["$defs"].(map[string]any); ok {
			for k, v := range defs {
				if err := sub(v, "$defs/"+k); err != nil {
					return err
				}
			}
		}
		return sub(s["items"], "items")
	}
	if err := walk(root, "#", 0); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *schemaWalker) resolve(ref string) (map[string]any, error) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil, fmt.Errorf("reference %q not supported", ref)
	}
	defs, _ := w.root["$defs"].(map[string]any)
	d, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("reference %q does not resolve", ref)
	}
	return d, nil
}

// check validates doc (as encoding/json decodes into any) against s.
func (w *schemaWalker) check(s map[string]any, doc any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		d, err := w.resolve(ref)
		if err != nil {
			return err
		}
		return w.check(d, doc, at)
	}
	if c, ok := s["const"]; ok && c != doc {
		return fmt.Errorf("%s: must be %v", at, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, doc) {
		return fmt.Errorf("%s: not one of %v", at, e)
	}
	switch s["type"] {
	case "object":
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: must be an object", at)
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if name, _ := r.(string); name != "" {
				if _, ok := m[name]; !ok {
					return fmt.Errorf("%s.%s: missing", at, name)
				}
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					return fmt.Errorf("%s.%s: unknown field", at, k)
				}
				continue
			}
			if err := w.check(ps, m[k], at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := doc.([]any)
		if !ok {
			return fmt.Errorf("%s: must be an array", at)
		}
		if mi, ok := s["minItems"].(float64); ok && float64(len(a)) < mi {
			return fmt.Errorf("%s: needs at least %v items", at, mi)
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, v := range a {
				if err := w.check(is, v, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		str, ok := doc.(string)
		if !ok {
			return fmt.Errorf("%s: must be a string", at)
		}
		if ml, ok := s["minLength"].(float64); ok && float64(utf8.RuneCountInString(str)) < ml {
			return fmt.Errorf("%s: shorter than %v characters", at, ml)
		}
		if p, ok := s["pattern"].(string); ok && !w.patterns[p].MatchString(str) {
			return fmt.Errorf("%s: does not match %s", at, p)
		}
	case "boolean":
		if _, ok := doc.(bool); !ok {
			return fmt.Errorf("%s: must be true or false", at)
		}
	case "integer":
		f, ok := doc.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: must be an integer", at)
		}
		if mi, ok := s["minimum"].(float64); ok && f < mi {
			return fmt.Errorf("%s: below %v", at, mi)
		}
		if ma, ok := s["maximum"].(float64); ok && f > ma {
			return fmt.Errorf("%s: above %v", at, ma)
		}
	}
	return nil
}
