package tasks

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/reqid"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// testDB is one test database and the URL that reaches it.
type testDB struct {
	*store.DB
	dsn string
}

func openDB(t *testing.T, engine store.Engine) *testDB {
	t.Helper()
	dsn := storetest.Migrated(t, engine)
	return reopen(t, &testDB{dsn: dsn, DB: &store.DB{Engine: engine}})
}

// reopen opens another handle on the same database, as a second replica would.
func reopen(t *testing.T, d *testDB) *testDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, d.dsn, t.TempDir())
	if err != nil {
		t.Fatalf("open %s: %v", d.Engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return &testDB{DB: db, dsn: d.dsn}
}

func eachEngine(t *testing.T, fn func(t *testing.T, db *testDB)) {
	t.Helper()
	for _, e := range storetest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, openDB(t, e))
		})
	}
}

// testConfig makes leases, flushes and sweeps fast enough for tests.
func testConfig(db *testDB) Config {
	cfg := Config{
		LeaseTTL:          time.Second,
		FlushInterval:     50 * time.Millisecond,
		SweepInterval:     200 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
		RetryDelay:        200 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	return cfg
}

// newManager builds a Manager with the given handlers; it is not started.
func newManager(t *testing.T, db *testDB, cfg Config, handlers map[string]Handler) *Manager {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := New(ctx, db.DB, cfg)
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	for k, h := range handlers {
		m.Register(k, h)
	}
	return m
}

func start(t *testing.T, m *Manager) {
	t.Helper()
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

func enqueue(t *testing.T, m *Manager, kind string, params any) *Task {
	t.Helper()
	task, err := m.Enqueue(context.Background(), nil, kind, "proj", "res-1", params)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return task
}

// waitStatus polls until the task reaches want and returns it.
func waitStatus(t *testing.T, m *Manager, id string, want Status) *Task {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		task, err := m.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if task.Status == want {
			return task
		}
		if time.Now().After(deadline) || (task.Status.Final() && task.Status != want) {
			t.Fatalf("task %s is %s (%q), want %s", id, task.Status, task.ErrorMessage, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(t *testing.T, db *testDB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestRunSucceeds(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		m := newManager(t, db, testConfig(db), map[string]Handler{
			"test.items": func(ctx context.Context, task *Task, p Progress) error {
				var params struct{ N int }
				if err := json.Unmarshal(task.Params, &params); err != nil {
					return err
				}
				p.SetTotal(int64(params.N))
				for i := 1; i <= params.N; i++ {
					if i%3 == 0 {
						p.Fail(fmt.Sprintf("file-%d.jpg", i), "corrupt image")
						continue
					}
					p.Succeed(1)
				}
				p.SetResult(json.RawMessage(`{"imported":4}`))
				return nil
			},
		})
		start(t, m)
		task := enqueue(t, m, "test.items", map[string]int{"n": 7})
		if task.Status != Queued {
			t.Fatalf("enqueued status %s", task.Status)
		}
		got := waitStatus(t, m, task.ID, Succeeded)
		if got.Total != 7 || got.Succeeded != 5 || got.Failed != 2 || got.Runs != 1 {
			t.Errorf("counters total=%d succeeded=%d failed=%d runs=%d, want 7 5 2 1", got.Total, got.Succeeded, got.Failed, got.Runs)
		}
		if string(got.Result) != `{"imported":4}` || got.ErrorMessage != "" {
			t.Errorf("result %s error %q", got.Result, got.ErrorMessage)
		}
		if got.Started.IsZero() || got.Finished.Before(got.Started) || got.Kind != "test.items" || got.ProjectID != "proj" {
			t.Errorf("record %+v", got)
		}
		fails, err := m.Failures(context.Background(), task.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []Failure{{"file-3.jpg", "corrupt image"}, {"file-6.jpg", "corrupt image"}}
		if fmt.Sprint(fails) != fmt.Sprint(want) {
			t.Errorf("failures %v, want %v", fails, want)
		}
		list, err := m.List(context.Background(), "res-1", "test.items")
		if err != nil || len(list) != 1 || list[0].ID != task.ID {
			t.Errorf("list = %v, %v", list, err)
		}
		if list, _ := m.List(context.Background(), "res-1", "other.kind"); len(list) != 0 {
			t.Errorf("list of another kind = %v", list)
		}
	})
}

func TestFailuresBounded(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		cfg := testConfig(db)
		cfg.MaxFailures = 3
		cfg.FlushItems = 2
		m := newManager(t, db, cfg, map[string]Handler{
			"test.fail": func(ctx context.Context, task *Task, p Progress) error {
				for i := range 10 {
					p.Fail("item-"+strconv.Itoa(i), "unsupported")
				}
				return nil
			},
		})
		start(t, m)
		task := enqueue(t, m, "test.fail", nil)
		got := waitStatus(t, m, task.ID, Succeeded)
		if got.Failed != 10 || got.FailuresOmitted != 7 {
			t.Errorf("failed=%d omitted=%d, want 10 7", got.Failed, got.FailuresOmitted)
		}
		fails, _ := m.Failures(context.Background(), task.ID)
		if len(fails) != 3 || fails[0].Item != "item-0" || fails[2].Item != "item-2" {
			t.Errorf("failures %v", fails)
		}
	})
}

func TestHandlerErrorFails(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		m := newManager(t, db, testConfig(db), map[string]Handler{
			"test.err": func(ctx context.Context, task *Task, p Progress) error {
				p.Succeed(2)
				return errors.New("manifest line 3: not JSON")
			},
			"test.panic": func(ctx context.Context, task *Task, p Progress) error {
				panic("boom")
			},
		})
		start(t, m)
		task := enqueue(t, m, "test.err", nil)
		got := waitStatus(t, m, task.ID, Failed)
		if got.ErrorMessage != "manifest line 3: not JSON" || got.Succeeded != 2 || got.Finished.IsZero() {
			t.Errorf("failed task %+v", got)
		}
		task = enqueue(t, m, "test.panic", nil)
		got = waitStatus(t, m, task.ID, Failed)
		if got.ErrorMessage != "handler panic: boom" {
			t.Errorf("panic message %q", got.ErrorMessage)
		}
	})
}

func TestEnqueueInTransaction(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		m := newManager(t, db, testConfig(db), map[string]Handler{
			"test.noop": func(ctx context.Context, task *Task, p Progress) error { return nil },
		})
		if _, err := m.Enqueue(ctx, nil, "test.unknown", "proj", "res-1", nil); err == nil {
			t.Error("enqueue of an unregistered kind succeeded")
		}

		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		rolledBack, err := m.Enqueue(ctx, tx, "test.noop", "proj", "res-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT count(*) FROM tasks`); n != 0 {
			t.Errorf("%d tasks after rollback", n)
		}
		if n := count(t, db, `SELECT count(*) FROM river_job`); n != 0 {
			t.Errorf("%d river jobs after rollback", n)
		}
		if _, err := m.Get(ctx, rolledBack.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("get rolled-back task: %v", err)
		}

		// Committed with the caller's own write, the task runs.
		var committed *Task
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			committed, err = m.Enqueue(ctx, tx, "test.noop", "proj", "res-1", nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		start(t, m)
		waitStatus(t, m, committed.ID, Succeeded)
		if n := count(t, db, `SELECT count(*) FROM river_job`); n != 1 {
			t.Errorf("%d river jobs, want 1", n)
		}
	})
}

