package authn

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Headers of the signature scheme, in net/http canonical form.
const (
	HeaderSDKDate          = "X-Sdk-Date"
	HeaderSDKContentSHA256 = "X-Sdk-Content-Sha256"
	// UnsignedPayload as the value of X-Sdk-Content-Sha256 means the body is
	// not covered by the signature. The SDKs send it for every Content-Type
	// that contains neither "application/json" nor "application/bson".
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// SDKDateFormat is the layout of X-Sdk-Date.
	SDKDateFormat = "20060102T150405Z"
	// MaxClockSkew is how far X-Sdk-Date may be from the server's clock,
	// either side, for a signature to be accepted.
	MaxClockSkew = 15 * time.Minute
)

// BodySigned reports whether r's signature covers its body, that is whether
// Verify needs the body. It is false when the client sent
// X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD (uploads with a non-JSON content
// type), so the HTTP layer can stream such bodies instead of buffering them.
func BodySigned(r *http.Request) bool {
	v, ok := r.Header[HeaderSDKContentSHA256]
	return !ok || len(v) == 0 || v[0] != UnsignedPayload
}

// Verify checks the SDK-HMAC-SHA256 signature auth of r with the secret key
// of auth.AccessKey. body is the whole request body (nil for none); it is not
// read when BodySigned(r) is false. now is the server's time.
//
// The canonical request is rebuilt as the Huawei Cloud SDKs build it:
//
//	METHOD
//	canonical URI: each path segment escaped (all but A-Z a-z 0-9 - _ . ~,
//	  as %XX upper-case), always ending in "/"
//	canonical query: pairs sorted by raw key then raw value, escaped the
//	  same way, "k=v" joined by "&" ("k=" for an empty value)
//	canonical headers: "name:value\n" for each signed header and each of its
//	  values (sorted), values trimmed
//	signed header list joined by ";"
//	hex SHA-256 of the body, or the value of X-Sdk-Content-Sha256
//
// and the signature is hex(HMAC-SHA256(secret, "SDK-HMAC-SHA256\n" +
// X-Sdk-Date + "\n" + hex(SHA-256(canonical request)))).
//
// The Host value of a signed "host" header is r.Host. Unlike API Gateway's
// signers, the Go SDK does not sign host at all, so Verify does not require
// it to be signed. A signed header absent from r contributes no line, as in
// the SDK. When X-Sdk-Content-Sha256 holds a digest rather than
// UNSIGNED-PAYLOAD, it must be the body's.
//
// Errors wrap ErrMalformedAuth, ErrRequestExpired or ErrSignatureMismatch.
func Verify(r *http.Request, body []byte, auth Authorization, secret string, now time.Time) error {
	if auth.Algorithm != AlgorithmHMACSHA256 {
		return fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, quote(auth.Algorithm))
	}
	want, ok := decodeSignature(auth.Signature)
	if !ok {
		return fmt.Errorf("%w: signature is not 64 lower-case hex digits", ErrMalformedAuth)
	}
	if len(auth.SignedHeaders) > maxSignedHeaders {
		return fmt.Errorf("%w: more than %d signed headers", ErrMalformedAuth, maxSignedHeaders)
	}
	if r == nil || r.URL == nil {
		return fmt.Errorf("%w: no request", ErrMalformedAuth)
	}

	date := r.Header.Get(HeaderSDKDate)
	if date == "" {
		return fmt.Errorf("%w: missing %s header", ErrMalformedAuth, HeaderSDKDate)
	}
	t, err := time.Parse(SDKDateFormat, date)
	if err != nil {
		return fmt.Errorf("%w: %s %s is not in the form %s", ErrMalformedAuth, HeaderSDKDate, quote(date), SDKDateFormat)
	}
	if skew := now.Sub(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		return fmt.Errorf("%w: %s %s is %s from the server's time %s", ErrRequestExpired,
			HeaderSDKDate, date, skew.Round(time.Second), now.UTC().Format(SDKDateFormat))
	}

	// The payload line: the hex digest of the body, or whatever
	// X-Sdk-Content-Sha256 holds, which the SDK signs in its place.
	var digest [64]byte
	payload := ""
	if v, ok := r.Header[HeaderSDKContentSHA256]; ok && len(v) > 0 {
		payload = v[0]
		if payload != UnsignedPayload {
			sum := sha256.Sum256(body)
			hex.Encode(digest[:], sum[:])
			if !strings.EqualFold(payload, string(digest[:])) {
				return fmt.Errorf("%w: %s does not match the body", ErrSignatureMismatch, HeaderSDKContentSHA256)
			}
		}
	} else {
		sum := sha256.Sum256(body)
		hex.Encode(digest[:], sum[:])
	}

	s := scratchPool.Get().(*scratch)
	defer s.release()
	b := s.canon[:0]
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, r.URL)
	b = append(b, '\n')
	b, err = s.appendCanonicalQuery(b, r.URL.RawQuery)
	if err != nil {
		s.canon = b
		return err
	}
	b = append(b, '\n')
	b = s.appendCanonicalHeaders(b, r, auth.SignedHeaders)
	b = append(b, '\n')
	for i, h := range auth.SignedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	if payload != "" {
		b = append(b, payload...)
	} else {
		b = append(b, digest[:]...)
	}
	s.canon = b
	crSum := sha256.Sum256(b)

	// String to sign: algorithm, date, hex digest of the canonical request.
	sts := append(s.sts[:0], AlgorithmHMACSHA256+"\n"...)
	sts = append(sts, date...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, crSum[:])
	s.sts = sts

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(sts)
	if !hmac.Equal(mac.Sum(s.sum[:0]), want[:]) {
		return fmt.Errorf("%w: access key %s", ErrSignatureMismatch, quote(auth.AccessKey))
	}
	return nil
}

