package tasks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/atelier-dev/atelier/internal/store"
)

var (
	errCancelled = errors.New("task cancelled")
	errLeaseLost = errors.New("task lease lost to another replica")
	errStopping  = errors.New("this replica is stopping")
)

// ErrLeaseLost is returned by Progress.CheckpointTx when this replica no
// longer holds the task: the caller must roll its transaction back.
var ErrLeaseLost = errLeaseLost

// work is River's worker for every task job.
func (m *Manager) work(ctx context.Context, job *river.Job[taskArgs]) error {
	r, wait, err := m.acquire(ctx, job.Args.TaskID, job.ID)
	if err != nil {
		return err // store trouble: River retries after RetryDelay
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	if r == nil {
		return nil
	}
	return m.run(ctx, r)
}

// lease is one replica's hold on one task for one run.
type lease struct {
	task  *Task
	token string
	cpVer int64
}

// acquire takes the task's lease for this job. It returns nothing to do when
// the task is final, gone or now belongs to another job (a sweeper re-queued
// it), and a wait when another replica holds a live lease.
func (m *Manager) acquire(ctx context.Context, taskID string, jobID int64) (*lease, time.Duration, error) {
	var (
		l    *lease
		wait time.Duration
	)
	err := m.db.InTx(ctx, func(tx *sql.Tx) error {
		var (
			kind       string
			status     string
			curJob     sql.NullInt64
			token      sql.NullString
			leaseUntil int64
			runs       int
			cpVer      int64
		)
		// Lease times are the database's: every replica compares them with
		// the same clock, however far apart their own clocks are.
		var dbNow int64
		err := tx.QueryRowContext(ctx, `SELECT kind, status, job_id, lease_token, lease_until, runs, cp_version, `+m.db.NowMillis()+`
			FROM tasks WHERE id = $1`, taskID).
			Scan(&kind, &status, &curJob, &token, &leaseUntil, &runs, &cpVer, &dbNow)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		now := m.cfg.Now()
		switch {
		case Status(status).Final():
			return nil
		case !curJob.Valid || curJob.Int64 != jobID:
			return nil // a stale wake-up: the task has a newer job
		case m.handler(kind) == nil:
			// A replica of another version may know the kind: River
			// retries the job, here or elsewhere.
			return fmt.Errorf("no handler for kind %q on this replica", kind)
		case token.Valid && leaseUntil > dbNow:
			wait = time.Duration(leaseUntil-dbNow)*time.Millisecond + 100*time.Millisecond
			return nil
		case runs >= m.cfg.MaxRuns:
			_, err := tx.ExecContext(ctx, `UPDATE tasks SET status = $1, error_message = $2, end_time = $3, lease_token = NULL WHERE id = $4`,
				string(Failed), fmt.Sprintf("task was interrupted %d times", runs), store.Millis(now), taskID)
			return err
		}
		tok := store.NewID()
		nowMs := store.Millis(now)
		// Counters go back to what the checkpoint covers, and failures
		// reported after it are dropped: the run redoes that work.
		res, err := tx.ExecContext(ctx, `UPDATE tasks SET status = $1, lease_token = $2, lease_until = `+m.db.NowMillis()+` + $3, runs = runs + 1,
				start_time = CASE WHEN start_time = 0 THEN $4 ELSE start_time END,
				succeeded = cp_succeeded, failed = cp_failed
			WHERE id = $5 AND job_id = $6 AND status IN ($7, $8) AND (lease_token IS NULL OR lease_until <= `+m.db.NowMillis()+`)`,
			string(Running), tok, m.cfg.LeaseTTL.Milliseconds(), nowMs, taskID, jobID, string(Queued), string(Running))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			wait = m.cfg.RetryDelay
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM task_failures WHERE task_id = $1 AND seq > (SELECT cp_failed FROM tasks WHERE id = $2)`, taskID, taskID); err != nil {
			return err
		}
		t, err := m.scanTask(tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, taskID))
		if err != nil {
			return err
		}
		l = &lease{task: t, token: tok, cpVer: cpVer}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("acquire task %s: %w", taskID, err)
	}
	return l, wait, nil
}

// run calls the task's handler under the lease and records how it ended.
func (m *Manager) run(ctx context.Context, l *lease) error {
	t := l.task
	log := m.log.With("task", t.ID, "kind", t.Kind)
	fn := m.handler(t.Kind) // acquire checked it is there
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Stop cancels the handler (see Manager.stopping); River's own work
	// context still ends it too if River is stopped some other way.
	defer context.AfterFunc(m.stopping, func() { cancel(errStopping) })()
	p := newProgress(m, l)
	beatDone := make(chan struct{})
	stopBeat := make(chan struct{})
	go func() {
		defer close(beatDone)
		m.heartbeat(hctx, l, p, cancel, stopBeat)
	}()
	log.InfoContext(ctx, "task started", "run", t.Runs, "cursor", t.Cursor)
	err := m.callHandler(hctx, fn, t, p)
	close(stopBeat)
	<-beatDone
	cause := context.Cause(hctx)

	// Final writes must not be cut short by the cancellation that ended
	// the handler.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer wcancel()
	switch {
	case errors.Is(cause, errLeaseLost):
		log.WarnContext(ctx, "task lease lost; another replica continues it")
		return nil
	case errors.Is(cause, errCancelled):
		return m.finish(wctx, l, p, Cancelled, "")
	case err == nil:
		return m.finish(wctx, l, p, Succeeded, "")
	case hctx.Err() != nil:
		// Shutdown or River's remote cancel: Cancel already wrote CANCELLED
		// in the latter case, which finish keeps.
		cancelled, ferr := m.release(wctx, l, p)
		if ferr != nil {
			return ferr
		}
		if cancelled {
			return nil
		}
		log.InfoContext(ctx, "task interrupted; queued again", "err", err)
		return river.JobSnooze(m.cfg.RetryDelay)
	default:
		log.InfoContext(ctx, "task failed", "err", err)
		return m.finish(wctx, l, p, Failed, err.Error())
	}
}

// callHandler runs fn, turning a panic into an error; the stack goes to the
// log, not into the task's message, which clients see.
func (m *Manager) callHandler(ctx context.Context, fn Handler, t *Task, p Progress) (err error) {
	defer func() {
		if r := recover(); r != nil {
			m.log.ErrorContext(ctx, "task handler panic", "task", t.ID, "kind", t.Kind, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return fn(ctx, t, p)
}

// heartbeat renews the lease and flushes progress every FlushInterval (or
// sooner when the handler reports FlushItems items), and cancels the
// handler when the task was cancelled or the lease is lost.
func (m *Manager) heartbeat(ctx context.Context, l *lease, p *progress, cancel context.CancelCauseFunc, stop <-chan struct{}) {
	tick := time.NewTicker(m.cfg.FlushInterval)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.full:
		}
		status, err := m.beat(ctx, l, p)
		switch {
		case errors.Is(err, errLeaseLost):
			cancel(errLeaseLost)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			m.log.WarnContext(ctx, "task heartbeat", "task", l.task.ID, "err", err)
			if time.Since(renewed) > m.cfg.LeaseTTL {
				cancel(errLeaseLost) // others may already have taken over
				return
			}
		case status == Cancelled:
			cancel(errCancelled)
			return
		default:
			renewed = time.Now()
		}
	}
}

// beat renews the lease and writes pending progress in one transaction.
func (m *Manager) beat(ctx context.Context, l *lease, p *progress) (Status, error) {
	var (
		snap   *snapshot
		status string
	)
	err := m.db.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE tasks SET lease_until = `+m.db.NowMillis()+` + $1 WHERE id = $2 AND lease_token = $3 RETURNING status`,
			m.cfg.LeaseTTL.Milliseconds(), l.task.ID, l.token).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return errLeaseLost
		}
		if err != nil {
			return err
		}
		if snap, err = p.committedSnapshot(ctx, tx); err != nil {
			return err
		}
		return m.writeProgress(ctx, tx, l, snap)
	})
	if err != nil {
		return "", err
	}
	p.written(snap)
	return Status(status), nil
}

