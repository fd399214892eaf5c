package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// dsClient calls the dataset routes of one project with one token.
type dsClient struct {
	t       *testing.T
	env     *servertest.Env
	project string
	token   string
}

func newDSClient(t *testing.T, env *servertest.Env) *dsClient {
	t.Helper()
	for _, b := range []string{"data-in", "data-out"} {
		if err := env.App.Objects.CreateBucket(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return &dsClient{t: t, env: env, project: env.Account.ProjectID, token: env.AdminToken(t)}
}

// do sends a request under /v2/{project_id} and decodes a JSON answer.
func (c *dsClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	resp, data := c.env.Do(c.t, method, "/v2/"+c.project+path, body, map[string]string{"X-Auth-Token": c.token})
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			c.t.Fatalf("%s %s: %d, body is not JSON: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out
}

// wantErr checks a ModelArts error envelope.
func (c *dsClient) wantErr(status int, out map[string]any, gotStatus int, code, msgPart string) {
	c.t.Helper()
	if gotStatus != status || out["error_code"] != code || !strings.Contains(fmt.Sprint(out["error_msg"]), msgPart) {
		c.t.Errorf("got %d %v; want %d %s mentioning %q", gotStatus, out, status, code, msgPart)
	}
}

func dsBody(name string, typ int, extra map[string]any) map[string]any {
	b := map[string]any{
		"dataset_name":   name,
		"dataset_type":   typ,
		"data_sources":   []any{map[string]any{"data_type": 0, "data_path": "/data-in/" + name + "/"}},
		"work_path":      "/data-out/" + name + "/",
		"work_path_type": 0,
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (c *dsClient) create(name string, typ int, extra map[string]any) string {
	c.t.Helper()
	st, out := c.do("POST", "/datasets", dsBody(name, typ, extra))
	if st != http.StatusCreated {
		c.t.Fatalf("create %s: %d %v", name, st, out)
	}
	id, _ := out["dataset_id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		c.t.Fatalf("create %s: dataset_id %q", name, id)
	}
	return id
}

func labelNames(v any) []string {
	var out []string
	for _, l := range v.([]any) {
		out = append(out, l.(map[string]any)["name"].(string))
	}
	return out
}

func TestDatasetLifecycle(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		ctx := context.Background()
		id := c.create("flowers", 0, map[string]any{"description": "roses and tulips", "labels": []any{
			map[string]any{"name": "Rabbits", "type": 0, "property": map[string]any{"@modelarts:color": "#3399ff"}},
			map[string]any{"name": "Bees", "property": map[string]any{"@modelarts:shortcut": "B"}},
		}})

		st, ds := c.do("GET", "/datasets/"+id, nil)
		if st != http.StatusOK {
			t.Fatalf("get: %d %v", st, ds)
		}
		inner := "/data-out/flowers/flowers-" + id + "/"
		for k, want := range map[string]any{"dataset_id": id, "dataset_name": "flowers", "dataset_type": 0.0, "status": 1.0,
			"description": "roses and tulips", "work_path": "/data-out/flowers/", "work_path_type": 0.0, "workspace_id": "0",
			"total_sample_count": 0.0, "annotated_sample_count": 0.0, "unconfirmed_sample_count": 0.0, "deleted_sample_count": 0.0,
			"inner_work_path": inner, "inner_annotation_path": inner + "annotation/", "data_format": "Default", "next_version_num": 1.0} {
			if ds[k] != want {
				t.Errorf("get %s = %v, want %v", k, ds[k], want)
			}
		}
		if got := labelNames(ds["labels"]); strings.Join(got, ",") != "Rabbits,Bees" {
			t.Errorf("labels %v", got)
		}
		if l := ds["labels"].([]any)[1].(map[string]any); l["type"] != 0.0 || l["property"].(map[string]any)["@modelarts:shortcut"] != "B" {
			t.Errorf("second label %v: want type 0 (the dataset's) and its shortcut", l)
		}
		if src := ds["data_sources"].([]any)[0].(map[string]any); src["data_path"] != "/data-in/flowers/" || src["data_type"] != 0.0 {
			t.Errorf("data_sources %v", src)
		}

		st, out := c.do("POST", "/datasets", dsBody("flowers", 0, nil))
		c.wantErr(400, out, st, "ModelArts.4351", "flowers")

		// Modify: all changes or none.
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{"description": "x", "update_labels": []any{map[string]any{"name": "Wasps"}}})
		c.wantErr(400, out, st, "ModelArts.4410", "Wasps")
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{"description": "a\"b"})
		c.wantErr(400, out, st, "ModelArts.4200", "description")
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{"add_labels": []any{map[string]any{"name": "Bees"}}})
		c.wantErr(400, out, st, "ModelArts.4411", "Bees")
		c.create("taken", 0, nil)
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{"dataset_name": "taken"})
		c.wantErr(400, out, st, "ModelArts.4351", "taken")
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{"dataset_name": "bad name"})
		c.wantErr(400, out, st, "ModelArts.4200", "dataset_name")
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{"current_version_id": "nope"})
		c.wantErr(400, out, st, "ModelArts.4353", "nope")
		st, out = c.do("PUT", "/datasets/"+id, map[string]any{
			"dataset_name": "blossoms", "description": "just a test",
			"add_labels":    []any{map[string]any{"name": "Ants", "type": 0, "property": map[string]any{"@modelarts:color": "#3399ff"}}},
			"update_labels": []any{map[string]any{"name": "Rabbits", "property": map[string]any{"@modelarts:rename_to": "Hares", "@modelarts:color": "#000000"}}},
			"delete_labels": []any{map[string]any{"name": "Bees"}},
		})
		if st != http.StatusOK || out["dataset_id"] != id {
			t.Fatalf("modify: %d %v", st, out)
		}
		_, ds = c.do("GET", "/datasets/"+id, nil)
		if ds["dataset_name"] != "blossoms" || ds["description"] != "just a test" || ds["inner_work_path"] != inner {
			t.Errorf("after modify: name %v, description %v, inner_work_path %v (must not move)", ds["dataset_name"], ds["description"], ds["inner_work_path"])
		}
		if got := labelNames(ds["labels"]); strings.Join(got, ",") != "Hares,Ants" {
			t.Errorf("labels after modify %v, want Hares,Ants", got)
		}
		if p := ds["labels"].([]any)[0].(map[string]any)["property"].(map[string]any); p["@modelarts:color"] != "#000000" || p["@modelarts:rename_to"] != nil {
			t.Errorf("renamed label property %v", p)
		}

		// Delete removes the dataset's own files, never its data source.
		put := func(bucket, key string) {
			if _, err := env.App.Objects.Put(ctx, bucket, key, strings.NewReader("x"), obs.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		innerKey := strings.TrimPrefix(inner, "/data-out/")
		put("data-out", innerKey+"annotation/a.json")
		put("data-out", "flowers/other.txt")
		put("data-in", "flowers/1.jpg")
		st, _ = c.do("DELETE", "/datasets/"+id, nil)
		if st != http.StatusNoContent {
			t.Fatalf("delete: %d", st)
		}
		if _, err := env.App.Objects.Head(ctx, "data-out", innerKey+"annotation/a.json"); err == nil {
			t.Error("the dataset's inner work files survived its deletion")
		}
		for _, o := range []obs.Path{{Bucket: "data-out", Key: "flowers/other.txt"}, {Bucket: "data-in", Key: "flowers/1.jpg"}} {
			if _, err := env.App.Objects.Head(ctx, o.Bucket, o.Key); err != nil {
				t.Errorf("%s was deleted with the dataset: %v", o, err)
			}
		}
		st, out = c.do("GET", "/datasets/"+id, nil)
		c.wantErr(404, out, st, "ModelArts.4352", id)
		st, out = c.do("DELETE", "/datasets/"+id, nil)
		c.wantErr(404, out, st, "ModelArts.4352", id)
		st, out = c.do("GET", "/datasets/"+id+"/data-annotations/labels", nil)
		c.wantErr(404, out, st, "ModelArts.4352", id)
	})
}

