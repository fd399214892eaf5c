package tasks

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// jobOf returns the River job a task is waiting for.
func jobOf(t *testing.T, db *testDB, taskID string) int64 {
	t.Helper()
	var id int64
	if err := db.QueryRowContext(context.Background(), `SELECT job_id FROM tasks WHERE id = $1`, taskID).Scan(&id); err != nil {
		t.Fatalf("job of task %s: %v", taskID, err)
	}
	return id
}

// TestLeaseUsesDatabaseClock gives one replica a clock minutes off: it must
// neither take a live lease from its holder (its clock ahead says the lease
// has lapsed) nor, holding a lease, keep it past its TTL (its clock ahead
// writes an expiry minutes away). The managers are not started, so that only
// the calls the test makes take leases.
func TestLeaseUsesDatabaseClock(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		handlers := map[string]Handler{"test.noop": func(context.Context, *Task, Progress) error { return nil }}
		ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
		cfg := testConfig(db)
		good := newManager(t, db, cfg, handlers)
		cfg.Now = ahead
		skewed := newManager(t, reopen(t, db), cfg, handlers)

		t.Run("skewed-replica-does-not-steal", func(t *testing.T) {
			task := enqueue(t, good, "test.noop", nil)
			job := jobOf(t, db, task.ID)
			held, _, err := good.acquire(ctx, task.ID, job)
			if err != nil || held == nil {
				t.Fatalf("holder could not take a free task: lease %v, err %v", held, err)
			}
			stolen, wait, err := skewed.acquire(ctx, task.ID, job)
			if err != nil {
				t.Fatal(err)
			}
			if stolen != nil {
				t.Fatal("a replica whose clock runs 10 minutes ahead took a lease that is live by the database's clock")
			}
			if wait <= 0 || wait > cfg.LeaseTTL+time.Second {
				t.Errorf("told to wait %v for a lease of %v", wait, cfg.LeaseTTL)
			}
		})

		t.Run("skewed-holder-does-not-keep", func(t *testing.T) {
			task := enqueue(t, good, "test.noop", nil)
			job := jobOf(t, db, task.ID)
			held, _, err := skewed.acquire(ctx, task.ID, job)
			if err != nil || held == nil {
				t.Fatalf("skewed replica could not take a free task: lease %v, err %v", held, err)
			}
			time.Sleep(cfg.LeaseTTL + 300*time.Millisecond)
			taken, wait, err := good.acquire(ctx, task.ID, job)
			if err != nil {
				t.Fatal(err)
			}
			if taken == nil {
				t.Fatalf("a lease older than its TTL was still held (wait %v): the skewed holder's clock set its expiry", wait)
			}
		})
	})
}

// TestCheckpointTxRolledBack checks that a checkpoint written in a
// transaction that rolls back moves nothing: the task given back at shutdown
// resumes from the last committed checkpoint, with the counters it covers.
func TestCheckpointTxRolledBack(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		rolledBack := make(chan struct{})
		type resumed struct {
			cursor    string
			succeeded int64
		}
		second := make(chan resumed, 1)
		var calls atomic.Int32
		handler := func(ctx context.Context, task *Task, p Progress) error {
			if calls.Add(1) > 1 {
				second <- resumed{task.Cursor, task.Succeeded}
				return nil
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				p.Succeed(2)
				return p.CheckpointTx(ctx, tx, "committed")
			}); err != nil {
				return err
			}
			errBatch := errors.New("the batch failed after its checkpoint")
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				p.Succeed(5)
				if err := p.CheckpointTx(ctx, tx, "rolled-back"); err != nil {
					return err
				}
				return errBatch
			})
			if !errors.Is(err, errBatch) {
				return err
			}
			close(rolledBack)
			<-ctx.Done() // the manager stops and gives the task back
			return ctx.Err()
		}
		cfg := testConfig(db)
		first := newManager(t, db, cfg, map[string]Handler{"test.batches": handler})
		if err := first.Start(ctx); err != nil {
			t.Fatal(err)
		}
		enqueue(t, first, "test.batches", nil)
		select {
		case <-rolledBack:
		case <-time.After(20 * time.Second):
			t.Fatal("the handler did not reach its rolled-back batch")
		}
		stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := first.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		start(t, newManager(t, reopen(t, db), cfg, map[string]Handler{"test.batches": handler}))
		select {
		case got := <-second:
			if got.cursor != "committed" || got.succeeded != 2 {
				t.Errorf("resumed at cursor %q with %d succeeded; want the committed checkpoint %q with 2", got.cursor, got.succeeded, "committed")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the task was not resumed")
		}
	})
}
