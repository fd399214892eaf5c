package training

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// repo holds the SQL of training's tables: jobs with their events and
// usage samples, algorithms, and the scheduler's lease. The service files
// hold the rules and call these methods; no other file of the package
// writes SQL, and nothing here branches on the engine (the store hides
// what differs: ForUpdate, NowMillis).
type repo struct {
	db *store.DB
	// replica is this replica's name as the scheduler lease's holder.
	replica string
}

// leaseName is the scheduler's row in training_leases.
const leaseName = "training-scheduler"

const jobColumns = `id, project_id, workspace_id, phase, secondary_phase, priority, create_time, start_time, end_time, deleted, description, doc, run`

type scanner = store.Scanner

func scanJob(sc scanner) (*jobRow, error) {
	var j jobRow
	var deleted int
	var doc, run string
	if err := sc.Scan(&j.ID, &j.ProjectID, &j.WorkspaceID, &j.Phase, &j.Secondary, &j.Priority, &j.CreateTime,
		&j.StartTime, &j.EndTime, &deleted, &j.Description, &doc, &run); err != nil {
		return nil, err
	}
	j.Deleted = deleted != 0
	if err := json.Unmarshal([]byte(doc), &j.Doc); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(run), &j.Run); err != nil {
		return nil, fmt.Errorf("decode job %s run state: %w", j.ID, err)
	}
	return &j, nil
}

// createJob stores a new job with its first event.
func (r *repo) createJob(ctx context.Context, j *jobRow, userID, userName string, created event) error {
	doc, err := json.Marshal(j.Doc)
	if err != nil {
		return err
	}
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO training_jobs (id, project_id, workspace_id, name, kind, user_id, user_name, algorithm_id,
			algorithm_name, description, phase, secondary_phase, priority, create_time, doc, run)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '{}')`,
			j.ID, j.ProjectID, j.WorkspaceID, j.Doc.Metadata.Name, j.Doc.Kind, userID, userName,
			j.Doc.Algorithm.ID, j.Doc.Algorithm.Name, j.Description, j.Phase, j.Secondary, j.Priority, j.CreateTime, string(doc))
		if err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
		return insertEvents(ctx, tx, j.ID, created)
	})
}

func insertEvents(ctx context.Context, tx *sql.Tx, jobID string, evs ...event) error {
	for _, e := range evs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO training_job_events (job_id, time, level, source, message) VALUES ($1, $2, $3, $4, $5)`,
			jobID, e.At, e.Level, e.Source, e.Message); err != nil {
			return fmt.Errorf("record event: %w", err)
		}
	}
	return nil
}

// job loads a visible (not deleted) job of the project.
func (r *repo) job(ctx context.Context, projectID, id string) (*jobRow, error) {
	row := r.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM training_jobs WHERE project_id=$1 AND id=$2 AND deleted=0`, projectID, id)
	j, err := scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errJobNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load job: %w", err)
	}
	return j, nil
}

// jobWorkspace returns the workspace a visible job lives in.
func (r *repo) jobWorkspace(ctx context.Context, projectID, id string) (string, error) {
	var ws string
	err := r.db.QueryRowContext(ctx, `SELECT workspace_id FROM training_jobs WHERE project_id=$1 AND id=$2 AND deleted=0`, projectID, id).Scan(&ws)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errJobNotFound(id)
	}
	return ws, err
}

// changeJob changes a job in one transaction that holds its row: fn sees the
// current row, changes it and returns the events to record, or returns
// errSkip to leave it unchanged. fenced makes the write conditional on this
// replica holding the scheduler lease (errLeaseLost otherwise). It returns
// the row as written (or as read, on errSkip).
func (r *repo) changeJob(ctx context.Context, id string, fenced bool, fn func(j *jobRow) ([]event, error)) (*jobRow, error) {
	var out *jobRow
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if fenced {
			if err := r.holdLease(ctx, tx); err != nil {
				return err
			}
		}
		j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM training_jobs WHERE id=$1`+r.db.ForUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return errJobNotFound(id)
		}
		if err != nil {
			return err
		}
		evs, err := fn(j)
		if errors.Is(err, errSkip) {
			out = j
			return errSkip
		}
		if err != nil {
			return err
		}
		run, err := json.Marshal(j.Run)
		if err != nil {
			return err
		}
		deleted := 0
		if j.Deleted {
			deleted = 1
		}
		if _, err := tx.ExecContext(ctx, `UPDATE training_jobs SET phase=$2, secondary_phase=$3, start_time=$4, end_time=$5, deleted=$6,
			description=$7, run=$8 WHERE id=$1`, j.ID, j.Phase, j.Secondary, j.StartTime, j.EndTime, deleted, j.Description, string(run)); err != nil {
			return fmt.Errorf("update job: %w", err)
		}
		out = j
		return insertEvents(ctx, tx, j.ID, evs...)
	})
	if errors.Is(err, errSkip) {
		err = nil // out is the row as it is
	}
	return out, err
}

