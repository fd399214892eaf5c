package api

import (
	"net/http"

	"github.com/atelier-dev/atelier/internal/fault"
)

// The one table that turns domain errors into HTTP statuses. A domain error
// (fault.Error) with a ModelArts code answers the status the reference's
// error-code appendix gives that code (errtable_test.go holds every entry,
// and every code the source emits, against the appendix); one without a
// listed code answers by its kind. IAM codes are Huawei IAM's, which the
// ModelArts appendix does not list: they answer by kind.

// codeStatus is the status of each ModelArts code a domain package returns.
// Entries that differ from the appendix are in statusDeviations, with why.
var codeStatus = map[string]int{
	// Workspaces and authorization (iam).
	"ModelArts.0102": http.StatusBadRequest, // the workspace does not exist
	"ModelArts.0108": http.StatusForbidden,  // not authorized (buckets of another account)
	"ModelArts.0112": http.StatusForbidden,  // the permission on the workspace is restricted

	// The server over its capacity (store.ErrBusy): retry after Retry-After.
	"ModelArts.6101": http.StatusTooManyRequests,

	// Training (the reference answers every training error 400).
	"ModelArts.0101": http.StatusBadRequest,
	"ModelArts.2751": http.StatusBadRequest,
	"ModelArts.2755": http.StatusBadRequest,
	"ModelArts.2757": http.StatusBadRequest,
	"ModelArts.2758": http.StatusBadRequest,
	"ModelArts.2763": http.StatusBadRequest,
	"ModelArts.2767": http.StatusBadRequest,
	"ModelArts.2775": http.StatusBadRequest,
	"ModelArts.2776": http.StatusBadRequest, // not ready to fetch the log (see statusDeviations)
	"ModelArts.2788": http.StatusBadRequest,
	"ModelArts.2791": http.StatusBadRequest,
	"ModelArts.2793": http.StatusBadRequest,
	"ModelArts.2806": http.StatusBadRequest,
	"ModelArts.2816": http.StatusBadRequest,
	"ModelArts.2819": http.StatusBadRequest,
	"ModelArts.2821": http.StatusBadRequest,
	"ModelArts.3551": http.StatusBadRequest,

	// Data management.
	"ModelArts.4200": http.StatusBadRequest,
	"ModelArts.4205": http.StatusBadRequest,
	"ModelArts.4311": http.StatusBadRequest,
	"ModelArts.4312": http.StatusBadRequest,
	"ModelArts.4313": http.StatusBadRequest,
	"ModelArts.4315": http.StatusBadRequest,
	"ModelArts.4338": http.StatusBadRequest,
	"ModelArts.4343": http.StatusBadRequest,
	"ModelArts.4350": http.StatusBadRequest,
	"ModelArts.4351": http.StatusBadRequest,
	"ModelArts.4352": http.StatusNotFound, // unknown dataset (see statusDeviations)
	"ModelArts.4353": http.StatusBadRequest,
	"ModelArts.4355": http.StatusBadRequest,
	"ModelArts.4356": http.StatusBadRequest,
	"ModelArts.4358": http.StatusBadRequest,
	"ModelArts.4359": http.StatusBadRequest,
	"ModelArts.4361": http.StatusBadRequest, // an intelligent task failed (shown in the task, not answered)
	"ModelArts.4362": http.StatusBadRequest,
	"ModelArts.4371": http.StatusBadRequest,
	"ModelArts.4374": http.StatusBadRequest,
	"ModelArts.4393": http.StatusBadRequest,
	"ModelArts.4410": http.StatusBadRequest,
	"ModelArts.4411": http.StatusBadRequest,
	"ModelArts.4412": http.StatusBadRequest,
	"ModelArts.4413": http.StatusBadRequest,
	"ModelArts.4414": http.StatusBadRequest,
	"ModelArts.4415": http.StatusBadRequest,
	"ModelArts.4420": http.StatusBadRequest,
	"ModelArts.4421": http.StatusBadRequest,
	"ModelArts.4428": http.StatusBadRequest,
	"ModelArts.4429": http.StatusBadRequest,

	// Labeling teams (workforce).
	"ModelArts.4601": http.StatusNotFound, // unknown team (see statusDeviations)
	"ModelArts.4602": http.StatusBadRequest,
	"ModelArts.4604": http.StatusNotFound, // unknown member (see statusDeviations)
	"ModelArts.4605": http.StatusBadRequest,
	"ModelArts.4617": http.StatusBadRequest,
	"ModelArts.4618": http.StatusBadRequest,
	"ModelArts.4600": http.StatusForbidden,  // a team member's action its role does not allow
	"ModelArts.4606": http.StatusBadRequest, // the sample has been reviewed (see statusDeviations)
	"ModelArts.4607": http.StatusBadRequest, // the e-mail cannot be sent (no SMTP server)
	"ModelArts.4619": http.StatusNotFound,   // unknown team labeling task (see statusDeviations)
	"ModelArts.4620": http.StatusBadRequest,
	"ModelArts.4621": http.StatusBadRequest,
	"ModelArts.4623": http.StatusBadRequest,
	"ModelArts.4624": http.StatusBadRequest,
	"ModelArts.4625": http.StatusBadRequest,
	"ModelArts.4627": http.StatusBadRequest,
	"ModelArts.4631": http.StatusNotFound, // unknown acceptance round (see statusDeviations)
	"ModelArts.4710": http.StatusBadRequest,
	"ModelArts.4711": http.StatusBadRequest,

	// Data processing tasks (dataset/processing).
	"ModelArts.4700": http.StatusNotFound, // unknown processing task or version (see statusDeviations)
	"ModelArts.4709": http.StatusBadRequest,
	"ModelArts.4850": http.StatusForbidden, // a version is running: stop it first
	"ModelArts.4824": http.StatusBadRequest,
	"ModelArts.4825": http.StatusBadRequest,
	"ModelArts.4828": http.StatusBadRequest,
}

