package training

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/training/executor"
)

// fakeExec is an in-memory executor: tasks "run" until the test ends them.
type fakeExec struct {
	mu       sync.Mutex
	capacity executor.Resources
	flavors  []executor.Flavor
	startErr error
	started  []executor.JobSpec
	states   map[executor.Handle]executor.State
	signals  map[executor.Handle]int
	// stubborn tasks ignore Terminate (as a task that traps SIGTERM does
	// until the executor's SIGKILL comes).
	stubborn bool
	// usage, when set, answers Usage (a test's clock and figures).
	usage func() executor.Usage
}

func newFakeExec(cpus float64) *fakeExec {
	return &fakeExec{capacity: executor.Resources{CPU: cpus, MemoryMiB: int64(cpus) * 2048},
		flavors: []executor.Flavor{{ID: "fake.1u2g", Name: "one core", CPU: 1, MemoryMiB: 2048}},
		states:  map[executor.Handle]executor.State{}, signals: map[executor.Handle]int{}}
}

func (f *fakeExec) Name() string                 { return "fake" }
func (f *fakeExec) Flavors() []executor.Flavor   { return f.flavors }
func (f *fakeExec) Capacity() executor.Resources { return f.capacity }
func (f *fakeExec) handle(job, task string) executor.Handle {
	return executor.Handle(job + "/" + task)
}

func (f *fakeExec) Start(ctx context.Context, spec executor.JobSpec) ([]executor.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.started = append(f.started, spec)
	var hs []executor.Handle
	for _, t := range spec.Tasks {
		h := f.handle(spec.JobID, t.ID)
		f.states[h] = executor.State{Running: true, StartedAt: time.Now()}
		hs = append(hs, h)
	}
	return hs, nil
}

func (f *fakeExec) State(ctx context.Context, h executor.Handle) (executor.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[h]
	if !ok {
		return executor.State{Lost: true}, nil
	}
	return st, nil
}

func (f *fakeExec) Terminate(ctx context.Context, h executor.Handle, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals[h]++
	if st := f.states[h]; st.Running && !f.stubborn {
		f.states[h] = executor.State{Exited: true, ExitCode: 143, Signal: "SIGTERM", EndedAt: time.Now()}
	}
	return nil
}

func (f *fakeExec) Usage(ctx context.Context, h executor.Handle) (executor.Usage, error) {
	if f.usage != nil {
		return f.usage(), nil
	}
	return executor.Usage{At: time.Now(), CPUPercent: 50, MemoryMiB: 512}, nil
}

// exit ends a task with a code; lose makes it vanish.
func (f *fakeExec) exit(job, task string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[f.handle(job, task)] = executor.State{Exited: true, ExitCode: code, EndedAt: time.Now()}
}

func (f *fakeExec) lose(job, task string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[f.handle(job, task)] = executor.State{Lost: true}
}

func (f *fakeExec) startedJobs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, s := range f.started {
		ids = append(ids, s.JobID)
	}
	return ids
}

type fixture struct {
	svc     *Service
	exec    *fakeExec
	objects *obs.Local
	scope   Scope
}