// setJobDescription changes a visible job's description.
func (r *repo) setJobDescription(ctx context.Context, projectID, id, description string) error {
	res, err := r.db.ExecContext(ctx, `UPDATE training_jobs SET description=$3 WHERE project_id=$1 AND id=$2 AND deleted=0`, projectID, id, description)
	if err != nil {
		return fmt.Errorf("update job description: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errJobNotFound(id)
	}
	return nil
}

// jobCond is one condition of a job search, already checked: column op
// values, where op is IN, NOT IN, LIKE (any of the lower-cased patterns),
// >= or <=.
type jobCond struct {
	column, op string
	values     []any
}

// searchJobs counts a workspace's visible jobs matching every condition and
// returns one page, ordered by sortColumn then id.
func (r *repo) searchJobs(ctx context.Context, sc Scope, conds []jobCond, sortColumn string, desc bool, limit, offset int) (int, []*jobRow, error) {
	where := []string{"project_id=$1", "workspace_id=$2", "deleted=0"}
	args := []any{sc.ProjectID, sc.WorkspaceID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	for _, c := range conds {
		switch c.op {
		case "IN", "NOT IN":
			ph := make([]string, len(c.values))
			for k, v := range c.values {
				ph[k] = arg(v)
			}
			where = append(where, fmt.Sprintf("%s %s (%s)", c.column, c.op, strings.Join(ph, ", ")))
		case "LIKE":
			var ors []string
			for _, v := range c.values {
				ors = append(ors, fmt.Sprintf(`LOWER(%s) LIKE %s ESCAPE '\'`, c.column, arg(v)))
			}
			where = append(where, "("+strings.Join(ors, " OR ")+")")
		case ">=", "<=":
			where = append(where, fmt.Sprintf("%s %s %s", c.column, c.op, arg(c.values[0])))
		default:
			return 0, nil, fmt.Errorf("search jobs: unknown operator %q", c.op)
		}
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_jobs WHERE `+cond, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count jobs: %w", err)
	}
	dir := order(desc)
	lim, off := arg(limit), arg(offset)
	jobs, err := r.queryJobs(ctx, fmt.Sprintf(`WHERE %s ORDER BY %s %s, id %s LIMIT %s OFFSET %s`, cond, sortColumn, dir, dir, lim, off), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("search jobs: %w", err)
	}
	return total, jobs, nil
}

func order(desc bool) string {
	if desc {
		return "DESC"
	}
	return "ASC"
}

// activeJobs lists the jobs the scheduler drives (not final), by priority
// and then age.
func (r *repo) activeJobs(ctx context.Context) ([]*jobRow, error) {
	return r.queryJobs(ctx, `WHERE phase IN ('Creating', 'Pending', 'Running', 'Terminating') ORDER BY priority DESC, create_time ASC, id ASC`)
}

// deletedJobs lists the deleted jobs that have ended, waiting to be purged.
func (r *repo) deletedJobs(ctx context.Context) ([]*jobRow, error) {
	return r.queryJobs(ctx, `WHERE deleted=1 AND phase NOT IN ('Creating', 'Pending', 'Running', 'Terminating')`)
}

func (r *repo) queryJobs(ctx context.Context, where string, args ...any) ([]*jobRow, error) {
	return store.QueryAll(ctx, r.db, scanJob, `SELECT `+jobColumns+` FROM training_jobs `+where, args...)
}

// jobEvents counts a job's events matching q and returns one page of them.
func (r *repo) jobEvents(ctx context.Context, id string, q EventQuery) (int, []Event, error) {
	where := "job_id=$1"
	args := []any{id}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if q.Start > 0 {
		add("time >= $%d", q.Start)
	}
	if q.End > 0 {
		add("time <= $%d", q.End)
	}
	if q.Level != "" {
		add("level = $%d", q.Level)
	}
	if q.Source != "" {
		add("LOWER(source) = $%d", strings.ToLower(q.Source))
	}
	if q.Pattern != "" {
		add(`message LIKE $%d ESCAPE '\'`, "%"+escapeLike(q.Pattern)+"%")
	}
	var total int
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_job_events WHERE `+where, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count events: %w", err)
	}
	dir := order(q.Desc)
	args = append(args, q.Limit, q.Offset)
	rows, err := r.db.QueryContext(ctx, fmt.Sprintf(`SELECT time, level, source, message FROM training_job_events WHERE %s
		ORDER BY time %s, seq %s LIMIT $%d OFFSET $%d`, where, dir, dir, len(args)-1, len(args)), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var at int64
		var e Event
		if err := rows.Scan(&at, &e.Level, &e.Source, &e.Message); err != nil {
			return 0, nil, err
		}
		e.Time = FormatEventTime(at)
		out = append(out, e)
	}
	return total, out, rows.Err()
}

// purgeJob removes a job's rows (samples, events, the job), fenced by the
// scheduler lease.
func (r *repo) purgeJob(ctx context.Context, id string) error {
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := r.holdLease(ctx, tx); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM training_task_samples WHERE job_id=$1`, `DELETE FROM training_job_events WHERE job_id=$1`,
			`DELETE FROM training_jobs WHERE id=$1`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("purge job %s: %w", id, err)
			}
		}
		return nil
	})
}

