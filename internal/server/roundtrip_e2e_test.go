package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// The round trip, for three dataset types: a dataset made from a
// folder (labels from its layout), a few samples labeled by hand, a
// version published, exported, and the export imported into a second
// dataset that must hold the same samples with the same labels.

// pollUntil polls path until done says the answer is final, and fails the
// test on a failure status or a timeout.
func (c *dsClient) pollUntil(path string, done func(map[string]any) (bool, error)) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, out := c.do("GET", path, nil)
		if st != http.StatusOK {
			c.t.Fatalf("GET %s: %d %v", path, st, out)
		}
		ok, err := done(out)
		if err != nil {
			c.t.Fatalf("GET %s: %v (%v)", path, err, out)
		}
		if ok {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("GET %s: not done after 60 s: %v", path, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func taskDone(out map[string]any) (bool, error) {
	switch s := fmt.Sprint(out["status"]); s {
	case "COMPLETED", "SUCCEEDED", "SUCCESSED":
		return true, nil
	case "FAILED":
		return false, fmt.Errorf("task failed")
	}
	return false, nil
}

// importAndWait runs an import task and waits for its end.
func (c *dsClient) importAndWait(id string, body map[string]any) map[string]any {
	c.t.Helper()
	st, out := c.do("POST", "/datasets/"+id+"/import-tasks", body)
	if st != http.StatusOK && st != http.StatusCreated {
		c.t.Fatalf("import %v: %d %v", body, st, out)
	}
	return c.pollUntil("/datasets/"+id+"/import-tasks/"+out["task_id"].(string), taskDone)
}

// publishAndExport publishes a version and exports it to dir; it returns
// the exported manifest's path.
func (c *dsClient) publishAndExport(id, dir string) string {
	c.t.Helper()
	st, out := c.do("POST", "/datasets/"+id+"/versions", map[string]any{"version_name": "V001", "train_evaluate_sample_ratio": "0.8"})
	if st != http.StatusOK && st != http.StatusCreated {
		c.t.Fatalf("publish: %d %v", st, out)
	}
	vid := out["version_id"].(string)
	c.pollUntil("/datasets/"+id+"/versions/"+vid, func(v map[string]any) (bool, error) {
		switch v["status"] {
		case 1.0:
			return true, nil
		case 4.0:
			return false, fmt.Errorf("version failed")
		}
		return false, nil
	})
	st, out = c.do("POST", "/datasets/"+id+"/export-tasks", map[string]any{"path": dir, "version_id": vid})
	if st != http.StatusOK && st != http.StatusCreated {
		c.t.Fatalf("export: %d %v", st, out)
	}
	c.pollUntil("/datasets/"+id+"/export-tasks/"+out["task_id"].(string), taskDone)
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(dir, "obs://"), "/")
	page, err := c.env.App.Objects.List(context.Background(), bucket, obs.ListOptions{Prefix: prefix})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, o := range page.Objects {
		if strings.HasSuffix(o.Key, ".manifest") {
			return "obs://" + bucket + "/" + o.Key
		}
	}
	c.t.Fatalf("no manifest under %s: %v", dir, page.Objects)
	return ""
}

// snapshot lists every sample of a dataset as source → its labels (names
// with the properties that matter: boxes, offsets), sorted.
func (c *dsClient) snapshot(id string) map[string]string {
	c.t.Helper()
	out := map[string]string{}
	for offset := 0; ; offset++ { // the page index
		st, page := c.do("GET", fmt.Sprintf("/datasets/%s/data-annotations/samples?limit=100&offset=%d", id, offset), nil)
		if st != http.StatusOK {
			c.t.Fatalf("list samples: %d %v", st, page)
		}
		samples := page["samples"].([]any)
		for _, s := range samples {
			m := s.(map[string]any)
			src := m["source"].(string)
			if data, ok := m["sample_data"].([]any); ok && len(data) > 0 {
				src = "text:" + data[0].(string)
			}
			var labels []string
			for _, l := range m["labels"].([]any) {
				lm := l.(map[string]any)
				desc := fmt.Sprintf("%v/%v", lm["name"], lm["type"])
				if p, ok := lm["property"].(map[string]any); ok {
					for _, k := range []string{"@modelarts:feature", "@modelarts:start_index", "@modelarts:end_index"} {
						if v, ok := p[k]; ok {
							b, _ := json.Marshal(v)
							desc += " " + k + "=" + string(b)
						}
					}
				}
				labels = append(labels, desc)
			}
			sort.Strings(labels)
			out[src] = strings.Join(labels, "; ")
		}
		if len(samples) < 100 {
			return out
		}
	}
}

func sameSamples(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d samples, re-import has %d\n  original: %v\n  re-import: %v", what, len(a), len(b), a, b)
		return
	}
	for src, labels := range a {
		if got, ok := b[src]; !ok || got != labels {
			t.Errorf("%s: sample %s has labels %q, re-import %q (present: %v)", what, src, labels, got, ok)
		}
	}
}

