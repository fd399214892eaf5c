package api

import (
	"net/http"
	"strings"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/authn"
	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// The Keystone-compatible token API (POST/GET /v3/auth/tokens) and the
// self-service listings a token holder needs (/v3/auth/projects, /v3/auth/domains).

const keystoneTime = "2006-01-02T15:04:05.000000Z"

type nameOrID struct {
	ID     string    `json:"id,omitempty"`
	Name   string    `json:"name,omitempty"`
	Domain *nameOrID `json:"domain,omitempty"`
}

type tokenRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User struct {
					ID       string    `json:"id,omitempty"`
					Name     string    `json:"name,omitempty"`
					Password string    `json:"password"`
					Domain   *nameOrID `json:"domain,omitempty"`
				} `json:"user"`
			} `json:"password,omitempty"`
		} `json:"identity"`
		Scope *struct {
			Project *nameOrID `json:"project,omitempty"`
			Domain  *nameOrID `json:"domain,omitempty"`
		} `json:"scope,omitempty"`
	} `json:"auth"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type tokenBody struct {
	Methods   []string `json:"methods"`
	ExpiresAt string   `json:"expires_at"`
	IssuedAt  string   `json:"issued_at"`
	User      struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		PasswordExpiresAt string `json:"password_expires_at"`
		Domain            idName `json:"domain"`
	} `json:"user"`
	Project *struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain idName `json:"domain"`
	} `json:"project,omitempty"`
	Domain  *idName        `json:"domain,omitempty"`
	Roles   []idName       `json:"roles"`
	Catalog []catalogEntry `json:"catalog"`
}

type catalogEntry struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Endpoints []catalogEndpoint `json:"endpoints"`
}

type catalogEndpoint struct {
	ID        string `json:"id"`
	Interface string `json:"interface"`
	Region    string `json:"region"`
	RegionID  string `json:"region_id"`
	URL       string `json:"url"`
}

func (s *Server) tokenRoutes() []Route {
	return []Route{
		{Name: "Obtaining a user token", Method: "POST", Path: "/v3/auth/tokens", Family: "iam", Service: ServiceGlobal, Public: true, Handler: s.createToken},
		{Name: "Verifying a token", Method: "GET", Path: "/v3/auth/tokens", Family: "iam", Service: ServiceGlobal, Self: true, Handler: s.validateToken},
		{Name: "Querying projects accessible to the token's user", Method: "GET", Path: "/v3/auth/projects", Family: "iam", Service: ServiceGlobal, Self: true, Handler: s.authProjects},
		{Name: "Querying domains accessible to the token's user", Method: "GET", Path: "/v3/auth/domains", Family: "iam", Service: ServiceGlobal, Self: true, Handler: s.authDomains},
	}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req tokenRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	id := req.Auth.Identity
	if len(id.Methods) != 1 || id.Methods[0] != "password" || id.Password == nil {
		return Errorf(http.StatusBadRequest, "IAM.0007", "auth.identity.methods must be [\"password\"] with auth.identity.password set")
	}
	pu := id.Password.User
	ctx := r.Context()
	if pu.Domain == nil || pu.Domain.Name == "" && pu.Domain.ID == "" {
		return Errorf(http.StatusBadRequest, "IAM.0007", "auth.identity.password.user.domain: name or id is required")
	}
	if pu.Name == "" || pu.Password == "" {
		return Errorf(http.StatusBadRequest, "IAM.0007", "auth.identity.password.user: name and password are required")
	}
	// Login resolves the account itself, so that an unknown account costs
	// what a wrong password costs and is audited like one.
	login, err := s.iam.Login(ctx, iam.LoginRequest{DomainName: pu.Domain.Name, DomainID: pu.Domain.ID, UserName: pu.Name,
		Password: pu.Password, SourceIP: sourceIP(r), RequestID: requestID(r)})
	if err != nil {
		return err
	}
	user, domain := login.User, login.Domain
	var project *iam.Project
	if sc := req.Auth.Scope; sc != nil && sc.Project != nil {
		switch {
		case sc.Project.ID != "":
			project, err = s.iam.GetProject(ctx, domain.ID, sc.Project.ID)
		case sc.Project.Name != "":
			project, err = s.iam.ProjectByName(ctx, domain.ID, sc.Project.Name)
		default:
			return Errorf(http.StatusBadRequest, "IAM.0007", "auth.scope.project: id or name is required")
		}
		if err != nil {
			if iam.KindOf(err) == iam.KindNotFound {
				return Errorf(http.StatusBadRequest, "IAM.0007", "auth.scope.project: no such project in the account")
			}
			return err
		}
	} else if sc != nil && sc.Domain != nil {
		if (sc.Domain.ID != "" && sc.Domain.ID != domain.ID) || (sc.Domain.Name != "" && sc.Domain.Name != domain.Name) {
			return Errorf(http.StatusUnauthorized, "IAM.0008", "a token can only be scoped to the user's own domain")
		}
	}
	now := s.now().UTC()
	// The account's login policy session_timeout bounds the token's life.
	ttl := min(s.cfg.TokenTTL, login.SessionTimeout)
	cl := authn.Claims{UserID: user.ID, DomainID: domain.ID, Methods: []string{"password"}, IssuedAt: now,
		ExpiresAt: now.Add(ttl), CredentialEpoch: user.CredentialEpoch}
	if project != nil {
		cl.ProjectID = project.ID
	}
	tok, err := s.cfg.Tokens.Issue(cl)
	if err != nil {
		return err
	}
	body, err := s.tokenBody(r, cl, user, domain, project, wantCatalog(r))
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", tok)
	return WriteJSON(w, http.StatusCreated, map[string]any{"token": body})
}

func (s *Server) tokenBody(r *http.Request, cl authn.Claims, user *iam.User, domain *iam.Domain, project *iam.Project, catalog bool) (*tokenBody, error) {
	b := &tokenBody{Methods: cl.Methods, ExpiresAt: cl.ExpiresAt.UTC().Format(keystoneTime), IssuedAt: cl.IssuedAt.UTC().Format(keystoneTime),
		Roles: []idName{}, Catalog: []catalogEntry{}}
	b.User.ID, b.User.Name, b.User.Domain = user.ID, user.Name, idName{ID: domain.ID, Name: domain.Name}
	snap, err := s.iam.Snapshot(r.Context(), user.ID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, g := range snap.Grants {
		applies := g.Scope.Kind == policy.ScopeAccount || project != nil && g.Scope.Kind == policy.ScopeProject && g.Scope.ID == project.ID
		if applies && !seen[g.PolicyID] {
			seen[g.PolicyID] = true
			b.Roles = append(b.Roles, idName{ID: g.PolicyID, Name: g.PolicyName})
		}
	}
	if project != nil {
		b.Project = &struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain idName `json:"domain"`
		}{project.ID, project.Name, idName{ID: domain.ID, Name: domain.Name}}
	} else {
		b.Domain = &idName{ID: domain.ID, Name: domain.Name}
	}
	if catalog {
		base := s.endpoint(r)
		region := s.cfg.Region
		ep := func(service, url string) catalogEntry {
			return catalogEntry{Type: service, ID: service, Name: service, Endpoints: []catalogEndpoint{
				{ID: service + "-" + region, Interface: "public", Region: region, RegionID: region, URL: url}}}
		}
		b.Catalog = append(b.Catalog, ep("identity", base+"/v3"))
		if project != nil {
			b.Catalog = append(b.Catalog, ep("modelarts", base+"/v2/"+project.ID))
		} else {
			b.Catalog = append(b.Catalog, ep("modelarts", base))
		}
	}
	return b, nil
}

// endpoint is the configured public URL, or the one the request came in on.
func (s *Server) endpoint(r *http.Request) string {
	if s.cfg.Endpoint != "" {
		return strings.TrimRight(s.cfg.Endpoint, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) validateToken(w http.ResponseWriter, r *http.Request, c *Call) error {
	subject := r.Header.Get("X-Subject-Token")
	if subject == "" {
		return Errorf(http.StatusBadRequest, "IAM.0007", "the X-Subject-Token header is required")
	}
	cl, err := s.cfg.Tokens.Verify(subject, s.now())
	if err != nil {
		return Errorf(http.StatusNotFound, "IAM.0004", "the subject token is invalid or expired")
	}
	snap, err := s.iam.Snapshot(r.Context(), cl.UserID)
	if err != nil || !snap.User.Enabled || snap.User.CredentialEpoch != cl.CredentialEpoch || snap.Domain.ID != c.Principal.DomainID {
		return Errorf(http.StatusNotFound, "IAM.0004", "the subject token is invalid or revoked")
	}
	var project *iam.Project
	if cl.ProjectID != "" {
		if project, err = s.iam.GetProject(r.Context(), cl.DomainID, cl.ProjectID); err != nil {
			return Errorf(http.StatusNotFound, "IAM.0004", "the subject token's project no longer exists")
		}
	}
	body, err := s.tokenBody(r, cl, snap.User, snap.Domain, project, wantCatalog(r))
	if err != nil {
		return err
	}
	w.Header().Set("X-Subject-Token", subject)
	return WriteJSON(w, http.StatusOK, map[string]any{"token": body})
}

// selfLink is Keystone's links object.
type selfLink struct {
	Self string `json:"self"`
}

type authProject struct {
	IsDomain    bool     `json:"is_domain"`
	Description string   `json:"description"`
	Links       selfLink `json:"links"`
	Enabled     bool     `json:"enabled"`
	ID          string   `json:"id"`
	ParentID    string   `json:"parent_id"`
	DomainID    string   `json:"domain_id"`
	Name        string   `json:"name"`
}

func (s *Server) projectJSON(r *http.Request, p *iam.Project) authProject {
	return authProject{Description: p.Description, Links: selfLink{s.endpoint(r) + "/v3/projects/" + p.ID},
		Enabled: p.Enabled, ID: p.ID, ParentID: p.DomainID, DomainID: p.DomainID, Name: p.Name}
}

func (s *Server) authProjects(w http.ResponseWriter, r *http.Request, c *Call) error {
	ps, err := s.iam.ProjectsForUser(r.Context(), c.Principal.UserID)
	if err != nil {
		return err
	}
	out := make([]authProject, 0, len(ps))
	for _, p := range ps {
		out = append(out, s.projectJSON(r, p))
	}
	return WriteJSON(w, http.StatusOK, authProjectList{Links: selfLink{s.endpoint(r) + "/v3/auth/projects"}, Projects: out})
}

type authProjectList struct {
	Links    selfLink      `json:"links"`
	Projects []authProject `json:"projects"`
}

func (s *Server) authDomains(w http.ResponseWriter, r *http.Request, c *Call) error {
	d := map[string]any{"id": c.Principal.DomainID, "name": c.Principal.DomainName, "enabled": true, "description": "",
		"links": map[string]string{"self": s.endpoint(r) + "/v3/domains/" + c.Principal.DomainID}}
	return WriteJSON(w, http.StatusOK, map[string]any{"links": map[string]string{"self": s.endpoint(r) + "/v3/auth/domains"}, "domains": []any{d}})
}

// wantCatalog follows Keystone: ?nocatalog (present with any value other
// than false/0) leaves the catalog out of the token body.
func wantCatalog(r *http.Request) bool {
	q := r.URL.Query()
	if !q.Has("nocatalog") {
		return true
	}
	v := strings.ToLower(q.Get("nocatalog"))
	return v == "false" || v == "0"
}
