package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/atelier-dev/atelier/internal/iam"
)

// ModelArts workspaces: /v1/{project_id}/workspaces.

func (s *Server) workspaceRoutes() []Route {
	ws := func(name, method, path, action string, resolve Resolver, h HandlerFunc) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Family: "workspace", Service: ServiceModelArts, Resolve: resolve, Handler: h}
	}
	byPath := func(r *http.Request, c *Call) (Target, error) {
		return Target{WorkspaceID: r.PathValue("workspace_id")}, nil
	}
	return []Route{
		ws("Creating a workspace", "POST", "/v1/{project_id}/workspaces", iam.ActCreateWorkspace, s.resolveNewWorkspace, s.createWorkspace),
		ws("Querying the workspace list", "GET", "/v1/{project_id}/workspaces", iam.ActListWorkspaces, nil, s.listWorkspaces),
		ws("Querying workspace details", "GET", "/v1/{project_id}/workspaces/{workspace_id}", iam.ActGetWorkspace, byPath, s.showWorkspace),
		ws("Modifying a workspace", "PUT", "/v1/{project_id}/workspaces/{workspace_id}", iam.ActUpdateWorkspace, byPath, s.updateWorkspace),
		ws("Deleting a workspace", "DELETE", "/v1/{project_id}/workspaces/{workspace_id}", iam.ActDeleteWorkspace, byPath, s.deleteWorkspace),
	}
}

type workspaceGrant struct {
	UserID   string `json:"user_id,omitempty"`
	UserName string `json:"user_name,omitempty"`
	UserType string `json:"user_type,omitempty"`
}

type workspaceBody struct {
	Name                *string           `json:"name"`
	Description         *string           `json:"description"`
	EnterpriseProjectID *string           `json:"enterprise_project_id"`
	AuthType            *string           `json:"auth_type"`
	Grants              *[]workspaceGrant `json:"grants"`
}

// resolveNewWorkspace authorizes creation against the enterprise project the
// new workspace will be bound to.
func (s *Server) resolveNewWorkspace(r *http.Request, c *Call) (Target, error) {
	var b struct {
		EnterpriseProjectID *string `json:"enterprise_project_id"`
	}
	if len(c.Body) > 0 {
		if err := json.Unmarshal(c.Body, &b); err != nil {
			return Target{}, BadRequest("%s", describeJSONError(err))
		}
	}
	ep := iam.DefaultEnterpriseProjectID
	if b.EnterpriseProjectID != nil && *b.EnterpriseProjectID != "" {
		ep = *b.EnterpriseProjectID
	}
	return Target{EnterpriseProjectID: ep}, nil
}

func (s *Server) workspaceInput(r *http.Request, c *Call, b *workspaceBody) (iam.WorkspaceInput, error) {
	in := iam.WorkspaceInput{Name: b.Name, Description: b.Description, EnterpriseProjectID: b.EnterpriseProjectID, AuthType: b.AuthType}
	if b.Grants != nil {
		ids := []string{}
		for i, g := range *b.Grants {
			switch {
			case g.UserID != "":
				ids = append(ids, g.UserID)
			case g.UserName != "":
				us, err := s.iam.ListUsers(r.Context(), c.Principal.DomainID, g.UserName)
				if err != nil {
					return in, err
				}
				if len(us) == 0 {
					return in, BadRequest("grants[%d].user_name: user %q does not exist", i, g.UserName)
				}
				ids = append(ids, us[0].ID)
			default:
				return in, BadRequest("grants[%d]: user_id or user_name is required", i)
			}
		}
		in.Users = &ids
	}
	return in, nil
}