func newFixture(t testing.TB, db *store.DB, cpus float64) *fixture {
	t.Helper()
	dir := t.TempDir()
	objects, err := obs.NewLocal(filepath.Join(dir, "obs"), obs.NewURLSigner("http://127.0.0.1:1", []byte("k"), time.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objects.Close() })
	ctx := context.Background()
	if err := objects.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	for key, content := range map[string]string{"code/run.sh": "echo hi\n", "data/x.txt": "x\n"} {
		if _, err := objects.Put(ctx, "bkt", key, strings.NewReader(content), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ex := newFakeExec(cpus)
	svc, err := New(Options{DB: db, Objects: objects, Executor: ex, DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engines: []Engine{{ID: "sh", Name: "Shell", Version: "sh", Launch: []string{"sh"}, Extensions: []string{".sh"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, exec: ex, objects: objects, scope: Scope{DomainID: "d", ProjectID: "p", WorkspaceID: "0", UserID: "u", UserName: "user"}}
}

func (fx *fixture) create(t testing.TB, name string, nodes, priority int) string {
	t.Helper()
	ctx := context.Background()
	req := &JobRequest{Metadata: &JobMetadataIn{Name: name},
		Algorithm: &JobAlgorithmIn{CodeDir: "obs://bkt/code/", BootFile: "obs://bkt/code/run.sh",
			Parameters: []Parameter{{Name: "lr", Value: "0.1; rm -rf /"}},
			Inputs:     []JobInput{{Name: "data_url", Remote: &InputRemote{OBS: &OBSRef{OBSURL: "obs://bkt/data/"}}}},
			Outputs:    []JobOutput{{Name: "train_url", Remote: &OutputRemote{OBS: &OBSRef{OBSURL: "obs://bkt/out/" + name + "/"}}}}},
		Spec: &JobSpecIn{Resource: &SpecResourceIn{FlavorID: "fake.1u2g", NodeCount: &nodes}, SchedulePolicy: &SchedulePolicy{Priority: &priority}}}
	plan, err := fx.svc.PlanJob(ctx, fx.scope, req)
	if err != nil {
		t.Fatalf("plan %s: %v", name, err)
	}
	j, err := fx.svc.CommitJob(ctx, plan)
	if err != nil {
		t.Fatalf("commit %s: %v", name, err)
	}
	return j.Metadata.ID
}

// pass makes one scheduling pass as the lease holder.
func (fx *fixture) pass(t *testing.T) {
	t.Helper()
	if held, err := fx.svc.acquireLease(context.Background()); err != nil || !held {
		t.Fatalf("take the scheduler lease: held=%v err=%v", held, err)
	}
	if err := fx.svc.Pass(context.Background()); err != nil {
		t.Fatalf("pass: %v", err)
	}
}

func (fx *fixture) phase(t *testing.T, id string) (string, string) {
	t.Helper()
	j, err := fx.svc.GetJob(context.Background(), "p", id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return j.Status.Phase, j.Status.SecondaryPhase
}

func (fx *fixture) events(t *testing.T, id string) []string {
	t.Helper()
	_, evs, err := fx.svc.JobEvents(context.Background(), "p", id, EventQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

func TestSchedulerAdmitsByPriorityWithinCapacity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 2)
		low1 := fx.create(t, "low1", 1, 1)
		low2 := fx.create(t, "low2", 1, 1)
		high := fx.create(t, "high", 1, 3)
		fx.pass(t)
		for id, want := range map[string]string{high: PhaseRunning, low1: PhaseRunning, low2: PhasePending} {
			if got, sec := fx.phase(t, id); got != want {
				t.Errorf("job %s is %s/%s; want %s", id, got, sec, want)
			}
		}
		if _, sec := fx.phase(t, low2); sec != SecondaryQueuing {
			t.Errorf("queued job's secondary phase %s; want Queuing", sec)
		}
		if got := fx.exec.startedJobs(); len(got) != 2 || got[0] != high {
			t.Errorf("started %v; want the high-priority job first, then low1", got)
		}
		spec := fx.exec.started[0]
		argv := spec.Tasks[0].Command
		if argv[len(argv)-1] != "--lr=0.1; rm -rf /" || !strings.HasPrefix(argv[len(argv)-3], "--data_url=") || !strings.HasPrefix(argv[len(argv)-2], "--train_url=") {
			t.Errorf("argv %q; want inputs, outputs, then each hyperparameter as one --key=value argument", argv)
		}
		if b, err := os.ReadFile(filepath.Join(spec.Tasks[0].Dir, "run.sh")); err != nil || string(b) != "echo hi\n" {
			t.Errorf("code not materialised in the task dir: %q, %v", b, err)
		}
		env := spec.Tasks[0].Env
		if env["MA_JOB_DIR"] == "" || env["MA_LOG_DIR"] == "" || env["MA_NUM_GPUS"] != "0" {
			t.Errorf("task env %v", env)
		}

		// The high-priority job ends: its output is uploaded and low2 gets its place.
		out := filepath.Join(fx.svc.jobDir(high), "outputs", "train_url", "model.bin")
		if err := os.WriteFile(out, []byte("weights"), 0o644); err != nil {
			t.Fatal(err)
		}
		fx.exec.exit(high, "worker-0", 0)
		fx.pass(t)
		if got, _ := fx.phase(t, high); got != PhaseCompleted {
			t.Errorf("finished job is %s; want Completed (events %q)", got, fx.events(t, high))
		}
		if _, err := fx.objects.Head(context.Background(), "bkt", "out/high/model.bin"); err != nil {
			t.Errorf("output not uploaded: %v", err)
		}
		if got, _ := fx.phase(t, low2); got != PhaseRunning {
			t.Errorf("queued job is %s after capacity freed; want Running", got)
		}

		// A non-zero exit fails the job with the reason in its events.
		fx.exec.exit(low1, "worker-0", 3)
		fx.pass(t)
		if got, _ := fx.phase(t, low1); got != PhaseFailed {
			t.Errorf("job with exit code 3 is %s; want Failed", got)
		}
		evs := fx.events(t, low1)
		if !containsPart(evs, "Exit code 3") || !containsPart(evs, "Training job failed: task worker-0 exited with code 3") {
			t.Errorf("events %q", evs)
		}
	})
}

func containsPart(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

func TestSchedulerTerminate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 1)
		running := fx.create(t, "running", 1, 1)
		queued := fx.create(t, "queued", 1, 1)
		fx.pass(t)
		// A queued job is terminated at once, without starting.
		if _, err := fx.svc.TerminateJob(context.Background(), "p", queued); err != nil {
			t.Fatal(err)
		}
		if got, _ := fx.phase(t, queued); got != PhaseTerminated {
			t.Errorf("terminated queued job is %s", got)
		}
		j, err := fx.svc.TerminateJob(context.Background(), "p", running)
		if err != nil || j.Status.Phase != PhaseTerminating {
			t.Fatalf("terminate running = %+v, %v; want Terminating", j, err)
		}
		fx.pass(t) // signals the task (the fake ends it at once)
		fx.pass(t)
		if got, _ := fx.phase(t, running); got != PhaseTerminated {
			t.Errorf("terminated running job is %s; want Terminated (events %q)", got, fx.events(t, running))
		}
		if n := fx.exec.signals[fx.exec.handle(running, "worker-0")]; n != 1 {
			t.Errorf("task signalled %d times; want once", n)
		}
		if len(fx.exec.startedJobs()) != 1 {
			t.Errorf("started %v; the queued job must never start", fx.exec.startedJobs())
		}
		_, err = fx.svc.TerminateJob(context.Background(), "p", running)
		if e, ok := AsError(err); !ok || e.Kind != KindConflict {
			t.Errorf("terminating a terminated job: %v; want a conflict", err)
		}
	})
}

func TestSchedulerLostAndFailedStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 4)
		multi := fx.create(t, "multi", 2, 1)
		fx.pass(t)
		fx.exec.lose(multi, "worker-1")
		fx.pass(t) // worker-0 is terminated: a job is all its tasks
		fx.pass(t)
		if got, sec := fx.phase(t, multi); got != PhaseAbnormal || sec != SecondaryLost {
			t.Errorf("job with a lost task is %s/%s; want Abnormal/Lost", got, sec)
		}
		if !containsPart(fx.events(t, multi), "[worker-1] The task was lost") {
			t.Errorf("events %q", fx.events(t, multi))
		}

		// One task fails: the other is terminated, and the job's failure
		// names the task that failed first, not the one stopped for it.
		pair := fx.create(t, "pair", 2, 1)
		fx.pass(t)
		time.Sleep(2 * time.Millisecond)
		fx.exec.exit(pair, "worker-1", 2)
		time.Sleep(2 * time.Millisecond)
		fx.pass(t)
		fx.pass(t)
		if got, _ := fx.phase(t, pair); got != PhaseFailed {
			t.Errorf("job with a failed task is %s; want Failed", got)
		}
		if fx.exec.signals[fx.exec.handle(pair, "worker-0")] != 1 {
			t.Errorf("the surviving task was not terminated")
		}
		if evs := fx.events(t, pair); !containsPart(evs, "Training job failed: task worker-1 exited with code 2") {
			t.Errorf("events %q; want worker-1 named", evs)
		}

		fx.exec.startErr = errors.New("exec: \"python9\": executable file not found in $PATH")
		broken := fx.create(t, "broken", 1, 1)
		fx.pass(t)
		if got, sec := fx.phase(t, broken); got != PhaseFailed || sec != SecondaryCreateFailed {
			t.Errorf("job whose process cannot start is %s/%s; want Failed/CreateFailed", got, sec)
		}
		if !containsPart(fx.events(t, broken), "executable file not found") {
			t.Errorf("events %q lack the reason", fx.events(t, broken))
		}
	})
}

