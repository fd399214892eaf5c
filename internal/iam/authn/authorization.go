package authn

import (
	"fmt"
	"strings"
)

// AlgorithmHMACSHA256 is the only signing algorithm Atelier verifies: the
// Huawei Cloud SDKs' default.
const AlgorithmHMACSHA256 = "SDK-HMAC-SHA256"

// Limits on the Authorization header: generous for any SDK, small enough that
// a hostile header cannot make verification expensive.
const (
	maxSignedHeaders = 64
	maxAccessKeyLen  = 128
)

// Authorization is a parsed SDK-HMAC-SHA256 Authorization header.
type Authorization struct {
	// Algorithm is always AlgorithmHMACSHA256 for a successfully parsed header.
	Algorithm string
	// AccessKey is the AK, from "Access=AK" or from the first component of
	// the older "Credential=AK/date//service/sdk_request".
	AccessKey string
	// SignedHeaders are the header names as the client listed them (the SDKs
	// send them lower-case and sorted), in order.
	SignedHeaders []string
	// Signature is 64 lower-case hex digits.
	Signature string
}

// ParseAuthorization parses an Authorization header of the form
//
//	SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b;c, Signature=hex
//
// as the SDKs send it. It is lenient on white space around the commas and
// accepts "Credential=AK/..." in place of "Access=AK", as older documentation
// shows; parameters it does not know are ignored. An empty header is
// ErrMissingAuth, another algorithm ErrUnsupportedAlgorithm, anything else
// that does not parse ErrMalformedAuth.
func ParseAuthorization(h string) (Authorization, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return Authorization{}, ErrMissingAuth
	}
	alg, params, _ := strings.Cut(h, " ")
	if alg != AlgorithmHMACSHA256 {
		return Authorization{}, fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, quote(alg))
	}
	a := Authorization{Algorithm: alg}
	var haveAK, haveHeaders, haveSig bool
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ",")
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return Authorization{}, fmt.Errorf("%w: parameter %s has no value", ErrMalformedAuth, quote(p))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Access"), strings.EqualFold(k, "Credential"):
			if haveAK {
				return Authorization{}, fmt.Errorf("%w: access key given twice", ErrMalformedAuth)
			}
			haveAK = true
			if strings.EqualFold(k, "Credential") {
				v, _, _ = strings.Cut(v, "/")
			}
			if !validAccessKey(v) {
				return Authorization{}, fmt.Errorf("%w: invalid access key %s", ErrMalformedAuth, quote(v))
			}
			a.AccessKey = v
		case strings.EqualFold(k, "SignedHeaders"):
			if haveHeaders {
				return Authorization{}, fmt.Errorf("%w: SignedHeaders given twice", ErrMalformedAuth)
			}
			haveHeaders = true
			hs, err := parseSignedHeaders(v)
			if err != nil {
				return Authorization{}, err
			}
			a.SignedHeaders = hs
		case strings.EqualFold(k, "Signature"):
			if haveSig {
				return Authorization{}, fmt.Errorf("%w: Signature given twice", ErrMalformedAuth)
			}
			haveSig = true
			if _, ok := decodeSignature(v); !ok {
				return Authorization{}, fmt.Errorf("%w: signature is not 64 lower-case hex digits", ErrMalformedAuth)
			}
			a.Signature = v
		}
	}
	switch {
	case !haveAK:
		return Authorization{}, fmt.Errorf("%w: no Access", ErrMalformedAuth)
	case !haveHeaders:
		return Authorization{}, fmt.Errorf("%w: no SignedHeaders", ErrMalformedAuth)
	case !haveSig:
		return Authorization{}, fmt.Errorf("%w: no Signature", ErrMalformedAuth)
	}
	return a, nil
}

// parseSignedHeaders splits "a;b;c". An empty list is allowed (the string to
// sign still covers X-Sdk-Date); empty or invalid names are not.
func parseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	n := strings.Count(v, ";") + 1
	if n > maxSignedHeaders {
		return nil, fmt.Errorf("%w: more than %d signed headers", ErrMalformedAuth, maxSignedHeaders)
	}
	hs := make([]string, 0, n)
	for name := range strings.SplitSeq(v, ";") {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%w: invalid signed header name %s", ErrMalformedAuth, quote(name))
		}
		hs = append(hs, name)
	}
	return hs, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validAccessKey accepts what the store could possibly hold: visible ASCII
// without separators of this header.
func validAccessKey(s string) bool {
	if s == "" || len(s) > maxAccessKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' || c == '=' || c == ';' {
			return false
		}
	}
	return true
}

// decodeSignature decodes 64 lower-case hex digits, the only form the SDKs
// emit; accepting one spelling only keeps signatures non-malleable.
func decodeSignature(s string) (sig [32]byte, ok bool) {
	if len(s) != 64 {
		return sig, false
	}
	for i := range sig {
		hi, ok1 := lowerHex(s[2*i])
		lo, ok2 := lowerHex(s[2*i+1])
		if !ok1 || !ok2 {
			return sig, false
		}
		sig[i] = hi<<4 | lo
	}
	return sig, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
