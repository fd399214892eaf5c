package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// Projects, policies ("roles"), grants and access keys of the IAM API.

func (s *Server) policyRoutes() []Route {
	g := func(name, method, path, action string, h HandlerFunc) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Family: "iam", Service: ServiceGlobal, Handler: h}
	}
	projectGrant := "/v3/projects/{project_id}/groups/{group_id}/roles"
	domainGrant := "/v3/domains/{domain_id}/groups/{group_id}/roles"
	epGrant := "/v3.0/OS-PERMISSION/enterprise-projects/{enterprise_project_id}/groups/{group_id}/roles"
	showPolicy := g("Querying policy details", "GET", "/v3/roles/{role_id}", iam.ActGetRole, s.showPolicy)
	return []Route{
		g("Listing projects", "GET", "/v3/projects", iam.ActListProjects, s.listProjects),
		g("Creating a project", "POST", "/v3/projects", iam.ActCreateProject, s.createProject),
		g("Querying project details", "GET", "/v3/projects/{project_id}", iam.ActGetProject, s.showProject),
		g("Modifying a project", "PATCH", "/v3/projects/{project_id}", iam.ActUpdateProject, s.updateProject),

		g("Listing system policies", "GET", "/v3/roles", iam.ActListRoles, s.listSystemPolicies),
		showPolicy,
		g("Creating a custom policy", "POST", "/v3.0/OS-ROLE/roles", iam.ActCreateRole, s.createPolicy),
		g("Listing custom policies", "GET", "/v3.0/OS-ROLE/roles", iam.ActListRoles, s.listCustomPolicies),
		// The same API as showPolicy, on the custom-policy path.
		showPolicy.alias("Querying custom policy details", "GET", "/v3.0/OS-ROLE/roles/{role_id}"),
		g("Modifying a custom policy", "PATCH", "/v3.0/OS-ROLE/roles/{role_id}", iam.ActUpdateRole, s.updatePolicy),
		g("Deleting a custom policy", "DELETE", "/v3.0/OS-ROLE/roles/{role_id}", iam.ActDeleteRole, s.deletePolicy),

		g("Granting a policy to a group on a project", "PUT", projectGrant+"/{role_id}", iam.ActGrantProject, s.grant(scopeFromProject, true)),
		g("Checking a group's policy on a project", "HEAD", projectGrant+"/{role_id}", iam.ActCheckProject, s.checkGrant(scopeFromProject)),
		g("Revoking a group's policy on a project", "DELETE", projectGrant+"/{role_id}", iam.ActRevokeProject, s.grant(scopeFromProject, false)),
		g("Listing a group's policies on a project", "GET", projectGrant, iam.ActListProject, s.listGrants(scopeFromProject)),
		g("Granting a policy to a group on the account", "PUT", domainGrant+"/{role_id}", iam.ActGrantDomain, s.grant(scopeFromDomain, true)),
		g("Checking a group's policy on the account", "HEAD", domainGrant+"/{role_id}", iam.ActCheckDomain, s.checkGrant(scopeFromDomain)),
		g("Revoking a group's policy on the account", "DELETE", domainGrant+"/{role_id}", iam.ActRevokeDomain, s.grant(scopeFromDomain, false)),
		g("Listing a group's policies on the account", "GET", domainGrant, iam.ActListDomain, s.listGrants(scopeFromDomain)),
		g("Granting a policy to a group on an enterprise project", "PUT", epGrant+"/{role_id}", iam.ActGrantEP, s.grant(scopeFromEP, true)),
		g("Revoking a group's policy on an enterprise project", "DELETE", epGrant+"/{role_id}", iam.ActRevokeEP, s.grant(scopeFromEP, false)),
		g("Listing a group's policies on an enterprise project", "GET", epGrant, iam.ActListEP, s.listGrants(scopeFromEP)),

		g("Creating a permanent access key", "POST", "/v3.0/OS-CREDENTIAL/credentials", iam.ActCreateCred, s.createCredential),
		g("Listing permanent access keys", "GET", "/v3.0/OS-CREDENTIAL/credentials", iam.ActListCreds, s.listCredentials),
		g("Querying a permanent access key", "GET", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", iam.ActGetCred, s.showCredential),
		g("Modifying a permanent access key", "PUT", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", iam.ActUpdateCred, s.updateCredential),
		g("Deleting a permanent access key", "DELETE", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", iam.ActDeleteCred, s.deleteCredential),

		g("Creating an enterprise project", "POST", "/v1.0/enterprise-projects", iam.ActCreateEP, s.createEP),
		g("Listing enterprise projects", "GET", "/v1.0/enterprise-projects", iam.ActListEP2, s.listEPs),
		g("Querying enterprise project details", "GET", "/v1.0/enterprise-projects/{enterprise_project_id}", iam.ActGetEP, s.showEP),
		g("Modifying an enterprise project", "PUT", "/v1.0/enterprise-projects/{enterprise_project_id}", iam.ActUpdateEP, s.updateEP),
		g("Enabling or disabling an enterprise project", "POST", "/v1.0/enterprise-projects/{enterprise_project_id}/action", iam.ActUpdateEP, s.actionEP),
	}
}

// --- projects

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *Call) error {
	q := r.URL.Query()
	if err := ownDomainQuery(r, c); err != nil {
		return err
	}
	ps, err := s.iam.ListProjects(r.Context(), c.Principal.DomainID, q.Get("name"))
	if err != nil {
		return err
	}
	out := make([]authProject, 0, len(ps))
	for _, p := range ps {
		out = append(out, s.projectJSON(r, p))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"projects": out, "links": s.links(r)})
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		Project struct {
			Name        string  `json:"name"`
			ParentID    string  `json:"parent_id"`
			DomainID    *string `json:"domain_id"`
			Description *string `json:"description"`
		} `json:"project"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	if b.Project.ParentID != "" && b.Project.ParentID != c.Principal.DomainID || b.Project.DomainID != nil && *b.Project.DomainID != c.Principal.DomainID {
		return Errorf(http.StatusForbidden, "IAM.0002", "project.parent_id and project.domain_id must be the caller's domain ID")
	}
	p, err := s.iam.CreateProject(r.Context(), c.Principal.DomainID, s.cfg.Region, b.Project.Name, deref(b.Project.Description))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"project": s.projectJSON(r, p)})
}

func (s *Server) showProject(w http.ResponseWriter, r *http.Request, c *Call) error {
	p, err := s.iam.GetProject(r.Context(), c.Principal.DomainID, r.PathValue("project_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"project": s.projectJSON(r, p)})
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		Project struct {
			Name        *string `json:"name"`
			Description *string `json:"description"`
		} `json:"project"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	p, err := s.iam.UpdateProject(r.Context(), c.Principal.DomainID, r.PathValue("project_id"), b.Project.Name, b.Project.Description)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"project": s.projectJSON(r, p)})
}

