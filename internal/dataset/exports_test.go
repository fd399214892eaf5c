package dataset

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

const testProject = "p1"

// exportEnv is a dataset service with a running task manager, a local
// object store with the buckets "data" (input under in/, work under
// work/) and "out", and one dataset.
type exportEnv struct {
	t       *testing.T
	svc     *Service
	db      *store.DB
	objects obs.Store
	tasks   *tasks.Manager
	id      string
}

// newExportEnv builds the environment on engine; start false leaves the
// task manager stopped, so that queued work stays queued.
func newExportEnv(t *testing.T, engine store.Engine, typ int, start bool) *exportEnv {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.DSN(t, engine)
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
	if engine == store.Postgres {
		cfg.PostgresURL = dsn
	}
	m, err := tasks.New(ctx, db, cfg)
	if err != nil {
		t.Fatalf("task manager: %v", err)
	}
	svc, err := New(Options{DB: db, Objects: objects, Tasks: m, Authorize: (&datasettest.PrefixAuth{Readable: []string{"data/", "out/"}}).Authorizer()})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop task manager: %v", err)
		}
	})
	plan, err := svc.PlanCreate(Scope{ProjectID: testProject, WorkspaceID: "0"}, &CreateRequest{
		DatasetName: "ds", DatasetType: &typ, WorkPath: "/data/work/", WorkPathType: new(int),
		DataSources: []DataSource{{DataPath: "/data/in/"}}})
	if err != nil {
		t.Fatalf("plan dataset: %v", err)
	}
	id, err := svc.CommitCreate(ctx, plan, nil)
	if err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	return &exportEnv{t: t, svc: svc, db: db, objects: objects, tasks: m, id: id}
}

// write adds samples, failing the test on any item error.
func (e *exportEnv) write(in []SampleInput, opts WriteOptions) {
	e.t.Helper()
	res, err := e.svc.WriteSamples(context.Background(), testProject, e.id, in, opts)
	if err != nil {
		e.t.Fatalf("write samples: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			e.t.Fatalf("sample %d: %v", i, r.Err)
		}
	}
}

