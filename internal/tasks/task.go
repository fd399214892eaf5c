package tasks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// Status is where a task is in its life.
type Status string

// The statuses of a task. QUEUED and RUNNING are active; the others are final.
const (
	Queued    Status = "QUEUED"
	Running   Status = "RUNNING"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
	Cancelled Status = "CANCELLED"
)

// Final reports whether the status can no longer change.
func (s Status) Final() bool { return s == Succeeded || s == Failed || s == Cancelled }

// ErrNotFound reports a task that does not exist.
var ErrNotFound = errors.New("task not found")

// Task is the domain-visible record of one background task.
type Task struct {
	ID         string
	Kind       string
	ProjectID  string
	ResourceID string
	Status     Status
	// Total is what the handler announced with SetTotal; Succeeded and Failed
	// count the items done so far (while running, as of the last flush).
	Total     int64
	Succeeded int64
	Failed    int64
	// FailuresOmitted counts failed items whose reasons were not kept (only
	// the first Config.MaxFailures are).
	FailuresOmitted int64
	ErrorMessage    string
	Params          json.RawMessage
	Result          json.RawMessage // nil until the handler set one
	// Cursor is the last checkpoint: a handler that finds it non-empty
	// resumes after it.
	Cursor string
	// Runs counts how many times a replica started the task (1 unless it
	// was interrupted).
	Runs     int
	Created  time.Time
	Started  time.Time // zero until it first ran
	Finished time.Time // zero until final
}

// Failure is one item a task could not process, and why.
type Failure struct {
	Item   string
	Reason string
}

const taskColumns = `id, kind, project_id, resource_id, status, total, succeeded, failed,
	error_message, params, result, cursor, runs, create_time, start_time, end_time`

type scanner interface{ Scan(dest ...any) error }

func (m *Manager) scanTask(s scanner) (*Task, error) {
	var (
		t                       Task
		status, params, result  string
		created, started, ended int64
	)
	if err := s.Scan(&t.ID, &t.Kind, &t.ProjectID, &t.ResourceID, &status, &t.Total, &t.Succeeded, &t.Failed,
		&t.ErrorMessage, &params, &result, &t.Cursor, &t.Runs, &created, &started, &ended); err != nil {
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
	if over := t.Failed - int64(m.cfg.MaxFailures); over > 0 {
		t.FailuresOmitted = over
	}
	return &t, nil
}

// Get returns the task with the given id, or ErrNotFound.
func (m *Manager) Get(ctx context.Context, id string) (*Task, error) {
	row := m.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id)
	t, err := m.scanTask(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", id, err)
	}
	return t, nil
}

// List returns the tasks of a resource, newest first; an empty kind lists
// every kind.
func (m *Manager) List(ctx context.Context, resourceID, kind string) ([]*Task, error) {
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE resource_id = $1`
	args := []any{resourceID}
	if kind != "" {
		query += ` AND kind = $2`
		args = append(args, kind)
	}
	query += ` ORDER BY create_time DESC, id DESC`
	rows, err := m.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", resourceID, err)
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := m.scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks of %s: %w", resourceID, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", resourceID, err)
	}
	return out, nil
}

// Failures returns the kept per-item failures of a task in the order they
// were reported (at most Config.MaxFailures; Task.FailuresOmitted counts the
// rest).
func (m *Manager) Failures(ctx context.Context, id string) ([]Failure, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT item, reason FROM task_failures WHERE task_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("list failures of task %s: %w", id, err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.Item, &f.Reason); err != nil {
			return nil, fmt.Errorf("list failures of task %s: %w", id, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list failures of task %s: %w", id, err)
	}
	return out, nil
}

// Cancel marks an active task CANCELLED and cancels its River job. A running
// handler sees its context cancelled shortly after (through River's cancel
// signal or the task's own heartbeat) and stops; the status stays CANCELLED.
// Cancelling a final task changes nothing and returns it as it is.
func (m *Manager) Cancel(ctx context.Context, id string) (*Task, error) {
	now := store.Millis(m.cfg.Now())
	var jobID sql.NullInt64
	err := m.db.InTx(ctx, func(tx *sql.Tx) error {
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
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cancel task %s: %w", id, err)
	}
	if jobID.Valid {
		// Best effort: a job that still runs later finds the task final and
		// ends at once, and a running handler is also stopped by its heartbeat.
		if _, err := m.river.JobCancel(ctx, jobID.Int64); err != nil {
			m.log.WarnContext(ctx, "cancel river job", "task", id, "job", jobID.Int64, "err", err)
		}
	}
	return m.Get(ctx, id)
}
