package training

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error; the API layer maps it to a status.
type Kind uint8

const (
	KindInternal Kind = iota
	KindInvalid       // 400: the request is wrong
	KindNotFound      // the algorithm or job does not exist (ModelArts answers 400 or 404)
	KindConflict      // the thing already exists, or the state forbids the change
)

// Error is a domain error with a ModelArts error code and a message safe for
// the caller.
type Error struct {
	Kind Kind
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

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
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
