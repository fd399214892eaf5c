package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	atelierconfig "github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/inference/inferencetest"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// shapeImage draws a 64×64 image of one class: a filled disc (red), a
// square (green) or horizontal stripes (blue), each in a shade of its
// colour, at a random place and size, on a random light background with
// noise, so that no two images are alike.
func shapeImage(t testing.TB, class string, rng *rand.Rand) []byte {
	t.Helper()
	const side = 64
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	bg := color.RGBA{uint8(180 + rng.IntN(60)), uint8(180 + rng.IntN(60)), uint8(180 + rng.IntN(60)), 255}
	shade := uint8(150 + rng.IntN(100))
	pure := map[string]color.RGBA{"red": {shade, uint8(rng.IntN(60)), uint8(rng.IntN(60)), 255},
		"green": {uint8(rng.IntN(60)), shade, uint8(rng.IntN(60)), 255}, "blue": {uint8(rng.IntN(60)), uint8(rng.IntN(60)), shade, 255}}[class]
	// Some shapes are washed out towards a random grey, so that the
	// model is sure of some images and less of others.
	w, grey := 0.45+0.55*rng.Float64(), float64(60+rng.IntN(150))
	mix := func(v uint8) uint8 { return uint8(w*float64(v) + (1-w)*grey) }
	fg := color.RGBA{mix(pure.R), mix(pure.G), mix(pure.B), 255}
	r := 10 + rng.IntN(10)
	cx, cy := r+rng.IntN(side-2*r), r+rng.IntN(side-2*r)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			c := bg
			dx, dy := x-cx, y-cy
			var in bool
			switch class {
			case "red":
				in = dx*dx+dy*dy <= r*r
			case "green":
				in = dx >= -r && dx <= r && dy >= -r && dy <= r
			case "blue":
				in = (y/4)%2 == 0 && dy >= -r && dy <= r
			}
			if in {
				c = fg
			}
			n := rng.IntN(21) - 10
			c.R, c.G, c.B = clampByte(int(c.R)+n), clampByte(int(c.G)+n), clampByte(int(c.B)+n)
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func clampByte(v int) uint8 { return uint8(max(0, min(255, v))) }

var shapeClasses = []string{"red", "green", "blue"}

// shapesDataset stores perClass images of each class under data-in/<name>/
// and imports them into a new image classification dataset; truth maps
// each sample's name to its class.
func shapesDataset(t *testing.T, env *servertest.Env, c *dsClient, name string, perClass int, dups ...int) (string, map[string]string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(perClass)))
	truth := map[string]string{}
	var classes []string
	for _, class := range shapeClasses {
		for i := 0; i < perClass; i++ {
			classes = append(classes, class)
		}
	}
	// File names do not give the class away (the learner sees pixels
	// only); the test keeps the truth.
	rng.Shuffle(len(classes), func(i, j int) { classes[i], classes[j] = classes[j], classes[i] })
	for i, class := range classes {
		file := fmt.Sprintf("img-%04d.png", i)
		if _, err := env.App.Objects.Put(context.Background(), "data-in", name+"/"+file, bytes.NewReader(shapeImage(t, class, rng)), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		truth[file] = class
	}
	// dups names images stored twice more under other names: exact
	// duplicates, for de-duplication to find.
	for _, i := range dups {
		from, file := fmt.Sprintf("img-%04d.png", i), fmt.Sprintf("copy-of-%04d.png", i)
		data, _ := getObject(t, env, "data-in", name+"/"+from)
		if _, err := env.App.Objects.Put(context.Background(), "data-in", name+"/"+file, strings.NewReader(data), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		truth[file] = truth[from]
	}
	var labels []any
	for _, class := range shapeClasses {
		labels = append(labels, map[string]any{"name": class, "type": 0})
	}
	id := c.create(name, 0, map[string]any{"labels": labels})
	c.waitIdle(id)
	return id, truth
}

// labelSome labels n samples of each class by hand (through the API).
func (c *dsClient) labelSome(id string, truth map[string]string, n int) map[string]bool {
	c.t.Helper()
	ids, _ := c.samplesByNameAll(id)
	done := map[string]int{}
	labeled := map[string]bool{}
	var items []any
	for name, sid := range ids {
		class := truth[name]
		if done[class] >= n {
			continue
		}
		done[class]++
		labeled[name] = true
		items = append(items, map[string]any{"sample_id": sid, "labels": []any{map[string]any{"name": class, "type": 0}}})
	}
	if st, out := c.do("PUT", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": items}); st != http.StatusOK {
		c.t.Fatalf("label by hand: %d %v", st, out)
	}
	return labeled
}

// samplesByNameAll is samplesByName over every page.
func (c *dsClient) samplesByNameAll(id string) (map[string]string, map[string]map[string]any) {
	c.t.Helper()
	ids, samples := map[string]string{}, map[string]map[string]any{}
	for page := 0; ; page++ {
		st, out := c.do("GET", fmt.Sprintf("/datasets/%s/data-annotations/samples?limit=100&offset=%d", id, page), nil)
		if st != http.StatusOK {
			c.t.Fatalf("list samples: %d %v", st, out)
		}
		items := out["samples"].([]any)
		for _, it := range items {
			s := it.(map[string]any)
			ids[s["sample_name"].(string)] = s["sample_id"].(string)
			samples[s["sample_name"].(string)] = s
		}
		if len(items) < 100 {
			return ids, samples
		}
	}
}

// startSmart starts an intelligent task and returns its ID.
func (c *dsClient) startSmart(id string, body map[string]any) string {
	c.t.Helper()
	st, out := c.do("POST", "/datasets/"+id+"/tasks", body)
	if st != http.StatusOK {
		c.t.Fatalf("start %v: %d %v", body, st, out)
	}
	return out["task_id"].(string)
}

// waitSmart polls a task until it ends and returns its detail.
func (c *dsClient) waitSmart(id, task string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, out := c.do("GET", "/datasets/"+id+"/tasks/"+task, nil)
		if st != http.StatusOK {
			c.t.Fatalf("task %s: %d %v", task, st, out)
		}
		switch out["status"].(float64) {
		case 2, 3, 5:
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("task %s still running: %v", task, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAutoLabelLearnsAndPeopleConfirm labels 10% of a generated dataset of
// shapes by hand, lets auto-label (fast, with key samples) predict the
// rest, checks the predictions against the truth, confirms them through
// the ordinary label update, publishes a version of the whole, then runs
// de-duplication (which finds the two copies) and augmentation (one
// flipped copy of each image) as processing tasks on the dataset.
func TestAutoLabelLearnsAndPeopleConfirm(t *testing.T) {
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		id, truth := shapesDataset(t, env, c, "shapes", 50, 3, 4) // 152 images, two of them copies
		byHand := c.labelSome(id, truth, 5)                       // 15 of 152
		// The whole scope: every prediction is a key sample (how sure the model
		// is of this easy set varies with the folds the task ID seeds).
		task := c.startSmart(id, map[string]any{"task_type": "auto-label", "collect_key_sample": true,
			"config": map[string]any{"algorithm_type": "fast", "confidence_scope": "0.00-1.00"}})
		done := c.waitSmart(id, task)
		if done["status"].(float64) != 3 {
			t.Fatalf("auto-label ended %v", done)
		}
		res := done["result"].(map[string]any)
		if res["unconfirmed_sample_count"].(float64) != 137 || res["annotated_sample_count"].(float64) != 15 {
			t.Errorf("result %v; want 137 predictions from 15 labeled", res)
		}
		// The auto-annotations list holds the 137, each with a confident
		// label by "auto"; they match the truth at 90% or better.
		_, all := c.samplesByNameAll(id)
		st, auto := c.do("GET", "/datasets/"+id+"/auto-annotations/samples?limit=100", nil)
		if st != http.StatusOK || auto["sample_count"].(float64) != 137 {
			t.Fatalf("auto-annotations: %d %v", st, auto["sample_count"])
		}
		right, hard, lowest := 0, 0, 1.0
		var confirm []any
		for name, s := range all {
			if byHand[name] {
				continue
			}
			ls := s["labels"].([]any)
			if len(ls) != 1 || s["sample_status"] != "AUTO_ANNOTATION" {
				t.Fatalf("%s: %v; want one predicted label awaiting confirmation", name, s)
			}
			l := ls[0].(map[string]any)
			if l["annotated_by"] != "auto" || l["score"].(float64) <= 0 || l["score"].(float64) > 1 {
				t.Errorf("%s: label %v; want annotated_by auto with a score in (0, 1]", name, l)
			}
			if l["name"] == truth[name] {
				right++
			}
			lowest = min(lowest, l["score"].(float64))
			// A key sample is one whose confidence lies in the scope.
			flagged := s["metadata"].(map[string]any)["@modelarts:hard"] != nil
			if inScope := l["score"].(float64) <= 1.0; flagged != inScope {
				t.Errorf("%s: score %v, key sample %v; want a key sample exactly when the score is in 0.00-1.00", name, l["score"], flagged)
			}
			if flagged {
				hard++
			}
			// A person confirms the prediction (or corrects it to the truth).
			confirm = append(confirm, map[string]any{"sample_id": s["sample_id"], "labels": []any{map[string]any{"name": truth[name], "type": 0}}})
		}
		if acc := float64(right) / 137; acc < 0.90 {
			t.Errorf("auto-label got %d of 137 right (%.2f); want at least 0.90", right, acc)
		}
		if got := int(res["key_sample_count"].(float64)); got != hard {
			t.Errorf("result says %d key samples, the samples carry %d", got, hard)
		}
		t.Logf("auto-label: %d/137 right, %d key samples, lowest confidence %.4f, cv accuracy %v", right, hard, lowest, res["cv_accuracy"])
		// Statistics tell the predicted apart from the labeled, and count
		// the key samples.
		_, stats := c.do("GET", "/datasets/"+id+"/data-annotations/stats", nil)
		ss := stats["sample_stats"].(map[string]any)
		if ss["auto_annotation"] != 137.0 || ss["manual_annotation"] != 15.0 || ss["un_annotation"] != 0.0 {
			t.Errorf("sample_stats %v; want 137 auto, 15 manual, 0 unlabeled", ss)
		}
		if ks := stats["key_sample_stats"].(map[string]any); ks["key_sample"] != float64(hard) {
			t.Errorf("key_sample_stats %v; want %d key samples", ks, hard)
		}
		for from := 0; from < len(confirm); from += 100 {
			batch := confirm[from:min(from+100, len(confirm))]
			if st, out := c.do("PUT", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": batch}); st != http.StatusOK {
				t.Fatalf("confirm: %d %v", st, out)
			}
		}
		if _, auto = c.do("GET", "/datasets/"+id+"/auto-annotations/samples", nil); auto["sample_count"].(float64) != 0 {
			t.Errorf("after confirming, %v samples still await confirmation", auto["sample_count"])
		}
		_, ds := c.do("GET", "/datasets/"+id, nil)
		if ds["annotated_sample_count"].(float64) != 152 {
			t.Errorf("dataset after confirming: %v labeled; want 152", ds["annotated_sample_count"])
		}
		st, v := c.do("POST", "/datasets/"+id+"/versions", map[string]any{"version_name": "confirmed"})
		if st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("publish: %d %v", st, v)
		}
		pub := c.waitFor("/datasets/"+id+"/versions/"+v["version_id"].(string), func(m map[string]any) bool { return m["status"] != 0.0 })
		if pub["status"] != 1.0 || pub["annotated_sample_count"] != 152.0 {
			t.Fatalf("the published version: %v", pub)
		}

		// De-duplication finds the two copies (and whatever else is
		// alike); augmentation adds a flipped copy of each image.
		cls := map[string]any{"task_type": "image_classification", "dataset_type": "manifest", "do_validation": "True"}
		params := func(extra map[string]any) map[string]any {
			out := map[string]any{}
			for k, v := range cls {
				out[k] = v
			}
			for k, v := range extra {
				out[k] = v
			}
			return out
		}
		in := map[string]any{"type": "DATASET", "source": id}
		dd := c.procTask(procBody("dedup", "sys_data_selection", []any{op("SimDeduplication", params(map[string]any{"simlarity_threshold": "0.9"}))},
			in, map[string]any{"type": "OBS", "path": "obs://data-out/dedup/"}))
		dv := c.waitProc(dd, c.procVersion(dd))
		dups := dv["duplicate_sample_count"].(float64)
		if dv["status"] != 2.0 || dv["origin_sample_count"] != 152.0 || dups < 2 || dv["unmodified_sample_count"] != 152-dups {
			t.Errorf("de-duplication: %v; want 152 in, at least the 2 copies out", dv)
		}
		exact := 0
		for _, r := range c.procResults(dd, dv["task_version_id"].(string), 2) {
			d := r["result_description"].([]any)[0].([]any)
			if strings.Contains(fmt.Sprint(d), "exact duplicate") {
				exact++
			}
		}
		if exact != 2 {
			t.Errorf("de-duplication reported %d exact duplicates; want the 2 copies", exact)
		}
		aug := c.procTask(procBody("augment", "sys_data_augmentation", []any{op("Flip", params(map[string]any{"lr_ud": "lr", "flip_p": "1", "copies": 1}))},
			in, map[string]any{"type": "OBS", "path": "obs://data-out/aug/"}))
		av := c.waitProc(aug, c.procVersion(aug))
		wantCounts(t, "augmentation", av, map[string]float64{"status": 2, "origin_sample_count": 152, "unmodified_sample_count": 152, "add_sample_count": 152})
		if lines := outputLines(t, env, av); len(lines) != 304 {
			t.Errorf("augmentation output: %d manifest lines; want 304 (each image and its flipped copy)", len(lines))
		}
	})
}

// TestAutoLabelRefusals: what auto-label, pre-label and auto-grouping
// refuse, each with its reason.
func TestAutoLabelRefusals(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	id, truth := shapesDataset(t, env, c, "few", 6)
	text := c.create("texts", 100, nil)
	cases := []struct {
		name, dataset string
		before        func()
		body          map[string]any
		want          string
	}{
		{"nothing labeled", id, nil, map[string]any{"task_type": "auto-label"}, "has none"},
		{"unknown type", id, nil, map[string]any{"task_type": "auto-magic"}, "want auto-label, pre-label or auto-grouping"},
		{"bad algorithm", id, nil, map[string]any{"config": map[string]any{"algorithm_type": "slow"}}, "want fast or accurate"},
		{"bad scope", id, nil, map[string]any{"collect_key_sample": true, "config": map[string]any{"confidence_scope": "0.9-0.1"}}, "confidence_scope"},
		{"one label", id, func() { c.labelSomeOf(id, truth, "red", 5) }, map[string]any{}, "at least two labels"},
		{"too few of a label", id, func() { c.labelSomeOf(id, truth, "green", 3) }, map[string]any{}, `label "green" has 3`},
		{"no model server", id, nil, map[string]any{"task_type": "pre-label", "model_id": "resnet"}, "has none configured"},
		{"grouping without groups", id, nil, map[string]any{"task_type": "auto-grouping", "config": map[string]any{"property": "g"}}, "n_clusters"},
		{"one group", id, nil, map[string]any{"task_type": "auto-grouping", "config": map[string]any{"n_clusters": "1", "property": "g"}}, "want 2 to 200"},
		{"grouping without property", id, nil, map[string]any{"task_type": "auto-grouping", "config": map[string]any{"n_clusters": 3}}, "config.property"},
		{"grouping text", text, nil, map[string]any{"task_type": "auto-grouping", "config": map[string]any{"n_clusters": 3, "property": "g"}}, "does not apply to a dataset of type 100"},
		{"unknown field", id, nil, map[string]any{"task_typ": "auto-label"}, "task_typ"},
	}
	for _, tc := range cases {
		if tc.before != nil {
			tc.before()
		}
		st, out := c.do("POST", "/datasets/"+tc.dataset+"/tasks", tc.body)
		if st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error_msg"]), tc.want) {
			t.Errorf("%s: %d %v; want 400 saying %q", tc.name, st, out, tc.want)
		}
	}
	st, out := c.do("GET", "/datasets/"+id+"/tasks/no-such-task", nil)
	c.wantErr(http.StatusBadRequest, out, st, "ModelArts.4338", "no-such-task")
	st, out = c.do("GET", "/datasets/"+id+"/tasks?type=nope", nil)
	c.wantErr(http.StatusBadRequest, out, st, "ModelArts.4200", "type")
}

