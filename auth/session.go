package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/iotbaseline/baseline/internal/wire"
)

// Session is an authenticated owner session. Its token is MAC'd with a key
// held in the vault, expires after Config.SessionTTL and is revoked when
// the password changes or the device is reset. The token sits behind an
// unexported pointer: fmt and slog print an address at most, and
// encoding/json skips it. Token returns it.
type Session struct {
	// Account is the authenticated account.
	Account string
	// Scopes the session grants.
	Scopes []string
	// Generation is the account's credential generation the session was
	// issued under; a password change raises it and revokes the session.
	Generation uint64
	// IssuedAt is when the token was made.
	IssuedAt time.Time
	// AuthAt is when the password (or setup secret) was last entered;
	// RequireFresh routes compare it with Config.FreshAuth.
	AuthAt time.Time
	// Expires is when the token stops being accepted.
	Expires time.Time

	token *string
}

// Token returns the bearer token to hand to the client (a cookie value or
// an Authorization: Bearer header). Treat it as a password.
func (s *Session) Token() string {
	if s == nil || s.token == nil {
		return ""
	}
	return *s.token
}

// HasScope reports whether the session grants scope.
func (s *Session) HasScope(scope string) bool { return s != nil && slices.Contains(s.Scopes, scope) }

// Token layout (version 1), base64url without padding, then ".", then the
// base64url HMAC-SHA256 over the payload with the vault's session key:
//
//	0x01 | uvarint len | account | uvarint generation | varint issued (unix s)
//	| varint authAt | varint expires | uvarint nscopes | (uvarint len | scope)* | 16-byte nonce
const (
	tokenVersion  = 1
	maxTokenLen   = 512
	maxScopes     = 16
	tokenNonceLen = 16
)

var b64url = base64.RawURLEncoding.Strict()

func (s *Service) issue(account string, gen uint64, authAt time.Time) (*Session, error) {
	now := s.now()
	ses := &Session{
		Account: account, Scopes: append([]string(nil), s.cfg.Scopes...), Generation: gen,
		IssuedAt: now.Truncate(time.Second), AuthAt: authAt.Truncate(time.Second),
		Expires: now.Add(s.cfg.SessionTTL).Truncate(time.Second),
	}
	tok := s.sign(encodeToken(ses))
	ses.token = &tok
	return ses, nil
}

func encodeToken(ses *Session) []byte {
	b := []byte{tokenVersion}
	b = wire.AppendString(b, ses.Account)
	b = binary.AppendUvarint(b, ses.Generation)
	b = binary.AppendVarint(b, ses.IssuedAt.Unix())
	b = binary.AppendVarint(b, ses.AuthAt.Unix())
	b = binary.AppendVarint(b, ses.Expires.Unix())
	b = binary.AppendUvarint(b, uint64(len(ses.Scopes)))
	for _, sc := range ses.Scopes {
		b = wire.AppendString(b, sc)
	}
	var nonce [tokenNonceLen]byte
	rand.Read(nonce[:])
	return append(b, nonce[:]...)
}

func (s *Service) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.sessKey)
	m.Write([]byte("baseline auth session v1\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

func (s *Service) sign(payload []byte) string {
	return b64url.EncodeToString(payload) + "." + b64url.EncodeToString(s.mac(payload))
}

// parseToken checks a token's size, encoding and MAC, then decodes it. It
// does not check expiry or revocation.
func (s *Service) parseToken(tok string) (*Session, error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return nil, ErrInvalidToken
	}
	for i := 0; i < len(tok); i++ {
		// encoding/base64 would skip CR and LF; a token is its alphabet only.
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return nil, ErrInvalidToken
		}
	}
	p, m, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, ErrInvalidToken
	}
	payload, err1 := b64url.DecodeString(p)
	sig, err2 := b64url.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, s.mac(payload)) {
		return nil, ErrInvalidToken
	}
	ses, err := decodeToken(payload)
	if err != nil {
		return nil, err
	}
	ses.token = &tok
	return ses, nil
}

// decodeToken decodes a token payload strictly. It runs only on payloads
// whose MAC verified, but is still bounded and fuzzed.
func decodeToken(payload []byte) (*Session, error) {
	r := wire.NewReader(payload)
	if r.Byte() != tokenVersion {
		return nil, ErrInvalidToken
	}
	ses := &Session{Account: r.String(maxTableKey)}
	ses.Generation = r.Uvarint()
	ses.IssuedAt = time.Unix(r.Varint(), 0)
	ses.AuthAt = time.Unix(r.Varint(), 0)
	ses.Expires = time.Unix(r.Varint(), 0)
	n := r.Uvarint()
	if r.Failed() || n > maxScopes {
		return nil, ErrInvalidToken
	}
	for range n {
		sc := r.String(maxTableKey)
		if r.Failed() || !validName(sc, 32) {
			return nil, ErrInvalidToken
		}
		ses.Scopes = append(ses.Scopes, sc)
	}
	if r.Failed() || r.Len() != tokenNonceLen || !validName(ses.Account, 64) {
		return nil, ErrInvalidToken
	}
	return ses, nil
}

// SessionFromRequest returns the session the request's token stands for —
// from an "Authorization: Bearer" header, else the session cookie — the
// way the Gate reads it. It returns ErrInvalidToken when there is no token
// or it is malformed, forged, or revoked by a password change or reset,
// and ErrExpiredToken when it has expired. An unprovisioned device accepts
// no token. Behind the Gate, SessionFrom(r.Context()) already has the
// session; use this on Public routes that show more to a logged-in owner.
func (s *Service) SessionFromRequest(r *http.Request) (*Session, error) {
	tok, _ := tokenFrom(r)
	return s.verifyToken(tok)
}

// verifyToken returns the session token stands for (see SessionFromRequest).
func (s *Service) verifyToken(token string) (*Session, error) {
	ses, err := s.parseToken(token)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	owner := s.owner
	s.mu.Unlock()
	if owner.Account == "" || ses.Account != owner.Account || ses.Generation != owner.Generation {
		return nil, ErrInvalidToken
	}
	if !s.now().Before(ses.Expires) {
		return nil, ErrExpiredToken
	}
	return ses, nil
}

// RequireFresh returns ErrFreshAuthRequired unless the session's password
// entry is within Config.FreshAuth: security-relevant changes (provision
// 5.5-5) ask the owner to re-enter the password.
func (s *Service) RequireFresh(ses *Session) error {
	if ses == nil {
		return ErrInvalidToken
	}
	age := s.now().Sub(ses.AuthAt)
	if age < 0 || age > s.cfg.FreshAuth {
		return ErrFreshAuthRequired
	}
	return nil
}

// RevokeSessions revokes every session of the owner without changing the
// password (a "log out everywhere" button).
func (s *Service) RevokeSessions(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner.Account == "" {
		return ErrNotProvisioned
	}
	r := s.owner
	r.Generation++
	return s.putOwner(ctx, r)
}
