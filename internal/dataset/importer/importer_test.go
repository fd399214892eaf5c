package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

func TestImportManifestClassification(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)
			id := e.dataset("cls", dataset.TypeImageClassification, nil)
			lines := []string{
				impClassLine(t, "s3://data/m/a.jpg", "cat"),    // 1
				impClassLine(t, "b.jpg", "dog"),                // 2: beside the manifest
				impClassLine(t, "/data/m/c.jpg", "cat", "dog"), // 3
				impLine(t, map[string]any{"source": "d.jpg"}),  // 4: unlabeled
				`{"source": "e.jpg", "annotation": [`,          // 5: not JSON
				"",                                             // 6: blank
				`{"usage": "TRAIN"}`,                           // 7: no source
				impClassLine(t, "obs://other/x.jpg", "cat"),    // 8: a bucket the creator may not read
				impClassLine(t, "s3://data/m/a.jpg", "fish"),   // 9: line 1 again, in the same batch
				impLine(t, map[string]any{"source": "f.jpg", "annotation": []any{ // 10: wrong label type
					map[string]any{"type": "modelarts/text_classification", "name": "pos"}}}),
				impLine(t, map[string]any{"source": "g.jpg", "usage": "eval", "hard": "true"}), // 11
			}
			e.put("data", "m/in.manifest", strings.Join(lines, "\n"))
			v := e.mustImport(id, ImportRequest{ImportPath: "obs://data/m/in.manifest"})
			if v.ImportType != 1 || v.ImportedSampleCount != 5 || v.AnnotatedSampleCount != 3 || v.FailedSampleCount != 5 || v.TotalSampleCount != 10 {
				t.Errorf("task figures: %+v", v)
			}
			fails := impFailures(v)
			for item, part := range map[string]string{"line 5": "not JSON", "line 7": "source", "line 8": "(obs:object:GetObject) operation on other/x.jpg",
				"line 9": "repeats line 1", "line 10": "type 100"} {
				if !strings.Contains(fails[item], part) {
					t.Errorf("failure of %s = %q, want it to mention %q (all: %v)", item, fails[item], part, fails)
				}
			}
			got := e.samples(id)
			want := map[string][]string{"obs://data/m/a.jpg": {"cat"}, "obs://data/m/b.jpg": {"dog"}, "obs://data/m/c.jpg": {"cat", "dog"},
				"obs://data/m/d.jpg": nil, "obs://data/m/g.jpg": nil}
			if len(got) != len(want) {
				t.Errorf("samples %v, want %v", impKeys(got), want)
			}
			for src, labels := range want {
				s := got[src]
				if s == nil {
					t.Errorf("no sample of %s", src)
					continue
				}
				if !slices.Equal(impNames(s.Labels), labels) {
					t.Errorf("%s labels %v, want %v", src, impNames(s.Labels), labels)
				}
			}
			if g := got["obs://data/m/g.jpg"]; g == nil || g.SampleUsage != "EVAL" || g.Metadata[annotation.MetaHard] != 1.0 {
				t.Errorf("g.jpg: %+v", g)
			}
			e.checkCounters(id)

			// The same manifest again duplicates nothing.
			v = e.mustImport(id, ImportRequest{ImportPath: "/data/m/in.manifest", ImportType: "manifest"})
			if v.ImportedSampleCount != 5 {
				t.Errorf("second import: %+v", v)
			}
			if got := e.samples(id); len(got) != 5 {
				t.Errorf("after a second import: %d samples", len(got))
			}
			e.checkCounters(id)
		})
	}
}

func impKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const impVOC = `<annotation><folder>NA</folder><filename>%s</filename><size><width>100</width><height>80</height><depth>3</depth></size>
<segmented>0</segmented><object><name>%s</name><pose>Unspecified</pose><truncated>0</truncated><occluded>0</occluded><difficult>0</difficult>
<bndbox><xmin>10</xmin><ymin>10</ymin><xmax>50</xmax><ymax>40</ymax></bndbox></object></annotation>`