// labelSomeOf labels n samples of one class.
func (c *dsClient) labelSomeOf(id string, truth map[string]string, class string, n int) {
	c.t.Helper()
	ids, samples := c.samplesByNameAll(id)
	var items []any
	for name, sid := range ids {
		if truth[name] != class || len(samples[name]["labels"].([]any)) > 0 || len(items) == n {
			continue
		}
		items = append(items, map[string]any{"sample_id": sid, "labels": []any{map[string]any{"name": class, "type": 0}}})
	}
	if st, out := c.do("PUT", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": items}); st != http.StatusOK {
		c.t.Fatalf("label %s: %d %v", class, st, out)
	}
}

// TestPreLabelWithModelServer pre-labels a dataset through a model server
// speaking the Open Inference Protocol: its answers are the samples'
// predicted labels, a transient failure of the server is retried, and a
// sample the server refuses is a failure of its own while the task
// completes with the others.
func TestPreLabelWithModelServer(t *testing.T) {
	models := inferencetest.Start()
	defer models.Close()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			env := servertest.StartWith(t, servertest.Options{Engine: engine, Configure: func(cfg *atelierconfig.Config) {
				cfg.ModelServers = []string{"colours=" + models.URL + "/colours", "hasty=" + models.URL + "/colours?timeout=200ms"}
			}})
			c := newDSClient(t, env)
			colours := map[string]color.RGBA{"red": {220, 30, 20, 255}, "green": {20, 200, 40, 255}, "blue": {30, 40, 210, 255}}
			for i := 0; i < 9; i++ {
				name := shapeClasses[i%3]
				if _, err := env.App.Objects.Put(context.Background(), "data-in", fmt.Sprintf("swatches/s%d-%s.png", i, name), bytes.NewReader(pngOf(t, colours[name])), obs.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			// A file named like an image that is not one: the model server
			// refuses it.
			if _, err := env.App.Objects.Put(context.Background(), "data-in", "swatches/broken.png", strings.NewReader("not an image at all"), obs.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			var labels []any
			for _, n := range shapeClasses {
				labels = append(labels, map[string]any{"name": n, "type": 0})
			}
			id := c.create("swatches", 0, map[string]any{"labels": labels})
			c.waitIdle(id)
			models.FailNext.Store(1) // the first call fails with 503, and is retried
			task := c.startSmart(id, map[string]any{"task_type": "pre-label", "model_id": "colours", "collect_key_sample": true,
				"config": map[string]any{"confidence_scope": "0.0-0.5"}})
			done := c.waitSmart(id, task)
			if done["status"].(float64) != 3 {
				t.Fatalf("pre-label ended %v", done)
			}
			if res := done["result"].(map[string]any); res["unconfirmed_sample_count"].(float64) != 9 || !strings.Contains(fmt.Sprint(done["error_detail"]), "broken") && !strings.Contains(fmt.Sprint(done["error_detail"]), "not an image") {
				t.Errorf("pre-label: %v; want 9 predictions and the broken file's failure in error_detail", done)
			}
			_, all := c.samplesByNameAll(id)
			for name, s := range all {
				ls := s["labels"].([]any)
				if name == "broken.png" {
					if len(ls) != 0 || s["sample_status"] != "UN_ANNOTATION" {
						t.Errorf("the broken file got %v", s)
					}
					continue
				}
				want := name[strings.Index(name, "-")+1 : len(name)-len(".png")]
				if len(ls) != 1 || ls[0].(map[string]any)["name"] != want || s["sample_status"] != "AUTO_ANNOTATION" {
					t.Errorf("%s: %v; want a predicted %s", name, s, want)
				}
			}

			// A model server that does not answer in time on the blue
			// swatches: those samples fail with the timeout (each after its
			// retries), the task completes with the others' predictions and
			// says so.
			slow := "blue"
			models.SlowOn.Store(&slow)
			models.Delay.Store(int64(time.Second))
			defer models.Delay.Store(0)
			task = c.startSmart(id, map[string]any{"task_type": "pre-label", "model_id": "hasty"})
			done = c.waitSmart(id, task)
			if done["status"].(float64) != 3 {
				t.Fatalf("pre-label on a model server that times out ended %v; want completed with partial results", done)
			}
			res := done["result"].(map[string]any)
			detail := fmt.Sprint(done["error_detail"])
			if res["unconfirmed_sample_count"].(float64) != 6 || res["failed_sample_count"].(float64) != 4 ||
				strings.Count(detail, "no answer within 200ms") != 3 {
				t.Errorf("pre-label on a model server that times out: result %v, error_detail %q; want 6 predictions, "+
					"4 failures (the 3 blue swatches timed out, the broken file)", res, detail)
			}
		})
	}
}