func TestSchedulerDeleteRunning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 1)
		id := fx.create(t, "doomed", 1, 1)
		fx.pass(t)
		if err := fx.svc.DeleteJob(context.Background(), "p", id); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.svc.GetJob(context.Background(), "p", id); err == nil {
			t.Errorf("a deleted job is still visible")
		}
		fx.pass(t)
		fx.pass(t)
		fx.pass(t)
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM training_jobs`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d job rows after the delete (err %v); want 0", n, err)
		}
		if _, err := os.Stat(fx.svc.jobDir(id)); !os.IsNotExist(err) {
			t.Errorf("working directory remains: %v", err)
		}
		if fx.exec.signals[fx.exec.handle(id, "worker-0")] != 1 {
			t.Errorf("the running task was not terminated before the delete")
		}
	})
}

// TestLease: one replica runs the scheduler; another takes over only when
// the holder's lease lapses.
// TestLease walks the scheduler lease through taking, renewing, lapsing
// and releasing. Expiry is the database's clock, so the steps wait in real
// time; the margins are wide enough for a loaded machine.
func TestLease(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel() // the steps only sleep; each engine has its own database
			testLease(t, storetest.Open(t, engine))
		})
	}
}

func testLease(t *testing.T, db *store.DB) {
	const ttl = 2 * time.Second
	mk := func(id string) *Service {
		s, err := New(Options{DB: db, Objects: &obs.Local{}, ReplicaID: id, LeaseTTL: ttl, Engines: []Engine{}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk("replica-a"), mk("replica-b")
	ctx := context.Background()
	for i, step := range []struct {
		s     *Service
		sleep time.Duration
		want  bool
	}{
		{a, 0, true},                            // free: a takes it
		{b, 0, false},                           // held by a
		{a, ttl / 2, true},                      // a renews
		{b, ttl * 7 / 10, false},                // a's renewal still holds
		{b, ttl/2 + 200*time.Millisecond, true}, // lapsed: b takes over
		{a, 0, false},                           // a lost it
		{b, ttl + 200*time.Millisecond, true},   // b renews after its lease lapsed when nobody else came
	} {
		time.Sleep(step.sleep)
		got, err := step.s.acquireLease(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != step.want {
			t.Errorf("step %d: %s acquired=%v; want %v", i, step.s.opts.ReplicaID, got, step.want)
		}
	}
	b.releaseLease()
	if got, _ := a.acquireLease(ctx); !got {
		t.Errorf("after b released the lease, a could not take it")
	}
}

func TestTailFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log")
	line := "ligne é\n" // 9 bytes with a 2-byte character
	var sb strings.Builder
	for range 1000 {
		sb.WriteString(line)
	}
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{1, 2, 5, 100, 9000, 1 << 20} {
		got, err := tailFile(dir, "log", limit)
		if err != nil {
			t.Fatal(err)
		}
		if got.FullSize != 9000 || got.CurrentSize != int64(len(got.Content)) || got.CurrentSize > limit {
			t.Errorf("limit %d: full %d current %d", limit, got.FullSize, got.CurrentSize)
		}
		if !strings.HasSuffix(sb.String(), got.Content) || !isUTF8(got.Content) {
			t.Errorf("limit %d: %q is not a valid tail", limit, got.Content)
		}
	}
	missing, err := tailFile(dir, "none", 10)
	if err != nil || missing.FullSize != 0 || missing.Content != "" {
		t.Errorf("missing log = %+v, %v; want empty", missing, err)
	}
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestAutoStop: a job running past spec.auto_stop is terminated.
func TestAutoStop(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	fx := newFixture(t, db, 1)
	now := time.Now()
	fx.svc.now = func() time.Time { return now }
	ctx := context.Background()
	one := 1
	plan, err := fx.svc.PlanJob(ctx, fx.scope, &JobRequest{Metadata: &JobMetadataIn{Name: "bounded"},
		Algorithm: &JobAlgorithmIn{CodeDir: "obs://bkt/code/", BootFile: "obs://bkt/code/run.sh"},
		Spec: &JobSpecIn{Resource: &SpecResourceIn{FlavorID: "fake.1u2g", NodeCount: &one},
			AutoStop: &AutoStop{TimeUnit: "HOURS", Duration: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := fx.svc.CommitJob(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	fx.pass(t)
	now = now.Add(time.Hour)
	fx.pass(t)
	if got, _ := fx.phase(t, j.Metadata.ID); got != PhaseRunning {
		t.Fatalf("after 1 of 2 hours the job is %s", got)
	}
	now = now.Add(time.Hour + time.Second)
	fx.pass(t)
	fx.pass(t)
	if got, _ := fx.phase(t, j.Metadata.ID); got != PhaseTerminated {
		t.Errorf("after its auto stop time the job is %s; want Terminated", got)
	}
	if !containsPart(fx.events(t, j.Metadata.ID), "auto stop") {
		t.Errorf("events %q", fx.events(t, j.Metadata.ID))
	}
	if _, err := fx.svc.PlanJob(ctx, fx.scope, &JobRequest{Metadata: &JobMetadataIn{Name: "bad"},
		Algorithm: &JobAlgorithmIn{CodeDir: "obs://bkt/code/", BootFile: "obs://bkt/code/run.sh"},
		Spec:      &JobSpecIn{Resource: &SpecResourceIn{FlavorID: "fake.1u2g"}, AutoStop: &AutoStop{TimeUnit: "MINUTES", Duration: 1}}}); err == nil {
		t.Errorf("auto_stop in MINUTES was accepted (the reference has HOURS only)")
	}
}

// A job told to terminate whose tasks outlive the signal is told again by
// a restarted server (the executor's SIGKILL timer died with the old one)
// and again after the grace period; Lost tasks are terminated too, since
// their processes may still run.
func TestSchedulerResignalsAfterRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fx := newFixture(t, db, 2)
		fx.exec.stubborn = true
		id := fx.create(t, "stubborn", 2, 1)
		fx.pass(t)
		if _, err := fx.svc.TerminateJob(ctx, "p", id); err != nil {
			t.Fatal(err)
		}
		fx.pass(t)
		fx.pass(t)
		h0 := fx.exec.handle(id, "worker-0")
		if n := fx.exec.signals[h0]; n != 1 {
			t.Fatalf("signalled %d times by one server within the grace period; want 1", n)
		}
		// A restart: a new service over the same database and tasks.
		now := time.Now()
		clock := func() time.Time { return now }
		svc, err := New(Options{DB: db, Objects: fx.objects, Executor: fx.exec, DataDir: t.TempDir(), Now: clock,
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			Engines: []Engine{{ID: "sh", Name: "Shell", Version: "sh", Launch: []string{"sh"}, Extensions: []string{".sh"}}}})
		if err != nil {
			t.Fatal(err)
		}
		fx.svc.releaseLease() // the old server stopped
		pass := func() {
			t.Helper()
			if held, err := svc.acquireLease(ctx); err != nil || !held {
				t.Fatalf("take the scheduler lease: held=%v err=%v", held, err)
			}
			if err := svc.Pass(ctx); err != nil {
				t.Fatal(err)
			}
		}
		pass()
		if n := fx.exec.signals[h0]; n != 2 {
			t.Fatalf("after a restart the still-running task was signalled %d times in all; want 2", n)
		}
		pass()
		if n := fx.exec.signals[h0]; n != 2 {
			t.Fatalf("signalled again within the grace period: %d; want 2", n)
		}
		now = now.Add(3 * svc.opts.Grace)
		fx.exec.lose(id, "worker-1")
		pass()
		if n := fx.exec.signals[h0]; n != 3 {
			t.Fatalf("after the grace period the task was signalled %d times; want 3", n)
		}
		if n := fx.exec.signals[fx.exec.handle(id, "worker-1")]; n < 2 {
			t.Fatalf("the lost task was signalled %d times; want it terminated too", n)
		}
		fx.exec.stubborn = false
		fx.exec.exit(id, "worker-0", 137)
		pass()
		pass()
		if got, _ := fx.phase(t, id); got != PhaseTerminated && got != PhaseAbnormal {
			t.Fatalf("job is %s after its tasks ended; want Terminated (or Abnormal for the lost task)", got)
		}
	})
}

// TestSchedulerPassesTheImage: a job naming a container image reaches an
// executor other than the local one with the image, and its command runs
// as ModelArts runs a custom image's: shell text, with the job's arguments
// after it as "$@", each one argument.
func TestSchedulerPassesTheImage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fx := newFixture(t, db, 2)
		nodes := 1
		req := &JobRequest{Metadata: &JobMetadataIn{Name: "image"},
			Algorithm: &JobAlgorithmIn{CodeDir: "obs://bkt/code/", BootFile: "obs://bkt/code/run.sh", Command: "cd /opt/app && python train.py",
				Engine:     &EngineRef{ImageURL: "registry.example/team/train:1.0"},
				Parameters: []Parameter{{Name: "lr", Value: "0.1; rm -rf /"}}},
			Spec: &JobSpecIn{Resource: &SpecResourceIn{FlavorID: "fake.1u2g", NodeCount: &nodes}}}
		ctx := context.Background()
		plan, err := fx.svc.PlanJob(ctx, fx.scope, req)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		j, err := fx.svc.CommitJob(ctx, plan)
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		fx.pass(t)
		if got, _ := fx.phase(t, j.Metadata.ID); got != PhaseRunning {
			t.Fatalf("image job is %s (events %q); want Running", got, fx.events(t, j.Metadata.ID))
		}
		spec := fx.exec.started[0]
		if spec.Image != "registry.example/team/train:1.0" {
			t.Errorf("JobSpec.Image = %q", spec.Image)
		}
		want := []string{"/bin/sh", "-c", `cd /opt/app && python train.py "$@"`, "sh", "--lr=0.1; rm -rf /"}
		if got := spec.Tasks[0].Command; !slices.Equal(got, want) {
			t.Errorf("argv %q, want %q", got, want)
		}
		if b, err := os.ReadFile(filepath.Join(spec.Tasks[0].Dir, "run.sh")); err != nil || string(b) != "echo hi\n" {
			t.Errorf("the code directory is not the task's working directory: %q, %v", b, err)
		}
	})
}
