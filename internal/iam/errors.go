package iam

import (
	"errors"
	"fmt"
)

// Kind classifies domain errors; the HTTP layer maps each kind to a status
// and an error code in one table.
type Kind uint8

const (
	KindInvalid      Kind = iota + 1 // malformed or out-of-range input
	KindNotFound                     // the thing does not exist (or is not visible to the caller)
	KindConflict                     // the thing already exists, or the change conflicts with state
	KindUnauthorized                 // authentication failed
	KindForbidden                    // authenticated but not allowed
	KindLimit                        // a quota or count limit is reached
	KindThrottled                    // too much work of this kind in flight: retry shortly (429)
)

// Error is a domain error with a kind, an optional IAM error code and a
// message safe to show to the caller.
type Error struct {
	Kind Kind
	// Code is Huawei IAM's error code when one fits (e.g. "IAM.1028" for a
	// policy with too many statements); empty otherwise.
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or 0 for errors that are not domain errors
// (which the HTTP layer treats as internal).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func notFound(what, id string) error { return errorf(KindNotFound, "%s %q not found", what, id) }
