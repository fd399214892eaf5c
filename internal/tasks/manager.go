package tasks

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/atelier-dev/atelier/internal/reqid"
	"github.com/atelier-dev/atelier/internal/store"
)

// Handler runs one task. It reads its input from t.Params, resumes after
// t.Cursor when that is set, reports through p, and returns nil when done. A
// returned error ends the task FAILED with the error's message; per-item
// problems go to p.Fail instead. The handler must return promptly when ctx is
// done (cancellation, shutdown or a lost lease).
type Handler func(ctx context.Context, t *Task, p Progress) error

// Config tunes a Manager. Zero fields take the defaults noted.
type Config struct {
	// PollOnly makes River poll (FetchPollInterval) on PostgreSQL instead
	// of listening for insert and cancel notifications on a connection of
	// its own; cancellations then reach running handlers through their
	// heartbeat. SQLite always polls.
	PollOnly bool
	// Logger receives the Manager's and River's logs (default: discarded).
	Logger *slog.Logger
	// MaxWorkers is how many tasks this replica runs at once (default 4).
	MaxWorkers int
	// LeaseTTL is how long a replica holds a task without renewing the lease;
	// after that another replica may take it over (default 30 s).
	LeaseTTL time.Duration
	// FlushInterval is how often a running task's progress is written and
	// its lease renewed, and its cancellation noticed (default 500 ms).
	FlushInterval time.Duration
	// FlushItems flushes progress early after this many items (default 1000).
	FlushItems int
	// SweepInterval is how often the Manager looks for active tasks that
	// have no live River job or lease, and queues them again (default 10 s).
	SweepInterval time.Duration
	// FetchPollInterval is how often River polls for new jobs (default 1 s).
	FetchPollInterval time.Duration
	// RetryDelay is how long River waits before running a job again after a
	// retryable failure or a rescue (default 1 s).
	RetryDelay time.Duration
	// RescueStuckJobsAfter is River's rescue threshold for a job left
	// running by a dead client (default 1 h). Tasks are taken over sooner
	// through the lease and the sweeper; this is River's own cleanup.
	RescueStuckJobsAfter time.Duration
	// MaxRuns fails a task that was interrupted (crash, lost lease) this
	// many times (default 10); graceful shutdowns do not count.
	MaxRuns int
	// MaxFailures is how many per-item failures are kept per task (default
	// 1000); the failed counter counts all of them.
	MaxFailures int
	// Now is the clock of the times a task shows (created, started,
	// finished; default time.Now). Leases never use it: their expiry is
	// computed and compared by the database's clock, which every replica
	// shares.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	setDefault(&c.MaxWorkers, 4)
	setDefault(&c.LeaseTTL, 30*time.Second)
	setDefault(&c.FlushInterval, 500*time.Millisecond)
	setDefault(&c.FlushItems, 1000)
	setDefault(&c.SweepInterval, 10*time.Second)
	setDefault(&c.FetchPollInterval, time.Second)
	setDefault(&c.RetryDelay, time.Second)
	setDefault(&c.RescueStuckJobsAfter, time.Hour)
	setDefault(&c.MaxRuns, 10)
	setDefault(&c.MaxFailures, 1000)
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// queue is the River queue every task job goes to.
const queue = "atelier_tasks"

// maxAttempts is River's attempt budget for a task job. Handler errors never
// reach River (they end the task FAILED), so attempts are only spent by
// rescues, snoozes and store errors; Config.MaxRuns bounds crash loops.
const maxAttempts = 1000

// taskArgs is the River job of a task: it only names the task, whose record
// holds everything else.
type taskArgs struct {
	TaskID string `json:"task_id"`
}

func (taskArgs) Kind() string { return "atelier_task" }

// Manager queues, runs and reports background tasks.
type Manager struct {
	db    *store.DB
	repo  *repo
	cfg   Config
	log   *slog.Logger
	river *river.Client[*sql.Tx]
	// closeDriver releases what River's driver opened (a listener pool).
	closeDriver func()

	mu       sync.RWMutex
	handlers map[string]Handler
	started  bool

	stopSweep context.CancelFunc
	sweepDone chan struct{}

	// stopping ends when Stop begins: running handlers see their context
	// cancelled, checkpoint and give their task back. The Manager cancels
	// them itself and then stops River gracefully, rather than calling
	// River's StopAndCancel, whose log calls every shutdown a "hard stop".
	stopping    context.Context
	stopRunning context.CancelFunc
}

// New prepares a Manager on db: it brings River's schema up to date and
// builds the River client. Register handlers, then Start.
//
// Both engines get a River client over the store's own database/sql handle,
// so that jobs are inserted with River's InsertTx in the store's
// transactions; the store picks River's driver for its engine
// (store.DB.QueueDriver).
func New(ctx context.Context, db *store.DB, cfg Config) (*Manager, error) {
	cfg.defaults()
	if cfg.LeaseTTL < 2*cfg.FlushInterval {
		return nil, fmt.Errorf("tasks: LeaseTTL %v must be at least twice FlushInterval %v", cfg.LeaseTTL, cfg.FlushInterval)
	}
	m := &Manager{db: db, repo: &repo{db: db, keptFailures: cfg.MaxFailures}, cfg: cfg, log: cfg.Logger, handlers: map[string]Handler{}}
	m.stopping, m.stopRunning = context.WithCancel(context.Background())
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(m.work))
	rcfg := &river.Config{
		FetchPollInterval:    cfg.FetchPollInterval,
		JobTimeout:           -1, // tasks run for hours; the lease and ctx end them
		Logger:               cfg.Logger,
		MaxAttempts:          maxAttempts,
		Queues:               map[string]river.QueueConfig{queue: {MaxWorkers: cfg.MaxWorkers}},
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		RetryPolicy:          fixedRetry(cfg.RetryDelay),
		Workers:              workers,
	}
	driver, closeDriver, err := db.QueueDriver(ctx, cfg.Logger, !cfg.PollOnly)
	if err != nil {
		return nil, err
	}
	m.closeDriver = closeDriver
	c, err := river.NewClient(driver, rcfg)
	if err != nil {
		m.closeDriver()
		return nil, fmt.Errorf("create river client: %w", err)
	}
	m.river = c
	return m, nil
}

