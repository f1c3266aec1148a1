package privacy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SchemaVersion is the value of a telemetry schema's "schema" field.
const SchemaVersion = "baseline.telemetry-schema/v1"

// Limits of a telemetry schema.
const (
	// MaxSchemaSize bounds a schema document (128 KiB).
	MaxSchemaSize = 128 << 10
	// MaxFields bounds the fields of a schema.
	MaxFields = 256
	// MaxBounds bounds a bucket rule's boundaries.
	MaxBounds = 32
)

// ErrSchema is wrapped by every error [DecodeSchema] and [Schema.Validate]
// return.
var ErrSchema = errors.New("privacy: invalid telemetry schema")

// SchemaError names the field of a telemetry schema that is wrong.
type SchemaError struct {
	// Field is the JSON path: "fields[3].rule.step".
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error returns "privacy: telemetry schema: <field>: <reason>".
func (e *SchemaError) Error() string {
	if e.Field == "" {
		return "privacy: telemetry schema: " + e.Reason
	}
	return "privacy: telemetry schema: " + e.Field + ": " + e.Reason
}

// Unwrap returns [ErrSchema].
func (e *SchemaError) Unwrap() error { return ErrSchema }

// Schema declares every telemetry field the device may send (provisions
// 6-4 and 6-5): its purpose, the personal-data category it belongs to, who
// receives it and how it is minimised before it leaves. The [Exporter]
// sends nothing else, and the telemetry manifest ([NewManifest]) is
// generated from it.
type Schema struct {
	// Schema is [SchemaVersion].
	Schema string `json:"schema"`
	// Fields are the declared fields.
	Fields []Field `json:"fields"`
}

// Field declares one telemetry field.
type Field struct {
	// Name is the field's key in a [Record] and in what is sent; an
	// inventory-style ID ("power_w", "fw.version").
	Name string `json:"name"`
	// Description says in plain words what the field holds.
	Description string `json:"description"`
	// Purpose is the inventory purpose the field serves. If the purpose
	// rests on consent, the field is sent only while the subject's consent
	// is in force.
	Purpose string `json:"purpose"`
	// Category is the inventory's personal-data category of the field, or
	// empty when the field is not personal data. It must be one of the
	// purpose's categories.
	Category string `json:"category"`
	// Type is the value's type: "string", "number", "integer", "bool" or
	// "time". A value of another type is not sent.
	Type FieldType `json:"type"`
	// Recipient is the inventory recipient that receives the field; it
	// must be one of the purpose's recipients. Empty only with RuleDrop.
	Recipient string `json:"recipient"`
	// Rule says how the value is minimised before it is sent.
	Rule Rule `json:"rule"`
}

// FieldType is the type of a telemetry field's value.
type FieldType string

// Field types. A number is any Go integer or float; an integer is any Go
// integer type; a time is a time.Time.
const (
	TypeString  FieldType = "string"
	TypeNumber  FieldType = "number"
	TypeInteger FieldType = "integer"
	TypeBool    FieldType = "bool"
	TypeTime    FieldType = "time"
)

// ruleTypes lists the types each rule can take.
var ruleTypes = map[RuleKind][]FieldType{
	RuleKeep:      {TypeString, TypeNumber, TypeInteger, TypeBool, TypeTime},
	RuleDrop:      {TypeString, TypeNumber, TypeInteger, TypeBool, TypeTime},
	RuleCoarsen:   {TypeNumber, TypeInteger, TypeTime},
	RuleBucket:    {TypeNumber, TypeInteger},
	RulePseudonym: {TypeString, TypeInteger},
}

// RuleKind is a minimisation rule.
type RuleKind string

// Minimisation rules.
const (
	// RuleKeep sends the value as it is.
	RuleKeep RuleKind = "keep"
	// RuleDrop never sends the field: it is declared so the manifest can
	// say it is collected and stays on the device.
	RuleDrop RuleKind = "drop"
	// RuleCoarsen rounds a number down to a multiple of Step, or a time
	// down to a multiple of Step seconds.
	RuleCoarsen RuleKind = "coarsen"
	// RuleBucket replaces a number with the range of Bounds it falls in:
	// "<10", "10-<100", ">=100".
	RuleBucket RuleKind = "bucket"
	// RulePseudonym replaces a string (or integer) with a keyed pseudonym:
	// HMAC-SHA256 under a key that rotates (see [Pseudonymizer]) over the
	// field name and the value. Never a bare hash: a MAC address or serial
	// number has so few possible values that its plain hash is an
	// identifier anyone can reverse.
	RulePseudonym RuleKind = "pseudonym"
)

// Rule is how a field is minimised.
type Rule struct {
	// Kind is the rule.
	Kind RuleKind `json:"kind"`
	// Step is RuleCoarsen's granularity (a positive number; seconds for a
	// time).
	Step float64 `json:"step,omitempty"`
	// Bounds are RuleBucket's ascending boundaries (1…[MaxBounds]).
	Bounds []float64 `json:"bounds,omitempty"`
}

// words says the rule in plain words, for the manifest.
func (r Rule) words() string {
	switch r.Kind {
	case RuleKeep:
		return "sent as measured"
	case RuleDrop:
		return "never sent; stays on the device"
	case RuleCoarsen:
		return "rounded down to a multiple of " + strconv.FormatFloat(r.Step, 'g', -1, 64) + " (seconds, for times)"
	case RuleBucket:
		b := make([]string, len(r.Bounds))
		for i, x := range r.Bounds {
			b[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return "sent only as a range between " + strings.Join(b, ", ")
	case RulePseudonym:
		return "replaced by a keyed pseudonym whose key changes regularly, so it cannot be traced back or linked across periods"
	}
	return string(r.Kind)
}

// DecodeSchema reads a telemetry schema strictly (at most [MaxSchemaSize]
// bytes; no unknown, repeated or wrongly typed fields; no trailing data)
// and checks it on its own ([Schema.Validate] with a nil inventory). Every
// error is a [*SchemaError] naming the field.
func DecodeSchema(r io.Reader) (*Schema, error) {
	data, err := readBounded(r, MaxSchemaSize)
	if err != nil {
		return nil, &SchemaError{Reason: err.Error()}
	}
	var s Schema
	if err := decodeStrict(data, &s); err != nil {
		var se *strictError
		if errors.As(err, &se) {
			return nil, &SchemaError{Field: se.field, Reason: se.reason}
		}
		return nil, &SchemaError{Reason: err.Error()}
	}
	if err := s.Validate(nil); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks the schema and returns a [*SchemaError] naming the first
// wrong field: names are unique IDs; rules are known and well formed; and,
// when inv is not nil, each field's purpose, category and recipient are
// declared in the inventory and belong together (the category and recipient
// are the purpose's).
func (s *Schema) Validate(inv *Inventory) error {
	v := validator{mk: func(field, reason string) error { return &SchemaError{Field: field, Reason: reason} }}
	v.check(s.Schema == SchemaVersion, "schema", "must be %q", SchemaVersion)
	v.check(len(s.Fields) <= MaxFields, "fields", "more than %d fields", MaxFields)
	seen := map[string]bool{}
	for i, f := range s.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		if v.id(p+".name", f.Name) {
			v.check(!seen[f.Name], p+".name", "repeats %q", f.Name)
			seen[f.Name] = true
		}
		v.text(p+".description", f.Description, true)
		v.id(p+".purpose", f.Purpose)
		if f.Category != "" {
			v.id(p+".category", f.Category)
		}
		if f.Recipient != "" || f.Rule.Kind != RuleDrop {
			v.id(p+".recipient", f.Recipient)
		}
		r := f.Rule
		switch r.Kind {
		case RuleKeep, RuleDrop, RulePseudonym:
			v.check(r.Step == 0 && r.Bounds == nil, p+".rule", "%s takes no step or bounds", r.Kind)
		case RuleCoarsen:
			v.check(r.Step > 0 && !math.IsInf(r.Step, 0) && r.Bounds == nil, p+".rule.step", "coarsen needs a positive, finite step and no bounds")
		case RuleBucket:
			ok := len(r.Bounds) > 0 && len(r.Bounds) <= MaxBounds && r.Step == 0
			for j, b := range r.Bounds {
				ok = ok && !math.IsNaN(b) && !math.IsInf(b, 0) && (j == 0 || b > r.Bounds[j-1])
			}
			v.check(ok, p+".rule.bounds", "bucket needs 1…%d finite, strictly ascending bounds and no step", MaxBounds)
		default:
			v.fail(p+".rule.kind", "unknown rule %q (keep, drop, coarsen, bucket, pseudonym)", r.Kind)
		}
		if types, ok := ruleTypes[r.Kind]; ok {
			v.check(slices.Contains(types, f.Type), p+".type", "%s cannot take type %q (it takes %v)", r.Kind, f.Type, types)
		}
		if inv == nil || v.err != nil {
			continue
		}
		pu, ok := inv.Purpose(f.Purpose)
		if !ok {
			v.fail(p+".purpose", "no purpose %q in the inventory", f.Purpose)
			continue
		}
		if f.Category != "" {
			v.check(slices.Contains(pu.Categories, f.Category), p+".category",
				"%q is not a category of purpose %q: declare it there first", f.Category, f.Purpose)
		}
		if f.Recipient != "" {
			v.check(slices.Contains(pu.Recipients, f.Recipient), p+".recipient",
				"%q does not receive data for purpose %q in the inventory", f.Recipient, f.Purpose)
		}
	}
	return v.err
}

// digest returns the SHA-256 of the schema's JSON encoding.
func (s *Schema) digest() string {
	b, _ := json.Marshal(s)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Schema) clone() *Schema {
	c := *s
	c.Fields = slices.Clone(s.Fields)
	for i := range c.Fields {
		c.Fields[i].Rule.Bounds = slices.Clone(c.Fields[i].Rule.Bounds)
	}
	return &c
}

// ManifestSchema is the value of a telemetry manifest's "schema" field.
const ManifestSchema = "baseline.telemetry-manifest/v1"

// Manifest is the telemetry manifest (provision 6-5): for every field the
// device may send, what it is, why, on what basis, who receives it and how
// it is minimised. It is generated from the telemetry schema and the notice
// in force, the same two the [Exporter] enforces.
type Manifest struct {
	// Schema is [ManifestSchema].
	Schema string `json:"schema"`
	// Notice is the notice the manifest was generated with.
	Notice NoticeRef `json:"notice"`
	// SchemaSHA256 is the SHA-256 of the telemetry schema's JSON.
	SchemaSHA256 string `json:"schema_sha256"`
	// Fields describes every declared field, in schema order.
	Fields []ManifestField `json:"fields"`
}

// ManifestField is one field of the manifest.
type ManifestField struct {
	// Name, Description and Type are the schema's; Purpose and
	// PurposeDescription, LegalBasis and ConsentRequired come from the
	// inventory's purpose.
	Name               string     `json:"name"`
	Description        string     `json:"description"`
	Type               FieldType  `json:"type"`
	Purpose            string     `json:"purpose"`
	PurposeDescription string     `json:"purpose_description"`
	LegalBasis         LegalBasis `json:"legal_basis"`
	ConsentRequired    bool       `json:"consent_required"`
	// Personal says whether the field is personal data; Category and
	// CategoryName say which kind.
	Personal     bool   `json:"personal"`
	Category     string `json:"category,omitempty"`
	CategoryName string `json:"category_name,omitempty"`
	Sensitive    bool   `json:"sensitive"`
	// Recipient is empty for a field that is never sent.
	Recipient     string `json:"recipient,omitempty"`
	RecipientName string `json:"recipient_name,omitempty"`
	RecipientRole Role   `json:"recipient_role,omitempty"`
	// Sent is false for a dropped field.
	Sent bool `json:"sent"`
	// Rule is the minimisation rule; Minimisation says it in words.
	Rule         Rule   `json:"rule"`
	Minimisation string `json:"minimisation"`
}

// NewManifest checks the schema against the notice's inventory and
// generates the manifest.
func NewManifest(n *Notice, s *Schema) (*Manifest, error) {
	if err := s.Validate(n.inv); err != nil {
		return nil, err
	}
	inv := n.inv
	m := &Manifest{Schema: ManifestSchema, Notice: n.Ref(), SchemaSHA256: s.digest(), Fields: []ManifestField{}}
	for _, f := range s.Fields {
		p, _ := inv.Purpose(f.Purpose)
		mf := ManifestField{Name: f.Name, Description: f.Description, Type: f.Type, Purpose: f.Purpose, PurposeDescription: p.Description,
			LegalBasis: p.LegalBasis, ConsentRequired: p.LegalBasis == BasisConsent, Personal: f.Category != "",
			Category: f.Category, Sent: f.Rule.Kind != RuleDrop, Rule: f.Rule, Minimisation: f.Rule.words()}
		mf.Rule.Bounds = slices.Clone(f.Rule.Bounds)
		if c, ok := inv.Category(f.Category); ok {
			mf.CategoryName, mf.Sensitive = c.Name, c.Sensitive
		}
		if r, ok := inv.Recipient(f.Recipient); ok && mf.Sent {
			mf.Recipient, mf.RecipientName, mf.RecipientRole = r.ID, r.Name, r.Role
		}
		m.Fields = append(m.Fields, mf)
	}
	return m, nil
}

// WriteJSON writes the manifest as indented JSON.
func (m *Manifest) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// WriteText writes the manifest in plain words, one paragraph per field.
func (m *Manifest) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Telemetry this device sends (notice %s, version %s)\n", m.Notice.ID, m.Notice.Version)
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "\n%s: %s\n", f.Name, f.Description)
		fmt.Fprintf(&b, "  Why: %s", f.PurposeDescription)
		if f.ConsentRequired {
			b.WriteString(" Only with your consent.\n")
		} else {
			fmt.Fprintf(&b, " Based on: %s.\n", basisWords[f.LegalBasis])
		}
		if f.Personal {
			fmt.Fprintf(&b, "  Personal data: %s", f.CategoryName)
			if f.Sensitive {
				b.WriteString(" (sensitive)")
			}
			b.WriteString(".\n")
		} else {
			b.WriteString("  Not personal data.\n")
		}
		if f.Sent {
			fmt.Fprintf(&b, "  Sent to: %s (%s); %s.\n", f.RecipientName, f.RecipientRole, f.Minimisation)
		} else {
			fmt.Fprintf(&b, "  %s.\n", strings.ToUpper(f.Minimisation[:1])+f.Minimisation[1:])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
