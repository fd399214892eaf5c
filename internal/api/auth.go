package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/atelier-dev/atelier/internal/metrics"
	"github.com/atelier-dev/atelier/internal/obs"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/authn"
	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// Call is what the router established about a request before the handler
// runs: the route, the caller, the project and workspace it targets.
type Call struct {
	Route     *Route
	Request   *http.Request
	Body      []byte
	Principal *iam.Principal
	// ProjectID is the path's project (ModelArts routes).
	ProjectID string
	// Workspace is the workspace the request targets (ModelArts routes);
	// nil when the request targets an enterprise project directly.
	Workspace *iam.Workspace
	// EnterpriseProjectID is the enterprise project whose grants apply.
	EnterpriseProjectID string
	// Owner is set on team routes (Route.Team) when a policy other than
	// the labeling system policies grants the caller the route's action.
	Owner bool

	srv               *Server
	objectsAuthorized bool
}

// ObjectRef names an object-storage location a handler will touch: a bucket
// (Key "") or an object or prefix within it. It is obs.Path, so that the
// paths a domain package gathers (a sample page's objects) are authorized
// as they are.
type ObjectRef = obs.Path

// AuthorizeObjects checks each of the route's related object-storage actions
// on the locations the handler names, before it causes any side effect.
// Bucket actions are checked on each bucket, object actions on each object,
// and ListAllMyBuckets on the account's bucket list.
func (c *Call) AuthorizeObjects(refs ...ObjectRef) error {
	for _, action := range c.Route.Related {
		if err := c.authorizeObjectAction(action, refs); err != nil {
			return err
		}
	}
	c.objectsAuthorized = true
	return nil
}

// AuthorizeOBS checks one object-storage action on the named locations, for
// checks a handler makes beyond the route's related actions (e.g. a training
// job's code, input, output and log paths). A denial is a 403 naming the
// action and the resource.
func (c *Call) AuthorizeOBS(action string, refs ...ObjectRef) error {
	return c.authorizeObjectAction(action, refs)
}

func (c *Call) authorizeObjectAction(action string, refs []ObjectRef) error {
	ctx := c.Request.Context()
	// The decision is iam's, shared with the background tasks that touch
	// objects for a user.
	objectAccess := c.srv.iam.ObjectAccess
	if c.Route.Team {
		objectAccess = c.srv.iam.TeamObjectAccess
	}
	acc, err := objectAccess(ctx, c.srv.cfg.Region, c.Actor(), c.srv.now())
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if err := objectDenied(acc.Owner(ctx, action, ref.Bucket)); err != nil {
			return err
		}
	}
	decide := func(bucket, key string) error {
		err := acc.Decide(action, bucket, key)
		if err == nil {
			c.srv.cfg.Metrics.ObserveDecision(metrics.DecisionObject, true, false)
			return nil
		}
		var d *iam.ObjectDenial
		if errors.As(err, &d) {
			c.srv.cfg.Metrics.ObserveDecision(metrics.DecisionObject, false, false)
		}
		return objectDenied(err)
	}
	if strings.EqualFold(action, "obs:bucket:ListAllMyBuckets") {
		return decide("", "")
	}
	for _, ref := range refs {
		if err := decide(ref.Bucket, ref.Key); err != nil {
			return err
		}
	}
	return nil
}

// explicitDeny reports whether a Deny statement decided.
func explicitDeny(d policy.Decision) bool { return d.Matched && !d.Allowed }

// Actor is the caller as object decisions and background tasks see them.
func (c *Call) Actor() iam.Actor {
	return iam.ActorOf(c.Principal, c.EnterpriseProjectID)
}

// objectDenied turns an object denial into the API's 403.
func objectDenied(err error) error {
	if err == nil {
		return nil // before errors.As, whose target would cost an allocation per object
	}
	var d *iam.ObjectDenial
	if errors.As(err, &d) {
		return Errorf(http.StatusForbidden, codeNotAuthorized, "%s", d.Error())
	}
	return err
}

func denialReason(d policy.Decision) string {
	if d.Matched {
		return " Denied explicitly by policy \"" + d.PolicyName + "\"."
	}
	return ""
}

