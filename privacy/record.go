package privacy

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/iotbaseline/baseline/internal/wire"
)

// Kind is what a consent event records.
type Kind uint8

// Consent event kinds.
const (
	// Given: the user agreed to the purpose after seeing the notice.
	Given Kind = 1
	// Refused: the user declined the purpose after seeing the notice.
	Refused Kind = 2
	// Withdrawn: the user took back consent given earlier.
	Withdrawn Kind = 3
	// Expired: consent given with an end date reached it (recorded by the
	// device, see [Ledger.ExpireDue]).
	Expired Kind = 4
)

var kindNames = [...]string{Given: "given", Refused: "refused", Withdrawn: "withdrawn", Expired: "expired"}

// String returns "given", "refused", "withdrawn" or "expired".
func (k Kind) String() string {
	if k >= Given && k <= Expired {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if k < Given || k > Expired {
		return nil, fmt.Errorf("privacy: unknown consent kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i := Given; i <= Expired; i++ {
		if string(b) == kindNames[i] {
			*k = i
			return nil
		}
	}
	return fmt.Errorf("privacy: unknown consent kind %q", clip(string(b)))
}

// Limits of a ledger record.
const (
	// MaxSubjectLen bounds a subject (the account or person a decision is
	// about).
	MaxSubjectLen = 128
	// MaxMethodLen bounds a collection method ("app", "web-ui", "button").
	MaxMethodLen = 64
	// MaxLedgerRecord bounds one encoded ledger record.
	MaxLedgerRecord = 4096
	maxSigLen       = 1024
	maxKeyLen       = 2048
)

const (
	recVersion   = 1
	recHeader    = 0
	recEvent     = 1
	sigDomain    = "baseline.privacy.ledger/v1\x00"
	ledgerIDSize = 16
)

// record is one decoded ledger record: the header (seq 0) or an event.
type record struct {
	typ  byte
	seq  uint64
	prev [32]byte
	at   int64 // Unix milliseconds
	// header
	ledgerID [ledgerIDSize]byte
	spki     []byte
	// event
	kind     Kind
	expires  int64 // Unix milliseconds, 0 = none
	subject  string
	purpose  string
	method   string
	notice   string
	version  string
	noticeH  [32]byte
	sig      []byte
	bodyLen  int // bytes of the encoding before the signature
	raw      []byte
	hash     [32]byte // SHA-256 of raw
	hashDone bool
}

// appendBody appends the record's encoding without its signature.
func (r *record) appendBody(b []byte) []byte {
	b = append(b, recVersion, r.typ)
	b = binary.AppendUvarint(b, r.seq)
	b = wire.AppendBytes(b, r.prev[:])
	b = binary.AppendVarint(b, r.at)
	if r.typ == recHeader {
		b = wire.AppendBytes(b, r.ledgerID[:])
		return wire.AppendBytes(b, r.spki)
	}
	b = append(b, byte(r.kind))
	b = binary.AppendVarint(b, r.expires)
	b = wire.AppendString(b, r.subject)
	b = wire.AppendString(b, r.purpose)
	b = wire.AppendString(b, r.method)
	b = wire.AppendString(b, r.notice)
	b = wire.AppendString(b, r.version)
	return wire.AppendBytes(b, r.noticeH[:])
}

// sigDigest is what the device signs: SHA-256 over a domain string and the
// record's body (which holds the previous record's hash).
func sigDigest(body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(sigDomain))
	h.Write(body)
	return h.Sum(nil)
}

// errRecord is returned by decodeRecord for any malformed record.
var errRecord = errors.New("malformed record")

// decodeRecord parses one record strictly: known version and type, every
// field within its limit, text fields valid UTF-8 without control
// characters, times in range, no trailing bytes, and canonical (the
// record re-encodes to exactly its bytes, so one event has one encoding).
// The record keeps raw.
func decodeRecord(raw []byte) (*record, error) {
	if len(raw) > MaxLedgerRecord {
		return nil, errRecord
	}
	rd := wire.NewReader(raw)
	r := &record{raw: raw}
	if rd.Byte() != recVersion {
		return nil, errRecord
	}
	r.typ = rd.Byte()
	r.seq = rd.Uvarint()
	fixed(rd, r.prev[:])
	r.at = rd.Varint()
	switch r.typ {
	case recHeader:
		fixed(rd, r.ledgerID[:])
		r.spki = rd.Bytes(maxKeyLen)
		if r.seq != 0 || len(r.spki) == 0 {
			return nil, errRecord
		}
	case recEvent:
		r.kind = Kind(rd.Byte())
		r.expires = rd.Varint()
		r.subject = rd.String(MaxSubjectLen)
		r.purpose = rd.String(MaxIDLen)
		r.method = rd.String(MaxMethodLen)
		r.notice = rd.String(MaxIDLen)
		r.version = rd.String(MaxNameLen)
		fixed(rd, r.noticeH[:])
		if r.seq == 0 || r.kind < Given || r.kind > Expired || r.expires < 0 || (r.expires != 0 && r.kind != Given) ||
			!validSubject(r.subject) || !isID(r.purpose) || !validMethod(r.method) || !isID(r.notice) ||
			r.version == "" || !cleanText(r.version, false) {
			return nil, errRecord
		}
	default:
		return nil, errRecord
	}
	r.bodyLen = len(raw) - rd.Len()
	r.sig = rd.Bytes(maxSigLen)
	if rd.Failed() || rd.Len() != 0 || len(r.sig) == 0 || r.at <= 0 {
		return nil, errRecord
	}
	if !bytes.Equal(r.appendBody(make([]byte, 0, r.bodyLen)), raw[:r.bodyLen]) {
		return nil, errRecord // a non-canonical encoding
	}
	return r, nil
}

func fixed(rd *wire.Reader, dst []byte) {
	if b := rd.Bytes(len(dst)); len(b) == len(dst) {
		copy(dst, b)
	} else {
		rd.Fail()
	}
}

func (r *record) sum() [32]byte {
	if !r.hashDone {
		r.hash, r.hashDone = sha256.Sum256(r.raw), true
	}
	return r.hash
}

func validSubject(s string) bool {
	return len(s) > 0 && len(s) <= MaxSubjectLen && cleanText(s, false)
}

func validMethod(s string) bool {
	return len(s) > 0 && len(s) <= MaxMethodLen && cleanText(s, false) && utf8.ValidString(s)
}

// signDigest signs a SHA-256 digest with the device key: ECDSA (ASN.1) and
// RSA (PKCS #1 v1.5) sign it as a SHA-256 digest, Ed25519 signs it as the
// message.
func signDigest(s crypto.Signer, digest []byte) ([]byte, error) {
	if _, ok := s.Public().(ed25519.PublicKey); ok {
		return s.Sign(rand.Reader, digest, crypto.Hash(0))
	}
	return s.Sign(rand.Reader, digest, crypto.SHA256)
}

// verifyDigest checks a signature made by signDigest.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	}
	return false
}

