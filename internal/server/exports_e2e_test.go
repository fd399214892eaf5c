package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// waitFor polls path until done says the answer is final, and returns it.
func (c *dsClient) waitFor(path string, done func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		st, out := c.do("GET", path, nil)
		if st != http.StatusOK {
			c.t.Fatalf("GET %s: %d %v", path, st, out)
		}
		if done(out) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("GET %s did not reach its final state within a minute", path)
	return nil
}

// object reads an object of the server's store by its "/bucket/key" path.
func object(t *testing.T, env *servertest.Env, p string) []byte {
	t.Helper()
	o, err := obs.ParsePath(p)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := env.App.Objects.Get(context.Background(), o.Bucket, o.Key, nil)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func objectsUnder(t *testing.T, env *servertest.Env, bucket, prefix string) []string {
	t.Helper()
	page, err := env.App.Objects.List(context.Background(), bucket, obs.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

func manifestLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("manifest line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// addFiles stores files in data-in and adds them as samples with a
// classification label each ("" for none).
func (c *dsClient) addFiles(id string, files map[string]string) {
	c.t.Helper()
	var samples []any
	for key, label := range files {
		if _, err := c.env.App.Objects.Put(context.Background(), "data-in", key, strings.NewReader("image "+key), obs.PutOptions{}); err != nil {
			c.t.Fatal(err)
		}
		s := map[string]any{"data_source": map[string]any{"data_path": "/data-in/" + key}}
		if label != "" {
			s["labels"] = []any{map[string]any{"name": label, "type": 0}}
		}
		samples = append(samples, s)
	}
	st, out := c.do("POST", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": samples})
	if st != http.StatusOK || out["success"] != true {
		c.t.Fatalf("add samples: %d %v", st, out)
	}
}

func TestVersionsThroughHTTP(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("pets", 0, nil)
		c.addFiles(id, map[string]string{"pets/a.jpg": "cat", "pets/b.jpg": "dog", "pets/c.jpg": "cat", "pets/d.jpg": ""})
		base := "/datasets/" + id + "/versions"

		st, out := c.do("POST", base, map[string]any{"version_name": "V001", "version_format": "Default", "description": "",
			"clear_hard_property": true, "train_evaluate_sample_ratio": "0.5"})
		if st != http.StatusCreated {
			t.Fatalf("create version: %d %v", st, out)
		}
		vid := out["version_id"].(string)
		v := c.waitFor(base+"/"+vid, func(m map[string]any) bool { return m["status"] != 0.0 })
		if v["status"] != 1.0 || v["version_name"] != "V001" || v["total_sample_count"] != 4.0 || v["annotated_sample_count"] != 3.0 ||
			v["is_current"] != true || v["train_evaluate_sample_ratio"] != "0.5" || v["task_type"] != 0.0 || v["label_type"] != "single" {
			t.Fatalf("version details: %v", v)
		}
		manifest := v["manifest_path"].(string)
		if want := "/data-out/pets/pets-" + id + "/annotation/V001/V001.manifest"; manifest != want {
			t.Errorf("manifest_path %s, want %s", manifest, want)
		}
		lines := manifestLines(t, object(t, env, manifest))
		if len(lines) != 4 {
			t.Fatalf("manifest: %v", lines)
		}
		for _, l := range lines {
			if l["annotation"] != nil && l["usage"] != "TRAIN" && l["usage"] != "EVAL" {
				t.Errorf("labeled line without a split usage: %v", l)
			}
		}

		// A second version with the default name; the list, newest first.
		st, out = c.do("POST", base, map[string]any{})
		if st != http.StatusCreated {
			t.Fatalf("second version: %d %v", st, out)
		}
		v2 := out["version_id"].(string)
		c.waitFor(base+"/"+v2, func(m map[string]any) bool { return m["status"] != 0.0 })
		st, out = c.do("GET", base, nil)
		versions, _ := out["versions"].([]any)
		if st != 200 || out["total_number"] != 2.0 || len(versions) != 2 || versions[0].(map[string]any)["version_name"] != "V002" ||
			versions[1].(map[string]any)["is_current"] != false {
			t.Fatalf("version list: %d %v", st, out)
		}
		for q, want := range map[string]float64{"status=1": 2, "status=4": 0, "train_evaluate_ratio=0.4,0.6": 1, "version_format=0": 2, "limit=1": 2} {
			st, out = c.do("GET", base+"?"+q, nil)
			if st != 200 || out["total_number"] != want {
				t.Errorf("GET versions?%s: %d %v, want %v versions", q, st, out["total_number"], want)
			}
		}
		for _, q := range []string{"status=9", "limit=0", "limit=1001", "offset=-1", "train_evaluate_ratio=0.9,0.1", "version_format=3"} {
			st, out = c.do("GET", base+"?"+q, nil)
			c.wantErr(400, out, st, "ModelArts.4200", strings.Split(q, "=")[0])
		}
		st, ds := c.do("GET", "/datasets/"+id, nil)
		if st != 200 || ds["dataset_version_count"] != 2.0 {
			t.Errorf("dataset details: %d version count %v", st, ds["dataset_version_count"])
		}

		// Delete V002: its files go, V001 becomes current again.
		dir := strings.TrimSuffix(strings.TrimPrefix(manifest, "/data-out/"), "V001/V001.manifest") + "V002/"
		if len(objectsUnder(t, env, "data-out", dir)) == 0 {
			t.Fatalf("V002 has no files under %s", dir)
		}
		st, out = c.do("DELETE", base+"/"+v2, nil)
		if st != http.StatusNoContent {
			t.Fatalf("delete version: %d %v", st, out)
		}
		if left := objectsUnder(t, env, "data-out", dir); len(left) != 0 {
			t.Errorf("files left after deleting the version: %v", left)
		}
		st, out = c.do("GET", base+"/"+v2, nil)
		c.wantErr(400, out, st, "ModelArts.4353", v2)
		st, out = c.do("GET", base+"/"+vid, nil)
		if st != 200 || out["is_current"] != true {
			t.Errorf("V001 after deleting V002: %d %v", st, out)
		}
		st, out = c.do("DELETE", base+"/nope", nil)
		c.wantErr(400, out, st, "ModelArts.4353", "nope")
		st, out = c.do("GET", "/datasets/0123456789abcdef0123456789abcdef/versions", nil)
		c.wantErr(404, out, st, "ModelArts.4352", "does not exist")
	})
}

func TestExportsThroughHTTP(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("pets", 0, nil)
		c.addFiles(id, map[string]string{"pets/a.jpg": "cat", "pets/b.jpg": "dog", "pets/c.jpg": ""})
		base := "/datasets/" + id + "/export-tasks"

		st, out := c.do("POST", base, map[string]any{"path": "/data-out/exp/", "export_type": 3, "export_format": 2,
			"source_type_header": "s3://", "export_params": map[string]any{"sample_state": "", "export_dest": "DIR",
				"search_conditions": []any{map[string]any{"label_list": map[string]any{"labels": []any{map[string]any{"name": "cat"}}}},
					map[string]any{"sample_name": "c.jpg"}}}})
		if st != http.StatusOK {
			t.Fatalf("create export: %d %v", st, out)
		}
		tid := out["task_id"].(string)
		et := c.waitFor(base+"/"+tid, func(m map[string]any) bool { return m["status"] == "SUCCESSED" || m["status"] == "FAILED" })
		params, _ := et["export_params"].(map[string]any)
		if et["status"] != "SUCCESSED" || et["progress"] != 100.0 || et["total_sample_count"] != 2.0 || et["finished_sample_count"] != 2.0 ||
			et["path"] != "/data-out/exp/" || et["export_type"] != 3.0 || et["export_format"] != 2.0 || et["version_format"] != "Default" ||
			params["export_dest"] != "DIR" || params["clear_hard_property"] != true || params["train_sample_ratio"] != "1.00" {
			t.Fatalf("export status: %v", et)
		}
		got := strings.Join(objectsUnder(t, env, "data-out", "exp/"), ",")
		if got != "exp/a.jpg,exp/a.txt,exp/c.jpg,exp/pets.manifest" {
			t.Errorf("exported files: %s", got)
		}
		if string(object(t, env, "/data-out/exp/a.txt")) != "cat\n" || string(object(t, env, "/data-out/exp/a.jpg")) != "image pets/a.jpg" {
			t.Errorf("tile export content")
		}
		for _, l := range manifestLines(t, object(t, env, "/data-out/exp/pets.manifest")) {
			if !strings.HasPrefix(l["source"].(string), "s3://data-out/exp/") {
				t.Errorf("manifest source %v: want the s3:// copy", l["source"])
			}
		}

		// A version's export, then the list.
		st, out = c.do("POST", "/datasets/"+id+"/versions", map[string]any{})
		if st != http.StatusCreated {
			t.Fatalf("version: %d %v", st, out)
		}
		vid := out["version_id"].(string)
		c.waitFor("/datasets/"+id+"/versions/"+vid, func(m map[string]any) bool { return m["status"] != 0.0 })
		st, out = c.do("POST", base, map[string]any{"path": "/data-out/ver/", "version_id": vid, "export_type": 0})
		if st != http.StatusOK {
			t.Fatalf("version export: %d %v", st, out)
		}
		et = c.waitFor(base+"/"+out["task_id"].(string), func(m map[string]any) bool { return m["status"] == "SUCCESSED" || m["status"] == "FAILED" })
		if et["status"] != "SUCCESSED" || et["version_id"] != vid || et["finished_sample_count"] != 2.0 {
			t.Fatalf("version export status: %v", et)
		}
		if n := len(manifestLines(t, object(t, env, "/data-out/ver/pets-V001.manifest"))); n != 2 {
			t.Errorf("version export has %d lines, want the 2 labeled", n)
		}
		st, out = c.do("GET", base, nil)
		tasks, _ := out["export_tasks"].([]any)
		if st != 200 || out["total_count"] != 2.0 || len(tasks) != 2 || tasks[0].(map[string]any)["path"] != "/data-out/ver/" {
			t.Errorf("export list: %d %v", st, out)
		}
		st, out = c.do("GET", base+"?export_type=3&limit=1", nil)
		if out["total_count"] != 1.0 {
			t.Errorf("export list by type: %d %v", st, out)
		}
		for _, q := range []string{"export_type=5", "limit=0", "limit=101"} {
			st, out = c.do("GET", base+"?"+q, nil)
			c.wantErr(400, out, st, "ModelArts.4200", strings.Split(q, "=")[0])
		}
		st, out = c.do("GET", base+"/nope", nil)
		c.wantErr(400, out, st, "ModelArts.4359", "nope")
	})
}

// Every field of the two create requests is checked: 400 naming it, and
// nothing is created.
func TestVersionAndExportBadInput(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("bad", 0, nil)
		c.addFiles(id, map[string]string{"bad/a.jpg": "cat"})
		for _, bc := range []struct {
			name, path string
			body       any
			code       string
			field      string
		}{
			{"version-unknown-field", "versions", map[string]any{"crop": true}, "ModelArts.4200", "crop"},
			{"version-name-type", "versions", map[string]any{"version_name": 1}, "ModelArts.4200", "version_name"},
			{"version-name", "versions", map[string]any{"version_name": "a b"}, "ModelArts.4200", "version_name"},
			{"version-description", "versions", map[string]any{"description": "<x>"}, "ModelArts.4200", "description"},
			{"version-ratio", "versions", map[string]any{"train_evaluate_sample_ratio": "1.2"}, "ModelArts.4200", "train_evaluate_sample_ratio"},
			{"version-ratio-type", "versions", map[string]any{"train_evaluate_sample_ratio": true}, "ModelArts.4200", "train_evaluate_sample_ratio"},
			{"export-ratio-type", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{"train_sample_ratio": []any{}}}, "ModelArts.4200", "export_params.train_sample_ratio"},
			{"version-ratio-split", "versions", map[string]any{"train_evaluate_sample_ratio": "0.5"}, "ModelArts.4711", "labeled"},
			{"version-format", "versions", map[string]any{"version_format": "CarbonData"}, "ModelArts.4200", "version_format"},
			{"version-column-header", "versions", map[string]any{"with_column_header": true}, "ModelArts.4200", "with_column_header"},
			{"version-task-type", "versions", map[string]any{"label_task_type": 100}, "ModelArts.4200", "label_task_type"},
			{"version-clear-hard-type", "versions", map[string]any{"clear_hard_property": "yes"}, "ModelArts.4200", "clear_hard_property"},
			{"version-export-images-type", "versions", map[string]any{"export_images": 1}, "ModelArts.4200", "export_images"},
			{"version-remove-usage-type", "versions", map[string]any{"remove_sample_usage": "no"}, "ModelArts.4200", "remove_sample_usage"},
			{"export-unknown-field", "export-tasks", map[string]any{"path": "/data-out/x/", "target": 1}, "ModelArts.4200", "target"},
			{"export-path-missing", "export-tasks", map[string]any{}, "ModelArts.4200", "path"},
			{"export-path-bucket", "export-tasks", map[string]any{"path": "/data-out/"}, "ModelArts.4205", "path"},
			{"export-path-input", "export-tasks", map[string]any{"path": "/data-in/bad/out/"}, "ModelArts.4358", "path"},
			{"export-path-bucket-missing", "export-tasks", map[string]any{"path": "/no-such-bucket/x/"}, "ModelArts.4311", "no-such-bucket"},
			{"export-type", "export-tasks", map[string]any{"path": "/data-out/x/", "export_type": 9}, "ModelArts.4200", "export_type"},
			{"export-format", "export-tasks", map[string]any{"path": "/data-out/x/", "export_format": 0}, "ModelArts.4200", "export_format"},
			{"export-annotation-format", "export-tasks", map[string]any{"path": "/data-out/x/", "annotation_format": "COCO"}, "ModelArts.4200", "annotation_format"},
			{"export-header", "export-tasks", map[string]any{"path": "/data-out/x/", "source_type_header": "https://"}, "ModelArts.4200", "source_type_header"},
			{"export-sample-state", "export-tasks", map[string]any{"path": "/data-out/x/", "sample_state": "__MAYBE__"}, "ModelArts.4200", "sample_state"},
			{"export-version-format", "export-tasks", map[string]any{"path": "/data-out/x/", "version_format": "CSV"}, "ModelArts.4200", "version_format"},
			{"export-column-header", "export-tasks", map[string]any{"path": "/data-out/x/", "with_column_header": true}, "ModelArts.4200", "with_column_header"},
			{"export-version", "export-tasks", map[string]any{"path": "/data-out/x/", "version_id": "nope"}, "ModelArts.4353", "nope"},
			{"export-dest", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{"export_dest": "NEW_DATASET",
				"export_new_dataset_name": "n", "export_new_dataset_work_path": "/data-out/n/"}}, "ModelArts.4200", "NEW_DATASET"},
			{"export-ratio", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{"ratio_sample_usage": true,
				"train_sample_ratio": "x"}}, "ModelArts.4200", "train_sample_ratio"},
			{"export-ratio-usage-type", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{"ratio_sample_usage": "true"}},
				"ModelArts.4200", "ratio_sample_usage"},
			{"export-samples-type", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{"samples": "a"}},
				"ModelArts.4200", "samples"},
			{"export-condition", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{
				"search_conditions": []any{map[string]any{"score": "high"}}}}, "ModelArts.4200", "score"},
			{"export-clear-hard-type", "export-tasks", map[string]any{"path": "/data-out/x/", "export_params": map[string]any{"clear_hard_property": 0}},
				"ModelArts.4200", "clear_hard_property"},
		} {
			t.Run(bc.name, func(t *testing.T) {
				st, out := c.do("POST", "/datasets/"+id+"/"+bc.path, bc.body)
				c.wantErr(400, out, st, bc.code, bc.field)
			})
		}
		st, out := c.do("GET", "/datasets/"+id+"/versions", nil)
		if out["total_number"] != 0.0 {
			t.Errorf("a refused request created a version: %d %v", st, out)
		}
		st, out = c.do("GET", "/datasets/"+id+"/export-tasks", nil)
		if out["total_count"] != 0.0 {
			t.Errorf("a refused request created an export: %d %v", st, out)
		}
	})
}

