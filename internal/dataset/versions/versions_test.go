package versions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/formats"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// versionEnv is the dataset core with the versions room over a real
// database and object store, and one dataset.
type versionEnv struct {
	*datasettest.Env
	svc *Service
}

// newVersionEnv builds the environment on engine; start false leaves the
// task manager stopped, so that queued work stays queued.
func newVersionEnv(t *testing.T, engine store.Engine, typ int, start bool) *versionEnv {
	return newVersionEnvParts(t, engine, typ, start, 0)
}

// newVersionEnvParts is newVersionEnv with manifest parts of partLines
// lines (0: the default).
func newVersionEnvParts(t *testing.T, engine store.Engine, typ int, start bool, partLines int) *versionEnv {
	t.Helper()
	env := datasettest.NewEnv(t, engine, typ)
	svc, err := New(Options{Datasets: env.Core, DB: env.DB, Objects: env.Objects, Tasks: env.Tasks, PartLines: partLines})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		env.Start()
	}
	return &versionEnv{Env: env, svc: svc}
}

// publish publishes a version and waits for it to be normal.
func (e *versionEnv) publish(req VersionRequest) *Version {
	e.T.Helper()
	ctx := context.Background()
	plan, err := e.svc.PlanVersion(ctx, datasettest.Project, e.ID, &req)
	if err != nil {
		e.T.Fatalf("plan version: %v", err)
	}
	vid, err := e.svc.CommitVersion(ctx, plan)
	if err != nil {
		e.T.Fatalf("commit version: %v", err)
	}
	e.WaitPublished(vid)
	v, err := e.svc.GetVersion(ctx, datasettest.Project, e.ID, vid)
	if err != nil {
		e.T.Fatal(err)
	}
	if v.Status != VersionNormal {
		e.T.Fatalf("version status %d (%s), want 1", v.Status, v.Message)
	}
	return v
}

func TestPublishClassificationVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newVersionEnv(t, db.Engine, dataset.TypeImageClassification, true)
		var in []dataset.SampleInput
		for i := range 10 {
			name := "cat"
			if i%2 == 1 {
				name = "dog"
			}
			in = append(in, dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i), Labels: datasettest.ClsLabels(name)})
		}
		in[0].Labels = datasettest.ClsLabels("cat", "dog")
		in[1].Metadata = map[string]any{annotation.MetaHard: 1.0, annotation.MetaHardCoefficient: 0.7}
		in = append(in, dataset.SampleInput{Source: "obs://data/in/u1.jpg"}, dataset.SampleInput{Source: "obs://data/in/u2.jpg"})
		e.Write(in, dataset.WriteOptions{})
		e.Write([]dataset.SampleInput{{Source: "obs://data/in/auto.jpg", Labels: datasettest.ClsLabels("cat")}}, dataset.WriteOptions{Unconfirmed: true})

		v := e.publish(VersionRequest{Description: "first", TrainEvaluateSampleRatio: ptrRatio("0.5")})
		if v.VersionName != "V001" || !v.IsCurrent || v.TotalSampleCount != 13 || v.AnnotatedSampleCount != 10 {
			t.Errorf("version: name %s current %v total %d annotated %d; want V001, current, 13, 10", v.VersionName, v.IsCurrent,
				v.TotalSampleCount, v.AnnotatedSampleCount)
		}
		if want := "/data/work/ds-" + e.ID + "/annotation/V001/V001.manifest"; v.ManifestPath != want {
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

		lines := datasettest.ParseLines(t, e.Read(v.ManifestPath))
		if len(lines) != 13 {
			t.Fatalf("manifest has %d lines, want 13", len(lines))
		}
		train, eval := 0, 0
		for _, l := range lines {
			src := l["source"].(string)
			anns := l.Annotations()
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
			if l["id"] != dataset.SampleID(src) || !strings.HasPrefix(src, "obs://data/in/") || l["sample-type"] != 0.0 {
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
		if err := e.DB.QueryRow(`SELECT dataset_version_count, next_version_num, current_version_id, current_version_name FROM datasets WHERE id=$1`,
			e.ID).Scan(&count, &next, &cur, &curName); err != nil {
			t.Fatal(err)
		}
		if count != 1 || next != 2 || cur != v.VersionID || curName != "V001" {
			t.Errorf("dataset: %d versions, next %d, current %s %s", count, next, cur, curName)
		}
		// Keeping hard attributes when asked.
		v2 := e.publish(VersionRequest{ClearHardProperty: new(bool)})
		l := datasettest.ByID(datasettest.ParseLines(t, e.Read(v2.ManifestPath)))[dataset.SampleID("obs://data/in/01.jpg")]
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
		e := newVersionEnv(t, db.Engine, dataset.TypeImageClassification, true)
		e.Write([]dataset.SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: datasettest.ClsLabels("cat")},
			{Source: "obs://data/in/b.jpg", Labels: datasettest.ClsLabels("dog")},
		}, dataset.WriteOptions{})
		v := e.publish(VersionRequest{})
		before := e.Read(v.ManifestPath)

		// Relabel, add a sample and a label after publishing.
		errs, err := e.Core.UpdateSampleLabels(ctx, datasettest.Project, e.ID, []dataset.LabelUpdate{{SampleID: dataset.SampleID("obs://data/in/a.jpg"), Labels: datasettest.ClsLabels("bird")}})
		if err != nil || errs[0] != nil {
			t.Fatalf("relabel: %v %v", err, errs)
		}
		e.Write([]dataset.SampleInput{{Source: "obs://data/in/c.jpg", Labels: datasettest.ClsLabels("cat")}}, dataset.WriteOptions{})

		if after := e.Read(v.ManifestPath); !bytes.Equal(before, after) {
			t.Errorf("manifest changed after labeling:\n%s\n%s", before, after)
		}
		again, err := e.svc.GetVersion(ctx, datasettest.Project, e.ID, v.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		if again.TotalSampleCount != 2 || again.AnnotatedSampleCount != 2 || len(again.LabelStats) != 2 {
			t.Errorf("version statistics changed: %+v", again)
		}
		n, samples, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, v.VersionID, dataset.SampleQuery{Limit: 10, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || len(samples) != 2 || samples[0].Labels[0].Name != "cat" || samples[0].SampleName != "a.jpg" {
			t.Errorf("version samples: %d %+v; want a.jpg still labeled cat", n, samples)
		}
		total, labels, err := e.svc.ListVersionLabels(ctx, datasettest.Project, e.ID, v.VersionID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || labels[0].Name != "cat" || labels[1].Name != "dog" {
			t.Errorf("version labels: %d %v; want cat and dog only", total, labels)
		}
		// The dataset's own list has moved on.
		n, _, err = e.Core.ListSamples(ctx, datasettest.Project, e.ID, dataset.SampleQuery{Limit: 10, LabelName: "bird"})
		if err != nil || n != 1 {
			t.Errorf("dataset samples labeled bird: %d %v", n, err)
		}
	})
}

func TestPublishDetectionVersionWritesVOC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newVersionEnv(t, db.Engine, dataset.TypeObjectDetection, true)
		e.PutFile("in/sized.png", datasettest.PNGImage(t, 40, 30))
		e.Write([]dataset.SampleInput{
			{Source: "obs://data/in/street/1.jpg", Labels: []annotation.Label{datasettest.Box("car", 1, 2, 100, 80), datasettest.Box("bus", 10, 10, 50, 50)},
				Metadata: map[string]any{annotation.MetaSize: []any{640.0, 480.0, 3.0}}},
			{Source: "obs://data/in/sized.png", Labels: []annotation.Label{datasettest.Box("car", 0, 0, 20, 20)}},
			{Source: "obs://data/in/empty.jpg"},
		}, dataset.WriteOptions{})
		v := e.publish(VersionRequest{TrainEvaluateSampleRatio: ptrRatio("1")})
		lines := datasettest.ByID(datasettest.ParseLines(t, e.Read(v.ManifestPath)))
		dir := "/data/work/ds-" + e.ID + "/annotation/V001/"

		l := lines[dataset.SampleID("obs://data/in/street/1.jpg")]
		anns := l.Annotations()
		if len(anns) != 1 || anns[0]["type"] != "modelarts/object_detection" || anns[0]["annotation-format"] != "PASCAL VOC" {
			t.Fatalf("detection line %v: want one object_detection annotation in PASCAL VOC", l)
		}
		wantLoc := "obs:/" + dir + "annotation/street/1.xml"
		if anns[0]["annotation-loc"] != wantLoc || l["usage"] != "TRAIN" {
			t.Errorf("annotation-loc %v usage %v; want %s, TRAIN", anns[0]["annotation-loc"], l["usage"], wantLoc)
		}
		doc, err := formats.ParseVOC(bytes.NewReader(e.Read(wantLoc)))
		if err != nil {
			t.Fatal(err)
		}
		if doc.Filename != "1.jpg" || doc.Size.Width != 640 || doc.Size.Height != 480 || len(doc.Objects) != 2 ||
			doc.Objects[0].Name != "car" || *doc.Objects[0].BndBox != (formats.BndBox{XMin: 1, YMin: 2, XMax: 100, YMax: 80}) {
			t.Errorf("VOC file: %+v", doc)
		}
		// No @modelarts:size: the image's header gives it.
		sized := lines[dataset.SampleID("obs://data/in/sized.png")].Annotations()
		doc, err = formats.ParseVOC(bytes.NewReader(e.Read(sized[0]["annotation-loc"].(string))))
		if err != nil {
			t.Fatal(err)
		}
		if doc.Size.Width != 40 || doc.Size.Height != 30 {
			t.Errorf("size from the PNG header: %+v", doc.Size)
		}
		if anns := lines[dataset.SampleID("obs://data/in/empty.jpg")].Annotations(); len(anns) != 0 {
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
		n, samples, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, v.VersionID, dataset.SampleQuery{Limit: 10, LabelName: "bus"})
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
		e := newVersionEnv(t, db.Engine, dataset.TypeTextClassification, true)
		e.Write([]dataset.SampleInput{
			{Source: "content://I like this product", SampleType: annotation.SampleText,
				Labels: []annotation.Label{{Name: "positive", Type: annotation.TypeTextClassification}}},
			{Source: "content://Awful", SampleType: annotation.SampleText},
		}, dataset.WriteOptions{})
		v := e.publish(VersionRequest{})
		lines := datasettest.ParseLines(t, e.Read(v.ManifestPath))
		if len(lines) != 2 {
			t.Fatalf("%d lines", len(lines))
		}
		l := datasettest.ByID(lines)[dataset.SampleID("content://I like this product")]
		anns := l.Annotations()
		if l["source"] != "content://I like this product" || l["sample-type"] != 1.0 || len(anns) != 1 ||
			anns[0]["type"] != "modelarts/text_classification" || anns[0]["name"] != "positive" {
			t.Errorf("text line %v", l)
		}
		_, samples, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, v.VersionID, dataset.SampleQuery{Limit: 10, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(samples) != 2 || samples[0].SampleData[0] != "I like this product" || samples[1].SampleStatus != "UN_ANNOTATION" {
			t.Errorf("text samples %+v", samples)
		}

		// Named entities keep their offsets.
		ner := newVersionEnv(t, db.Engine, dataset.TypeNamedEntity, true)
		ner.Write([]dataset.SampleInput{{Source: "content://Michael Jordan plays", SampleType: annotation.SampleText,
			Labels: []annotation.Label{{Name: "Person", Type: annotation.TypeNamedEntity,
				Property: map[string]any{annotation.PropStartIndex: 0.0, annotation.PropEndIndex: 14.0}}}}}, dataset.WriteOptions{})
		nv := ner.publish(VersionRequest{})
		a := datasettest.ParseLines(t, ner.Read(nv.ManifestPath))[0].Annotations()[0]
		p := a["property"].(map[string]any)
		if a["type"] != "modelarts/text_entity" || p[annotation.PropStartIndex] != 0.0 || p[annotation.PropEndIndex] != 14.0 {
			t.Errorf("entity annotation %v", a)
		}
	})
}

