package privacy

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ReceiptSchema is the value of a receipt's "schema" field.
const ReceiptSchema = "baseline.consent-receipt/v1"

// ErrReceipt is returned by [VerifyReceipt] for a receipt that the device
// did not issue or that was altered.
var ErrReceipt = errors.New("privacy: consent receipt does not verify")

// Receipt is the record of one consent event given to the user (or to
// anyone who must check it). Its fields follow the consent record and
// receipt elements of ISO/IEC TS 27560:2023 where they apply to a device —
// record ID, PII principal, event time and state, collection method, the
// privacy notice and its language, purpose, lawful basis, PII categories,
// recipients and third-party disclosure, retention, how to withdraw, the
// controller — under our own snake-case names; the TS prescribes no
// encoding. Beyond Kantara's Consent Receipt 1.1 it carries the event state
// (withdrawn, expired), the SHA-256 of the exact notice text shown, and a
// proof: the signed ledger record itself, which [VerifyReceipt] checks
// against the device's public key.
type Receipt struct {
	// Schema is [ReceiptSchema].
	Schema string `json:"schema"`
	// RecordID is "<ledger ID>:<seq>".
	RecordID string `json:"record_id"`
	// PIIPrincipalID is the subject.
	PIIPrincipalID string `json:"pii_principal_id"`
	// Event is what happened and how it was collected.
	Event ReceiptEvent `json:"event"`
	// Notice is the notice the decision was made on.
	Notice ReceiptNotice `json:"notice"`
	// Processing is the purpose as the notice in force declares it.
	Processing ReceiptProcessing `json:"pii_processing"`
	// Controller is the inventory's controller.
	Controller Controller `json:"controller"`
	// Proof is the signed ledger record.
	Proof ReceiptProof `json:"proof"`
}

// ReceiptEvent is the event a receipt is about.
type ReceiptEvent struct {
	// Time is when the event was recorded.
	Time time.Time `json:"event_time"`
	// State is given, refused, withdrawn or expired.
	State Kind `json:"event_state"`
	// By is "pii_principal" for the user's decisions, "device" for events
	// the device recorded itself (expiry).
	By string `json:"event_by"`
	// CollectionMethod is the decision's Method ("app", "web-ui").
	CollectionMethod string `json:"collection_method"`
	// Expires is the end of a given consent, if it has one.
	Expires *time.Time `json:"expires,omitempty"`
}

// ReceiptNotice identifies the notice the decision was made on.
type ReceiptNotice struct {
	// ID, Version and SHA256 are the notice reference of the signed
	// record; Language is the notice's when it is the one in force.
	ID       string `json:"privacy_notice"`
	Version  string `json:"version"`
	SHA256   string `json:"sha256"`
	Language string `json:"language,omitempty"`
}

// ReceiptProcessing describes the purpose as the notice in force declares
// it. When the event was bound to another notice only Purpose is filled.
type ReceiptProcessing struct {
	// Purpose is the purpose ID (signed); the other fields describe it
	// as the inventory does: description, lawful basis, categories and
	// whether any is sensitive, recipients and whether any is a third
	// party, retention in days, and how to withdraw.
	Purpose              string      `json:"purpose"`
	Description          string      `json:"purpose_description,omitempty"`
	LawfulBasis          LegalBasis  `json:"lawful_basis,omitempty"`
	PIICategories        []string    `json:"pii_categories"`
	Sensitive            bool        `json:"sensitive"`
	Recipients           []Recipient `json:"recipients"`
	ThirdPartyDisclosure bool        `json:"third_party_disclosure"`
	RetentionDays        int         `json:"retention_days"`
	WithdrawalMethod     string      `json:"withdrawal_method"`
}

// ReceiptProof lets anyone holding the device's public key check the
// receipt ([VerifyReceipt]).
type ReceiptProof struct {
	// LedgerID is the hex ID of the ledger.
	LedgerID string `json:"ledger_id"`
	// Seq is the event's sequence number in the ledger.
	Seq uint64 `json:"seq"`
	// PrevSHA256 is the hash of the previous ledger record.
	PrevSHA256 string `json:"prev_sha256"`
	// RecordSHA256 is the hash of Record.
	RecordSHA256 string `json:"record_sha256"`
	// Record is the signed ledger record (base64 in JSON).
	Record []byte `json:"record"`
	// KeySHA256 is the SHA-256 of the device key's PKIX (SPKI) encoding.
	KeySHA256 string `json:"key_sha256"`
}

