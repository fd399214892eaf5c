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

	"github.com/atelier-dev/atelier/internal/reqid"
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
		st, err := m.repo.leaseState(ctx, tx, taskID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := store.Millis(m.cfg.Now())
		switch {
		case st.status.Final():
			return nil
		case !st.job.Valid || st.job.Int64 != jobID:
			return nil // a stale wake-up: the task has a newer job
		case m.handler(st.kind) == nil:
			// A replica of another version may know the kind: River
			// retries the job, here or elsewhere.
			return fmt.Errorf("no handler for kind %q on this replica", st.kind)
		case st.leased && st.left > 0:
			wait = st.left + 100*time.Millisecond
			return nil
		case st.runs >= m.cfg.MaxRuns:
			return m.repo.failTask(ctx, tx, taskID, fmt.Sprintf("task was interrupted %d times", st.runs), now)
		}
		tok := store.NewID()
		// Counters go back to what the checkpoint covers, and failures
		// reported after it are dropped: the run redoes that work.
		taken, err := m.repo.takeLease(ctx, tx, taskID, jobID, tok, m.cfg.LeaseTTL, now)
		if err != nil {
			return err
		}
		if !taken {
			wait = m.cfg.RetryDelay
			return nil
		}
		if err := m.repo.dropFailuresAfterCheckpoint(ctx, tx, taskID); err != nil {
			return err
		}
		t, err := m.repo.taskTx(ctx, tx, taskID)
		if err != nil {
			return err
		}
		l = &lease{task: t, token: tok, cpVer: st.cpVer}
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
	// The task's lines, on this replica or any other, name the request
	// that queued it; so do the handler's own.
	ctx = reqid.With(ctx, t.RequestID)
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
		status Status
	)
	err := m.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		if status, err = m.repo.renewLease(ctx, tx, l.task.ID, l.token, m.cfg.LeaseTTL); err != nil {
			return err
		}
		if snap, err = p.committedSnapshot(ctx, tx); err != nil {
			return err
		}
		return m.repo.writeProgress(ctx, tx, l.task.ID, l.token, snap)
	})
	if err != nil {
		return "", err
	}
	p.written(snap)
	return status, nil
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
		if err := m.repo.writeProgress(ctx, tx, l.task.ID, l.token, snap); err != nil {
			return err
		}
		return m.repo.finishTask(ctx, tx, l.task.ID, l.token, status, msg, snap.result, now)
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
		status Status
	)
	err := m.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		if snap, err = p.committedSnapshot(ctx, tx); err != nil {
			return err
		}
		if err := m.repo.writeProgress(ctx, tx, l.task.ID, l.token, snap); err != nil {
			return err
		}
		// A token that no longer holds gives "": the new holder owns the task.
		status, err = m.repo.releaseLease(ctx, tx, l.task.ID, l.token)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("release task %s: %w", l.task.ID, err)
	}
	p.written(snap)
	return status == Cancelled, nil
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
	return p.m.repo.writeProgress(ctx, tx, p.l.task.ID, p.l.token, s)
}

// committedSnapshot adopts the stored checkpoint when a CheckpointTx's
// transaction has committed one newer than the one in memory, then takes
// the snapshot to write. tx is a write of our own (flush, finish, release),
// so what it reads is committed; on PostgreSQL the flush has locked the row
// already, so no checkpoint commits between this read and its write.
func (p *progress) committedSnapshot(ctx context.Context, tx *sql.Tx) (*snapshot, error) {
	cp, err := p.m.repo.storedCheckpoint(ctx, tx, p.l.task.ID, p.l.token)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if cp.ver > p.cpVer {
		p.cursor, p.cpSucceeded, p.cpFailed, p.cpVer = cp.cursor, cp.succeeded, cp.failed, cp.ver
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
	timer := time.NewTimer(m.cfg.SweepInterval)
	defer timer.Stop()
	for {
		if err := m.sweep(ctx); err != nil && ctx.Err() == nil {
			m.log.WarnContext(ctx, "sweep tasks", "err", err)
		}
		timer.Reset(m.nextSweep(ctx))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// leaseSlack is how long after a lease's expiry the sweeper looks at it:
// the database clock's expiry is compared with the database's now, and a
// sweep that comes a moment early finds the lease still live.
const leaseSlack = 25 * time.Millisecond

// nextSweep is how long to wait before the next sweep: SweepInterval, or
// less when a live lease expires sooner, so that the task of a replica that
// died is taken over as its lease lapses rather than up to SweepInterval
// later; and never more than LeaseTTL, so that a lease taken after this
// sweep (which it could not see) is seen by the next one before it can
// lapse.
func (m *Manager) nextSweep(ctx context.Context) time.Duration {
	wait := min(m.cfg.SweepInterval, m.cfg.LeaseTTL)
	left, ok, err := m.repo.nextLeaseExpiry(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.WarnContext(ctx, "sweep tasks: read the next lease expiry", "err", err)
		}
		return wait
	}
	if ok && left+leaseSlack < wait {
		wait = left + leaseSlack
	}
	return wait
}

func (m *Manager) sweep(ctx context.Context) error {
	orphans, err := m.repo.orphans(ctx)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		err := m.db.InTx(ctx, func(tx *sql.Tx) error {
			jobID, err := m.insertJob(ctx, tx, o.id)
			if err != nil {
				return err
			}
			// Only one replica's new job wins; the others roll back.
			won, err := m.repo.requeue(ctx, tx, o.id, o.job, jobID)
			if err != nil {
				return err
			}
			if !won {
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