func TestVersionSplitRatio(t *testing.T) {
	e := newVersionEnv(t, store.SQLite, dataset.TypeImageClassification, true)
	var in []dataset.SampleInput
	for i := range 1000 {
		in = append(in, dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%04d.jpg", i), Labels: datasettest.ClsLabels("a")})
	}
	in[0].Usage = "EVAL"
	e.Write(in, dataset.WriteOptions{})
	usages := func(v *Version) map[string]string {
		out := map[string]string{}
		for id, l := range datasettest.ByID(datasettest.ParseLines(t, e.Read(v.ManifestPath))) {
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
	first := dataset.SampleID("obs://data/in/0000.jpg")
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
		e := newVersionEnv(t, db.Engine, dataset.TypeObjectDetection, true)
		e.PutFile("in/a.jpg", []byte("jpeg"))
		e.Write([]dataset.SampleInput{{Source: "obs://data/in/a.jpg", Labels: []annotation.Label{datasettest.Box("car", 0, 0, 5, 5)},
			Metadata: map[string]any{annotation.MetaSize: []any{10.0, 10.0}}}, {Source: "obs://data/in/gone.jpg"}}, dataset.WriteOptions{})
		v1 := e.publish(VersionRequest{})
		// gone.jpg has no file to copy: it is left out, and the version says so.
		v2 := e.publish(VersionRequest{ExportImages: ptrBool(true)})
		if v1.TotalSampleCount != 2 || v2.TotalSampleCount != 1 || !strings.Contains(v2.Message, "1 sample(s) left out") ||
			!strings.Contains(v2.Message, "gone.jpg") {
			t.Errorf("V001 %d samples, V002 %d samples and message %q", v1.TotalSampleCount, v2.TotalSampleCount, v2.Message)
		}
		dir := strings.TrimPrefix(strings.TrimSuffix(v2.ManifestPath, "V002.manifest"), "/data/")
		if got := e.Keys("data", dir); len(got) != 3 { // manifest, VOC file, copy of the image
			t.Fatalf("version files %v, want the manifest, a VOC file and the image's copy", got)
		}
		if !e.Exists("/data/" + dir + "data/a.jpg") {
			t.Errorf("export_images did not copy the image to data/")
		}
		plan, err := e.svc.PlanDeleteVersion(ctx, datasettest.Project, e.ID, v2.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Files != (obs.Path{Bucket: "data", Key: dir}) {
			t.Errorf("delete plan files %v, want data/%s", plan.Files, dir)
		}
		if err := e.svc.CommitDeleteVersion(ctx, plan); err != nil {
			t.Fatal(err)
		}
		if got := e.Keys("data", dir); len(got) != 0 {
			t.Errorf("files left after deleting the version: %v", got)
		}
		if !e.Exists(v1.ManifestPath) {
			t.Errorf("deleting V002 removed V001's manifest")
		}
		if !e.Exists("/data/in/a.jpg") {
			t.Errorf("deleting a version removed a sample's file")
		}
		var count int
		var cur string
		if err := e.DB.QueryRow(`SELECT dataset_version_count, current_version_id FROM datasets WHERE id=$1`, e.ID).Scan(&count, &cur); err != nil {
			t.Fatal(err)
		}
		if count != 1 || cur != v1.VersionID {
			t.Errorf("after delete: %d versions, current %s; want 1, V001 (%s)", count, cur, v1.VersionID)
		}
		if _, err := e.svc.GetVersion(ctx, datasettest.Project, e.ID, v2.VersionID); !datasettest.HasCode(err, dataset.CodeVersionNotFound) {
			t.Errorf("deleted version: %v, want %s", err, dataset.CodeVersionNotFound)
		}
	})
}

func ptrBool(b bool) *bool { return &b }

// Paging a version's sample list seeks through the line index: pages at
// any depth, in both orders, match the manifest.
func TestVersionSampleListPaging(t *testing.T) {
	ctx := context.Background()
	e := newVersionEnv(t, store.SQLite, dataset.TypeImageClassification, true)
	var in []dataset.SampleInput
	for i := range 2500 {
		label := "even"
		if i%2 == 1 {
			label = "odd"
		}
		in = append(in, dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%04d.jpg", i), Labels: datasettest.ClsLabels(label)})
	}
	e.Write(in, dataset.WriteOptions{})
	v := e.publish(VersionRequest{})
	name := func(i int) string { return fmt.Sprintf("%04d.jpg", i) }
	for _, c := range []struct {
		q     dataset.SampleQuery
		first string
		n     int64
	}{
		{dataset.SampleQuery{Offset: 0, Limit: 5, Asc: true}, name(0), 2500},
		{dataset.SampleQuery{Offset: 1998, Limit: 5, Asc: true}, name(1998), 2500},
		{dataset.SampleQuery{Offset: 0, Limit: 5}, name(2499), 2500},
		{dataset.SampleQuery{Offset: 1500, Limit: 5}, name(999), 2500},
		{dataset.SampleQuery{Offset: 1000, Limit: 5, Asc: true, LabelName: "odd"}, name(2001), 1250},
		{dataset.SampleQuery{Offset: 3, Limit: 5, LabelName: "even"}, name(2492), 1250},
	} {
		n, page, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, v.VersionID, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if n != c.n || len(page) != 5 || page[0].SampleName != c.first {
			t.Errorf("%+v: count %d, %d samples, first %v; want %d, 5, %s", c.q, n, len(page), page[0].SampleName, c.n, c.first)
		}
	}
	n, page, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, v.VersionID, dataset.SampleQuery{Offset: 2498, Limit: 10, Asc: true})
	if err != nil || n != 2500 || len(page) != 2 {
		t.Errorf("last page: %d %d %v", n, len(page), err)
	}
	if _, _, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, v.VersionID, dataset.SampleQuery{Limit: 5, Marker: "x"}); !datasettest.HasCode(err, dataset.CodeInvalid) {
		t.Errorf("marker on a version: %v", err)
	}
	if _, _, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, "nope", dataset.SampleQuery{Limit: 5}); !datasettest.HasCode(err, dataset.CodeVersionNotFound) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestPlanVersionRejects(t *testing.T) {
	ctx := context.Background()
	e := newVersionEnv(t, store.SQLite, dataset.TypeImageClassification, false)
	e.Write([]dataset.SampleInput{{Source: "obs://data/in/a.jpg", Labels: datasettest.ClsLabels("a")}}, dataset.WriteOptions{})
	for _, c := range []struct {
		name  string
		req   VersionRequest
		code  string
		field string
	}{
		{"description-forbidden", VersionRequest{Description: "a<b"}, dataset.CodeInvalid, "description"},
		{"description-long", VersionRequest{Description: strings.Repeat("x", 257)}, dataset.CodeInvalid, "description"},
		{"ratio-above-one", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("1.5")}, dataset.CodeInvalid, "train_evaluate_sample_ratio"},
		{"ratio-not-number", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("most")}, dataset.CodeInvalid, "train_evaluate_sample_ratio"},
		{"ratio-negative", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("-0.1")}, dataset.CodeInvalid, "train_evaluate_sample_ratio"},
		{"ratio-one-labeled", VersionRequest{TrainEvaluateSampleRatio: ptrRatio("0.5")}, CodeSplitRules, "labeled"},
		{"format-unknown", VersionRequest{VersionFormat: "XML"}, dataset.CodeInvalid, "version_format"},
		{"format-of-tables", VersionRequest{VersionFormat: "CSV"}, dataset.CodeInvalid, "version_format"},
		{"column-header", VersionRequest{WithColumnHeader: ptrBool(true)}, dataset.CodeInvalid, "with_column_header"},
		{"task-type", VersionRequest{LabelTaskType: new(1)}, dataset.CodeInvalid, "label_task_type"},
		{"name-chars", VersionRequest{VersionName: "v 1"}, dataset.CodeInvalid, "version_name"},
		{"name-long", VersionRequest{VersionName: strings.Repeat("v", 33)}, dataset.CodeInvalid, "version_name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.PlanVersion(ctx, datasettest.Project, e.ID, &c.req)
			de, ok := dataset.AsError(err)
			if !ok || de.Code != c.code || !strings.Contains(de.Msg, c.field) {
				t.Errorf("got %v; want %s naming %s", err, c.code, c.field)
			}
		})
	}
	// Splitting is for classification and detection kinds only.
	ner := newVersionEnv(t, store.SQLite, dataset.TypeNamedEntity, false)
	ner.Write([]dataset.SampleInput{{Source: "content://x", SampleType: annotation.SampleText}}, dataset.WriteOptions{})
	if _, err := ner.svc.PlanVersion(ctx, datasettest.Project, ner.ID, &VersionRequest{TrainEvaluateSampleRatio: ptrRatio("0.8")}); !datasettest.HasCode(err, dataset.CodeInvalid) {
		t.Errorf("split of a named-entity dataset: %v", err)
	}
	empty := newVersionEnv(t, store.SQLite, dataset.TypeImageClassification, false)
	if _, err := empty.svc.PlanVersion(ctx, datasettest.Project, empty.ID, &VersionRequest{}); !datasettest.HasCode(err, CodeVersionEmpty) {
		t.Errorf("empty dataset: %v", err)
	}
	if _, err := e.svc.PlanVersion(ctx, datasettest.Project, "missing", &VersionRequest{}); !datasettest.HasCode(err, dataset.CodeDatasetNotFound) {
		t.Errorf("unknown dataset: %v", err)
	}

	// The task manager is not running: the first version stays creating,
	// and a second one waits its turn; a taken name is refused.
	plan, err := e.svc.PlanVersion(ctx, datasettest.Project, e.ID, &VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	vid, err := e.svc.CommitVersion(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	plan2, err := e.svc.PlanVersion(ctx, datasettest.Project, e.ID, &VersionRequest{VersionName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CommitVersion(ctx, plan2); !datasettest.HasCode(err, CodePublishing) {
		t.Errorf("second version while publishing: %v, want %s", err, CodePublishing)
	}
	if _, err := e.svc.PlanDeleteVersion(ctx, datasettest.Project, e.ID, vid); !datasettest.HasCode(err, CodeVersionState) {
		t.Errorf("deleting a version being published: %v, want %s", err, CodeVersionState)
	}
	if _, err := e.DB.Exec(`UPDATE dataset_versions SET status=1 WHERE id=$1`, vid); err != nil {
		t.Fatal(err)
	}
	same, err := e.svc.PlanVersion(ctx, datasettest.Project, e.ID, &VersionRequest{VersionName: "V001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CommitVersion(ctx, same); !datasettest.HasCode(err, CodeVersionExists) {
		t.Errorf("taken name: %v, want %s", err, CodeVersionExists)
	}
}

// A publication resumed from a checkpoint counts each sample once: the
// statistics travel in the checkpoint with the parts.
func TestPublishResumesWithStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newVersionEnvParts(t, db.Engine, dataset.TypeImageClassification, false, 10)
		var in []dataset.SampleInput
		for i := range 25 {
			s := dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i)}
			if i >= 10 { // the first part has no label: its checkpoint carries empty counts
				s.Labels = datasettest.ClsLabels("x")
			}
			in = append(in, s)
		}
		e.Write(in, dataset.WriteOptions{})
		plan, err := e.svc.PlanVersion(ctx, datasettest.Project, e.ID, &VersionRequest{})
		if err != nil {
			t.Fatal(err)
		}
		vid, err := e.svc.CommitVersion(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		var taskID string
		if err := e.DB.QueryRow(`SELECT task_id FROM dataset_versions WHERE id=$1`, vid).Scan(&taskID); err != nil {
			t.Fatal(err)
		}
		task, err := e.Tasks.Get(ctx, taskID)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		first := &datasettest.ProgressRecorder{StopAt: 2, Stop: cancel}
		if err := e.svc.runPublish(rctx, task, first); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v", err)
		}
		cancel()
		v, err := e.svc.GetVersion(ctx, datasettest.Project, e.ID, vid)
		if err != nil || v.Status != VersionCreating {
			t.Fatalf("after the interruption: %+v %v; want the version still creating", v, err)
		}
		task.Cursor = first.Checkpoints[0]
		if err := e.svc.runPublish(ctx, task, &datasettest.ProgressRecorder{}); err != nil {
			t.Fatalf("resumed run: %v", err)
		}
		v, err = e.svc.GetVersion(ctx, datasettest.Project, e.ID, vid)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != VersionNormal || v.TotalSampleCount != 25 || v.AnnotatedSampleCount != 15 || v.LabelStats[0].SampleCount != 15 ||
			v.DataStatistics["sample_usage"].(map[string]int64)["TRAIN"] != 15 {
			t.Errorf("resumed version: %+v", v)
		}
		if n := len(datasettest.ParseLines(t, e.Read(v.ManifestPath))); n != 25 {
			t.Errorf("manifest has %d lines, want 25", n)
		}
	})
}
