package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
)

// This file holds the SQL of the identity tables; the rules live in the
// service files.

// querier is satisfied by *store.DB and *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var ms = store.Millis

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var fromMS = store.FromMillis

func bumpRevision(ctx context.Context, q querier) error {
	_, err := q.ExecContext(ctx, `UPDATE revisions SET value = value + 1 WHERE name = 'iam'`)
	return err
}

func readRevision(ctx context.Context, q querier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM revisions WHERE name = 'iam'`).Scan(&v)
	return v, err
}

// --- domains

func insertDomain(ctx context.Context, q querier, d *Domain) error {
	_, err := q.ExecContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ($1, $2, $3)`, d.ID, d.Name, ms(d.CreatedAt))
	return store.Classify(err)
}

func scanDomain(row *sql.Row) (*Domain, error) {
	var d Domain
	var created int64
	if err := row.Scan(&d.ID, &d.Name, &created); err != nil {
		return nil, err
	}
	d.CreatedAt = fromMS(created)
	return &d, nil
}

func getDomain(ctx context.Context, q querier, id string) (*Domain, error) {
	return scanDomain(q.QueryRowContext(ctx, `SELECT id, name, created_at FROM domains WHERE id = $1`, id))
}

func getDomainByName(ctx context.Context, q querier, name string) (*Domain, error) {
	return scanDomain(q.QueryRowContext(ctx, `SELECT id, name, created_at FROM domains WHERE name = $1`, name))
}

func countDomains(ctx context.Context, q querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n)
	return n, err
}

func nextPolicySeq(ctx context.Context, q querier, domainID string) (int64, error) {
	if _, err := q.ExecContext(ctx, `UPDATE domains SET policy_seq = policy_seq + 1 WHERE id = $1`, domainID); err != nil {
		return 0, err
	}
	var n int64
	err := q.QueryRowContext(ctx, `SELECT policy_seq FROM domains WHERE id = $1`, domainID).Scan(&n)
	return n, err
}

// --- users

const userCols = `id, domain_id, name, password_hash, enabled, email, description, is_domain_owner,
	credential_epoch, pwd_changed_at, last_login_at, created_at, updated_at,
	phone, areacode, access_mode, pwd_status, xuser_type, xuser_id`

func scanUser(sc interface{ Scan(...any) error }) (*User, error) {
	var u User
	var pwd, login, created, updated int64
	if err := sc.Scan(&u.ID, &u.DomainID, &u.Name, &u.passwordHash, &u.Enabled, &u.Email, &u.Description,
		&u.IsDomainOwner, &u.CredentialEpoch, &pwd, &login, &created, &updated,
		&u.Phone, &u.AreaCode, &u.AccessMode, &u.PwdStatus, &u.XUserType, &u.XUserID); err != nil {
		return nil, err
	}
	u.PwdChangedAt, u.LastLoginAt, u.CreatedAt, u.UpdatedAt = fromMS(pwd), fromMS(login), fromMS(created), fromMS(updated)
	return &u, nil
}

func insertUser(ctx context.Context, q querier, u *User) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)`,
		u.ID, u.DomainID, u.Name, u.passwordHash, u.Enabled, u.Email, u.Description, u.IsDomainOwner,
		u.CredentialEpoch, ms(u.PwdChangedAt), ms(u.LastLoginAt), ms(u.CreatedAt), ms(u.UpdatedAt),
		u.Phone, u.AreaCode, u.AccessMode, u.PwdStatus, u.XUserType, u.XUserID)
	return store.Classify(err)
}

func updateUserRow(ctx context.Context, q querier, u *User) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET name=$2, password_hash=$3, enabled=$4, email=$5, description=$6,
		credential_epoch=$7, pwd_changed_at=$8, last_login_at=$9, updated_at=$10,
		phone=$11, areacode=$12, access_mode=$13, pwd_status=$14, xuser_type=$15, xuser_id=$16 WHERE id=$1`,
		u.ID, u.Name, u.passwordHash, u.Enabled, u.Email, u.Description, u.CredentialEpoch,
		ms(u.PwdChangedAt), ms(u.LastLoginAt), ms(u.UpdatedAt),
		u.Phone, u.AreaCode, u.AccessMode, u.PwdStatus, u.XUserType, u.XUserID)
	return store.Classify(err)
}