func TestCancel(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		started := make(chan string, 1)
		stopped := make(chan error, 1)
		m := newManager(t, db, testConfig(db), map[string]Handler{
			"test.block": func(ctx context.Context, task *Task, p Progress) error {
				p.Succeed(1)
				p.Checkpoint("1")
				started <- task.ID
				<-ctx.Done()
				stopped <- ctx.Err()
				return ctx.Err()
			},
		})

		// A queued task: cancelled before any replica runs it.
		queued := enqueue(t, m, "test.block", nil)
		got, err := m.Cancel(ctx, queued.ID)
		if err != nil || got.Status != Cancelled || got.Finished.IsZero() {
			t.Fatalf("cancel queued: %+v, %v", got, err)
		}
		if n := count(t, db, `SELECT count(*) FROM river_job WHERE state = 'cancelled' AND id = (SELECT job_id FROM tasks WHERE id = $1)`, queued.ID); n != 1 {
			t.Error("the queued task's River job was not cancelled")
		}
		if again, err := m.Cancel(ctx, queued.ID); err != nil || !again.Finished.Equal(got.Finished) {
			t.Errorf("cancel again: %+v, %v", again, err)
		}
		if _, err := m.Cancel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("cancel unknown: %v", err)
		}

		// A running task: its handler sees ctx cancelled.
		start(t, m)
		running := enqueue(t, m, "test.block", nil)
		select {
		case id := <-started:
			if id != running.ID {
				t.Fatalf("cancelled queued task %s ran", id)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("task did not start")
		}
		t0 := time.Now()
		if _, err := m.Cancel(ctx, running.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-stopped:
			if err == nil {
				t.Error("handler ctx not cancelled")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("running handler was not cancelled")
		}
		t.Logf("handler stopped %v after Cancel", time.Since(t0))
		// Wait for the run's final write (lease released), then check.
		deadline := time.Now().Add(10 * time.Second)
		for count(t, db, `SELECT count(*) FROM tasks WHERE id = $1 AND lease_token IS NULL`, running.ID) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("lease not released")
			}
			time.Sleep(20 * time.Millisecond)
		}
		got = waitStatus(t, m, running.ID, Cancelled)
		if got.Succeeded != 1 || got.Cursor != "1" {
			t.Errorf("cancelled task progress %+v", got)
		}
		select {
		case id := <-started:
			t.Errorf("task %s ran again after cancel", id)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// resumable processes items 1..10 after the cursor: every 4th from 3 fails,
// a checkpoint follows every even item. afterItem runs after each item.
func resumable(afterItem func(ctx context.Context, i int, p Progress)) Handler {
	return func(ctx context.Context, task *Task, p Progress) error {
		p.SetTotal(10)
		from := 1
		if task.Cursor != "" {
			n, err := strconv.Atoi(task.Cursor)
			if err != nil {
				return err
			}
			from = n + 1
		}
		for i := from; i <= 10; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if i%4 == 3 {
				p.Fail("item-"+strconv.Itoa(i), "bad item")
			} else {
				p.Succeed(1)
			}
			if i%2 == 0 {
				p.Checkpoint(strconv.Itoa(i))
			}
			afterItem(ctx, i, p)
		}
		return nil
	}
}

