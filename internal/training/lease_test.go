package training

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// replica builds another scheduler over the fixture's database, objects and
// executor (tasks are processes of the host every replica watches).
func (fx *fixture) replica(t *testing.T, db *store.DB, id string, now func() time.Time) *Service {
	t.Helper()
	svc, err := New(Options{DB: db, Objects: fx.objects, Executor: fx.exec, DataDir: t.TempDir(), ReplicaID: id, Now: now,
		LeaseTTL: fx.svc.opts.LeaseTTL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engines: []Engine{{ID: "sh", Name: "Shell", Version: "sh", Launch: []string{"sh"}, Extensions: []string{".sh"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestSchedulerStolenLease: replica A holds the scheduler lease and runs a
// job; its lease lapses (A stalled) and replica B takes it. A's next pass
// must write nothing and start nothing — neither finishing the job whose
// task ended nor admitting a new one — and B carries on with both.
func TestSchedulerStolenLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db, 2)
		fx.svc.opts.LeaseTTL = time.Second
		a := fx.svc
		running := fx.create(t, "running", 1, 1)
		fx.pass(t)
		if got, _ := fx.phase(t, running); got != PhaseRunning {
			t.Fatalf("job is %s; want Running", got)
		}
		time.Sleep(a.opts.LeaseTTL + 300*time.Millisecond)
		b := fx.replica(t, db, "replica-b", time.Now)
		if held, err := b.acquireLease(ctx); err != nil || !held {
			t.Fatalf("B could not take the lapsed lease: held=%v err=%v", held, err)
		}
		queued := fx.create(t, "queued", 1, 1)
		fx.exec.exit(running, "worker-0", 0)

		err := a.Pass(ctx)
		if !errors.Is(err, errLeaseLost) {
			t.Errorf("A's pass after losing the lease returned %v; want the lost lease", err)
		}
		if got, _ := fx.phase(t, running); got != PhaseRunning {
			t.Errorf("A moved the job whose task ended to %s without the lease", got)
		}
		if got, _ := fx.phase(t, queued); got != PhaseCreating {
			t.Errorf("A moved the new job to %s without the lease", got)
		}
		if slices.Contains(fx.exec.startedJobs(), queued) {
			t.Error("A started a job's tasks without the lease")
		}

		if err := b.Pass(ctx); err != nil {
			t.Fatalf("B's pass: %v", err)
		}
		if got, _ := fx.phase(t, running); got != PhaseCompleted {
			t.Errorf("B left the ended job %s; want Completed", got)
		}
		if got, _ := fx.phase(t, queued); got != PhaseRunning {
			t.Errorf("B left the new job %s; want Running", got)
		}
		if held, err := a.acquireLease(ctx); err != nil || held {
			t.Errorf("A took the lease back from B while B holds it: held=%v err=%v", held, err)
		}
	})
}

// TestSchedulerLeaseSkewedClock gives one replica a clock 10 minutes ahead.
// It must not take the lease another replica holds, and a lease it took
// must lapse after the TTL by the database's clock, not by its own.
func TestSchedulerLeaseSkewedClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db, 2)
		fx.svc.opts.LeaseTTL = time.Second
		ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
		good := fx.replica(t, db, "replica-good", time.Now)
		skewed := fx.replica(t, db, "replica-skewed", ahead)

		if held, err := good.acquireLease(ctx); err != nil || !held {
			t.Fatalf("a free lease was not taken: held=%v err=%v", held, err)
		}
		if held, err := skewed.acquireLease(ctx); err != nil || held {
			t.Fatalf("a replica 10 minutes ahead took a live lease: held=%v err=%v", held, err)
		}
		good.releaseLease()
		if held, err := skewed.acquireLease(ctx); err != nil || !held {
			t.Fatalf("a released lease was not taken: held=%v err=%v", held, err)
		}
		time.Sleep(good.opts.LeaseTTL + 300*time.Millisecond)
		if held, err := good.acquireLease(ctx); err != nil || !held {
			t.Fatalf("a lease past its TTL stayed with the skewed replica: held=%v err=%v", held, err)
		}
	})
}