// --- policies

func (s *Server) policyJSON(r *http.Request, p *iam.Policy) map[string]any {
	doc, _ := json.Marshal(p.Document)
	out := map[string]any{
		"id": p.ID, "name": p.Name, "display_name": p.DisplayName, "type": p.Type, "description": p.Description,
		"catalog": p.Catalog, "domain_id": p.DomainID, "policy": json.RawMessage(doc),
		"links":        map[string]any{"self": s.endpoint(r) + "/v3/roles/" + p.ID},
		"created_time": strconv.FormatInt(p.CreatedAt.UnixMilli(), 10), "updated_time": strconv.FormatInt(p.UpdatedAt.UnixMilli(), 10),
	}
	if p.System() {
		out["flag"] = "fine_grained"
		out["domain_id"] = nil
	}
	return out
}

func (s *Server) writePolicies(w http.ResponseWriter, r *http.Request, ps []*iam.Policy) error {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, s.policyJSON(r, p))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"roles": out, "links": s.links(r), "total_number": len(out)})
}

func (s *Server) listSystemPolicies(w http.ResponseWriter, r *http.Request, c *Call) error {
	q := r.URL.Query()
	if err := ownDomainQuery(r, c); err != nil {
		return err
	}
	custom := q.Get("domain_id") != "" // Keystone: ?domain_id lists the account's custom roles
	name := q.Get("display_name")
	if name == "" {
		name = q.Get("name")
	}
	ps, err := s.iam.ListPolicies(r.Context(), c.Principal.DomainID, custom, name)
	if err != nil {
		return err
	}
	return s.writePolicies(w, r, ps)
}

func (s *Server) listCustomPolicies(w http.ResponseWriter, r *http.Request, c *Call) error {
	ps, err := s.iam.ListPolicies(r.Context(), c.Principal.DomainID, true, "")
	if err != nil {
		return err
	}
	return s.writePolicies(w, r, ps)
}

