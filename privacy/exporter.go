package privacy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Record is one telemetry record: field name → value. Values may be
// string, bool, any Go integer or float type, or time.Time; any other type
// is not sent (counted as malformed).
type Record map[string]any

// ConsentChecker answers whether subject's consent for purpose is in
// force. *[Ledger] implements it.
type ConsentChecker interface {
	Allowed(ctx context.Context, subject, purpose string) bool
}

// Transport sends one message to an associated service. The reference
// device wires it to its MQTT link. Send must not keep Body after it
// returns.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Message is what the exporter sends to one recipient for one record.
type Message struct {
	// Recipient is the inventory recipient ID.
	Recipient string
	// Purposes lists the purposes of the fields in Body, sorted.
	Purposes []string
	// Body is a JSON object of the minimised fields, in schema order.
	Body []byte
	// Personal says that Body holds a field of a personal-data category.
	Personal bool
	// Sensitive says that Body holds a field of a sensitive category
	// (5.8-2): send it only over a verified TLS channel or sealed ([Protect]
	// enforces this).
	Sensitive bool
	// Sealed says that Body is an HPKE envelope of the JSON ([Protect] with
	// a [Sealer] sets it).
	Sealed bool
}

// ExporterConfig configures [NewExporter].
type ExporterConfig struct {
	// Notice is the notice in force; the schema is checked against its
	// inventory (required).
	Notice *Notice
	// Schema declares the fields (required).
	Schema *Schema
	// Consent answers for purposes resting on consent; required when any
	// schema field serves one. Usually the device's *Ledger.
	Consent ConsentChecker
	// Transport sends the messages (required).
	Transport Transport
	// Pseudonyms makes RulePseudonym's pseudonyms; nil means a
	// Pseudonymizer with DefaultPseudonymPeriod.
	Pseudonyms *Pseudonymizer
	// SentLogSize bounds the local log of sent messages; zero means
	// DefaultSentLogSize.
	SentLogSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// DefaultSentLogSize is how many sent messages the exporter remembers.
const DefaultSentLogSize = 256

// maxSentBody bounds the copy of a body kept in the sent log.
const maxSentBody = 4096

// Exporter sends telemetry the schema declares and nothing else (provision
// 6-4): an undeclared field is dropped and counted, each field is minimised
// by its rule, a field whose purpose rests on consent is sent only while
// the subject's consent is in force — asked before every record — and each
// message sent is kept in a bounded local log the device can show its
// owner. It is safe for concurrent use.
type Exporter struct {
	cfg      ExporterConfig
	schema   *Schema
	fields   map[string]int // name → index in specs
	specs    []fieldSpec
	purposes []string // distinct purposes, schema order
	manifest *Manifest
	pseudo   *Pseudonymizer
	logger   *slog.Logger

	stats struct {
		records, messages, fields, undeclared, withheld, dropped, malformed, sendErrors atomic.Uint64
	}
	lmu  sync.Mutex
	sent []SentEntry
	next int
	full bool
}

type fieldSpec struct {
	Field
	consent   bool // purpose rests on consent
	purpose   int  // index into purposes
	sensitive bool
	key       []byte // `"name":`
}

// NewExporter checks the schema against the notice's inventory, builds the
// telemetry manifest and returns the exporter.
func NewExporter(cfg ExporterConfig) (*Exporter, error) {
	if cfg.Notice == nil || cfg.Schema == nil || cfg.Transport == nil {
		return nil, errors.New("privacy: ExporterConfig needs Notice, Schema and Transport")
	}
	s := cfg.Schema.clone()
	m, err := NewManifest(cfg.Notice, s)
	if err != nil {
		return nil, err
	}
	e := &Exporter{cfg: cfg, schema: s, fields: map[string]int{}, manifest: m, pseudo: cfg.Pseudonyms, logger: cfg.Logger}
	if e.pseudo == nil {
		e.pseudo = NewPseudonymizer(0, cfg.Now)
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.cfg.SentLogSize <= 0 {
		e.cfg.SentLogSize = DefaultSentLogSize
	}
	inv := cfg.Notice.inv
	for _, f := range s.Fields {
		p, _ := inv.Purpose(f.Purpose)
		c, _ := inv.Category(f.Category)
		spec := fieldSpec{Field: f, consent: p.LegalBasis == BasisConsent, sensitive: c.Sensitive,
			key: append(appendJSONString(nil, f.Name), ':')}
		if spec.consent && cfg.Consent == nil {
			return nil, fmt.Errorf("privacy: field %q serves purpose %q, which rests on consent, and ExporterConfig.Consent is nil", f.Name, f.Purpose)
		}
		spec.purpose = slices.Index(e.purposes, f.Purpose)
		if spec.purpose < 0 {
			spec.purpose = len(e.purposes)
			e.purposes = append(e.purposes, f.Purpose)
		}
		e.fields[f.Name] = len(e.specs)
		e.specs = append(e.specs, spec)
	}
	return e, nil
}

// Manifest returns the telemetry manifest generated from the exporter's
// schema and notice.
func (e *Exporter) Manifest() *Manifest { return e.manifest }

// ExportStats counts what the exporter did since it was made.
type ExportStats struct {
	// Records is the number of records given to Export.
	Records uint64
	// Messages and Fields count what was sent.
	Messages, Fields uint64
	// Undeclared counts fields dropped because the schema does not declare
	// them; Withheld counts fields not sent for lack of consent; Dropped
	// counts fields whose rule is drop; Malformed counts values of a type
	// or range their rule cannot take.
	Undeclared, Withheld, Dropped, Malformed uint64
	// SendErrors counts messages the transport failed to send.
	SendErrors uint64
}

// Stats returns the counters.
func (e *Exporter) Stats() ExportStats {
	s := &e.stats
	return ExportStats{Records: s.records.Load(), Messages: s.messages.Load(), Fields: s.fields.Load(), Undeclared: s.undeclared.Load(),
		Withheld: s.withheld.Load(), Dropped: s.dropped.Load(), Malformed: s.malformed.Load(), SendErrors: s.sendErrors.Load()}
}

// SentEntry is one message in the local log of what was sent.
type SentEntry struct {
	// At is when it was sent; Recipient and Purposes are the message's.
	At        time.Time
	Recipient string
	Purposes  []string
	// Body is what was sent (cut at 4 KiB).
	Body []byte
}

// Sent returns the local log of sent messages, oldest first (at most
// ExporterConfig.SentLogSize of them).
func (e *Exporter) Sent() []SentEntry {
	e.lmu.Lock()
	defer e.lmu.Unlock()
	if !e.full {
		return slices.Clone(e.sent)
	}
	return append(slices.Clone(e.sent[e.next:]), e.sent[:e.next]...)
}

func (e *Exporter) logSent(at time.Time, m *Message) {
	b := m.Body
	if len(b) > maxSentBody {
		b = b[:maxSentBody]
	}
	ent := SentEntry{At: at, Recipient: m.Recipient, Purposes: slices.Clone(m.Purposes), Body: slices.Clone(b)}
	e.lmu.Lock()
	if len(e.sent) < e.cfg.SentLogSize {
		e.sent = append(e.sent, ent)
	} else {
		e.sent[e.next] = ent
		e.next = (e.next + 1) % e.cfg.SentLogSize
		e.full = true
	}
	e.lmu.Unlock()
}

// counts are one record's tallies, added to the exporter's by Export.
type counts struct{ fields, undeclared, withheld, dropped, malformed uint64 }

// Export filters and minimises one record on behalf of subject (whose
// consent governs the consent-based purposes) and sends one message per
// recipient through the transport. Consent is asked for every purpose of
// the record each time, so a withdrawal stops the very next record. It
// returns the transport's errors, joined; undeclared, withheld and
// malformed fields are not errors, only counted.
func (e *Exporter) Export(ctx context.Context, subject string, rec Record) error {
	e.stats.records.Add(1)
	var c counts
	msgs := e.prepare(ctx, subject, rec, e.cfg.Consent, &c)
	e.stats.fields.Add(c.fields)
	e.stats.undeclared.Add(c.undeclared)
	e.stats.withheld.Add(c.withheld)
	e.stats.dropped.Add(c.dropped)
	e.stats.malformed.Add(c.malformed)
	if c.undeclared > 0 {
		e.logger.Warn("privacy: undeclared telemetry fields dropped", "count", c.undeclared)
	}
	var errs []error
	for i := range msgs {
		if err := e.cfg.Transport.Send(ctx, msgs[i]); err != nil {
			e.stats.sendErrors.Add(1)
			errs = append(errs, fmt.Errorf("privacy: sending telemetry to %s: %w", msgs[i].Recipient, err))
			continue
		}
		e.stats.messages.Add(1)
		e.logSent(e.now(), &msgs[i])
	}
	return errors.Join(errs...)
}

func (e *Exporter) now() time.Time {
	if e.cfg.Now != nil {
		return e.cfg.Now()
	}
	return time.Now()
}

// prepare is the whole filter: what it returns is all that may leave.
func (e *Exporter) prepare(ctx context.Context, subject string, rec Record, consent ConsentChecker, c *counts) []Message {
	for name := range rec {
		if _, ok := e.fields[name]; !ok {
			c.undeclared++
		}
	}
	// Consent is asked once per purpose per record: 0 unknown, 1 yes, 2 no.
	var askedBuf [16]uint8
	var asked []uint8
	if len(e.purposes) <= len(askedBuf) {
		asked = askedBuf[:len(e.purposes)]
	} else {
		asked = make([]uint8, len(e.purposes))
	}
	var msgs []Message
	var buf [64]byte
	for i := range e.specs {
		s := &e.specs[i]
		v, ok := rec[s.Name]
		if !ok {
			continue
		}
		if s.Rule.Kind == RuleDrop {
			c.dropped++
			continue
		}
		if s.consent {
			if asked[s.purpose] == 0 {
				asked[s.purpose] = 2
				if consent.Allowed(ctx, subject, s.Purpose) {
					asked[s.purpose] = 1
				}
			}
			if asked[s.purpose] != 1 {
				c.withheld++
				continue
			}
		}
		val, ok := e.minimise(s, v, buf[:0])
		if !ok {
			c.malformed++
			continue
		}
		m := msgFor(&msgs, s.Recipient)
		if len(m.Body) == 0 {
			m.Body = append(make([]byte, 0, 256), '{')
		} else {
			m.Body = append(m.Body, ',')
		}
		m.Body = append(m.Body, s.key...)
		m.Body = append(m.Body, val...)
		m.Sensitive = m.Sensitive || s.sensitive
		m.Personal = m.Personal || s.Category != ""
		if !slices.Contains(m.Purposes, s.Purpose) {
			m.Purposes = append(m.Purposes, s.Purpose)
		}
		c.fields++
	}
	for i := range msgs {
		msgs[i].Body = append(msgs[i].Body, '}')
		slices.Sort(msgs[i].Purposes)
	}
	return msgs
}

func msgFor(msgs *[]Message, recipient string) *Message {
	for i := range *msgs {
		if (*msgs)[i].Recipient == recipient {
			return &(*msgs)[i]
		}
	}
	*msgs = append(*msgs, Message{Recipient: recipient})
	return &(*msgs)[len(*msgs)-1]
}

// minimise checks v against the field's type, applies the field's rule
// and appends the JSON value.
func (e *Exporter) minimise(s *fieldSpec, v any, dst []byte) ([]byte, bool) {
	if !hasType(v, s.Type) {
		return nil, false
	}
	if t, ok := v.(time.Time); ok {
		switch s.Rule.Kind {
		case RuleKeep:
			return appendJSONString(dst, t.UTC().Format(time.RFC3339Nano)), true
		case RuleCoarsen:
			step := time.Duration(s.Rule.Step * float64(time.Second))
			if step <= 0 {
				return nil, false
			}
			return appendJSONString(dst, t.UTC().Truncate(step).Format(time.RFC3339Nano)), true
		}
		return nil, false
	}
	if str, ok := v.(string); ok {
		switch s.Rule.Kind {
		case RuleKeep:
			return appendJSONString(dst, str), true
		case RulePseudonym:
			return appendJSONString(dst, e.pseudo.Pseudonym(s.Name, str)), true
		}
		return nil, false
	}
	if b, ok := v.(bool); ok {
		if s.Rule.Kind != RuleKeep {
			return nil, false
		}
		return strconv.AppendBool(dst, b), true
	}
	f, isInt, ok := number(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	switch s.Rule.Kind {
	case RuleKeep:
		if isInt {
			return appendInt(dst, v), true
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), true
	case RuleCoarsen:
		return strconv.AppendFloat(dst, math.Floor(f/s.Rule.Step)*s.Rule.Step, 'g', -1, 64), true
	case RuleBucket:
		return appendJSONString(dst, bucket(s.Rule.Bounds, f)), true
	case RulePseudonym:
		if !isInt {
			return nil, false
		}
		return appendJSONString(dst, e.pseudo.Pseudonym(s.Name, string(appendInt(nil, v)))), true
	}
	return nil, false
}

func hasType(v any, t FieldType) bool {
	switch v.(type) {
	case string:
		return t == TypeString
	case bool:
		return t == TypeBool
	case time.Time:
		return t == TypeTime
	case float32, float64:
		return t == TypeNumber
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return t == TypeNumber || t == TypeInteger
	}
	return false
}

func number(v any) (f float64, isInt, ok bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true, true
	case int8:
		return float64(x), true, true
	case int16:
		return float64(x), true, true
	case int32:
		return float64(x), true, true
	case int64:
		return float64(x), true, true
	case uint:
		return float64(x), true, true
	case uint8:
		return float64(x), true, true
	case uint16:
		return float64(x), true, true
	case uint32:
		return float64(x), true, true
	case uint64:
		return float64(x), true, true
	case float32:
		return float64(x), false, true
	case float64:
		return x, false, true
	}
	return 0, false, false
}

func appendInt(dst []byte, v any) []byte {
	switch x := v.(type) {
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int8:
		return strconv.AppendInt(dst, int64(x), 10)
	case int16:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	}
	return dst
}

// bucket names the range of bounds f falls in.
func bucket(bounds []float64, f float64) string {
	fmtF := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	if f < bounds[0] {
		return "<" + fmtF(bounds[0])
	}
	for i := 1; i < len(bounds); i++ {
		if f < bounds[i] {
			return fmtF(bounds[i-1]) + "-<" + fmtF(bounds[i])
		}
	}
	return ">=" + fmtF(bounds[len(bounds)-1])
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexd[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DefaultPseudonymPeriod is how long a pseudonym key lives unless
// NewPseudonymizer is told otherwise.
const DefaultPseudonymPeriod = 24 * time.Hour

// Pseudonymizer makes keyed pseudonyms for RulePseudonym: HMAC-SHA256 over
// the field name and the value, under a 256-bit key drawn from crypto/rand
// for each period and forgotten when the period ends. Within a period one
// value always gives the same pseudonym (a service can count distinct
// devices or sessions); across periods, and across reboots, they cannot be
// linked — not even by the device. The key is never written to flash and
// never printed.
//
// A pseudonym reads "p<period>-<22 base64url characters>" (128 bits of the
// MAC).
type Pseudonymizer struct {
	mu     sync.Mutex
	period time.Duration
	now    func() time.Time
	epoch  int64
	mac    hash.Hash
	sum    []byte
	out    []byte
}

// NewPseudonymizer returns a Pseudonymizer whose key changes every period
// (zero means DefaultPseudonymPeriod; at least one minute), aligned to the
// Unix epoch, on the clock now (nil means time.Now).
func NewPseudonymizer(period time.Duration, now func() time.Time) *Pseudonymizer {
	if period <= 0 {
		period = DefaultPseudonymPeriod
	}
	period = max(period, time.Minute)
	if now == nil {
		now = time.Now
	}
	return &Pseudonymizer{period: period, now: now, epoch: math.MinInt64}
}

// Pseudonym returns the pseudonym of value in field for the current period.
func (p *Pseudonymizer) Pseudonym(field, value string) string {
	epoch := p.now().UnixNano() / int64(p.period)
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch != p.epoch {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("privacy: crypto/rand failed: " + err.Error())
		}
		p.mac, p.epoch = hmac.New(sha256.New, key), epoch
		clear(key)
	}
	p.mac.Reset()
	p.mac.Write([]byte(field))
	p.mac.Write([]byte{0})
	p.mac.Write([]byte(value))
	p.sum = p.mac.Sum(p.sum[:0])
	p.out = append(p.out[:0], 'p')
	p.out = strconv.AppendInt(p.out, epoch, 10)
	p.out = append(p.out, '-')
	p.out = base64.RawURLEncoding.AppendEncode(p.out, p.sum[:16])
	return string(p.out)
}

// String never shows the key.
func (p *Pseudonymizer) String() string {
	return fmt.Sprintf("privacy.Pseudonymizer{period: %v}", p.period)
}
