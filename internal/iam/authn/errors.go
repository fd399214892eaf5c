package authn

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them with
// detail, so callers test them with errors.Is. The detail may quote
// client-supplied values (quoted and truncated) but never secrets.
var (
	// ErrMissingAuth means the request carries no Authorization header.
	ErrMissingAuth = errors.New("authn: missing authorization")
	// ErrMalformedAuth means the Authorization header, or a header the
	// signature scheme requires (X-Sdk-Date), cannot be parsed.
	ErrMalformedAuth = errors.New("authn: malformed authorization")
	// ErrUnsupportedAlgorithm means the Authorization header names a signing
	// algorithm other than SDK-HMAC-SHA256 (the SDKs can also be configured
	// for SDK-HMAC-SM3, SDK-ECDSA-P256-SHA256, SDK-SM2-SM3 and the derived
	// V11-HMAC-SHA256). It is also an ErrMalformedAuth.
	ErrUnsupportedAlgorithm = fmt.Errorf("%w: unsupported signing algorithm", ErrMalformedAuth)
	// ErrSignatureMismatch means the signature does not match the request.
	ErrSignatureMismatch = errors.New("authn: signature mismatch")
	// ErrRequestExpired means X-Sdk-Date is further than MaxClockSkew from
	// the server's clock.
	ErrRequestExpired = errors.New("authn: request date outside the allowed window")

	// ErrTokenInvalid means a token is malformed, was not issued with this
	// codec's key, or was altered.
	ErrTokenInvalid = errors.New("authn: invalid token")
	// ErrTokenExpired means a token was valid but its expiry has passed.
	ErrTokenExpired = errors.New("authn: token expired")
)

// quote formats a client-supplied value for an error message: quoted, and
// cut so that a hostile header cannot blow up log lines.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