// statusDeviations are the codes Atelier answers with another status than
// the appendix gives, and why. The test requires a reason for every
// difference, in codeStatus and in the statuses the router writes itself
// (a body too large or not JSON, a range that cannot be served, qualify an
// invalid argument: those statuses carry their family's invalid-argument
// code).
var statusDeviations = map[string]string{
	"ModelArts.2776": "the appendix answers 204 (\"NotReadyToFetchLog\"), which cannot carry the error body clients read; the training pages answer errors 400",
	"ModelArts.4601": "the appendix answers 400; the labeling-team pages list 404 Not Found for a team that does not exist, as for datasets",
	"ModelArts.4604": "the appendix answers 400; the member pages list 404 Not Found for a member that does not exist, as for datasets",
	"ModelArts.4606": "the appendix answers 200 (a notice); Atelier refuses the change, so it answers 400 with the code",
	"ModelArts.4619": "the appendix answers 400; the team labeling task pages list 404 Not Found, and a task the caller may not see must look like one that does not exist",
	"ModelArts.4631": "the appendix answers 400; an acceptance round that does not exist answers 404 Not Found, as a task does",
	"ModelArts.4700": "the appendix answers 400 (and 503 for a gateway being stopped); the processing-task pages list 404 Not Found for a task or version that does not exist, as for datasets",
	"ModelArts.4352": "the appendix answers 400; the dataset pages list 404 Not Found for a dataset that does not exist, and ModelArts' SDKs expect it",
}

// kindStatus is the status of a domain error without a listed code.
var kindStatus = map[fault.Kind]int{
	fault.Invalid:      http.StatusBadRequest,
	fault.NotFound:     http.StatusNotFound,
	fault.Conflict:     http.StatusConflict,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.Forbidden:    http.StatusForbidden,
	fault.Limit:        http.StatusBadRequest,
	fault.Throttled:    http.StatusTooManyRequests,
}

// statusOf is the status of a domain error.
func statusOf(e *fault.Error) int {
	if s, ok := codeStatus[e.Code]; ok {
		return s
	}
	if s, ok := kindStatus[e.Kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}
