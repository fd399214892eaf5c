package teamtask_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// env is the team labeling room over a real database: the dataset core
// with one dataset in the IAM account's project, the workforce service
// with a real IAM service (members get IAM users), a task manager that is
// never started (notifications are not under test) and a clock that ticks
// one millisecond per read, so history events have distinct times.
//
// It takes testing.TB (datasettest.NewEnv takes *testing.T and a fixed
// project that is not an IAM account's), so the benchmarks build it too.
type env struct {
	tb    testing.TB
	db    *store.DB
	core  *dataset.Service
	wf    *workforce.Service
	svc   *teamtask.Service
	acct  *iam.Account
	ds    string
	owner teamtask.Caller
	wsc   workforce.Scope
}

// member is a team member as a test acts for it.
type member struct {
	worker string // workforce worker ID (the allocations' worker_id)
	c      teamtask.Caller
}

// catalogActions are the route actions the IAM catalog registers: the
// system policies' patterns must each match one (the labeling policies
// name the team labeling and sample actions).
var catalogActions = []string{"modelarts:processTask:getWorkforce", "modelarts:trainJob:previewLog",
	"modelarts:dataset:getWorkforceTask", "modelarts:dataset:listWorkforceTasks", "modelarts:dataset:updateWorkforceTask",
	"modelarts:sample:getSample", "modelarts:sample:listSamples", "modelarts:pool:create", "modelarts:pool:update", "modelarts:pool:delete"}

func newEnv(tb testing.TB, engine store.Engine, typ int) *env {
	tb.Helper()
	db, err := store.Open(context.Background(), storetest.Migrated(tb, engine), tb.TempDir())
	if err != nil {
		tb.Fatalf("open %s database: %v", engine, err)
	}
	tb.Cleanup(func() { db.Close() })
	e, closeObjects := buildEnv(tb, db, tb.TempDir(), typ)
	tb.Cleanup(closeObjects)
	return e
}

