package privacy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/cloudflare/circl/hpke"
	"github.com/iotbaseline/baseline/conformance"
)

// The HPKE suite of every envelope (RFC 9180): the X-Wing hybrid KEM
// (X25519 + ML-KEM-768, so a recording made today stays confidential if a
// quantum computer later breaks X25519), HKDF-SHA256 and AES-256-GCM.
const (
	EnvelopeKEM  = hpke.KEM_XWING
	EnvelopeKDF  = hpke.KDF_HKDF_SHA256
	EnvelopeAEAD = hpke.AEAD_AES256GCM
)

const (
	envMagic   = "BPE1"
	envInfo    = "baseline.privacy.envelope/v1"
	envHdrLen  = 4 + 2 + 2 + 2 + 2
	maxEnvelop = 1 << 20
)

var envSuite = hpke.NewSuite(EnvelopeKEM, EnvelopeKDF, EnvelopeAEAD)

// ErrEnvelope is returned by [OpenEnvelope] for an envelope that is
// malformed, for another suite or key, or altered.
var ErrEnvelope = errors.New("privacy: envelope does not open")

// GenerateEnvelopeKey makes an X-Wing key pair for the associated service
// that receives envelopes: the public key goes into the device's
// configuration ([NewSealer]), the private key stays with the service.
func GenerateEnvelopeKey() (publicKey, privateKey []byte, err error) {
	pk, sk, err := EnvelopeKEM.Scheme().GenerateKeyPair()
	if err != nil {
		return nil, nil, err
	}
	if publicKey, err = pk.MarshalBinary(); err != nil {
		return nil, nil, err
	}
	if privateKey, err = sk.MarshalBinary(); err != nil {
		return nil, nil, err
	}
	return publicKey, privateKey, nil
}

// Sealer seals personal data for one associated service with HPKE (base
// mode, a fresh encapsulation per envelope), so that it stays confidential
// end to end whatever the channel (provisions 5.8-1, 5.8-2).
type Sealer struct {
	pub []byte
}

// NewSealer returns a Sealer for the service's X-Wing public key.
func NewSealer(servicePublicKey []byte) (*Sealer, error) {
	if _, err := EnvelopeKEM.Scheme().UnmarshalBinaryPublicKey(servicePublicKey); err != nil {
		return nil, fmt.Errorf("privacy: envelope key: %w", err)
	}
	return &Sealer{pub: bytes.Clone(servicePublicKey)}, nil
}

// Seal returns the envelope of plaintext, bound to bind (for example the
// recipient's ID; the service must pass the same to OpenEnvelope):
// "BPE1", the suite's three IDs and the encapsulation's length (big
// endian), the encapsulation, then the AEAD ciphertext, whose associated
// data is everything before it.
func (s *Sealer) Seal(bind, plaintext []byte) ([]byte, error) {
	pk, err := EnvelopeKEM.Scheme().UnmarshalBinaryPublicKey(s.pub)
	if err != nil {
		return nil, err
	}
	snd, err := envSuite.NewSender(pk, envInfoFor(bind))
	if err != nil {
		return nil, err
	}
	enc, sealer, err := snd.Setup(rand.Reader)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 0, envHdrLen+len(enc)+len(plaintext)+16)
	hdr = append(hdr, envMagic...)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(EnvelopeKEM))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(EnvelopeKDF))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(EnvelopeAEAD))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(enc)))
	hdr = append(hdr, enc...)
	ct, err := sealer.Seal(plaintext, hdr)
	if err != nil {
		return nil, err
	}
	return append(hdr, ct...), nil
}

func envInfoFor(bind []byte) []byte {
	return append([]byte(envInfo+"\x00"), bind...)
}

// OpenEnvelope opens an envelope made by [Sealer.Seal] with the service's
// private key and the same bind value. It is what the associated service runs
// (and what tests use); any failure is [ErrEnvelope].
func OpenEnvelope(privateKey, bind, envelope []byte) ([]byte, error) {
	if len(envelope) < envHdrLen || len(envelope) > maxEnvelop || string(envelope[:4]) != envMagic {
		return nil, ErrEnvelope
	}
	kemID, kdfID, aeadID := binary.BigEndian.Uint16(envelope[4:]), binary.BigEndian.Uint16(envelope[6:]), binary.BigEndian.Uint16(envelope[8:])
	encLen := int(binary.BigEndian.Uint16(envelope[10:]))
	if hpke.KEM(kemID) != EnvelopeKEM || hpke.KDF(kdfID) != EnvelopeKDF || hpke.AEAD(aeadID) != EnvelopeAEAD ||
		encLen != EnvelopeKEM.Scheme().CiphertextSize() || len(envelope) < envHdrLen+encLen {
		return nil, ErrEnvelope
	}
	sk, err := EnvelopeKEM.Scheme().UnmarshalBinaryPrivateKey(privateKey)
	if err != nil {
		return nil, ErrEnvelope
	}
	rcv, err := envSuite.NewReceiver(sk, envInfoFor(bind))
	if err != nil {
		return nil, ErrEnvelope
	}
	hdr := envelope[:envHdrLen+encLen]
	opener, err := rcv.Setup(hdr[envHdrLen:])
	if err != nil {
		return nil, ErrEnvelope
	}
	pt, err := opener.Open(envelope[len(hdr):], hdr)
	if err != nil {
		return nil, ErrEnvelope
	}
	return pt, nil
}

// ErrUnprotectedChannel is returned by a [Protect] transport for personal
// data that would leave over a channel that is neither verified TLS nor
// sealed.
var ErrUnprotectedChannel = errors.New("privacy: personal data refused on an unprotected channel")