func (s *Server) showPolicy(w http.ResponseWriter, r *http.Request, c *Call) error {
	p, err := s.iam.GetPolicy(r.Context(), c.Principal.DomainID, r.PathValue("role_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"role": s.policyJSON(r, p)})
}

func decodePolicyInput(r *http.Request) (iam.PolicyInput, error) {
	var b struct {
		Role struct {
			DisplayName   string          `json:"display_name"`
			Type          string          `json:"type"`
			Description   string          `json:"description"`
			DescriptionCN *string         `json:"description_cn"`
			Policy        json.RawMessage `json:"policy"`
		} `json:"role"`
	}
	if err := Decode(r, &b); err != nil {
		return iam.PolicyInput{}, err
	}
	if len(b.Role.Policy) == 0 || string(b.Role.Policy) == "null" {
		return iam.PolicyInput{}, Errorf(http.StatusBadRequest, "IAM.1001", "role.policy is required")
	}
	return iam.PolicyInput{DisplayName: b.Role.DisplayName, Type: b.Role.Type, Description: b.Role.Description, Document: b.Role.Policy}, nil
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request, c *Call) error {
	in, err := decodePolicyInput(r)
	if err != nil {
		return err
	}
	p, err := s.iam.CreateCustomPolicy(r.Context(), c.Principal.DomainID, in)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"role": s.policyJSON(r, p)})
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request, c *Call) error {
	in, err := decodePolicyInput(r)
	if err != nil {
		return err
	}
	p, err := s.iam.UpdateCustomPolicy(r.Context(), c.Principal.DomainID, r.PathValue("role_id"), in)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"role": s.policyJSON(r, p)})
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.DeleteCustomPolicy(r.Context(), c.Principal.DomainID, r.PathValue("role_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// --- grants

type scopeFunc func(r *http.Request, c *Call) (policy.Scope, error)

func scopeFromProject(r *http.Request, c *Call) (policy.Scope, error) {
	return policy.Scope{Kind: policy.ScopeProject, ID: r.PathValue("project_id")}, nil
}

func scopeFromDomain(r *http.Request, c *Call) (policy.Scope, error) {
	if d := r.PathValue("domain_id"); d != c.Principal.DomainID {
		return policy.Scope{}, Errorf(http.StatusNotFound, "IAM.0004", "domain %q not found", d)
	}
	return policy.Scope{Kind: policy.ScopeAccount, ID: c.Principal.DomainID}, nil
}

func scopeFromEP(r *http.Request, c *Call) (policy.Scope, error) {
	return policy.Scope{Kind: policy.ScopeEnterpriseProject, ID: r.PathValue("enterprise_project_id")}, nil
}

func (s *Server) grant(scope scopeFunc, add bool) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *Call) error {
		sc, err := scope(r, c)
		if err != nil {
			return err
		}
		if add {
			err = s.iam.Grant(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), r.PathValue("role_id"), sc)
		} else {
			err = s.iam.Revoke(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), r.PathValue("role_id"), sc)
		}
		if err != nil {
			return err
		}
		return noContent(w)
	}
}

func (s *Server) checkGrant(scope scopeFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *Call) error {
		sc, err := scope(r, c)
		if err != nil {
			return err
		}
		ok, err := s.iam.HasGrant(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), r.PathValue("role_id"), sc)
		if err != nil {
			return err
		}
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return nil
		}
		return noContent(w)
	}
}

func (s *Server) listGrants(scope scopeFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *Call) error {
		sc, err := scope(r, c)
		if err != nil {
			return err
		}
		ps, err := s.iam.GrantedPolicies(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), sc)
		if err != nil {
			return err
		}
		return s.writePolicies(w, r, ps)
	}
}

// --- access keys

func credentialJSON(cr *iam.Credential, withSecret bool) map[string]any {
	out := map[string]any{"access": cr.AccessKey, "status": cr.Status, "user_id": cr.UserID, "description": cr.Description,
		"create_time": isoTime(cr.CreatedAt), "last_use_time": isoTimeOrEmpty(cr.LastUseAt)}
	if withSecret {
		out["secret"] = cr.Secret
	}
	return out
}

