package iam

import "time"

// Principal is an authenticated caller, as established by a token or an
// AK/SK signature. It is what every authorization decision starts from.
type Principal struct {
	DomainID   string
	DomainName string
	UserID     string
	UserName   string
	// ProjectID and ProjectName are the token's project scope; empty for a
	// domain-scoped token. AK/SK callers are scoped by the request path.
	ProjectID   string
	ProjectName string
	// Method is "password" (token) or "aksk".
	Method string
	// AccessKey is the AK used to sign the request, for AK/SK callers.
	AccessKey string
	SourceIP  string
	// TokenExpiresAt is set for token callers.
	TokenExpiresAt time.Time
}
