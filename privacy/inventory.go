package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// InventorySchema is the value of an inventory's "schema" field.
const InventorySchema = "baseline.privacy-inventory/v1"

// Limits enforced by [DecodeInventory] and [Inventory.Validate].
const (
	// MaxInventorySize bounds a whole inventory document (256 KiB).
	MaxInventorySize = 256 << 10
	// MaxItems bounds each list of an inventory (categories, purposes,
	// recipients, sensors) and each list of references inside an item.
	MaxItems = 64
	// MaxIDLen bounds an identifier: lower-case ASCII letters, digits and
	// ".", "_", "-", starting with a letter or digit.
	MaxIDLen = 64
	// MaxNameLen bounds a one-line name or version.
	MaxNameLen = 200
	// MaxTextLen bounds a description.
	MaxTextLen = 2000
	// MaxRetentionDays bounds a retention period (about 100 years).
	MaxRetentionDays = 36500
)

// ErrInventory is wrapped by every error [DecodeInventory] and
// [Inventory.Validate] return.
var ErrInventory = errors.New("privacy: invalid inventory")

// InventoryError names the field of an inventory that is wrong.
type InventoryError struct {
	// Field is the JSON path of the field: "purposes[2].legal_basis".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "privacy: inventory: <field>: <reason>".
func (e *InventoryError) Error() string {
	if e.Field == "" {
		return "privacy: inventory: " + e.Reason
	}
	return "privacy: inventory: " + e.Field + ": " + e.Reason
}

// Unwrap returns [ErrInventory].
func (e *InventoryError) Unwrap() error { return ErrInventory }

// Inventory is what the device declares about the personal data it
// processes (provision 6-1) and the ways it senses its surroundings (5.8-3).
// It is the one source from which the privacy notice ([NewNotice]), the
// machine-readable label ([NewLabel]), the consent ledger's purposes and the
// telemetry schema's checks are derived, so that what the device says cannot
// drift from what it does.
//
// A device usually embeds its inventory as JSON and reads it with
// [DecodeInventory]; one built in Go must pass [Inventory.Validate].
type Inventory struct {
	// Schema is [InventorySchema].
	Schema string `json:"schema"`
	// NoticeID names the privacy notice built from this inventory; it stays
	// the same across versions ("acme-sp100-privacy").
	NoticeID string `json:"notice_id"`
	// Version is the notice's version ("3", "2026-05"). Change it whenever
	// the inventory changes: consent is bound to the notice's ID, version and
	// SHA-256, and a ledger asks again for consent given under another one.
	Version string `json:"version"`
	// Language is the notice's language as a BCP 47 tag ("en", "de-AT").
	Language string `json:"language"`
	// Product is the device as the user knows it ("Acme SP-100 Smart Plug").
	Product string `json:"product"`
	// Controller is who decides what is done with the data.
	Controller Controller `json:"controller"`
	// Categories are the kinds of personal data the device or its services
	// process. Each must be used by at least one purpose.
	Categories []Category `json:"categories"`
	// Purposes say why each category is processed, on what legal basis, by
	// whom and for how long.
	Purposes []Purpose `json:"purposes"`
	// Recipients are everyone who receives personal data from the device
	// or its services, third parties included.
	Recipients []Recipient `json:"recipients"`
	// Sensors are the device's external sensing capabilities (5.8-3), with
	// or without personal data.
	Sensors []Sensor `json:"sensors"`
}

// Controller is the party responsible for the processing (the GDPR's
// controller, ISO/IEC 29100's PII controller).
type Controller struct {
	// Name is the legal name.
	Name string `json:"name"`
	// Contact is an e-mail address or a mailto:, https: or tel: URI where
	// users exercise their rights.
	Contact string `json:"contact"`
	// PolicyURL is the https URL of the full privacy policy.
	PolicyURL string `json:"policy_url"`
}

// Category is a kind of personal data.
type Category struct {
	// ID identifies the category in purposes, sensors and telemetry fields.
	ID string `json:"id"`
	// Name is what the notice calls it ("Energy use of the plugged-in
	// appliance").
	Name string `json:"name"`
	// Description says in plain words what it is and what it can reveal.
	Description string `json:"description"`
	// Sensitive marks special-category data (GDPR Art. 9) or data whose
	// disclosure could harm the user (5.8-2): the device sends it only over
	// a verified TLS channel or in an HPKE envelope.
	Sensitive bool `json:"sensitive"`
	// Linked says whether the data is linked to the user's identity (the
	// account, the device's owner).
	Linked bool `json:"linked"`
	// Tracking says whether the data is used to follow the user across
	// other companies' apps, sites or devices.
	Tracking bool `json:"tracking"`
	// Source is "user" (entered by the user), "device" (produced by the
	// device's operation) or the ID of one of the inventory's sensors.
	Source string `json:"source"`
	// Storage lists where it is kept: "device", "cloud" or both.
	Storage []string `json:"storage"`
}

// LegalBasis is a lawful basis for processing personal data (GDPR Art. 6(1)).
type LegalBasis string

// Legal bases, GDPR Art. 6(1)(a)–(f).
const (
	BasisConsent             LegalBasis = "consent"
	BasisContract            LegalBasis = "contract"
	BasisLegalObligation     LegalBasis = "legal_obligation"
	BasisVitalInterests      LegalBasis = "vital_interests"
	BasisPublicTask          LegalBasis = "public_task"
	BasisLegitimateInterests LegalBasis = "legitimate_interests"
)

var basisWords = map[LegalBasis]string{
	BasisConsent:             "your consent",
	BasisContract:            "the contract with you (the device cannot provide its service without it)",
	BasisLegalObligation:     "a legal obligation",
	BasisVitalInterests:      "protecting someone's life or health",
	BasisPublicTask:          "a task in the public interest",
	BasisLegitimateInterests: "our legitimate interests",
}

// Purpose is one reason for processing personal data.
type Purpose struct {
	// ID identifies the purpose in the consent ledger and telemetry schema.
	ID string `json:"id"`
	// Description says in plain words what is done and why.
	Description string `json:"description"`
	// LegalBasis is the basis the processing rests on. Only a purpose
	// resting on consent is asked for in the consent ledger, and only such a
	// purpose can be refused or withdrawn there.
	LegalBasis LegalBasis `json:"legal_basis"`
	// Categories lists the category IDs processed for the purpose (at
	// least one).
	Categories []string `json:"categories"`
	// Recipients lists the recipient IDs that receive the data for the
	// purpose; empty means the data stays on the device.
	Recipients []string `json:"recipients"`
	// RetentionDays is how long the data is kept for the purpose; 0 means
	// it is not kept once the purpose is served.
	RetentionDays int `json:"retention_days"`
}

// Role says what a recipient is to the controller.
type Role string

// Recipient roles.
const (
	// RoleController: the controller itself (the manufacturer's own
	// service).
	RoleController Role = "controller"
	// RoleProcessor: processes data on the controller's behalf and for no
	// purpose of its own (a cloud host).
	RoleProcessor Role = "processor"
	// RoleThirdParty: uses the data for its own purposes.
	RoleThirdParty Role = "third_party"
)

// Recipient is someone who receives personal data.
type Recipient struct {
	// ID identifies the recipient in purposes and telemetry fields.
	ID string `json:"id"`
	// Name is the recipient's name as the user would recognise it.
	Name string `json:"name"`
	// Role is controller, processor or third_party.
	Role Role `json:"role"`
	// Country is where the recipient processes the data, as an ISO 3166-1
	// alpha-2 code ("DE", "US").
	Country string `json:"country"`
	// Sold says whether the data is sold to this recipient.
	Sold bool `json:"sold"`
}

// SensorKinds are the kinds of sensor an inventory may declare.
var SensorKinds = []string{
	"camera", "microphone", "motion", "presence", "location", "temperature",
	"humidity", "light", "contact", "power", "acceleration", "other",
}

// Sensor is one external sensing capability of the device (5.8-3).
type Sensor struct {
	// ID identifies the sensor in categories.
	ID string `json:"id"`
	// Kind is one of [SensorKinds].
	Kind string `json:"kind"`
	// Description says what it senses and when ("measures the current drawn
	// by the plugged-in appliance, once a second").
	Description string `json:"description"`
	// Indicator says how the user can tell it is active ("the blue LED"), or
	// is empty when nothing shows it.
	Indicator string `json:"indicator"`
	// UserCanDisable says whether the user can switch it off.
	UserCanDisable bool `json:"user_can_disable"`
	// Categories lists the personal-data categories it produces; empty when
	// what it senses is not personal data.
	Categories []string `json:"categories"`
}

var storageWords = map[string]bool{"device": true, "cloud": true}

// DecodeInventory reads an inventory strictly: at most [MaxInventorySize]
// bytes; no unknown, repeated or wrongly typed fields; no trailing data; then
// [Inventory.Validate]. Every error is an [*InventoryError] naming the field.
func DecodeInventory(r io.Reader) (*Inventory, error) {
	data, err := readBounded(r, MaxInventorySize)
	if err != nil {
		return nil, &InventoryError{Reason: err.Error()}
	}
	var inv Inventory
	if err := decodeStrict(data, &inv); err != nil {
		return nil, invErr(err)
	}
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	return &inv, nil
}

func invErr(err error) error {
	var se *strictError
	if errors.As(err, &se) {
		return &InventoryError{Field: se.field, Reason: se.reason}
	}
	return &InventoryError{Reason: err.Error()}
}

// Validate checks every field and reference of the inventory and returns an
// [*InventoryError] naming the first field that is wrong: identifiers are
// well formed and unique; names and descriptions are present, bounded and
// free of control characters; references name existing categories,
// recipients and sensors; every category is used by a purpose; legal bases,
// roles, storage places and sensor kinds are known; the policy URL is https.
func (inv *Inventory) Validate() error {
	v := validator{}
	v.check(inv.Schema == InventorySchema, "schema", "must be %q", InventorySchema)
	v.id("notice_id", inv.NoticeID)
	v.name("version", inv.Version, true)
	v.check(isLangTag(inv.Language), "language", "must be a BCP 47 language tag such as \"en\" or \"de-AT\"")
	v.name("product", inv.Product, true)
	v.name("controller.name", inv.Controller.Name, true)
	v.check(validContact(inv.Controller.Contact), "controller.contact", "must be an e-mail address or a mailto:, https: or tel: URI")
	v.check(isHTTPS(inv.Controller.PolicyURL), "controller.policy_url", "must be an https URL")

	sensors := map[string]bool{}
	v.check(len(inv.Sensors) <= MaxItems, "sensors", "more than %d items", MaxItems)
	for i, s := range inv.Sensors {
		p := fmt.Sprintf("sensors[%d]", i)
		if v.id(p+".id", s.ID) {
			v.check(!sensors[s.ID], p+".id", "repeats %q", s.ID)
			sensors[s.ID] = true
		}
		v.check(slices.Contains(SensorKinds, s.Kind), p+".kind", "unknown kind %q (one of %s)", s.Kind, strings.Join(SensorKinds, ", "))
		v.text(p+".description", s.Description, true)
		v.name(p+".indicator", s.Indicator, false)
	}

	cats := map[string]*Category{}
	v.check(len(inv.Categories) <= MaxItems, "categories", "more than %d items", MaxItems)
	for i := range inv.Categories {
		c := &inv.Categories[i]
		p := fmt.Sprintf("categories[%d]", i)
		if v.id(p+".id", c.ID) {
			v.check(cats[c.ID] == nil, p+".id", "repeats %q", c.ID)
			cats[c.ID] = c
		}
		v.name(p+".name", c.Name, true)
		v.text(p+".description", c.Description, true)
		v.check(c.Source == "user" || c.Source == "device" || sensors[c.Source], p+".source",
			"must be \"user\", \"device\" or a sensor ID, not %q", c.Source)
		v.check(len(c.Storage) > 0, p+".storage", "must list where the data is kept (\"device\", \"cloud\")")
		for j, s := range c.Storage {
			q := fmt.Sprintf("%s.storage[%d]", p, j)
			v.check(storageWords[s], q, "must be \"device\" or \"cloud\", not %q", s)
			v.check(!slices.Contains(c.Storage[:j], s), q, "repeats %q", s)
		}
	}

	recips := map[string]bool{}
	v.check(len(inv.Recipients) <= MaxItems, "recipients", "more than %d items", MaxItems)
	for i, r := range inv.Recipients {
		p := fmt.Sprintf("recipients[%d]", i)
		if v.id(p+".id", r.ID) {
			v.check(!recips[r.ID], p+".id", "repeats %q", r.ID)
			recips[r.ID] = true
		}
		v.name(p+".name", r.Name, true)
		v.check(r.Role == RoleController || r.Role == RoleProcessor || r.Role == RoleThirdParty, p+".role",
			"must be controller, processor or third_party, not %q", r.Role)
		v.check(isCountry(r.Country), p+".country", "must be an ISO 3166-1 alpha-2 code such as \"DE\", not %q", r.Country)
	}

	for i, s := range inv.Sensors {
		p := fmt.Sprintf("sensors[%d].categories", i)
		v.refs(p, s.Categories, func(id string) bool { return cats[id] != nil }, "category")
	}

	used := map[string]bool{}
	purposes := map[string]bool{}
	v.check(len(inv.Purposes) > 0 || len(inv.Categories) == 0, "purposes", "categories are declared but no purpose")
	v.check(len(inv.Purposes) <= MaxItems, "purposes", "more than %d items", MaxItems)
	for i, pu := range inv.Purposes {
		p := fmt.Sprintf("purposes[%d]", i)
		if v.id(p+".id", pu.ID) {
			v.check(!purposes[pu.ID], p+".id", "repeats %q", pu.ID)
			purposes[pu.ID] = true
		}
		v.text(p+".description", pu.Description, true)
		v.check(basisWords[pu.LegalBasis] != "", p+".legal_basis", "unknown legal basis %q (consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests)", pu.LegalBasis)
		v.check(len(pu.Categories) > 0, p+".categories", "must list at least one category")
		v.refs(p+".categories", pu.Categories, func(id string) bool { return cats[id] != nil }, "category")
		v.refs(p+".recipients", pu.Recipients, func(id string) bool { return recips[id] }, "recipient")
		v.check(pu.RetentionDays >= 0 && pu.RetentionDays <= MaxRetentionDays, p+".retention_days", "must be 0…%d", MaxRetentionDays)
		for _, c := range pu.Categories {
			used[c] = true
		}
	}
	for i, c := range inv.Categories {
		if c.ID != "" && !used[c.ID] {
			v.fail(fmt.Sprintf("categories[%d]", i), "%q is not processed for any purpose: declare the purpose or remove the category", c.ID)
		}
	}
	return v.err
}

// Purpose returns the purpose with the given ID.
func (inv *Inventory) Purpose(id string) (Purpose, bool) {
	for _, p := range inv.Purposes {
		if p.ID == id {
			return p, true
		}
	}
	return Purpose{}, false
}

// Category returns the category with the given ID.
func (inv *Inventory) Category(id string) (Category, bool) {
	for _, c := range inv.Categories {
		if c.ID == id {
			return c, true
		}
	}
	return Category{}, false
}

// Recipient returns the recipient with the given ID.
func (inv *Inventory) Recipient(id string) (Recipient, bool) {
	for _, r := range inv.Recipients {
		if r.ID == id {
			return r, true
		}
	}
	return Recipient{}, false
}

// clone returns a deep copy, so that a caller changing its inventory after
// building a notice or an exporter changes neither.
func (inv *Inventory) clone() *Inventory {
	c := *inv
	c.Categories = slices.Clone(inv.Categories)
	for i := range c.Categories {
		c.Categories[i].Storage = slices.Clone(c.Categories[i].Storage)
	}
	c.Purposes = slices.Clone(inv.Purposes)
	for i := range c.Purposes {
		c.Purposes[i].Categories = slices.Clone(c.Purposes[i].Categories)
		c.Purposes[i].Recipients = slices.Clone(c.Purposes[i].Recipients)
	}
	c.Recipients = slices.Clone(inv.Recipients)
	c.Sensors = slices.Clone(inv.Sensors)
	for i := range c.Sensors {
		c.Sensors[i].Categories = slices.Clone(c.Sensors[i].Categories)
	}
	return &c
}

// validator collects the first error; mk builds it (an *InventoryError
// unless set).
type validator struct {
	err error
	mk  func(field, reason string) error
}

func (v *validator) fail(field, format string, args ...any) {
	if v.err == nil {
		if v.mk == nil {
			v.err = &InventoryError{Field: field, Reason: fmt.Sprintf(format, args...)}
		} else {
			v.err = v.mk(field, fmt.Sprintf(format, args...))
		}
	}
}

func (v *validator) check(ok bool, field, format string, args ...any) {
	if !ok {
		v.fail(field, format, args...)
	}
}

func (v *validator) id(field, s string) bool {
	if !isID(s) {
		v.fail(field, "must be 1…%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit, not %q", MaxIDLen, clip(s))
		return false
	}
	return true
}

func (v *validator) name(field, s string, required bool) {
	switch {
	case s == "" && required:
		v.fail(field, "is required")
	case len(s) > MaxNameLen:
		v.fail(field, "longer than %d bytes", MaxNameLen)
	case !cleanText(s, false):
		v.fail(field, "holds invalid UTF-8, control or bidirectional-override characters")
	case s != strings.TrimSpace(s):
		v.fail(field, "has leading or trailing space")
	}
}

func (v *validator) text(field, s string, required bool) {
	switch {
	case s == "" && required:
		v.fail(field, "is required")
	case len(s) > MaxTextLen:
		v.fail(field, "longer than %d bytes", MaxTextLen)
	case !cleanText(s, true):
		v.fail(field, "holds invalid UTF-8, control or bidirectional-override characters")
	}
}

func (v *validator) refs(field string, ids []string, exists func(string) bool, what string) {
	if len(ids) > MaxItems {
		v.fail(field, "more than %d items", MaxItems)
		return
	}
	for j, id := range ids {
		p := fmt.Sprintf("%s[%d]", field, j)
		switch {
		case !exists(id):
			v.fail(p, "no %s %q is declared", what, clip(id))
		case slices.Contains(ids[:j], id):
			v.fail(p, "repeats %q", id)
		}
	}
}

func clip(s string) string {
	if len(s) > MaxIDLen {
		s = s[:MaxIDLen] + "…"
	}
	return s
}

func isID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// cleanText reports whether s is valid UTF-8 without control characters
// (newlines allowed where multiline), line or paragraph separators, or
// bidirectional controls, which could make a notice read differently from
// what it says.
func cleanText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\n' && multiline {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

func isLangTag(s string) bool {
	if len(s) == 0 || len(s) > 35 {
		return false
	}
	for i, part := range strings.Split(s, "-") {
		if len(part) == 0 || len(part) > 8 || (i == 0 && (len(part) < 2 || len(part) > 3)) {
			return false
		}
		for j := 0; j < len(part); j++ {
			c := part[j] | 0x20
			if !(c >= 'a' && c <= 'z') && !(i > 0 && part[j] >= '0' && part[j] <= '9') {
				return false
			}
		}
	}
	return true
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func isHTTPS(s string) bool {
	if len(s) > MaxNameLen*2 || !cleanText(s, false) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

func validContact(s string) bool {
	if s == "" || len(s) > MaxNameLen || !cleanText(s, false) || strings.ContainsAny(s, " <>\"") {
		return false
	}
	switch {
	case strings.HasPrefix(s, "https:"):
		return isHTTPS(s)
	case strings.HasPrefix(s, "tel:"):
		return len(s) > len("tel:+1")
	case strings.HasPrefix(s, "mailto:"):
		s = strings.TrimPrefix(s, "mailto:")
	}
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.Contains(s[at+1:], "@") && strings.Contains(s[at+1:], ".")
}

// readBounded reads all of r, refusing more than max bytes.
func readBounded(r io.Reader, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > max {
		return nil, fmt.Errorf("document larger than %d bytes", max)
	}
	return data, nil
}

// strictError is a JSON document error with the path of the field.
type strictError struct{ field, reason string }

func (e *strictError) Error() string { return e.field + ": " + e.reason }

// decodeStrict decodes one JSON value into v: repeated object keys,
// unknown fields, wrongly typed values and trailing data are refused, with
// the path of the field concerned.
func decodeStrict(data []byte, v any) error {
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &strictError{field: te.Field, reason: "wrong type: " + te.Value + " where " + te.Type.String() + " is expected"}
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &strictError{field: strings.Trim(msg, `"`), reason: "unknown field"}
		}
		return &strictError{reason: "malformed JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &strictError{reason: "trailing data after the document"}
	}
	return nil
}

// checkKeys walks the document's tokens alongside the Go type it will be
// decoded into, and refuses an object with a repeated key (encoding/json
// would silently keep the last one) or a key the type does not have, naming
// its path.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj    bool
		typ    reflect.Type // the object's or array's type, nil if unchecked
		keys   map[string]bool
		path   string
		idx    int
		key    string
		child  reflect.Type
		expKey bool
	}
	var stack []*frame
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return stack[len(stack)-1]
	}
	// valuePath and valueType describe the value about to be read.
	valuePath := func() string {
		f := top()
		switch {
		case f == nil:
			return ""
		case f.obj && f.path == "":
			return f.key
		case f.obj:
			return f.path + "." + f.key
		}
		return f.path + "[" + strconv.Itoa(f.idx) + "]"
	}
	valueType := func() reflect.Type {
		f := top()
		switch {
		case f == nil:
			return t
		case f.obj:
			return f.child
		case f.typ != nil && (f.typ.Kind() == reflect.Slice || f.typ.Kind() == reflect.Array):
			return f.typ.Elem()
		}
		return nil
	}
	done := func() {
		if f := top(); f != nil {
			if f.obj {
				f.expKey = true
			} else {
				f.idx++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &strictError{field: valuePath(), reason: "malformed JSON: " + err.Error()}
		}
		if f := top(); f != nil && f.obj && f.expKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				done()
				continue
			}
			k, _ := tok.(string)
			f.key = k
			if f.keys[k] {
				return &strictError{field: valuePath(), reason: "repeated field"}
			}
			f.keys[k] = true
			f.child = nil
			if f.typ != nil {
				switch f.typ.Kind() {
				case reflect.Struct:
					ft, ok := jsonField(f.typ, k)
					if !ok {
						return &strictError{field: valuePath(), reason: "unknown field"}
					}
					f.child = ft
				case reflect.Map:
					f.child = f.typ.Elem()
				}
			}
			f.expKey = false
			continue
		}
		vt := valueType()
		for vt != nil && vt.Kind() == reflect.Pointer {
			vt = vt.Elem()
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, typ: vt, keys: map[string]bool{}, path: valuePath(), expKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{typ: vt, path: valuePath()})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
	}
}

// jsonField returns the type of the struct field JSON calls key (exact
// match of the tag name; the SDK's documents are lower-case throughout).
func jsonField(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}