// scratch holds the buffers of one verification; pooled so that a
// verification allocates almost nothing.
type scratch struct {
	canon []byte   // the canonical request
	sts   []byte   // the string to sign
	dec   []byte   // decoded query keys and values, back to back
	pairs []qpair  // query pairs, as offsets into dec
	vals  []string // values of one signed header
	sum   [sha256.Size]byte
}

type qpair struct{ k0, k1, v0, v1 int }

var scratchPool = sync.Pool{New: func() any {
	return &scratch{canon: make([]byte, 0, 1024), sts: make([]byte, 0, 128), dec: make([]byte, 0, 256)}
}}

func (s *scratch) release() {
	const keep = 64 << 10 // do not pin buffers grown by an unusually large request
	if cap(s.canon) > keep || cap(s.dec) > keep || cap(s.pairs) > 1024 {
		return
	}
	clear(s.vals[:cap(s.vals)]) // do not retain request strings
	s.vals = s.vals[:0]
	clear(s.sum[:])
	scratchPool.Put(s)
}

// appendCanonicalURI appends the path as the SDK signs it: the SDK splits
// its unescaped path on "/" and escapes each segment. net/http has already
// unescaped r.URL.Path; only when the client escaped a "/" inside a segment
// (r.URL.RawPath set) is the escaped form walked, so that such a "/" stays
// part of its segment.
func appendCanonicalURI(b []byte, u *url.URL) []byte {
	path, encoded := u.Path, false
	if u.RawPath != "" {
		path, encoded = u.EscapedPath(), true
	}
	start := len(b)
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' {
			b = append(b, '/')
			continue
		}
		if encoded && c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]) {
			c = unhex(path[i+1])<<4 | unhex(path[i+2])
			i += 2
		}
		b = appendEscaped(b, c)
	}
	if len(b) == start || b[len(b)-1] != '/' {
		b = append(b, '/')
	}
	return b
}

