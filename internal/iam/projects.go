package iam

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
)

// --- projects

var projectSuffix = regexp.MustCompile(`^[A-Za-z0-9_-]{1,60}$`)

// CreateProject adds a project in a region. As in Huawei IAM, a project's
// name is the region's ID, or the region's ID, "_" and a suffix.
func (s *Service) CreateProject(ctx context.Context, domainID, region, name, description string) (*Project, error) {
	if name != region {
		suffix, ok := strings.CutPrefix(name, region+"_")
		if !ok || !projectSuffix.MatchString(suffix) {
			return nil, &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: fmt.Sprintf("project name must be %q or %q followed by 1 to 60 letters, digits, '-' or '_'", region, region+"_")}
		}
	}
	if err := validateDescription("description", description, 255); err != nil {
		return nil, err
	}
	p := &Project{ID: store.NewID(), DomainID: domainID, Name: name, Region: region, Description: description, Enabled: true, CreatedAt: s.clock()}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := insertProject(ctx, tx, p); err != nil {
			return err
		}
		return insertDefaultWorkspace(ctx, tx, p, s.clock())
	})
	if store.IsConflict(err) {
		return nil, &Error{Kind: KindConflict, Code: "IAM.0025", Msg: fmt.Sprintf("project %q already exists", name)}
	}
	return p, wrap("create project", err)
}

func insertDefaultWorkspace(ctx context.Context, q querier, p *Project, t time.Time) error {
	return insertWorkspace(ctx, q, &Workspace{ID: DefaultWorkspaceID, ProjectID: p.ID, DomainID: p.DomainID, Name: "default",
		Description: "The project's default workspace.", EnterpriseProjectID: DefaultEnterpriseProjectID, AuthType: WorkspacePublic,
		Status: "NORMAL", CreatedAt: t, UpdatedAt: t})
}

// GetProject returns a project of the domain.
func (s *Service) GetProject(ctx context.Context, domainID, id string) (*Project, error) {
	p, err := projectOf(ctx, s.db, domainID, id)
	return p, wrap("get project", err)
}

// ProjectByID returns any project; for authentication, which must find the
// project before it knows the caller's domain.
func (s *Service) ProjectByID(ctx context.Context, id string) (*Project, error) {
	p, err := getProject(ctx, s.db, id)
	if noRows(err) {
		return nil, notFound("project", id)
	}
	return p, wrap("get project", err)
}

// ProjectByName returns the domain's project with that name.
func (s *Service) ProjectByName(ctx context.Context, domainID, name string) (*Project, error) {
	p, err := getProjectByName(ctx, s.db, domainID, name)
	if noRows(err) {
		return nil, notFound("project", name)
	}
	return p, wrap("get project", err)
}

// ListProjects lists the domain's projects, optionally filtered by name.
func (s *Service) ListProjects(ctx context.Context, domainID, name string) ([]*Project, error) {
	if name != "" {
		ps, err := listProjects(ctx, s.db, domainID, name)
		return ps, wrap("list projects", err)
	}
	// An account's whole list is what every token request and project
	// listing asks for (GET /v3/auth/projects): it is cached with the rest
	// of IAM's data and dropped by every IAM write.
	ps, err := cached(s, func() map[string][]*Project { return s.domainProjects }, domainID, func() ([]*Project, error) {
		ps, err := listProjects(ctx, s.db, domainID, "")
		return ps, wrap("list projects", err)
	})
	if err != nil {
		return nil, err
	}
	// Callers filter the list in place; the projects themselves are shared
	// and never modified.
	return slices.Clone(ps), nil
}

