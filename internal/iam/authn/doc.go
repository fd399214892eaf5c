// Package authn owns Atelier's authentication protocols: verification of the
// Huawei Cloud "SDK-HMAC-SHA256" AK/SK request signature exactly as the
// official Huawei Cloud SDKs compute it, and the format of the server's own
// signed bearer tokens (the Keystone-style X-Auth-Token / X-Subject-Token).
//
// Both are pure functions of their inputs: the caller supplies the secret key
// of an access key, the token signing key and the current time. The package
// must not look anything up in storage (which AK belongs to whom, whether a
// user is disabled, the current credential epoch), must not route or write
// HTTP responses, and must not log; it returns typed errors that the HTTP
// layer maps to statuses and error codes.
package authn
