package dataset

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

// The kinds of this domain's errors.
const (
	KindInternal = fault.Internal
	KindInvalid  = fault.Invalid  // 400: the request is wrong
	KindNotFound = fault.NotFound // the thing does not exist
	KindConflict = fault.Conflict // the thing already exists, or the state forbids the change
)

// ModelArts error codes of the data-management APIs (appendix, error codes).
const (
	CodeInvalid            = "ModelArts.4200" // Invalid request: parameter values are invalid
	CodeSubdirRequired     = "ModelArts.4205" // a subdirectory must be specified as the input or output path
	CodeBucketNotExist     = "ModelArts.4311" // OBS bucket does not exist
	CodeOBSPathInvalid     = "ModelArts.4313" // invalid characters in the OBS path
	CodeOBSPathDoubleSlash = "ModelArts.4315" // the OBS path contains //
	CodeWorkPathTooLong    = "ModelArts.4350" // the work_path is too long
	CodeDatasetExists      = "ModelArts.4351" // a dataset of that name already exists
	CodeDatasetNotFound    = "ModelArts.4352" // the dataset ID does not exist
	CodeVersionNotFound    = "ModelArts.4353" // the dataset version ID does not exist
	CodeInvalidPath        = "ModelArts.4374" // invalid OBS path
	CodeLabelNotFound      = "ModelArts.4410" // the label does not exist
	CodeLabelExists        = "ModelArts.4411" // the label already exists
	CodeShortcutExists     = "ModelArts.4412" // the label shortcut already exists
	CodeLabelIncompatible  = "ModelArts.4413" // the label does not comply with the dataset's rules
	CodeTripletEntity      = "ModelArts.4414" // a triplet label's from/to entity does not exist
	CodeEntityInUse        = "ModelArts.4415" // an entity label used by a triplet label cannot be deleted
	CodeSampleNotFound     = "ModelArts.4420" // the sample does not exist
	CodeUploadFailed       = "ModelArts.4421" // the sample could not be added
	CodeAttributeExists    = "ModelArts.4428" // the label attribute name already exists
	CodeAttributeValExists = "ModelArts.4429" // the label attribute value already exists
)

func Invalid(code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return Invalid(CodeInvalid, format, args...)
}

func errDatasetNotFound(id string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeDatasetNotFound, Msg: fmt.Sprintf("Dataset does not exist: %s.", id)}
}

func errSampleNotFound(id string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeSampleNotFound, Msg: fmt.Sprintf("sample %s does not exist in the dataset", id)}
}

func errLabelNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeLabelNotFound, Msg: fmt.Sprintf("Label not found: %s.", name)}
}

// AsError returns the domain error in err's chain, if any.
func AsError(err error) (*Error, bool) { return fault.As(err) }
