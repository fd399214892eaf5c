package tasks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestRepoContract holds the tasks repository to the same answers on every
// engine: lists by resource and kind, newest first; ErrNotFound; cancel
// leaving final tasks alone; the lease's conditions (free, live, lapsed by
// the database's clock, the right job, an active task); writes fenced by
// the token; checkpoints that never move back; the sweep's orphans and its
// compare-and-set; and a failed transaction leaving nothing.
func TestRepoContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// New migrates River's schema, which the sweep's query joins; the
		// Manager is never started.
		m, err := New(ctx, db, Config{MaxFailures: 2, PollOnly: true})
		if err != nil {
			t.Fatalf("new manager: %v", err)
		}
		t.Cleanup(func() { m.Stop(context.Background()) })
		r := m.repo
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		inTx := func(what string, fn func(tx *sql.Tx) error) {
			t.Helper()
			must(what, db.InTx(ctx, fn))
		}
		newTask := func(id, kind, resource string, created, job int64) *Task {
			task := &Task{ID: id, Kind: kind, ProjectID: "p1", ResourceID: resource, Status: Queued,
				Params: json.RawMessage(`{"n":1}`), Created: store.FromMillis(created)}
			inTx("insert task "+id, func(tx *sql.Tx) error { return r.insertTask(ctx, tx, task, job) })
			return task
		}
		newTask("a", "import", "res-1", 1000, 1)
		newTask("b", "export", "res-1", 2000, 2)
		newTask("c", "import", "res-1", 2000, 3)
		newTask("d", "import", "res-2", 3000, 4)

		// Reads: not found, lists newest first (ties by id, descending).
		if _, err := r.task(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing task: got %v, want ErrNotFound", err)
		}
		if got, err := r.task(ctx, "a"); err != nil || got.Status != Queued || string(got.Params) != `{"n":1}` || got.Result != nil || !got.Started.IsZero() {
			t.Errorf("task a: %+v, %v", got, err)
		}
		for _, c := range []struct{ kind, want string }{{"", "[c b a]"}, {"import", "[c a]"}, {"sync", "[]"}} {
			list, err := r.tasks(ctx, "res-1", c.kind)
			var ids []string
			for _, task := range list {
				ids = append(ids, task.ID)
			}
			if err != nil || fmt.Sprint(ids) != c.want {
				t.Errorf("tasks of res-1 of kind %q: %v, %v; want %s", c.kind, ids, err, c.want)
			}
		}

		// Cancel: an active task becomes CANCELLED and names its job; a
		// final one stays as it is.
		if job, err := r.cancel(ctx, "b", 5000); err != nil || !job.Valid || job.Int64 != 2 {
			t.Errorf("cancel b: job %v, %v; want job 2", job, err)
		}
		if job, err := r.cancel(ctx, "b", 6000); err != nil || job.Valid {
			t.Errorf("cancel b again: job %v, %v; want no job", job, err)
		}
		if b, _ := r.task(ctx, "b"); b.Status != Cancelled || b.Finished != store.FromMillis(5000) {
			t.Errorf("cancelled task: %s ended %v; want CANCELLED at the first cancel", b.Status, b.Finished)
		}
		if _, err := r.cancel(ctx, "missing", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("cancel a missing task: got %v, want ErrNotFound", err)
		}

		// Leases: only for the task's job, only on an active task, not
		// while a live lease holds it; lapsed by the database's clock.
		take := func(id string, job int64, token string, ttl time.Duration) bool {
			t.Helper()
			var taken bool
			inTx("take lease", func(tx *sql.Tx) (err error) {
				taken, err = r.takeLease(ctx, tx, id, job, token, ttl, 7000)
				return err
			})
			return taken
		}
		state := func(id string) *leaseState {
			t.Helper()
			var st *leaseState
			inTx("lease state", func(tx *sql.Tx) (err error) {
				st, err = r.leaseState(ctx, tx, id)
				return err
			})
			return st
		}
		if take("a", 99, "t1", time.Minute) {
			t.Error("took the lease for a job the task no longer waits for")
		}
		if take("b", 2, "t1", time.Minute) {
			t.Error("took the lease of a cancelled task")
		}
		if !take("a", 1, "t1", time.Minute) {
			t.Fatal("could not take a free lease")
		}
		if st := state("a"); !st.leased || st.left <= 50*time.Second || st.left > time.Minute || st.status != Running || st.runs != 1 {
			t.Errorf("lease state after taking it for a minute: %+v", st)
		}
		if take("a", 1, "t2", time.Minute) {
			t.Error("took a live lease")
		}
		if !take("c", 3, "c1", -time.Second) || !take("c", 3, "c2", time.Minute) {
			t.Error("could not take a lease that lapsed by the database's clock")
		}
		if st := state("c"); st.runs != 2 {
			t.Errorf("runs after two leases: %d, want 2", st.runs)
		}
		must("lease state of a missing task", func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := r.leaseState(ctx, tx, "missing"); !errors.Is(err, ErrNotFound) {
					return fmt.Errorf("got %v, want ErrNotFound", err)
				}
				return nil
			})
		}())

		// Fenced writes: a token that does not hold gets errLeaseLost.
		fenced := []struct {
			name string
			fn   func(tx *sql.Tx) error
		}{
			{"renew", func(tx *sql.Tx) error { _, err := r.renewLease(ctx, tx, "a", "t2", time.Minute); return err }},
			{"checkpoint", func(tx *sql.Tx) error { _, err := r.storedCheckpoint(ctx, tx, "a", "t2"); return err }},
			{"progress", func(tx *sql.Tx) error { return r.writeProgress(ctx, tx, "a", "t2", &snapshot{}) }},
		}
		for _, f := range fenced {
			if err := db.InTx(ctx, f.fn); !errors.Is(err, errLeaseLost) {
				t.Errorf("%s with a stale token: got %v, want errLeaseLost", f.name, err)
			}
		}
		inTx("renew", func(tx *sql.Tx) error {
			status, err := r.renewLease(ctx, tx, "a", "t1", time.Minute)
			if err == nil && status != Running {
				err = fmt.Errorf("status %s, want RUNNING", status)
			}
			return err
		})

		// Progress: counters absolute, the checkpoint only forward, failure
		// rows idempotent; what a resumed run drops and reads back.
		fail := func(seq int64) pendingFailure {
			return pendingFailure{Failure{fmt.Sprintf("item-%d", seq), "bad"}, seq}
		}
		write := func(s *snapshot) {
			t.Helper()
			inTx("write progress", func(tx *sql.Tx) error { return r.writeProgress(ctx, tx, "a", "t1", s) })
		}
		write(&snapshot{total: 10, succeeded: 4, failed: 1, cursor: "k4", cpSucceeded: 4, cpFailed: 1, cpVer: 2, failures: []pendingFailure{fail(1)}})
		write(&snapshot{total: 10, succeeded: 3, failed: 1, cursor: "k3", cpSucceeded: 3, cpFailed: 1, cpVer: 1, failures: []pendingFailure{fail(1)}})
		write(&snapshot{total: 10, succeeded: 6, failed: 3, cursor: "k4", cpSucceeded: 4, cpFailed: 1, cpVer: 2, failures: []pendingFailure{fail(2), fail(3)}})
		inTx("stored checkpoint", func(tx *sql.Tx) error {
			cp, err := r.storedCheckpoint(ctx, tx, "a", "t1")
			if err == nil && cp != (checkpoint{ver: 2, succeeded: 4, failed: 1, cursor: "k4"}) {
				err = fmt.Errorf("got %+v, want version 2 at k4 covering 4 and 1: an older checkpoint moved it back", cp)
			}
			return err
		})
		if a, _ := r.task(ctx, "a"); a.Succeeded != 6 || a.Failed != 3 || a.FailuresOmitted != 1 {
			t.Errorf("task a: %d succeeded, %d failed, %d omitted; want 6, 3, 1 (two failures kept)", a.Succeeded, a.Failed, a.FailuresOmitted)
		}
		if fs, err := r.failures(ctx, "a"); err != nil || len(fs) != 3 || fs[0].Item != "item-1" || fs[2].Item != "item-3" {
			t.Errorf("failures of a: %+v, %v; want items 1 to 3 once each, in order", fs, err)
		}
		inTx("drop failures after the checkpoint", func(tx *sql.Tx) error { return r.dropFailuresAfterCheckpoint(ctx, tx, "a") })
		if fs, _ := r.failures(ctx, "a"); len(fs) != 1 {
			t.Errorf("%d failures after dropping those past the checkpoint, want 1", len(fs))
		}

		// Release: the lease goes, a RUNNING task's run is not counted; a
		// token that no longer holds changes nothing.
		inTx("release", func(tx *sql.Tx) error {
			for _, c := range []struct {
				token string
				want  Status
			}{{"t1", Running}, {"t1", ""}} {
				status, err := r.releaseLease(ctx, tx, "a", c.token)
				if err != nil || status != c.want {
					return fmt.Errorf("release with %s: %q, %v; want %q", c.token, status, err, c.want)
				}
			}
			return nil
		})
		if st := state("a"); st.leased || st.runs != 0 {
			t.Errorf("after release: %+v; want no lease and the run not counted", st)
		}
		// A new run starts from the checkpoint's counters.
		if !take("a", 1, "t3", time.Minute) {
			t.Fatal("could not take a released lease")
		}
		if a, _ := r.task(ctx, "a"); a.Succeeded != 4 || a.Failed != 1 || a.Cursor != "k4" || a.Started != store.FromMillis(7000) {
			t.Errorf("resumed task: %d succeeded, %d failed at %q, started %v; want the checkpoint's 4 and 1 at k4", a.Succeeded, a.Failed, a.Cursor, a.Started)
		}

		// Finish: a RUNNING task takes the status; a CANCELLED one keeps it.
		inTx("finish a", func(tx *sql.Tx) error {
			return r.finishTask(ctx, tx, "a", "t3", Succeeded, "", json.RawMessage(`{"ok":true}`), 8000)
		})
		if a, _ := r.task(ctx, "a"); a.Status != Succeeded || string(a.Result) != `{"ok":true}` || a.Finished != store.FromMillis(8000) {
			t.Errorf("finished task: %s %s at %v", a.Status, a.Result, a.Finished)
		}
		if _, err := r.cancel(ctx, "c", 8500); err != nil {
			t.Fatal(err)
		}
		inTx("finish c", func(tx *sql.Tx) error { return r.finishTask(ctx, tx, "c", "c2", Failed, "boom", nil, 9000) })
		if c, _ := r.task(ctx, "c"); c.Status != Cancelled || c.ErrorMessage != "" || c.Finished != store.FromMillis(8500) {
			t.Errorf("a cancelled task finished as failed: %s %q at %v", c.Status, c.ErrorMessage, c.Finished)
		}

		// The sweep: active tasks without a live lease or a live River
		// job; re-queued once.
		newTask("e", "import", "res-3", 4000, 5)
		inTx("fail e", func(tx *sql.Tx) error { return r.failTask(ctx, tx, "e", "interrupted", 4500) })
		if e, _ := r.task(ctx, "e"); e.Status != Failed || e.ErrorMessage != "interrupted" {
			t.Errorf("failed task: %s %q", e.Status, e.ErrorMessage)
		}
		if !take("d", 4, "d1", time.Minute) {
			t.Fatal("could not take d's lease")
		}
		newTask("f", "import", "res-3", 5000, 6)
		orphans, err := r.orphans(ctx)
		must("orphans", err)
		if fmt.Sprint(orphans) != "[{f 6}]" {
			t.Errorf("orphans: %v; want only f (d holds a live lease, the rest are final)", orphans)
		}
		for _, want := range []bool{true, false} {
			var won bool
			inTx("requeue f", func(tx *sql.Tx) (err error) {
				won, err = r.requeue(ctx, tx, "f", 6, 60)
				return err
			})
			if won != want {
				t.Errorf("requeue f from job 6: %v, want %v", won, want)
			}
		}
		inTx("requeue d", func(tx *sql.Tx) error {
			won, err := r.requeue(ctx, tx, "d", 4, 40)
			if err == nil && won {
				err = errors.New("re-queued a task under a live lease")
			}
			return err
		})

		// A transaction that fails leaves nothing behind.
		errAbort := errors.New("abort")
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			task := &Task{ID: "g", Kind: "import", ProjectID: "p1", ResourceID: "res-3", Status: Queued, Params: json.RawMessage(`{}`), Created: store.FromMillis(1)}
			if err := r.insertTask(ctx, tx, task, 7); err != nil {
				return err
			}
			if _, err := r.releaseLease(ctx, tx, "d", "d1"); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("failed transaction: %v", err)
		}
		if _, err := r.task(ctx, "g"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a task inserted by a failed transaction: %v", err)
		}
		if st := state("d"); !st.leased {
			t.Error("a lease released by a failed transaction is gone")
		}
	})
}