// UpdateProject changes a project's name suffix or description.
func (s *Service) UpdateProject(ctx context.Context, domainID, id string, name, description *string) (*Project, error) {
	var out *Project
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := projectOf(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		if name != nil && *name != p.Name {
			suffix, ok := strings.CutPrefix(*name, p.Region+"_")
			if p.Name == p.Region || !ok || !projectSuffix.MatchString(suffix) {
				return &Error{Kind: KindInvalid, Code: "IAM.0007", Msg: "only a sub-project can be renamed, to the region's ID, '_' and a suffix"}
			}
			p.Name = *name
		}
		if description != nil {
			if err := validateDescription("description", *description, 255); err != nil {
				return err
			}
			p.Description = *description
		}
		out = p
		return updateProjectRow(ctx, tx, p)
	})
	if store.IsConflict(err) {
		return nil, &Error{Kind: KindConflict, Code: "IAM.0025", Msg: "project name already exists"}
	}
	return out, wrap("update project", err)
}

// ProjectsForUser lists the projects a user may scope a token to: all of
// the domain's projects when the user holds an account-wide or
// enterprise-project grant, else the projects they hold grants on.
func (s *Service) ProjectsForUser(ctx context.Context, userID string) ([]*Project, error) {
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	all := snap.User.IsDomainOwner
	for _, g := range snap.Grants {
		switch g.Scope.Kind {
		case policy.ScopeProject:
			ids[g.Scope.ID] = true
		default:
			all = true
		}
	}
	ps, err := s.ListProjects(ctx, snap.User.DomainID, "")
	if err != nil || all {
		return ps, err
	}
	return slices.DeleteFunc(ps, func(p *Project) bool { return !ids[p.ID] }), nil
}

// --- enterprise projects

var epName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CreateEnterpriseProject adds an enterprise project.
func (s *Service) CreateEnterpriseProject(ctx context.Context, domainID, name, description string) (*EnterpriseProject, error) {
	if !epName.MatchString(name) || strings.EqualFold(name, "default") {
		return nil, errorf(KindInvalid, "name must be 1 to 64 letters, digits, '-' or '_' and not \"default\"")
	}
	if err := validateDescription("description", description, 512); err != nil {
		return nil, err
	}
	t := s.clock()
	e := &EnterpriseProject{ID: store.NewID(), DomainID: domainID, Name: name, Description: description, Status: 1, CreatedAt: t, UpdatedAt: t}
	err := s.write(ctx, func(tx *sql.Tx) error { return insertEP(ctx, tx, e) })
	if store.IsConflict(err) {
		return nil, errorf(KindConflict, "enterprise project %q already exists", name)
	}
	return e, wrap("create enterprise project", err)
}

// GetEnterpriseProject returns one of the domain's enterprise projects.
func (s *Service) GetEnterpriseProject(ctx context.Context, domainID, id string) (*EnterpriseProject, error) {
	e, err := epOf(ctx, s.db, domainID, id)
	return e, wrap("get enterprise project", err)
}

// ListEnterpriseProjects lists the domain's enterprise projects.
func (s *Service) ListEnterpriseProjects(ctx context.Context, domainID string) ([]*EnterpriseProject, error) {
	es, err := listEPs(ctx, s.db, domainID)
	return es, wrap("list enterprise projects", err)
}

// UpdateEnterpriseProject renames, describes, enables (1) or disables (2) one.
func (s *Service) UpdateEnterpriseProject(ctx context.Context, domainID, id string, name, description *string, status *int) (*EnterpriseProject, error) {
	var out *EnterpriseProject
	err := s.write(ctx, func(tx *sql.Tx) error {
		e, err := epOf(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		if name != nil {
			if id == DefaultEnterpriseProjectID {
				return errorf(KindForbidden, "the default enterprise project cannot be renamed")
			}
			if !epName.MatchString(*name) || strings.EqualFold(*name, "default") {
				return errorf(KindInvalid, "name must be 1 to 64 letters, digits, '-' or '_' and not \"default\"")
			}
			e.Name = *name
		}
		if description != nil {
			if err := validateDescription("description", *description, 512); err != nil {
				return err
			}
			e.Description = *description
		}
		if status != nil {
			if *status != 1 && *status != 2 {
				return errorf(KindInvalid, "status must be 1 (enable) or 2 (disable)")
			}
			if id == DefaultEnterpriseProjectID && *status == 2 {
				return errorf(KindForbidden, "the default enterprise project cannot be disabled")
			}
			e.Status = *status
		}
		e.UpdatedAt = s.clock()
		out = e
		return updateEPRow(ctx, tx, e)
	})
	if store.IsConflict(err) {
		return nil, errorf(KindConflict, "enterprise project name already exists")
	}
	return out, wrap("update enterprise project", err)
}

// --- workspaces

var workspaceName = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)

