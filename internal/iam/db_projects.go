package iam

import (
	"context"
	"fmt"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file holds the SQL of projects, enterprise projects and workspaces;
// db.go has the shared helpers.

// --- projects

const projectCols = `id, domain_id, name, region, description, enabled, created_at`

func scanProject(sc interface{ Scan(...any) error }) (*Project, error) {
	var p Project
	var created int64
	if err := sc.Scan(&p.ID, &p.DomainID, &p.Name, &p.Region, &p.Description, &p.Enabled, &created); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMS(created)
	return &p, nil
}

func insertProject(ctx context.Context, q querier, p *Project) error {
	_, err := q.ExecContext(ctx, `INSERT INTO projects (`+projectCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		p.ID, p.DomainID, p.Name, p.Region, p.Description, p.Enabled, ms(p.CreatedAt))
	return store.Classify(err)
}

func getProject(ctx context.Context, q querier, id string) (*Project, error) {
	return scanProject(q.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, id))
}

func getProjectByName(ctx context.Context, q querier, domainID, name string) (*Project, error) {
	return scanProject(q.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE domain_id = $1 AND name = $2`, domainID, name))
}

func queryProjects(ctx context.Context, q querier, query string, args ...any) ([]*Project, error) {
	return queryAll(ctx, q, scanProject, query, args...)
}

// --- enterprise projects

const epCols = `id, domain_id, name, description, status, created_at, updated_at`

func scanEP(sc interface{ Scan(...any) error }) (*EnterpriseProject, error) {
	var e EnterpriseProject
	var created, updated int64
	if err := sc.Scan(&e.ID, &e.DomainID, &e.Name, &e.Description, &e.Status, &created, &updated); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	return &e, nil
}

func insertEP(ctx context.Context, q querier, e *EnterpriseProject) error {
	_, err := q.ExecContext(ctx, `INSERT INTO enterprise_projects (`+epCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		e.ID, e.DomainID, e.Name, e.Description, e.Status, ms(e.CreatedAt), ms(e.UpdatedAt))
	return store.Classify(err)
}

func updateEPRow(ctx context.Context, q querier, e *EnterpriseProject) error {
	_, err := q.ExecContext(ctx, `UPDATE enterprise_projects SET name=$3, description=$4, status=$5, updated_at=$6 WHERE domain_id=$1 AND id=$2`,
		e.DomainID, e.ID, e.Name, e.Description, e.Status, ms(e.UpdatedAt))
	return store.Classify(err)
}

func getEP(ctx context.Context, q querier, domainID, id string) (*EnterpriseProject, error) {
	return scanEP(q.QueryRowContext(ctx, `SELECT `+epCols+` FROM enterprise_projects WHERE domain_id = $1 AND id = $2`, domainID, id))
}

func listEPs(ctx context.Context, q querier, domainID string) ([]*EnterpriseProject, error) {
	return queryAll(ctx, q, scanEP, `SELECT `+epCols+` FROM enterprise_projects WHERE domain_id = $1 ORDER BY created_at, id`, domainID)
}

// --- workspaces

const wsCols = `id, project_id, domain_id, name, description, enterprise_project_id, auth_type, owner_user_id, owner_name, status, created_at, updated_at`

func scanWorkspace(sc interface{ Scan(...any) error }) (*Workspace, error) {
	var w Workspace
	var created, updated int64
	if err := sc.Scan(&w.ID, &w.ProjectID, &w.DomainID, &w.Name, &w.Description, &w.EnterpriseProjectID, &w.AuthType,
		&w.OwnerUserID, &w.OwnerName, &w.Status, &created, &updated); err != nil {
		return nil, err
	}
	w.CreatedAt, w.UpdatedAt = fromMS(created), fromMS(updated)
	return &w, nil
}

func insertWorkspace(ctx context.Context, q querier, w *Workspace) error {
	_, err := q.ExecContext(ctx, `INSERT INTO workspaces (`+wsCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		w.ID, w.ProjectID, w.DomainID, w.Name, w.Description, w.EnterpriseProjectID, w.AuthType, w.OwnerUserID, w.OwnerName,
		w.Status, ms(w.CreatedAt), ms(w.UpdatedAt))
	if err != nil {
		return store.Classify(err)
	}
	return setWorkspaceUsers(ctx, q, w)
}

func updateWorkspaceRow(ctx context.Context, q querier, w *Workspace) error {
	_, err := q.ExecContext(ctx, `UPDATE workspaces SET name=$3, description=$4, enterprise_project_id=$5, auth_type=$6, updated_at=$7
		WHERE project_id=$1 AND id=$2`, w.ProjectID, w.ID, w.Name, w.Description, w.EnterpriseProjectID, w.AuthType, ms(w.UpdatedAt))
	if err != nil {
		return store.Classify(err)
	}
	return setWorkspaceUsers(ctx, q, w)
}

func setWorkspaceUsers(ctx context.Context, q querier, w *Workspace) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM workspace_users WHERE project_id=$1 AND workspace_id=$2`, w.ProjectID, w.ID); err != nil {
		return err
	}
	for _, u := range w.Users {
		if _, err := q.ExecContext(ctx, `INSERT INTO workspace_users (project_id, workspace_id, user_id) VALUES ($1,$2,$3)`, w.ProjectID, w.ID, u); err != nil {
			return store.Classify(err)
		}
	}
	return nil
}

func getWorkspace(ctx context.Context, q querier, projectID, id string) (*Workspace, error) {
	w, err := scanWorkspace(q.QueryRowContext(ctx, `SELECT `+wsCols+` FROM workspaces WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		return nil, err
	}
	w.Users, err = workspaceUsers(ctx, q, projectID, id)
	return w, err
}

func workspaceUsers(ctx context.Context, q querier, projectID, id string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT user_id FROM workspace_users WHERE project_id=$1 AND workspace_id=$2 ORDER BY user_id`, projectID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func listWorkspaces(ctx context.Context, q querier, projectID string) ([]*Workspace, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+wsCols+` FROM workspaces WHERE project_id = $1 ORDER BY created_at, id`, projectID)
	if err != nil {
		return nil, err
	}
	var out []*Workspace
	for rows.Next() {
		w, err := scanWorkspace(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, w := range out {
		if w.Users, err = workspaceUsers(ctx, q, projectID, w.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listProjects lists a domain's projects by name, only the one named name
// when name is set.
func listProjects(ctx context.Context, q querier, domainID, name string) ([]*Project, error) {
	query := `SELECT ` + projectCols + ` FROM projects WHERE domain_id = $1`
	args := []any{domainID}
	if name != "" {
		query += ` AND name = $2`
		args = append(args, name)
	}
	return queryProjects(ctx, q, query+` ORDER BY name`, args...)
}

func updateProjectRow(ctx context.Context, q querier, p *Project) error {
	_, err := q.ExecContext(ctx, `UPDATE projects SET name=$2, description=$3 WHERE id=$1`, p.ID, p.Name, p.Description)
	return err
}

func deleteWorkspace(ctx context.Context, q querier, projectID, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM workspaces WHERE project_id = $1 AND id = $2`, projectID, id)
	return err
}

// projectOf returns a project of the domain, or its not-found error for
// one that is missing or belongs to another domain.
func projectOf(ctx context.Context, q querier, domainID, id string) (*Project, error) {
	p, err := getProject(ctx, q, id)
	if noRows(err) || err == nil && p.DomainID != domainID {
		return nil, notFound("project", id)
	}
	return p, err
}

// workspaceOf returns a workspace of the domain's project, or ModelArts'
// not-found error (errWorkspaceNotFound) for one that is missing or belongs
// to another domain.
func workspaceOf(ctx context.Context, q querier, domainID, projectID, id string) (*Workspace, error) {
	w, err := getWorkspace(ctx, q, projectID, id)
	if noRows(err) || err == nil && w.DomainID != domainID {
		return nil, errWorkspaceNotFound(id)
	}
	return w, err
}

func errWorkspaceNotFound(id string) error {
	return &Error{Kind: KindNotFound, Code: "ModelArts.0102", Msg: fmt.Sprintf("workspace %q does not exist", id)}
}

// epOf returns one of the domain's enterprise projects, or its not-found error.
func epOf(ctx context.Context, q querier, domainID, id string) (*EnterpriseProject, error) {
	e, err := getEP(ctx, q, domainID, id)
	if noRows(err) {
		return nil, notFound("enterprise project", id)
	}
	return e, err
}