func TestImportManifestDetection(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)
			id := e.dataset("det", dataset.TypeObjectDetection, nil)
			e.put("data", "d/ann/a.xml", fmt.Sprintf(impVOC, "a.jpg", "car"))
			e.put("data", "d/ann/b.xml", "<annotation><filename>b.jpg")
			e.put("other", "c.xml", fmt.Sprintf(impVOC, "c.jpg", "car"))
			det := func(source, loc string) string {
				return impLine(t, map[string]any{"source": source, "annotation": []any{map[string]any{
					"type": "modelarts/object_detection", "annotation-loc": loc, "annotation-format": "PASCAL VOC"}}})
			}
			e.put("data", "d/det.manifest", strings.Join([]string{
				det("img/a.jpg", "ann/a.xml"),          // 1: relative, good
				det("img/b.jpg", "ann/b.xml"),          // 2: broken VOC
				det("img/c.jpg", "s3://other/c.xml"),   // 3: VOC in an unreadable bucket
				det("img/d.jpg", "/data/d/ann/no.xml"), // 4: missing VOC
				impLine(t, map[string]any{"source": "img/e.jpg"}),
			}, "\n")+"\n")
			v := e.mustImport(id, ImportRequest{ImportPath: "/data/d/det.manifest"})
			if v.ImportedSampleCount != 2 || v.AnnotatedSampleCount != 1 || v.FailedSampleCount != 3 {
				t.Errorf("task: %+v", v)
			}
			fails := impFailures(v)
			for item, part := range map[string]string{"line 2": "ann/b.xml", "line 3": "(obs:object:GetObject) operation on other/c.xml", "line 4": "does not exist"} {
				if !strings.Contains(fails[item], part) {
					t.Errorf("failure of %s = %q, want %q (all %v)", item, fails[item], part, fails)
				}
			}
			a := e.samples(id)["obs://data/d/img/a.jpg"]
			if a == nil || len(a.Labels) != 1 || a.Labels[0].Name != "car" || a.Labels[0].Property[annotation.PropShape] != "bndbox" {
				t.Fatalf("a.jpg: %+v", a)
			}
			e.checkCounters(id)
		})
	}
}

func TestImportDirectory(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)

			// Image classification: ImageNet folders, label lists, unlabeled
			// and unusable files.
			cls := e.dataset("cls", dataset.TypeImageClassification, nil)
			for k, v := range map[string]string{"in/cat/1.jpg": "x", "in/cat/2.jpg": "x", "in/pets/dog/3.png": "x", "in/top.jpg": "x",
				"in/notes.doc": "x", "in/empty.jpg": "", "in/l/x.jpg": "x", "in/l/x.txt": "bird\nfish\n", "in/": ""} {
				if k == "in/" {
					continue
				}
				e.put("data", k, v)
			}
			v := e.mustImport(cls, ImportRequest{ImportPath: "/data/in/", ImportType: "dir"})
			if v.ImportType != 0 || v.ImportedSampleCount != 5 || v.AnnotatedSampleCount != 4 || v.FailedSampleCount != 2 || v.TotalFileCount != 8 {
				t.Errorf("task: %+v", v)
			}
			fails := impFailures(v)
			if !strings.Contains(fails["obs://data/in/notes.doc"], "extension") || !strings.Contains(fails["obs://data/in/empty.jpg"], "empty") {
				t.Errorf("impFailures: %v", fails)
			}
			got := e.samples(cls)
			for src, want := range map[string][]string{"obs://data/in/cat/1.jpg": {"cat"}, "obs://data/in/cat/2.jpg": {"cat"},
				"obs://data/in/pets/dog/3.png": {"dog"}, "obs://data/in/top.jpg": nil, "obs://data/in/l/x.jpg": {"bird", "fish"}} {
				if s := got[src]; s == nil || !slices.Equal(impNames(s.Labels), want) {
					t.Errorf("%s: %v, want labels %v", src, s, want)
				}
			}
			e.checkCounters(cls)

			// Object detection: VOC files beside images.
			det := e.dataset("det", dataset.TypeObjectDetection, nil)
			e.put("data", "det/a.jpg", "img")
			e.put("data", "det/a.xml", fmt.Sprintf(impVOC, "a.jpg", "car"))
			e.put("data", "det/b.png", "img")
			e.put("data", "det/c.xml", fmt.Sprintf(impVOC, "c.jpg", "car"))
			e.put("data", "det/bad.jpg", "img")
			e.put("data", "det/bad.xml", "<annotation>")
			v = e.mustImport(det, ImportRequest{ImportPath: "/data/det/"})
			if v.ImportedSampleCount != 2 || v.AnnotatedSampleCount != 1 || v.FailedSampleCount != 2 {
				t.Errorf("detection task: %+v", v)
			}
			if f := impFailures(v); !strings.Contains(f["obs://data/det/c.xml"], "without a sample") || !strings.Contains(f["obs://data/det/bad.jpg"], "bad.xml") {
				t.Errorf("detection impFailures: %v", f)
			}
			if a := e.samples(det)["obs://data/det/a.jpg"]; a == nil || len(a.Labels) != 1 || a.Labels[0].Type != dataset.TypeObjectDetection {
				t.Errorf("a.jpg: %+v", a)
			}
			e.checkCounters(det)

			// Text classification: one sample per line, labels after a tab;
			// then labels in _result files.
			txt := e.dataset("txt", dataset.TypeTextClassification, nil)
			e.put("data", "txt/a.txt", "good phone\tpositive\nbad phone\tnegative\n\nno label here\nboth\tpositive,negative\n")
			v = e.mustImport(txt, ImportRequest{ImportPath: "/data/txt/"})
			if v.ImportedSampleCount != 4 || v.AnnotatedSampleCount != 3 {
				t.Errorf("text task: %+v", v)
			}
			got = e.samples(txt)
			if s := got["content://both"]; s == nil || !slices.Equal(impNames(s.Labels), []string{"negative", "positive"}) || s.SampleData[0] != "both" {
				t.Errorf("content://both: %+v", s)
			}
			if s := got["content://no label here"]; s == nil || len(s.Labels) != 0 {
				t.Errorf("unlabeled line: %+v", s)
			}
			sep := e.dataset("sep", dataset.TypeTextClassification, func(r *dataset.CreateRequest) { r.LabelFormat = &dataset.LabelFormat{LabelType: "0"} })
			e.put("data", "sep/c.txt", "first\nsecond\nthird\n")
			e.put("data", "sep/c_result.txt", "pos\n\nneg\n")
			e.put("data", "sep/d.txt", "alone\n")
			v = e.mustImport(sep, ImportRequest{ImportPath: "/data/sep/"})
			got = e.samples(sep)
			if v.ImportedSampleCount != 4 || !slices.Equal(impNames(got["content://first"].Labels), []string{"pos"}) ||
				len(got["content://second"].Labels) != 0 || len(got["content://alone"].Labels) != 0 {
				t.Errorf("label_type 0: %+v %v", v, impKeys(got))
			}
			e.checkCounters(txt)
			e.checkCounters(sep)
		})
	}
}

