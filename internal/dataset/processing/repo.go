package processing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file is the room's repository: the SQL of the processing tables
// (migration 00013). A task is only ever loaded with its project (its
// workspace was authorized by the route), a version only with its task's
// project and its task, a result only through its version.

type querier = store.Conn

type repo struct{ db *store.DB }

// Version statuses (the reference's status of tasks and versions).
const (
	StatusInit      = 0
	StatusRunning   = 1
	StatusCompleted = 2
	StatusFailed    = 3
	StatusStopped   = 4
)

// Result properties (result_property); pending rows wait for a decision
// over the whole set and are not results yet.
const (
	propPending    = -1
	PropReserved   = 0
	PropModified   = 1
	PropDeleted    = 2
	PropAdded      = 3
	PropAll        = -1
	maxResultPages = 1 << 31
)

type taskRow struct {
	ID, ProjectID, WorkspaceID, Name, Description, TemplateID string
	SourceType, Source, SourceVersion                         string
	Spec                                                      spec
	VersionCount, NextVersion                                 int
	LatestVersion                                             string
	CreateTime, UpdateTime                                    int64
	// Latest is the task's newest version, when the query joined it.
	Latest *versionRow
}

const taskCols = `t.id, t.project_id, t.workspace_id, t.name, t.description, t.template_id, t.source_type, t.source, t.source_version,
	t.doc, t.version_count, t.next_version, t.latest_version, t.create_time, t.update_time`

func scanTask(sc store.Scanner, extra ...any) (*taskRow, error) {
	var t taskRow
	var doc string
	dest := append([]any{&t.ID, &t.ProjectID, &t.WorkspaceID, &t.Name, &t.Description, &t.TemplateID, &t.SourceType, &t.Source,
		&t.SourceVersion, &doc, &t.VersionCount, &t.NextVersion, &t.LatestVersion, &t.CreateTime, &t.UpdateTime}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &t.Spec); err != nil {
		return nil, fmt.Errorf("decode processing task %s: %w", t.ID, err)
	}
	return &t, nil
}

func (rp *repo) insertTask(ctx context.Context, tx *sql.Tx, t *taskRow) error {
	doc, err := json.Marshal(t.Spec)
	if err != nil {
		return fmt.Errorf("encode processing task: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO processor_tasks (id, project_id, workspace_id, name, description, template_id,
		source_type, source, source_version, doc, create_time, update_time) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		t.ID, t.ProjectID, t.WorkspaceID, t.Name, t.Description, t.TemplateID, t.SourceType, t.Source, t.SourceVersion, string(doc),
		t.CreateTime, t.UpdateTime)
	if store.IsConflict(err) {
		return errTaskExists(t.Name)
	}
	if err != nil {
		return fmt.Errorf("store processing task: %w", err)
	}
	return nil
}

// task loads a task of the project; lock (in a transaction) takes it for
// update.
func (rp *repo) task(ctx context.Context, q querier, projectID, id string) (*taskRow, error) {
	return rp.loadTask(ctx, q, projectID, id, false)
}

func (rp *repo) loadTask(ctx context.Context, q querier, projectID, id string, lock bool) (*taskRow, error) {
	query := `SELECT ` + taskCols + ` FROM processor_tasks t WHERE t.id = $1 AND t.project_id = $2`
	if lock {
		query += rp.db.ForUpdate()
	}
	t, err := scanTask(q.QueryRowContext(ctx, query, id, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errTaskNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load processing task %s: %w", id, err)
	}
	return t, nil
}

// workspace is the workspace of a task of the project.
func (rp *repo) workspace(ctx context.Context, projectID, id string) (string, error) {
	var ws string
	err := rp.db.QueryRowContext(ctx, `SELECT workspace_id FROM processor_tasks WHERE id = $1 AND project_id = $2`, id, projectID).Scan(&ws)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errTaskNotFound(id)
	}
	if err != nil {
		return "", fmt.Errorf("load processing task %s: %w", id, err)
	}
	return ws, nil
}

// TaskQuery filters and pages the task list.
type TaskQuery struct {
	WorkspaceID        string
	TaskType, Name     string
	SourceType, Source string
	VersionIDs         []string
	Status             *int
	CurrentOnly        bool
	SortBy             string // create_time, name or duration_seconds
	Asc                bool
	Offset, Limit      int
	nowMillis          int64
}

// currentCond is true of a task that no newer task of the same template
// on the same input (source and version) follows.
const currentCond = `NOT EXISTS (SELECT 1 FROM processor_tasks n WHERE n.project_id = t.project_id AND n.workspace_id = t.workspace_id
	AND n.template_id = t.template_id AND n.source = t.source AND n.source_version = t.source_version
	AND (n.create_time > t.create_time OR (n.create_time = t.create_time AND n.id > t.id)))`