func TestDatasetTypesAndValidation(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		for _, typ := range []int{0, 1, 3, 100, 101, 102, 200, 201, 202, 400, 600, 900} {
			id := c.create(fmt.Sprintf("type-%d", typ), typ, nil)
			if _, ds := c.do("GET", "/datasets/"+id, nil); ds["dataset_type"] != float64(typ) {
				t.Errorf("type %d: got %v", typ, ds["dataset_type"])
			}
		}
		c.create("text-sep", 100, map[string]any{"label_format": map[string]any{"label_type": "1", "text_label_separator": ",", "text_sample_separator": "\t"}})
		c.create("table-ok", 400, map[string]any{"data_format": "CarbonData", "import_data": true, "schema": []any{map[string]any{"schema_id": 1, "name": "a", "type": "STRING"}},
			"data_sources": []any{map[string]any{"data_type": 0, "data_path": "obs://data-in/table/", "with_column_header": true}}})

		long := strings.Repeat("a", 101)
		cases := []struct {
			name   string
			body   map[string]any
			status int
			code   string
			field  string
		}{
			{"name-empty", dsBody("", 0, nil), 400, "ModelArts.4200", "dataset_name"},
			{"name-too-long", dsBody(long, 0, nil), 400, "ModelArts.4200", "dataset_name"},
			{"name-bad-char", dsBody("a b", 0, nil), 400, "ModelArts.4200", "dataset_name"},
			{"description-too-long", dsBody("d1", 0, map[string]any{"description": strings.Repeat("x", 257)}), 400, "ModelArts.4200", "description"},
			{"description-bad-char", dsBody("d1", 0, map[string]any{"description": "a'b"}), 400, "ModelArts.4200", "description"},
			{"type-unknown", dsBody("d1", 2, nil), 400, "ModelArts.4200", "dataset_type"},
			{"work-path-missing", dsBody("d1", 0, map[string]any{"work_path": ""}), 400, "ModelArts.4200", "work_path"},
			{"work-path-short", dsBody("d1", 0, map[string]any{"work_path": "/a"}), 400, "ModelArts.4200", "work_path"},
			{"work-path-long", dsBody("d1", 0, map[string]any{"work_path": "/data-out/" + strings.Repeat("a/", 350)}), 400, "ModelArts.4350", "work_path"},
			{"work-path-bucket", dsBody("d1", 0, map[string]any{"work_path": "/data-out/"}), 400, "ModelArts.4205", "work_path"},
			{"work-path-double-slash", dsBody("d1", 0, map[string]any{"work_path": "/data-out//x/"}), 400, "ModelArts.4315", "work_path"},
			{"work-path-bad-bucket", dsBody("d1", 0, map[string]any{"work_path": "/Bad_Bucket/x/"}), 400, "ModelArts.4313", "work_path"},
			{"work-path-in-input", dsBody("d1", 0, map[string]any{"work_path": "/data-in/d1/out/"}), 400, "ModelArts.4374", "work_path"},
			{"work-path-is-input", dsBody("d1", 0, map[string]any{"work_path": "/data-in/d1/"}), 400, "ModelArts.4374", "work_path"},
			{"work-path-type-missing", dsBody("d1", 0, map[string]any{"work_path_type": nil}), 400, "ModelArts.4200", "work_path_type"},
			{"work-path-type-other", dsBody("d1", 0, map[string]any{"work_path_type": 1}), 400, "ModelArts.4200", "work_path_type"},
			{"sources-missing", dsBody("d1", 0, map[string]any{"data_sources": []any{}}), 400, "ModelArts.4200", "data_sources"},
			{"sources-two", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/a/"}, map[string]any{"data_path": "/data-in/b/"}}}), 400, "ModelArts.4200", "data_sources"},
			{"source-dli", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_type": 2}}}), 400, "ModelArts.4200", "data_sources[0].data_type"},
			{"source-no-path", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_type": 0}}}), 400, "ModelArts.4200", "data_sources[0].data_path"},
			{"source-bucket-only", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in"}}}), 400, "ModelArts.4205", "data_sources[0].data_path"},
			{"source-relative", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "data-in/x/"}}}), 400, "ModelArts.4374", "data_sources[0].data_path"},
			{"source-bucket-missing", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "/no-such-bucket/x/"}}}), 400, "ModelArts.4311", "no-such-bucket"},
			{"work-bucket-missing", dsBody("d1", 0, map[string]any{"work_path": "/no-such-bucket/x/"}), 400, "ModelArts.4311", "no-such-bucket"},
			{"carbondata-not-table", dsBody("d1", 0, map[string]any{"data_format": "CarbonData"}), 400, "ModelArts.4200", "data_format"},
			{"data-format-unknown", dsBody("d1", 0, map[string]any{"data_format": "Parquet"}), 400, "ModelArts.4200", "data_format"},
			{"label-format-not-text", dsBody("d1", 0, map[string]any{"label_format": map[string]any{"label_type": "1"}}), 400, "ModelArts.4200", "label_format"},
			{"label-separator-long", dsBody("d1", 100, map[string]any{"label_format": map[string]any{"text_label_separator": ",,"}}), 400, "ModelArts.4200", "label_format.text_label_separator"},
			{"label-separator-char", dsBody("d1", 100, map[string]any{"label_format": map[string]any{"text_sample_separator": "~"}}), 400, "ModelArts.4200", "label_format.text_sample_separator"},
			{"schema-not-table", dsBody("d1", 0, map[string]any{"schema": []any{map[string]any{"name": "a"}}}), 400, "ModelArts.4200", "schema"},
			{"import-data-not-table", dsBody("d1", 0, map[string]any{"import_data": true}), 400, "ModelArts.4200", "import_data"},
			{"column-header-not-table", dsBody("d1", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/x/", "with_column_header": true}}}), 400, "ModelArts.4200", "with_column_header"},
			{"workforce", dsBody("d1", 0, map[string]any{"workforce_information": map[string]any{"task_name": "t"}}), 400, "ModelArts.4200", "workforce_information"},
			{"unknown-field", dsBody("d1", 0, map[string]any{"colour": 1}), 400, "ModelArts.4200", "colour"},
			{"wrong-type", dsBody("d1", 0, map[string]any{"dataset_type": "zero"}), 400, "ModelArts.4200", "dataset_type"},
			{"label-no-name", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"type": 0}}}), 400, "ModelArts.4200", "labels[0].name"},
			{"label-duplicate", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}}), 400, "ModelArts.4411", "labels[1]"},
			{"label-wrong-type", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"name": "a", "type": 1}}}), 400, "ModelArts.4413", "labels[0].type"},
			{"label-on-table", dsBody("d1", 400, map[string]any{"labels": []any{map[string]any{"name": "a"}}}), 400, "ModelArts.4413", "labels[0]"},
			{"label-color", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"name": "a", "property": map[string]any{"@modelarts:color": "red"}}}}), 400, "ModelArts.4200", "labels[0].property.@modelarts:color"},
			{"label-shape", dsBody("d1", 1, map[string]any{"labels": []any{map[string]any{"name": "a", "property": map[string]any{"@modelarts:default_shape": "star"}}}}), 400, "ModelArts.4200", "@modelarts:default_shape"},
			{"label-shortcut-taken", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"name": "a", "property": map[string]any{"@modelarts:shortcut": "A"}}, map[string]any{"name": "b", "property": map[string]any{"@modelarts:shortcut": "A"}}}}), 400, "ModelArts.4412", "labels[1]"},
			{"label-attribute-name", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"name": "a", "attributes": []any{map[string]any{"name": strings.Repeat("n", 65)}}}}}), 400, "ModelArts.4200", "labels[0].attributes[0].name"},
			{"label-attribute-type", dsBody("d1", 0, map[string]any{"labels": []any{map[string]any{"name": "a", "attributes": []any{map[string]any{"name": "n", "type": "radio"}}}}}), 400, "ModelArts.4200", "labels[0].attributes[0].type"},
			{"triplet-no-entities", dsBody("d1", 102, map[string]any{"labels": []any{map[string]any{"name": "r", "type": 102}}}), 400, "ModelArts.4414", "labels[0]"},
			{"triplet-unknown-entity", dsBody("d1", 102, map[string]any{"labels": []any{map[string]any{"name": "r", "type": 102, "property": map[string]any{"@modelarts:from_type": "x", "@modelarts:to_type": "y"}}}}), 400, "ModelArts.4414", "labels[0]"},
			{"workspace-unknown", dsBody("d1", 0, map[string]any{"workspace_id": "nope"}), 400, "ModelArts.0102", "nope"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c.t = t
				st, out := c.do("POST", "/datasets", tc.body)
				c.wantErr(tc.status, out, st, tc.code, tc.field)
			})
		}
		c.t = t
		// A triplet dataset: relationship labels between its entity labels.
		c.create("triplets", 102, map[string]any{"labels": []any{
			map[string]any{"name": "person", "type": 103}, map[string]any{"name": "city"},
			map[string]any{"name": "lives_in", "type": 102, "property": map[string]any{"@modelarts:from_type": "person", "@modelarts:to_type": "city"}},
		}})
		// Nothing of the refused requests was created.
		st, out := c.do("GET", "/datasets?search_content=d1", nil)
		if st != http.StatusOK || out["total_number"] != 0.0 {
			t.Errorf("refused creations left datasets: %d %v", st, out)
		}
	})
}