func TestImportOptions(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)
			id := e.dataset("opts", dataset.TypeImageClassification, nil)
			hard := func(src string, label string, h bool) string {
				return impLine(t, map[string]any{"source": src, "hard": fmt.Sprint(h), "annotation": []any{
					map[string]any{"type": "modelarts/image_classification", "name": label}}})
			}
			e.put("data", "o/m.manifest", strings.Join([]string{
				hard("a.jpg", "cat", true), hard("b.jpg", "dog", false), hard("c.jpg", "cat", false), hard("d.jpg", "bird", true),
			}, "\n"))
			f := false
			// Only hard examples, not of the excluded label, as to-be-confirmed.
			v := e.mustImport(id, ImportRequest{ImportPath: "/data/o/m.manifest", DifficultOnly: new(true), FinalAnnotation: &f,
				ExcludedLabels: []LabelRef{{Name: "bird"}}})
			if v.ImportedSampleCount != 1 || v.UnconfirmedSampleCount != 1 || v.AnnotatedSampleCount != 0 || v.TotalSampleCount != 4 {
				t.Errorf("hard only: %+v", v)
			}
			got := e.samples(id)
			if a := got["obs://data/o/a.jpg"]; len(got) != 1 || a == nil || a.SampleStatus != "AUTO_ANNOTATION" {
				t.Fatalf("samples after hard-only import: %v", impKeys(got))
			}
			// Only samples with the included label, without their labels.
			v = e.mustImport(id, ImportRequest{ImportPath: "/data/o/m.manifest", ImportAnnotations: &f,
				IncludedLabels: []LabelRef{{Name: "cat"}}})
			got = e.samples(id)
			if v.ImportedSampleCount != 2 || len(got) != 2 || got["obs://data/o/c.jpg"] == nil || len(got["obs://data/o/a.jpg"].Labels) != 0 {
				t.Errorf("included cat without labels: %+v %v", v, impKeys(got))
			}
			// Labels onto existing samples only.
			v = e.mustImport(id, ImportRequest{ImportPath: "/data/o/m.manifest", ImportSamples: &f})
			got = e.samples(id)
			if v.ImportedSampleCount != 2 || len(got) != 2 || !slices.Equal(impNames(got["obs://data/o/a.jpg"].Labels), []string{"cat"}) {
				t.Errorf("import_samples=false: %+v %v", v, impKeys(got))
			}
			e.checkCounters(id)
		})
	}
}

