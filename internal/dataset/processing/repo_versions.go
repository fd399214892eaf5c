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

// The SQL of versions and their results.

// counts are a version's sample counts.
type counts struct {
	Origin, Added, Modified, Unmodified, Deleted, Failed, Duplicate int64
}

func (c *counts) add(o counts) {
	c.Origin += o.Origin
	c.Added += o.Added
	c.Modified += o.Modified
	c.Unmodified += o.Unmodified
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Duplicate += o.Duplicate
}

// versionDoc is what a version runs and what its run resolved.
type versionDoc struct {
	Spec spec `json:"spec"`
	// Output is the version's output directory, "/bucket/key/".
	Output string `json:"output"`
	// The dataset version the output became (work path DATASET).
	DatasetVersionID   string `json:"dataset_version_id,omitempty"`
	DatasetVersionName string `json:"dataset_version_name,omitempty"`
	// Lines counts the output manifest's lines once it is written.
	Lines int64 `json:"lines,omitempty"`
}

type versionRow struct {
	ID, TaskID, ProjectID, Name, Description string
	Status                                   int
	JobID                                    string
	Doc                                      versionDoc
	ErrorMsg                                 string
	Counts                                   counts
	StartTime, EndTime                       int64
	CreateTime, UpdateTime                   int64
}

var versionColNames = []string{"id", "task_id", "project_id", "name", "description", "status", "job_id", "doc", "error_msg",
	"origin_count", "added_count", "modified_count", "unmodified_count", "deleted_count", "failed_count", "duplicate_count",
	"start_time", "end_time", "create_time", "update_time"}

// versionColsOf lists the version columns of alias; coalesce reads those
// of an outer join as zero values when there is no row.
func versionColsOf(alias string, coalesce bool) string {
	cols := make([]string, len(versionColNames))
	for i, c := range versionColNames {
		cols[i] = alias + "." + c
		if coalesce {
			zero := "0"
			if i < 9 && i != 5 {
				zero = "''"
			}
			cols[i] = "COALESCE(" + cols[i] + ", " + zero + ")"
		}
	}
	return strings.Join(cols, ", ")
}

// nullVersion scans a joined version that may be absent.
type nullVersion struct {
	v   versionRow
	doc string
}

func (n *nullVersion) dest() []any {
	v := &n.v
	return []any{&v.ID, &v.TaskID, &v.ProjectID, &v.Name, &v.Description, &v.Status, &v.JobID, &n.doc, &v.ErrorMsg,
		&v.Counts.Origin, &v.Counts.Added, &v.Counts.Modified, &v.Counts.Unmodified, &v.Counts.Deleted, &v.Counts.Failed,
		&v.Counts.Duplicate, &v.StartTime, &v.EndTime, &v.CreateTime, &v.UpdateTime}
}

func (n *nullVersion) row() (*versionRow, error) {
	if n.v.ID == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(n.doc), &n.v.Doc); err != nil {
		return nil, fmt.Errorf("decode processing version %s: %w", n.v.ID, err)
	}
	v := n.v
	return &v, nil
}

func scanVersion(sc store.Scanner) (*versionRow, error) {
	var n nullVersion
	if err := sc.Scan(n.dest()...); err != nil {
		return nil, err
	}
	return n.row()
}

// insertVersion stores a new version of a task and makes it the task's
// newest.
func (rp *repo) insertVersion(ctx context.Context, tx *sql.Tx, v *versionRow) error {
	doc, err := json.Marshal(v.Doc)
	if err != nil {
		return fmt.Errorf("encode processing version: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO processor_versions (id, task_id, project_id, name, description, status, job_id, doc,
		create_time, update_time) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		v.ID, v.TaskID, v.ProjectID, v.Name, v.Description, v.Status, v.JobID, string(doc), v.CreateTime, v.UpdateTime)
	if err != nil {
		return fmt.Errorf("store processing version: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE processor_tasks SET version_count = version_count + 1, next_version = next_version + 1,
		latest_version = $1, update_time = $2 WHERE id = $3`, v.ID, v.CreateTime, v.TaskID)
	if err != nil {
		return fmt.Errorf("store processing version: %w", err)
	}
	return nil
}

// version loads a version of a task of the project.
func (rp *repo) version(ctx context.Context, q querier, projectID, taskID, id string) (*versionRow, error) {
	v, err := scanVersion(q.QueryRowContext(ctx, `SELECT `+versionColsOf("v", false)+` FROM processor_versions v
		WHERE v.id = $1 AND v.task_id = $2 AND v.project_id = $3`, id, taskID, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errVersionNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load processing version %s: %w", id, err)
	}
	return v, nil
}

// versionByID loads a version for its run.
func (rp *repo) versionByID(ctx context.Context, projectID, id string) (*versionRow, error) {
	v, err := scanVersion(rp.db.QueryRowContext(ctx, `SELECT `+versionColsOf("v", false)+` FROM processor_versions v
		WHERE v.id = $1 AND v.project_id = $2`, id, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errVersionNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load processing version %s: %w", id, err)
	}
	return v, nil
}

// versions pages a task's versions; sortBy is create_time or
// version_name.
func (rp *repo) versions(ctx context.Context, taskID, sortBy string, asc bool, offset, limit int) (int, []*versionRow, error) {
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM processor_versions WHERE task_id = $1`, taskID).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count processing versions: %w", err)
	}
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	order := "v.create_time" + dir + ", v.id" + dir
	if sortBy == "version_name" {
		order = "v.name" + dir + ", v.id" + dir
	}
	out, err := store.QueryAll(ctx, rp.db, scanVersion, `SELECT `+versionColsOf("v", false)+` FROM processor_versions v
		WHERE v.task_id = $1 ORDER BY `+order+` LIMIT $2 OFFSET $3`, taskID, limit, offset)
	if err != nil {
		return 0, nil, fmt.Errorf("list processing versions: %w", err)
	}
	return total, out, nil
}