func TestDatasetList(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		names := []string{"cats", "Dogs", "birds", "cat_food", "text-a"}
		types := []int{0, 1, 0, 900, 100}
		ids := map[string]string{}
		for i, n := range names {
			ids[n] = c.create(n, types[i], map[string]any{"labels": []any{map[string]any{"name": "l" + n}}})
		}
		// "cats" gets five files and a version (split ratio 0.5, Default
		// format), so that the version filters and the file preview have
		// something real to find.
		c.waitIdle(ids["cats"])
		c.addFiles(ids["cats"], map[string]string{"cats/1.jpg": "lcats", "cats/2.jpg": "lcats", "cats/3.jpg": "", "cats/4.jpg": "", "cats/5.jpg": ""})
		st, vout := c.do("POST", "/datasets/"+ids["cats"]+"/versions", map[string]any{"version_name": "V001", "train_evaluate_sample_ratio": "0.5"})
		if st != http.StatusCreated {
			t.Fatalf("publish a version of cats: %d %v", st, vout)
		}
		c.waitFor("/datasets/"+ids["cats"]+"/versions/"+vout["version_id"].(string), func(m map[string]any) bool { return m["status"] == 1.0 })
		list := func(query string) []string {
			t.Helper()
			st, out := c.do("GET", "/datasets"+query, nil)
			if st != http.StatusOK {
				t.Fatalf("list %s: %d %v", query, st, out)
			}
			var got []string
			for _, d := range out["datasets"].([]any) {
				got = append(got, d.(map[string]any)["dataset_name"].(string))
			}
			return append([]string{fmt.Sprint(out["total_number"])}, got...)
		}
		for _, tc := range []struct{ query, want string }{
			{"", "5,text-a,cat_food,birds,Dogs,cats"},
			{"?order=asc", "5,cats,Dogs,birds,cat_food,text-a"},
			{"?sort_by=dataset_name&order=asc", "5,Dogs,birds,cat_food,cats,text-a"},
			{"?sort_by=dataset_name", "5,text-a,cats,cat_food,birds,Dogs"},
			{"?limit=2", "5,text-a,cat_food"},
			// offset is the page index, as the reference defines it.
			{"?limit=2&offset=1", "5,birds,Dogs"},
			{"?limit=2&offset=2", "5,cats"},
			{"?limit=2&offset=3", "5"},
			{"?offset=1", "5"},
			{"?search_content=CAT", "2,cat_food,cats"},
			{"?search_content=_", "1,cat_food"},
			{"?search_content=%25", "0"},
			{"?dataset_type=0", "2,birds,cats"},
			{"?dataset_type=0&order=asc&limit=1", "2,cats"},
			{"?support_export=true", "4,cat_food,birds,Dogs,cats"},
			{"?contain_versions=true", "1,cats"},
			{"?train_evaluate_ratio=0.0,1.0", "1,cats"},
			{"?train_evaluate_ratio=0.4,0.5", "1,cats"},
			{"?train_evaluate_ratio=0.6,1.0", "0"},
			{"?version_format=0", "1,cats"},
			{"?version_format=1", "0"},
			{"?version_format=0&train_evaluate_ratio=0.0,0.4", "0"},
			{"?workspace_id=0&dataset_version=all&check_running_task=true&running_task_type=2", "5,text-a,cat_food,birds,Dogs,cats"},
		} {
			if got := strings.Join(list(tc.query), ","); got != tc.want {
				t.Errorf("list %q = %s, want %s", tc.query, got, tc.want)
			}
		}
		_, out := c.do("GET", "/datasets?limit=1&with_labels=true&file_preview=true", nil)
		d := out["datasets"].([]any)[0].(map[string]any)
		if got := labelNames(d["labels"]); len(got) != 1 || got[0] != "ltext-a" {
			t.Errorf("with_labels: %v", d["labels"])
		}
		if s, ok := d["samples"].([]any); !ok || len(s) != 0 {
			t.Errorf("file_preview of a dataset without files: samples %v, want []", d["samples"])
		}
		// cats' preview: its first four files, as download links that work.
		_, out = c.do("GET", "/datasets?search_content=cats&file_preview=true", nil)
		previews := out["datasets"].([]any)[0].(map[string]any)["samples"].([]any)
		if len(previews) != 4 {
			t.Fatalf("file_preview of cats: %v, want 4 files", previews)
		}
		for _, p := range previews {
			u := p.(map[string]any)["url"].(string)
			resp, err := env.HTTP.Get(u)
			if err != nil {
				t.Fatalf("GET preview %s: %v", u, err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(data), "image cats/") || p.(map[string]any)["create_time"].(float64) == 0 {
				t.Errorf("preview %v: %d %q", p, resp.StatusCode, data)
			}
		}
		_, out = c.do("GET", "/datasets?limit=1", nil)
		if _, ok := out["datasets"].([]any)[0].(map[string]any)["labels"]; ok {
			t.Error("labels returned without with_labels")
		}
		for _, bad := range []string{"limit=0", "limit=101", "offset=-1", "order=up", "sort_by=update_time", "dataset_type=2",
			"support_export=yes", "with_labels=1", "train_evaluate_ratio=0.5", "train_evaluate_ratio=0.8,0.2", "version_format=3",
			"running_task_type=8", "dataset_version=v3"} {
			st, out := c.do("GET", "/datasets?"+bad, nil)
			field, _, _ := strings.Cut(bad, "=")
			c.wantErr(400, out, st, "ModelArts.4200", field)
		}
		// Another workspace sees none of the default workspace's datasets.
		resp, data := env.Do(t, "POST", "/v1/"+env.Account.ProjectID+"/workspaces", map[string]any{"name": "other-ws"}, map[string]string{"X-Auth-Token": c.token})
		var ws struct{ ID string }
		if err := json.Unmarshal(data, &ws); err != nil || resp.StatusCode != http.StatusOK || ws.ID == "" {
			t.Fatalf("create workspace: %d %s", resp.StatusCode, data)
		}
		if got := strings.Join(list("?workspace_id="+ws.ID), ","); got != "0" {
			t.Errorf("other workspace lists %s", got)
		}
		id := c.create("in-ws", 0, map[string]any{"workspace_id": ws.ID})
		if got := strings.Join(list("?workspace_id="+ws.ID), ","); got != "1,in-ws" {
			t.Errorf("other workspace lists %s", got)
		}
		if _, ds := c.do("GET", "/datasets/"+id, nil); ds["workspace_id"] != ws.ID {
			t.Errorf("dataset workspace %v, want %s", ds["workspace_id"], ws.ID)
		}
	})
}

