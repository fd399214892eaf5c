package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// exportEnv is the dataset core with the versions and exporter rooms over
// a real database and object store, and one dataset.
type exportEnv struct {
	*datasettest.Env
	versions *versions.Service
	svc      *Service
}

// newExportEnv builds the environment on engine; start false leaves the
// task manager stopped, so that queued work stays queued.
func newExportEnv(t *testing.T, engine store.Engine, typ int, start bool) *exportEnv {
	return newExportEnvParts(t, engine, typ, start, 0)
}

// newExportEnvParts is newExportEnv with manifest parts of partLines
// lines (0: the default).
func newExportEnvParts(t *testing.T, engine store.Engine, typ int, start bool, partLines int) *exportEnv {
	t.Helper()
	env := datasettest.NewEnv(t, engine, typ)
	vs, err := versions.New(versions.Options{Datasets: env.Core, DB: env.DB, Objects: env.Objects, Tasks: env.Tasks, PartLines: partLines})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{Datasets: env.Core, Versions: vs, DB: env.DB, Objects: env.Objects, Tasks: env.Tasks})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		env.Start()
	}
	return &exportEnv{Env: env, versions: vs, svc: svc}
}

// publish publishes a version and waits for it.
func (e *exportEnv) publish(req versions.VersionRequest) *versions.Version {
	e.T.Helper()
	ctx := context.Background()
	plan, err := e.versions.PlanVersion(ctx, datasettest.Project, e.ID, &req)
	if err != nil {
		e.T.Fatalf("plan version: %v", err)
	}
	vid, err := e.versions.CommitVersion(ctx, plan)
	if err != nil {
		e.T.Fatalf("commit version: %v", err)
	}
	e.WaitPublished(vid)
	v, err := e.versions.GetVersion(ctx, datasettest.Project, e.ID, vid)
	if err != nil {
		e.T.Fatal(err)
	}
	return v
}

// export runs an export and waits for it.
func (e *exportEnv) export(req ExportRequest) *ExportTask {
	e.T.Helper()
	ctx := context.Background()
	plan, err := e.svc.PlanExport(ctx, datasettest.Project, e.ID, &req)
	if err != nil {
		e.T.Fatalf("plan export: %v", err)
	}
	tid, err := e.svc.CommitExport(ctx, plan)
	if err != nil {
		e.T.Fatalf("commit export: %v", err)
	}
	e.Wait(tid)
	et, err := e.svc.GetExport(ctx, datasettest.Project, e.ID, tid)
	if err != nil {
		e.T.Fatal(err)
	}
	if et.Status != "SUCCESSED" {
		e.T.Fatalf("export ended %s: %s", et.Status, et.ErrorMsg)
	}
	return et
}

