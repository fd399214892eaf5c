package datasettest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// Project is the project of an Env's dataset.
const Project = "p1"

// Env is the dataset core over a real database, a local object store with
// the buckets "data" (input under in/, work under work/) and "out", a
// tasks manager for the rooms a test builds on it, and one dataset.
type Env struct {
	T       *testing.T
	Core    *dataset.Service
	DB      *store.DB
	Objects obs.Store
	Tasks   *tasks.Manager
	ID      string // the dataset
}

// NewEnv builds the environment on engine with a dataset of type typ. The
// tasks manager is not started: a test registers its rooms' handlers
// first, then calls Start (or leaves queued work queued).
func NewEnv(t *testing.T, engine store.Engine, typ int) *Env {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.Migrated(t, engine)
	db, err := store.Open(ctx, dsn, t.TempDir())
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	objects, err := obs.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objects.Close() })
	for _, b := range []string{"data", "out"} {
		if err := objects.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	cfg := tasks.Config{FlushInterval: 50 * time.Millisecond, LeaseTTL: 5 * time.Second, FetchPollInterval: 100 * time.Millisecond,
		SweepInterval: time.Second}
	m, err := tasks.New(ctx, db, cfg)
	if err != nil {
		t.Fatalf("task manager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop task manager: %v", err)
		}
	})
	core, err := dataset.New(dataset.Options{DB: db, Objects: objects, Authorize: (&PrefixAuth{Readable: []string{"data/", "out/"}}).Authorizer()})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := core.PlanCreate(dataset.Scope{ProjectID: Project, WorkspaceID: "0"}, &dataset.CreateRequest{
		DatasetName: "ds", DatasetType: &typ, WorkPath: "/data/work/", WorkPathType: new(int),
		DataSources: []dataset.DataSource{{DataPath: "/data/in/"}}})
	if err != nil {
		t.Fatalf("plan dataset: %v", err)
	}
	id, err := core.CommitCreate(ctx, plan, nil)
	if err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	return &Env{T: t, Core: core, DB: db, Objects: objects, Tasks: m, ID: id}
}

// Start starts the tasks manager.
func (e *Env) Start() {
	e.T.Helper()
	if err := e.Tasks.Start(context.Background()); err != nil {
		e.T.Fatal(err)
	}
}

// Write adds samples, failing the test on any item error.
func (e *Env) Write(in []dataset.SampleInput, opts dataset.WriteOptions) {
	e.T.Helper()
	res, err := e.Core.WriteSamples(context.Background(), Project, e.ID, in, opts)
	if err != nil {
		e.T.Fatalf("write samples: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			e.T.Fatalf("sample %d: %v", i, r.Err)
		}
	}
}

// PutFile stores an object in the "data" bucket.
func (e *Env) PutFile(key string, data []byte) {
	e.T.Helper()
	if _, err := e.Objects.Put(context.Background(), "data", key, bytes.NewReader(data), obs.PutOptions{}); err != nil {
		e.T.Fatal(err)
	}
}

// Wait waits for a task to end and returns it.
func (e *Env) Wait(id string) *tasks.Task {
	e.T.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		task, err := e.Tasks.Get(context.Background(), id)
		if err != nil {
			e.T.Fatal(err)
		}
		if task.Status.Final() {
			return task
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.T.Fatalf("task %s did not end within a minute", id)
	return nil
}

// Read returns an object's content.
func (e *Env) Read(p string) []byte {
	e.T.Helper()
	o, err := obs.ParsePath(p)
	if err != nil {
		e.T.Fatal(err)
	}
	rc, _, err := e.Objects.Get(context.Background(), o.Bucket, o.Key, nil)
	if err != nil {
		e.T.Fatalf("read %s: %v", p, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		e.T.Fatal(err)
	}
	return data
}

// Exists reports whether an object exists.
func (e *Env) Exists(p string) bool {
	e.T.Helper()
	o, err := obs.ParsePath(p)
	if err != nil {
		e.T.Fatal(err)
	}
	_, err = e.Objects.Head(context.Background(), o.Bucket, o.Key)
	return err == nil
}

// Keys lists the objects under a prefix.
func (e *Env) Keys(bucket, prefix string) []string {
	e.T.Helper()
	var out []string
	after := ""
	for {
		page, err := e.Objects.List(context.Background(), bucket, obs.ListOptions{Prefix: prefix, StartAfter: after})
		if err != nil {
			e.T.Fatal(err)
		}
		for _, o := range page.Objects {
			out = append(out, o.Key)
		}
		if !page.Truncated {
			return out
		}
		after = page.NextStartAfter
	}
}

// WaitPublished waits for the publishing of version vid to succeed.
func (e *Env) WaitPublished(vid string) {
	e.T.Helper()
	var taskID string
	if err := e.DB.QueryRowContext(context.Background(), `SELECT task_id FROM dataset_versions WHERE id=$1`, vid).Scan(&taskID); err != nil {
		e.T.Fatal(err)
	}
	if task := e.Wait(taskID); task.Status != tasks.Succeeded {
		e.T.Fatalf("publishing ended %s: %s", task.Status, task.ErrorMessage)
	}
}