// authenticate establishes the caller from X-Auth-Token or an AK/SK signature.
func (s *Server) authenticate(r *http.Request, body []byte, iamRoute bool) (*iam.Principal, error) {
	code := func(mc, ic string) string {
		if iamRoute {
			return ic
		}
		return mc
	}
	ctx := r.Context()
	now := s.now()
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		cl, err := s.cfg.Tokens.Verify(tok, now)
		if errors.Is(err, authn.ErrTokenExpired) {
			return nil, Errorf(http.StatusUnauthorized, code(codeTokenExpired, "IAM.0003"), "The token has expired.")
		}
		if err != nil {
			return nil, Errorf(http.StatusUnauthorized, code(codeTokenInvalid, "IAM.0003"), "The token is invalid.")
		}
		snap, err := s.iam.Snapshot(ctx, cl.UserID)
		if iam.KindOf(err) == iam.KindNotFound {
			return nil, Errorf(http.StatusUnauthorized, code(codeTokenInvalid, "IAM.0003"), "The token is invalid: its user no longer exists.")
		}
		if err != nil {
			return nil, err
		}
		if !snap.User.Enabled || snap.User.CredentialEpoch != cl.CredentialEpoch || snap.User.DomainID != cl.DomainID {
			return nil, Errorf(http.StatusUnauthorized, code(codeTokenInvalid, "IAM.0003"), "The token has been revoked.")
		}
		p := principal(snap, "password", sourceIP(r))
		p.ProjectID, p.TokenExpiresAt = cl.ProjectID, cl.ExpiresAt
		return p, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, Errorf(http.StatusUnauthorized, code(codeTokenMissing, "IAM.0001"), "Authentication is required: send X-Auth-Token or sign the request with an AK/SK (SDK-HMAC-SHA256).")
	}
	if r.Header.Get("X-Security-Token") != "" {
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Temporary AK/SK (X-Security-Token) is not supported by Atelier; use a permanent access key or a token.")
	}
	auth, err := authn.ParseAuthorization(h)
	if err != nil {
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Invalid Authorization header: %v", err)
	}
	// A signature that does not cover a body lets whoever captured the
	// request replace the body within the date window. Only routes that
	// stream their body (uploads) read it unbuffered, and they are given no
	// body here; everywhere else the body must be signed.
	if len(body) > 0 && !authn.BodySigned(r) {
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"),
			"Invalid AK/SK signature: %s: %s is accepted only by APIs that stream an upload; this API's body must be signed (send its SHA-256 or omit the header).",
			authn.HeaderSDKContentSHA256, authn.UnsignedPayload)
	}
	cred, err := s.iam.AccessKey(ctx, auth.AccessKey)
	if err != nil {
		if iam.KindOf(err) == iam.KindUnauthorized {
			return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Invalid AK/SK: %s", err.Error())
		}
		return nil, err
	}
	if err := authn.Verify(r, body, auth, cred.Secret, now); err != nil {
		msg := "the signature does not match the request"
		if errors.Is(err, authn.ErrRequestExpired) {
			msg = "X-Sdk-Date is more than 15 minutes away from the server's time"
		} else if errors.Is(err, authn.ErrMalformedAuth) {
			msg = err.Error()
		}
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Invalid AK/SK signature: %s.", msg)
	}
	snap, err := s.iam.Snapshot(ctx, cred.UserID)
	if iam.KindOf(err) == iam.KindNotFound {
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Invalid AK/SK: its user no longer exists.")
	}
	if err != nil {
		return nil, err
	}
	if !snap.User.Enabled {
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Invalid AK/SK: the user is disabled.")
	}
	if snap.User.AccessMode == "console" {
		return nil, Errorf(http.StatusUnauthorized, code(codeAKSKInvalid, "IAM.0001"), "Invalid AK/SK: the user's access mode is console only.")
	}
	p := principal(snap, "aksk", sourceIP(r))
	p.AccessKey = cred.AccessKey
	return p, nil
}

func principal(snap *iam.Snapshot, method, ip string) *iam.Principal {
	return &iam.Principal{DomainID: snap.Domain.ID, DomainName: snap.Domain.Name, UserID: snap.User.ID,
		UserName: snap.User.Name, Method: method, SourceIP: ip}
}