// A user holding the ModelArts actions but not obs:object:PutObject gets
// 403 naming it, and nothing is published or exported.
func TestVersionAndExportNeedPutObject(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		a := env.Account
		id := c.create("guarded", 0, nil)
		c.addFiles(id, map[string]string{"guarded/a.jpg": "cat"})
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		ak, sk := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "publisher-no-obs",
			"modelarts:dataset:createDatasetVersion", "modelarts:dataset:createExportTask", "modelarts:dataset:getDataset",
			"modelarts:dataset:deleteDatasetVersion", "obs:object:GetObject")
		send := func(method, path string, body any) (int, map[string]any) {
			t.Helper()
			var data []byte
			if body != nil {
				data, _ = json.Marshal(body)
			}
			resp, out := env.Send(t, env.SignedRequest(t, method, "/v2/"+a.ProjectID+path, data, ak, sk, nil))
			var m map[string]any
			_ = json.Unmarshal(out, &m)
			return resp.StatusCode, m
		}
		st, out := send("POST", "/datasets/"+id+"/versions", map[string]any{"version_name": "V001"})
		c.wantErr(403, out, st, "ModelArts.0108", "obs:object:PutObject")
		st, out = send("POST", "/datasets/"+id+"/export-tasks", map[string]any{"path": "/data-out/stolen/"})
		c.wantErr(403, out, st, "ModelArts.0108", "obs:object:PutObject")
		// Nothing happened: no version, no export, no file.
		time.Sleep(200 * time.Millisecond)
		st, out = c.do("GET", "/datasets/"+id+"/versions", nil)
		if st != 200 || out["total_number"] != 0.0 {
			t.Errorf("a refused publication created a version: %d %v", st, out)
		}
		st, out = c.do("GET", "/datasets/"+id+"/export-tasks", nil)
		if st != 200 || out["total_count"] != 0.0 {
			t.Errorf("a refused export was queued: %d %v", st, out)
		}
		if keys := objectsUnder(t, env, "data-out", "guarded/guarded-"+id+"/annotation/"); len(keys) != 0 {
			t.Errorf("files written: %v", keys)
		}
		if keys := objectsUnder(t, env, "data-out", "stolen/"); len(keys) != 0 {
			t.Errorf("files exported: %v", keys)
		}
		// The admin publishes; the user may not delete it without DeleteObject.
		st, out = c.do("POST", "/datasets/"+id+"/versions", map[string]any{})
		if st != http.StatusCreated {
			t.Fatalf("admin version: %d %v", st, out)
		}
		vid := out["version_id"].(string)
		v := c.waitFor("/datasets/"+id+"/versions/"+vid, func(m map[string]any) bool { return m["status"] != 0.0 })
		st, out = send("DELETE", "/datasets/"+id+"/versions/"+vid, nil)
		if st != http.StatusForbidden || !strings.Contains(fmt.Sprint(out["error_msg"]), "obs:") {
			t.Errorf("delete without OBS actions: %d %v", st, out)
		}
		if !bytes.Contains(object(t, env, v["manifest_path"].(string)), []byte("guarded/a.jpg")) {
			t.Errorf("the version's manifest went with a refused delete")
		}
	})
}