// Environment of the crash child: the database URL and the task to wait for.
const (
	envChildDSN  = "ATELIER_TASKS_CRASH_CHILD_DSN"
	envChildTask = "ATELIER_TASKS_CRASH_CHILD_TASK"
)

// TestCrashChild is the replica that TestResumeAfterCrash kills: it runs
// the resumable task up to item 7 (checkpoint at 6), waits until that
// progress is flushed, says READY and hangs until killed.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv(envChildDSN)
	if dsn == "" {
		t.Skip("run by TestResumeAfterCrash")
	}
	engine := store.SQLite
	if strings.HasPrefix(dsn, "postgres") {
		engine = store.Postgres
	}
	db := reopen(t, &testDB{dsn: dsn, DB: &store.DB{Engine: engine}})
	taskID := os.Getenv(envChildTask)
	m := newManager(t, db, testConfig(db), map[string]Handler{
		"test.resume": resumable(func(ctx context.Context, i int, p Progress) {
			if i < 7 {
				return
			}
			for count(t, db, `SELECT count(*) FROM tasks WHERE id = $1 AND failed = 2 AND cursor = '6'`, taskID) != 1 {
				time.Sleep(10 * time.Millisecond)
			}
			fmt.Println("READY")
			select {} // killed here
		}),
	})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {}
}