// listTasks returns the page of the project's tasks q selects, with their
// newest versions and whether each is current, and how many match.
func (rp *repo) listTasks(ctx context.Context, projectID string, q TaskQuery) (int, []*taskRow, []bool, error) {
	where := []string{`t.project_id = $1`, `t.workspace_id = $2`}
	args := []any{projectID, q.WorkspaceID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if q.TaskType != "" {
		add(`t.template_id = ?`, q.TaskType)
	}
	if q.Name != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(q.Name))
		add(`LOWER(t.name) LIKE ? ESCAPE '\'`, "%"+esc+"%")
	}
	if q.SourceType != "" {
		add(`t.source_type = ?`, q.SourceType)
	}
	if q.Source != "" {
		add(`t.source = ?`, q.Source)
	}
	if len(q.VersionIDs) > 0 {
		var ph []string
		for _, v := range q.VersionIDs {
			args = append(args, v)
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
		}
		where = append(where, `t.source_version IN (`+strings.Join(ph, ",")+`)`)
	}
	if q.Status != nil {
		add(`COALESCE(v.status, 0) = ?`, *q.Status)
	}
	if q.CurrentOnly {
		where = append(where, currentCond)
	}
	from := ` FROM processor_tasks t LEFT JOIN processor_versions v ON v.id = t.latest_version WHERE ` + strings.Join(where, " AND ")
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*)`+from, args...).Scan(&total); err != nil {
		return 0, nil, nil, fmt.Errorf("count processing tasks: %w", err)
	}
	dir := " DESC"
	if q.Asc {
		dir = " ASC"
	}
	order := `t.create_time` + dir
	switch q.SortBy {
	case "name":
		order = `t.name` + dir
	case "duration_seconds":
		args = append(args, q.nowMillis)
		order = fmt.Sprintf(`CASE WHEN COALESCE(v.start_time, 0) = 0 THEN 0 WHEN v.end_time > 0 THEN v.end_time - v.start_time
			ELSE CAST($%d AS BIGINT) - v.start_time END`, len(args)) + dir
	}
	args = append(args, q.Limit, q.Offset)
	query := `SELECT ` + taskCols + `, ` + versionColsOf("v", true) + `, CASE WHEN ` + currentCond + ` THEN 1 ELSE 0 END` + from +
		` ORDER BY ` + order + `, t.id` + dir + fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	rows, err := rp.db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("list processing tasks: %w", err)
	}
	defer rows.Close()
	var out []*taskRow
	var current []bool
	for rows.Next() {
		var nv nullVersion
		var cur int
		t, err := scanTask(rows, append(nv.dest(), &cur)...)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("list processing tasks: %w", err)
		}
		if t.Latest, err = nv.row(); err != nil {
			return 0, nil, nil, err
		}
		out = append(out, t)
		current = append(current, cur == 1)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, nil, fmt.Errorf("list processing tasks: %w", err)
	}
	return total, out, current, nil
}

// isCurrent reports whether no newer task of the same template reads the
// same input.
func (rp *repo) isCurrent(ctx context.Context, t *taskRow) (bool, error) {
	var cur int
	err := rp.db.QueryRowContext(ctx, `SELECT CASE WHEN `+currentCond+` THEN 1 ELSE 0 END FROM processor_tasks t WHERE t.id = $1`, t.ID).Scan(&cur)
	if err != nil {
		return false, fmt.Errorf("load processing task %s: %w", t.ID, err)
	}
	return cur == 1, nil
}

func (rp *repo) updateDescription(ctx context.Context, projectID, id, desc string, now int64) error {
	res, err := rp.db.ExecContext(ctx, `UPDATE processor_tasks SET description = $1, update_time = $2 WHERE id = $3 AND project_id = $4`,
		desc, now, id, projectID)
	if err != nil {
		return fmt.Errorf("update processing task %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errTaskNotFound(id)
	}
	return nil
}

func (rp *repo) deleteTask(ctx context.Context, tx *sql.Tx, projectID, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM processor_results WHERE version_id IN (SELECT id FROM processor_versions WHERE task_id = $1)`, id); err != nil {
		return fmt.Errorf("delete processing task %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM processor_versions WHERE task_id = $1`, id); err != nil {
		return fmt.Errorf("delete processing task %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM processor_tasks WHERE id = $1 AND project_id = $2`, id, projectID); err != nil {
		return fmt.Errorf("delete processing task %s: %w", id, err)
	}
	return nil
}

// newestOutput is the output manifest of a task's newest completed
// version, "/bucket/key", or "" when it has none.
func (rp *repo) newestOutput(ctx context.Context, taskID string) (string, error) {
	var doc string
	err := rp.db.QueryRowContext(ctx, `SELECT doc FROM processor_versions WHERE task_id = $1 AND status = $2
		ORDER BY create_time DESC, id DESC LIMIT 1`, taskID, StatusCompleted).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load the versions of processing task %s: %w", taskID, err)
	}
	var d versionDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return "", fmt.Errorf("decode a version of processing task %s: %w", taskID, err)
	}
	return d.Output + outputManifest, nil
}