// ProtectConfig configures [Protect].
type ProtectConfig struct {
	// Next is the transport that sends (required).
	Next Transport
	// TLS reports the state of the connection Next sends over, or nil when
	// it is not TLS. The channel counts as TLS-verified only when the
	// handshake is complete and the peer's certificate chain was verified
	// (VerifiedChains not empty: never with InsecureSkipVerify).
	TLS func() *tls.ConnectionState
	// Sealer, when set, seals every message that carries personal data
	// with HPKE before it goes to Next ([Message.Sealed]); the context is
	// the recipient ID.
	Sealer *Sealer
	// InsecureAllowPersonalInClear lets personal data that is not
	// sensitive through an unprotected channel. Sensitive data is refused
	// there whatever this says.
	InsecureAllowPersonalInClear bool
}

// Protected is the transport [Protect] returns.
type Protected struct {
	cfg               ProtectConfig
	refused, sealed   atomic.Uint64
	sentTLS, sentOpen atomic.Uint64
}

// Protect returns a Transport that applies the rule of provisions 5.8-1 and
// 5.8-2 in front of cfg.Next: a message carrying personal data is sealed
// when a Sealer is set, sent when the channel is TLS-verified, and
// otherwise refused with [ErrUnprotectedChannel] — always so for sensitive
// data, and for other personal data unless InsecureAllowPersonalInClear.
// Messages without personal data pass.
func Protect(cfg ProtectConfig) *Protected {
	if cfg.Next == nil {
		panic("privacy: ProtectConfig.Next is nil")
	}
	return &Protected{cfg: cfg}
}

// verdict is what Protect does with a message.
type verdict int

const (
	pass verdict = iota
	seal
	refuse
)

func (p *Protected) decide(m *Message) verdict {
	switch {
	case !m.Personal && !m.Sensitive:
		return pass
	case p.cfg.Sealer != nil:
		return seal
	case p.tlsVerified():
		return pass
	case m.Sensitive || !p.cfg.InsecureAllowPersonalInClear:
		return refuse
	}
	return pass
}

func (p *Protected) tlsVerified() bool {
	if p.cfg.TLS == nil {
		return false
	}
	st := p.cfg.TLS()
	return st != nil && st.HandshakeComplete && len(st.VerifiedChains) > 0
}

// Send implements Transport.
func (p *Protected) Send(ctx context.Context, m Message) error {
	switch p.decide(&m) {
	case refuse:
		p.refused.Add(1)
		return fmt.Errorf("%w (to %s)", ErrUnprotectedChannel, m.Recipient)
	case seal:
		env, err := p.cfg.Sealer.Seal([]byte(m.Recipient), m.Body)
		if err != nil {
			return fmt.Errorf("privacy: sealing telemetry: %w", err)
		}
		m.Body, m.Sealed = env, true
		p.sealed.Add(1)
	default:
		if p.tlsVerified() {
			p.sentTLS.Add(1)
		} else {
			p.sentOpen.Add(1)
		}
	}
	return p.cfg.Next.Send(ctx, m)
}

// Checks returns the self-check "privacy.transit" (5.8-1, 5.8-2),
// measured: a probe message marked sensitive goes through the guard's own
// decision with the channel as it is now; it passes only if the probe would
// be sealed — and the real Sealer's envelope of it does not contain the
// plaintext — or the channel is TLS-verified right now. Nothing is sent.
// Inconclusive when the channel is not connected (no TLS state) and
// nothing seals.
func (p *Protected) Checks() []conformance.Check {
	return []conformance.Check{{
		ID: "privacy.transit", Method: conformance.Measured, Provisions: []string{"5.8-1", "5.8-2"},
		Title: "Personal data leaves the device only sealed with HPKE or over verified TLS; sensitive data is refused otherwise",
		Run: func(ctx context.Context) conformance.Result {
			const marker = "SELFCHECK-SENSITIVE-9d2e"
			probe := Message{Recipient: "selfcheck", Body: []byte(`{"probe":"` + marker + `"}`), Personal: true, Sensitive: true}
			obs := fmt.Sprintf("since start: %d sealed, %d over verified TLS, %d without personal data in the clear, %d refused",
				p.sealed.Load(), p.sentTLS.Load(), p.sentOpen.Load(), p.refused.Load())
			switch p.decide(&probe) {
			case seal:
				env, err := p.cfg.Sealer.Seal([]byte(probe.Recipient), probe.Body)
				if err != nil || bytes.Contains(env, []byte(marker)) || !bytes.HasPrefix(env, []byte(envMagic)) {
					return conformance.Result{Verdict: conformance.Fail, Observed: obs, Detail: fmt.Sprintf("sealing the probe failed or left it readable (%v)", err)}
				}
				return conformance.Result{Verdict: conformance.Pass, Observed: "personal data sealed with HPKE (X-Wing, HKDF-SHA256, AES-256-GCM); " + obs}
			case pass:
				st := p.cfg.TLS()
				return conformance.Result{Verdict: conformance.Pass, Observed: fmt.Sprintf("channel TLS-verified now (%s, peer %s); %s", tls.VersionName(st.Version), peerName(st), obs)}
			}
			if p.cfg.TLS == nil || p.cfg.TLS() == nil {
				return conformance.Result{Verdict: conformance.Inconclusive, Observed: obs,
					Detail: "the channel is not connected now and nothing seals; sensitive data would be refused, whether a verified channel is used cannot be seen"}
			}
			return conformance.Result{Verdict: conformance.Fail, Observed: obs,
				Detail: "the channel is TLS but its peer was not verified, and nothing seals: personal data would be refused (or, with InsecureAllowPersonalInClear, sent unprotected)"}
		},
	}}
}

func peerName(st *tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return "unknown"
	}
	c := st.PeerCertificates[0]
	if len(c.DNSNames) > 0 {
		return strings.Join(c.DNSNames, ",")
	}
	return c.Subject.CommonName
}