func TestResumeAfterCrash(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		var (
			mu   sync.Mutex
			seen []int
		)
		// The replica that takes over sweeps once a minute at most: it
		// gets the task back in time only by waking at the dead replica's
		// lease expiry (or at least once per lease).
		cfg := testConfig(db)
		cfg.SweepInterval = time.Minute
		m := newManager(t, db, cfg, map[string]Handler{
			"test.resume": resumable(func(ctx context.Context, i int, p Progress) {
				mu.Lock()
				seen = append(seen, i)
				mu.Unlock()
			}),
		})
		task := enqueue(t, m, "test.resume", nil)

		// The first replica, in its own process, takes the task and is
		// killed mid-way: no Stop, no final write, River's job left running.
		child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		child.Env = append(os.Environ(), envChildDSN+"="+db.dsn, envChildTask+"="+task.ID)
		child.Stderr = os.Stderr
		out, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = child.Process.Kill() }) // if a check below fails first
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "READY" {
					ready <- true
					return
				}
			}
			ready <- false
		}()
		select {
		case ok := <-ready:
			if !ok {
				_ = child.Wait()
				t.Fatal("crash child ended without getting ready")
			}
		case <-time.After(30 * time.Second):
			_ = child.Process.Kill()
			t.Fatal("crash child not ready")
		}
		mid, err := m.Get(context.Background(), task.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Live counters run ahead of the checkpoint (items 1..7 vs 1..6).
		if mid.Status != Running || mid.Cursor != "6" || mid.Succeeded != 5 || mid.Failed != 2 || mid.Runs != 1 {
			t.Fatalf("before the crash: %+v", mid)
		}
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = child.Wait()
		killed := time.Now()

		// A new replica on the same database takes over once the lease
		// lapses, resumes after item 6 and counts item 7 once.
		start(t, m)
		got := waitStatus(t, m, task.ID, Succeeded)
		took := time.Since(killed)
		t.Logf("taken over and finished %v after the kill", took)
		if limit := cfg.LeaseTTL + 2*time.Second; took > limit {
			t.Errorf("the task was taken over and finished %v after its replica was killed, want within the lease (%v) + 2 s", took, cfg.LeaseTTL)
		}
		mu.Lock()
		if fmt.Sprint(seen) != "[7 8 9 10]" {
			t.Errorf("resumed run processed %v, want [7 8 9 10]", seen)
		}
		mu.Unlock()
		if got.Succeeded != 8 || got.Failed != 2 || got.Total != 10 || got.Runs != 2 || got.Cursor != "10" {
			t.Errorf("after resume: %+v", got)
		}
		fails, _ := m.Failures(context.Background(), task.ID)
		want := []Failure{{"item-3", "bad item"}, {"item-7", "bad item"}}
		if fmt.Sprint(fails) != fmt.Sprint(want) {
			t.Errorf("failures %v, want %v", fails, want)
		}
	})
}

func TestResumeAfterStop(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		reached := make(chan struct{})
		first := newManager(t, db, testConfig(db), map[string]Handler{
			"test.resume": resumable(func(ctx context.Context, i int, p Progress) {
				if i == 4 {
					close(reached)
					<-ctx.Done()
				}
			}),
		})
		if err := first.Start(ctx); err != nil {
			t.Fatal(err)
		}
		task := enqueue(t, first, "test.resume", nil)
		<-reached
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := first.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		mid, _ := first.Get(ctx, task.ID)
		if mid.Status != Running || mid.Cursor != "4" || mid.Runs != 0 {
			t.Fatalf("after stop: %+v", mid)
		}
		if n := count(t, db, `SELECT count(*) FROM tasks WHERE id = $1 AND lease_token IS NULL`, task.ID); n != 1 {
			t.Error("lease not released on stop")
		}

		second := newManager(t, reopen(t, db), testConfig(db), map[string]Handler{
			"test.resume": resumable(func(ctx context.Context, i int, p Progress) {
				if i <= 4 {
					t.Errorf("item %d done again", i)
				}
			}),
		})
		start(t, second)
		got := waitStatus(t, second, task.ID, Succeeded)
		if got.Succeeded != 8 || got.Failed != 2 || got.Runs != 1 {
			t.Errorf("after resume: %+v", got)
		}
	})
}