func TestImportValidation(t *testing.T) {
	e := newImpEnv(t, store.SQLite)
	img := e.dataset("img", dataset.TypeImageClassification, nil)
	table := e.dataset("tab", dataset.TypeTable, nil)
	e.put("data", "v/x.manifest", impClassLine(t, "a.jpg", "cat"))
	f, tr := false, true
	for _, c := range []struct {
		name    string
		dataset string
		req     ImportRequest
		code    string
		part    string
	}{
		{"no-path", img, ImportRequest{}, dataset.CodeInvalid, "import_path"},
		{"bad-type", img, ImportRequest{ImportPath: "/data/v/", ImportType: "zip"}, dataset.CodeInvalid, "import_type"},
		{"bad-origin", img, ImportRequest{ImportPath: "/data/v/", ImportOrigin: "dws"}, dataset.CodeInvalid, "import_origin"},
		{"double-slash", img, ImportRequest{ImportPath: "/data//v/"}, dataset.CodeOBSPathDoubleSlash, "import_path"},
		{"bad-bucket", img, ImportRequest{ImportPath: "/Data/v/"}, dataset.CodeOBSPathInvalid, "import_path"},
		{"not-a-path", img, ImportRequest{ImportPath: "data/v/"}, dataset.CodeInvalidPath, "import_path"},
		{"manifest-dir", img, ImportRequest{ImportPath: "/data/v/", ImportType: "manifest"}, dataset.CodeInvalidPath, "manifest file"},
		{"missing-manifest", img, ImportRequest{ImportPath: "/data/v/none.manifest"}, CodeOBSPathNotFound, "import_path"},
		{"missing-bucket", img, ImportRequest{ImportPath: "/nobucket/v/"}, dataset.CodeBucketNotExist, "nobucket"},
		{"nothing", img, ImportRequest{ImportPath: "/data/v/", ImportSamples: &f, ImportAnnotations: &f}, dataset.CodeInvalid, "import_samples"},
		{"hard-dir", img, ImportRequest{ImportPath: "/data/v/", DifficultOnly: &tr}, dataset.CodeInvalid, "difficult_only"},
		{"label-format", img, ImportRequest{ImportPath: "/data/v/", LabelFormat: &dataset.LabelFormat{LabelType: "1"}}, dataset.CodeInvalid, "label_format"},
		{"column-header", img, ImportRequest{ImportPath: "/data/v/", WithColumnHeader: &tr}, dataset.CodeInvalid, "with_column_header"},
		{"folder", img, ImportRequest{ImportPath: "/data/v/", ImportFolder: "../up"}, dataset.CodeInvalid, "import_folder"},
		{"folder-table", table, ImportRequest{ImportPath: "/data/v/", ImportFolder: "x"}, dataset.CodeInvalid, "import_folder"},
		{"manifest-table", table, ImportRequest{ImportPath: "/data/v/x.manifest"}, dataset.CodeInvalid, "import_type"},
		{"included-name", img, ImportRequest{ImportPath: "/data/v/", IncludedLabels: []LabelRef{{}}}, dataset.CodeInvalid, "included_labels[0].name"},
		{"excluded-type", img, ImportRequest{ImportPath: "/data/v/", ExcludedLabels: []LabelRef{{Name: "a", Type: new(7)}}}, dataset.CodeInvalid, "excluded_labels[0].type"},
		{"both", img, ImportRequest{ImportPath: "/data/v/", IncludedLabels: []LabelRef{{Name: "a"}}, ExcludedLabels: []LabelRef{{Name: "a"}}}, dataset.CodeInvalid, "excluded_labels[0]"},
		{"source-type", img, ImportRequest{ImportPath: "/data/v/", DataSource: &dataset.DataSource{DataType: 1}}, dataset.CodeInvalid, "data_source.data_type"},
		{"source-path", img, ImportRequest{ImportPath: "/data/v/", DataSource: &dataset.DataSource{DataPath: "/data/w/"}}, dataset.CodeInvalid, "data_source.data_path"},
		{"source-info", img, ImportRequest{ImportPath: "/data/v/", DataSource: &dataset.DataSource{SourceInfo: json.RawMessage(`{"ip":"x"}`)}}, dataset.CodeInvalid, "data_source.source_info"},
		{"unknown-dataset", "0123456789abcdef0123456789abcdef", ImportRequest{ImportPath: "/data/v/"}, dataset.CodeDatasetNotFound, "Dataset does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.importReq(c.dataset, c.req)
			de, ok := dataset.AsError(err)
			if !ok || de.Code != c.code || !strings.Contains(de.Msg, c.part) {
				t.Errorf("got %v; want %s mentioning %q", err, c.code, c.part)
			}
		})
	}

	// A bare name and a Label object both name a label.
	var req ImportRequest
	if err := json.Unmarshal([]byte(`{"import_path":"/data/v/","included_labels":["cat",{"name":"dog","type":0}]}`), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.IncludedLabels) != 2 || req.IncludedLabels[0].Name != "cat" || req.IncludedLabels[1].Name != "dog" || *req.IncludedLabels[1].Type != 0 {
		t.Errorf("included_labels: %+v", req.IncludedLabels)
	}

	if _, err := e.svc.PlanSync(e.ctx, impProject, e.dataset("text", dataset.TypeTextClassification, nil)); err == nil || !strings.Contains(err.Error(), "Text datasets") {
		t.Errorf("sync of a text dataset: %v", err)
	}
}