// usageSample is one measurement of a running task.
type usageSample struct {
	At         int64 // Unix milliseconds
	CPUPercent float64
	MemoryMiB  float64
}

// recordUsage stores a usage sample of a task (once per instant), fenced by
// the scheduler lease.
func (r *repo) recordUsage(ctx context.Context, jobID, taskID string, u usageSample) error {
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := r.holdLease(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO training_task_samples (job_id, task_id, at, cpu_percent, memory_mib)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, jobID, taskID, u.At, u.CPUPercent, u.MemoryMiB)
		return err
	})
}

// usage returns a task's samples, oldest first.
func (r *repo) usage(ctx context.Context, jobID, taskID string) ([]usageSample, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT at, cpu_percent, memory_mib FROM training_task_samples WHERE job_id=$1 AND task_id=$2 ORDER BY at`, jobID, taskID)
	if err != nil {
		return nil, fmt.Errorf("load samples: %w", err)
	}
	defer rows.Close()
	var out []usageSample
	for rows.Next() {
		var u usageSample
		if err := rows.Scan(&u.At, &u.CPUPercent, &u.MemoryMiB); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// acquireLease takes or renews the scheduler lease for ttl: it succeeds when nobody
// holds it, when this replica does, or when the holder's lease has lapsed.
// The expiry is written and compared by the database's clock, which every
// replica shares; their own clocks may be minutes apart.
func (r *repo) acquireLease(ctx context.Context, ttl time.Duration) (bool, error) {
	now := r.db.NowMillis()
	_, err := r.db.ExecContext(ctx, `INSERT INTO training_leases (name, holder, expires_at) VALUES ($1, $2, `+now+` + $3)
		ON CONFLICT (name) DO UPDATE SET holder=excluded.holder, expires_at=excluded.expires_at
		WHERE training_leases.holder = excluded.holder OR training_leases.expires_at < `+now,
		leaseName, r.replica, ttl.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("acquire lease: %w", err)
	}
	var holder string
	if err := r.db.QueryRowContext(ctx, `SELECT holder FROM training_leases WHERE name=$1`, leaseName).Scan(&holder); err != nil {
		return false, fmt.Errorf("read lease: %w", err)
	}
	return holder == r.replica, nil
}

// holdLease fences a scheduler write: inside the write's transaction it
// checks that this replica holds a live lease, and returns errLeaseLost
// when not. On PostgreSQL the check locks the lease row, so a replica taking
// the lease over waits until this transaction ends and none of this
// replica's writes commits after the takeover; SQLite has one writer.
func (r *repo) holdLease(ctx context.Context, tx *sql.Tx) error {
	res, err := tx.ExecContext(ctx, `UPDATE training_leases SET holder = holder WHERE name=$1 AND holder=$2 AND expires_at > `+r.db.NowMillis(),
		leaseName, r.replica)
	if err != nil {
		return fmt.Errorf("check the scheduler lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errLeaseLost
	}
	return nil
}

// checkLease reports errLeaseLost when this replica does not hold a live
// lease. It guards actions that are not database writes (starting tasks);
// the writes themselves are fenced by holdLease.
func (r *repo) checkLease(ctx context.Context) error {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM training_leases WHERE name=$1 AND holder=$2 AND expires_at > `+r.db.NowMillis(),
		leaseName, r.replica).Scan(&n)
	if err != nil {
		return fmt.Errorf("check the scheduler lease: %w", err)
	}
	if n != 1 {
		return errLeaseLost
	}
	return nil
}

// releaseLease gives the lease up if this replica holds it.
func (r *repo) releaseLease(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, `DELETE FROM training_leases WHERE name=$1 AND holder=$2`, leaseName, r.replica)
	return err
}