// TestReplicasRunATaskOnce runs tasks on two Managers sharing one database
// and, while each task runs, hands its River job back to the queue as River's
// rescuer would: the other replica fetches it, but the lease keeps the task
// on one replica, so no handler ever runs twice or concurrently.
func TestReplicasRunATaskOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		var (
			mu      sync.Mutex
			active  = map[string]int{}
			calls   = map[string]int{}
			overlap bool
		)
		handler := func(name string) Handler {
			return func(ctx context.Context, task *Task, p Progress) error {
				mu.Lock()
				active[task.ID]++
				calls[task.ID]++
				if active[task.ID] > 1 {
					overlap = true
				}
				mu.Unlock()
				defer func() {
					mu.Lock()
					active[task.ID]--
					mu.Unlock()
				}()
				from := 0
				if task.Cursor != "" {
					from, _ = strconv.Atoi(task.Cursor)
				}
				for i := from + 1; i <= 10; i++ {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(100 * time.Millisecond):
					}
					p.Succeed(1)
					p.Checkpoint(strconv.Itoa(i))
				}
				p.SetResult(json.RawMessage(strconv.Quote(name)))
				return nil
			}
		}
		// A lease long enough that a slow write under the race detector
		// never lets it lapse: every second run here is a duplicate.
		cfg := testConfig(db)
		cfg.LeaseTTL = 5 * time.Second
		a := newManager(t, db, cfg, map[string]Handler{"test.work": handler("a")})
		b := newManager(t, reopen(t, db), cfg, map[string]Handler{"test.work": handler("b")})
		start(t, a)
		start(t, b)
		var ids []string
		for range 6 {
			ids = append(ids, enqueue(t, a, "test.work", nil).ID)
		}
		// Play River's rescuer on each running job.
		// Play River's rescuer on each job seen running, until every task
		// is final (under load a short task may end before it is seen).
		rescued := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && count(t, db, `SELECT count(*) FROM tasks WHERE status IN ('QUEUED', 'RUNNING')`) > 0 {
			for _, id := range ids {
				if rescued[id] {
					continue
				}
				q := `UPDATE river_job SET state = 'available'
					WHERE state = 'running' AND id = (SELECT job_id FROM tasks WHERE id = $1 AND status = 'RUNNING')`
				res, err := db.ExecContext(ctx, q, id)
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := res.RowsAffected(); n == 1 {
					rescued[id] = true
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(rescued) == 0 {
			t.Error("no running job was handed back to the queue")
		}
		t.Logf("handed back %d of %d running jobs", len(rescued), len(ids))
		ran := map[string]int{}
		for _, id := range ids {
			got := waitStatus(t, a, id, Succeeded)
			if got.Succeeded != 10 || got.Runs != 1 {
				t.Errorf("task %s: succeeded=%d runs=%d", id, got.Succeeded, got.Runs)
			}
			ran[string(got.Result)]++
		}
		mu.Lock()
		defer mu.Unlock()
		if overlap {
			t.Error("a task ran on two replicas at once")
		}
		for id, n := range calls {
			if n != 1 {
				t.Errorf("task %s handled %d times", id, n)
			}
		}
		t.Logf("tasks per replica: %v", ran)
	})
}