func getUser(ctx context.Context, q querier, id string) (*User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
}

func getUserByName(ctx context.Context, q querier, domainID, name string) (*User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE domain_id = $1 AND name = $2`, domainID, name))
}

func listUsers(ctx context.Context, q querier, domainID, name string) ([]*User, error) {
	query := `SELECT ` + userCols + ` FROM users WHERE domain_id = $1`
	args := []any{domainID}
	if name != "" {
		query += ` AND name = $2`
		args = append(args, name)
	}
	return queryUsers(ctx, q, query+` ORDER BY name`, args...)
}

func queryUsers(ctx context.Context, q querier, query string, args ...any) ([]*User, error) {
	return queryAll(ctx, q, scanUser, query, args...)
}

// --- groups

func scanGroup(sc interface{ Scan(...any) error }) (*Group, error) {
	var g Group
	var created int64
	if err := sc.Scan(&g.ID, &g.DomainID, &g.Name, &g.Description, &created); err != nil {
		return nil, err
	}
	g.CreatedAt = fromMS(created)
	return &g, nil
}

const groupCols = `id, domain_id, name, description, created_at`

func insertGroup(ctx context.Context, q querier, g *Group) error {
	_, err := q.ExecContext(ctx, `INSERT INTO user_groups (`+groupCols+`) VALUES ($1,$2,$3,$4,$5)`,
		g.ID, g.DomainID, g.Name, g.Description, ms(g.CreatedAt))
	return store.Classify(err)
}

func getGroup(ctx context.Context, q querier, id string) (*Group, error) {
	return scanGroup(q.QueryRowContext(ctx, `SELECT `+groupCols+` FROM user_groups WHERE id = $1`, id))
}

func queryGroups(ctx context.Context, q querier, query string, args ...any) ([]*Group, error) {
	return queryAll(ctx, q, scanGroup, query, args...)
}

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

// --- credentials

const credCols = `access_key, user_id, domain_id, secret, status, description, created_at, last_use_at`

func scanCredential(sc interface{ Scan(...any) error }) (*Credential, error) {
	var c Credential
	var created, used int64
	if err := sc.Scan(&c.AccessKey, &c.UserID, &c.DomainID, &c.Secret, &c.Status, &c.Description, &created, &used); err != nil {
		return nil, err
	}
	c.CreatedAt, c.LastUseAt = fromMS(created), fromMS(used)
	return &c, nil
}

func insertCredential(ctx context.Context, q querier, c *Credential) error {
	_, err := q.ExecContext(ctx, `INSERT INTO credentials (`+credCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		c.AccessKey, c.UserID, c.DomainID, c.Secret, c.Status, c.Description, ms(c.CreatedAt), ms(c.LastUseAt))
	return store.Classify(err)
}

func getCredential(ctx context.Context, q querier, ak string) (*Credential, error) {
	return scanCredential(q.QueryRowContext(ctx, `SELECT `+credCols+` FROM credentials WHERE access_key = $1`, ak))
}

func listCredentials(ctx context.Context, q querier, domainID, userID string) ([]*Credential, error) {
	query := `SELECT ` + credCols + ` FROM credentials WHERE domain_id = $1`
	args := []any{domainID}
	if userID != "" {
		query += ` AND user_id = $2`
		args = append(args, userID)
	}
	return queryAll(ctx, q, scanCredential, query+` ORDER BY created_at, access_key`, args...)
}

// --- policies

const policyCols = `id, domain_id, name, display_name, type, description, catalog, document, created_at, updated_at`

func scanPolicy(sc interface{ Scan(...any) error }, reg policy.ActionRegistry) (*Policy, error) {
	var p Policy
	var doc string
	var domain sql.NullString
	var created, updated int64
	if err := sc.Scan(&p.ID, &domain, &p.Name, &p.DisplayName, &p.Type, &p.Description, &p.Catalog, &doc, &created, &updated); err != nil {
		return nil, err
	}
	p.DomainID = domain.String
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	d, err := policy.Parse([]byte(doc), reg)
	if err != nil {
		// A stored policy that no longer parses (e.g. an action was
		// unregistered) must not silently grant or deny: surface it.
		return nil, fmt.Errorf("stored policy %s (%s) no longer parses: %w", p.ID, p.DisplayName, err)
	}
	p.Document = d
	return &p, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func upsertPolicy(ctx context.Context, q querier, p *Policy, doc []byte) error {
	_, err := q.ExecContext(ctx, `INSERT INTO policies (id, domain_id, name, display_name, type, description, catalog, document, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
		ON CONFLICT (id) DO UPDATE SET name=excluded.name, display_name=excluded.display_name, type=excluded.type,
			description=excluded.description, catalog=excluded.catalog, document=excluded.document, updated_at=excluded.updated_at`,
		p.ID, nullable(p.DomainID), p.Name, p.DisplayName, p.Type, p.Description, p.Catalog, string(doc), ms(p.CreatedAt), ms(p.UpdatedAt))
	return store.Classify(err)
}

func getPolicy(ctx context.Context, q querier, reg policy.ActionRegistry, id string) (*Policy, error) {
	return scanPolicy(q.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE id = $1`, id), reg)
}