// insertAlgorithm stores a new algorithm; a name taken in the workspace is
// CodeAlgorithmDuplicate.
func (r *repo) insertAlgorithm(ctx context.Context, projectID string, a *Algorithm) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO training_algorithms (id, project_id, workspace_id, name, create_time, update_time, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.Metadata.ID, projectID, a.Metadata.WorkspaceID, a.Metadata.Name,
		a.Metadata.CreateTime, a.Metadata.UpdateTime, string(data))
	return algorithmWriteError(a, err)
}

// updateAlgorithm replaces a stored algorithm.
func (r *repo) updateAlgorithm(ctx context.Context, projectID, id string, a *Algorithm) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	res, err := r.db.ExecContext(ctx, `UPDATE training_algorithms SET name=$3, update_time=$4, doc=$5 WHERE project_id=$1 AND id=$2`,
		projectID, id, a.Metadata.Name, a.Metadata.UpdateTime, string(data))
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			return errAlgorithmNotFound(id)
		}
	}
	return algorithmWriteError(a, err)
}

func algorithmWriteError(a *Algorithm, err error) error {
	if store.IsConflict(err) {
		return invalid(CodeAlgorithmDuplicate, "Duplicate algorithm (name %s).", a.Metadata.Name)
	}
	if err != nil {
		return fmt.Errorf("store algorithm: %w", err)
	}
	return nil
}

// algorithm loads an algorithm of the project.
func (r *repo) algorithm(ctx context.Context, projectID, id string) (*Algorithm, error) {
	var data string
	err := r.db.QueryRowContext(ctx, `SELECT doc FROM training_algorithms WHERE project_id=$1 AND id=$2`, projectID, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errAlgorithmNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load algorithm: %w", err)
	}
	var a Algorithm
	if err := json.Unmarshal([]byte(data), &a); err != nil {
		return nil, fmt.Errorf("decode algorithm %s: %w", id, err)
	}
	return &a, nil
}

// algorithmWorkspace returns the workspace an algorithm lives in.
func (r *repo) algorithmWorkspace(ctx context.Context, projectID, id string) (string, error) {
	var ws string
	err := r.db.QueryRowContext(ctx, `SELECT workspace_id FROM training_algorithms WHERE project_id=$1 AND id=$2`, projectID, id).Scan(&ws)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errAlgorithmNotFound(id)
	}
	return ws, err
}

// deleteAlgorithm deletes an algorithm of the project.
func (r *repo) deleteAlgorithm(ctx context.Context, projectID, id string) error {
	res, err := r.db.ExecContext(ctx, `DELETE FROM training_algorithms WHERE project_id=$1 AND id=$2`, projectID, id)
	if err != nil {
		return fmt.Errorf("delete algorithm: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errAlgorithmNotFound(id)
	}
	return nil
}

// algorithms counts a workspace's algorithms whose name contains nameLike
// (any case; "" for all) and returns one page ordered by sortColumn then id.
func (r *repo) algorithms(ctx context.Context, sc Scope, nameLike, sortColumn string, desc bool, limit, offset int) (int, []Algorithm, error) {
	where := `project_id=$1 AND workspace_id=$2`
	args := []any{sc.ProjectID, sc.WorkspaceID}
	if nameLike != "" {
		args = append(args, "%"+escapeLike(strings.ToLower(nameLike))+"%")
		where += fmt.Sprintf(` AND LOWER(name) LIKE $%d ESCAPE '\'`, len(args))
	}
	var total int
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM training_algorithms WHERE `+where, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count algorithms: %w", err)
	}
	dir := order(desc)
	args = append(args, limit, offset)
	rows, err := r.db.QueryContext(ctx, fmt.Sprintf(`SELECT doc FROM training_algorithms WHERE %s ORDER BY %s %s, id %s LIMIT $%d OFFSET $%d`,
		where, sortColumn, dir, dir, len(args)-1, len(args)), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list algorithms: %w", err)
	}
	defer rows.Close()
	out := []Algorithm{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return 0, nil, err
		}
		var a Algorithm
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return 0, nil, fmt.Errorf("decode algorithm: %w", err)
		}
		out = append(out, a)
	}
	return total, out, rows.Err()
}

// escapeLike escapes LIKE's wildcards (the statements say ESCAPE '\').
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// jobsByPhase counts the jobs that are not deleted, by phase.
func (r *repo) jobsByPhase(ctx context.Context) (map[string]int64, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT phase, count(*) FROM training_jobs WHERE deleted=0 GROUP BY phase`)
	if err != nil {
		return nil, fmt.Errorf("count training jobs by phase: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var phase string
		var n int64
		if err := rows.Scan(&phase, &n); err != nil {
			return nil, fmt.Errorf("count training jobs by phase: %w", err)
		}
		out[phase] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count training jobs by phase: %w", err)
	}
	return out, nil
}
