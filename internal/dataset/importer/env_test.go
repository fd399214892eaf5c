package importer

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

const impProject = "p-import"

// impEnv is a dataset service with a running tasks manager over a real
// database and the local object store.
type impEnv struct {
	t       *testing.T
	ctx     context.Context
	db      *store.DB
	dsn     string
	objects *obs.Local
	m       *tasks.Manager
	ds      *dataset.Service
	svc     *Service
	// auth decides the objects tasks touch: the data bucket is readable.
	auth *datasettest.PrefixAuth
}

func impTaskConfig(db *store.DB, dsn string) tasks.Config {
	cfg := tasks.Config{
		LeaseTTL:          10 * time.Second,
		FlushInterval:     50 * time.Millisecond,
		SweepInterval:     200 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
		RetryDelay:        100 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	return cfg
}

func newImpEnv(t *testing.T, engine store.Engine) *impEnv {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.Migrated(t, engine)
	db, err := store.Open(ctx, dsn, t.TempDir())
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	objects, err := obs.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objects.Close() })
	for _, b := range []string{"data", "other"} {
		if err := objects.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	e := &impEnv{t: t, ctx: ctx, db: db, dsn: dsn, objects: objects, auth: &datasettest.PrefixAuth{Readable: []string{"data/"}}}
	e.startManager()
	return e
}

// startManager builds a service over a new tasks manager and starts it, as
// a (re)started server does; stopManager stops it.
func (e *impEnv) startManager() {
	e.t.Helper()
	m, err := tasks.New(e.ctx, e.db, impTaskConfig(e.db, e.dsn))
	if err != nil {
		e.t.Fatalf("new tasks manager: %v", err)
	}
	if e.ds, err = dataset.New(dataset.Options{DB: e.db, Objects: e.objects, Authorize: e.auth.Authorizer()}); err != nil {
		e.t.Fatal(err)
	}
	if e.svc, err = New(Options{Datasets: e.ds, DB: e.db, Objects: e.objects, Tasks: m}); err != nil {
		e.t.Fatal(err)
	}
	if err := m.Start(e.ctx); err != nil {
		e.t.Fatalf("start tasks manager: %v", err)
	}
	e.m = m
	e.t.Cleanup(func() { e.stopManager(m) })
}

func (e *impEnv) stopManager(m *tasks.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		e.t.Errorf("stop tasks manager: %v", err)
	}
}

