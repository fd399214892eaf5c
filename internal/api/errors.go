package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/atelier-dev/atelier/internal/fault"
)

// Error is an API error: an HTTP status, an error code of the reference and
// a message safe for the caller. Handlers return it (or a domain error that
// toError maps); the router writes it in the route's envelope.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg) }

// Errorf builds an API error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Codes of the ModelArts error table used across routes.
const (
	codeInvalid         = "ModelArts.0101" // Invalid Argument
	codeTokenMissing    = "ModelArts.0201" // Token doesn't exist
	codeTokenExpired    = "ModelArts.0202"
	codeTokenInvalid    = "ModelArts.0203"
	codeNoProjectToken  = "ModelArts.0212"
	codeAKSKInvalid     = "ModelArts.0206"
	codeNotAuthorized   = "ModelArts.0108" // You are not authorized to perform the ({0}) operation.
	codeWorkspaceDenied = "ModelArts.0112"
	codeProjectMismatch = "ModelArts.0210"
	codePathNotFound    = "ModelArts.2836"
	codeAPINotBuilt     = "ModelArts.4204" // API %s does not exist.
	codeInternal        = "ModelArts.0010"
)

// BadRequest is the 400 for a field that fails validation; msg names the field.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, codeInvalid, format, args...)
}

// toError maps any error to an API error: API errors as they are, domain
// errors (fault.Error, from every domain package) through the one status
// table (errtable.go); ok is false for internal errors, whose detail must
// not reach the caller.
func toError(err error, iamRoute bool) (e *Error, ok bool) {
	if errors.As(err, &e) {
		return e, true
	}
	if de, ok := fault.As(err); ok && de.Kind != fault.Internal {
		status := statusOf(de)
		code := de.Code
		if code == "" {
			code = defaultCode(status, iamRoute)
		}
		return &Error{Status: status, Code: code, Msg: de.Msg}, true
	}
	if iamRoute {
		return &Error{Status: http.StatusInternalServerError, Code: "IAM.0001", Msg: "internal error"}, false
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeInternal, Msg: "Internal error."}, false
}

func defaultCode(status int, iamRoute bool) string {
	if iamRoute {
		switch status {
		case http.StatusBadRequest:
			return "IAM.0007"
		case http.StatusUnauthorized:
			return "IAM.0001"
		case http.StatusForbidden:
			return "IAM.0002"
		case http.StatusNotFound:
			return "IAM.0004"
		case http.StatusConflict:
			return "IAM.0005"
		}
		return "IAM.0006"
	}
	switch status {
	case http.StatusBadRequest:
		return codeInvalid
	case http.StatusUnauthorized:
		return codeTokenInvalid
	case http.StatusForbidden:
		return codeNotAuthorized
	case http.StatusNotFound:
		return codePathNotFound
	}
	return codeInternal
}

// writeError writes e in the envelope of the route's family: ModelArts'
// {"error_code","error_msg"}, or for IAM the same keys plus Keystone's
// {"error":{"code","message","title"}} so that both kinds of client read it.
func writeError(w http.ResponseWriter, e *Error, iamRoute bool) {
	if e.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// Throttling waits are bounded at about a second (iam.Options.HashWait).
		w.Header().Set("Retry-After", "1")
	}
	body := map[string]any{"error_code": e.Code, "error_msg": e.Msg}
	if iamRoute {
		body["error"] = map[string]any{"code": e.Status, "message": e.Msg, "title": http.StatusText(e.Status)}
	}
	writeJSON(w, e.Status, body)
}