// Register makes kind runnable by fn. Register every kind before Start.
func (m *Manager) Register(kind string, fn Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		panic("tasks: Register after Start")
	}
	m.handlers[kind] = fn
}

func (m *Manager) handler(kind string) Handler {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.handlers[kind]
}

// Start begins working tasks on this replica and sweeping for orphans. A
// Manager is started once; Stop ends it for good.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	if err := m.river.Start(ctx); err != nil {
		return fmt.Errorf("start river client: %w", err)
	}
	sweepCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stopSweep = cancel
	m.sweepDone = make(chan struct{})
	go m.sweepLoop(sweepCtx)
	return nil
}

// Stop ends this replica's work: running handlers see their context
// cancelled, write their progress, give the task back (status stays RUNNING,
// lease released) and River queues them again, for this replica after a
// restart or for another one at once. Stop waits for that until ctx ends.
func (m *Manager) Stop(ctx context.Context) error {
	var err error
	m.stopRunning()
	if m.stopSweep != nil {
		m.stopSweep()
		<-m.sweepDone
		err = m.river.Stop(ctx)
	}
	m.closeDriver()
	if err != nil {
		return fmt.Errorf("stop river client: %w", err)
	}
	return nil
}

// Enqueue records a new QUEUED task and queues its River job in one
// transaction: tx when given (so the caller's writes and the task commit or
// roll back together), else a transaction of its own. params is marshalled
// to JSON (nil stores {}).
func (m *Manager) Enqueue(ctx context.Context, tx *sql.Tx, kind, projectID, resourceID string, params any) (*Task, error) {
	if m.handler(kind) == nil {
		return nil, fmt.Errorf("enqueue task: no handler registered for kind %q", kind)
	}
	raw := []byte("{}")
	if params != nil {
		var err error
		if raw, err = json.Marshal(params); err != nil {
			return nil, fmt.Errorf("enqueue %s task: encode params: %w", kind, err)
		}
	}
	t := &Task{ID: store.NewID(), Kind: kind, ProjectID: projectID, ResourceID: resourceID, Status: Queued,
		Params: raw, Created: store.FromMillis(store.Millis(m.cfg.Now())), RequestID: reqid.From(ctx)}
	insert := func(tx *sql.Tx) error {
		jobID, err := m.insertJob(ctx, tx, t.ID)
		if err != nil {
			return fmt.Errorf("queue river job: %w", err)
		}
		return m.repo.insertTask(ctx, tx, t, jobID)
	}
	var err error
	if tx != nil {
		err = insert(tx)
	} else {
		err = m.db.InTx(ctx, insert)
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue %s task: %w", kind, err)
	}
	return t, nil
}

type fixedRetry time.Duration

func (d fixedRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Duration(d)) }

// insertJob queues the River job of a task in tx with River's own
// transactional insert, so the job exists exactly when tx commits. River
// fills in what its schema needs (state, scheduled time, unique keys) and
// sends its insert notification; a hand-written INSERT into river_job would
// have to follow River's schema and notification protocol at every upgrade.
func (m *Manager) insertJob(ctx context.Context, tx *sql.Tx, taskID string) (int64, error) {
	res, err := m.river.InsertTx(ctx, tx, taskArgs{TaskID: taskID}, &river.InsertOpts{Queue: queue, MaxAttempts: maxAttempts})
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}