func TestExportLayouts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db.Engine, dataset.TypeImageClassification, true)
		for _, k := range []string{"in/a.jpg", "in/sub/b.jpg", "in/c.jpg"} {
			e.PutFile(k, []byte("image "+k))
		}
		e.Write([]dataset.SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: datasettest.ClsLabels("cat"), Usage: "TRAIN"},
			{Source: "obs://data/in/sub/b.jpg", Labels: datasettest.ClsLabels("dog", "cat")},
			{Source: "obs://data/in/c.jpg"},
		}, dataset.WriteOptions{})

		// The manifest alone, with s3:// locations.
		et := e.export(ExportRequest{Path: "/out/m/", SourceTypeHeader: "s3://"})
		if et.TotalSampleCount != 3 || et.FinishedSampleCount != 3 || et.Progress != 100 || et.ExportType != ExportAll {
			t.Errorf("export task %+v", et)
		}
		lines := datasettest.ByID(datasettest.ParseLines(t, e.Read("/out/m/ds.manifest")))
		if l := lines[dataset.SampleID("obs://data/in/a.jpg")]; l["source"] != "s3://data/in/a.jpg" || l["usage"] != "TRAIN" {
			t.Errorf("manifest line %v: want the s3:// source and the stored usage", l)
		}
		if got := e.Keys("data", "work/ds-"+e.ID+"/temp/"); len(got) != 0 {
			t.Errorf("parts left behind: %v", got)
		}

		// Tree: a folder per label, unlabeled files at the top.
		e.export(ExportRequest{Path: "/out/tree/", ExportFormat: ptrInt(ExportTree)})
		for _, k := range []string{"tree/cat/a.jpg", "tree/cat/sub_b.jpg", "tree/dog/sub_b.jpg", "tree/c.jpg", "tree/ds.manifest"} {
			if !e.Exists("/out/" + k) {
				t.Errorf("tree export lacks %s (has %v)", k, e.Keys("out", "tree/"))
			}
		}
		if got := string(e.Read("/out/tree/cat/a.jpg")); got != "image in/a.jpg" {
			t.Errorf("copy holds %q", got)
		}
		lines = datasettest.ByID(datasettest.ParseLines(t, e.Read("/out/tree/ds.manifest")))
		if l := lines[dataset.SampleID("obs://data/in/sub/b.jpg")]; l["source"] != "obs://out/tree/dog/sub_b.jpg" {
			t.Errorf("tree manifest points at %v, want the copy in the first label's folder", l["source"])
		}

		// Tile: each file at its path, its labels beside it.
		e.export(ExportRequest{Path: "/out/tile/", ExportFormat: ptrInt(ExportTile)})
		if got := string(e.Read("/out/tile/sub/b.txt")); got != "dog\ncat\n" {
			t.Errorf("tile label file %q", got)
		}
		if !e.Exists("/out/tile/sub/b.jpg") || !e.Exists("/out/tile/c.jpg") || e.Exists("/out/tile/c.txt") {
			t.Errorf("tile export: %v", e.Keys("out", "tile/"))
		}

		// Conditions are ORed; sample IDs restrict.
		et = e.export(ExportRequest{Path: "/out/cond/", ExportType: ptrInt(ExportConditional), ExportParams: &ExportParams{
			SearchConditions: []dataset.SearchCondition{
				{LabelList: &dataset.SearchLabels{Labels: []dataset.SearchLabel{{Name: "dog"}}}},
				{SampleName: "c.jpg"},
			}}})
		lines = datasettest.ByID(datasettest.ParseLines(t, e.Read("/out/cond/ds.manifest")))
		if len(lines) != 2 || lines[dataset.SampleID("obs://data/in/sub/b.jpg")] == nil || lines[dataset.SampleID("obs://data/in/c.jpg")] == nil || et.TotalSampleCount != 2 {
			t.Errorf("dog OR c.jpg exported %v (total %d)", lines, et.TotalSampleCount)
		}
		e.export(ExportRequest{Path: "/out/ids/", ExportParams: &ExportParams{Samples: []string{dataset.SampleID("obs://data/in/a.jpg")}}})
		if lines := datasettest.ParseLines(t, e.Read("/out/ids/ds.manifest")); len(lines) != 1 {
			t.Errorf("samples list exported %d lines", len(lines))
		}
		e.export(ExportRequest{Path: "/out/unl/", ExportType: ptrInt(ExportUnlabeled)})
		if lines := datasettest.ParseLines(t, e.Read("/out/unl/ds.manifest")); len(lines) != 1 || lines[0]["annotation"] != nil {
			t.Errorf("unlabeled export %v", lines)
		}
		// Splitting on export.
		e.export(ExportRequest{Path: "/out/split/", ExportParams: &ExportParams{RatioSampleUsage: new(true), TrainSampleRatio: (*versions.Ratio)(new("0"))}})
		for _, l := range datasettest.ParseLines(t, e.Read("/out/split/ds.manifest")) {
			if l["annotation"] != nil && l["usage"] != "EVAL" {
				t.Errorf("ratio 0: %v", l)
			}
		}
		// The list, newest first, filtered by type.
		n, list, err := e.svc.ListExports(context.Background(), datasettest.Project, e.ID, nil, 0, 100)
		if err != nil || n != 7 || list[0].Path != "/out/split/" {
			t.Errorf("export list: %d %v %v", n, list, err)
		}
		n, list, err = e.svc.ListExports(context.Background(), datasettest.Project, e.ID, ptrInt(ExportConditional), 0, 1)
		if err != nil || n != 2 || len(list) != 1 || list[0].ExportType != ExportConditional {
			t.Errorf("conditional exports, one a page: %d %v %v", n, list, err)
		}
	})
}

func ptrInt(v int) *int { return &v }

func TestExportDetectionTileAndVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newExportEnv(t, db.Engine, dataset.TypeObjectDetection, true)
		e.PutFile("in/a.jpg", []byte("jpeg"))
		e.PutFile("in/b.jpg", []byte("jpeg"))
		e.Write([]dataset.SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: []annotation.Label{datasettest.Box("car", 1, 1, 8, 8)}, Metadata: map[string]any{annotation.MetaSize: []any{10.0, 10.0}}},
			{Source: "obs://data/in/b.jpg"},
		}, dataset.WriteOptions{})
		e.export(ExportRequest{Path: "/out/det/", ExportFormat: ptrInt(ExportTile), AnnotationFormat: "VOC"})
		doc, err := formats.ParseVOC(bytes.NewReader(e.Read("/out/det/a.xml")))
		if err != nil || len(doc.Objects) != 1 || doc.Objects[0].Name != "car" {
			t.Fatalf("tile VOC: %+v %v", doc, err)
		}
		l := datasettest.ByID(datasettest.ParseLines(t, e.Read("/out/det/ds.manifest")))[dataset.SampleID("obs://data/in/a.jpg")]
		if l["source"] != "obs://out/det/a.jpg" || l.Annotations()[0]["annotation-loc"] != "obs://out/det/a.xml" {
			t.Errorf("tile manifest line %v", l)
		}

		// A version's samples: the version's labels, not today's.
		v := e.publish(versions.VersionRequest{})
		if _, err := e.Core.UpdateSampleLabels(context.Background(), datasettest.Project, e.ID, []dataset.LabelUpdate{{SampleID: dataset.SampleID("obs://data/in/a.jpg"),
			Labels: []annotation.Label{datasettest.Box("truck", 1, 1, 8, 8)}}}); err != nil {
			t.Fatal(err)
		}
		et := e.export(ExportRequest{Path: "/out/ver/", VersionID: v.VersionID, ExportType: ptrInt(ExportLabeled)})
		if et.TotalSampleCount != 1 || et.VersionID != v.VersionID {
			t.Errorf("version export task %+v", et)
		}
		lines := datasettest.ParseLines(t, e.Read("/out/ver/ds-V001.manifest"))
		if len(lines) != 1 || lines[0].Annotations()[0]["annotation-loc"] != "obs://out/ver/Annotations/a.xml" {
			t.Fatalf("version export %v", lines)
		}
		doc, err = formats.ParseVOC(bytes.NewReader(e.Read("/out/ver/Annotations/a.xml")))
		if err != nil || doc.Objects[0].Name != "car" {
			t.Errorf("version export's VOC %+v %v: want the published car", doc, err)
		}
	})
}

// A run that dies after writing parts publishes no manifest; the resumed
// run, from a checkpoint older than the last part written, produces each
// sample once, in order.
func TestExportResumesWithoutCorruptManifest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newExportEnvParts(t, db.Engine, dataset.TypeImageClassification, false, 10)
		var in []dataset.SampleInput
		for i := range 25 {
			in = append(in, dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i), Labels: datasettest.ClsLabels("x")})
		}
		e.Write(in, dataset.WriteOptions{})
		plan, err := e.svc.PlanExport(context.Background(), datasettest.Project, e.ID, &ExportRequest{Path: "/out/r/"})
		if err != nil {
			t.Fatal(err)
		}
		params, _ := json.Marshal(plan.params)
		task := &tasks.Task{ID: "resume-test", Kind: TaskExport, ProjectID: datasettest.Project, ResourceID: e.ID, Params: params}

		ctx, cancel := context.WithCancel(context.Background())
		first := &datasettest.ProgressRecorder{StopAt: 2, Stop: cancel}
		if err := e.svc.runExport(ctx, task, first); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v, want context.Canceled", err)
		}
		cancel()
		if e.Exists("/out/r/ds.manifest") {
			t.Fatal("an interrupted export published a manifest")
		}
		parts := e.Keys("data", "work/ds-"+e.ID+"/temp/resume-test/")
		if len(parts) != 2 {
			t.Fatalf("parts after the interruption: %v, want 2", parts)
		}
		// The second checkpoint was lost with the crash: resume from the first.
		task.Cursor = first.Checkpoints[0]
		second := &datasettest.ProgressRecorder{}
		if err := e.svc.runExport(context.Background(), task, second); err != nil {
			t.Fatalf("resumed run: %v", err)
		}
		if second.OK() != 15 {
			t.Errorf("resumed run wrote %d samples, want the 15 after the checkpoint", second.OK())
		}
		lines := datasettest.ParseLines(t, e.Read("/out/r/ds.manifest"))
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
		if left := e.Keys("data", "work/ds-"+e.ID+"/temp/"); len(left) != 0 {
			t.Errorf("parts left: %v", left)
		}
	})
}

