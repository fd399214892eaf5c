package training

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

// ModelArts error codes the training API answers.
const (
	CodeInvalid            = "ModelArts.0101" // Invalid Argument
	CodeJobNameDuplicate   = "ModelArts.2751"
	CodeAlgorithmNotFound  = "ModelArts.2755" // AiAlgorithmNotFound
	CodeCodeDir            = "ModelArts.2757" // CodeDirError
	CodeBootFile           = "ModelArts.2758" // BootFileDirError
	CodeFlavorInvalid      = "ModelArts.2763" // DoNotHaveFlavor
	CodeParameterKeyRepeat = "ModelArts.2767"
	CodeJobNotFound        = "ModelArts.2775" // TrainingJobNotFound
	CodeNotReadyLog        = "ModelArts.2776"
	CodeInvalidParam       = "ModelArts.2788" // InvalidParam
	CodeInvalidOBSPath     = "ModelArts.2791" // InvalidObsPath
	CodeFlavorOutOfRange   = "ModelArts.2793" // FlavorOutOfRange
	CodeMustHaveCmdImage   = "ModelArts.2806" // MustHaveCmdAndImage
	CodeParamRange         = "ModelArts.2816" // ParamRangeError
	CodeAlgorithmDuplicate = "ModelArts.2821" // DuplicateAlgorithmName
	CodeOBSPathNotExist    = "ModelArts.3551" // OBS path {path} does not exist.
	CodeBucketNotExist     = "ModelArts.4311" // OBS bucket does not exist
)

func invalid(code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return invalid(CodeInvalid, format, args...)
}

func errJobNotFound(id string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeJobNotFound, Msg: fmt.Sprintf("Training job (ID: %s) not found.", id)}
}

func errAlgorithmNotFound(id string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeAlgorithmNotFound, Msg: fmt.Sprintf("algorithm not found: %s.", id)}
}

// AsError returns the domain error in err's chain, if any.
func AsError(err error) (*Error, bool) { return fault.As(err) }