func (e *exportEnv) putFile(key string, data []byte) {
	e.t.Helper()
	if _, err := e.objects.Put(context.Background(), "data", key, bytes.NewReader(data), obs.PutOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// wait waits for a task to end and returns it.
func (e *exportEnv) wait(id string) *tasks.Task {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		task, err := e.tasks.Get(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if task.Status.Final() {
			return task
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("task %s did not end within a minute", id)
	return nil
}

// publish publishes a version and waits for it to be normal.
func (e *exportEnv) publish(req VersionRequest) *Version {
	e.t.Helper()
	ctx := context.Background()
	plan, err := e.svc.PlanVersion(ctx, testProject, e.id, &req)
	if err != nil {
		e.t.Fatalf("plan version: %v", err)
	}
	vid, err := e.svc.CommitVersion(ctx, plan)
	if err != nil {
		e.t.Fatalf("commit version: %v", err)
	}
	var taskID string
	if err := e.db.QueryRowContext(ctx, `SELECT task_id FROM dataset_versions WHERE id=$1`, vid).Scan(&taskID); err != nil {
		e.t.Fatal(err)
	}
	if task := e.wait(taskID); task.Status != tasks.Succeeded {
		e.t.Fatalf("publishing ended %s: %s", task.Status, task.ErrorMessage)
	}
	v, err := e.svc.GetVersion(ctx, testProject, e.id, vid)
	if err != nil {
		e.t.Fatal(err)
	}
	if v.Status != VersionNormal {
		e.t.Fatalf("version status %d (%s), want 1", v.Status, v.Message)
	}
	return v
}

// export runs an export and waits for it.
func (e *exportEnv) export(req ExportRequest) *ExportTask {
	e.t.Helper()
	ctx := context.Background()
	plan, err := e.svc.PlanExport(ctx, testProject, e.id, &req)
	if err != nil {
		e.t.Fatalf("plan export: %v", err)
	}
	tid, err := e.svc.CommitExport(ctx, plan)
	if err != nil {
		e.t.Fatalf("commit export: %v", err)
	}
	e.wait(tid)
	et, err := e.svc.GetExport(ctx, testProject, e.id, tid)
	if err != nil {
		e.t.Fatal(err)
	}
	if et.Status != "SUCCESSED" {
		e.t.Fatalf("export ended %s: %s", et.Status, et.ErrorMsg)
	}
	return et
}

// read returns an object's content.
func (e *exportEnv) read(p string) []byte {
	e.t.Helper()
	o, err := obs.ParsePath(p)
	if err != nil {
		e.t.Fatal(err)
	}
	rc, _, err := e.objects.Get(context.Background(), o.Bucket, o.Key, nil)
	if err != nil {
		e.t.Fatalf("read %s: %v", p, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

func (e *exportEnv) exists(p string) bool {
	o, err := obs.ParsePath(p)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.objects.Head(context.Background(), o.Bucket, o.Key)
	return err == nil
}

// keys lists the objects under a prefix.
func (e *exportEnv) keys(bucket, prefix string) []string {
	e.t.Helper()
	var out []string
	after := ""
	for {
		page, err := e.objects.List(context.Background(), bucket, obs.ListOptions{Prefix: prefix, StartAfter: after})
		if err != nil {
			e.t.Fatal(err)
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

// manifestLine is a manifest line as JSON, for checks of what is written.
type manifestLine map[string]any

func parseLines(t *testing.T, data []byte) []manifestLine {
	t.Helper()
	var out []manifestLine
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m manifestLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, l)
		}
		out = append(out, m)
	}
	return out
}

func (m manifestLine) annotations() []map[string]any {
	var out []map[string]any
	list, _ := m["annotation"].([]any)
	for _, a := range list {
		out = append(out, a.(map[string]any))
	}
	return out
}

func byID(lines []manifestLine) map[string]manifestLine {
	out := map[string]manifestLine{}
	for _, l := range lines {
		out[l["id"].(string)] = l
	}
	return out
}

func clsLabels(names ...string) []annotation.Label {
	out := make([]annotation.Label, len(names))
	for i, n := range names {
		out[i] = annotation.Label{Name: n, Type: annotation.TypeImageClassification}
	}
	return out
}

func box(name string, x1, y1, x2, y2 float64) annotation.Label {
	return annotation.Label{Name: name, Type: annotation.TypeObjectDetection, Property: map[string]any{
		annotation.PropShape: "bndbox", annotation.PropFeature: []any{[]any{x1, y1}, []any{x2, y2}}}}
}

func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPublishClassificationVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db.Engine, TypeImageClassification, true)
		var in []SampleInput
		for i := range 10 {
			name := "cat"
			if i%2 == 1 {
				name = "dog"
			}
			in = append(in, SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i), Labels: clsLabels(name)})
		}
		in[0].Labels = clsLabels("cat", "dog")
		in[1].Metadata = map[string]any{annotation.MetaHard: 1.0, annotation.MetaHardCoefficient: 0.7}
		in = append(in, SampleInput{Source: "obs://data/in/u1.jpg"}, SampleInput{Source: "obs://data/in/u2.jpg"})
		e.write(in, WriteOptions{})
		e.write([]SampleInput{{Source: "obs://data/in/auto.jpg", Labels: clsLabels("cat")}}, WriteOptions{Unconfirmed: true})

		v := e.publish(VersionRequest{Description: "first", TrainEvaluateSampleRatio: ptrRatio("0.5")})
		if v.VersionName != "V001" || !v.IsCurrent || v.TotalSampleCount != 13 || v.AnnotatedSampleCount != 10 {
			t.Errorf("version: name %s current %v total %d annotated %d; want V001, current, 13, 10", v.VersionName, v.IsCurrent,
				v.TotalSampleCount, v.AnnotatedSampleCount)
		}
		if want := "/data/work/ds-" + e.id + "/annotation/V001/V001.manifest"; v.ManifestPath != want {
			t.Errorf("manifest_path %s, want %s", v.ManifestPath, want)
		}
		if v.LabelType != "multi" || v.TrainEvaluateSampleRatio != "0.5" || v.Description != "first" || v.TaskType != 0 {
			t.Errorf("version fields: %+v", v)
		}
		stats := map[string][2]int64{}
		for _, ls := range v.LabelStats {
			stats[ls.Name] = [2]int64{ls.Count, ls.SampleCount}
		}
		if stats["cat"] != [2]int64{5, 5} || stats["dog"] != [2]int64{6, 6} {
			t.Errorf("label stats %v; want cat 5/5 (the unconfirmed one left out), dog 6/6", stats)
		}

		lines := parseLines(t, e.read(v.ManifestPath))
		if len(lines) != 13 {
			t.Fatalf("manifest has %d lines, want 13", len(lines))
		}
		train, eval := 0, 0
		for _, l := range lines {
			src := l["source"].(string)
			anns := l.annotations()
			switch {
			case strings.HasSuffix(src, "/u1.jpg"), strings.HasSuffix(src, "/u2.jpg"), strings.HasSuffix(src, "/auto.jpg"):
				if len(anns) != 0 || l["usage"] != nil {
					t.Errorf("unlabeled %s: %v; want no annotation and no usage", src, l)
				}
				continue
			}
			switch l["usage"] {
			case "TRAIN":
				train++
			case "EVAL":
				eval++
			default:
				t.Errorf("labeled %s has usage %v", src, l["usage"])
			}
			if l["id"] != SampleID(src) || !strings.HasPrefix(src, "obs://data/in/") || l["sample-type"] != 0.0 {
				t.Errorf("line %v: id, source or sample-type wrong", l)
			}
			for _, a := range anns {
				if a["type"] != "modelarts/image_classification" || a["creation-time"] == nil {
					t.Errorf("annotation %v: want an image_classification with creation-time", a)
				}
			}
			if l["hard"] != nil || l["hard-coefficient"] != nil {
				t.Errorf("clear_hard_property (default true) left hard attributes: %v", l)
			}
		}
		if train+eval != 10 || train == 0 || eval == 0 {
			t.Errorf("split 0.5 gave %d TRAIN and %d EVAL", train, eval)
		}
		// The dataset shows the version.
		var count, next int
		var cur, curName string
		if err := e.db.QueryRow(`SELECT dataset_version_count, next_version_num, current_version_id, current_version_name FROM datasets WHERE id=$1`,
			e.id).Scan(&count, &next, &cur, &curName); err != nil {
			t.Fatal(err)
		}
		if count != 1 || next != 2 || cur != v.VersionID || curName != "V001" {
			t.Errorf("dataset: %d versions, next %d, current %s %s", count, next, cur, curName)
		}
		// Keeping hard attributes when asked.
		v2 := e.publish(VersionRequest{ClearHardProperty: new(bool)})
		l := byID(parseLines(t, e.read(v2.ManifestPath)))[SampleID("obs://data/in/01.jpg")]
		if l["hard"] != "true" || l["hard-coefficient"] != 0.7 {
			t.Errorf("clear_hard_property false: %v", l)
		}
		if v2.VersionName != "V002" || v2.PreviousVersionID != v.VersionID || v2.PreviousTotalSampleCount != 13 || v2.AddSampleCount != 0 {
			t.Errorf("second version: %+v", v2)
		}
	})
}

func ptrRatio(s string) *Ratio {
	r := Ratio(s)
	return &r
}

func TestPublishedVersionIsImmutable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newExportEnv(t, db.Engine, TypeImageClassification, true)
		e.write([]SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: clsLabels("cat")},
			{Source: "obs://data/in/b.jpg", Labels: clsLabels("dog")},
		}, WriteOptions{})
		v := e.publish(VersionRequest{})
		before := e.read(v.ManifestPath)

		// Relabel, add a sample and a label after publishing.
		errs, err := e.svc.UpdateSampleLabels(ctx, testProject, e.id, []LabelUpdate{{SampleID: SampleID("obs://data/in/a.jpg"), Labels: clsLabels("bird")}})
		if err != nil || errs[0] != nil {
			t.Fatalf("relabel: %v %v", err, errs)
		}
		e.write([]SampleInput{{Source: "obs://data/in/c.jpg", Labels: clsLabels("cat")}}, WriteOptions{})

		if after := e.read(v.ManifestPath); !bytes.Equal(before, after) {
			t.Errorf("manifest changed after labeling:\n%s\n%s", before, after)
		}
		again, err := e.svc.GetVersion(ctx, testProject, e.id, v.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		if again.TotalSampleCount != 2 || again.AnnotatedSampleCount != 2 || len(again.LabelStats) != 2 {
			t.Errorf("version statistics changed: %+v", again)
		}
		n, samples, err := e.svc.ListVersionSamples(ctx, testProject, e.id, v.VersionID, SampleQuery{Limit: 10, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || len(samples) != 2 || samples[0].Labels[0].Name != "cat" || samples[0].SampleName != "a.jpg" {
			t.Errorf("version samples: %d %+v; want a.jpg still labeled cat", n, samples)
		}
		total, labels, err := e.svc.ListVersionLabels(ctx, testProject, e.id, v.VersionID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || labels[0].Name != "cat" || labels[1].Name != "dog" {
			t.Errorf("version labels: %d %v; want cat and dog only", total, labels)
		}
		// The dataset's own list has moved on.
		n, _, err = e.svc.ListSamples(ctx, testProject, e.id, SampleQuery{Limit: 10, LabelName: "bird"})
		if err != nil || n != 1 {
			t.Errorf("dataset samples labeled bird: %d %v", n, err)
		}
	})
}

func TestPublishDetectionVersionWritesVOC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newExportEnv(t, db.Engine, TypeObjectDetection, true)
		e.putFile("in/sized.png", pngImage(t, 40, 30))
		e.write([]SampleInput{
			{Source: "obs://data/in/street/1.jpg", Labels: []annotation.Label{box("car", 1, 2, 100, 80), box("bus", 10, 10, 50, 50)},
				Metadata: map[string]any{annotation.MetaSize: []any{640.0, 480.0, 3.0}}},
			{Source: "obs://data/in/sized.png", Labels: []annotation.Label{box("car", 0, 0, 20, 20)}},
			{Source: "obs://data/in/empty.jpg"},
		}, WriteOptions{})
		v := e.publish(VersionRequest{TrainEvaluateSampleRatio: ptrRatio("1")})
		lines := byID(parseLines(t, e.read(v.ManifestPath)))
		dir := "/data/work/ds-" + e.id + "/annotation/V001/"

		l := lines[SampleID("obs://data/in/street/1.jpg")]
		anns := l.annotations()
		if len(anns) != 1 || anns[0]["type"] != "modelarts/object_detection" || anns[0]["annotation-format"] != "PASCAL VOC" {
			t.Fatalf("detection line %v: want one object_detection annotation in PASCAL VOC", l)
		}
		wantLoc := "obs:/" + dir + "annotation/street/1.xml"
		if anns[0]["annotation-loc"] != wantLoc || l["usage"] != "TRAIN" {
			t.Errorf("annotation-loc %v usage %v; want %s, TRAIN", anns[0]["annotation-loc"], l["usage"], wantLoc)
		}
		doc, err := formats.ParseVOC(bytes.NewReader(e.read(wantLoc)))
		if err != nil {
			t.Fatal(err)
		}
		if doc.Filename != "1.jpg" || doc.Size.Width != 640 || doc.Size.Height != 480 || len(doc.Objects) != 2 ||
			doc.Objects[0].Name != "car" || *doc.Objects[0].BndBox != (formats.BndBox{XMin: 1, YMin: 2, XMax: 100, YMax: 80}) {
			t.Errorf("VOC file: %+v", doc)
		}
		// No @modelarts:size: the image's header gives it.
		sized := lines[SampleID("obs://data/in/sized.png")].annotations()
		doc, err = formats.ParseVOC(bytes.NewReader(e.read(sized[0]["annotation-loc"].(string))))
		if err != nil {
			t.Fatal(err)
		}
		if doc.Size.Width != 40 || doc.Size.Height != 30 {
			t.Errorf("size from the PNG header: %+v", doc.Size)
		}
		if anns := lines[SampleID("obs://data/in/empty.jpg")].annotations(); len(anns) != 0 {
			t.Errorf("unlabeled image got annotations %v", anns)
		}
		stats := map[string]int64{}
		for _, ls := range v.LabelStats {
			stats[ls.Name] = ls.Count
		}
		if stats["car"] != 2 || stats["bus"] != 1 || v.AnnotatedSampleCount != 2 {
			t.Errorf("label stats %v annotated %d", stats, v.AnnotatedSampleCount)
		}
		// The version's sample list reads the boxes back from the VOC files.
		n, samples, err := e.svc.ListVersionSamples(ctx, testProject, e.id, v.VersionID, SampleQuery{Limit: 10, LabelName: "bus"})
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || len(samples) != 1 || len(samples[0].Labels) != 2 || samples[0].SampleStatus != "MANUAL_ANNOTATION" {
			t.Errorf("version samples with bus: %d %+v", n, samples)
		}
	})
}

func TestPublishTextVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newExportEnv(t, db.Engine, TypeTextClassification, true)
		e.write([]SampleInput{
			{Source: "content://I like this product", SampleType: annotation.SampleText,
				Labels: []annotation.Label{{Name: "positive", Type: annotation.TypeTextClassification}}},
			{Source: "content://Awful", SampleType: annotation.SampleText},
		}, WriteOptions{})
		v := e.publish(VersionRequest{})
		lines := parseLines(t, e.read(v.ManifestPath))
		if len(lines) != 2 {
			t.Fatalf("%d lines", len(lines))
		}
		l := byID(lines)[SampleID("content://I like this product")]
		anns := l.annotations()
		if l["source"] != "content://I like this product" || l["sample-type"] != 1.0 || len(anns) != 1 ||
			anns[0]["type"] != "modelarts/text_classification" || anns[0]["name"] != "positive" {
			t.Errorf("text line %v", l)
		}
		_, samples, err := e.svc.ListVersionSamples(ctx, testProject, e.id, v.VersionID, SampleQuery{Limit: 10, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(samples) != 2 || samples[0].SampleData[0] != "I like this product" || samples[1].SampleStatus != "UN_ANNOTATION" {
			t.Errorf("text samples %+v", samples)
		}

		// Named entities keep their offsets.
		ner := newExportEnv(t, db.Engine, TypeNamedEntity, true)
		ner.write([]SampleInput{{Source: "content://Michael Jordan plays", SampleType: annotation.SampleText,
			Labels: []annotation.Label{{Name: "Person", Type: annotation.TypeNamedEntity,
				Property: map[string]any{annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 14.0}}}}}, WriteOptions{})
		nv := ner.publish(VersionRequest{})
		a := parseLines(t, ner.read(nv.ManifestPath))[0].annotations()[0]
		p := a["property"].(map[string]any)
		if a["type"] != "modelarts/text_entity" || p[annotation.PropStartIndex] != 0.0 || p[annotation.PropEndIndex] != 14.0 {
			t.Errorf("entity annotation %v", a)
		}
	})
}