func TestPlanExportRejects(t *testing.T) {
	ctx := context.Background()
	e := newExportEnv(t, store.SQLite, dataset.TypeImageClassification, false)
	e.Write([]dataset.SampleInput{{Source: "obs://data/in/a.jpg", Labels: datasettest.ClsLabels("a")}}, dataset.WriteOptions{})
	many := make([]string, MaxExportSamples+1)
	for _, c := range []struct {
		name  string
		req   ExportRequest
		code  string
		field string
	}{
		{"path-missing", ExportRequest{}, dataset.CodeInvalid, "path"},
		{"path-bucket-only", ExportRequest{Path: "/out/"}, dataset.CodeSubdirRequired, "path"},
		{"path-not-obs", ExportRequest{Path: "out/x/"}, dataset.CodeInvalidPath, "path"},
		{"path-double-slash", ExportRequest{Path: "/out/a//b/"}, dataset.CodeOBSPathDoubleSlash, "path"},
		{"path-in-input", ExportRequest{Path: "/data/in/export/"}, CodeExportPath, "path"},
		{"header", ExportRequest{Path: "/out/x/", SourceTypeHeader: "http://"}, dataset.CodeInvalid, "source_type_header"},
		{"annotation-coco", ExportRequest{Path: "/out/x/", AnnotationFormat: "COCO"}, dataset.CodeInvalid, "annotation_format"},
		{"annotation-other", ExportRequest{Path: "/out/x/", AnnotationFormat: "YOLO"}, dataset.CodeInvalid, "annotation_format"},
		{"export-format", ExportRequest{Path: "/out/x/", ExportFormat: ptrInt(3)}, dataset.CodeInvalid, "export_format"},
		{"version-format", ExportRequest{Path: "/out/x/", VersionFormat: "CSV"}, dataset.CodeInvalid, "version_format"},
		{"column-header", ExportRequest{Path: "/out/x/", WithColumnHeader: new(false)}, dataset.CodeInvalid, "with_column_header"},
		{"export-type", ExportRequest{Path: "/out/x/", ExportType: ptrInt(4)}, dataset.CodeInvalid, "export_type"},
		{"type-with-state", ExportRequest{Path: "/out/x/", ExportType: ptrInt(0), SampleState: "__NONE__"}, dataset.CodeInvalid, "export_type"},
		{"state", ExportRequest{Path: "/out/x/", SampleState: "__SOME__"}, dataset.CodeInvalid, "sample_state"},
		{"state-disagrees", ExportRequest{Path: "/out/x/", SampleState: "__ALL__", ExportParams: &ExportParams{SampleState: new("__NONE__")}}, dataset.CodeInvalid, "sample_state"},
		{"dest-new-dataset", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDest: "NEW_DATASET"}}, dataset.CodeInvalid, "NEW_DATASET"},
		{"dest-other", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDest: "DB"}}, dataset.CodeInvalid, "export_dest"},
		{"new-dataset-name", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportNewDatasetName: "n"}}, dataset.CodeInvalid, "export_new_dataset_name"},
		{"new-dataset-path", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportNewDatasetWorkPath: "/out/y/"}}, dataset.CodeInvalid, "export_new_dataset_work_path"},
		{"new-version-name", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDatasetVersionName: "V1"}}, dataset.CodeInvalid, "export_dataset_version_name"},
		{"new-version-format", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{ExportDatasetVersionFormat: "Default"}}, dataset.CodeInvalid, "export_dataset_version_format"},
		{"ratio", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{TrainSampleRatio: (*versions.Ratio)(new("2"))}}, dataset.CodeInvalid, "train_sample_ratio"},
		{"samples-many", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{Samples: many}}, dataset.CodeInvalid, "samples"},
		{"condition-hard", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{SearchConditions: []dataset.SearchCondition{{Hard: "2"}}}}, dataset.CodeInvalid, "hard"},
		{"condition-unsupported", ExportRequest{Path: "/out/x/", ExportParams: &ExportParams{SearchConditions: []dataset.SearchCondition{{Kvp: "1"}}}}, dataset.CodeInvalid, "kvp"},
		{"version-unknown", ExportRequest{Path: "/out/x/", VersionID: "nope"}, dataset.CodeVersionNotFound, "nope"},
		{"bucket-missing", ExportRequest{Path: "/nobucket/x/"}, dataset.CodeBucketNotExist, "nobucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan, err := e.svc.PlanExport(ctx, datasettest.Project, e.ID, &c.req)
			if err == nil {
				_, err = e.svc.CommitExport(ctx, plan)
			}
			de, ok := dataset.AsError(err)
			if !ok || de.Code != c.code || !strings.Contains(de.Msg, c.field) {
				t.Errorf("got %v; want %s naming %s", err, c.code, c.field)
			}
		})
	}
	text := newExportEnv(t, store.SQLite, dataset.TypeTextClassification, false)
	if _, err := text.svc.PlanExport(ctx, datasettest.Project, text.ID, &ExportRequest{Path: "/out/x/", ExportFormat: ptrInt(ExportTile)}); !datasettest.HasCode(err, dataset.CodeInvalid) {
		t.Errorf("export_format of a text dataset: %v", err)
	}
	if _, err := e.svc.GetExport(ctx, datasettest.Project, e.ID, "nope"); !datasettest.HasCode(err, CodeExportNotFound) {
		t.Errorf("unknown export: %v", err)
	}
}
