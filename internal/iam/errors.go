package iam

import (
	"fmt"

	"github.com/atelier-dev/atelier/internal/fault"
)

// Kind and Error are the domain error vocabulary every domain shares
// (package fault); the HTTP layer maps them to statuses in one table.
type (
	Kind  = fault.Kind
	Error = fault.Error
)

// The kinds of IAM's errors.
const (
	KindInvalid      = fault.Invalid      // malformed or out-of-range input
	KindNotFound     = fault.NotFound     // the thing does not exist (or is not visible to the caller)
	KindConflict     = fault.Conflict     // the thing already exists, or the change conflicts with state
	KindUnauthorized = fault.Unauthorized // authentication failed
	KindForbidden    = fault.Forbidden    // authenticated but not allowed
	KindLimit        = fault.Limit        // a quota or count limit is reached
	KindThrottled    = fault.Throttled    // too much work of this kind in flight: retry shortly (429)
)

func errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or 0 for errors that are not domain errors
// (which the HTTP layer treats as internal).
func KindOf(err error) Kind { return fault.KindOf(err) }

func notFound(what, id string) error { return errorf(KindNotFound, "%s %q not found", what, id) }
