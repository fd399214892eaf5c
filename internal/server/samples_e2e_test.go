package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

func sampleIDs(out map[string]any) []string {
	var ids []string
	for _, s := range out["samples"].([]any) {
		ids = append(ids, s.(map[string]any)["sample_id"].(string))
	}
	return ids
}

func TestSamplesAndManualLabeling(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		ctx := context.Background()
		id := c.create("pets", 0, nil)
		base := "/datasets/" + id + "/data-annotations"

		// Two files already in the bucket, added by path; one uploaded inline.
		for _, k := range []string{"pets/a.jpg", "pets/b.jpg"} {
			if _, err := env.App.Objects.Put(ctx, "data-in", k, strings.NewReader("img "+k), obs.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		st, out := c.do("POST", base+"/samples", map[string]any{"samples": []any{
			map[string]any{"data_source": map[string]any{"data_path": "obs://data-in/pets/a.jpg"}, "labels": []any{map[string]any{"name": "cat"}}},
			map[string]any{"data_source": map[string]any{"data_path": "/data-in/pets/b.jpg"}},
			map[string]any{"name": "c.jpg", "data": base64.StdEncoding.EncodeToString([]byte("inline image")), "labels": []any{map[string]any{"name": "dog", "type": 0}}},
			map[string]any{"data_source": map[string]any{"data_path": "/data-in/pets/missing.jpg"}},
		}})
		if st != http.StatusOK || out["success"] != false {
			t.Fatalf("add samples: %d %v", st, out)
		}
		results := out["results"].([]any)
		for i, want := range []bool{true, true, true, false} {
			if got := results[i].(map[string]any)["success"]; got != want {
				t.Errorf("results[%d].success = %v, want %v (%v)", i, got, want, results[i])
			}
		}
		if name := results[2].(map[string]any)["name"]; name != "/data-in/pets/c.jpg" {
			t.Errorf("inline sample stored at %v, want the dataset's input directory", name)
		}
		rc, _, err := env.App.Objects.Get(ctx, "data-in", "pets/c.jpg", nil)
		if err != nil {
			t.Fatalf("inline sample not stored: %v", err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) != "inline image" {
			t.Errorf("stored %q", data)
		}

		// Lists and filters.
		st, out = c.do("GET", base+"/samples?limit=10", nil)
		if st != 200 || out["sample_count"] != 3.0 || len(out["samples"].([]any)) != 3 {
			t.Fatalf("list: %d %v", st, out)
		}
		st, out = c.do("GET", base+"/samples?label_name=cat", nil)
		if out["sample_count"] != 1.0 || out["samples"].([]any)[0].(map[string]any)["sample_name"] != "a.jpg" {
			t.Errorf("label filter: %d %v", st, out)
		}
		st, out = c.do("GET", base+"/samples?sample_state=__NONE__", nil)
		if out["sample_count"] != 1.0 || out["samples"].([]any)[0].(map[string]any)["sample_status"] != "UN_ANNOTATION" {
			t.Errorf("state filter: %d %v", st, out)
		}
		cond, _ := json.Marshal([]any{map[string]any{"label_list": map[string]any{"op": "OR", "labels": []any{
			map[string]any{"name": "cat"}, map[string]any{"name": "dog"}}}}})
		st, out = c.do("GET", base+"/samples?search_conditions="+url.QueryEscape(string(cond)), nil)
		if out["sample_count"] != 2.0 {
			t.Errorf("search_conditions cat OR dog: %d %v", st, out)
		}
		for _, bad := range []string{"limit=0", "limit=101", "order=up", "sample_state=__X__", "low_score=2", "search_conditions=%7B", "label_type=7"} {
			st, out = c.do("GET", base+"/samples?"+bad, nil)
			if st != 400 || out["error_code"] != "ModelArts.4200" {
				t.Errorf("%s: %d %v, want 400 ModelArts.4200", bad, st, out)
			}
		}

		// One sample: a presigned URL that serves the file.
		_, out = c.do("GET", base+"/samples?label_name=dog", nil)
		dogID := sampleIDs(out)[0]
		st, out = c.do("GET", base+"/samples/"+dogID, nil)
		if st != 200 || !strings.HasPrefix(out["source"].(string), "http") {
			t.Fatalf("get sample: %d %v", st, out)
		}
		resp, err := http.Get(out["source"].(string))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "inline image" {
			t.Errorf("preview URL: %d %q", resp.StatusCode, body)
		}
		st, out = c.do("GET", base+"/samples/0123456789abcdef0123456789abcdef", nil)
		c.wantErr(400, out, st, "ModelArts.4420", "does not exist")
		// sample_state filters the detail: the labeled dog sample is found
		// as labeled, not as unlabeled.
		if st, out = c.do("GET", base+"/samples/"+dogID+"?sample_state=__ALL__", nil); st != 200 {
			t.Errorf("labeled sample with sample_state=__ALL__: %d %v", st, out)
		}
		st, out = c.do("GET", base+"/samples/"+dogID+"?sample_state=__NONE__", nil)
		c.wantErr(400, out, st, "ModelArts.4420", "does not exist")
		// … and the label statistics: among unlabeled samples no label counts.
		_, out = c.do("GET", base+"/stats?sample_state=__NONE__", nil)
		for _, l := range out["label_stats"].([]any) {
			if m := l.(map[string]any); m["sample_count"] != 0.0 || m["count"] != 0.0 {
				t.Errorf("label stats among unlabeled samples: %v", m)
			}
		}
		_, out = c.do("GET", base+"/stats?sample_state=__ALL__", nil)
		for _, l := range out["label_stats"].([]any) {
			if m := l.(map[string]any); m["sample_count"] != 1.0 {
				t.Errorf("label stats among labeled samples: %v, want 1 sample each", m)
			}
		}

		// Manual labeling: box-free classification labels; an unknown sample
		// fails alone.
		_, out = c.do("GET", base+"/samples?sample_state=__NONE__", nil)
		bID := sampleIDs(out)[0]
		st, out = c.do("PUT", base+"/samples", map[string]any{"samples": []any{
			map[string]any{"sample_id": bID, "labels": []any{map[string]any{"name": "cat"}, map[string]any{"name": "dog"}}},
			map[string]any{"sample_id": "nope"},
		}})
		if st != 200 || out["success"] != false || out["results"].([]any)[0].(map[string]any)["success"] != true {
			t.Fatalf("update labels: %d %v", st, out)
		}
		_, out = c.do("GET", base+"/stats", nil)
		ss := out["sample_stats"].(map[string]any)
		if ss["total"] != 3.0 || ss["manual_annotation"] != 3.0 || ss["un_annotation"] != 0.0 {
			t.Errorf("stats: %v", ss)
		}
		counts := map[string]float64{}
		for _, l := range out["label_stats"].([]any) {
			m := l.(map[string]any)
			counts[m["name"].(string)] = m["sample_count"].(float64)
		}
		if counts["cat"] != 2 || counts["dog"] != 2 {
			t.Errorf("label stats: %v", counts)
		}
		st, out = c.do("GET", base+"/search-condition", nil)
		if st != 200 || len(out["labels"].([]any)) != 2 || len(out["labelers"].([]any)) != 1 {
			t.Errorf("search-condition: %d %v", st, out)
		}
		st, out = c.do("GET", "/datasets/"+id+"/metrics?start_time=0&end_time=99999999999999", nil)
		if st != 200 || len(out["metrics"].(map[string]any)["total"].(map[string]any)) != 1 {
			t.Errorf("metrics: %d %v", st, out)
		}

		// Delete with its source file.
		st, out = c.do("POST", base+"/samples/delete", map[string]any{"samples": []string{dogID}, "delete_source": true})
		if st != 200 || out["success"] != true {
			t.Fatalf("delete: %d %v", st, out)
		}
		if _, err := env.App.Objects.Head(ctx, "data-in", "pets/c.jpg"); err == nil {
			t.Error("delete_source left the file")
		}
		_, out = c.do("GET", base+"/stats", nil)
		if out["sample_stats"].(map[string]any)["total"] != 2.0 {
			t.Errorf("after delete: %v", out["sample_stats"])
		}
	})
}

func TestSamplesRelatedActions(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		a := env.Account
		id := c.create("guarded", 0, nil)
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		ak, sk := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "samples-no-obs",
			"modelarts:sample:addSamples", "modelarts:sample:listSamples", "modelarts:dataset:getDataset")
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
		st, out := send("POST", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": []any{
			map[string]any{"name": "x.jpg", "data": base64.StdEncoding.EncodeToString([]byte("x"))}}})
		c.wantErr(403, out, st, "ModelArts.0108", "obs:object:PutObject")
		if _, err := env.App.Objects.Head(context.Background(), "data-in", "guarded/x.jpg"); err == nil {
			t.Error("a refused upload stored the file")
		}
		_, out = c.do("GET", "/datasets/"+id+"/data-annotations/stats", nil)
		if out["sample_stats"].(map[string]any)["total"] != 0.0 {
			t.Errorf("a refused upload added a sample: %v", out)
		}
		// The admin adds one; the user without GetObject cannot list it.
		st, out = c.do("POST", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": []any{
			map[string]any{"name": "x.jpg", "data": base64.StdEncoding.EncodeToString([]byte("x"))}}})
		if st != 200 || out["success"] != true {
			t.Fatalf("admin add: %d %v", st, out)
		}
		st, out = send("GET", "/datasets/"+id+"/data-annotations/samples", nil)
		c.wantErr(403, out, st, "ModelArts.0108", "obs:object:GetObject")

		// Base64 over the per-file limit: 413.
		big := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 5<<20+10))
		st, out = c.do("POST", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": []any{
			map[string]any{"name": "big.bin", "data": big}}})
		if st != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized sample: %d %v", st, fmt.Sprint(out)[:min(200, len(fmt.Sprint(out)))])
		}
	})
}