func TestDatasetLabels(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("animals", 1, map[string]any{"labels": []any{map[string]any{"name": "Cat", "property": map[string]any{"@modelarts:color": "#111111", "@modelarts:shortcut": "C"}}}})
		base := "/datasets/" + id + "/data-annotations/labels"
		names := func(query string) string {
			t.Helper()
			st, out := c.do("GET", base+query, nil)
			if st != http.StatusOK {
				t.Fatalf("list labels: %d %v", st, out)
			}
			return fmt.Sprint(out["total_number"]) + ":" + strings.Join(labelNames(out["labels"]), ",")
		}

		// Create: each item on its own; failures reported per item.
		st, out := c.do("POST", base, map[string]any{"labels": []any{map[string]any{"name": "Dog", "type": 1}, map[string]any{"name": "Bird", "property": map[string]any{"@modelarts:default_shape": "polygon"}}}})
		if st != 200 || out["success"] != true || out["results"] != nil {
			t.Fatalf("create labels: %d %v", st, out)
		}
		st, out = c.do("POST", base, map[string]any{"labels": []any{
			map[string]any{"name": "Cat"},
			map[string]any{"name": "Fox", "property": map[string]any{"@modelarts:shortcut": "C"}},
			map[string]any{"name": "Owl", "property": map[string]any{"@modelarts:shortcut": "O"}},
			map[string]any{"name": "Eel", "type": 0},
		}})
		if st != 200 || out["success"] != false || out["error_code"] != "ModelArts.4411" {
			t.Fatalf("create labels with failures: %d %v", st, out)
		}
		res := out["results"].([]any)
		want := []string{"ModelArts.4411", "ModelArts.4412", "", "ModelArts.4413"}
		for i, w := range want {
			r := res[i].(map[string]any)
			if (w == "") != (r["success"] == true) || w != "" && r["error_code"] != w {
				t.Errorf("create result %d: %v, want %q", i, r, w)
			}
		}
		if got := names(""); got != "4:Cat,Dog,Bird,Owl" {
			t.Errorf("labels %s", got)
		}
		if got := names("?offset=1&limit=2"); got != "4:Bird,Owl" {
			t.Errorf("labels page %s", got)
		}
		for _, bad := range []string{"limit=0", "limit=100001", "offset=-1"} {
			st, out := c.do("GET", base+"?"+bad, nil)
			field, _, _ := strings.Cut(bad, "=")
			c.wantErr(400, out, st, "ModelArts.4200", field)
		}
		st, out = c.do("GET", base+"?version_id=v1", nil)
		c.wantErr(400, out, st, "ModelArts.4353", "v1")
		st, out = c.do("POST", base, map[string]any{"labels": []any{}})
		c.wantErr(400, out, st, "ModelArts.4200", "labels")
		st, out = c.do("POST", base, map[string]any{"labels": []any{map[string]any{"name": "a/b"}}})
		if st != 200 || out["success"] != false || out["results"].([]any)[0].(map[string]any)["error_code"] != "ModelArts.4200" {
			t.Errorf("label with a slash: %d %v", st, out)
		}

		// Modify in batches: rename, recolour; unknown and conflicting items fail alone.
		st, out = c.do("PUT", base, map[string]any{"labels": []any{
			map[string]any{"name": "Cat", "property": map[string]any{"@modelarts:color": "#8a1524", "@modelarts:rename_to": "pussycat"}},
			map[string]any{"name": "Wolf", "property": map[string]any{"@modelarts:color": "#000000"}},
			map[string]any{"name": "Dog", "property": map[string]any{"@modelarts:rename_to": "Bird"}},
			map[string]any{"name": "Dog", "property": map[string]any{"@modelarts:shortcut": "O"}},
			map[string]any{"name": "Bird", "property": map[string]any{"@modelarts:shortcut": "D"}},
		}})
		if st != 200 || out["success"] != false {
			t.Fatalf("modify labels: %d %v", st, out)
		}
		res = out["results"].([]any)
		want = []string{"", "ModelArts.4410", "ModelArts.4411", "ModelArts.4412", ""}
		for i, w := range want {
			r := res[i].(map[string]any)
			if (w == "") != (r["success"] == true) || w != "" && r["error_code"] != w {
				t.Errorf("modify result %d: %v, want %q", i, r, w)
			}
		}
		if got := names(""); got != "4:pussycat,Dog,Bird,Owl" {
			t.Errorf("labels after modify %s", got)
		}
		st, out = c.do("PUT", base, map[string]any{"labels": []any{map[string]any{"name": "Owl", "property": map[string]any{"@modelarts:rename_to": "Hawk"}}}})
		if st != 200 || out["success"] != true {
			t.Errorf("modify labels: %d %v", st, out)
		}

		// Update by name: 204; label_type must match; unknown name 4410.
		st, _ = c.do("PUT", base+"/Dog", map[string]any{"@modelarts:color": "#93c47d"})
		if st != http.StatusNoContent {
			t.Errorf("update by name: %d", st)
		}
		st, out = c.do("PUT", base+"/Dog?label_type=0", map[string]any{"@modelarts:color": "#93c47d"})
		c.wantErr(400, out, st, "ModelArts.4410", "Dog")
		st, out = c.do("PUT", base+"/Dog?label_type=x", map[string]any{"@modelarts:color": "#93c47d"})
		c.wantErr(400, out, st, "ModelArts.4200", "label_type")
		st, out = c.do("PUT", base+"/Nobody", map[string]any{"@modelarts:color": "#93c47d"})
		c.wantErr(400, out, st, "ModelArts.4410", "Nobody")
		st, out = c.do("PUT", base+"/Dog", map[string]any{"@modelarts:color": "green"})
		c.wantErr(400, out, st, "ModelArts.4200", "@modelarts:color")
		st, _ = c.do("PUT", base+"/Dog?label_type=1", map[string]any{"@modelarts:rename_to": "Hound"})
		if st != http.StatusNoContent {
			t.Errorf("rename by name: %d", st)
		}
		st, lab := c.do("GET", base, nil)
		if st != 200 {
			t.Fatal(st)
		}
		hound := lab["labels"].([]any)[1].(map[string]any)
		if hound["name"] != "Hound" || hound["property"].(map[string]any)["@modelarts:color"] != "#93c47d" {
			t.Errorf("renamed label %v", hound)
		}

		// Delete in batches.
		st, out = c.do("POST", base+"/delete", map[string]any{"labels": []any{map[string]any{"name": "Hound"}, map[string]any{"name": "Ghost"}}})
		if st != 200 || out["success"] != false || out["results"].([]any)[1].(map[string]any)["error_code"] != "ModelArts.4410" || out["results"].([]any)[0].(map[string]any)["success"] != true {
			t.Errorf("delete labels: %d %v", st, out)
		}
		st, out = c.do("POST", base+"/delete?delete_policy=3", map[string]any{"labels": []any{map[string]any{"name": "Hawk"}}})
		c.wantErr(400, out, st, "ModelArts.4200", "delete_policy")
		st, out = c.do("POST", base+"/delete?delete_policy=1", map[string]any{"labels": []any{map[string]any{"name": "Hawk"}}})
		if st != 200 || out["success"] != true {
			t.Errorf("delete labels: %d %v", st, out)
		}
		if got := names(""); got != "2:pussycat,Bird" {
			t.Errorf("labels after delete %s", got)
		}
		// A freed shortcut can be taken again, and a freed name re-created last.
		st, out = c.do("POST", base, map[string]any{"labels": []any{map[string]any{"name": "Hawk", "property": map[string]any{"@modelarts:shortcut": "O"}}}})
		if st != 200 || out["success"] != true {
			t.Errorf("re-create: %d %v", st, out)
		}
		if got := names(""); got != "3:pussycat,Bird,Hawk" {
			t.Errorf("labels after re-create %s", got)
		}

		// Two labels swap names in one batch (through a third name).
		st, out = c.do("PUT", base, map[string]any{"labels": []any{
			map[string]any{"name": "pussycat", "property": map[string]any{"@modelarts:rename_to": "tmp"}},
			map[string]any{"name": "Bird", "property": map[string]any{"@modelarts:rename_to": "pussycat"}},
			map[string]any{"name": "tmp", "property": map[string]any{"@modelarts:rename_to": "Bird"}},
		}})
		if st != 200 || out["success"] != true {
			t.Errorf("swap: %d %v", st, out)
		}
		if got := names(""); got != "3:Bird,pussycat,Hawk" {
			t.Errorf("labels after swap %s", got)
		}

		// Triplets: an entity in use cannot go; its rename carries over.
		tid := c.create("triples", 102, map[string]any{"labels": []any{
			map[string]any{"name": "person", "type": 103}, map[string]any{"name": "city", "type": 103},
			map[string]any{"name": "lives_in", "type": 102, "property": map[string]any{"@modelarts:from_type": "person", "@modelarts:to_type": "city"}},
		}})
		tbase := "/datasets/" + tid + "/data-annotations/labels"
		st, out = c.do("POST", tbase+"/delete", map[string]any{"labels": []any{map[string]any{"name": "city"}}})
		if st != 200 || out["success"] != false || out["error_code"] != "ModelArts.4415" {
			t.Errorf("delete entity in use: %d %v", st, out)
		}
		st, _ = c.do("PUT", tbase+"/city", map[string]any{"@modelarts:rename_to": "town"})
		if st != http.StatusNoContent {
			t.Errorf("rename entity: %d", st)
		}
		_, lab = c.do("GET", tbase, nil)
		rel := lab["labels"].([]any)[2].(map[string]any)
		if rel["property"].(map[string]any)["@modelarts:to_type"] != "town" {
			t.Errorf("relationship after entity rename: %v", rel)
		}
		st, out = c.do("POST", tbase, map[string]any{"labels": []any{map[string]any{"name": "works_in", "type": 102, "property": map[string]any{"@modelarts:from_type": "person", "@modelarts:to_type": "city"}}}})
		if st != 200 || out["error_code"] != "ModelArts.4414" {
			t.Errorf("relationship to a missing entity: %d %v", st, out)
		}
		st, out = c.do("POST", tbase+"/delete", map[string]any{"labels": []any{map[string]any{"name": "lives_in"}, map[string]any{"name": "town"}}})
		if st != 200 || out["success"] != true {
			t.Errorf("delete relationship then entity: %d %v", st, out)
		}

		for _, p := range []string{"POST " + base, "PUT " + base, "POST " + base + "/delete"} {
			m, path, _ := strings.Cut(p, " ")
			st, out := c.do(m, path, "{")
			c.wantErr(400, out, st, "ModelArts.4200", "JSON")
		}
	})
}

