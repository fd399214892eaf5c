package workforce

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file is the package's repository: the SQL of the labeling-team
// tables (workforces, their workers, and the record of the IAM users
// Atelier created for members). Every statement is scoped by project; the
// service holds the rules. Each function takes the caller's transaction or
// the database, because a member's row and its IAM user and grant change
// in one transaction.

// querier is a transaction or the database.
type querier = store.Conn

type scanner = store.Scanner

const workforceCols = `f.id, f.name, f.description, f.workspace_id, f.create_time, f.update_time,
	(SELECT COUNT(*) FROM workforce_workers w WHERE w.workforce_id = f.id)`

func scanWorkforce(sc scanner) (*Workforce, error) {
	var w Workforce
	if err := sc.Scan(&w.ID, &w.Name, &w.Description, &w.WorkspaceID, &w.CreateTime, &w.UpdateTime, &w.WorkerCount); err != nil {
		return nil, err
	}
	return &w, nil
}

const workerCols = `id, workforce_id, email, role, status, description, create_time, update_time, user_id`

func scanWorker(sc scanner) (*Worker, error) {
	var w Worker
	if err := sc.Scan(&w.ID, &w.WorkforceID, &w.Email, &w.Role, &w.Status, &w.Description, &w.CreateTime, &w.UpdateTime, &w.UserID); err != nil {
		return nil, err
	}
	return &w, nil
}

// queryAll runs a query and scans every row; an empty result is an empty
// slice, which the API answers as [] rather than null.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return store.QueryAll(ctx, q, scan, query, args...)
}