// receipt builds the receipt of record r. Called with l.mu held.
func (l *Ledger) receipt(r *record) *Receipt {
	ev := r.event()
	keyH := sha256.Sum256(l.spki)
	rc := &Receipt{
		Schema:         ReceiptSchema,
		RecordID:       fmt.Sprintf("%x:%d", l.id, r.seq),
		PIIPrincipalID: ev.Subject,
		Event:          ReceiptEvent{Time: ev.At, State: ev.Kind, By: "pii_principal", CollectionMethod: ev.Method},
		Notice:         ReceiptNotice{ID: ev.Notice.ID, Version: ev.Notice.Version, SHA256: ev.Notice.SHA256},
		Processing:     ReceiptProcessing{Purpose: ev.Purpose, PIICategories: []string{}, Recipients: []Recipient{}, WithdrawalMethod: l.cfg.WithdrawalMethod},
		Proof: ReceiptProof{LedgerID: hex.EncodeToString(l.id[:]), Seq: r.seq, PrevSHA256: hex.EncodeToString(r.prev[:]),
			RecordSHA256: hex.EncodeToString(ev.Hash[:]), Record: slices.Clone(r.raw), KeySHA256: hex.EncodeToString(keyH[:])},
	}
	if ev.Kind == Expired {
		rc.Event.By = "device"
	}
	if !ev.Expires.IsZero() {
		e := ev.Expires
		rc.Event.Expires = &e
	}
	if rc.Processing.WithdrawalMethod == "" {
		rc.Processing.WithdrawalMethod = "on the device's privacy page"
	}
	inv := l.cfg.Notice.inv
	rc.Controller = inv.Controller
	if ev.Notice == l.ref {
		rc.Notice.Language = inv.Language
		if p, ok := inv.Purpose(ev.Purpose); ok {
			pp := &rc.Processing
			pp.Description, pp.LawfulBasis, pp.RetentionDays = p.Description, p.LegalBasis, p.RetentionDays
			pp.PIICategories = slices.Clone(p.Categories)
			for _, c := range p.Categories {
				cat, _ := inv.Category(c)
				pp.Sensitive = pp.Sensitive || cat.Sensitive
			}
			for _, id := range p.Recipients {
				rcpt, _ := inv.Recipient(id)
				pp.Recipients = append(pp.Recipients, rcpt)
				pp.ThirdPartyDisclosure = pp.ThirdPartyDisclosure || rcpt.Role == RoleThirdParty
			}
		}
	}
	return rc
}

// VerifyReceipt checks a receipt against the device's public key: the
// record in its proof carries a valid signature by that key, hashes to
// RecordSHA256, and says what the receipt says (subject, purpose, state,
// time, method, notice, expiry, sequence, previous hash). It returns an
// error wrapping [ErrReceipt] otherwise. The purpose details are the
// device's description and are not covered by the signature.
func VerifyReceipt(rc *Receipt, pub crypto.PublicKey) error {
	fail := func(why string) error { return fmt.Errorf("%w: %s", ErrReceipt, why) }
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fail("unsupported key")
	}
	keyH := sha256.Sum256(spki)
	if rc.Proof.KeySHA256 != hex.EncodeToString(keyH[:]) {
		return fail("signed by another key")
	}
	r, err := decodeRecord(rc.Proof.Record)
	if err != nil || r.typ != recEvent {
		return fail("record does not decode")
	}
	if !r.verify(pub) {
		return fail("signature does not verify")
	}
	ev := r.event()
	exp := time.Time{}
	if rc.Event.Expires != nil {
		exp = *rc.Event.Expires
	}
	switch {
	case rc.Proof.RecordSHA256 != hex.EncodeToString(ev.Hash[:]):
		return fail("record hash differs")
	case rc.Proof.Seq != ev.Seq || rc.RecordID != fmt.Sprintf("%s:%d", rc.Proof.LedgerID, ev.Seq):
		return fail("sequence number differs")
	case rc.Proof.PrevSHA256 != hex.EncodeToString(ev.Prev[:]):
		return fail("previous hash differs")
	case rc.PIIPrincipalID != ev.Subject, rc.Processing.Purpose != ev.Purpose, rc.Event.State != ev.Kind,
		!rc.Event.Time.Equal(ev.At), rc.Event.CollectionMethod != ev.Method, !exp.Equal(ev.Expires):
		return fail("event fields differ from the signed record")
	case rc.Notice.ID != ev.Notice.ID || rc.Notice.Version != ev.Notice.Version || rc.Notice.SHA256 != ev.Notice.SHA256:
		return fail("notice differs from the signed record")
	}
	return nil
}