func queryPolicies(ctx context.Context, q querier, reg policy.ActionRegistry, query string, args ...any) ([]*Policy, error) {
	scan := func(sc interface{ Scan(...any) error }) (*Policy, error) { return scanPolicy(sc, reg) }
	return queryAll(ctx, q, scan, query, args...)
}

// --- grants

func scopeKindName(k policy.ScopeKind) string {
	switch k {
	case policy.ScopeProject:
		return "project"
	case policy.ScopeEnterpriseProject:
		return "enterprise_project"
	default:
		return "domain"
	}
}

func scopeKindFromName(s string) policy.ScopeKind {
	switch s {
	case "project":
		return policy.ScopeProject
	case "enterprise_project":
		return policy.ScopeEnterpriseProject
	default:
		return policy.ScopeAccount
	}
}

func insertGrant(ctx context.Context, q querier, g *Grant) error {
	_, err := q.ExecContext(ctx, `INSERT INTO grants (id, domain_id, group_id, policy_id, scope_kind, scope_id, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7)`, g.ID, g.DomainID, g.GroupID, g.PolicyID, scopeKindName(g.Scope.Kind), g.Scope.ID, ms(g.CreatedAt))
	return store.Classify(err)
}

func deleteGrant(ctx context.Context, q querier, groupID, policyID string, scope policy.Scope) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM grants WHERE group_id=$1 AND policy_id=$2 AND scope_kind=$3 AND scope_id=$4`,
		groupID, policyID, scopeKindName(scope.Kind), scope.ID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func grantExists(ctx context.Context, q querier, groupID, policyID string, scope policy.Scope) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM grants WHERE group_id=$1 AND policy_id=$2 AND scope_kind=$3 AND scope_id=$4`,
		groupID, policyID, scopeKindName(scope.Kind), scope.ID).Scan(&n)
	return n > 0, err
}

// grantRow is a grant joined with its policy document, for compiling a user's set.
type grantRow struct {
	PolicyID, PolicyName, Document string
	Scope                          policy.Scope
}

func grantsOfUser(ctx context.Context, q querier, userID string) ([]grantRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT p.id, p.display_name, p.document, g.scope_kind, g.scope_id
		FROM group_members m JOIN grants g ON g.group_id = m.group_id JOIN policies p ON p.id = g.policy_id
		WHERE m.user_id = $1 ORDER BY p.id, g.scope_kind, g.scope_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []grantRow
	for rows.Next() {
		var r grantRow
		var kind string
		if err := rows.Scan(&r.PolicyID, &r.PolicyName, &r.Document, &kind, &r.Scope.ID); err != nil {
			return nil, err
		}
		r.Scope.Kind = scopeKindFromName(kind)
		out = append(out, r)
	}
	return out, rows.Err()
}

// --- server secrets

// secret returns the named server secret, creating it with gen on first use.
// Every replica ends up with the same value: the first insert wins.
func secret(ctx context.Context, q querier, name string, gen func() (string, error)) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	nv, err := gen()
	if err != nil {
		return "", err
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, nv); err != nil {
		return "", err
	}
	err = q.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&v)
	return v, err
}