// TestImportExclusive: a second import or a sync waits for the running
// import; the import that creation queued does not hold up the first
// explicit one.
func TestImportExclusive(t *testing.T) {
	e := newImpEnv(t, store.SQLite)
	// A stopped manager leaves queued tasks queued.
	e.stopManager(e.m)
	typ := dataset.TypeImageClassification
	plan, err := e.ds.PlanCreate(dataset.Scope{ProjectID: impProject, WorkspaceID: "0"}, &dataset.CreateRequest{DatasetName: "ex", DatasetType: &typ,
		WorkPath: "/other/work/", WorkPathType: new(int), DataSources: []dataset.DataSource{{DataPath: "/data/ex/"}}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.ds.CommitCreate(e.ctx, plan, e.svc.EnqueueCreateImport)
	if err != nil || plan.ImportTaskID == "" {
		t.Fatalf("create: %v, import task %q", err, plan.ImportTaskID)
	}
	first, err := e.importReq(id, ImportRequest{ImportPath: "/data/a/"})
	if err != nil {
		t.Fatalf("an import beside the creation's: %v", err)
	}
	_, err = e.importReq(id, ImportRequest{ImportPath: "/data/b/"})
	if de, ok := dataset.AsError(err); !ok || de.Code != CodeImportRunning || !strings.Contains(de.Msg, first) {
		t.Errorf("second import: %v", err)
	}
	sync, err := e.svc.PlanSync(e.ctx, impProject, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CommitSync(e.ctx, sync); err == nil {
		t.Errorf("a sync was queued beside a running import")
	}
	v, err := e.svc.ImportTask(e.ctx, impProject, id, first)
	if err != nil || v.Status != "QUEUING" {
		t.Errorf("queued task: %+v %v", v, err)
	}
	if _, err := e.svc.ImportTask(e.ctx, impProject, id, "0123456789abcdef0123456789abcdef"); err == nil {
		t.Errorf("an unknown task was found")
	} else if de, ok := dataset.AsError(err); !ok || de.Code != CodeTaskNotFound {
		t.Errorf("unknown task: %v", err)
	}
	// Newest first.
	n, list, err := e.svc.ImportTasks(e.ctx, impProject, id, 0, 1)
	if err != nil || n != 2 || len(list) != 1 || list[0].TaskID != first {
		t.Errorf("list: %d %v %v", n, list, err)
	}
	if _, list, _ := e.svc.ImportTasks(e.ctx, impProject, id, 1, 10); len(list) != 1 || list[0].TaskID != plan.ImportTaskID {
		t.Errorf("second page: %v", list)
	}
}

// startImport enqueues an import task directly, with a batch size of its
// own, as the API would with the defaults.
func (e *impEnv) startImport(id string, prm importParams) string {
	e.t.Helper()
	prm.DatasetID, prm.Samples, prm.Annotations = id, true, true
	task, err := e.m.Enqueue(e.ctx, nil, TaskImport, impProject, id, prm)
	if err != nil {
		e.t.Fatal(err)
	}
	return task.ID
}

// interrupt stops the manager once the task has committed at least n of
// its total items, checks that it was given back unfinished, then starts a
// new manager (a restarted server) that resumes it.
func (e *impEnv) interrupt(taskID string, n, total int64) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		task, err := e.m.Get(e.ctx, taskID)
		if err != nil {
			e.t.Fatal(err)
		}
		if task.Status.Final() {
			e.t.Fatalf("task %s ended (%s) before it could be interrupted: make the import larger", taskID, task.Status)
		}
		if task.Succeeded+task.Failed >= n {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s made no progress: %+v", taskID, task)
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.stopManager(e.m)
	task, err := e.m.Get(e.ctx, taskID)
	if err != nil {
		e.t.Fatal(err)
	}
	if task.Status != tasks.Running || task.Cursor == "" || task.Succeeded+task.Failed >= total {
		e.t.Fatalf("after the stop the task is %s with %d of %d items done (cursor %q); want RUNNING, given back part-way",
			task.Status, task.Succeeded+task.Failed, total, task.Cursor)
	}
	e.startManager()
}

func TestImportResumeManifest(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)
			id := e.dataset("resume", dataset.TypeImageClassification, nil)
			// Small batches, so that 2,100 lines are 300 checkpoints and
			// the stop lands part-way on any machine.
			const lines = 2100
			var b strings.Builder
			bad := 0
			for i := 1; i <= lines; i++ {
				if i%300 == 0 {
					b.WriteString("{not json\n")
					bad++
					continue
				}
				b.WriteString(impClassLine(t, fmt.Sprintf("img/%05d.jpg", i), fmt.Sprintf("l%d", i%7)))
				b.WriteByte('\n')
			}
			e.put("data", "r/big.manifest", b.String())
			taskID := e.startImport(id, importParams{Path: "obs://data/r/big.manifest", Manifest: true, BatchSize: 7})
			e.interrupt(taskID, 600, lines)
			task := e.wait(taskID)
			if task.Status != tasks.Succeeded {
				t.Fatalf("task: %s %q", task.Status, task.ErrorMessage)
			}
			good := int64(lines - bad)
			if task.Succeeded != good || task.Failed != int64(bad) {
				t.Errorf("task counted %d succeeded, %d failed; want %d and %d", task.Succeeded, task.Failed, good, bad)
			}
			fails, err := e.m.Failures(e.ctx, taskID)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, f := range fails {
				if seen[f.Item] {
					t.Errorf("failure %s reported twice", f.Item)
				}
				seen[f.Item] = true
			}
			if len(fails) != bad || !seen["line 300"] || !seen[fmt.Sprintf("line %d", lines)] {
				t.Errorf("impFailures: %v", fails)
			}
			if got := e.samples(id); int64(len(got)) != good {
				t.Errorf("%d samples, want %d distinct sources", len(got), good)
			}
			v, err := e.svc.ImportTask(e.ctx, impProject, id, taskID)
			if err != nil || v.ImportedSampleCount != good || v.AnnotatedSampleCount != good || v.FailedSampleCount != int64(bad) || v.TotalFileCount != 1 {
				t.Errorf("view after resume: %+v %v", v, err)
			}
			e.checkCounters(id)
		})
	}
}