func (s *Server) createCredential(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		Credential struct {
			UserID      string  `json:"user_id"`
			Description *string `json:"description"`
		} `json:"credential"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	if b.Credential.UserID == "" {
		return Errorf(http.StatusBadRequest, "IAM.0007", "credential.user_id is required")
	}
	cr, err := s.iam.CreateCredential(r.Context(), c.Principal.DomainID, b.Credential.UserID, deref(b.Credential.Description))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"credential": credentialJSON(cr, true)})
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request, c *Call) error {
	cs, err := s.iam.ListCredentials(r.Context(), c.Principal.DomainID, r.URL.Query().Get("user_id"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(cs))
	for _, cr := range cs {
		out = append(out, credentialJSON(cr, false))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"credentials": out})
}

func (s *Server) showCredential(w http.ResponseWriter, r *http.Request, c *Call) error {
	cr, err := s.iam.GetCredential(r.Context(), c.Principal.DomainID, r.PathValue("access_key"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"credential": credentialJSON(cr, false)})
}

func (s *Server) updateCredential(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		Credential struct {
			Status      *string `json:"status"`
			Description *string `json:"description"`
		} `json:"credential"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	cr, err := s.iam.UpdateCredential(r.Context(), c.Principal.DomainID, r.PathValue("access_key"), b.Credential.Status, b.Credential.Description)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"credential": credentialJSON(cr, false)})
}

func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.DeleteCredential(r.Context(), c.Principal.DomainID, r.PathValue("access_key")); err != nil {
		return err
	}
	return noContent(w)
}

// --- enterprise projects (the EPS API)

func epJSON(e *iam.EnterpriseProject) map[string]any {
	typ := "prod"
	return map[string]any{"id": e.ID, "name": e.Name, "description": e.Description, "status": e.Status, "type": typ,
		"created_at": e.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), "updated_at": e.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		"delete_flag": false}
}

type epBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Type        *string `json:"type"`
}

func decodeEP(r *http.Request) (*epBody, error) {
	var b epBody
	if err := Decode(r, &b); err != nil {
		return nil, err
	}
	if b.Type != nil && *b.Type != "prod" && *b.Type != "poc" {
		return nil, BadRequest("type must be prod or poc")
	}
	return &b, nil
}

func (s *Server) createEP(w http.ResponseWriter, r *http.Request, c *Call) error {
	b, err := decodeEP(r)
	if err != nil {
		return err
	}
	if b.Name == nil {
		return BadRequest("name is required")
	}
	e, err := s.iam.CreateEnterpriseProject(r.Context(), c.Principal.DomainID, *b.Name, deref(b.Description))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"enterprise_project": epJSON(e)})
}

func (s *Server) listEPs(w http.ResponseWriter, r *http.Request, c *Call) error {
	es, err := s.iam.ListEnterpriseProjects(r.Context(), c.Principal.DomainID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, offset, err := pageParams(q.Get("limit"), q.Get("offset"), 1000)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, e := range es {
		if n := q.Get("name"); n != "" && n != e.Name || q.Get("id") != "" && q.Get("id") != e.ID || q.Get("status") != "" && q.Get("status") != strconv.Itoa(e.Status) {
			continue
		}
		out = append(out, epJSON(e))
	}
	total := len(out)
	out = out[min(offset, total):min(offset+limit, total)]
	return WriteJSON(w, http.StatusOK, map[string]any{"enterprise_projects": out, "total_count": total})
}

func (s *Server) showEP(w http.ResponseWriter, r *http.Request, c *Call) error {
	e, err := s.iam.GetEnterpriseProject(r.Context(), c.Principal.DomainID, r.PathValue("enterprise_project_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"enterprise_project": epJSON(e)})
}

func (s *Server) updateEP(w http.ResponseWriter, r *http.Request, c *Call) error {
	b, err := decodeEP(r)
	if err != nil {
		return err
	}
	e, err := s.iam.UpdateEnterpriseProject(r.Context(), c.Principal.DomainID, r.PathValue("enterprise_project_id"), b.Name, b.Description, nil)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"enterprise_project": epJSON(e)})
}

func (s *Server) actionEP(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b struct {
		Action string `json:"action"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	status := map[string]int{"enable": 1, "disable": 2}[b.Action]
	if status == 0 {
		return BadRequest("action must be enable or disable")
	}
	if _, err := s.iam.UpdateEnterpriseProject(r.Context(), c.Principal.DomainID, r.PathValue("enterprise_project_id"), nil, nil, &status); err != nil {
		return err
	}
	return noContent(w)
}

// pageParams parses limit/offset query parameters with bounds.
func pageParams(limitS, offsetS string, maxLimit int) (limit, offset int, err error) {
	limit, offset = maxLimit, 0
	if limitS != "" {
		if limit, err = strconv.Atoi(limitS); err != nil || limit < 1 || limit > maxLimit {
			return 0, 0, BadRequest("limit must be an integer from 1 to %d", maxLimit)
		}
	}
	if offsetS != "" {
		if offset, err = strconv.Atoi(offsetS); err != nil || offset < 0 {
			return 0, 0, BadRequest("offset must be a non-negative integer")
		}
	}
	return limit, offset, nil
}