// TestAddSamplesLeavesNoOrphans: a file uploaded with a sample whose row is
// refused is deleted again; one whose row is written stays.
func TestAddSamplesLeavesNoOrphans(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id := c.create("orphans", 0, nil)
		c.waitIdle(id)
		st, out := c.do("POST", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": []any{
			map[string]any{"name": "kept.jpg", "data": base64.StdEncoding.EncodeToString([]byte("kept"))},
			// An object-detection label without a box: refused for this item alone.
			map[string]any{"name": "refused.jpg", "data": base64.StdEncoding.EncodeToString([]byte("refused")),
				"labels": []any{map[string]any{"name": "cat", "type": 1}}},
		}})
		if st != http.StatusOK || out["success"] != false {
			t.Fatalf("add samples: %d %v", st, out)
		}
		results := out["results"].([]any)
		if results[0].(map[string]any)["success"] != true || results[1].(map[string]any)["success"] != false {
			t.Fatalf("results %v; want the first added and the second refused", results)
		}
		ctx := context.Background()
		if _, err := env.App.Objects.Head(ctx, "data-in", "orphans/kept.jpg"); err != nil {
			t.Errorf("the added sample's file is gone: %v", err)
		}
		if _, err := env.App.Objects.Head(ctx, "data-in", "orphans/refused.jpg"); err == nil {
			t.Errorf("the refused sample's upload was left behind")
		}
	})
}
