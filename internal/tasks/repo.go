package tasks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// repo holds the SQL of the tasks and task_failures tables: the record the
// API shows, the lease that keeps a run on one replica, progress and
// checkpoint writes fenced by the lease token, and the sweeper's search for
// orphans. The Manager holds the rules (when to take, give back, fail or
// re-queue a task) and calls these methods, inside its own transactions
// where a decision and its write belong together; River's calls stay with
// the Manager, being River's API and not SQL. Lease times are the
// database's clock (store.DB.NowMillis), so nothing here branches on the
// engine. Lookups of one task return ErrNotFound; writes fenced by a lease
// token return errLeaseLost when the token no longer holds.
type repo struct {
	db *store.DB
	// keptFailures is how many failures of a task are kept as rows; a
	// task reads the rest back as Task.FailuresOmitted.
	keptFailures int
}

const taskColumns = `id, kind, project_id, resource_id, status, total, succeeded, failed,
	error_message, params, result, cursor, runs, create_time, start_time, end_time, request_id`

type scanner interface{ Scan(dest ...any) error }

func (r *repo) scanTask(s scanner) (*Task, error) {
	var (
		t                       Task
		status, params, result  string
		created, started, ended int64
	)
	if err := s.Scan(&t.ID, &t.Kind, &t.ProjectID, &t.ResourceID, &status, &t.Total, &t.Succeeded, &t.Failed,
		&t.ErrorMessage, &params, &result, &t.Cursor, &t.Runs, &created, &started, &ended, &t.RequestID); err != nil {
		return nil, err
	}
	t.Status = Status(status)
	t.Params = json.RawMessage(params)
	if result != "" {
		t.Result = json.RawMessage(result)
	}
	t.Created = store.FromMillis(created)
	if started != 0 {
		t.Started = store.FromMillis(started)
	}
	if ended != 0 {
		t.Finished = store.FromMillis(ended)
	}
	if over := t.Failed - int64(r.keptFailures); over > 0 {
		t.FailuresOmitted = over
	}
	return &t, nil
}

// insertTask records a new QUEUED task waiting for River job jobID, in tx
// (the transaction that inserted the job).
func (r *repo) insertTask(ctx context.Context, tx *sql.Tx, t *Task, jobID int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO tasks (id, kind, project_id, resource_id, status, params, job_id, create_time, request_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.ID, t.Kind, t.ProjectID, t.ResourceID, string(t.Status), string(t.Params), jobID, store.Millis(t.Created), t.RequestID)
	return err
}

// task returns a task, or ErrNotFound.
func (r *repo) task(ctx context.Context, id string) (*Task, error) {
	t, err := r.scanTask(r.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return t, err
}

// tasks lists the tasks of a resource, newest first (ties by id,
// descending); an empty kind lists every kind.
func (r *repo) tasks(ctx context.Context, resourceID, kind string) ([]*Task, error) {
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE resource_id = $1`
	args := []any{resourceID}
	if kind != "" {
		query += ` AND kind = $2`
		args = append(args, kind)
	}
	query += ` ORDER BY create_time DESC, id DESC`
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := r.scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// failures lists the kept failures of a task in the order they were reported.
func (r *repo) failures(ctx context.Context, id string) ([]Failure, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT item, reason FROM task_failures WHERE task_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.Item, &f.Reason); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// cancel marks an active task CANCELLED at now (milliseconds) in one
// transaction and returns the River job it was waiting for; a final task is
// left as it is and no job is returned. A missing task is ErrNotFound.
func (r *repo) cancel(ctx context.Context, id string, now int64) (jobID sql.NullInt64, err error) {
	err = r.db.InTx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status, job_id FROM tasks WHERE id = $1`, id).Scan(&status, &jobID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Status(status).Final() {
			jobID.Valid = false
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = $1, end_time = $2 WHERE id = $3`, string(Cancelled), now, id)
		return err
	})
	if err != nil {
		jobID.Valid = false
	}
	return jobID, err
}

// leaseState is what deciding whether to take a task's lease needs.
type leaseState struct {
	kind   string
	status Status
	// job is the River job the task waits for (invalid when none).
	job sql.NullInt64
	// leased tells whether some replica holds a lease, and left how long it
	// has to live by the database's clock (negative once lapsed).
	leased bool
	left   time.Duration
	runs   int
	cpVer  int64
}

// leaseState reads a task's lease in tx, or ErrNotFound. The lease's time
// left is the database's: every replica compares it with the same clock,
// however far apart their own clocks are.
func (r *repo) leaseState(ctx context.Context, tx *sql.Tx, id string) (*leaseState, error) {
	var (
		st                leaseState
		status            string
		token             sql.NullString
		leaseUntil, dbNow int64
	)
	err := tx.QueryRowContext(ctx, `SELECT kind, status, job_id, lease_token, lease_until, runs, cp_version, `+r.db.NowMillis()+`
			FROM tasks WHERE id = $1`, id).
		Scan(&st.kind, &status, &st.job, &token, &leaseUntil, &st.runs, &st.cpVer, &dbNow)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	st.status = Status(status)
	st.leased = token.Valid
	st.left = time.Duration(leaseUntil-dbNow) * time.Millisecond
	return &st, nil
}

// failTask ends a task FAILED with msg at now (milliseconds), dropping its lease.
func (r *repo) failTask(ctx context.Context, tx *sql.Tx, id, msg string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE tasks SET status = $1, error_message = $2, end_time = $3, lease_token = NULL WHERE id = $4`,
		string(Failed), msg, now, id)
	return err
}

// takeLease gives the lease of an active task waiting for River job jobID
// to token for ttl (by the database's clock), if no live lease holds it,
// and starts a run at now (milliseconds): the counters go back to what the
// checkpoint covers. It reports whether the lease was taken.
func (r *repo) takeLease(ctx context.Context, tx *sql.Tx, id string, jobID int64, token string, ttl time.Duration, now int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET status = $1, lease_token = $2, lease_until = `+r.db.NowMillis()+` + $3, runs = runs + 1,
				start_time = CASE WHEN start_time = 0 THEN $4 ELSE start_time END,
				succeeded = cp_succeeded, failed = cp_failed
			WHERE id = $5 AND job_id = $6 AND status IN ($7, $8) AND (lease_token IS NULL OR lease_until <= `+r.db.NowMillis()+`)`,
		string(Running), token, ttl.Milliseconds(), now, id, jobID, string(Queued), string(Running))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// dropFailuresAfterCheckpoint deletes the failures reported after the
// task's checkpoint: the run that resumes from it reports them again.
func (r *repo) dropFailuresAfterCheckpoint(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM task_failures WHERE task_id = $1 AND seq > (SELECT cp_failed FROM tasks WHERE id = $2)`, id, id)
	return err
}

