// Package fault is the one vocabulary of domain errors. Every domain
// package (iam, training, dataset) reports a failure its caller should see
// as an *Error: a kind, the ModelArts or IAM error code that fits, and a
// message safe to show. The HTTP layer turns it into a status and an
// envelope in one place (internal/api/errtable.go). It imports nothing of
// ours and knows nothing of HTTP.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error.
type Kind uint8

const (
	// Internal is not a domain error: its detail is never shown.
	Internal Kind = iota
	// Invalid: malformed or out-of-range input.
	Invalid
	// NotFound: the thing does not exist (or is not visible to the caller).
	NotFound
	// Conflict: the thing already exists, or the change conflicts with state.
	Conflict
	// Unauthorized: authentication failed.
	Unauthorized
	// Forbidden: authenticated but not allowed.
	Forbidden
	// Limit: a quota or count limit is reached.
	Limit
	// Throttled: too much work of this kind in flight; retry shortly.
	Throttled
)

// Error is a domain error: a kind, an error code of the reference (ModelArts
// or IAM; empty when none fits) and a message safe to show to the caller.
type Error struct {
	Kind Kind
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// New builds a domain error.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// As returns the domain error in err's chain, if any.
func As(err error) (*Error, bool) {
	if err == nil {
		return nil, false // without the allocation errors.As's target costs
	}
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf returns the kind of err's domain error, or Internal.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Wrap says what was being done around an infrastructure error and passes
// a domain error (and nil) through unchanged, so that its kind, code and
// message reach the caller as they are.
func Wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := As(err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