func TestDatasetRelatedActions(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		a := env.Account
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		ak, sk := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "ds-no-obs",
			"modelarts:dataset:createDataset", "modelarts:dataset:deleteDataset", "modelarts:dataset:listDatasets")
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
		st, out := send("POST", "/datasets", dsBody("no-obs", 0, nil))
		c.wantErr(403, out, st, "ModelArts.0108", "obs:bucket:HeadBucket")
		st, out = c.do("GET", "/datasets?search_content=no-obs", nil)
		if out["total_number"] != 0.0 {
			t.Errorf("a refused creation left a dataset: %d %v", st, out)
		}

		id := c.create("owned", 0, nil)
		st, out = send("DELETE", "/datasets/"+id, nil)
		c.wantErr(403, out, st, "ModelArts.0108", "obs:bucket:ListAllMyBuckets")
		if st, _ := c.do("GET", "/datasets/"+id, nil); st != http.StatusOK {
			t.Errorf("a refused deletion removed the dataset: %d", st)
		}

		// With the bucket actions and PutObject only under the input path,
		// the work path's PutObject is still missing.
		ak, sk = newUserWithPolicy(t, admin, a.DomainID, "", "ds-some-obs", "AX", []iammodel.ServiceStatement{
			{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: []string{"modelarts:dataset:createDataset",
				"obs:bucket:HeadBucket", "obs:bucket:ListBucket", "obs:bucket:ListAllMyBuckets"}},
			{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: []string{"obs:object:PutObject"}, Resource: &[]string{"obs:*:*:object:data-in/*"}},
		})
		st, out = send("POST", "/datasets", dsBody("some-obs", 0, nil))
		c.wantErr(403, out, st, "ModelArts.0108", "obs:object:PutObject")
		if !strings.Contains(fmt.Sprint(out["error_msg"]), "data-out/some-obs/") {
			t.Errorf("denial names %v, want the work path", out["error_msg"])
		}
		// Granted PutObject on the work path too, it succeeds.
		ak, sk = newUserWithPolicy(t, admin, a.DomainID, "", "ds-all-obs", "AX", []iammodel.ServiceStatement{
			{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: []string{"modelarts:dataset:createDataset",
				"obs:bucket:HeadBucket", "obs:bucket:ListBucket", "obs:bucket:ListAllMyBuckets"}},
			{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: []string{"obs:object:PutObject"}, Resource: &[]string{"obs:*:*:object:data-in/*", "obs:*:*:object:data-out/*"}},
		})
		if st, out = send("POST", "/datasets", dsBody("all-obs", 0, nil)); st != http.StatusCreated {
			t.Errorf("create with the OBS actions: %d %v", st, out)
		}
		st, out = c.do("GET", "/datasets", nil)
		if out["total_number"] != 2.0 {
			t.Errorf("datasets: %d %v, want owned and all-obs", st, out)
		}
	})
}