// appendCanonicalQuery appends the query as the SDK signs it. The SDK signs
// its parameters before they are encoded; on the wire they arrive
// form-encoded ("+" or "%20" for a space, a bare "k" for an empty value), so
// each pair is decoded as url.ParseQuery would, then pairs are sorted by raw
// key and raw value (as the SDK sorts) and re-escaped. A query that
// url.ParseQuery would reject (a bad escape, a ";") cannot have been signed
// by an SDK and would be read differently by the handler, so it fails.
func (s *scratch) appendCanonicalQuery(b []byte, raw string) ([]byte, error) {
	s.dec, s.pairs = s.dec[:0], s.pairs[:0]
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		if strings.IndexByte(part, ';') >= 0 {
			return b, fmt.Errorf("%w: query contains a semicolon", ErrSignatureMismatch)
		}
		k, v, _ := strings.Cut(part, "=")
		var p qpair
		var ok1, ok2 bool
		p.k0 = len(s.dec)
		s.dec, ok1 = appendQueryUnescaped(s.dec, k)
		p.k1, p.v0 = len(s.dec), len(s.dec)
		s.dec, ok2 = appendQueryUnescaped(s.dec, v)
		p.v1 = len(s.dec)
		if !ok1 || !ok2 {
			return b, fmt.Errorf("%w: query has an invalid escape in %s", ErrSignatureMismatch, quote(part))
		}
		s.pairs = append(s.pairs, p)
	}
	dec := s.dec
	slices.SortFunc(s.pairs, func(x, y qpair) int {
		if c := bytes.Compare(dec[x.k0:x.k1], dec[y.k0:y.k1]); c != 0 {
			return c
		}
		return bytes.Compare(dec[x.v0:x.v1], dec[y.v0:y.v1])
	})
	for i, p := range s.pairs {
		if i > 0 {
			b = append(b, '&')
		}
		for _, c := range dec[p.k0:p.k1] {
			b = appendEscaped(b, c)
		}
		b = append(b, '=')
		for _, c := range dec[p.v0:p.v1] {
			b = appendEscaped(b, c)
		}
	}
	return b, nil
}

// appendCanonicalHeaders appends "name:value\n" for every value of every
// signed header, values sorted and trimmed, or a lone "\n" when there are
// none: the SDK joins the lines with "\n" and appends one more.
func (s *scratch) appendCanonicalHeaders(b []byte, r *http.Request, signed []string) []byte {
	lines := 0
	for _, name := range signed {
		vals := s.vals[:0]
		if strings.EqualFold(name, "host") {
			// net/http moves Host out of r.Header.
			if r.Host != "" {
				vals = append(vals, r.Host)
			}
		} else {
			// Walk the map instead of canonicalising name: no allocation,
			// and keys set in non-canonical case are found too.
			for k, vs := range r.Header {
				if strings.EqualFold(k, name) {
					vals = append(vals, vs...)
				}
			}
		}
		if len(vals) > 1 {
			slices.Sort(vals)
		}
		for _, v := range vals {
			b = append(b, name...)
			b = append(b, ':')
			b = append(b, strings.TrimSpace(v)...)
			b = append(b, '\n')
			lines++
		}
		s.vals = vals
	}
	if lines == 0 {
		b = append(b, '\n')
	}
	return b
}

// appendEscaped appends c escaped as the SDK escapes path segments, query
// keys and query values: unreserved characters as they are, every other byte
// as %XX with upper-case hex. Unlike net/url, "*" is escaped, "~" is not, and
// a space is always %20.
func appendEscaped(b []byte, c byte) []byte {
	if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '~' || c == '.' {
		return append(b, c)
	}
	const upperHex = "0123456789ABCDEF"
	return append(b, '%', upperHex[c>>4], upperHex[c&15])
}

// appendQueryUnescaped appends s decoded as a query component: "+" is a
// space and %XX a byte. It reports false for a malformed escape.
func appendQueryUnescaped(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return b, false
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return b, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
