package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// POST /v2/{project_id}/authorization-checks is Atelier's own API (not part
// of ModelArts): an administrator asks whether a user may perform an action
// in a context and gets the decision with the policy, statement and grant
// that decided it. See docs/iam.md.

func (s *Server) authorizationCheckRoutes() []Route {
	return []Route{{Name: "Explaining an authorization decision (Atelier API)", Method: "POST", Path: "/v2/{project_id}/authorization-checks",
		Action: iam.ActSimulate, Family: "iam", Service: ServiceGlobal, Handler: s.authorizationCheck}}
}

type authzCheckRequest struct {
	UserID              string `json:"user_id"`
	UserName            string `json:"user_name"`
	Action              string `json:"action"`
	Resource            string `json:"resource"`
	WorkspaceID         string `json:"workspace_id"`
	EnterpriseProjectID string `json:"enterprise_project_id"`
	SourceIP            string `json:"source_ip"`
	CurrentTime         string `json:"current_time"`
}

func (s *Server) authorizationCheck(w http.ResponseWriter, r *http.Request, c *Call) error {
	ctx := r.Context()
	project, err := s.iam.GetProject(ctx, c.Principal.DomainID, r.PathValue("project_id"))
	if err != nil {
		if iam.KindOf(err) == iam.KindNotFound {
			return Errorf(http.StatusForbidden, codeProjectMismatch, "The project ID in the URL does not belong to the caller's account.")
		}
		return err
	}
	var in authzCheckRequest
	if err := Decode(r, &in); err != nil {
		return err
	}
	if in.Action == "" {
		return BadRequest("action is required")
	}
	if !s.iam.Catalog().IsRegistered(in.Action) {
		return BadRequest("action: %q is not a registered action", in.Action)
	}
	user, err := s.checkedUser(r, c, in.UserID, in.UserName)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if in.CurrentTime != "" {
		if now, err = time.Parse(time.RFC3339, in.CurrentTime); err != nil {
			return BadRequest("current_time must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
	}
	domain, err := s.iam.DomainByID(ctx, c.Principal.DomainID)
	if err != nil {
		return err
	}
	req := policy.Request{Action: in.Action, Resource: in.Resource, ProjectID: project.ID}
	global := !strings.HasPrefix(strings.ToLower(in.Action), "modelarts:")
	workspaceAccess := true
	if global {
		req.ProjectID = ""
	} else {
		ep := in.EnterpriseProjectID
		if ep == "" {
			wsID := in.WorkspaceID
			if wsID == "" {
				wsID = iam.DefaultWorkspaceID
			}
			target := &iam.Principal{DomainID: domain.ID, UserID: user.ID, UserName: user.Name}
			ws, err := s.iam.GetWorkspace(ctx, domain.ID, project.ID, wsID)
			if err != nil {
				return err
			}
			if _, err := s.iam.WorkspaceAccess(ctx, target, project.ID, wsID); err != nil {
				if iam.KindOf(err) != iam.KindForbidden {
					return err
				}
				workspaceAccess = false
			}
			ep = ws.EnterpriseProjectID
		}
		req.EnterpriseProjectID = ep
	}
	req.Keys = &policy.Keys{UserName: user.Name, UserID: user.ID, DomainName: domain.Name, DomainID: domain.ID,
		ProjectName: project.Name, ProjectID: req.ProjectID, EnterpriseProjectID: req.EnterpriseProjectID,
		SourceIP: in.SourceIP, CurrentTime: now}
	explain := s.iam.Explain
	if s.teamOnly(in.Action) {
		// Only team labeling routes use the action: answer as they decide.
		explain = s.iam.ExplainTeam
	}
	ex, err := explain(ctx, domain.ID, user.ID, &req)
	if err != nil {
		return err
	}
	allowed := ex.Decision.Allowed && workspaceAccess
	reason := "implicit_deny"
	switch {
	case !workspaceAccess:
		reason = "workspace_access_denied"
	case ex.Decision.Matched && ex.Decision.Allowed:
		reason = "explicit_allow"
	case ex.Decision.Matched:
		reason = "explicit_deny"
	}
	out := map[string]any{
		"allowed": allowed, "decision": map[bool]string{true: "allow", false: "deny"}[allowed], "reason": reason,
		"user": map[string]string{"id": user.ID, "name": user.Name},
		"request": map[string]any{"action": in.Action, "resource": in.Resource, "project_id": req.ProjectID,
			"enterprise_project_id": req.EnterpriseProjectID, "source_ip": in.SourceIP, "current_time": now.Format(time.RFC3339)},
		"workspace_access": workspaceAccess, "grants_considered": ex.Considered,
	}
	if ex.Policy != nil {
		out["policy"] = map[string]any{"id": ex.Policy.ID, "name": ex.Policy.Name, "display_name": ex.Policy.DisplayName}
		out["statement_index"] = ex.Decision.Statement
		out["statement"] = json.RawMessage(ex.Statement)
		out["grant_scope"] = map[string]string{"type": scopeTypeName(ex.Scope.Kind), "id": ex.Scope.ID}
	}
	return WriteJSON(w, http.StatusOK, out)
}

func (s *Server) checkedUser(r *http.Request, c *Call, id, name string) (*iam.User, error) {
	switch {
	case id != "":
		return s.iam.GetUser(r.Context(), c.Principal.DomainID, id)
	case name != "":
		us, err := s.iam.ListUsers(r.Context(), c.Principal.DomainID, name)
		if err != nil {
			return nil, err
		}
		if len(us) == 0 {
			return nil, Errorf(http.StatusNotFound, codePathNotFound, "user %q not found", name)
		}
		return us[0], nil
	}
	return nil, BadRequest("user_id or user_name is required")
}

func scopeTypeName(k policy.ScopeKind) string {
	switch k {
	case policy.ScopeProject:
		return "project"
	case policy.ScopeEnterpriseProject:
		return "enterprise_project"
	}
	return "account"
}

// teamOnly reports whether every route guarded by action is a team
// labeling route (Route.Team), where the labeling system policies count.
func (s *Server) teamOnly(action string) bool {
	found := false
	for _, rt := range s.routes { // the table New built, not a new one per check
		if !strings.EqualFold(rt.Action, action) {
			continue
		}
		if !rt.Team {
			return false
		}
		found = true
	}
	return found
}