func TestDatasetIsolation(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("mine", 0, map[string]any{"labels": []any{map[string]any{"name": "x"}}})
		b := env.NewAccount(t, "victim-ds")
		other := &dsClient{t: t, env: env, project: b.ProjectID, token: env.Token(t, b.DomainName, b.UserName, b.Password, b.ProjectName)}
		for _, p := range []string{"GET /datasets/" + id, "PUT /datasets/" + id, "DELETE /datasets/" + id,
			"GET /datasets/" + id + "/data-annotations/labels", "POST /datasets/" + id + "/data-annotations/labels",
			"PUT /datasets/" + id + "/data-annotations/labels", "POST /datasets/" + id + "/data-annotations/labels/delete",
			"PUT /datasets/" + id + "/data-annotations/labels/x"} {
			m, path, _ := strings.Cut(p, " ")
			var body any
			switch {
			case m == "PUT" && strings.HasSuffix(path, "/x"):
				body = map[string]any{"@modelarts:color": "#000000"}
			case strings.Contains(path, "labels"):
				body = map[string]any{"labels": []any{map[string]any{"name": "x"}}}
			case m == "PUT":
				body = map[string]any{"description": "stolen"}
			}
			st, out := other.do(m, path, body)
			other.wantErr(404, out, st, "ModelArts.4352", id)
			// The owner's token against the other account's project: 403.
			c2 := &dsClient{t: t, env: env, project: b.ProjectID, token: c.token}
			st, out = c2.do(m, path, body)
			if st != http.StatusForbidden {
				t.Errorf("%s with another project in the path: %d %v", p, st, out)
			}
		}
		st, out := other.do("GET", "/datasets", nil)
		if st != 200 || out["total_number"] != 0.0 {
			t.Errorf("other account lists %v", out)
		}
		if _, ds := c.do("GET", "/datasets/"+id, nil); ds["description"] != "" || len(ds["labels"].([]any)) != 1 {
			t.Errorf("dataset changed by another account: %v", ds)
		}
	})
}