func TestImportResumeDirectory(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)
			// Text files whose lines span batches (a checkpoint within a
			// file), and _result files that make the classifier hold texts.
			id := e.dataset("resdir", dataset.TypeTextClassification, func(r *dataset.CreateRequest) { r.LabelFormat = &dataset.LabelFormat{LabelType: "0"} })
			want := 0
			const files = 10
			for f := range files {
				var text, result strings.Builder
				for l := range 150 {
					fmt.Fprintf(&text, "file %d line %d\n", f, l)
					fmt.Fprintf(&result, "c%d\n", l%3)
					want++
				}
				e.put("data", fmt.Sprintf("rd/t%02d.txt", f), text.String())
				if f%2 == 0 {
					e.put("data", fmt.Sprintf("rd/t%02d_result.txt", f), result.String())
				}
				e.put("data", fmt.Sprintf("rd/t%02d.doc", f), "not text")
			}
			taskID := e.startImport(id, importParams{Path: "obs://data/rd/", LabelFormat: &dataset.LabelFormat{LabelType: "0"}, BatchSize: 4})
			e.interrupt(taskID, 200, int64(want+files))
			task := e.wait(taskID)
			if task.Status != tasks.Succeeded {
				t.Fatalf("task: %s %q", task.Status, task.ErrorMessage)
			}
			if task.Succeeded != int64(want) || task.Failed != files {
				t.Errorf("task counted %d succeeded, %d failed; want %d and %d", task.Succeeded, task.Failed, want, files)
			}
			got := e.samples(id)
			if len(got) != want {
				t.Errorf("%d samples, want %d", len(got), want)
			}
			if s := got["content://file 2 line 4"]; s == nil || !slices.Equal(impNames(s.Labels), []string{"c1"}) {
				t.Errorf("a labeled line: %+v", s)
			}
			v, err := e.svc.ImportTask(e.ctx, impProject, id, taskID)
			if err != nil || v.TotalFileCount != files*2+files/2 || v.AnnotatedSampleCount != int64(files/2*150) {
				t.Errorf("view: %+v %v", v, err)
			}
			e.checkCounters(id)
		})
	}
}

func TestSync(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			e := newImpEnv(t, engine)
			id := e.dataset("src", dataset.TypeImageClassification, nil)
			st, err := e.svc.SyncStatus(e.ctx, impProject, id)
			if err != nil || st.Status != "NOT_EXIST" {
				t.Fatalf("status before any sync: %+v %v", st, err)
			}
			e.put("data", "src/cat/1.jpg", "x")
			e.put("data", "src/cat/2.jpg", "x")
			e.put("data", "src/3.jpg", "x")
			sync := func() *SyncStatus {
				t.Helper()
				plan, err := e.svc.PlanSync(e.ctx, impProject, id)
				if err != nil {
					t.Fatal(err)
				}
				taskID, err := e.svc.CommitSync(e.ctx, plan)
				if err != nil {
					t.Fatal(err)
				}
				e.wait(taskID)
				st, err := e.svc.SyncStatus(e.ctx, impProject, id)
				if err != nil || st.TaskID != taskID || st.Status != "COMPLETED" {
					t.Fatalf("sync status: %+v %v", st, err)
				}
				return st
			}
			if st := sync(); st.AddSampleCount != 3 || st.DeletedSampleCount != 0 || st.TotalSampleCount != 3 {
				t.Errorf("first sync: %+v", st)
			}
			// Relabel one by hand, add a sample outside the data source,
			// remove a file and add another.
			if _, err := e.ds.WriteSamples(e.ctx, impProject, id, []dataset.SampleInput{
				{Source: "obs://data/src/cat/1.jpg", Labels: []annotation.Label{{Name: "tiger"}}},
				{Source: "obs://other/elsewhere.jpg"},
			}, dataset.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := e.objects.Delete(e.ctx, "data", "src/cat/2.jpg"); err != nil {
				t.Fatal(err)
			}
			e.put("data", "src/dog/4.jpg", "x")
			if st := sync(); st.AddSampleCount != 1 || st.DeletedSampleCount != 1 || st.TotalSampleCount != 4 {
				t.Errorf("second sync: %+v", st)
			}
			got := e.samples(id)
			if len(got) != 4 || got["obs://data/src/cat/2.jpg"] != nil || got["obs://other/elsewhere.jpg"] == nil ||
				!slices.Equal(impNames(got["obs://data/src/cat/1.jpg"].Labels), []string{"tiger"}) ||
				!slices.Equal(impNames(got["obs://data/src/dog/4.jpg"].Labels), []string{"dog"}) {
				t.Errorf("after the second sync: %v", impKeys(got))
			}
			e.checkCounters(id)
		})
	}
}