// scope fixes the project (and for ModelArts routes the workspace) that the
// request targets and checks that the caller may address it.
func (s *Server) scope(r *http.Request, c *Call) error {
	ctx := r.Context()
	pathProject := r.PathValue("project_id")
	if hp := r.Header.Get("X-Project-Id"); hp != "" && pathProject != "" && hp != pathProject {
		return Errorf(http.StatusForbidden, codeProjectMismatch, "The project ID in the X-Project-Id header (%s) does not match the project ID in the URL (%s).", hp, pathProject)
	}
	if c.Route.Service != ServiceModelArts || pathProject == "" {
		return nil
	}
	p := c.Principal
	if p.Method == "password" && p.ProjectID == "" {
		return Errorf(http.StatusUnauthorized, codeNoProjectToken, "The token does not contain a project: get a project-scoped token.")
	}
	if p.ProjectID != "" && p.ProjectID != pathProject {
		return Errorf(http.StatusForbidden, codeProjectMismatch, "The project ID in the URL does not match the token.")
	}
	proj, err := s.iam.CachedProject(ctx, pathProject)
	if err != nil || proj.DomainID != p.DomainID {
		if err != nil && iam.KindOf(err) != iam.KindNotFound {
			return err
		}
		return Errorf(http.StatusForbidden, codeProjectMismatch, "The project ID in the URL does not belong to the caller's account.")
	}
	c.ProjectID = proj.ID
	p.ProjectID, p.ProjectName = proj.ID, proj.Name
	// Authorization before existence: the target's workspace is looked up
	// only for callers whose policies could allow the action on some
	// resource of the project; the others get the same 403 whether or not
	// the target exists.
	if err := s.authorizeKind(r, c); err != nil {
		return err
	}
	target := Target{WorkspaceID: iam.DefaultWorkspaceID}
	if c.Route.Resolve != nil {
		target, err = c.Route.Resolve(r, c)
		if err != nil {
			return err
		}
	} else if q := r.URL.Query().Get("workspace_id"); q != "" {
		target.WorkspaceID = q
	}
	if target.WorkspaceID == "" {
		ep, err := s.iam.GetEnterpriseProject(ctx, p.DomainID, target.EnterpriseProjectID)
		if err != nil {
			if iam.KindOf(err) == iam.KindNotFound {
				return BadRequest("enterprise_project_id: enterprise project %q does not exist", target.EnterpriseProjectID)
			}
			return err
		}
		c.EnterpriseProjectID = ep.ID
		return nil
	}
	wsID := target.WorkspaceID
	ws, err := s.iam.WorkspaceAccess(ctx, p, proj.ID, wsID)
	if err != nil {
		if iam.KindOf(err) == iam.KindNotFound {
			return Errorf(http.StatusBadRequest, "ModelArts.0102", "The workspace %q does not exist.", wsID)
		}
		return err
	}
	c.Workspace, c.EnterpriseProjectID = ws, ws.EnterpriseProjectID
	return nil
}

func (s *Server) policyRequest(c *Call, action, resource string) policy.Request {
	p := c.Principal
	req := policy.Request{Action: action, Resource: resource, ProjectID: c.ProjectID, EnterpriseProjectID: c.EnterpriseProjectID}
	req.Keys = &policy.Keys{UserName: p.UserName, UserID: p.UserID, DomainName: p.DomainName, DomainID: p.DomainID,
		ProjectName: p.ProjectName, ProjectID: p.ProjectID, EnterpriseProjectID: req.EnterpriseProjectID,
		SourceIP: p.SourceIP, CurrentTime: s.now().UTC()}
	return req
}

// authorizeKind refuses a ModelArts request whose action the caller could
// not be allowed on any resource of the project, before the router resolves
// the target (authorizeRoute then decides on the resolved target).
func (s *Server) authorizeKind(r *http.Request, c *Call) error {
	if c.Route.Self || c.Route.Action == "" || c.Route.ObjectAction {
		return nil
	}
	req := s.policyRequest(c, c.Route.Action, "")
	mayAllow := s.iam.MayAllow
	if c.Route.Team {
		mayAllow = s.iam.MayAllowTeam
	}
	ok, err := mayAllow(r.Context(), c.Principal.UserID, &req)
	if err != nil {
		return err
	}
	if !ok {
		// An explicit Deny in the project names its policy, as authorizeRoute does.
		d, err := s.iam.Decide(r.Context(), c.Principal.UserID, &req)
		if err != nil {
			return err
		}
		s.cfg.Metrics.ObserveDecision(metrics.DecisionRoute, false, explicitDeny(d))
		return Errorf(http.StatusForbidden, codeNotAuthorized, "You are not authorized to perform the (%s) operation.%s", c.Route.Action, denialReason(d))
	}
	return nil
}

// authorizeRoute decides the route's own action.
func (s *Server) authorizeRoute(r *http.Request, c *Call) error {
	if c.Route.Self || c.Route.Action == "" {
		return nil
	}
	req := s.policyRequest(c, c.Route.Action, "")
	if c.Route.Service == ServiceGlobal {
		req.ProjectID, req.EnterpriseProjectID = "", ""
	}
	decide := s.iam.Decide
	if c.Route.Team {
		decide = s.iam.DecideTeam
	}
	d, err := decide(r.Context(), c.Principal.UserID, &req)
	if err != nil {
		return err
	}
	s.cfg.Metrics.ObserveDecision(metrics.DecisionRoute, d.Allowed, explicitDeny(d))
	if c.Route.Team {
		// The task's owner holds the action through a policy other than
		// the labeling ones.
		owner, err := s.iam.Decide(r.Context(), c.Principal.UserID, &req)
		if err != nil {
			return err
		}
		c.Owner = owner.Allowed
	}
	if !d.Allowed {
		code := codeNotAuthorized
		if c.Route.Family == "iam" {
			code = "IAM.0002"
		}
		return Errorf(http.StatusForbidden, code, "You are not authorized to perform the (%s) operation.%s", c.Route.Action, denialReason(d))
	}
	return nil
}
