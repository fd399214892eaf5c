package policy

// Error is a validation failure of a policy document. Code is the Huawei IAM
// error code ("IAM.1028"); Message says where the problem is, starting with
// the location in the document, for example
// `Statement[2].Action[0]: action "modelarts:foo:bar" is not registered`.
// Positions count from 0.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes. Those the fact sheet names keep Huawei's meaning; the others
// fill gaps in the same range and are listed in docs/iam.md.
const (
	codeMalformed        = "IAM.1001" // not JSON, invalid UTF-8, duplicate field, trailing data
	codeWrongType        = "IAM.1002" // a field has the wrong JSON type
	codeMissing          = "IAM.1003" // a required field is absent
	codeVersion          = "IAM.1006" // Version is not "1.1"
	codeTooLong          = "IAM.1021" // document longer than 6,144 characters
	codeStatementCount   = "IAM.1028" // 1–8 statements
	codeEffect           = "IAM.1029" // Effect is neither Allow nor Deny
	codeActionCount      = "IAM.1033" // 1–100 actions per statement
	codeActionLength     = "IAM.1034" // action longer than 128 characters
	codeActionFormat     = "IAM.1035" // action is not service:resourceType:operation
	codeActionUnknown    = "IAM.1036" // action not registered, or pattern matches none
	codeResourceCount    = "IAM.1037" // 1–20 resources per statement
	codeResourceEmpty    = "IAM.1041" // empty resource URI
	codeResourceLength   = "IAM.1042" // resource URI longer than 1,500 characters
	codeResourceChars    = "IAM.1043" // space or other character not allowed in a resource URI
	codeResourceFormat   = "IAM.1044" // resource URI is not service:region:account:type:path
	codeConditionCount   = "IAM.1050" // 1–10 condition keys per statement
	codeOperator         = "IAM.1051" // unknown or misused condition operator
	codeOperatorKey      = "IAM.1052" // operator cannot be applied to this key
	codeConditionNoValue = "IAM.1053" // a condition key lists no values
	codeValueFormat      = "IAM.1055" // value is not a number, date, CIDR, boolean … as the operator needs
	codeValueLength      = "IAM.1056" // condition value outside 1–1,024 characters
	codeUnknown          = "IAM.1059" // unknown field or unknown condition key
)

// problem is a validation failure before its location is known.
type problem struct {
	code, msg string
}

func (p *problem) at(loc string) *Error {
	return &Error{Code: p.code, Message: loc + ": " + p.msg}
}