func TestVersionSplitRatio(t *testing.T) {
	e := newExportEnv(t, store.SQLite, TypeImageClassification, true)
	var in []SampleInput
	for i := range 1000 {
		in = append(in, SampleInput{Source: fmt.Sprintf("obs://data/in/%04d.jpg", i), Labels: clsLabels("a")})
	}
	in[0].Usage = "EVAL"
	e.write(in, WriteOptions{})
	usages := func(v *Version) map[string]string {
		out := map[string]string{}
		for id, l := range byID(parseLines(t, e.read(v.ManifestPath))) {
			out[id], _ = l["usage"].(string)
		}
		return out
	}
	v1 := e.publish(VersionRequest{TrainEvaluateSampleRatio: ptrRatio("0.8")})
	u1 := usages(v1)
	train := 0
	for _, u := range u1 {
		if u == "TRAIN" {
			train++
		}
	}
	if train < 740 || train > 860 {
		t.Errorf("ratio 0.8 gave %d of 1000 samples to training", train)
	}
	if got := v1.DataStatistics["sample_usage"].(map[string]int64)["TRAIN"]; got != int64(train) {
		t.Errorf("data_statistics counts %d TRAIN, the manifest %d", got, train)
	}
	// The same ratio splits the same way.
	u2 := usages(e.publish(VersionRequest{TrainEvaluateSampleRatio: ptrRatio("0.8")}))
	for id, u := range u1 {
		if u2[id] != u {
			t.Fatalf("sample %s: %s in one version, %s in the next", id, u, u2[id])
		}
	}
	// The default, 1.00, trains on everything; remove_sample_usage false
	// keeps a usage the sample has.
	first := SampleID("obs://data/in/0000.jpg")
	all := usages(e.publish(VersionRequest{}))
	kept := usages(e.publish(VersionRequest{RemoveSampleUsage: new(bool)}))
	for id, u := range all {
		if u != "TRAIN" {
			t.Fatalf("default ratio: %s is %s", id, u)
		}
		if want := map[bool]string{true: "EVAL", false: "TRAIN"}[id == first]; kept[id] != want {
			t.Fatalf("remove_sample_usage false: %s is %s, want %s", id, kept[id], want)
		}
	}
	if all[first] != "TRAIN" {
		t.Errorf("remove_sample_usage true (default) kept the stored EVAL")
	}
}

func TestDeleteVersionRemovesFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newExportEnv(t, db.Engine, TypeObjectDetection, true)
		e.putFile("in/a.jpg", []byte("jpeg"))
		e.write([]SampleInput{{Source: "obs://data/in/a.jpg", Labels: []annotation.Label{box("car", 0, 0, 5, 5)},
			Metadata: map[string]any{annotation.MetaSize: []any{10.0, 10.0}}}, {Source: "obs://data/in/gone.jpg"}}, WriteOptions{})
		v1 := e.publish(VersionRequest{})
		// gone.jpg has no file to copy: it is left out, and the version says so.
		v2 := e.publish(VersionRequest{ExportImages: ptrBool(true)})
		if v1.TotalSampleCount != 2 || v2.TotalSampleCount != 1 || !strings.Contains(v2.Message, "1 sample(s) left out") ||
			!strings.Contains(v2.Message, "gone.jpg") {
			t.Errorf("V001 %d samples, V002 %d samples and message %q", v1.TotalSampleCount, v2.TotalSampleCount, v2.Message)
		}
		dir := strings.TrimPrefix(strings.TrimSuffix(v2.ManifestPath, "V002.manifest"), "/data/")
		if got := e.keys("data", dir); len(got) != 3 { // manifest, VOC file, copy of the image
			t.Fatalf("version files %v, want the manifest, a VOC file and the image's copy", got)
		}
		if !e.exists("/data/" + dir + "data/a.jpg") {
			t.Errorf("export_images did not copy the image to data/")
		}
		plan, err := e.svc.PlanDeleteVersion(ctx, testProject, e.id, v2.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Files != (obs.Path{Bucket: "data", Key: dir}) {
			t.Errorf("delete plan files %v, want data/%s", plan.Files, dir)
		}
		if err := e.svc.CommitDeleteVersion(ctx, plan); err != nil {
			t.Fatal(err)
		}
		if got := e.keys("data", dir); len(got) != 0 {
			t.Errorf("files left after deleting the version: %v", got)
		}
		if !e.exists(v1.ManifestPath) {
			t.Errorf("deleting V002 removed V001's manifest")
		}
		if !e.exists("/data/in/a.jpg") {
			t.Errorf("deleting a version removed a sample's file")
		}
		var count int
		var cur string
		if err := e.db.QueryRow(`SELECT dataset_version_count, current_version_id FROM datasets WHERE id=$1`, e.id).Scan(&count, &cur); err != nil {
			t.Fatal(err)
		}
		if count != 1 || cur != v1.VersionID {
			t.Errorf("after delete: %d versions, current %s; want 1, V001 (%s)", count, cur, v1.VersionID)
		}
		if _, err := e.svc.GetVersion(ctx, testProject, e.id, v2.VersionID); !hasCode(err, CodeVersionNotFound) {
			t.Errorf("deleted version: %v, want %s", err, CodeVersionNotFound)
		}
	})
}

func ptrBool(b bool) *bool { return &b }

func hasCode(err error, code string) bool {
	e, ok := AsError(err)
	return ok && e.Code == code
}

