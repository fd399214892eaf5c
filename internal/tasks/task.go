package tasks

import (
	"context"
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
	Runs int
	// RequestID is the id of the API request that queued the task (empty
	// when none did): the task's log lines carry it on every replica.
	RequestID string
	Created   time.Time
	Started   time.Time // zero until it first ran
	Finished  time.Time // zero until final
}

// Failure is one item a task could not process, and why.
type Failure struct {
	Item   string
	Reason string
}

// Get returns the task with the given id, or ErrNotFound.
func (m *Manager) Get(ctx context.Context, id string) (*Task, error) {
	t, err := m.repo.task(ctx, id)
	if errors.Is(err, ErrNotFound) {
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
	out, err := m.repo.tasks(ctx, resourceID, kind)
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", resourceID, err)
	}
	return out, nil
}

// Failures returns the kept per-item failures of a task in the order they
// were reported (at most Config.MaxFailures; Task.FailuresOmitted counts the
// rest).
func (m *Manager) Failures(ctx context.Context, id string) ([]Failure, error) {
	out, err := m.repo.failures(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list failures of task %s: %w", id, err)
	}
	return out, nil
}

// Cancel marks an active task CANCELLED and cancels its River job. A running
// handler sees its context cancelled shortly after (through River's cancel
// signal or the task's own heartbeat) and stops; the status stays CANCELLED.
// Cancelling a final task changes nothing and returns it as it is.
func (m *Manager) Cancel(ctx context.Context, id string) (*Task, error) {
	jobID, err := m.repo.cancel(ctx, id, store.Millis(m.cfg.Now()))
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

// Backlog is how many tasks of a kind are in one active state, and since
// when the oldest of them was created.
type Backlog struct {
	Kind   string
	Status Status
	Count  int64
	Oldest time.Time
}

// Backlogs returns the queued and running tasks of every kind, for the
// server's metrics: how deep the queue is and how long its oldest task has
// waited.
func (m *Manager) Backlogs(ctx context.Context) ([]Backlog, error) {
	out, err := m.repo.backlogs(ctx)
	if err != nil {
		return nil, fmt.Errorf("count active tasks: %w", err)
	}
	return out, nil
}