// TestCheckpointTx commits a handler's own rows with the checkpoint that
// covers them, and refuses the commit once the lease is gone.
func TestCheckpointTx(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE test_rows (task_id TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (task_id, n))`); err != nil {
			t.Fatal(err)
		}
		var m *Manager
		lost := make(chan error, 1)
		m = newManager(t, db, testConfig(db), map[string]Handler{
			"test.batches": func(ctx context.Context, task *Task, p Progress) error {
				for batch := range 3 {
					err := db.InTx(ctx, func(tx *sql.Tx) error {
						for i := range 4 {
							if _, err := tx.ExecContext(ctx, `INSERT INTO test_rows (task_id, n) VALUES ($1, $2)`, task.ID, batch*4+i); err != nil {
								return err
							}
						}
						p.Succeed(3)
						p.Fail(fmt.Sprintf("row-%d", batch*4+3), "rejected")
						return p.CheckpointTx(ctx, tx, strconv.Itoa(batch))
					})
					if err != nil {
						return err
					}
				}
				// Another replica takes the task over: the next batch
				// must not commit.
				if _, err := db.ExecContext(ctx, `UPDATE tasks SET lease_token = 'other' WHERE id = $1`, task.ID); err != nil {
					return err
				}
				// The heartbeat may notice the takeover first and cancel
				// ctx; the checkpoint must refuse on its own, so the last
				// batch runs without that cancellation.
				bctx := context.WithoutCancel(ctx)
				err := db.InTx(bctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(bctx, `INSERT INTO test_rows (task_id, n) VALUES ($1, 99)`, task.ID); err != nil {
						return err
					}
					p.Succeed(1)
					return p.CheckpointTx(bctx, tx, "3")
				})
				lost <- err
				<-ctx.Done() // the heartbeat notices the lost lease too
				return ctx.Err()
			},
		})
		start(t, m)
		task := enqueue(t, m, "test.batches", nil)
		select {
		case err := <-lost:
			if !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("checkpoint without the lease: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("handler did not reach the lost lease")
		}
		if n := count(t, db, `SELECT count(*) FROM test_rows`); n != 12 {
			t.Errorf("%d rows committed, want 12", n)
		}
		got, err := m.Get(ctx, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cursor != "2" || got.Succeeded != 9 || got.Failed != 3 || got.Status != Running {
			t.Errorf("after the batches: %+v", got)
		}
		if fails, _ := m.Failures(ctx, task.ID); len(fails) != 3 || fails[2].Item != "row-11" {
			t.Errorf("failures %v", fails)
		}
		// The made-up owner never comes back; end the task before the
		// sweeper hands it to this replica again.
		if _, err := m.Cancel(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSweeper re-queues active tasks that River will not deliver: a job
// lost from River's table, and a task interrupted too often fails.
func TestSweeper(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		cfg := testConfig(db)
		cfg.MaxRuns = 3
		m := newManager(t, db, cfg, map[string]Handler{
			"test.noop": func(ctx context.Context, task *Task, p Progress) error { p.Succeed(1); return nil },
		})
		lostJob := enqueue(t, m, "test.noop", nil)
		crashy := enqueue(t, m, "test.noop", nil)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `DELETE FROM river_job WHERE id = (SELECT job_id FROM tasks WHERE id = $1)`, lostJob.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE tasks SET runs = 3 WHERE id = $1`, crashy.ID); err != nil {
			t.Fatal(err)
		}
		start(t, m)
		if got := waitStatus(t, m, lostJob.ID, Succeeded); got.Succeeded != 1 {
			t.Errorf("re-queued task %+v", got)
		}
		if got := waitStatus(t, m, crashy.ID, Failed); got.ErrorMessage != "task was interrupted 3 times" {
			t.Errorf("crash-looping task %+v", got)
		}
	})
}

// TestBacklogs: the queue's depth and the age of its oldest task, by kind
// and status, as the server's metrics read them; finished tasks are not in
// the backlog.
func TestBacklogs(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		noop := func(ctx context.Context, task *Task, p Progress) error { return nil }
		m := newManager(t, db, testConfig(db), map[string]Handler{"test.a": noop, "test.b": noop})
		before := time.Now().Add(-time.Second)
		var ids []string
		for _, kind := range []string{"test.a", "test.a", "test.b"} {
			task, err := m.Enqueue(ctx, nil, kind, "proj", "res-1", nil)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, task.ID)
		}
		if _, err := m.Cancel(ctx, ids[2]); err != nil {
			t.Fatal(err)
		}
		got, err := m.Backlogs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Kind != "test.a" || got[0].Status != Queued || got[0].Count != 2 ||
			got[0].Oldest.Before(before) || got[0].Oldest.After(time.Now()) {
			t.Fatalf("backlogs %+v; want 2 queued test.a tasks created just now (the cancelled test.b is done)", got)
		}
	})
}

// TestRequestIDCarried: a task queued while serving a request records the
// request's id, and its handler runs with it in its context (so its log
// lines name the request, on whatever replica runs it).
func TestRequestIDCarried(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		seen := make(chan string, 1)
		m := newManager(t, db, testConfig(db), map[string]Handler{
			"test.rid": func(ctx context.Context, task *Task, p Progress) error {
				seen <- reqid.From(ctx)
				return nil
			},
		})
		start(t, m)
		ctx := reqid.With(context.Background(), "req-0042")
		task, err := m.Enqueue(ctx, nil, "test.rid", "proj", "res-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		got := waitStatus(t, m, task.ID, Succeeded)
		if got.RequestID != "req-0042" {
			t.Errorf("stored request id %q, want req-0042", got.RequestID)
		}
		if id := <-seen; id != "req-0042" {
			t.Errorf("the handler's context carries request id %q, want req-0042", id)
		}
	})
}