func TestExportLayouts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db.Engine, TypeImageClassification, true)
		for _, k := range []string{"in/a.jpg", "in/sub/b.jpg", "in/c.jpg"} {
			e.putFile(k, []byte("image "+k))
		}
		e.write([]SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: clsLabels("cat"), Usage: "TRAIN"},
			{Source: "obs://data/in/sub/b.jpg", Labels: clsLabels("dog", "cat")},
			{Source: "obs://data/in/c.jpg"},
		}, WriteOptions{})

		// The manifest alone, with s3:// locations.
		et := e.export(ExportRequest{Path: "/out/m/", SourceTypeHeader: "s3://"})
		if et.TotalSampleCount != 3 || et.FinishedSampleCount != 3 || et.Progress != 100 || et.ExportType != ExportAll {
			t.Errorf("export task %+v", et)
		}
		lines := byID(parseLines(t, e.read("/out/m/ds.manifest")))
		if l := lines[SampleID("obs://data/in/a.jpg")]; l["source"] != "s3://data/in/a.jpg" || l["usage"] != "TRAIN" {
			t.Errorf("manifest line %v: want the s3:// source and the stored usage", l)
		}
		if got := e.keys("data", "work/ds-"+e.id+"/temp/"); len(got) != 0 {
			t.Errorf("parts left behind: %v", got)
		}

		// Tree: a folder per label, unlabeled files at the top.
		e.export(ExportRequest{Path: "/out/tree/", ExportFormat: ptrInt(ExportTree)})
		for _, k := range []string{"tree/cat/a.jpg", "tree/cat/sub_b.jpg", "tree/dog/sub_b.jpg", "tree/c.jpg", "tree/ds.manifest"} {
			if !e.exists("/out/" + k) {
				t.Errorf("tree export lacks %s (has %v)", k, e.keys("out", "tree/"))
			}
		}
		if got := string(e.read("/out/tree/cat/a.jpg")); got != "image in/a.jpg" {
			t.Errorf("copy holds %q", got)
		}
		lines = byID(parseLines(t, e.read("/out/tree/ds.manifest")))
		if l := lines[SampleID("obs://data/in/sub/b.jpg")]; l["source"] != "obs://out/tree/dog/sub_b.jpg" {
			t.Errorf("tree manifest points at %v, want the copy in the first label's folder", l["source"])
		}

		// Tile: each file at its path, its labels beside it.
		e.export(ExportRequest{Path: "/out/tile/", ExportFormat: ptrInt(ExportTile)})
		if got := string(e.read("/out/tile/sub/b.txt")); got != "dog\ncat\n" {
			t.Errorf("tile label file %q", got)
		}
		if !e.exists("/out/tile/sub/b.jpg") || !e.exists("/out/tile/c.jpg") || e.exists("/out/tile/c.txt") {
			t.Errorf("tile export: %v", e.keys("out", "tile/"))
		}

		// Conditions are ORed; sample IDs restrict.
		et = e.export(ExportRequest{Path: "/out/cond/", ExportType: ptrInt(ExportConditional), ExportParams: &ExportParams{
			SearchConditions: []SearchCondition{
				{LabelList: &SearchLabels{Labels: []SearchLabel{{Name: "dog"}}}},
				{SampleName: "c.jpg"},
			}}})
		lines = byID(parseLines(t, e.read("/out/cond/ds.manifest")))
		if len(lines) != 2 || lines[SampleID("obs://data/in/sub/b.jpg")] == nil || lines[SampleID("obs://data/in/c.jpg")] == nil || et.TotalSampleCount != 2 {
			t.Errorf("dog OR c.jpg exported %v (total %d)", lines, et.TotalSampleCount)
		}
		e.export(ExportRequest{Path: "/out/ids/", ExportParams: &ExportParams{Samples: []string{SampleID("obs://data/in/a.jpg")}}})
		if lines := parseLines(t, e.read("/out/ids/ds.manifest")); len(lines) != 1 {
			t.Errorf("samples list exported %d lines", len(lines))
		}
		e.export(ExportRequest{Path: "/out/unl/", ExportType: ptrInt(ExportUnlabeled)})
		if lines := parseLines(t, e.read("/out/unl/ds.manifest")); len(lines) != 1 || lines[0]["annotation"] != nil {
			t.Errorf("unlabeled export %v", lines)
		}
		// Splitting on export.
		e.export(ExportRequest{Path: "/out/split/", ExportParams: &ExportParams{RatioSampleUsage: ptrBool(true), TrainSampleRatio: ptrRatio("0")}})
		for _, l := range parseLines(t, e.read("/out/split/ds.manifest")) {
			if l["annotation"] != nil && l["usage"] != "EVAL" {
				t.Errorf("ratio 0: %v", l)
			}
		}
		// The list, newest first, filtered by type.
		n, list, err := e.svc.ListExports(context.Background(), testProject, e.id, nil, 0, 100)
		if err != nil || n != 7 || list[0].Path != "/out/split/" {
			t.Errorf("export list: %d %v %v", n, list, err)
		}
		n, list, err = e.svc.ListExports(context.Background(), testProject, e.id, ptrInt(ExportConditional), 0, 1)
		if err != nil || n != 2 || len(list) != 1 || list[0].ExportType != ExportConditional {
			t.Errorf("conditional exports, one a page: %d %v %v", n, list, err)
		}
	})
}

func ptrInt(v int) *int { return &v }

func TestExportDetectionTileAndVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db.Engine, TypeObjectDetection, true)
		e.putFile("in/a.jpg", []byte("jpeg"))
		e.putFile("in/b.jpg", []byte("jpeg"))
		e.write([]SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: []annotation.Label{box("car", 1, 1, 8, 8)}, Metadata: map[string]any{annotation.MetaSize: []any{10.0, 10.0}}},
			{Source: "obs://data/in/b.jpg"},
		}, WriteOptions{})
		e.export(ExportRequest{Path: "/out/det/", ExportFormat: ptrInt(ExportTile), AnnotationFormat: "VOC"})
		doc, err := formats.ParseVOC(bytes.NewReader(e.read("/out/det/a.xml")))
		if err != nil || len(doc.Objects) != 1 || doc.Objects[0].Name != "car" {
			t.Fatalf("tile VOC: %+v %v", doc, err)
		}
		l := byID(parseLines(t, e.read("/out/det/ds.manifest")))[SampleID("obs://data/in/a.jpg")]
		if l["source"] != "obs://out/det/a.jpg" || l.annotations()[0]["annotation-loc"] != "obs://out/det/a.xml" {
			t.Errorf("tile manifest line %v", l)
		}

		// A version's samples: the version's labels, not today's.
		v := e.publish(VersionRequest{})
		if _, err := e.svc.UpdateSampleLabels(context.Background(), testProject, e.id, []LabelUpdate{{SampleID: SampleID("obs://data/in/a.jpg"),
			Labels: []annotation.Label{box("truck", 1, 1, 8, 8)}}}); err != nil {
			t.Fatal(err)
		}
		et := e.export(ExportRequest{Path: "/out/ver/", VersionID: v.VersionID, ExportType: ptrInt(ExportLabeled)})
		if et.TotalSampleCount != 1 || et.VersionID != v.VersionID {
			t.Errorf("version export task %+v", et)
		}
		lines := parseLines(t, e.read("/out/ver/ds-V001.manifest"))
		if len(lines) != 1 || lines[0].annotations()[0]["annotation-loc"] != "obs://out/ver/Annotations/a.xml" {
			t.Fatalf("version export %v", lines)
		}
		doc, err = formats.ParseVOC(bytes.NewReader(e.read("/out/ver/Annotations/a.xml")))
		if err != nil || doc.Objects[0].Name != "car" {
			t.Errorf("version export's VOC %+v %v: want the published car", doc, err)
		}
	})
}

// progressRecorder is a tasks.Progress that keeps what a handler reports
// and can stop it at a checkpoint, as a crash would.
type progressRecorder struct {
	mu          sync.Mutex
	ok, failed  int64
	total       int64
	checkpoints []string
	stopAt      int
	stop        context.CancelFunc
}

func (p *progressRecorder) SetTotal(n int64) { p.mu.Lock(); p.total = n; p.mu.Unlock() }
func (p *progressRecorder) Succeed(n int64)  { p.mu.Lock(); p.ok += n; p.mu.Unlock() }
func (p *progressRecorder) Fail(string, string) {
	p.mu.Lock()
	p.failed++
	p.mu.Unlock()
}
func (p *progressRecorder) SetResult(json.RawMessage) {}
func (p *progressRecorder) Checkpoint(c string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkpoints = append(p.checkpoints, c)
	if len(p.checkpoints) == p.stopAt && p.stop != nil {
		p.stop()
	}
}
func (p *progressRecorder) CheckpointTx(_ context.Context, _ *sql.Tx, c string) error {
	p.Checkpoint(c)
	return nil
}

// A run that dies after writing parts publishes no manifest; the resumed
// run, from a checkpoint older than the last part written, produces each
// sample once, in order.
func TestExportResumesWithoutCorruptManifest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		old := partLines
		partLines = 10
		t.Cleanup(func() { partLines = old })
		e := newExportEnv(t, db.Engine, TypeImageClassification, false)
		var in []SampleInput
		for i := range 25 {
			in = append(in, SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i), Labels: clsLabels("x")})
		}
		e.write(in, WriteOptions{})
		plan, err := e.svc.PlanExport(context.Background(), testProject, e.id, &ExportRequest{Path: "/out/r/"})
		if err != nil {
			t.Fatal(err)
		}
		params, _ := json.Marshal(plan.params)
		task := &tasks.Task{ID: "resume-test", Kind: TaskExport, ProjectID: testProject, ResourceID: e.id, Params: params}

		ctx, cancel := context.WithCancel(context.Background())
		first := &progressRecorder{stopAt: 2, stop: cancel}
		if err := e.svc.runExport(ctx, task, first); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v, want context.Canceled", err)
		}
		cancel()
		if e.exists("/out/r/ds.manifest") {
			t.Fatal("an interrupted export published a manifest")
		}
		parts := e.keys("data", "work/ds-"+e.id+"/temp/resume-test/")
		if len(parts) != 2 {
			t.Fatalf("parts after the interruption: %v, want 2", parts)
		}
		// The second checkpoint was lost with the crash: resume from the first.
		task.Cursor = first.checkpoints[0]
		second := &progressRecorder{}
		if err := e.svc.runExport(context.Background(), task, second); err != nil {
			t.Fatalf("resumed run: %v", err)
		}
		if second.ok != 15 {
			t.Errorf("resumed run wrote %d samples, want the 15 after the checkpoint", second.ok)
		}
		lines := parseLines(t, e.read("/out/r/ds.manifest"))
		var got []string
		for _, l := range lines {
			got = append(got, l["source"].(string))
		}
		if len(got) != 25 || !sort.StringsAreSorted(got) {
			t.Fatalf("manifest after resume has %d lines in order %v", len(got), got)
		}
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				t.Fatalf("sample %s written twice", got[i])
			}
		}
		if left := e.keys("data", "work/ds-"+e.id+"/temp/"); len(left) != 0 {
			t.Errorf("parts left: %v", left)
		}
	})
}