// workspaceJSON is a workspace as ModelArts returns it; epNames maps
// enterprise project IDs to names (nil: look the one needed up).
func (s *Server) workspaceJSON(r *http.Request, w *iam.Workspace, epNames map[string]string) map[string]any {
	epName, ok := epNames[w.EnterpriseProjectID]
	if !ok {
		if ep, err := s.iam.GetEnterpriseProject(r.Context(), w.DomainID, w.EnterpriseProjectID); err == nil {
			epName = ep.Name
		}
	}
	grants := []workspaceGrant{}
	for _, id := range w.Users {
		g := workspaceGrant{UserID: id, UserType: "IAM"}
		if u, err := s.iam.GetUser(r.Context(), w.DomainID, id); err == nil {
			g.UserName = u.Name
		}
		grants = append(grants, g)
	}
	return map[string]any{"id": w.ID, "name": w.Name, "description": w.Description, "owner": w.OwnerName,
		"create_time": w.CreatedAt.UnixMilli(), "update_time": w.UpdatedAt.UnixMilli(), "enterprise_project_id": w.EnterpriseProjectID,
		"enterprise_project_name": epName, "auth_type": w.AuthType, "status": w.Status, "status_info": "", "grants": grants}
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b workspaceBody
	if err := Decode(r, &b); err != nil {
		return err
	}
	in, err := s.workspaceInput(r, c, &b)
	if err != nil {
		return err
	}
	ws, err := s.iam.CreateWorkspace(r.Context(), c.Principal, c.ProjectID, in)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, s.workspaceJSON(r, ws, nil))
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, c *Call) error {
	q := r.URL.Query()
	limit, offset, err := pageParams(q.Get("limit"), q.Get("offset"), 1000)
	if err != nil {
		return err
	}
	sortBy := q.Get("sort_by")
	if sortBy == "" {
		sortBy = "name"
	}
	if sortBy != "name" && sortBy != "update_time" && sortBy != "status" {
		return BadRequest("sort_by must be name, update_time or status")
	}
	order := q.Get("order")
	if order == "" {
		order = "asc"
	}
	if order != "asc" && order != "desc" {
		return BadRequest("order must be asc or desc")
	}
	wss, err := s.iam.ListWorkspaces(r.Context(), c.Principal, c.ProjectID)
	if err != nil {
		return err
	}
	wss = slices.DeleteFunc(wss, func(x *iam.Workspace) bool {
		return q.Get("enterprise_project_id") != "" && x.EnterpriseProjectID != q.Get("enterprise_project_id") ||
			q.Get("name") != "" && !strings.Contains(x.Name, q.Get("name"))
	})
	slices.SortStableFunc(wss, func(a, b *iam.Workspace) int {
		var d int
		switch sortBy {
		case "update_time":
			d = a.UpdatedAt.Compare(b.UpdatedAt)
		case "status":
			d = strings.Compare(a.Status, b.Status)
		default:
			d = strings.Compare(a.Name, b.Name)
		}
		if order == "desc" {
			d = -d
		}
		return d
	})
	total := len(wss)
	page := wss[min(offset, total):min(offset+limit, total)]
	eps, err := s.iam.ListEnterpriseProjects(r.Context(), c.Principal.DomainID)
	if err != nil {
		return err
	}
	epNames := make(map[string]string, len(eps))
	for _, ep := range eps {
		epNames[ep.ID] = ep.Name
	}
	out := make([]map[string]any, 0, len(page))
	for _, x := range page {
		j := s.workspaceJSON(r, x, epNames)
		delete(j, "grants")
		out = append(out, j)
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_count": total, "count": len(out), "workspaces": out})
}

func (s *Server) showWorkspace(w http.ResponseWriter, r *http.Request, c *Call) error {
	return WriteJSON(w, http.StatusOK, s.workspaceJSON(r, c.Workspace, nil))
}

func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b workspaceBody
	if err := Decode(r, &b); err != nil {
		return err
	}
	if b.EnterpriseProjectID != nil && *b.EnterpriseProjectID != c.Workspace.EnterpriseProjectID {
		return BadRequest("enterprise_project_id: a workspace cannot move to another enterprise project")
	}
	b.EnterpriseProjectID = nil
	in, err := s.workspaceInput(r, c, &b)
	if err != nil {
		return err
	}
	ws, err := s.iam.UpdateWorkspace(r.Context(), c.Principal.DomainID, c.ProjectID, c.Workspace.ID, in)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"workspace_id": ws.ID})
}

func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.DeleteWorkspace(r.Context(), c.Principal.DomainID, c.ProjectID, c.Workspace.ID); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"workspace_id": c.Workspace.ID})
}