func (r *record) verify(pub crypto.PublicKey) bool {
	return verifyDigest(pub, sigDigest(r.raw[:r.bodyLen]), r.sig)
}

// Event is one decoded, verified consent event.
type Event struct {
	// Seq is the event's position in the ledger, from 1.
	Seq uint64
	// Kind is given, refused, withdrawn or expired.
	Kind Kind
	// Subject is whom the decision is about (an account name or a
	// pseudonymous user ID).
	Subject string
	// Purpose is the inventory's purpose ID.
	Purpose string
	// Method is how the decision was collected ("app", "web-ui", "button",
	// "device" for events the device records itself).
	Method string
	// Notice is the notice the user saw.
	Notice NoticeRef
	// At is when the event was recorded (the device's clock).
	At time.Time
	// Expires is when a given consent ends; zero means until withdrawn.
	Expires time.Time
	// Hash is the SHA-256 of the signed record, which the next event
	// carries as its Prev.
	Hash [32]byte
	// Prev is the previous record's Hash.
	Prev [32]byte
}

func (r *record) event() Event {
	e := Event{Seq: r.seq, Kind: r.kind, Subject: r.subject, Purpose: r.purpose, Method: r.method,
		Notice: NoticeRef{ID: r.notice, Version: r.version, SHA256: hex.EncodeToString(r.noticeH[:])},
		At:     time.UnixMilli(r.at).UTC(), Hash: r.sum(), Prev: r.prev}
	if r.expires != 0 {
		e.Expires = time.UnixMilli(r.expires).UTC()
	}
	return e
}