// dataset creates a dataset of the type whose data source is data/<name>/
// and waits for the tasks its creation queued, if any.
func (e *impEnv) dataset(name string, typ int, edit func(*dataset.CreateRequest)) string {
	e.t.Helper()
	req := &dataset.CreateRequest{DatasetName: name, DatasetType: &typ, WorkPath: "/other/work/", WorkPathType: new(int),
		DataSources: []dataset.DataSource{{DataPath: "/data/" + name + "/"}}}
	if edit != nil {
		edit(req)
	}
	plan, err := e.ds.PlanCreate(dataset.Scope{ProjectID: impProject, WorkspaceID: "0"}, req)
	if err != nil {
		e.t.Fatalf("plan dataset %s: %v", name, err)
	}
	id, err := e.ds.CommitCreate(e.ctx, plan, e.svc.EnqueueCreateImport)
	if err != nil {
		e.t.Fatalf("create dataset %s: %v", name, err)
	}
	list, err := e.m.List(e.ctx, id, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, task := range list {
		e.wait(task.ID)
	}
	return id
}

func (e *impEnv) put(bucket, key, content string) {
	e.t.Helper()
	if _, err := e.objects.Put(e.ctx, bucket, key, strings.NewReader(content), obs.PutOptions{}); err != nil {
		e.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// importReq plans and commits an import.
func (e *impEnv) importReq(id string, req ImportRequest) (string, error) {
	e.t.Helper()
	plan, err := e.svc.PlanImport(e.ctx, impProject, id, &req)
	if err != nil {
		return "", err
	}
	return e.svc.CommitImport(e.ctx, plan)
}

func (e *impEnv) mustImport(id string, req ImportRequest) *ImportTask {
	e.t.Helper()
	taskID, err := e.importReq(id, req)
	if err != nil {
		e.t.Fatalf("import %s: %v", req.ImportPath, err)
	}
	e.wait(taskID)
	v, err := e.svc.ImportTask(e.ctx, impProject, id, taskID)
	if err != nil {
		e.t.Fatal(err)
	}
	if v.Status != "COMPLETED" {
		e.t.Fatalf("import %s: %s %s %s", req.ImportPath, v.Status, v.ErrorCode, v.ErrorMsg)
	}
	return v
}

// wait polls a task until it is final.
func (e *impEnv) wait(id string) *tasks.Task {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		task, err := e.m.Get(e.ctx, id)
		if err != nil {
			e.t.Fatalf("get task %s: %v", id, err)
		}
		if task.Status.Final() {
			return task
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s still %s", id, task.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// samples lists every sample of a dataset by source.
func (e *impEnv) samples(id string) map[string]*dataset.Sample {
	e.t.Helper()
	out := map[string]*dataset.Sample{}
	marker := ""
	for {
		_, page, err := e.ds.ListSamples(e.ctx, impProject, id, dataset.SampleQuery{Limit: 100, Asc: true, Marker: marker})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range page {
			if out[s.Stored] != nil {
				e.t.Errorf("sample %s listed twice", s.Stored)
			}
			out[s.Stored] = s
		}
		if len(page) < 100 {
			return out
		}
		marker = page[len(page)-1].SampleID
	}
}

func impNames(labels []annotation.Label) []string {
	var out []string
	for _, l := range labels {
		out = append(out, l.Name)
	}
	slices.Sort(out)
	return out
}

// impFailures maps a task's failed items to their reasons.
func impFailures(v *ImportTask) map[string]string {
	out := map[string]string{}
	for _, f := range v.FailedFiles {
		out[f.Item] = f.Reason
	}
	return out
}

// checkCounters holds a dataset's counters against its rows: total,
// labeled and to-confirm samples, and each label's samples and
// annotations.
func (e *impEnv) checkCounters(id string) {
	e.t.Helper()
	count := func(q string, args ...any) int64 {
		var n int64
		if err := e.db.QueryRowContext(e.ctx, q, args...).Scan(&n); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	r, err := e.ds.LoadRow(e.ctx, e.db, impProject, id, false)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		counter int64
		rows    int64
	}{
		{"total", r.Total, count(`SELECT COUNT(*) FROM dataset_samples WHERE dataset_id=$1`, id)},
		{"annotated", r.Annotated, count(`SELECT COUNT(*) FROM dataset_samples WHERE dataset_id=$1 AND state=1`, id)},
		{"unconfirmed", r.Unconfirmed, count(`SELECT COUNT(*) FROM dataset_samples WHERE dataset_id=$1 AND state=2`, id)},
	} {
		if c.counter != c.rows {
			e.t.Errorf("%s counter %d, rows %d", c.name, c.counter, c.rows)
		}
	}
	n, _, err := e.ds.ListSamples(e.ctx, impProject, id, dataset.SampleQuery{Limit: 1})
	if err != nil || n != r.Total {
		e.t.Errorf("ListSamples counts %d (%v), dataset total %d", n, err, r.Total)
	}
	rows, err := e.db.QueryContext(e.ctx, `SELECT l.name, l.sample_count, l.annotation_count,
		(SELECT COUNT(*) FROM dataset_sample_labels x WHERE x.dataset_id=l.dataset_id AND x.label_seq=l.seq),
		(SELECT COALESCE(SUM(n), 0) FROM dataset_sample_labels x WHERE x.dataset_id=l.dataset_id AND x.label_seq=l.seq)
		FROM dataset_labels l WHERE l.dataset_id=$1`, id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var samples, anns, rowsSamples, rowsAnns int64
		if err := rows.Scan(&name, &samples, &anns, &rowsSamples, &rowsAnns); err != nil {
			e.t.Fatal(err)
		}
		if samples != rowsSamples || anns != rowsAnns {
			e.t.Errorf("label %s: counters %d samples %d annotations, rows %d and %d", name, samples, anns, rowsSamples, rowsAnns)
		}
		ln, _, err := e.ds.ListSamples(e.ctx, impProject, id, dataset.SampleQuery{LabelName: name, Limit: 1})
		if err != nil || ln != samples {
			e.t.Errorf("label %s: ListSamples counts %d (%v), label counter %d", name, ln, err, samples)
		}
	}
}

func impLine(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func impClassLine(t *testing.T, source string, labels ...string) string {
	anns := []any{}
	for _, l := range labels {
		anns = append(anns, map[string]any{"type": "modelarts/image_classification", "name": l, "annotated-by": "human"})
	}
	return impLine(t, map[string]any{"source": source, "annotation": anns})
}