// taskTx reads a task in tx.
func (r *repo) taskTx(ctx context.Context, tx *sql.Tx, id string) (*Task, error) {
	return r.scanTask(tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
}

// renewLease extends the lease token holds by ttl from the database's now
// and returns the task's status, or errLeaseLost.
func (r *repo) renewLease(ctx context.Context, tx *sql.Tx, id, token string, ttl time.Duration) (Status, error) {
	var status string
	err := tx.QueryRowContext(ctx, `UPDATE tasks SET lease_until = `+r.db.NowMillis()+` + $1 WHERE id = $2 AND lease_token = $3 RETURNING status`,
		ttl.Milliseconds(), id, token).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errLeaseLost
	}
	return Status(status), err
}

// checkpoint is a task's stored checkpoint: its version, cursor and the
// counters it covers.
type checkpoint struct {
	ver, succeeded, failed int64
	cursor                 string
}

// storedCheckpoint reads the checkpoint of the task token holds, or errLeaseLost.
func (r *repo) storedCheckpoint(ctx context.Context, tx *sql.Tx, id, token string) (checkpoint, error) {
	var cp checkpoint
	err := tx.QueryRowContext(ctx, `SELECT cp_version, cursor, cp_succeeded, cp_failed FROM tasks WHERE id = $1 AND lease_token = $2`,
		id, token).Scan(&cp.ver, &cp.cursor, &cp.succeeded, &cp.failed)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, errLeaseLost
	}
	return cp, err
}