// chunkCore is the dataset core of importers that only parse manifests:
// it decides objects (bucket b is readable) and stores nothing.
func chunkCore(t testing.TB) *Service {
	objects, err := obs.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objects.Close() })
	auth := &datasettest.PrefixAuth{Readable: []string{"b/"}}
	ds, err := dataset.New(dataset.Options{DB: storetest.Open(t, store.SQLite), Objects: objects, Authorize: auth.Authorizer()})
	if err != nil {
		t.Fatal(err)
	}
	return &Service{ds: ds}
}

// impChunkImporter is an importer that only parses manifests.
func impChunkImporter(s *Service, batch int) *importer {
	return &importer{s: s, ds: &dataset.Row{Type: dataset.TypeTextClassification}, batchSize: batch}
}

// impSplitAll splits and parses a manifest from a checkpoint and returns the
// batches.
func impSplitAll(t testing.TB, im *importer, data []byte, start importCursor) []*batch {
	var out []*batch
	end, err := im.splitManifest(context.Background(), bytes.NewReader(data[start.Offset:]), start, func(c *chunk) error {
		out = append(out, im.parseChunk(context.Background(), "b", "", c))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if end.Offset != int64(len(data)) {
		t.Fatalf("split ended at byte %d of %d", end.Offset, len(data))
	}
	return out
}

// impFlatten lists what batches say, item by item, in order.
func impFlatten(bs []*batch) []string {
	var out []string
	for _, b := range bs {
		for i, in := range b.inputs {
			out = append(out, b.where[i]+" "+in.Source+" "+strings.Join(impNames(in.Labels), ","))
		}
		for _, f := range b.fails {
			out = append(out, f.Item+" ! "+f.Reason)
		}
	}
	slices.Sort(out)
	return out
}

// FuzzManifestChunks: however a manifest is cut into batches, and from
// whichever checkpoint it resumes, the samples, impFailures and line numbers
// are those of reading it whole.
func FuzzManifestChunks(f *testing.F) {
	f.Add([]byte("{\"source\":\"content://a\"}\n\n{bad\n{\"source\":\"content://b\",\"annotation\":[{\"type\":\"text_classification\",\"name\":\"x\"}]}"), uint8(2))
	f.Add([]byte("\xef\xbb\xbf{\"source\":\"content://a\"}\r\n{\"source\":\"/b/k.txt\"}\r\n"), uint8(1))
	f.Add([]byte("\n\n\n{\"source\":\"content://z\"}\n"), uint8(3))
	core := chunkCore(f)
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		batch := int(n%5) + 1
		whole := impSplitAll(t, impChunkImporter(core, 1<<30), data, importCursor{})
		parts := impSplitAll(t, impChunkImporter(core, batch), data, importCursor{})
		if a, b := impFlatten(whole), impFlatten(parts); !slices.Equal(a, b) {
			t.Fatalf("batches of %d differ from the whole:\n%q\n%q", batch, b, a)
		}
		// Resuming from any checkpoint gives the rest.
		for i, p := range parts {
			rest := impSplitAll(t, impChunkImporter(core, batch), data, p.cursor)
			if a, b := impFlatten(parts[i+1:]), impFlatten(rest); !slices.Equal(a, b) {
				t.Fatalf("resume after batch %d (line %d, byte %d):\n%q\nwant\n%q", i, p.cursor.Line, p.cursor.Offset, b, a)
			}
		}
	})
}

