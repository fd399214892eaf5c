package authn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// TokenPrefix starts every token. "MII" mimics the start of Huawei's PKI
// tokens (base64 DER), which some clients check; "atelier1" versions the
// format, so a future format can be told apart and refused or migrated.
const TokenPrefix = "MIIatelier1."

// Token format, after TokenPrefix:
//
//	base64url(payload) "." base64url(HMAC-SHA256(key, TokenPrefix + base64url(payload)))
//
// both without padding. The MAC covers the text as sent, so it is checked
// before anything is decoded, and exactly one spelling of a token verifies.
// The payload is compact binary: varint IssuedAt and ExpiresAt (Unix
// microseconds, the precision of Keystone's expires_at), varint
// CredentialEpoch, then length-prefixed (uvarint) ID, UserID, DomainID and
// ProjectID, then a uvarint count of Methods and each method length-prefixed.
// Tokens are signed, not encrypted: the claims are readable by their holder.
const (
	minKeyLen      = 32
	macLen         = sha256.Size
	macB64Len      = 43 // base64.RawURLEncoding.EncodedLen(macLen)
	maxTokenLen    = 4096
	maxClaimString = 255
	maxMethods     = 8
)

// Claims are what a token asserts about its holder.
type Claims struct {
	UserID, DomainID string
	// ProjectID is the project scope; "" for a domain-scoped token.
	ProjectID string
	// Methods are the authentication methods, e.g. ["password"].
	Methods []string
	// IssuedAt and ExpiresAt are kept to the microsecond, in UTC.
	IssuedAt, ExpiresAt time.Time
	// CredentialEpoch is the user's credential version at issue time (bumped
	// when the password changes or the user is disabled); the server compares
	// it with the current one to revoke older tokens.
	CredentialEpoch int64
	// ID is a random token id (16 bytes, hex) for audit. Issue generates one
	// when it is empty.
	ID string
}

// Codec issues and verifies tokens with one HMAC key. It is safe for
// concurrent use.
type Codec struct {
	key  []byte
	pool sync.Pool // of *tokenScratch
}

type tokenScratch struct {
	mac hash.Hash // keyed HMAC-SHA256, Reset between uses
	buf []byte    // the token's bytes
	dec []byte    // the decoded payload
	sum [macLen]byte
}

// NewCodec returns a Codec signing with key, which must be at least 32 bytes
// of secret, random data. The key is copied.
func NewCodec(key []byte) (*Codec, error) {
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("authn: token key is %d bytes, want at least %d", len(key), minKeyLen)
	}
	c := &Codec{key: append([]byte(nil), key...)}
	c.pool.New = func() any {
		return &tokenScratch{mac: hmac.New(sha256.New, c.key), buf: make([]byte, 0, 512), dec: make([]byte, 0, 384)}
	}
	return c, nil
}

// NewTokenID returns a random token id: 16 bytes, hex.
func NewTokenID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Issue returns a token asserting cl. UserID and DomainID are required,
// ExpiresAt must be after IssuedAt, strings are limited to 255 bytes and
// methods to 8. An empty ID is replaced by NewTokenID().
func (c *Codec) Issue(cl Claims) (string, error) {
	if cl.ID == "" {
		cl.ID = NewTokenID()
	}
	if err := cl.validate(); err != nil {
		return "", err
	}
	p := make([]byte, 0, 64+len(cl.ID)+len(cl.UserID)+len(cl.DomainID)+len(cl.ProjectID)+16*len(cl.Methods))
	p = binary.AppendVarint(p, cl.IssuedAt.UnixMicro())
	p = binary.AppendVarint(p, cl.ExpiresAt.UnixMicro())
	p = binary.AppendVarint(p, cl.CredentialEpoch)
	for _, s := range [...]string{cl.ID, cl.UserID, cl.DomainID, cl.ProjectID} {
		p = appendString(p, s)
	}
	p = binary.AppendUvarint(p, uint64(len(cl.Methods)))
	for _, m := range cl.Methods {
		p = appendString(p, m)
	}

	enc := base64.RawURLEncoding
	t := make([]byte, 0, len(TokenPrefix)+enc.EncodedLen(len(p))+1+macB64Len)
	t = append(t, TokenPrefix...)
	t = enc.AppendEncode(t, p)
	s := c.pool.Get().(*tokenScratch)
	s.mac.Reset()
	s.mac.Write(t)
	t = append(t, '.')
	t = enc.AppendEncode(t, s.mac.Sum(s.sum[:0]))
	c.pool.Put(s)
	if len(t) > maxTokenLen {
		return "", fmt.Errorf("authn: token would be %d bytes, limit %d", len(t), maxTokenLen)
	}
	return string(t), nil
}