// Paging a version's sample list seeks through the line index: pages at
// any depth, in both orders, match the manifest.
func TestVersionSampleListPaging(t *testing.T) {
	ctx := context.Background()
	e := newExportEnv(t, store.SQLite, TypeImageClassification, true)
	var in []SampleInput
	for i := range 2500 {
		label := "even"
		if i%2 == 1 {
			label = "odd"
		}
		in = append(in, SampleInput{Source: fmt.Sprintf("obs://data/in/%04d.jpg", i), Labels: clsLabels(label)})
	}
	e.write(in, WriteOptions{})
	v := e.publish(VersionRequest{})
	name := func(i int) string { return fmt.Sprintf("%04d.jpg", i) }
	for _, c := range []struct {
		q     SampleQuery
		first string
		n     int64
	}{
		{SampleQuery{Offset: 0, Limit: 5, Asc: true}, name(0), 2500},
		{SampleQuery{Offset: 1998, Limit: 5, Asc: true}, name(1998), 2500},
		{SampleQuery{Offset: 0, Limit: 5}, name(2499), 2500},
		{SampleQuery{Offset: 1500, Limit: 5}, name(999), 2500},
		{SampleQuery{Offset: 1000, Limit: 5, Asc: true, LabelName: "odd"}, name(2001), 1250},
		{SampleQuery{Offset: 3, Limit: 5, LabelName: "even"}, name(2492), 1250},
	} {
		n, page, err := e.svc.ListVersionSamples(ctx, testProject, e.id, v.VersionID, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if n != c.n || len(page) != 5 || page[0].SampleName != c.first {
			t.Errorf("%+v: count %d, %d samples, first %v; want %d, 5, %s", c.q, n, len(page), page[0].SampleName, c.n, c.first)
		}
	}
	n, page, err := e.svc.ListVersionSamples(ctx, testProject, e.id, v.VersionID, SampleQuery{Offset: 2498, Limit: 10, Asc: true})
	if err != nil || n != 2500 || len(page) != 2 {
		t.Errorf("last page: %d %d %v", n, len(page), err)
	}
	if _, _, err := e.svc.ListVersionSamples(ctx, testProject, e.id, v.VersionID, SampleQuery{Limit: 5, Marker: "x"}); !hasCode(err, CodeInvalid) {
		t.Errorf("marker on a version: %v", err)
	}
	if _, _, err := e.svc.ListVersionSamples(ctx, testProject, e.id, "nope", SampleQuery{Limit: 5}); !hasCode(err, CodeVersionNotFound) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestPlanVersionRejects(t *testing.T) {
	ctx := context.Background()
	e := newExportEnv(t, store.SQLite, TypeImageClassification, false)
	e.write([]SampleInput{{Source: "obs://data/in/a.jpg", Labels: clsLabels("a")}}, WriteOptions{})
	for _, c := range []struct {
		name  string
		req   VersionRequest
		code  string
		field string
	}{
		{"description-forbidden", VersionRequest{Description: "a<b"}, CodeInvalid, "description"},
		{"description-long", VersionRequest{Description: strings.Repeat("x", 257)}, CodeInvalid, "description"},
		{"ratio-above-one", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("1.5")}, CodeInvalid, "train_evaluate_sample_ratio"},
		{"ratio-not-number", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("most")}, CodeInvalid, "train_evaluate_sample_ratio"},
		{"ratio-negative", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("-0.1")}, CodeInvalid, "train_evaluate_sample_ratio"},
		{"ratio-one-labeled", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("0.5")}, CodeSplitRules, "labeled"},
		{"format-unknown", VersionRequest{VersionFormat: "XML"}, CodeInvalid, "version_format"},
		{"format-of-tables", VersionRequest{VersionFormat: "CSV"}, CodeInvalid, "version_format"},
		{"column-header", VersionRequest{WithColumnHeader: ptrBool(true)}, CodeInvalid, "with_column_header"},
		{"task-type", VersionRequest{LabelTaskType: ptrInt(1)}, CodeInvalid, "label_task_type"},
		{"name-chars", VersionRequest{VersionName: "v 1"}, CodeInvalid, "version_name"},
		{"name-long", VersionRequest{VersionName: strings.Repeat("v", 33)}, CodeInvalid, "version_name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.PlanVersion(ctx, testProject, e.id, &c.req)
			de, ok := AsError(err)
			if !ok || de.Code != c.code || !strings.Contains(de.Msg, c.field) {
				t.Errorf("got %v; want %s naming %s", err, c.code, c.field)
			}
		})
	}
	// Splitting is for classification and detection kinds only.
	ner := newExportEnv(t, store.SQLite, TypeNamedEntity, false)
	ner.write([]SampleInput{{Source: "content://x", SampleType: annotation.SampleText}}, WriteOptions{})
	if _, err := ner.svc.PlanVersion(ctx, testProject, ner.id, &VersionRequest{TrainEvaluateSampleRatio: ptrRatio("0.8")}); !hasCode(err, CodeInvalid) {
		t.Errorf("split of a named-entity dataset: %v", err)
	}
	empty := newExportEnv(t, store.SQLite, TypeImageClassification, false)
	if _, err := empty.svc.PlanVersion(ctx, testProject, empty.id, &VersionRequest{}); !hasCode(err, CodeVersionEmpty) {
		t.Errorf("empty dataset: %v", err)
	}
	if _, err := e.svc.PlanVersion(ctx, testProject, "missing", &VersionRequest{}); !hasCode(err, CodeDatasetNotFound) {
		t.Errorf("unknown dataset: %v", err)
	}

	// The task manager is not running: the first version stays creating,
	// and a second one waits its turn; a taken name is refused.
	plan, err := e.svc.PlanVersion(ctx, testProject, e.id, &VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	vid, err := e.svc.CommitVersion(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	plan2, err := e.svc.PlanVersion(ctx, testProject, e.id, &VersionRequest{VersionName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CommitVersion(ctx, plan2); !hasCode(err, CodePublishing) {
		t.Errorf("second version while publishing: %v, want %s", err, CodePublishing)
	}
	if _, err := e.svc.PlanDeleteVersion(ctx, testProject, e.id, vid); !hasCode(err, CodeVersionState) {
		t.Errorf("deleting a version being published: %v, want %s", err, CodeVersionState)
	}
	if _, err := e.db.Exec(`UPDATE dataset_versions SET status=1 WHERE id=$1`, vid); err != nil {
		t.Fatal(err)
	}
	same, err := e.svc.PlanVersion(ctx, testProject, e.id, &VersionRequest{VersionName: "V001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CommitVersion(ctx, same); !hasCode(err, CodeVersionExists) {
		t.Errorf("taken name: %v, want %s", err, CodeVersionExists)
	}
}

func TestPlanExportRejects(t *testing.T) {
	ctx := context.Background()
	e := newExportEnv(t, store.SQLite, TypeImageClassification, false)
	e.write([]SampleInput{{Source: "obs://data/in/a.jpg", Labels: clsLabels("a")}}, WriteOptions{})
	many := make([]string, MaxExportSamples+1)
	for _, c := range []struct {
		name  string
		req   ExportRequest
		code  string
		field string
	}{
		{"path-missing", ExportRequest{}, CodeInvalid, "path"},
		{"path-bucket-only", ExportRequest{Path: "/out/"}, CodeSubdirRequired, "path"},
		{"path-not-obs", ExportRequest{Path: "out/x/"}, CodeInvalidPath, "path"},
		{"path-double-slash", ExportRequest{Path: "/out/a//b/"}, CodeOBSPathDoubleSlash, "path"},
		{"path-in-input", ExportRequest{Path: "/data/in/export/"}, CodeExportPath, "path"},
		{"header", ExportRequest{Path: "/out/x/", SourceTypeHeader: "http://"}, CodeInvalid, "source_type_header"},
		{"annotation-coco", ExportRequest{Path: "/out/x/", AnnotationFormat: "COCO"}, CodeInvalid, "annotation_format"},
		{"annotation-other", ExportRequest{Path: "/out/x/", AnnotationFormat: "YOLO"}, CodeInvalid, "annotation_format"},
		{"export-format", ExportRequest{Path: "/out/x/", ExportFormat: ptrInt(3)}, CodeInvalid, "export_format"},
		{"version-format", ExportRequest{Path: "/out/x/", VersionFormat: "CSV"}, CodeInvalid, "version_format"},
		{"column-header", ExportRequest{Path: "/out/x/", WithColumnHeader: ptrBool(false)}, CodeInvalid, "with_column_header"},
		{"export-type", ExportRequest{Path: "/out/x/", ExportType: ptrInt(4)}, CodeInvalid, "export_type"},
		{"type-with-state", ExportRequest{Path: "/out/x/", ExportType: ptrInt(0), SampleState: "__NONE__"}, CodeInvalid, "export_type"},
		{"state", ExportRequest{Path: "/out/x/", SampleState: "__SOME__"}, CodeInvalid, "sample_state"},
		{"state-disagrees", ExportRequest{Path: "/out/x/", SampleState: "__ALL__", ExportParams: &ExportParams{SampleState: ptrString("__NONE__")}}, CodeInvalid, "sample_state"},
		{"dest-new-dataset", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDest: "NEW_DATASET"}}, CodeInvalid, "NEW_DATASET"},
		{"dest-other", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDest: "DB"}}, CodeInvalid, "export_dest"},
		{"new-dataset-name", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportNewDatasetName: "n"}}, CodeInvalid, "export_new_dataset_name"},
		{"new-dataset-path", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportNewDatasetWorkPath: "/out/y/"}}, CodeInvalid, "export_new_dataset_work_path"},
		{"new-version-name", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDatasetVersionName: "V1"}}, CodeInvalid, "export_dataset_version_name"},
		{"new-version-format", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDatasetVersionFormat: "Default"}}, CodeInvalid, "export_dataset_version_format"},
		{"ratio", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{TrainSampleRatio: ptrRatio("2")}}, CodeInvalid, "train_sample_ratio"},
		{"samples-many", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{Samples: many}}, CodeInvalid, "samples"},
		{"condition-hard", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{SearchConditions: []SearchCondition{{Hard: "2"}}}}, CodeInvalid, "hard"},
		{"condition-unsupported", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{SearchConditions: []SearchCondition{{Kvp: "1"}}}}, CodeInvalid, "kvp"},
		{"version-unknown", ExportRequest{Path: "/out/x/", VersionID: "nope"}, CodeVersionNotFound, "nope"},
		{"bucket-missing", ExportRequest{Path: "/nobucket/x/"}, CodeBucketNotExist, "nobucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan, err := e.svc.PlanExport(ctx, testProject, e.id, &c.req)
			if err == nil {
				_, err = e.svc.CommitExport(ctx, plan)
			}
			de, ok := AsError(err)
			if !ok || de.Code != c.code || !strings.Contains(de.Msg, c.field) {
				t.Errorf("got %v; want %s naming %s", err, c.code, c.field)
			}
		})
	}
	text := newExportEnv(t, store.SQLite, TypeTextClassification, false)
	if _, err := text.svc.PlanExport(ctx, testProject, text.id, &ExportRequest{Path: "/out/x/", ExportFormat: ptrInt(ExportTile)}); !hasCode(err, CodeInvalid) {
		t.Errorf("export_format of a text dataset: %v", err)
	}
	if _, err := e.svc.GetExport(ctx, testProject, e.id, "nope"); !hasCode(err, CodeExportNotFound) {
		t.Errorf("unknown export: %v", err)
	}
}

