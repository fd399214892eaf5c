package obs

import (
	"context"
	"errors"
)

// Work that runs after the request that caused it (a dataset import, an
// export, a training job's downloads and uploads) touches objects the
// request did not name, when the user's rights may have changed. It
// authorizes each object when it touches it, for the user who asked, with
// their policies as they are then. The identity service implements the
// decision (iam.Service.ObjectAccess); domain packages see only these types.

// Object-storage actions decided on objects and buckets.
const (
	ActionGetObject  = "obs:object:GetObject"
	ActionPutObject  = "obs:object:PutObject"
	ActionListBucket = "obs:bucket:ListBucket"
)

// Requester is who asked for the work, as the policies' condition keys need
// them, fixed when the work was requested.
type Requester struct {
	UserID              string `json:"user_id"`
	UserName            string `json:"user_name,omitempty"`
	DomainID            string `json:"domain_id"`
	DomainName          string `json:"domain_name,omitempty"`
	ProjectID           string `json:"project_id,omitempty"`
	ProjectName         string `json:"project_name,omitempty"`
	EnterpriseProjectID string `json:"enterprise_project_id,omitempty"`
	SourceIP            string `json:"source_ip,omitempty"`
}

// Authorizer reads a requester's current object-storage permissions. It
// must deny everything to a requester it cannot identify (the zero
// Requester, a deleted or disabled user); it fails only when it cannot
// decide (the store is unreachable).
type Authorizer func(ctx context.Context, who Requester) (Access, error)

// Access decides object-storage actions with the permissions read when it
// was made; it is safe for concurrent use and cheap per call. A refusal is
// an error for which Denied reports true; any other error means the
// decision could not be made.
type Access interface {
	Authorize(ctx context.Context, action, bucket, key string) error
}

// Denied reports whether err is an authorization refusal (whose message
// names the action and the resource) rather than a failure to decide.
func Denied(err error) bool {
	var d interface{ Denied() bool }
	return errors.As(err, &d) && d.Denied()
}
