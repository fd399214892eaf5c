package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/atelier-dev/atelier/internal/dataset/importer"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// waitIdle waits until no import of the dataset is queued or running (its
// creation may have started one).
func (c *dsClient) waitIdle(id string) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, out := c.do("GET", "/datasets/"+id+"/import-tasks?limit=100", nil)
		if st != http.StatusOK {
			c.t.Fatalf("list import tasks: %d %v", st, out)
		}
		busy := false
		for _, task := range out["import_tasks"].([]any) {
			switch task.(map[string]any)["status"] {
			case "QUEUING", "STARTING", "RUNNING":
				busy = true
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("dataset %s still importing: %v", id, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// importTask starts an import and returns its task ID.
func (c *dsClient) importTask(id string, body map[string]any) string {
	c.t.Helper()
	st, out := c.do("POST", "/datasets/"+id+"/import-tasks", body)
	if st != http.StatusOK {
		c.t.Fatalf("create import task %v: %d %v", body, st, out)
	}
	taskID, _ := out["task_id"].(string)
	if taskID == "" {
		c.t.Fatalf("create import task: no task_id in %v", out)
	}
	return taskID
}

// waitImport polls an import task until it is COMPLETED or FAILED.
func (c *dsClient) waitImport(id, taskID string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, out := c.do("GET", "/datasets/"+id+"/import-tasks/"+taskID, nil)
		if st != http.StatusOK {
			c.t.Fatalf("import task %s: %d %v", taskID, st, out)
		}
		if s := out["status"]; s == "COMPLETED" || s == "FAILED" {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("import task %s did not end: %v", taskID, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func failedItems(out map[string]any) map[string]string {
	m := map[string]string{}
	list, _ := out["failed_files"].([]any)
	for _, f := range list {
		f := f.(map[string]any)
		m[f["item"].(string)] = f["reason"].(string)
	}
	return m
}

func (c *dsClient) put(bucket, key, content string) {
	c.t.Helper()
	if _, err := c.env.App.Objects.Put(context.Background(), bucket, key, strings.NewReader(content), obs.PutOptions{}); err != nil {
		c.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func mline(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImportTasksAPI(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("imp-cls", 0, nil)
		c.waitIdle(id)
		_, out := c.do("GET", "/datasets/"+id+"/import-tasks", nil)
		before := out["total_count"].(float64)

		// A directory: ImageNet folders, an unlabeled image, a file that is
		// no image. The reference's example body.
		for k, v := range map[string]string{"imgs/cat/1.jpg": "a", "imgs/cat/2.jpg": "b", "imgs/dog/3.jpg": "c", "imgs/top.jpg": "d", "imgs/readme.md": "e"} {
			c.put("data-in", k, v)
		}
		taskID := c.importTask(id, map[string]any{"import_type": "dir", "import_path": "s3://data-in/imgs/",
			"included_labels": []any{}, "import_annotations": true, "difficult_only": false})
		v := c.waitImport(id, taskID)
		if v["status"] != "COMPLETED" || v["import_type"] != 0.0 || v["imported_sample_count"] != 4.0 || v["annotated_sample_count"] != 3.0 ||
			v["failed_sample_count"] != 1.0 || v["import_path"] != "obs://data-in/imgs/" || v["dataset_id"] != id || v["total_file_count"] != 5.0 {
			t.Errorf("directory import: %v", v)
		}
		if r := failedItems(v)["obs://data-in/imgs/readme.md"]; !strings.Contains(r, "extension") {
			t.Errorf("failed files: %v", v["failed_files"])
		}
		base := "/datasets/" + id + "/data-annotations"
		if st, out := c.do("GET", base+"/samples?label_name=cat", nil); st != 200 || out["sample_count"] != 2.0 {
			t.Errorf("cat samples: %d %v", st, out)
		}
		_, out = c.do("GET", base+"/stats", nil)
		ss := out["sample_stats"].(map[string]any)
		if ss["total"] != 4.0 || ss["manual_annotation"] != 3.0 || ss["un_annotation"] != 1.0 {
			t.Errorf("stats: %v", ss)
		}

		// A manifest with bad lines: each failure is listed by line.
		c.put("data-in", "man/in.manifest", strings.Join([]string{
			mline(t, map[string]any{"source": "s3://data-in/man/a.jpg", "annotation": []any{map[string]any{"type": "modelarts/image_classification", "name": "cat"}}}),
			`{"source": "b.jpg", "annotation": [}`,
			mline(t, map[string]any{"source": "c.jpg", "usage": "train"}),
			mline(t, map[string]any{"source": "d.jpg", "annotation": []any{map[string]any{"type": "modelarts/bogus", "name": "x"}}}),
			mline(t, map[string]any{"source": "e.jpg", "annotation": []any{map[string]any{"type": "image_classification", "name": "dog"}}}),
		}, "\n"))
		taskID = c.importTask(id, map[string]any{"import_type": "manifest", "import_path": "s3://data-in/man/in.manifest",
			"included_labels": []any{}, "import_annotations": true, "difficult_only": false})
		v = c.waitImport(id, taskID)
		fails := failedItems(v)
		if v["status"] != "COMPLETED" || v["import_type"] != 1.0 || v["imported_sample_count"] != 3.0 || v["failed_sample_count"] != 2.0 ||
			!strings.Contains(fails["line 2"], "not JSON") || !strings.Contains(fails["line 4"], "bogus") || len(fails) != 2 {
			t.Errorf("manifest import: %v", v)
		}
		if st, out := c.do("GET", base+"/samples?label_name=dog", nil); out["sample_count"] != 2.0 {
			t.Errorf("dog samples after the manifest: %d %v", st, out)
		}

		// The list pages newest first.
		st, out := c.do("GET", "/datasets/"+id+"/import-tasks?limit=1", nil)
		list, _ := out["import_tasks"].([]any)
		if st != 200 || out["total_count"] != before+2 || len(list) != 1 || list[0].(map[string]any)["task_id"] != taskID {
			t.Errorf("list: %d %v", st, out)
		}
		if _, ok := list[0].(map[string]any)["failed_files"]; ok {
			t.Errorf("the list carries failure details: %v", list[0])
		}

		// Validation and unknown things.
		st, out = c.do("POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "/data-in/x/", "import_type": "zip"})
		c.wantErr(400, out, st, "ModelArts.4200", "import_type")
		st, out = c.do("POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "/data-in/none.manifest"})
		c.wantErr(400, out, st, "ModelArts.4312", "import_path")
		st, out = c.do("POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "/data-in/x/", "extra": 1})
		c.wantErr(400, out, st, "ModelArts.4200", "extra")
		st, out = c.do("GET", "/datasets/"+id+"/import-tasks/0123456789abcdef0123456789abcdef", nil)
		c.wantErr(400, out, st, "ModelArts.4338", "import task")
		st, out = c.do("GET", "/datasets/0123456789abcdef0123456789abcdef/import-tasks", nil)
		c.wantErr(404, out, st, "ModelArts.4352", "Dataset does not exist")
		st, out = c.do("GET", "/datasets/"+id+"/import-tasks?limit=0", nil)
		c.wantErr(400, out, st, "ModelArts.4200", "limit")
	})
}

func TestSyncDataAPI(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("imp-sync", 0, nil)
		c.waitIdle(id)
		st, out := c.do("GET", "/datasets/"+id+"/sync-data/status", nil)
		if st != 200 || out["status"] != "NOT_EXIST" || out["dataset_id"] != id {
			t.Fatalf("status before a sync: %d %v", st, out)
		}
		sync := func() map[string]any {
			t.Helper()
			st, out := c.do("POST", "/datasets/"+id+"/sync-data", nil)
			if st != 200 {
				t.Fatalf("sync-data: %d %v", st, out)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for {
				st, out = c.do("GET", "/datasets/"+id+"/sync-data/status", nil)
				if st != 200 {
					t.Fatalf("sync status: %d %v", st, out)
				}
				if out["status"] == "COMPLETED" || out["status"] == "FAILED" {
					return out
				}
				if time.Now().After(deadline) {
					t.Fatalf("sync did not end: %v", out)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		c.put("data-in", "imp-sync/cat/1.jpg", "a")
		c.put("data-in", "imp-sync/cat/2.jpg", "b")
		if out := sync(); out["status"] != "COMPLETED" || out["add_sample_count"] != 2.0 || out["deleted_sample_count"] != 0.0 || out["total_sample_count"] != 2.0 {
			t.Errorf("first sync: %v", out)
		}
		if err := env.App.Objects.Delete(context.Background(), "data-in", "imp-sync/cat/1.jpg"); err != nil {
			t.Fatal(err)
		}
		c.put("data-in", "imp-sync/dog/3.jpg", "c")
		if out := sync(); out["add_sample_count"] != 1.0 || out["deleted_sample_count"] != 1.0 || out["total_sample_count"] != 2.0 {
			t.Errorf("second sync: %v", out)
		}
		if st, out := c.do("GET", "/datasets/"+id+"/data-annotations/samples?label_name=dog", nil); out["sample_count"] != 1.0 {
			t.Errorf("dog after the sync: %d %v", st, out)
		}

		text := c.create("imp-text", 100, nil)
		c.waitIdle(text)
		st, out = c.do("POST", "/datasets/"+text+"/sync-data", nil)
		c.wantErr(400, out, st, "ModelArts.4200", "Text datasets")
	})
}

// TestImportAuthorization: creating an import needs ListBucket on the
// import path's bucket and GetObject on the path; manifest lines may only
// point where the creator may read; sync-data needs its related actions.
func TestImportAuthorization(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		a := env.Account
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		id := c.create("imp-auth", 0, nil)
		c.waitIdle(id)
		send := func(ak, sk, method, path string, body any) (int, map[string]any) {
			t.Helper()
			var data []byte
			if body != nil {
				data, _ = json.Marshal(body)
			}
			resp, raw := env.Send(t, env.SignedRequest(t, method, "/v2/"+a.ProjectID+path, data, ak, sk, nil))
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			return resp.StatusCode, m
		}
		c.put("data-in", "allowed/m.manifest", strings.Join([]string{
			mline(t, map[string]any{"source": "a.jpg"}),
			mline(t, map[string]any{"source": "/data-in/secret/b.jpg"}),
		}, "\n"))

		ak, sk := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "imp-no-obs",
			"modelarts:dataset:createImportTask", "modelarts:dataset:getDataset", "modelarts:dataset:updateDataset")
		st, out := send(ak, sk, "POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "/data-in/allowed/m.manifest"})
		c.wantErr(403, out, st, "ModelArts.0108", "obs:bucket:ListBucket")
		st, out = send(ak, sk, "POST", "/datasets/"+id+"/sync-data", nil)
		c.wantErr(403, out, st, "ModelArts.0108", "obs:bucket:")

		ak, sk = newUserWithPolicy(t, admin, a.DomainID, "", "imp-some-obs", "AX", []iammodel.ServiceStatement{
			{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: []string{"modelarts:dataset:createImportTask",
				"modelarts:dataset:getDataset", "obs:bucket:ListBucket"}},
			{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: []string{"obs:object:GetObject"}, Resource: &[]string{"obs:*:*:object:data-in/allowed/*"}},
		})
		st, out = send(ak, sk, "POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "/data-in/secret/"})
		c.wantErr(403, out, st, "ModelArts.0108", "obs:object:GetObject")
		st, out = send(ak, sk, "POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "/data-in/allowed/m.manifest"})
		if st != 200 {
			t.Fatalf("import with GetObject on the manifest's directory: %d %v", st, out)
		}
		v := c.waitImport(id, out["task_id"].(string))
		if v["imported_sample_count"] != 1.0 || !strings.Contains(failedItems(v)["line 2"], "(obs:object:GetObject) operation on obs:"+servertest.Region+":"+a.DomainID+":object:data-in/secret/b.jpg") {
			t.Errorf("manifest lines outside the readable directory: %v", v)
		}
	})
}

// TestImportRestart stops the server in the middle of a large manifest
// import and starts another on the same database and data directory: the
// import resumes from its last checkpoint and ends with every line imported
// once.
//
// The server stops as soon as the first batch (dataset.ImportBatch lines)
// is committed with its checkpoint, which the test reads from the database:
// the progress the API shows can trail the writer by several batches on
// SQLite (its flush waits for the write lock between batches). Four batches
// leave the stop three batches of slack; the engines run side by side.
func TestImportRestart(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			env := servertest.Start(t, engine)
			c := newDSClient(t, env)
			id := c.create("imp-restart", 0, nil)
			c.waitIdle(id)
			const lines = 4 * importer.ImportBatch
			var b strings.Builder
			for i := range lines {
				fmt.Fprintf(&b, `{"source":"img/%06d.jpg","annotation":[{"type":"modelarts/image_classification","name":"l%d"}]}`+"\n", i, i%5)
			}
			c.put("data-in", "big/in.manifest", b.String())
			checkpoint := checkpointReader(t, env)
			taskID := c.importTask(id, map[string]any{"import_path": "/data-in/big/in.manifest"})
			deadline := time.Now().Add(2 * time.Minute)
			for {
				_, v := c.do("GET", "/datasets/"+id+"/import-tasks/"+taskID, nil)
				if v["status"] == "COMPLETED" || v["status"] == "FAILED" {
					t.Fatalf("the import ended before the restart: %v", v)
				}
				if checkpoint(taskID) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no progress: %v", v)
				}
				time.Sleep(10 * time.Millisecond)
			}
			env.Stop(t)
			done := stoppedProgress(t, env, taskID)
			if done <= 0 || done >= lines {
				t.Fatalf("the stopped import had %d of %d lines; want part of them", done, lines)
			}

			env2 := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: env.DataDir, Database: env.Database})
			c2 := &dsClient{t: t, env: env2, project: env2.Account.ProjectID, token: env2.AdminToken(t)}
			v := c2.waitImport(id, taskID)
			if v["status"] != "COMPLETED" || v["imported_sample_count"] != float64(lines) || v["annotated_sample_count"] != float64(lines) ||
				v["failed_sample_count"] != 0.0 {
				t.Errorf("after the restart: %v", v)
			}
			_, out := c2.do("GET", "/datasets/"+id+"/data-annotations/stats", nil)
			if ss := out["sample_stats"].(map[string]any); ss["total"] != float64(lines) || ss["manual_annotation"] != float64(lines) {
				t.Errorf("stats: %v", ss)
			}
			for _, l := range out["label_stats"].([]any) {
				if n := l.(map[string]any)["sample_count"]; n != float64(lines/5) {
					t.Errorf("label %v", l)
				}
			}
			if st, out := c2.do("GET", "/datasets/"+id+"/data-annotations/samples?label_name=l3&limit=1", nil); st != 200 || out["sample_count"] != float64(lines/5) {
				t.Errorf("l3 samples: %d %v", st, out)
			}
		})
	}
}

// checkpointReader reads, while the server runs, how many items a task's
// committed checkpoint covers, through a connection of the test's own (read
// only on SQLite, so that it never competes for the write lock).
func checkpointReader(t *testing.T, env *servertest.Env) func(taskID string) int64 {
	t.Helper()
	driver, dsn := "pgx", env.Database
	if env.Engine == store.SQLite {
		driver, dsn = "sqlite", "file:"+env.Database+"?mode=ro&_pragma=busy_timeout(15000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open the database to read checkpoints: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return func(taskID string) int64 {
		t.Helper()
		var done int64
		if err := db.QueryRow(`SELECT cp_succeeded FROM tasks WHERE id=$1`, taskID).Scan(&done); err != nil {
			t.Fatalf("read the checkpoint of task %s: %v", taskID, err)
		}
		return done
	}
}

// stoppedProgress reads, between two servers, how far a task had got: the
// items its checkpoint covers, with the task given back (RUNNING).
func stoppedProgress(t *testing.T, env *servertest.Env, taskID string) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, env.Database, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var status string
	var done int64
	if err := db.QueryRowContext(ctx, `SELECT status, cp_succeeded FROM tasks WHERE id=$1`, taskID).Scan(&status, &done); err != nil {
		t.Fatal(err)
	}
	if status != "RUNNING" {
		t.Fatalf("the stopped task is %s, want RUNNING (given back for a restart)", status)
	}
	return done
}
