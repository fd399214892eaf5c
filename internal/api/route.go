package api

import (
	"fmt"
	"net/http"
)

// Route is one API of the product: one row of the table that authentication,
// authorization, limits and the error envelope are applied from. A route
// cannot be served without an action: the router refuses to mount it.
type Route struct {
	// Name is the seed table's "Permission" column (or a short description
	// for APIs outside the seeds), used by `atelier routes` and in logs.
	Name string
	// Method and Path are the reference's: Path is the template with
	// {braced} parameters exactly as the API reference writes it.
	Method string
	Path   string
	// Action is the IAM action that guards the route ("modelarts:dataset:getDataset").
	// Public routes (health, token issue) have none.
	Action string
	// Related lists the object-storage actions the route also needs, from the
	// seed table; the handler names the buckets/objects they apply to through
	// Call.AuthorizeObjects before any side effect.
	Related []string
	// Family groups routes for listing: "training", "data", "iam", "system".
	Family string
	// Service says how the request is scoped for authorization:
	// ServiceModelArts (project in the path, workspace/enterprise project of
	// the target resource) or ServiceGlobal (IAM: account-wide grants only).
	Service Service
	// Public routes skip authentication and authorization (GET /health,
	// POST /v3/auth/tokens).
	Public bool
	// Self routes are authenticated but act only on the caller's own
	// identity (listing the projects a token may be scoped to, changing one's
	// own password), so no policy decides them, as in Keystone.
	Self bool
	// Needs names the service the handler works on. A server configured
	// without it (Config.Training, Datasets or Objects nil: servers built
	// for tests of other families) leaves the route unmounted; Config.serves
	// is the one place that decides.
	Needs Needs
	// AliasOf is set on a row that serves another row's API again under a
	// second method or path (Keystone's /v3/users beside IAM's
	// /v3.0/OS-USER/users, HEAD beside GET): the pattern of that row, whose
	// handler, resolver and action it shares. Only an alias may share a
	// handler (checkBindings); make one with Route.alias.
	AliasOf string
	// Resolve loads the workspace of the resource the request targets, so that
	// enterprise-project grants can be applied before the handler runs. Nil
	// means the workspace comes from the request (workspace_id query or body,
	// default "0").
	Resolve Resolver
	// Handler serves the route. Nil means this build does not implement the
	// API yet: the route is listed by `atelier routes` but not mounted.
	Handler HandlerFunc
	// MaxBody overrides the default request body limit (bytes); 0 = default.
	MaxBody int64
	// StreamBody routes get the request body unread (Call.Body is nil):
	// the handler streams r.Body, bounded by MaxBody, instead of the router
	// reading it into memory. AK/SK requests to them must not sign the body
	// (X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD, which the SDK signers send
	// for every non-JSON content type); the router refuses others with 400.
	StreamBody bool
	// ObjectAction routes have an object-storage Action that is decided on
	// the bucket or object the handler names, not on the route: an OBS
	// statement with a Resource never applies to a request without one.
	// Related must repeat the Action, so that the router refuses a success
	// from a handler that did not call Call.AuthorizeObjects.
	ObjectAction bool
	// Team routes are the team labeling routes: the labeling system
	// policies a team member holds count on them (iam's TeamSet), because
	// the team labeling room scopes every query to the caller's part of
	// the task. Call.Owner tells the room whether a policy other than
	// those grants the action (the caller then manages the whole task).
	Team bool
}

// Service is how a route is scoped for authorization.
type Service uint8

const (
	// ServiceModelArts routes are project-level: /v1|v2/{project_id}/...;
	// grants on that project, on the enterprise project of the target
	// workspace, and account-wide grants apply.
	ServiceModelArts Service = iota
	// ServiceGlobal routes (IAM) are account-level: only account-wide grants apply.
	ServiceGlobal
)

// Needs is the configured service a route's handler works on.
type Needs uint8

const (
	// NeedsNothing routes are served by the server itself (IAM, workspaces, health).
	NeedsNothing Needs = iota
	// NeedsTraining routes are served by Config.Training.
	NeedsTraining
	// NeedsDatasets routes are served by Config.Datasets.
	NeedsDatasets
	// NeedsObjects routes are served by Config.Objects.
	NeedsObjects
	// NeedsWorkforces routes are served by Config.Workforces.
	NeedsWorkforces
	// NeedsTeamTasks routes are served by Config.TeamTasks.
	NeedsTeamTasks
	// NeedsAutoLabel routes are served by Config.AutoLabel.
	NeedsAutoLabel
	// NeedsProcessing routes are served by Config.Processing.
	NeedsProcessing
)

func (n Needs) String() string {
	switch n {
	case NeedsNothing:
		return "none"
	case NeedsTraining:
		return "training"
	case NeedsDatasets:
		return "datasets"
	case NeedsObjects:
		return "objects"
	case NeedsWorkforces:
		return "workforces"
	case NeedsTeamTasks:
		return "team-tasks"
	case NeedsAutoLabel:
		return "auto-label"
	case NeedsProcessing:
		return "processing"
	}
	return fmt.Sprintf("Needs(%d)", uint8(n))
}

// serve binds a row to the handler that serves it and the resolver that
// finds the workspace it targets (nil: the workspace the request names,
// default "0"). A row is bound where it is declared, once: the table has
// no other place that attaches handlers.
func (r Route) serve(h HandlerFunc, resolve Resolver) Route {
	r.Handler, r.Resolve = h, resolve
	return r
}

// alias is a row serving r's API again at another method and path, with
// r's action, handler and resolver.
func (r Route) alias(name, method, path string) Route {
	a := r
	a.Name, a.Method, a.Path, a.AliasOf = name, method, path, r.Pattern()
	return a
}

// Implemented reports whether this build serves the route.
func (r Route) Implemented() bool { return r.Handler != nil }

// Pattern is the net/http ServeMux pattern of the route.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// HandlerFunc is the shape of every handler: it writes a success response
// itself and returns an error for anything else; the router turns errors into
// the API's error envelope in one place.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, c *Call) error

// Resolver finds what a request targets (e.g. the dataset's workspace, or
// the workspace a new resource is created into), or returns an error that
// the router answers (typically a not-found error).
type Resolver func(r *http.Request, c *Call) (Target, error)

// Target is the authorization context of a ModelArts request: a workspace
// (whose enterprise project then applies), or for requests that create into
// an enterprise project directly (a new workspace), that enterprise project.
type Target struct {
	WorkspaceID         string
	EnterpriseProjectID string
}
