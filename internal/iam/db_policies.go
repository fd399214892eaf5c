package iam

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
)

// This file holds the SQL of policies and their grants; db.go has the
// shared helpers.

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

// storedPolicy is what a system policy's row holds that the code also
// defines, to tell whether the code changed it.
type storedPolicy struct {
	Type, Description, Catalog, Document string
}

// systemPolicyRows returns the stored system policies by ID.
func systemPolicyRows(ctx context.Context, q querier) (map[string]storedPolicy, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, type, description, catalog, document FROM policies WHERE domain_id IS NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]storedPolicy{}
	for rows.Next() {
		var id string
		var p storedPolicy
		if err := rows.Scan(&id, &p.Type, &p.Description, &p.Catalog, &p.Document); err != nil {
			return nil, err
		}
		out[id] = p
	}
	return out, rows.Err()
}

// listPolicies lists the system policies (custom=false) or the domain's
// custom policies (custom=true) by display name, only those with
// displayName when it is set.
func listPolicies(ctx context.Context, q querier, reg policy.ActionRegistry, domainID string, custom bool, displayName string) ([]*Policy, error) {
	query := `SELECT ` + policyCols + ` FROM policies WHERE domain_id IS NULL`
	args := []any{}
	if custom {
		query = `SELECT ` + policyCols + ` FROM policies WHERE domain_id = $1`
		args = append(args, domainID)
	}
	if displayName != "" {
		args = append(args, displayName)
		query += fmt.Sprintf(` AND display_name = $%d`, len(args))
	}
	return queryPolicies(ctx, q, reg, query+` ORDER BY display_name`, args...)
}

// policyGrantCount counts the grants of a policy.
func policyGrantCount(ctx context.Context, q querier, policyID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM grants WHERE policy_id = $1`, policyID).Scan(&n)
	return n, err
}

func deletePolicy(ctx context.Context, q querier, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM policies WHERE id = $1`, id)
	return err
}

// grantedPolicies lists by display name the policies granted to a group at
// a scope.
func grantedPolicies(ctx context.Context, q querier, reg policy.ActionRegistry, groupID string, scope policy.Scope) ([]*Policy, error) {
	return queryPolicies(ctx, q, reg, `SELECT `+prefixed("p.", policyCols)+` FROM policies p JOIN grants g ON g.policy_id = p.id
		WHERE g.group_id = $1 AND g.scope_kind = $2 AND g.scope_id = $3 ORDER BY p.display_name`, groupID, scopeKindName(scope.Kind), scope.ID)
}

// visiblePolicy returns a system policy or one of the domain's custom
// policies; a policy that is missing or another domain's is
// notFound(what, id) ("policy", or "role" as grants call it).
func visiblePolicy(ctx context.Context, q querier, reg policy.ActionRegistry, domainID, id, what string) (*Policy, error) {
	p, err := getPolicy(ctx, q, reg, id)
	if noRows(err) || err == nil && !p.System() && p.DomainID != domainID {
		return nil, notFound(what, id)
	}
	return p, err
}

// customPolicyOf returns one of the domain's custom policies: a system
// policy, a missing one or another domain's is notFound("policy", id).
func customPolicyOf(ctx context.Context, q querier, reg policy.ActionRegistry, domainID, id string) (*Policy, error) {
	p, err := getPolicy(ctx, q, reg, id)
	if noRows(err) || err == nil && p.DomainID != domainID {
		return nil, notFound("policy", id)
	}
	return p, err
}