// TestAutoGroupingWritesGroups groups dark and bright images into two
// groups written to a sample attribute: each kind lands in one group.
func TestAutoGroupingWritesGroups(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 12; i++ {
		base := 20 + rng.IntN(30)
		kind := "dark"
		if i%2 == 1 {
			base, kind = 200+rng.IntN(40), "bright"
		}
		c := color.RGBA{uint8(base), uint8(base + rng.IntN(15)), uint8(base), 255}
		if _, err := env.App.Objects.Put(context.Background(), "data-in", fmt.Sprintf("mixed/%s-%d.png", kind, i), bytes.NewReader(pngOf(t, c)), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	id := c.create("mixed", 0, nil)
	c.waitIdle(id)
	task := c.startSmart(id, map[string]any{"task_type": "auto-grouping", "config": map[string]any{"n_clusters": 2, "property": "group", "image_brightness": true, "result_type": 1}})
	done := c.waitSmart(id, task)
	if done["status"].(float64) != 3 {
		t.Fatalf("auto-grouping ended %v", done)
	}
	// The default list shows auto-label and pre-label only; type shows it.
	if _, out := c.do("GET", "/datasets/"+id+"/tasks", nil); out["total_count"].(float64) != 0 {
		t.Errorf("the default task list shows %v; want no auto-label or pre-label task", out)
	}
	if _, out := c.do("GET", "/datasets/"+id+"/tasks?type=auto-grouping", nil); out["total_count"].(float64) != 1 {
		t.Errorf("type=auto-grouping lists %v; want the task", out)
	}
	_, all := c.samplesByNameAll(id)
	groupOf := map[string]string{}
	for name, s := range all {
		g, _ := s["metadata"].(map[string]any)["group"].(string)
		if g == "" || s["sample_status"] != "UN_ANNOTATION" {
			t.Fatalf("%s: %v; want an unlabeled sample with a group", name, s)
		}
		kind := name[:strings.Index(name, "-")]
		if prev, ok := groupOf[kind]; ok && prev != g {
			t.Errorf("%s images are in groups %s and %s; want one", kind, prev, g)
		}
		groupOf[kind] = g
	}
	if groupOf["dark"] == groupOf["bright"] {
		t.Errorf("dark and bright images share group %s", groupOf["dark"])
	}
	// The sample list finds a group by the attribute (SearchProp).
	cond := url.QueryEscape(fmt.Sprintf(`[{"metadata":{"op":"AND","props":{"group":[%q]}}}]`, groupOf["dark"]))
	st, out := c.do("GET", "/datasets/"+id+"/data-annotations/samples?limit=100&search_conditions="+cond, nil)
	if st != http.StatusOK || out["sample_count"] != 6.0 {
		t.Fatalf("the dark group by its attribute: %d %v; want its 6 images", st, out["sample_count"])
	}
	for _, it := range out["samples"].([]any) {
		if name := it.(map[string]any)["sample_name"].(string); !strings.HasPrefix(name, "dark-") {
			t.Errorf("the dark group lists %s", name)
		}
	}
}