// WorkspaceInput creates or changes a workspace.
type WorkspaceInput struct {
	Name                *string
	Description         *string
	EnterpriseProjectID *string
	AuthType            *string
	Users               *[]string // user IDs for INTERNAL workspaces
}

// CreateWorkspace adds a workspace to a project, owned by the caller.
func (s *Service) CreateWorkspace(ctx context.Context, p *Principal, projectID string, in WorkspaceInput) (*Workspace, error) {
	t := s.clock()
	w := &Workspace{ID: store.NewID(), ProjectID: projectID, DomainID: p.DomainID, EnterpriseProjectID: DefaultEnterpriseProjectID,
		AuthType: WorkspacePublic, OwnerUserID: p.UserID, OwnerName: p.UserName, Status: "NORMAL", CreatedAt: t, UpdatedAt: t}
	if in.Name == nil {
		return nil, errorf(KindInvalid, "name is required")
	}
	var out *Workspace
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.applyWorkspace(ctx, tx, w, in); err != nil {
			return err
		}
		out = w
		return insertWorkspace(ctx, tx, w)
	})
	if store.IsConflict(err) {
		return nil, errorf(KindConflict, "workspace %q already exists", *in.Name)
	}
	return out, wrap("create workspace", err)
}

func (s *Service) applyWorkspace(ctx context.Context, q querier, w *Workspace, in WorkspaceInput) error {
	if in.Name != nil {
		if !workspaceName.MatchString(*in.Name) || strings.EqualFold(*in.Name, "default") {
			return errorf(KindInvalid, "name must be 4 to 64 letters, digits, '-' or '_' and not \"default\"")
		}
		w.Name = *in.Name
	}
	if in.Description != nil {
		if err := validateDescription("description", *in.Description, 256); err != nil {
			return err
		}
		w.Description = *in.Description
	}
	if in.EnterpriseProjectID != nil {
		e, err := getEP(ctx, q, w.DomainID, *in.EnterpriseProjectID)
		if noRows(err) {
			return errorf(KindInvalid, "enterprise_project_id: enterprise project %q does not exist", *in.EnterpriseProjectID)
		}
		if err != nil {
			return err
		}
		if e.Status != 1 {
			return errorf(KindInvalid, "enterprise_project_id: enterprise project %q is disabled", e.ID)
		}
		w.EnterpriseProjectID = e.ID
	}
	if in.AuthType != nil {
		switch *in.AuthType {
		case WorkspacePublic, WorkspacePrivate, WorkspaceInternal:
			w.AuthType = *in.AuthType
		default:
			return errorf(KindInvalid, "auth_type must be PUBLIC, PRIVATE or INTERNAL")
		}
	}
	if in.Users != nil {
		users := slices.Clone(*in.Users)
		slices.Sort(users)
		users = slices.Compact(users)
		for _, id := range users {
			u, err := getUser(ctx, q, id)
			if noRows(err) || err == nil && u.DomainID != w.DomainID {
				return errorf(KindInvalid, "grants: user %q does not exist", id)
			}
			if err != nil {
				return err
			}
		}
		w.Users = users
	}
	if w.AuthType != WorkspaceInternal {
		w.Users = nil
	}
	return nil
}