func ptrString(s string) *string { return &s }

// A publication resumed from a checkpoint counts each sample once: the
// statistics travel in the checkpoint with the parts.
func TestPublishResumesWithStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		old := partLines
		partLines = 10
		t.Cleanup(func() { partLines = old })
		ctx := context.Background()
		e := newExportEnv(t, db.Engine, TypeImageClassification, false)
		var in []SampleInput
		for i := range 25 {
			s := SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i)}
			if i >= 10 { // the first part has no label: its checkpoint carries empty counts
				s.Labels = clsLabels("x")
			}
			in = append(in, s)
		}
		e.write(in, WriteOptions{})
		plan, err := e.svc.PlanVersion(ctx, testProject, e.id, &VersionRequest{})
		if err != nil {
			t.Fatal(err)
		}
		vid, err := e.svc.CommitVersion(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		var taskID string
		if err := e.db.QueryRow(`SELECT task_id FROM dataset_versions WHERE id=$1`, vid).Scan(&taskID); err != nil {
			t.Fatal(err)
		}
		task, err := e.tasks.Get(ctx, taskID)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		first := &progressRecorder{stopAt: 2, stop: cancel}
		if err := e.svc.runPublish(rctx, task, first); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v", err)
		}
		cancel()
		v, err := e.svc.GetVersion(ctx, testProject, e.id, vid)
		if err != nil || v.Status != VersionCreating {
			t.Fatalf("after the interruption: %+v %v; want the version still creating", v, err)
		}
		task.Cursor = first.checkpoints[0]
		if err := e.svc.runPublish(ctx, task, &progressRecorder{}); err != nil {
			t.Fatalf("resumed run: %v", err)
		}
		v, err = e.svc.GetVersion(ctx, testProject, e.id, vid)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != VersionNormal || v.TotalSampleCount != 25 || v.AnnotatedSampleCount != 15 || v.LabelStats[0].SampleCount != 15 ||
			v.DataStatistics["sample_usage"].(map[string]int64)["TRAIN"] != 15 {
			t.Errorf("resumed version: %+v", v)
		}
		if n := len(parseLines(t, e.read(v.ManifestPath))); n != 25 {
			t.Errorf("manifest has %d lines, want 25", n)
		}
	})
}