func count(ctx context.Context, q querier, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// countWorkforces counts an account's teams, for its limit.
func countWorkforces(ctx context.Context, q querier, domainID string) (int, error) {
	return count(ctx, q, `SELECT COUNT(*) FROM workforces WHERE domain_id = $1`, domainID)
}

// workforceNamed reports whether the project has a team of that name other than except.
func workforceNamed(ctx context.Context, q querier, projectID, name, except string) (bool, error) {
	n, err := count(ctx, q, `SELECT COUNT(*) FROM workforces WHERE project_id = $1 AND name = $2 AND id <> $3`, projectID, name, except)
	return n > 0, err
}

func insertWorkforce(ctx context.Context, q querier, sc Scope, w *Workforce) error {
	_, err := q.ExecContext(ctx, `INSERT INTO workforces (id, domain_id, project_id, workspace_id, name, description, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, w.ID, sc.DomainID, sc.ProjectID, w.WorkspaceID, w.Name, w.Description, w.CreateTime, w.UpdateTime)
	if store.IsConflict(err) {
		return errWorkforceExists(w.Name)
	}
	return err
}

// workforce loads a team of the project.
func workforce(ctx context.Context, q querier, projectID, id string) (*Workforce, error) {
	w, err := scanWorkforce(q.QueryRowContext(ctx, `SELECT `+workforceCols+` FROM workforces f WHERE f.project_id = $1 AND f.id = $2`, projectID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errWorkforceNotFound(id)
	}
	return w, err
}

// likePattern is a LIKE pattern matching s anywhere, with LIKE's wildcards
// in s taken literally (ESCAPE '\').
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// direction is the SQL of a sort direction.
func direction(desc bool) string {
	if desc {
		return "DESC"
	}
	return "ASC"
}

// listWorkforces answers a page of the project's teams in a workspace and
// how many match in all.
func listWorkforces(ctx context.Context, q querier, projectID, workspaceID string, qu Query) (int, []*Workforce, error) {
	where := ` FROM workforces f WHERE f.project_id = $1 AND f.workspace_id = $2`
	args := []any{projectID, workspaceID}
	if qu.Search != "" {
		args = append(args, likePattern(qu.Search))
		where += fmt.Sprintf(` AND LOWER(f.name) LIKE $%d ESCAPE '\'`, len(args))
	}
	if qu.IDs != nil {
		if len(qu.IDs) == 0 {
			return 0, []*Workforce{}, nil
		}
		ph := make([]string, len(qu.IDs))
		for i, id := range qu.IDs {
			args = append(args, id)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		where += ` AND f.id IN (` + strings.Join(ph, ",") + `)`
	}
	total, err := count(ctx, q, `SELECT COUNT(*)`+where, args...)
	if err != nil {
		return 0, nil, err
	}
	col := "f.create_time"
	if qu.SortBy == "workforce_name" {
		col = "f.name"
	}
	dir := direction(qu.Desc)
	args = append(args, qu.Limit, qu.Offset)
	out, err := queryAll(ctx, q, scanWorkforce, `SELECT `+workforceCols+where+
		fmt.Sprintf(` ORDER BY %s %s, f.id %s LIMIT $%d OFFSET $%d`, col, dir, dir, len(args)-1, len(args)), args...)
	return total, out, err
}

func updateWorkforce(ctx context.Context, q querier, projectID string, w *Workforce) error {
	_, err := q.ExecContext(ctx, `UPDATE workforces SET name = $3, description = $4, update_time = $5 WHERE project_id = $1 AND id = $2`,
		projectID, w.ID, w.Name, w.Description, w.UpdateTime)
	if store.IsConflict(err) {
		return errWorkforceExists(w.Name)
	}
	return err
}

func deleteWorkforce(ctx context.Context, q querier, projectID, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM workforces WHERE project_id = $1 AND id = $2`, projectID, id)
	return err
}

// --- workers

func countWorkers(ctx context.Context, q querier, workforceID string) (int, error) {
	return count(ctx, q, `SELECT COUNT(*) FROM workforce_workers WHERE workforce_id = $1`, workforceID)
}

// workerWithEmail reports whether the team has a member with that address.
func workerWithEmail(ctx context.Context, q querier, workforceID, emailKey string) (bool, error) {
	n, err := count(ctx, q, `SELECT COUNT(*) FROM workforce_workers WHERE workforce_id = $1 AND email_key = $2`, workforceID, emailKey)
	return n > 0, err
}

// hasTeamAdmin reports whether the team has a team administrator other than except.
func hasTeamAdmin(ctx context.Context, q querier, workforceID, except string) (bool, error) {
	n, err := count(ctx, q, `SELECT COUNT(*) FROM workforce_workers WHERE workforce_id = $1 AND role = $2 AND id <> $3`, workforceID, RoleTeamAdmin, except)
	return n > 0, err
}

func insertWorker(ctx context.Context, q querier, projectID string, w *Worker) error {
	_, err := q.ExecContext(ctx, `INSERT INTO workforce_workers (id, workforce_id, project_id, email, email_key, role, status, description, user_id, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		w.ID, w.WorkforceID, projectID, w.Email, strings.ToLower(w.Email), w.Role, w.Status, w.Description, w.UserID, w.CreateTime, w.UpdateTime)
	if store.IsConflict(err) {
		return errWorkerExists(w.Email)
	}
	return err
}

// worker loads a member of a team of the project.
func worker(ctx context.Context, q querier, projectID, workforceID, id string) (*Worker, error) {
	w, err := scanWorker(q.QueryRowContext(ctx, `SELECT `+workerCols+` FROM workforce_workers
		WHERE project_id = $1 AND workforce_id = $2 AND id = $3`, projectID, workforceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errWorkerNotFound(id)
	}
	return w, err
}

// teamWorkers lists every member of a team, for deleting the team.
func teamWorkers(ctx context.Context, q querier, projectID, workforceID string) ([]*Worker, error) {
	return queryAll(ctx, q, scanWorker, `SELECT `+workerCols+` FROM workforce_workers WHERE project_id = $1 AND workforce_id = $2 ORDER BY id`, projectID, workforceID)
}

// listWorkers answers a page of members, of one team or of all the
// project's teams (in the workspace), and how many match in all.
func listWorkers(ctx context.Context, q querier, projectID, workspaceID string, qu WorkerQuery) (int, []*Worker, error) {
	where := ` FROM workforce_workers w WHERE w.project_id = $1`
	args := []any{projectID}
	if qu.WorkforceID != "" {
		args = append(args, qu.WorkforceID)
		where += fmt.Sprintf(` AND w.workforce_id = $%d`, len(args))
	} else {
		args = append(args, workspaceID)
		where += fmt.Sprintf(` AND w.workforce_id IN (SELECT f.id FROM workforces f WHERE f.project_id = $1 AND f.workspace_id = $%d)`, len(args))
	}
	if qu.Role != nil {
		args = append(args, *qu.Role)
		where += fmt.Sprintf(` AND w.role = $%d`, len(args))
	}
	total, err := count(ctx, q, `SELECT COUNT(*)`+where, args...)
	if err != nil {
		return 0, nil, err
	}
	col := "w.create_time"
	if qu.SortBy == "email" {
		col = "w.email_key"
	}
	dir := direction(qu.Desc)
	args = append(args, qu.Limit, qu.Offset)
	out, err := queryAll(ctx, q, scanWorker, `SELECT `+prefixed("w.", workerCols)+where+
		fmt.Sprintf(` ORDER BY %s %s, w.id %s LIMIT $%d OFFSET $%d`, col, dir, dir, len(args)-1, len(args)), args...)
	return total, out, err
}

func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func updateWorker(ctx context.Context, q querier, projectID string, w *Worker) error {
	_, err := q.ExecContext(ctx, `UPDATE workforce_workers SET role = $3, description = $4, update_time = $5 WHERE project_id = $1 AND id = $2`,
		projectID, w.ID, w.Role, w.Description, w.UpdateTime)
	return err
}

func deleteWorker(ctx context.Context, q querier, projectID, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM workforce_workers WHERE project_id = $1 AND id = $2`, projectID, id)
	return err
}

// rolesOfUser lists the distinct roles a user holds in the project's teams.
func rolesOfUser(ctx context.Context, q querier, projectID, userID string) ([]int, error) {
	return queryAll(ctx, q, func(sc scanner) (int, error) {
		var r int
		err := sc.Scan(&r)
		return r, err
	}, `SELECT DISTINCT role FROM workforce_workers WHERE project_id = $1 AND user_id = $2 ORDER BY role`, projectID, userID)
}

// workersOfUser lists a user's member rows in the project's teams.
func workersOfUser(ctx context.Context, q querier, projectID, userID string) ([]*Worker, error) {
	return queryAll(ctx, q, scanWorker, `SELECT `+workerCols+` FROM workforce_workers WHERE project_id = $1 AND user_id = $2 ORDER BY id`, projectID, userID)
}

// markInvited moves a member that was not invited yet to invited.
func markInvited(ctx context.Context, q querier, projectID, workerID string, at int64) error {
	_, err := q.ExecContext(ctx, `UPDATE workforce_workers SET status = $1, update_time = $2
		WHERE project_id = $3 AND id = $4 AND status = $5`, StatusInvited, at, projectID, workerID, StatusNotInvited)
	return err
}

// markLoggedIn moves a member to logged in.
func markLoggedIn(ctx context.Context, q querier, projectID, workerID string, at int64) error {
	_, err := q.ExecContext(ctx, `UPDATE workforce_workers SET status = $1, update_time = $2
		WHERE project_id = $3 AND id = $4 AND status < $1`, StatusLoggedIn, at, projectID, workerID)
	return err
}

// membershipsOfUser counts a user's memberships in every team of every project.
func membershipsOfUser(ctx context.Context, q querier, userID string) (int, error) {
	return count(ctx, q, `SELECT COUNT(*) FROM workforce_workers WHERE user_id = $1`, userID)
}

// --- users Atelier created for members

func markCreated(ctx context.Context, q querier, domainID, userID string, at int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO workforce_created_users (user_id, domain_id, created_at) VALUES ($1, $2, $3)`, userID, domainID, at)
	return err
}

func wasCreated(ctx context.Context, q querier, domainID, userID string) (bool, error) {
	n, err := count(ctx, q, `SELECT COUNT(*) FROM workforce_created_users WHERE domain_id = $1 AND user_id = $2`, domainID, userID)
	return n > 0, err
}

func unmarkCreated(ctx context.Context, q querier, userID string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM workforce_created_users WHERE user_id = $1`, userID)
	return err
}
