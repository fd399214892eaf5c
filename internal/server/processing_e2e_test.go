package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/processing"
	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// Images the processing tests draw: rectangles of random colours on a
// random background, distinct for each seed (their perceptual hashes
// differ in about half their bits).
func drawnImage(seed uint64, w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, bg)
		}
	}
	for range 6 {
		c := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		x0, y0 := rng.IntN(w), rng.IntN(h)
		x1, y1 := min(w, x0+w/8+rng.IntN(w/2)), min(h, y0+h/8+rng.IntN(h/2))
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	return img
}

// brighter is img with every channel scaled by f.
func brighter(img *image.RGBA, f float64) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	for i := 0; i < len(img.Pix); i += 4 {
		for c := range 3 {
			out.Pix[i+c] = uint8(min(255, float64(img.Pix[i+c])*f))
		}
		out.Pix[i+3] = 255
	}
	return out
}

func pngData(t *testing.T, img image.Image) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func jpegData(t *testing.T, img image.Image, quality int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// procSet stores the processing tests' image set under data-in/<dir>/:
// six distinct images in two class folders, an exact copy of one, a
// re-encoded JPEG of another, a brighter copy of a third, a seventh image
// in PNG named .jpg and a corrupt file. Eleven samples: validation removes
// the corrupt one and repairs the misnamed one; de-duplication removes the
// corrupt one and the three duplicates.
func procSet(t *testing.T, c *dsClient, dir string) {
	t.Helper()
	imgs := make([]*image.RGBA, 6)
	for i := range imgs {
		imgs[i] = drawnImage(uint64(i+1)*7919, 96, 80)
	}
	files := map[string]string{
		"cat/a.png": pngData(t, imgs[0]), "cat/b.png": pngData(t, imgs[1]), "cat/c.png": pngData(t, imgs[2]),
		"dog/d.png": pngData(t, imgs[3]), "dog/e.png": pngData(t, imgs[4]), "dog/f.jpg": jpegData(t, imgs[5], 95),
		"cat/a-copy.png":     pngData(t, imgs[0]),
		"cat/b-reencode.jpg": jpegData(t, imgs[1], 80),
		"cat/c-bright.png":   pngData(t, brighter(imgs[2], 1.08)),
		"dog/g-misnamed.jpg": pngData(t, drawnImage(104729, 96, 80)),
		"dog/corrupt.png":    "\x89PNG\r\n\x1a\nthis is not an image at all",
	}
	for k, v := range files {
		c.put("data-in", dir+"/"+k, v)
	}
}

// procTask creates a processing task and returns its ID.
func (c *dsClient) procTask(body map[string]any) string {
	c.t.Helper()
	st, out := c.do("POST", "/processor-tasks", body)
	if st != http.StatusOK {
		c.t.Fatalf("create processing task %v: %d %v", body["name"], st, out)
	}
	return out["task_id"].(string)
}

// procVersion is the newest version of a task.
func (c *dsClient) procVersion(task string) string {
	c.t.Helper()
	st, out := c.do("GET", "/processor-tasks/"+task+"/versions?limit=1", nil)
	if st != http.StatusOK || out["count"].(float64) < 1 {
		c.t.Fatalf("versions of %s: %d %v", task, st, out)
	}
	return out["versions"].([]any)[0].(map[string]any)["task_version_id"].(string)
}

// waitProc polls a version until it ends (completed, failed or stopped).
func (c *dsClient) waitProc(task, version string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, out := c.do("GET", "/processor-tasks/"+task+"/versions/"+version, nil)
		if st != http.StatusOK {
			c.t.Fatalf("version %s: %d %v", version, st, out)
		}
		if s := out["status"].(float64); s >= 2 {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("version %s did not end: %v", version, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procResults reads every result of a version with result_property prop
// (-1 for all), page by page.
func (c *dsClient) procResults(task, version string, prop int) []map[string]any {
	c.t.Helper()
	var all []map[string]any
	for page := 0; ; page++ {
		st, out := c.do("GET", fmt.Sprintf("/processor-tasks/%s/versions/%s/results?limit=4&offset=%d&result_property=%d", task, version, page, prop), nil)
		if st != http.StatusOK {
			c.t.Fatalf("results of %s: %d %v", version, st, out)
		}
		for _, r := range out["results"].([]any) {
			all = append(all, r.(map[string]any))
		}
		if out["has_more"] != true {
			if int(out["count"].(float64)) != len(all) {
				c.t.Fatalf("results of %s: count %v, read %d", version, out["count"], len(all))
			}
			return all
		}
	}
}

// wantCounts checks a version's counts.
func wantCounts(t *testing.T, what string, v map[string]any, want map[string]float64) {
	t.Helper()
	for k, n := range want {
		if v[k] != n {
			t.Errorf("%s: %s = %v, want %v (version %v)", what, k, v[k], n, v)
		}
	}
}

func outputLines(t *testing.T, env *servertest.Env, v map[string]any) []map[string]any {
	t.Helper()
	out := v["work_path"].(map[string]any)["output_path"].(string)
	return manifestLines(t, object(t, env, out+"output.manifest"))
}

func op(name string, params map[string]any) map[string]any {
	return map[string]any{"name": name, "advanced_params_switch": false, "params": params}
}

func procBody(name, template string, ops []any, input, work map[string]any) map[string]any {
	return map[string]any{"name": name, "inputs": []any{input}, "work_path": work, "create_version": true,
		"template": map[string]any{"id": template, "operator_params": ops}, "workspace_id": "0"}
}

// wantProcErr checks a processing API's refusal.
func (c *dsClient) wantProcErr(what string, st int, out map[string]any, status int, code, msgPart string) {
	c.t.Helper()
	if st != status || out["error_code"] != code || !strings.Contains(fmt.Sprint(out["error_msg"]), msgPart) {
		c.t.Errorf("%s: %d %v; want %d %s mentioning %q", what, st, out, status, code, msgPart)
	}
}

// resultBy indexes results by their origin file's name (and, for added
// samples, their new file's).
func resultBy(rs []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range rs {
		key := r["origin_source"].(string)
		if r["result_property"] == 3.0 {
			key = r["new_source"].(string)
		}
		out[key[strings.LastIndexByte(key, '/')+1:]] = r
	}
	return out
}

// TestProcessingTasksAPI runs validation, de-duplication and augmentation
// as processing tasks on a dataset of drawn images (exact, re-encoded and
// brightened duplicates, a misnamed PNG, a corrupt file) and checks the
// counts, each sample's result, the output files and manifest, and the
// dataset version de-duplication makes; then the catalogue, the list and
// its filters, updating and deleting, and the refusals of bad requests.
func TestProcessingTasksAPI(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := newDSClient(t, env)
		procSet(t, c, "proc")
		ds := c.create("proc", 0, nil)
		c.waitIdle(ds)
		dsInput := map[string]any{"type": "DATASET", "source": ds}
		cls := map[string]any{"task_type": "image_classification", "dataset_type": "manifest"}
		with := func(extra map[string]any) map[string]any {
			out := map[string]any{}
			for k, v := range cls {
				out[k] = v
			}
			for k, v := range extra {
				out[k] = v
			}
			return out
		}

		// The catalogue: the four templates with their operators.
		st, out := c.do("GET", "/processor-tasks/items", nil)
		if st != http.StatusOK || out["total"] != 4.0 {
			t.Fatalf("items: %d %v", st, out)
		}
		ops := map[string]bool{}
		for _, it := range out["items"].([]any) {
			for _, o := range it.(map[string]any)["operators"].([]any) {
				ops[o.(map[string]any)["name"].(string)] = true
			}
		}
		for _, name := range []string{"MetaValidation", "PCC", "SimDeduplication", "RRD", "Flip", "Rotate", "AddNoise"} {
			if !ops[name] {
				t.Errorf("the catalogue has no operator %s", name)
			}
		}
		if st, out := c.do("GET", "/processor-tasks/items?limit=3&offset=1", nil); st != http.StatusOK || len(out["items"].([]any)) != 1 {
			t.Errorf("items page 1 of 3: %d %v", st, out)
		}

		// Validation into an OBS directory.
		val := c.procTask(procBody("validate", "sys_data_validation", []any{op("MetaValidation", with(map[string]any{"image_max_width": "1920"}))},
			dsInput, map[string]any{"type": "OBS", "path": "/data-out/val/"}))
		vv := c.waitProc(val, c.procVersion(val))
		wantCounts(t, "validation", vv, map[string]float64{"status": 2, "origin_sample_count": 11, "deleted_sample_count": 1,
			"modified_sample_count": 1, "unmodified_sample_count": 9, "add_sample_count": 0, "failed_sample_count": 0})
		rs := resultBy(c.procResults(val, vv["task_version_id"].(string), -1))
		if r := rs["corrupt.png"]; r["result_property"] != 2.0 || fmt.Sprint(r["result_description"]) == "" ||
			r["result_description"].([]any)[0].([]any)[0] != "corrupt" || r["new_source"] != "" {
			t.Errorf("the corrupt file's result: %v", r)
		}
		if r := rs["g-misnamed.jpg"]; r["result_property"] != 1.0 || !strings.HasSuffix(r["new_source"].(string), "/Data/dog/g-misnamed_checked.png") {
			t.Errorf("the misnamed file's result: %v", r)
		}
		if r := rs["a.png"]; r["result_property"] != 0.0 || r["signed_new_source"] == "" || r["signed_origin_source"] == "" {
			t.Errorf("a kept file's result: %v", r)
		}
		lines := outputLines(t, env, vv)
		if len(lines) != 10 {
			t.Errorf("validation output: %d lines, want 10", len(lines))
		}
		for _, l := range lines {
			if l["property"].(map[string]any)["@modelarts:data_checked"] != true {
				t.Errorf("validation output line without @modelarts:data_checked: %v", l)
			}
		}
		if n := len(c.procResults(val, vv["task_version_id"].(string), 2)); n != 1 {
			t.Errorf("result_property=2: %d results, want 1", n)
		}

		// De-duplication into a new version of the dataset.
		dd := c.procTask(procBody("dedup", "sys_data_selection",
			[]any{op("SimDeduplication", with(map[string]any{"simlarity_threshold": "0.9", "do_validation": "True"}))},
			dsInput, map[string]any{"type": "DATASET", "path": ds, "version_name": "dedup1"}))
		dv := c.waitProc(dd, c.procVersion(dd))
		wantCounts(t, "de-duplication", dv, map[string]float64{"status": 2, "origin_sample_count": 11, "deleted_sample_count": 4,
			"duplicate_sample_count": 3, "unmodified_sample_count": 7, "failed_sample_count": 0})
		rs = resultBy(c.procResults(dd, dv["task_version_id"].(string), -1))
		kinds := map[string]string{}
		for name, r := range rs {
			if r["result_property"] == 2.0 {
				d := r["result_description"].([]any)[0].([]any)
				kinds[name] = d[0].(string) + ": " + fmt.Sprint(d[len(d)-1])
			}
		}
		exact, near := 0, 0
		for _, k := range kinds {
			exact += strings.Count(k, "exact duplicate")
			near += strings.Count(k, "near duplicate")
		}
		if len(kinds) != 4 || exact != 1 || near != 2 || !strings.HasPrefix(kinds["corrupt.png"], "corrupt") {
			t.Errorf("de-duplication removed %v; want the corrupt file, one exact and two near duplicates", kinds)
		}
		if len(outputLines(t, env, dv)) != 7 {
			t.Errorf("de-duplication output: want 7 lines")
		}
		wp := dv["work_path"].(map[string]any)
		if wp["version_name"] != "dedup1" || wp["version_id"] == nil || wp["name"] != "proc" {
			t.Fatalf("de-duplication work_path: %v", wp)
		}
		dsv := c.waitFor("/datasets/"+ds+"/versions/"+wp["version_id"].(string), func(m map[string]any) bool { return m["status"] != 0.0 })
		if dsv["status"] != 1.0 || dsv["total_sample_count"] != 7.0 || dsv["annotated_sample_count"] != 7.0 || dsv["version_name"] != "dedup1" ||
			dsv["deleted_sample_count"] != 4.0 {
			t.Errorf("the dataset version of de-duplication: %v", dsv)
		}
		if st, out := c.do("GET", "/datasets/"+ds+"/data-annotations/samples?version_id="+wp["version_id"].(string)+"&limit=100", nil); st != http.StatusOK || out["sample_count"] != 7.0 {
			t.Errorf("the samples of the dataset version: %d %v", st, out)
		}
		if st, out := c.do("GET", "/datasets/"+ds, nil); st != http.StatusOK || out["total_sample_count"] != 11.0 {
			t.Errorf("the dataset itself changed: %d %v", st, out)
		}

		// Augmentation: a task without a version, then its first version.
		body := procBody("augment", "sys_data_augmentation", []any{op("Flip", with(map[string]any{"lr_ud": "lr", "flip_p": "1", "copies": 1}))},
			dsInput, map[string]any{"type": "OBS", "path": "obs://data-out/aug/"})
		body["create_version"] = false
		aug := c.procTask(body)
		if st, out := c.do("GET", "/processor-tasks/"+aug+"/versions", nil); st != http.StatusOK || out["count"] != 0.0 {
			t.Errorf("versions of a task made without one: %d %v", st, out)
		}
		if st, out := c.do("GET", "/processor-tasks/"+aug, nil); st != http.StatusOK || out["status"] != 0.0 || out["version_count"] != 0.0 {
			t.Errorf("a task without versions: %d %v", st, out)
		}
		st, out = c.do("POST", "/processor-tasks/"+aug+"/versions", map[string]any{"name": "augment", "description": "first"})
		if st != http.StatusOK {
			t.Fatalf("create version: %d %v", st, out)
		}
		av := c.waitProc(aug, out["version_id"].(string))
		wantCounts(t, "augmentation", av, map[string]float64{"status": 2, "origin_sample_count": 11, "deleted_sample_count": 1,
			"unmodified_sample_count": 10, "add_sample_count": 10})
		if av["version_name"] != "V001" || av["description"] != "first" {
			t.Errorf("augmentation version: %v", av)
		}
		added := c.procResults(aug, av["task_version_id"].(string), 3)
		if len(added) != 10 {
			t.Fatalf("added results: %d", len(added))
		}
		for _, r := range added {
			d := r["result_description"].([]any)
			if d[0].([]any)[0] != "use Flip augmentation" || !strings.Contains(r["new_source"].(string), "_Flip_0.") {
				t.Errorf("an added sample's result: %v", r)
			}
		}
		copies := 0
		for _, l := range outputLines(t, env, av) {
			if strings.Contains(l["source"].(string), "_Flip_0.") {
				copies++
				if ann, _ := l["annotation"].([]any); len(ann) != 1 || !strings.Contains("cat dog", ann[0].(map[string]any)["name"].(string)) {
					t.Errorf("a copy lost its label: %v", l)
				}
			}
		}
		if copies != 10 {
			t.Errorf("augmentation output: %d copies", copies)
		}

		// The list, its paging (offset is a page index) and filters.
		if st, out := c.do("GET", "/processor-tasks?sort_by=duration_seconds&order=asc", nil); st != http.StatusOK || out["count"] != 3.0 {
			t.Errorf("list: %d %v", st, out)
		}
		if st, out := c.do("GET", "/processor-tasks?limit=2&offset=1&sort_by=name&order=asc", nil); st != http.StatusOK || out["count"] != 3.0 ||
			len(out["tasks"].([]any)) != 1 || out["tasks"].([]any)[0].(map[string]any)["name"] != "validate" {
			t.Errorf("list page 1 by name: %d %v", st, out)
		}
		if st, out := c.do("GET", "/processor-tasks?task_type=sys_data_selection&source_type=DATASET&source="+ds, nil); st != http.StatusOK ||
			out["count"] != 1.0 || out["tasks"].([]any)[0].(map[string]any)["task_id"] != dd {
			t.Errorf("list of selection tasks: %d %v", st, out)
		}
		if st, out := c.do("GET", "/processor-tasks?status=2&query_current=true&task_name=AUG", nil); st != http.StatusOK || out["count"] != 1.0 ||
			out["tasks"].([]any)[0].(map[string]any)["is_current"] != true {
			t.Errorf("list by status and name: %d %v", st, out)
		}

		// Updating and deleting.
		if st, out := c.do("PUT", "/processor-tasks/"+val, map[string]any{"description": "checked twice"}); st != http.StatusOK {
			t.Errorf("update: %d %v", st, out)
		}
		if _, out := c.do("GET", "/processor-tasks/"+val, nil); out["description"] != "checked twice" || out["status"] != 2.0 {
			t.Errorf("after update: %v", out)
		}
		st, out = c.do("PUT", "/processor-tasks/"+val, map[string]any{"description": "a<b"})
		c.wantProcErr("a description with <", st, out, http.StatusBadRequest, "ModelArts.4200", "description")
		st, out = c.do("POST", "/processor-tasks/"+val+"/versions/"+vv["task_version_id"].(string)+"/stop", nil)
		c.wantProcErr("stopping a completed version", st, out, http.StatusBadRequest, "ModelArts.4200", "completed")
		valOut := strings.TrimPrefix(vv["work_path"].(map[string]any)["output_path"].(string), "/data-out/")
		if st, out := c.do("DELETE", "/processor-tasks/"+val+"/versions/"+vv["task_version_id"].(string), nil); st != http.StatusNoContent {
			t.Errorf("delete version: %d %v", st, out)
		}
		if keys := objectsUnder(t, env, "data-out", valOut); len(keys) != 0 {
			t.Errorf("the deleted version's output is still there: %v", keys)
		}
		if _, out := c.do("GET", "/processor-tasks/"+val, nil); out["version_count"] != 0.0 {
			t.Errorf("after deleting its version: %v", out)
		}
		if st, out := c.do("DELETE", "/processor-tasks/"+aug, nil); st != http.StatusOK {
			t.Errorf("delete task: %d %v", st, out)
		}
		st, out = c.do("GET", "/processor-tasks/"+aug, nil)
		c.wantProcErr("a deleted task", st, out, http.StatusNotFound, "ModelArts.4700", aug)
		st, out = c.do("GET", "/processor-tasks/"+dd+"/versions/"+av["task_version_id"].(string), nil)
		c.wantProcErr("a version of another task", st, out, http.StatusNotFound, "ModelArts.4700", av["task_version_id"].(string))

		// Object detection from an OBS directory (images with their VOC
		// files): the copies' boxes are flipped with their pixels.
		box := annotation.Label{Name: "box", Type: annotation.TypeObjectDetection, Property: map[string]any{
			annotation.PropShape: "bndbox", annotation.PropFeature: []any{[]any{10.0, 20.0}, []any{40.0, 50.0}}}}
		for _, name := range []string{"one", "two"} {
			c.put("data-in", "det/"+name+".png", pngData(t, drawnImage(uint64(len(name))*31+uint64(name[0]), 100, 80)))
			voc, err := formats.VOCFromLabels(name+".png", 100, 80, 3, []annotation.Label{box})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := formats.WriteVOC(&buf, voc); err != nil {
				t.Fatal(err)
			}
			c.put("data-in", "det/"+name+".xml", buf.String())
		}
		det := c.procTask(procBody("detect-flip", "sys_data_augmentation",
			[]any{op("Flip", map[string]any{"task_type": "object_detection", "lr_ud": "lr", "do_validation": false})},
			map[string]any{"type": "OBS", "source": "obs://data-in/det/"}, map[string]any{"type": "OBS", "path": "obs://data-out/det/"}))
		detV := c.waitProc(det, c.procVersion(det))
		wantCounts(t, "detection augmentation", detV, map[string]float64{"status": 2, "origin_sample_count": 2, "unmodified_sample_count": 2, "add_sample_count": 2})
		for _, l := range outputLines(t, env, detV) {
			ann := l["annotation"].([]any)[0].(map[string]any)
			doc, err := formats.ParseVOC(bytes.NewReader(object(t, env, ann["annotation-loc"].(string))))
			if err != nil {
				t.Fatalf("VOC of %v: %v", l["source"], err)
			}
			want := "[[10 20] [40 50]]"
			if strings.Contains(l["source"].(string), "_Flip_") {
				want = "[[60 20] [90 50]]"
			}
			if got := fmt.Sprint(formats.LabelsFromVOC(doc)[0].Property[annotation.PropFeature]); got != want {
				t.Errorf("box of %v: %s, want %s", l["source"], got, want)
			}
		}

		// De-redundancy keeps a diverse half, described by the learner's
		// image descriptor (the server wires it).
		rrd := c.procTask(procBody("diverse", "sys_data_selection", []any{op("RRD", map[string]any{"sample_ratio": 0.5})},
			map[string]any{"type": "OBS", "source": "obs://data-in/det/"}, map[string]any{"type": "OBS", "path": "obs://data-out/rrd/"}))
		rv := c.waitProc(rrd, c.procVersion(rrd))
		if rv["status"] != 2.0 || len(outputLines(t, env, rv)) != 1 {
			t.Errorf("de-redundancy of 2 images at ratio 0.5: %v; want one kept", rv)
		}
		if st, out := c.do("DELETE", "/processor-tasks/"+rrd, nil); st >= 300 {
			t.Fatalf("delete the de-redundancy task: %d %v", st, out)
		}

		// Bad requests: each names what is wrong.
		obsIn, obsOut := map[string]any{"type": "OBS", "source": "obs://data-in/proc/"}, map[string]any{"type": "OBS", "path": "obs://data-out/bad/"}
		for _, tc := range []struct {
			name, template string
			ops            []any
			in, work       map[string]any
			status         int
			code, msg      string
		}{
			{"unknown-operator", "sys_data_augmentation", []any{op("Flipper", nil)}, obsIn, obsOut, 400, "ModelArts.4200", `"Flipper"`},
			{"unknown-parameter", "sys_data_augmentation", []any{op("Flip", map[string]any{"flip_q": 1})}, obsIn, obsOut, 400, "ModelArts.4200", "flip_q"},
			{"bad-value", "sys_data_augmentation", []any{op("Flip", map[string]any{"flip_p": 2})}, obsIn, obsOut, 400, "ModelArts.4200", "flip_p"},
			{"operator-of-another-template", "sys_data_selection", []any{op("Flip", nil)}, obsIn, obsOut, 400, "ModelArts.4200", "augmentation operator"},
			{"feature-analysis", "sys_data_analyse", []any{op("sys_data_analyse", nil)}, obsIn, obsOut, 400, "ModelArts.4200", "sys_data_analyse"},
			{"no-work-path", "sys_data_validation", []any{op("MetaValidation", nil)}, obsIn, nil, 400, "ModelArts.4200", "work_path"},
			{"missing-dataset", "sys_data_validation", []any{op("MetaValidation", nil)}, map[string]any{"type": "DATASET", "source": missingID}, obsOut, 404, "ModelArts.4352", missingID},
			{"output-in-input", "sys_data_validation", []any{op("MetaValidation", nil)}, obsIn, map[string]any{"type": "OBS", "path": "obs://data-in/proc/out/"}, 400, "ModelArts.4200", "inside input"},
			{"no-bucket", "sys_data_validation", []any{op("MetaValidation", nil)}, obsIn, map[string]any{"type": "OBS", "path": "obs://no-such-bucket/x/"}, 400, "ModelArts.4311", "no-such-bucket"},
			{"taken-name", "sys_data_validation", []any{op("MetaValidation", nil)}, obsIn, obsOut, 400, "ModelArts.4709", "dedup"},
		} {
			name := "bad-" + tc.name
			if tc.name == "taken-name" {
				name = "dedup"
			}
			body := procBody(name, tc.template, tc.ops, tc.in, tc.work)
			if tc.work == nil {
				delete(body, "work_path")
			}
			st, out := c.do("POST", "/processor-tasks", body)
			c.wantProcErr(tc.name, st, out, tc.status, tc.code, tc.msg)
		}
		if st, out := c.do("GET", "/processor-tasks", nil); out["count"] != 3.0 {
			t.Errorf("refused requests left tasks: %d %v", st, out)
		}

		// Another account's task is not there for this one.
		theirs := otherAccountTask(t, env)
		for _, path := range []string{"/processor-tasks/" + theirs, "/processor-tasks/" + theirs + "/versions"} {
			st, out := c.do("GET", path, nil)
			c.wantProcErr("another account's task", st, out, http.StatusNotFound, "ModelArts.4700", theirs)
		}
		if _, out := c.do("GET", "/processor-tasks", nil); strings.Contains(fmt.Sprint(out), theirs) || out["count"] != 3.0 {
			t.Errorf("the list shows another account's task: %v", out)
		}
	})
}

// otherAccountTask makes a processing task in another account (through
// the service: that account has no bucket of its own) and returns its ID.
func otherAccountTask(t *testing.T, env *servertest.Env) string {
	t.Helper()
	ctx := context.Background()
	b := env.NewAccount(t, "proc-other")
	plan, err := env.App.Processing.PlanTask(ctx, b.ProjectID, "0", &processing.TaskRequest{Name: "theirs",
		Inputs:   []processing.DataSource{{Type: "OBS", Source: "obs://data-in/theirs/"}},
		WorkPath: &processing.WorkPath{Type: "OBS", Path: "obs://data-out/theirs/"},
		Template: &processing.TemplateParam{ID: "sys_data_validation", OperatorParams: []processing.OperatorParam{{Name: "MetaValidation"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := env.App.Processing.CommitTask(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitStarted waits until a version has committed its first batch (its
// counts move with its checkpoint), failing if it ends first.
func (c *dsClient) waitStarted(task, version string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, out := c.do("GET", "/processor-tasks/"+task+"/versions/"+version, nil)
		if st != http.StatusOK {
			c.t.Fatalf("version %s: %d %v", version, st, out)
		}
		if out["status"].(float64) >= 2 {
			c.t.Fatalf("version %s ended before the test could interrupt it: %v", version, out)
		}
		if out["origin_sample_count"].(float64) > 0 {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("version %s made no progress: %v", version, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProcessingStopAndRestart: a running version stopped through the API
// ends stopped with the results it committed and does no more; a version
// interrupted by a server restart resumes on the next server from its
// checkpoint and ends with every sample processed once.
func TestProcessingStopAndRestart(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			// Small batches: the run checkpoints long before it ends, so
			// that the test stops it midway whatever the machine's speed.
			tuning := server.Tuning{ProcessingBatch: 4}
			if engine == store.Postgres {
				tuning.TaskPoll = 100 * time.Millisecond
			}
			env := servertest.StartWith(t, servertest.Options{Engine: engine, Tuning: &tuning})
			c := newDSClient(t, env)
			const n = 120
			for i := range n {
				c.put("data-in", fmt.Sprintf("many/%03d.png", i), pngData(t, drawnImage(uint64(i)+1000, 96, 96)))
			}
			rotate := func(name, out string) string {
				return c.procTask(procBody(name, "sys_data_augmentation",
					[]any{op("Rotate", map[string]any{"copies": 2, "angle_min": -30, "angle_max": 30, "do_validation": "False"})},
					map[string]any{"type": "OBS", "source": "obs://data-in/many/"}, map[string]any{"type": "OBS", "path": out}))
			}

			stopped := rotate("stop-me", "/data-out/stop/")
			sv := c.procVersion(stopped)
			c.waitStarted(stopped, sv)
			if st, out := c.do("POST", "/processor-tasks/"+stopped+"/versions/"+sv+"/stop", nil); st != http.StatusOK {
				t.Fatalf("stop: %d %v", st, out)
			}
			_, v := c.do("GET", "/processor-tasks/"+stopped+"/versions/"+sv, nil)
			time.Sleep(time.Second)
			_, later := c.do("GET", "/processor-tasks/"+stopped+"/versions/"+sv, nil)
			origin := later["origin_sample_count"].(float64)
			if v["status"] != 4.0 || later["status"] != 4.0 || origin <= 0 || origin >= n || later["add_sample_count"] != 2*origin {
				t.Errorf("the stopped version: %v, a second later %v", v, later)
			}
			if rs := c.procResults(stopped, sv, -1); float64(len(rs)) != 3*origin {
				t.Errorf("the stopped version has %d results for %v samples", len(rs), origin)
			}
			if _, task := c.do("GET", "/processor-tasks/"+stopped, nil); task["status"] != 4.0 {
				t.Errorf("the task of the stopped version: %v", task)
			}
			if st, out := c.do("POST", "/processor-tasks/"+stopped+"/versions/"+sv+"/stop", nil); st != http.StatusOK {
				t.Errorf("stopping a stopped version again: %d %v", st, out)
			}

			resumed := rotate("restart-me", "/data-out/restart/")
			rv := c.procVersion(resumed)
			c.waitStarted(resumed, rv)
			env.Stop(t)
			env2 := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: env.DataDir, Database: env.Database, Tuning: &tuning})
			c2 := &dsClient{t: t, env: env2, project: env2.Account.ProjectID, token: env2.AdminToken(t)}
			done := c2.waitProc(resumed, rv)
			wantCounts(t, "after the restart", done, map[string]float64{"status": 2, "origin_sample_count": n, "unmodified_sample_count": n,
				"add_sample_count": 2 * n, "deleted_sample_count": 0, "failed_sample_count": 0})
			if rs := c2.procResults(resumed, rv, -1); len(rs) != 3*n {
				t.Errorf("after the restart: %d results, want %d", len(rs), 3*n)
			}
			lines := outputLines(t, env2, done)
			seen := map[string]bool{}
			for _, l := range lines {
				seen[l["source"].(string)] = true
			}
			if len(lines) != 3*n || len(seen) != 3*n {
				t.Errorf("after the restart: %d output lines, %d distinct; want %d", len(lines), len(seen), 3*n)
			}
		})
	}
}