// GetWorkspace returns a workspace of the project (from the cache; callers
// must not modify it).
func (s *Service) GetWorkspace(ctx context.Context, domainID, projectID, id string) (*Workspace, error) {
	w, err := s.cachedWorkspace(ctx, projectID, id)
	if noRows(err) || err == nil && w.DomainID != domainID {
		return nil, errWorkspaceNotFound(id)
	}
	return w, wrap("get workspace", err)
}

// ListWorkspaces lists the project's workspaces that the caller may enter.
func (s *Service) ListWorkspaces(ctx context.Context, p *Principal, projectID string) ([]*Workspace, error) {
	ws, err := listWorkspaces(ctx, s.db, projectID)
	if err != nil {
		return nil, wrap("list workspaces", err)
	}
	owner, err := s.isDomainOwner(ctx, p)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ws, func(w *Workspace) bool { return w.DomainID != p.DomainID || !canEnter(p.UserID, owner, w) }), nil
}

// UpdateWorkspace changes a workspace; the default workspace keeps its name,
// enterprise project and access type.
func (s *Service) UpdateWorkspace(ctx context.Context, domainID, projectID, id string, in WorkspaceInput) (*Workspace, error) {
	var out *Workspace
	err := s.write(ctx, func(tx *sql.Tx) error {
		w, err := workspaceOf(ctx, tx, domainID, projectID, id)
		if err != nil {
			return err
		}
		if id == DefaultWorkspaceID && (in.Name != nil || in.EnterpriseProjectID != nil || in.AuthType != nil) {
			return errorf(KindForbidden, "the default workspace can change only its description")
		}
		if err := s.applyWorkspace(ctx, tx, w, in); err != nil {
			return err
		}
		w.UpdatedAt = s.clock()
		out = w
		return updateWorkspaceRow(ctx, tx, w)
	})
	if store.IsConflict(err) {
		return nil, errorf(KindConflict, "workspace name already exists")
	}
	return out, wrap("update workspace", err)
}

// DeleteWorkspace removes a workspace. The default workspace stays.
func (s *Service) DeleteWorkspace(ctx context.Context, domainID, projectID, id string) error {
	if id == DefaultWorkspaceID {
		return errorf(KindForbidden, "the default workspace cannot be deleted")
	}
	return wrap("delete workspace", s.write(ctx, func(tx *sql.Tx) error {
		if _, err := workspaceOf(ctx, tx, domainID, projectID, id); err != nil {
			return err
		}
		return deleteWorkspace(ctx, tx, projectID, id)
	}))
}

// WorkspaceAccess loads a workspace for a request and checks that the caller
// may enter it (PUBLIC: everyone in the account; PRIVATE: its creator and the
// account administrator; INTERNAL: those and the listed users). A workspace
// the caller cannot enter is reported as absent.
func (s *Service) WorkspaceAccess(ctx context.Context, p *Principal, projectID, id string) (*Workspace, error) {
	w, err := s.GetWorkspace(ctx, p.DomainID, projectID, id)
	if err != nil {
		return nil, err
	}
	owner, err := s.isDomainOwner(ctx, p)
	if err != nil {
		return nil, err
	}
	if !canEnter(p.UserID, owner, w) {
		return nil, &Error{Kind: KindForbidden, Code: "ModelArts.0112", Msg: fmt.Sprintf("access to workspace %q is restricted", id)}
	}
	return w, nil
}

func (s *Service) isDomainOwner(ctx context.Context, p *Principal) (bool, error) {
	snap, err := s.Snapshot(ctx, p.UserID)
	if err != nil {
		return false, err
	}
	return snap.User.IsDomainOwner, nil
}

func canEnter(userID string, domainOwner bool, w *Workspace) bool {
	switch w.AuthType {
	case WorkspacePublic:
		return true
	case WorkspacePrivate:
		return domainOwner || w.OwnerUserID == userID
	default:
		return domainOwner || w.OwnerUserID == userID || slices.Contains(w.Users, userID)
	}
}
