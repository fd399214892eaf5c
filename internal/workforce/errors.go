package workforce

import (
	"github.com/atelier-dev/atelier/internal/fault"
)

// Error is the domain error vocabulary every domain shares (package fault).
type Error = fault.Error

// ModelArts error codes of the labeling-team APIs (appendix, error codes).
const (
	CodeInvalid          = "ModelArts.4200" // Invalid request: parameter values are invalid
	CodeWorkforceMissing = "ModelArts.4601" // the workforce does not exist
	CodeWorkforceExists  = "ModelArts.4602" // a team of that name already exists
	CodeWorkerMissing    = "ModelArts.4604" // the worker does not exist
	CodeWorkerExists     = "ModelArts.4605" // a member with that e-mail already exists
	CodeOneManager       = "ModelArts.4617" // the team manager already exists
	CodeDeleteSelf       = "ModelArts.4618" // you cannot delete yourself from the team
)

func invalid(format string, args ...any) *Error {
	return fault.New(fault.Invalid, CodeInvalid, format, args...)
}

func errWorkforceNotFound(id string) *Error {
	return fault.New(fault.NotFound, CodeWorkforceMissing, "The workforce does not exist: %s.", id)
}

func errWorkerNotFound(id string) *Error {
	return fault.New(fault.NotFound, CodeWorkerMissing, "The worker does not exist: %s.", id)
}

func errWorkforceExists(name string) *Error {
	return fault.New(fault.Conflict, CodeWorkforceExists, "The workforce already exists: %s.", name)
}

func errWorkerExists(email string) *Error {
	return fault.New(fault.Conflict, CodeWorkerExists, "The worker already exists: %s.", email)
}

func errOneManager() *Error {
	return fault.New(fault.Conflict, CodeOneManager, "The number of manager should be one: the team already has a team administrator.")
}

func errDeleteSelf() *Error {
	return fault.New(fault.Invalid, CodeDeleteSelf, "Can not delete yourself from the team.")
}

func errLimit(format string, args ...any) *Error {
	return fault.New(fault.Limit, CodeInvalid, format, args...)
}

// wrap is fault.Wrap: domain errors pass through, others say what failed.
func wrap(what string, err error) error { return fault.Wrap(what, err) }

// domainError is err's domain error, if it is one.
func domainError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	return fault.As(err)
}