func (cl *Claims) validate() error {
	var errs []error
	if cl.UserID == "" {
		errs = append(errs, errors.New("no user id"))
	}
	if cl.DomainID == "" {
		errs = append(errs, errors.New("no domain id"))
	}
	for _, s := range [...]string{cl.ID, cl.UserID, cl.DomainID, cl.ProjectID} {
		if len(s) > maxClaimString {
			errs = append(errs, fmt.Errorf("claim %s is longer than %d bytes", quote(s), maxClaimString))
		}
	}
	if len(cl.Methods) > maxMethods {
		errs = append(errs, fmt.Errorf("%d methods, limit %d", len(cl.Methods), maxMethods))
	}
	for _, m := range cl.Methods {
		if m == "" || len(m) > maxClaimString {
			errs = append(errs, fmt.Errorf("invalid method %s", quote(m)))
		}
	}
	if y := cl.IssuedAt.Year(); y < 1970 || y > 9999 {
		errs = append(errs, fmt.Errorf("issued at %s out of range", cl.IssuedAt))
	}
	if y := cl.ExpiresAt.Year(); y > 9999 || !cl.ExpiresAt.After(cl.IssuedAt) {
		errs = append(errs, fmt.Errorf("expires at %s is not after issued at %s (or out of range)", cl.ExpiresAt, cl.IssuedAt))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("authn: issue token: %w", err)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Verify checks token's MAC (in constant time) and decodes its claims. A
// token that is malformed, signed with another key or altered is
// ErrTokenInvalid. A genuine token whose ExpiresAt is not after now is
// ErrTokenExpired; its claims are returned with that error, for audit.
// Whether the claims are still current (credential epoch, user enabled) is
// the caller's business.
func (c *Codec) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return Claims{}, ErrTokenInvalid
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(TokenPrefix) || len(token)-dot-1 != macB64Len {
		return Claims{}, ErrTokenInvalid
	}

	s := c.pool.Get().(*tokenScratch)
	defer c.pool.Put(s)
	s.buf = append(s.buf[:0], token...)
	signed, got := s.buf[:dot], s.buf[dot+1:]
	s.mac.Reset()
	s.mac.Write(signed)
	var want [macB64Len]byte
	base64.RawURLEncoding.Encode(want[:], s.mac.Sum(s.sum[:0]))
	if subtle.ConstantTimeCompare(want[:], got) != 1 {
		return Claims{}, ErrTokenInvalid
	}

	payload := signed[len(TokenPrefix):]
	s.dec = s.dec[:cap(s.dec)]
	if n := base64.RawURLEncoding.DecodedLen(len(payload)); n > len(s.dec) {
		s.dec = make([]byte, n)
	}
	n, err := base64.RawURLEncoding.Decode(s.dec, payload)
	if err != nil {
		return Claims{}, ErrTokenInvalid
	}
	cl, ok := decodeClaims(s.dec[:n])
	if !ok {
		return Claims{}, ErrTokenInvalid
	}
	if !now.Before(cl.ExpiresAt) {
		return cl, fmt.Errorf("%w: at %s", ErrTokenExpired, cl.ExpiresAt.Format(time.RFC3339))
	}
	return cl, nil
}

// decodeClaims parses a payload. Its strings share one allocation.
func decodeClaims(p []byte) (Claims, bool) {
	d := decoder{b: p, s: string(p)}
	var cl Claims
	iat, exp, epoch := d.varint(), d.varint(), d.varint()
	cl.ID, cl.UserID, cl.DomainID, cl.ProjectID = d.str(), d.str(), d.str(), d.str()
	n := d.uvarint()
	if d.bad || n > maxMethods {
		return Claims{}, false
	}
	if n > 0 {
		cl.Methods = make([]string, n)
		for i := range cl.Methods {
			cl.Methods[i] = d.str()
		}
	}
	if d.bad || d.off != len(p) {
		return Claims{}, false
	}
	cl.IssuedAt = time.UnixMicro(iat).UTC()
	cl.ExpiresAt = time.UnixMicro(exp).UTC()
	cl.CredentialEpoch = epoch
	return cl, true
}

// decoder reads a payload: b and s hold the same bytes, s so that strings
// are substrings of one allocation. After the first error bad is set and
// every read returns a zero value.
type decoder struct {
	b   []byte
	s   string
	off int
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	x, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.bad || n > maxClaimString || n > uint64(len(d.b)-d.off) {
		d.bad = true
		return ""
	}
	v := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}