// buildEnv builds the room on an open database with its object store
// under dir; the caller closes both (the benchmarks keep theirs for the
// whole run, past the first benchmark's cleanups).
func buildEnv(tb testing.TB, db *store.DB, dir string, typ int) (*env, func()) {
	tb.Helper()
	ctx := context.Background()
	ids, err := iam.NewService(ctx, db, iam.NewCatalog(catalogActions), iam.Options{})
	if err != nil {
		tb.Fatalf("open iam: %v", err)
	}
	acct, err := ids.CreateAccount(ctx, iam.AccountInput{DomainName: "acme", Region: "test-1", Endpoint: "http://127.0.0.1"})
	if err != nil {
		tb.Fatalf("create account: %v", err)
	}
	var tick atomic.Int64
	tick.Store(1_700_000_000_000)
	now := func() time.Time { return time.UnixMilli(tick.Add(1)) }
	wf, err := workforce.New(workforce.Options{DB: db, Identities: ids, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	objects, err := obs.NewLocal(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := objects.CreateBucket(ctx, "data"); err != nil {
		tb.Fatal(err)
	}
	core, err := dataset.New(dataset.Options{DB: db, Objects: objects})
	if err != nil {
		tb.Fatal(err)
	}
	plan, err := core.PlanCreate(dataset.Scope{ProjectID: acct.ProjectID, WorkspaceID: "0"}, &dataset.CreateRequest{
		DatasetName: "ds", DatasetType: &typ, WorkPath: "/data/work/", WorkPathType: new(int),
		DataSources: []dataset.DataSource{{DataPath: "/data/in/"}}, ImportData: new(bool), Managed: new(bool)})
	if err != nil {
		tb.Fatalf("plan dataset: %v", err)
	}
	ds, err := core.CommitCreate(ctx, plan, nil)
	if err != nil {
		tb.Fatalf("create dataset: %v", err)
	}
	m, err := tasks.New(ctx, db, tasks.Config{FlushInterval: 50 * time.Millisecond, LeaseTTL: 5 * time.Second,
		FetchPollInterval: 100 * time.Millisecond, SweepInterval: time.Second})
	if err != nil {
		tb.Fatalf("task manager: %v", err)
	}
	svc, err := teamtask.New(teamtask.Options{DB: db, Datasets: core, Workforces: wf, Tasks: m, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return &env{tb: tb, db: db, core: core, wf: wf, svc: svc, acct: acct, ds: ds,
			owner: teamtask.Caller{DomainID: acct.DomainID, ProjectID: acct.ProjectID, WorkspaceID: "0", UserID: acct.UserID, UserName: "admin", Owner: true},
			wsc:   workforce.Scope{DomainID: acct.DomainID, ProjectID: acct.ProjectID, WorkspaceID: "0", UserID: acct.UserID}},
		func() { objects.Close() }
}

func (e *env) team(name string) string {
	e.tb.Helper()
	id, err := e.wf.Create(context.Background(), e.wsc, &workforce.CreateRequest{Name: name})
	if err != nil {
		e.tb.Fatalf("create team %s: %v", name, err)
	}
	return id
}

func (e *env) member(team, email string, role int) member {
	e.tb.Helper()
	ctx := context.Background()
	id, err := e.wf.AddWorker(ctx, e.wsc, team, &workforce.WorkerRequest{Email: email, Role: &role})
	if err != nil {
		e.tb.Fatalf("add %s to %s: %v", email, team, err)
	}
	w, err := e.wf.GetWorker(ctx, e.acct.ProjectID, team, id)
	if err != nil {
		e.tb.Fatal(err)
	}
	return member{worker: id, c: teamtask.Caller{DomainID: e.acct.DomainID, ProjectID: e.acct.ProjectID, WorkspaceID: "0",
		UserID: w.UserID, UserName: email}}
}

// labels adds image classification labels to the dataset.
func (e *env) labels(names ...string) {
	e.tb.Helper()
	typ := annotation.TypeImageClassification
	var ls []dataset.Label
	for _, n := range names {
		ls = append(ls, dataset.Label{Name: n, Type: &typ})
	}
	if _, err := e.core.CreateLabels(context.Background(), e.acct.ProjectID, e.ds, ls); err != nil {
		e.tb.Fatalf("create labels: %v", err)
	}
}

// write adds samples numbered from start on, labeled with label when it is
// not empty, and returns their IDs.
func (e *env) write(start, n int, label string) []string {
	e.tb.Helper()
	in := make([]dataset.SampleInput, n)
	for i := range in {
		in[i] = dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%07d.jpg", start+i), Size: 1000, SampleTime: 1_700_000_000_000}
		if label != "" {
			in[i].Labels = cls(label)
		}
	}
	res, err := e.core.WriteSamples(context.Background(), e.acct.ProjectID, e.ds, in, dataset.WriteOptions{})
	if err != nil {
		e.tb.Fatalf("write samples: %v", err)
	}
	ids := make([]string, n)
	for i, r := range res {
		if r.Err != nil {
			e.tb.Fatalf("write sample %d: %v", i, r.Err)
		}
		ids[i] = r.SampleID
	}
	return ids
}

func cls(names ...string) []annotation.Label {
	out := make([]annotation.Label, len(names))
	for i, n := range names {
		out[i] = annotation.Label{Name: n, Type: annotation.TypeImageClassification}
	}
	return out
}

// teamOf is a workforces_config naming whole teams.
func teamsOf(ids ...string) *teamtask.WorkforcesConfig {
	cfg := &teamtask.WorkforcesConfig{}
	for _, id := range ids {
		cfg.Workforces = append(cfg.Workforces, teamtask.WorkforceConfig{WorkforceID: id})
	}
	return cfg
}

// create creates and starts a task.
func (e *env) create(name string, req *teamtask.CreateRequest, start bool) string {
	e.tb.Helper()
	ctx := context.Background()
	req.TaskName = name
	id, err := e.svc.Create(ctx, e.owner, e.ds, req)
	if err != nil {
		e.tb.Fatalf("create task %s: %v", name, err)
	}
	if start {
		if err := e.svc.Start(ctx, e.owner, e.ds, id, nil); err != nil {
			e.tb.Fatalf("start task %s: %v", name, err)
		}
	}
	return id
}

// all pages through every allocation the caller sees.
func (e *env) all(c teamtask.Caller, task string, q teamtask.SampleQuery) (int64, []*teamtask.TeamSample) {
	e.tb.Helper()
	var out []*teamtask.TeamSample
	var total int64
	q.Limit = 7 // small pages, so paging is exercised
	for q.Offset = 0; ; q.Offset += q.Limit {
		n, page, err := e.svc.Samples(context.Background(), c, e.ds, task, q)
		if err != nil {
			e.tb.Fatalf("samples of %s (offset %d): %v", task, q.Offset, err)
		}
		total = n
		out = append(out, page...)
		if len(page) < q.Limit {
			return total, out
		}
	}
}

// alloc is an allocation as stored.
type allocRow struct {
	seq      int64
	sampleID string
	worker   string
	state    int
}

// allocs reads a task's allocations straight from the table.
func (e *env) allocs(task string) []allocRow {
	e.tb.Helper()
	rows, err := e.db.QueryContext(context.Background(), `SELECT sample_seq, sample_id, worker_id, state FROM team_samples
		WHERE task_id = $1 ORDER BY sample_seq, worker_id`, task)
	if err != nil {
		e.tb.Fatal(err)
	}
	defer rows.Close()
	var out []allocRow
	for rows.Next() {
		var a allocRow
		if err := rows.Scan(&a.seq, &a.sampleID, &a.worker, &a.state); err != nil {
			e.tb.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		e.tb.Fatal(err)
	}
	return out
}

// checkCounters compares the task's statistics (answered from counters)
// with a recount of its allocations, for the whole task and each member.
func (e *env) checkCounters(step, task string) {
	e.tb.Helper()
	brute := func(rows []allocRow) teamtask.SampleStats {
		var st teamtask.SampleStats
		for _, a := range rows {
			st.Total++
			switch a.state {
			case teamtask.StateUnlabeled:
				st.Unannotated++
			case teamtask.StateUnreviewed:
				st.Unreviewed++
			case teamtask.StateRejected:
				st.Rejected++
			case teamtask.StateUncheck:
				st.Uncheck++
			case teamtask.StateAccepted:
				st.Accepted++
			}
		}
		return st
	}
	rows := e.allocs(task)
	t, err := e.svc.Get(context.Background(), e.owner, e.ds, task, teamtask.GetOptions{SampleStats: true, WorkforceStats: true})
	if err != nil {
		e.tb.Fatalf("%s: get task: %v", step, err)
	}
	if want := brute(rows); *t.SampleStats != want {
		e.tb.Errorf("%s: task sample_stats = %+v, recount %+v", step, *t.SampleStats, want)
	}
	byWorker := map[string][]allocRow{}
	for _, a := range rows {
		byWorker[a.worker] = append(byWorker[a.worker], a)
	}
	for _, ws := range t.WorkerStats {
		if want := brute(byWorker[ws.WorkerID]); *ws.SampleStats != want {
			e.tb.Errorf("%s: member %s sample_stats = %+v, recount %+v", step, ws.WorkerID, *ws.SampleStats, want)
		}
	}
}

func kindOf(err error) string {
	if err == nil {
		return "nil"
	}
	switch fault.KindOf(err) {
	case fault.NotFound:
		return "NotFound"
	case fault.Forbidden:
		return "Forbidden"
	case fault.Invalid:
		return "Invalid"
	case fault.Conflict:
		return "Conflict"
	}
	return "Internal(" + err.Error() + ")"
}

func boolp(b bool) *bool { return &b }
func intp(i int) *int    { return &i }