func putFiles(t *testing.T, env *servertest.Env, bucket string, files map[string]string) {
	t.Helper()
	for k, v := range files {
		if _, err := env.App.Objects.Put(context.Background(), bucket, k, strings.NewReader(v), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func voc(file string, objects ...[5]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<annotation><folder>det</folder><filename>%s</filename><size><width>200</width><height>100</height><depth>3</depth></size><segmented>0</segmented>", file)
	for _, o := range objects {
		fmt.Fprintf(&b, "<object><name>%s</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult><bndbox><xmin>%v</xmin><ymin>%v</ymin><xmax>%v</xmax><ymax>%v</ymax></bndbox></object>", o[0], o[1], o[2], o[3], o[4])
	}
	b.WriteString("</annotation>")
	return b.String()
}

func TestDatasetRoundTrip(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		sampleID := func(id, name string) string {
			t.Helper()
			cond, _ := json.Marshal([]any{map[string]any{"sample_name": name}})
			st, out := c.do("GET", "/datasets/"+id+"/data-annotations/samples?search_conditions="+url.QueryEscape(string(cond)), nil)
			if st != 200 || len(out["samples"].([]any)) != 1 {
				t.Fatalf("find sample %s: %d %v", name, st, out)
			}
			return out["samples"].([]any)[0].(map[string]any)["sample_id"].(string)
		}
		label := func(id string, items ...map[string]any) {
			t.Helper()
			st, out := c.do("PUT", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": items})
			if st != 200 || out["success"] != true {
				t.Fatalf("label: %d %v", st, out)
			}
		}

		t.Run("image-classification", func(t *testing.T) {
			putFiles(t, env, "data-in", map[string]string{
				"cls/cat/1.jpg": "c1", "cls/cat/2.jpg": "c2", "cls/dog/3.jpg": "d3", "cls/dog/4.jpg": "d4",
				"cls/5.jpg": "u5", "cls/6.jpg": "u6", "cls/7.jpg": "u7",
			})
			id := c.create("rt-cls", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/cls/"}}})
			c.importAndWait(id, map[string]any{"import_path": "obs://data-in/cls/", "import_type": "dir"})
			before := c.snapshot(id)
			if len(before) != 7 {
				t.Fatalf("imported %d samples, want 7: %v", len(before), before)
			}
			label(id, map[string]any{"sample_id": sampleID(id, "5.jpg"), "labels": []any{map[string]any{"name": "cat"}}},
				map[string]any{"sample_id": sampleID(id, "6.jpg"), "labels": []any{map[string]any{"name": "bird"}}})
			original := c.snapshot(id)
			manifest := c.publishAndExport(id, "obs://data-out/rt-cls-export/")
			id2 := c.create("rt-cls-copy", 0, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/empty-cls/"}}})
			c.importAndWait(id2, map[string]any{"import_path": manifest, "import_type": "manifest"})
			sameSamples(t, "image classification", original, c.snapshot(id2))
		})

		t.Run("object-detection", func(t *testing.T) {
			putFiles(t, env, "data-in", map[string]string{
				"det/a.jpg": "A", "det/a.xml": voc("a.jpg", [5]any{"car", 10, 20, 50, 60}, [5]any{"person", 60, 5, 90, 95}),
				"det/b.jpg": "B", "det/b.xml": voc("b.jpg", [5]any{"car", 1, 2, 30, 40}),
				"det/c.jpg": "C",
			})
			id := c.create("rt-det", 1, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/det/"}}})
			c.importAndWait(id, map[string]any{"import_path": "obs://data-in/det/", "import_type": "dir"})
			label(id, map[string]any{"sample_id": sampleID(id, "c.jpg"), "metadata": map[string]any{"@modelarts:size": []any{200, 100, 3}},
				"labels": []any{map[string]any{"name": "person", "type": 1, "property": map[string]any{
					"@modelarts:shape": "bndbox", "@modelarts:feature": []any{[]any{5, 5}, []any{25, 45}}}}}})
			original := c.snapshot(id)
			if !strings.Contains(original[firstKey(original, "a.jpg")], "[[10,20],[50,60]]") {
				t.Fatalf("VOC boxes not imported: %v", original)
			}
			manifest := c.publishAndExport(id, "obs://data-out/rt-det-export/")
			id2 := c.create("rt-det-copy", 1, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/empty-det/"}}})
			c.importAndWait(id2, map[string]any{"import_path": manifest, "import_type": "manifest"})
			sameSamples(t, "object detection", original, c.snapshot(id2))
		})

		t.Run("text-classification", func(t *testing.T) {
			putFiles(t, env, "data-in", map[string]string{
				"txt/reviews.txt": "great phone\tpositive\nbroke in a day\tnegative\nit is a phone\n",
			})
			id := c.create("rt-txt", 100, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/txt/"}}})
			c.importAndWait(id, map[string]any{"import_path": "obs://data-in/txt/", "import_type": "dir"})
			before := c.snapshot(id)
			if len(before) != 3 || before["text:great phone"] != "positive/100" {
				t.Fatalf("text import: %v", before)
			}
			st, out := c.do("GET", "/datasets/"+id+"/data-annotations/samples?sample_state=__NONE__", nil)
			if st != 200 || len(out["samples"].([]any)) != 1 {
				t.Fatalf("unlabeled text: %d %v", st, out)
			}
			label(id, map[string]any{"sample_id": out["samples"].([]any)[0].(map[string]any)["sample_id"],
				"labels": []any{map[string]any{"name": "neutral", "type": 100}}})
			original := c.snapshot(id)
			manifest := c.publishAndExport(id, "obs://data-out/rt-txt-export/")
			id2 := c.create("rt-txt-copy", 100, map[string]any{"data_sources": []any{map[string]any{"data_path": "/data-in/empty-txt/"}}})
			c.importAndWait(id2, map[string]any{"import_path": manifest, "import_type": "manifest"})
			sameSamples(t, "text classification", original, c.snapshot(id2))
		})
	})
}

func firstKey(m map[string]string, suffix string) string {
	for k := range m {
		if strings.HasSuffix(k, suffix) {
			return k
		}
	}
	return ""
}