// writeProgress writes a snapshot of the task token holds (errLeaseLost
// when it holds no more). The live counters are written as absolute values;
// the checkpoint (cursor and the counters it covers) only when it is newer
// than the stored one, so an older snapshot written late never moves the
// cursor back. Failure rows are numbered by the failed counter and inserted
// idempotently.
func (r *repo) writeProgress(ctx context.Context, tx *sql.Tx, id, token string, s *snapshot) error {
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET total = $1,
			succeeded = CASE WHEN cp_version <= $2 THEN $3 ELSE succeeded END,
			failed = CASE WHEN cp_version <= $4 THEN $5 ELSE failed END,
			cursor = CASE WHEN cp_version < $6 THEN $7 ELSE cursor END,
			cp_succeeded = CASE WHEN cp_version < $8 THEN $9 ELSE cp_succeeded END,
			cp_failed = CASE WHEN cp_version < $10 THEN $11 ELSE cp_failed END,
			cp_version = CASE WHEN cp_version < $12 THEN $13 ELSE cp_version END
		WHERE id = $14 AND lease_token = $15`,
		s.total,
		s.cpVer, s.succeeded,
		s.cpVer, s.failed,
		s.cpVer, s.cursor,
		s.cpVer, s.cpSucceeded,
		s.cpVer, s.cpFailed,
		s.cpVer, s.cpVer,
		id, token)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errLeaseLost
	}
	for _, f := range s.failures {
		if _, err := tx.ExecContext(ctx, `INSERT INTO task_failures (task_id, seq, item, reason) VALUES ($1, $2, $3, $4)
			ON CONFLICT (task_id, seq) DO NOTHING`, id, f.seq, f.Item, f.Reason); err != nil {
			return err
		}
	}
	return nil
}

// finishTask ends the run token holds: a RUNNING task takes status (and
// msg, when it is still RUNNING), a task cancelled meanwhile stays
// CANCELLED; the result is stored, the end time set once, the lease
// dropped. A token that holds no more changes nothing.
func (r *repo) finishTask(ctx context.Context, tx *sql.Tx, id, token string, status Status, msg string, result json.RawMessage, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE tasks SET
				status = CASE WHEN status = $1 THEN $2 ELSE status END,
				error_message = CASE WHEN status = $3 THEN $4 ELSE error_message END,
				result = $5,
				end_time = CASE WHEN end_time = 0 THEN $6 ELSE end_time END,
				lease_token = NULL, lease_until = 0
			WHERE id = $7 AND lease_token = $8`,
		string(Running), string(status), string(Running), msg, string(result), now, id, token)
	return err
}

// releaseLease gives back the lease token holds without counting the run
// of a RUNNING task, and returns the task's status; "" when the token holds
// no more (the new holder owns the task).
func (r *repo) releaseLease(ctx context.Context, tx *sql.Tx, id, token string) (Status, error) {
	var status string
	err := tx.QueryRowContext(ctx, `UPDATE tasks SET lease_token = NULL, lease_until = 0,
				runs = CASE WHEN status = $1 THEN runs - 1 ELSE runs END
			WHERE id = $2 AND lease_token = $3 RETURNING status`, string(Running), id, token).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return Status(status), err
}

// orphan is an active task that nothing will run, and the River job it
// waits for (0 when none).
type orphan struct {
	id  string
	job int64
}

// orphans finds the active tasks whose lease has lapsed (by the database's
// clock) and whose River job is gone, final, or running while the task is
// RUNNING without a live lease (stuck on a dead client).
func (r *repo) orphans(ctx context.Context) ([]orphan, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT t.id, COALESCE(t.job_id, 0) FROM tasks t
		LEFT JOIN river_job j ON j.id = t.job_id
		WHERE t.status IN ($1, $2) AND (t.lease_token IS NULL OR t.lease_until < `+r.db.NowMillis()+`)
		  AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded')
		       OR (j.state = 'running' AND t.status = $3))`,
		string(Queued), string(Running), string(Running))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.id, &o.job); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// nextLeaseExpiry is the time left, by the database's clock, until the
// earliest live lease of an active task expires; ok is false when no live
// lease is held.
func (r *repo) nextLeaseExpiry(ctx context.Context) (left time.Duration, ok bool, err error) {
	var ms sql.NullInt64
	err = r.db.QueryRowContext(ctx, `SELECT MIN(lease_until) - `+r.db.NowMillis()+` FROM tasks
		WHERE status IN ($1, $2) AND lease_token IS NOT NULL AND lease_until > `+r.db.NowMillis(),
		string(Queued), string(Running)).Scan(&ms)
	if err != nil || !ms.Valid {
		return 0, false, err
	}
	return time.Duration(ms.Int64) * time.Millisecond, true, nil
}

// requeue points an orphan at River job jobID, if it still waits for
// oldJob and no live lease holds it; it reports whether it did, so that of
// replicas sweeping together only one wins.
func (r *repo) requeue(ctx context.Context, tx *sql.Tx, id string, oldJob, jobID int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET job_id = $1 WHERE id = $2 AND COALESCE(job_id, 0) = $3
				AND (lease_token IS NULL OR lease_until < `+r.db.NowMillis()+`)`, jobID, id, oldJob)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// backlogs counts the queued and running tasks by kind and status, with the
// creation time of the oldest of each.
func (r *repo) backlogs(ctx context.Context) ([]Backlog, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT kind, status, count(*), min(create_time) FROM tasks
		WHERE status IN ($1, $2) GROUP BY kind, status ORDER BY kind, status`, string(Queued), string(Running))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Backlog
	for rows.Next() {
		var b Backlog
		var oldest int64
		if err := rows.Scan(&b.Kind, &b.Status, &b.Count, &oldest); err != nil {
			return nil, err
		}
		b.Oldest = store.FromMillis(oldest)
		out = append(out, b)
	}
	return out, rows.Err()
}