// allVersions lists every version of a task.
func (rp *repo) allVersions(ctx context.Context, q querier, taskID string) ([]*versionRow, error) {
	out, err := store.QueryAll(ctx, q, scanVersion, `SELECT `+versionColsOf("v", false)+` FROM processor_versions v
		WHERE v.task_id = $1 ORDER BY v.create_time, v.id`, taskID)
	if err != nil {
		return nil, fmt.Errorf("list processing versions: %w", err)
	}
	return out, nil
}

// activeVersions lists the project's versions still initialized or
// running, for reconciling them with their tasks.
func (rp *repo) activeVersions(ctx context.Context, projectID string) ([]*versionRow, error) {
	out, err := store.QueryAll(ctx, rp.db, scanVersion, `SELECT `+versionColsOf("v", false)+` FROM processor_versions v
		WHERE v.project_id = $1 AND v.status IN ($2, $3)`, projectID, StatusInit, StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("list running processing versions: %w", err)
	}
	return out, nil
}

// deleteVersion deletes a version with its results and points its task at
// the newest version left.
func (rp *repo) deleteVersion(ctx context.Context, tx *sql.Tx, taskID, id string, now int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM processor_results WHERE version_id = $1`, id); err != nil {
		return fmt.Errorf("delete processing version %s: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM processor_versions WHERE id = $1 AND task_id = $2`, id, taskID)
	if err != nil {
		return fmt.Errorf("delete processing version %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errVersionNotFound(id)
	}
	_, err = tx.ExecContext(ctx, `UPDATE processor_tasks SET version_count = version_count - 1, update_time = $1,
		latest_version = COALESCE((SELECT v.id FROM processor_versions v WHERE v.task_id = $2 ORDER BY v.create_time DESC, v.id DESC LIMIT 1), '')
		WHERE id = $2`, now, taskID)
	if err != nil {
		return fmt.Errorf("delete processing version %s: %w", id, err)
	}
	return nil
}

// start marks a version running (keeping its first start time); it
// reports false when the version is final or gone.
func (rp *repo) start(ctx context.Context, id string, now int64) (bool, error) {
	res, err := rp.db.ExecContext(ctx, `UPDATE processor_versions SET status = $1, update_time = $2,
		start_time = CASE WHEN start_time = 0 THEN $2 ELSE start_time END WHERE id = $3 AND status IN ($4, $1)`,
		StatusRunning, now, id, StatusInit)
	if err != nil {
		return false, fmt.Errorf("start processing version %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// finish ends an active version with a final status; a version already
// final keeps its status.
func (rp *repo) finish(ctx context.Context, id string, status int, msg string, now int64) error {
	_, err := rp.db.ExecContext(ctx, `UPDATE processor_versions SET status = $1, error_msg = $2, update_time = $3, end_time = $3,
		start_time = CASE WHEN start_time = 0 THEN $3 ELSE start_time END WHERE id = $4 AND status IN ($5, $6)`,
		status, msg, now, id, StatusInit, StatusRunning)
	if err != nil {
		return fmt.Errorf("end processing version %s: %w", id, err)
	}
	return nil
}

// runningTx reports, in tx, whether a version is still running, locking
// its row so that a stop waits for the batch being committed.
func (rp *repo) runningTx(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	var status int
	err := tx.QueryRowContext(ctx, `SELECT status FROM processor_versions WHERE id = $1`+rp.db.ForUpdate(), id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load processing version %s: %w", id, err)
	}
	return status == StatusRunning, nil
}

// addCounts adds a batch's counts to a version's, in the batch's
// transaction.
func (rp *repo) addCounts(ctx context.Context, tx *sql.Tx, id string, c counts, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE processor_versions SET origin_count = origin_count + $1, added_count = added_count + $2,
		modified_count = modified_count + $3, unmodified_count = unmodified_count + $4, deleted_count = deleted_count + $5,
		failed_count = failed_count + $6, duplicate_count = duplicate_count + $7, update_time = $8 WHERE id = $9`,
		c.Origin, c.Added, c.Modified, c.Unmodified, c.Deleted, c.Failed, c.Duplicate, now, id)
	if err != nil {
		return fmt.Errorf("count processing results: %w", err)
	}
	return nil
}

// setDoc rewrites a version's document in tx.
func (rp *repo) setDoc(ctx context.Context, tx *sql.Tx, id string, d versionDoc) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode processing version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE processor_versions SET doc = $1 WHERE id = $2`, string(doc), id); err != nil {
		return fmt.Errorf("update processing version %s: %w", id, err)
	}
	return nil
}