func TestManifestLongLine(t *testing.T) {
	long := `{"source":"content://` + strings.Repeat("x", formats.MaxLine+10) + `"}`
	data := []byte("{\"source\":\"content://a\"}\n" + long + "\n{\"source\":\"content://b\"}\n")
	bs := impSplitAll(t, impChunkImporter(chunkCore(t), 2), data, importCursor{})
	got := impFlatten(bs)
	want := []string{fmt.Sprintf("line 2 ! longer than %d bytes", formats.MaxLine), "line 1 content://a ", "line 3 content://b "}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestManifestWindows: a window's samples go to the writer in batches of
// the batch size sorted by sample ID, its failures once with its last
// batch; and resuming from any batch's checkpoint, the window's samples
// before it are left out and those after it written, each exactly once.
func TestManifestWindows(t *testing.T) {
	var b strings.Builder
	const lines = 100
	for i := 1; i <= lines; i++ {
		switch {
		case i%17 == 0:
			b.WriteString("{bad\n")
		case i == 50: // the source of line 3 again: sorted next to it
			b.WriteString(`{"source":"content://s003","annotation":[{"type":"text_classification","name":"l0"}]}` + "\n")
		default:
			fmt.Fprintf(&b, `{"source":"content://s%03d","annotation":[{"type":"text_classification","name":"l%d"}]}`+"\n", i, i%3)
		}
	}
	data := []byte(b.String())
	core := chunkCore(t)
	const batchSize = 4
	run := func(start importCursor) []*batch {
		im := impChunkImporter(core, batchSize)
		out := make(chan *batch, lines)
		w := &window{im: im, start: start, out: out}
		for _, c := range impSplitAll(t, im, data, start) {
			if err := w.add(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(out)
		var bs []*batch
		for b := range out {
			bs = append(bs, b)
		}
		return bs
	}
	flat := func(bs []*batch) []string {
		var out []string
		for _, b := range bs {
			for i := range b.count() {
				out = append(out, b.where[i]+" "+b.prepared.ID(i))
			}
			for _, f := range b.fails {
				out = append(out, f.Item+" ! "+f.Reason)
			}
		}
		slices.Sort(out)
		return out
	}
	whole := run(importCursor{})
	// The chunks as read, without windows: every line once.
	chunks := impSplitAll(t, impChunkImporter(core, batchSize), data, importCursor{})
	for _, c := range chunks {
		c.inputs = nil // as a window keeps them: the preparation only
	}
	if got, want := flat(whole), flat(chunks); !slices.Equal(got, want) {
		t.Fatalf("the windows wrote\n%q\nthe chunks hold\n%q", got, want)
	}
	windows := 0
	for i, b := range whole {
		if b.count() > batchSize {
			t.Errorf("batch %d holds %d samples, more than %d", i, b.count(), batchSize)
		}
		for j := 1; j < b.count(); j++ {
			if b.prepared.ID(j-1) > b.prepared.ID(j) {
				t.Errorf("batch %d is not in sample ID order at %d", i, j)
			}
		}
		if b.cursor.Sorted == "" {
			windows++
		} else if len(b.fails) > 0 || b.skipped > 0 {
			t.Errorf("batch %d, not the last of its window, carries %d failures", i, len(b.fails))
		}
	}
	if want := (lines + windowChunks*batchSize - 1) / (windowChunks * batchSize); windows != want {
		t.Errorf("%d batches end a window, want %d", windows, want)
	}
	for i := range whole {
		rest := run(whole[i].cursor)
		got := flat(append(slices.Clone(whole[:i+1]), rest...))
		if all := flat(whole); !slices.Equal(got, all) {
			t.Fatalf("resumed after batch %d (%+v):\n%q\nwant\n%q", i, whole[i].cursor, got, all)
		}
	}
}

// TestImportLabelsInManifestOrder: a window is written sorted by sample
// ID, yet the labels a manifest brings are created in the order its lines
// name them, the order the dataset lists them in.
func TestImportLabelsInManifestOrder(t *testing.T) {
	e := newImpEnv(t, store.SQLite)
	id := e.dataset("order", dataset.TypeImageClassification, nil)
	names := []string{"zeta", "alpha", "mid", "beta", "omega", "gamma", "kappa", "delta"}
	var b strings.Builder
	for i, n := range names {
		b.WriteString(impClassLine(t, fmt.Sprintf("img/%d.jpg", i), n))
		b.WriteByte('\n')
	}
	e.put("data", "o/labels.manifest", b.String())
	task := e.wait(e.startImport(id, importParams{Path: "obs://data/o/labels.manifest", Manifest: true, BatchSize: 2}))
	if task.Status != tasks.Succeeded || task.Succeeded != int64(len(names)) {
		t.Fatalf("task: %s, %d succeeded (%q)", task.Status, task.Succeeded, task.ErrorMessage)
	}
	_, labels, err := e.ds.ListLabels(e.ctx, impProject, id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range labels {
		got = append(got, l.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("labels listed as %q, want the manifest's order %q", got, names)
	}
}