// finish writes the last progress and the final status. A task cancelled
// meanwhile stays CANCELLED.
func (m *Manager) finish(ctx context.Context, l *lease, p *progress, status Status, msg string) error {
	var snap *snapshot
	now := store.Millis(m.cfg.Now())
	err := m.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		if snap, err = p.committedSnapshot(ctx, tx); err != nil {
			return err
		}
		if err := m.writeProgress(ctx, tx, l, snap); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET
				status = CASE WHEN status = $1 THEN $2 ELSE status END,
				error_message = CASE WHEN status = $3 THEN $4 ELSE error_message END,
				result = $5,
				end_time = CASE WHEN end_time = 0 THEN $6 ELSE end_time END,
				lease_token = NULL, lease_until = 0
			WHERE id = $7 AND lease_token = $8`,
			string(Running), string(status), string(Running), msg, string(snap.result), now, l.task.ID, l.token)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish task %s: %w", l.task.ID, err)
	}
	p.written(snap)
	m.log.InfoContext(ctx, "task finished", "task", l.task.ID, "kind", l.task.Kind, "status", status)
	return nil
}

// release writes progress and gives the lease back after an interruption
// that was not the task's fault, so the run does not count against MaxRuns.
// It reports whether the task turned out to be cancelled.
func (m *Manager) release(ctx context.Context, l *lease, p *progress) (bool, error) {
	var (
		snap   *snapshot
		status string
	)
	err := m.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		if snap, err = p.committedSnapshot(ctx, tx); err != nil {
			return err
		}
		if err := m.writeProgress(ctx, tx, l, snap); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `UPDATE tasks SET lease_token = NULL, lease_until = 0,
				runs = CASE WHEN status = $1 THEN runs - 1 ELSE runs END
			WHERE id = $2 AND lease_token = $3 RETURNING status`, string(Running), l.task.ID, l.token).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // lost meanwhile: the new holder owns it
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("release task %s: %w", l.task.ID, err)
	}
	p.written(snap)
	return Status(status) == Cancelled, nil
}

// writeProgress writes a snapshot, fenced by the lease token. The live
// counters are written as absolute values; the checkpoint (cursor and the
// counters it covers) only when it is newer than the stored one, so an older
// snapshot written late never moves the cursor back. Failure rows are
// numbered by the failed counter and inserted idempotently.
func (m *Manager) writeProgress(ctx context.Context, tx *sql.Tx, l *lease, s *snapshot) error {
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
		l.task.ID, l.token)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errLeaseLost
	}
	for _, f := range s.failures {
		if _, err := tx.ExecContext(ctx, `INSERT INTO task_failures (task_id, seq, item, reason) VALUES ($1, $2, $3, $4)
			ON CONFLICT (task_id, seq) DO NOTHING`, l.task.ID, f.seq, f.Item, f.Reason); err != nil {
			return err
		}
	}
	return nil
}

// Progress is how a handler reports. Its methods are safe for concurrent
// use. Counts and failures are kept in memory and written in batches (every
// Config.FlushInterval or Config.FlushItems items) together with the lease
// renewal; a checkpoint is written together with the counters it covers, and
// a resumed run starts from exactly those, so nothing is counted twice.
type Progress interface {
	// SetTotal announces how many items the task will process.
	SetTotal(n int64)
	// Succeed counts n items done.
	Succeed(n int64)
	// Fail counts one item that could not be processed and keeps why (the
	// first Config.MaxFailures reasons are kept). It does not fail the task.
	Fail(item, reason string)
	// Checkpoint records that everything up to cursor is done and counted;
	// a run that resumes gets it as Task.Cursor. It is written with the next
	// flush.
	Checkpoint(cursor string)
	// CheckpointTx writes the checkpoint, the counters and the pending
	// failures in tx at once, so a handler can commit its own writes (a
	// batch of imported samples, say) and the checkpoint that covers them
	// atomically. It returns ErrLeaseLost when this replica no longer holds
	// the task; then the caller must roll tx back. If tx rolls back, the
	// checkpoint does not move: a resumed run starts from the last one that
	// committed. On SQLite, hold no other Progress call across tx, which
	// holds the database's write lock.
	CheckpointTx(ctx context.Context, tx *sql.Tx, cursor string) error
	// SetResult stores the task's result document (JSON).
	SetResult(v json.RawMessage)
}

var _ Progress = (*progress)(nil)

type pendingFailure struct {
	Failure
	seq int64
}

type progress struct {
	m    *Manager
	l    *lease
	full chan struct{}

	mu          sync.Mutex
	total       int64
	succeeded   int64
	failed      int64
	cursor      string
	cpSucceeded int64
	cpFailed    int64
	cpVer       int64
	// nextVer is the last checkpoint version handed out. A version given
	// to CheckpointTx becomes cpVer only once a later write of ours finds
	// it committed (committedSnapshot): until then the caller's transaction
	// may still roll back.
	nextVer   int64
	failures  []pendingFailure
	result    json.RawMessage
	unflushed int
}

type snapshot struct {
	total, succeeded, failed     int64
	cursor                       string
	cpSucceeded, cpFailed, cpVer int64
	failures                     []pendingFailure
	result                       json.RawMessage
}

func newProgress(m *Manager, l *lease) *progress {
	t := l.task
	return &progress{m: m, l: l, full: make(chan struct{}, 1),
		total: t.Total, succeeded: t.Succeeded, failed: t.Failed,
		cursor: t.Cursor, cpSucceeded: t.Succeeded, cpFailed: t.Failed, cpVer: l.cpVer, nextVer: l.cpVer,
		result: t.Result}
}

func (p *progress) SetTotal(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

func (p *progress) Succeed(n int64) {
	p.mu.Lock()
	p.succeeded += n
	p.counted(int(n))
	p.mu.Unlock()
}

func (p *progress) Fail(item, reason string) {
	p.mu.Lock()
	p.failed++
	if p.failed <= int64(p.m.cfg.MaxFailures) {
		p.failures = append(p.failures, pendingFailure{Failure{item, reason}, p.failed})
	}
	p.counted(1)
	p.mu.Unlock()
}

// counted wakes the heartbeat when enough items are unflushed; p.mu is held.
func (p *progress) counted(n int) {
	p.unflushed += n
	if p.unflushed >= p.m.cfg.FlushItems {
		p.unflushed = 0
		select {
		case p.full <- struct{}{}:
		default:
		}
	}
}

func (p *progress) Checkpoint(cursor string) {
	p.mu.Lock()
	p.checkpoint(cursor)
	p.mu.Unlock()
}

func (p *progress) checkpoint(cursor string) {
	p.nextVer++
	p.cursor = cursor
	p.cpSucceeded = p.succeeded
	p.cpFailed = p.failed
	p.cpVer = p.nextVer
}

// CheckpointTx writes a checkpoint with a fresh version in tx and leaves the
// one in memory as it is: whether tx commits is the caller's business, and a
// checkpoint that moved in memory before a rollback would be written by the
// next flush (or by the release at shutdown), and the resumed run would skip
// the rolled-back work. The next write of ours reads the stored checkpoint
// back and adopts it if it is newer (committedSnapshot).
func (p *progress) CheckpointTx(ctx context.Context, tx *sql.Tx, cursor string) error {
	p.mu.Lock()
	p.nextVer++
	s := p.snapshotLocked()
	s.cursor, s.cpSucceeded, s.cpFailed, s.cpVer = cursor, p.succeeded, p.failed, p.nextVer
	p.mu.Unlock()
	// The failure rows stay pending too: if tx rolls back, the next flush
	// writes them; if it commits, writing them again changes nothing.
	return p.m.writeProgress(ctx, tx, p.l, s)
}

// committedSnapshot adopts the stored checkpoint when a CheckpointTx's
// transaction has committed one newer than the one in memory, then takes
// the snapshot to write. tx is a write of our own (flush, finish, release),
// so what it reads is committed; on PostgreSQL the flush has locked the row
// already, so no checkpoint commits between this read and its write.
func (p *progress) committedSnapshot(ctx context.Context, tx *sql.Tx) (*snapshot, error) {
	var (
		ver, succeeded, failed int64
		cursor                 string
	)
	err := tx.QueryRowContext(ctx, `SELECT cp_version, cursor, cp_succeeded, cp_failed FROM tasks WHERE id = $1 AND lease_token = $2`,
		p.l.task.ID, p.l.token).Scan(&ver, &cursor, &succeeded, &failed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errLeaseLost
	}
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if ver > p.cpVer {
		p.cursor, p.cpSucceeded, p.cpFailed, p.cpVer = cursor, succeeded, failed, ver
	}
	p.mu.Unlock()
	return p.snapshot(), nil
}

func (p *progress) SetResult(v json.RawMessage) {
	p.mu.Lock()
	p.result = append(json.RawMessage(nil), v...)
	p.mu.Unlock()
}

// snapshot takes the state to write, with every failure not yet written.
// Failures stay pending until a write of them commits (written), so each
// snapshot, whichever commits first, carries all the rows its counters cover.
func (p *progress) snapshot() *snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotLocked()
}

func (p *progress) snapshotLocked() *snapshot {
	p.unflushed = 0
	return &snapshot{total: p.total, succeeded: p.succeeded, failed: p.failed, cursor: p.cursor,
		cpSucceeded: p.cpSucceeded, cpFailed: p.cpFailed, cpVer: p.cpVer,
		failures: append([]pendingFailure(nil), p.failures...), result: p.result}
}

// written drops the pending failures a committed snapshot carried.
func (p *progress) written(s *snapshot) {
	if len(s.failures) == 0 {
		return
	}
	last := s.failures[len(s.failures)-1].seq
	p.mu.Lock()
	i := 0
	for i < len(p.failures) && p.failures[i].seq <= last {
		i++
	}
	p.failures = p.failures[i:]
	p.mu.Unlock()
}

// sweepLoop re-queues active tasks that nothing will run: their lease has
// lapsed (the replica died, or gave the task back) and their River job is
// gone, final, or stuck running on a dead client (River's own rescuer
// catches that only after RescueStuckJobsAfter).
func (m *Manager) sweepLoop(ctx context.Context) {
	defer close(m.sweepDone)
	tick := time.NewTicker(m.cfg.SweepInterval)
	defer tick.Stop()
	for {
		if err := m.sweep(ctx); err != nil && ctx.Err() == nil {
			m.log.WarnContext(ctx, "sweep tasks", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *Manager) sweep(ctx context.Context) error {
	rows, err := m.db.QueryContext(ctx, `SELECT t.id, COALESCE(t.job_id, 0) FROM tasks t
		LEFT JOIN river_job j ON j.id = t.job_id
		WHERE t.status IN ($1, $2) AND (t.lease_token IS NULL OR t.lease_until < `+m.db.NowMillis()+`)
		  AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded')
		       OR (j.state = 'running' AND t.status = $3))`,
		string(Queued), string(Running), string(Running))
	if err != nil {
		return err
	}
	type orphan struct {
		id  string
		job int64
	}
	var orphans []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.id, &o.job); err != nil {
			rows.Close()
			return err
		}
		orphans = append(orphans, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, o := range orphans {
		err := m.db.InTx(ctx, func(tx *sql.Tx) error {
			jobID, err := m.insertJob(ctx, tx, o.id)
			if err != nil {
				return err
			}
			// Only one replica's new job wins; the others roll back.
			res, err := tx.ExecContext(ctx, `UPDATE tasks SET job_id = $1 WHERE id = $2 AND COALESCE(job_id, 0) = $3
				AND (lease_token IS NULL OR lease_until < `+m.db.NowMillis()+`)`, jobID, o.id, o.job)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errSwept
			}
			return nil
		})
		switch {
		case errors.Is(err, errSwept):
		case err != nil:
			return fmt.Errorf("re-queue task %s: %w", o.id, err)
		default:
			m.log.InfoContext(ctx, "task re-queued", "task", o.id)
		}
	}
	return nil
}

var errSwept = errors.New("task already re-queued")
