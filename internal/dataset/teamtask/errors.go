package teamtask

import (
	"github.com/atelier-dev/atelier/internal/fault"
)

// ModelArts error codes of the team labeling APIs (appendix, error codes).
const (
	CodeInvalid         = "ModelArts.4200" // parameter values are invalid
	CodeWorkerForbidden = "ModelArts.4600" // the team member cannot perform the operation
	CodeTaskMissing     = "ModelArts.4619" // the team labeling task does not exist
	CodeTaskExists      = "ModelArts.4620" // a team labeling task of that name exists
	CodeStartFailed     = "ModelArts.4621" // the team labeling task cannot be started
	CodeChecking        = "ModelArts.4623" // only one acceptance round at a time
	CodeNotChecked      = "ModelArts.4624" // the member task is not checked
	CodeNothingToCheck  = "ModelArts.4625" // there are no samples waiting for acceptance
	CodeNotifyTooOften  = "ModelArts.4627" // notifications requested too frequently
	CodeCheckMissing    = "ModelArts.4631" // the (acceptance) task does not exist
	CodeMailDisabled    = "ModelArts.4607" // the e-mail cannot be sent
)

func invalid(format string, args ...any) *fault.Error {
	return fault.New(fault.Invalid, CodeInvalid, format, args...)
}

func errTaskNotFound(id string) *fault.Error {
	return fault.New(fault.NotFound, CodeTaskMissing, "Workforce task does not exist: %s.", id)
}

func errTaskExists(name string) *fault.Error {
	return fault.New(fault.Conflict, CodeTaskExists, "The workforce task already exists: %s.", name)
}

func errCheckNotFound(id string) *fault.Error {
	return fault.New(fault.NotFound, CodeCheckMissing, "The acceptance task does not exist: %s.", id)
}

func errSampleNotFound(id string) *fault.Error {
	// No ModelArts code: the appendix answers 4420 with 400, and a sample
	// that is not the caller's must look like one that does not exist (404).
	return fault.New(fault.NotFound, "", "The sample does not exist in this task for you: %s.", id)
}

// forbidden is a member's attempt at what its role does not allow.
func forbidden(format string, args ...any) *fault.Error {
	return fault.New(fault.Forbidden, CodeWorkerForbidden, "The worker action is forbidden: "+format, args...)
}

func conflict(code, format string, args ...any) *fault.Error {
	return fault.New(fault.Conflict, code, format, args...)
}

// wrap is fault.Wrap: domain errors pass through, others say what failed.
func wrap(what string, err error) error { return fault.Wrap(what, err) }
