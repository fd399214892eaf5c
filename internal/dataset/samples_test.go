package dataset_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

const project = "p1"

// newDataset opens a service on db with a local object store and creates a
// dataset of the type.
func newDataset(t testing.TB, db *store.DB, typ int) (*dataset.Service, string) {
	t.Helper()
	objects, err := obs.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objects.Close() })
	if err := objects.CreateBucket(context.Background(), "data"); err != nil {
		t.Fatal(err)
	}
	svc, err := dataset.New(dataset.Options{DB: db, Objects: objects})
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	plan, err := svc.PlanCreate(dataset.Scope{ProjectID: project, WorkspaceID: "0"}, &dataset.CreateRequest{
		DatasetName: "ds", DatasetType: &typ, WorkPath: "/data/work/", WorkPathType: new(int),
		DataSources: []dataset.DataSource{{DataPath: "/data/in/"}}, ImportData: new(bool), Managed: new(bool),
	})
	_ = one
	if err != nil {
		t.Fatalf("plan dataset: %v", err)
	}
	id, err := svc.CommitCreate(context.Background(), plan, nil)
	if err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	return svc, id
}

func cls(names ...string) []annotation.Label {
	out := make([]annotation.Label, len(names))
	for i, n := range names {
		out[i] = annotation.Label{Name: n}
	}
	return out
}

func TestSamplesCountersFollowEveryWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := newDataset(t, db, dataset.TypeImageClassification)
		var in []dataset.SampleInput
		for i := range 10 {
			var labels []annotation.Label
			switch {
			case i < 4:
				labels = cls("cat")
			case i < 6:
				labels = cls("dog", "cat")
			}
			in = append(in, dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%02d.jpg", i), Labels: labels, SampleType: 0, Size: 10})
		}
		res, err := svc.WriteSamples(ctx, project, id, in, dataset.WriteOptions{})
		if err != nil {
			t.Fatalf("write samples: %v", err)
		}
		for i, r := range res {
			if r.Err != nil || !r.Created {
				t.Fatalf("sample %d: created=%v err=%v", i, r.Created, r.Err)
			}
		}
		// The same sources again are the same samples, not duplicates.
		res, err = svc.WriteSamples(ctx, project, id, in[:3], dataset.WriteOptions{KeepExisting: true})
		if err != nil || res[0].Created {
			t.Fatalf("re-adding a source created a sample: %+v %v", res, err)
		}
		checkStats(t, svc, id, map[string]int64{"total": 10, "manual_annotation": 6, "un_annotation": 4},
			map[string][2]int64{"cat": {6, 6}, "dog": {2, 2}})

		// Relabel: sample 0 cat → dog; sample 4 loses its labels.
		errs, err := svc.UpdateSampleLabels(ctx, project, id, []dataset.LabelUpdate{
			{SampleID: dataset.SampleID(in[0].Source), Labels: cls("dog")},
			{SampleID: dataset.SampleID(in[4].Source)},
			{SampleID: "nope"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if errs[0] != nil || errs[1] != nil || errs[2] == nil {
			t.Fatalf("per-item results: %v", errs)
		}
		checkStats(t, svc, id, map[string]int64{"total": 10, "manual_annotation": 5, "un_annotation": 5},
			map[string][2]int64{"cat": {4, 4}, "dog": {2, 2}})

		// Lists: by label (newest first), by state, paging by offset and marker.
		n, page, err := svc.ListSamples(ctx, project, id, dataset.SampleQuery{LabelName: "cat", Limit: 2})
		if err != nil || n != 4 || len(page) != 2 || page[0].SampleName != "05.jpg" || page[1].SampleName != "03.jpg" {
			t.Fatalf("list by label: n=%d page=%v err=%v", n, names(page), err)
		}
		n, page2, err := svc.ListSamples(ctx, project, id, dataset.SampleQuery{LabelName: "cat", Limit: 2, Marker: page[1].SampleID})
		if err != nil || n != 4 || len(page2) != 2 || page2[0].SampleName != "02.jpg" || page2[1].SampleName != "01.jpg" {
			t.Fatalf("list by label after marker: n=%d page=%v err=%v", n, names(page2), err)
		}
		unl := dataset.StateUnlabeled
		n, page, err = svc.ListSamples(ctx, project, id, dataset.SampleQuery{State: &unl, Limit: 10, Offset: 1, Asc: true})
		if err != nil || n != 5 || len(page) != 4 || page[0].SampleName != "06.jpg" {
			t.Fatalf("list unlabeled asc offset 1: n=%d page=%v err=%v", n, names(page), err)
		}
		n, page, err = svc.ListSamples(ctx, project, id, dataset.SampleQuery{Limit: 10, Conditions: []dataset.SearchCondition{
			{LabelList: &dataset.SearchLabels{Op: "AND", Labels: []dataset.SearchLabel{{Name: "cat"}, {Name: "dog"}}}},
		}})
		if err != nil || n != 1 || len(page) != 1 || page[0].SampleName != "05.jpg" {
			t.Fatalf("cat AND dog: n=%d page=%v err=%v", n, names(page), err)
		}
		n, _, err = svc.ListSamples(ctx, project, id, dataset.SampleQuery{Limit: 10, Conditions: []dataset.SearchCondition{{SampleName: "0"}}})
		if err != nil || n != 10 {
			t.Fatalf("name search: n=%d err=%v", n, err)
		}

		// Delete two samples (one labeled cat+dog, one unlabeled).
		plan, errs, err := svc.PlanDeleteSamples(ctx, project, id, []string{dataset.SampleID(in[5].Source), dataset.SampleID(in[9].Source)})
		if err != nil || errs[0] != nil || errs[1] != nil || len(plan.Sources) != 2 {
			t.Fatalf("plan delete: %v %v", errs, err)
		}
		if err := svc.CommitDeleteSamples(ctx, plan); err != nil {
			t.Fatal(err)
		}
		checkStats(t, svc, id, map[string]int64{"total": 8, "manual_annotation": 4, "un_annotation": 4},
			map[string][2]int64{"cat": {3, 3}, "dog": {1, 1}})
	})
}

func TestSampleLabelValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := newDataset(t, db, dataset.TypeObjectDetection)
		box := func(f any) []annotation.Label {
			return []annotation.Label{{Name: "car", Type: 1, Property: map[string]any{"@modelarts:shape": "bndbox", "@modelarts:feature": f}}}
		}
		good := []any{[]any{1.0, 2.0}, []any{30.0, 40.0}}
		bad := []any{[]any{30.0, 2.0}, []any{1.0, 40.0}}
		res, err := svc.WriteSamples(ctx, project, id, []dataset.SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: box(good)},
			{Source: "obs://data/in/b.jpg", Labels: box(bad)},
			{Source: "obs://data/in/c.jpg", Labels: cls("cat")}, // classification label in a detection dataset: type defaults to 1, no box
		}, dataset.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err != nil || res[1].Err == nil || res[2].Err == nil {
			t.Fatalf("want only the first sample accepted: %v / %v / %v", res[0].Err, res[1].Err, res[2].Err)
		}
		checkStats(t, svc, id, map[string]int64{"total": 1, "manual_annotation": 1}, map[string][2]int64{"car": {1, 1}})
	})
}

func names(ss []*dataset.Sample) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.SampleName)
	}
	return out
}

// checkStats compares sample counters and label (annotations, samples)
// counters with the truth.
func checkStats(t *testing.T, svc *dataset.Service, id string, samples map[string]int64, labels map[string][2]int64) {
	t.Helper()
	st, err := svc.SampleStats(context.Background(), project, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range samples {
		if st.SampleStats[k] != v {
			t.Errorf("sample_stats[%s] = %d, want %d (all: %v)", k, st.SampleStats[k], v, st.SampleStats)
		}
	}
	got := map[string][2]int64{}
	for _, l := range st.LabelStats {
		got[l.Name] = [2]int64{l.Count, l.SampleCount}
	}
	for k, v := range labels {
		if got[k] != v {
			t.Errorf("label %s (count, sample_count) = %v, want %v", k, got[k], v)
		}
	}
}

func TestLabelChangesReachSamples(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := newDataset(t, db, dataset.TypeImageClassification)
		in := []dataset.SampleInput{
			{Source: "obs://data/in/1.jpg", Labels: cls("cat")},
			{Source: "obs://data/in/2.jpg", Labels: cls("cat", "dog")},
			{Source: "obs://data/in/3.jpg", Labels: cls("dog")},
			{Source: "obs://data/in/4.jpg", Labels: cls("bird")},
		}
		if _, err := svc.WriteSamples(ctx, project, id, in, dataset.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Rename dog → hound: samples follow, counters stay.
		res, err := svc.UpdateLabels(ctx, project, id, []dataset.Label{{Name: "dog", Property: map[string]string{"@modelarts:rename_to": "hound"}}})
		if err != nil || !res.Success {
			t.Fatalf("rename: %+v %v", res, err)
		}
		s3, err := svc.GetSample(ctx, project, id, dataset.SampleID(in[2].Source), nil)
		if err != nil || len(s3.Labels) != 1 || s3.Labels[0].Name != "hound" {
			t.Fatalf("renamed label on sample: %+v %v", s3, err)
		}
		n, _, _ := svc.ListSamples(ctx, project, id, dataset.SampleQuery{LabelName: "hound", Limit: 10})
		if n != 2 {
			t.Errorf("samples with hound: %d, want 2", n)
		}
		// Policy 0 on cat: the label leaves both samples; 1.jpg is unlabeled.
		if res, err = svc.DeleteLabels(ctx, project, id, []dataset.Label{{Name: "cat"}}, dataset.DeleteLabelOnly); err != nil || !res.Success {
			t.Fatalf("delete cat: %+v %v", res, err)
		}
		checkStats(t, svc, id, map[string]int64{"total": 4, "manual_annotation": 3, "un_annotation": 1},
			map[string][2]int64{"hound": {2, 2}, "bird": {1, 1}})
		// Deleting hound with its samples: 3.jpg carried only hound and goes;
		// 2.jpg (now hound only too) goes; sources are returned.
		sources, err := svc.DeleteLabelWithSamples(ctx, project, id, "hound", nil)
		if err != nil || len(sources) != 2 {
			t.Fatalf("delete hound with samples: %v %v", sources, err)
		}
		checkStats(t, svc, id, map[string]int64{"total": 2, "manual_annotation": 1, "un_annotation": 1},
			map[string][2]int64{"bird": {1, 1}})
		if _, err := svc.GetSample(ctx, project, id, dataset.SampleID(in[2].Source), nil); err == nil {
			t.Error("a sample with only the deleted label survived")
		}
	})
}

// TestPreparedSamplesAreCheckedForTheDataset: samples prepared outside the
// transaction (an import's workers) are written as WriteSamples writes them,
// and a preparation for another dataset type or other options is not
// trusted: the write checks the inputs again for the dataset it locks.
func TestPreparedSamplesAreCheckedForTheDataset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := newDataset(t, db, dataset.TypeObjectDetection)
		in := []dataset.SampleInput{
			{Source: "obs://data/in/a.jpg", Labels: []annotation.Label{{Name: "car", Type: 1, Property: map[string]any{
				"@modelarts:shape": "bndbox", "@modelarts:feature": []any{[]any{1.0, 2.0}, []any{30.0, 40.0}}}}}},
			{Source: "obs://data/in/b.jpg", Labels: cls("cat")}, // no box: invalid in a detection dataset
			{Source: "obs://data/in/a.jpg"},                     // repeats the first
		}
		cases := []struct {
			name     string
			prepared *dataset.PreparedSamples
		}{
			{"prepared for the dataset", dataset.PrepareSamples(dataset.TypeObjectDetection, in, dataset.WriteOptions{})},
			// As a classification dataset, the second would pass.
			{"prepared for another type", dataset.PrepareSamples(dataset.TypeImageClassification, in, dataset.WriteOptions{})},
			{"prepared with other options", dataset.PrepareSamples(dataset.TypeObjectDetection, in, dataset.WriteOptions{Unconfirmed: true})},
		}
		for _, c := range cases {
			var res []dataset.WriteResult
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				res, err = svc.WritePreparedTx(ctx, tx, project, id, c.prepared, in, dataset.WriteOptions{})
				return err
			})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if res[0].Err != nil || res[1].Err == nil || res[2].Err == nil {
				t.Fatalf("%s: want only the first sample written: %v / %v / %v", c.name, res[0].Err, res[1].Err, res[2].Err)
			}
			if res[0].SampleID != dataset.SampleID(in[0].Source) {
				t.Errorf("%s: sample id %s, want the md5 of the source", c.name, res[0].SampleID)
			}
			// Written as labeled (the options of the write), not unconfirmed.
			checkStats(t, svc, id, map[string]int64{"total": 1, "manual_annotation": 1}, map[string][2]int64{"car": {1, 1}})
		}
	})
}

// TestGatheredSamples: a preparation gathered in another order is written
// without its inputs, in the picks' order (messages name the write's
// positions), creating its labels in the order of the preparations it came
// from; written to a dataset of another type, it is refused whole.
func TestGatheredSamples(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := newDataset(t, db, dataset.TypeImageClassification)
		first := []dataset.SampleInput{{Source: "obs://data/g/1.jpg", Labels: cls("zebra")}, {Source: "obs://data/g/2.jpg", Labels: cls("")}}
		second := []dataset.SampleInput{{Source: "obs://data/g/3.jpg", Labels: cls("ant")}}
		parts := []*dataset.PreparedSamples{
			dataset.PrepareSamples(dataset.TypeImageClassification, first, dataset.WriteOptions{}),
			dataset.PrepareSamples(dataset.TypeImageClassification, second, dataset.WriteOptions{}),
		}
		picks := []dataset.Pick{{Part: parts[1], Index: 0}, {Part: parts[0], Index: 1}, {Part: parts[0], Index: 0}}
		gathered := dataset.Gather(picks, parts)
		var res []dataset.WriteResult
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			res, err = svc.WritePreparedTx(ctx, tx, project, id, gathered, nil, dataset.WriteOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 || res[0].Err != nil || res[2].Err != nil || res[1].Err == nil {
			t.Fatalf("want the second pick refused (empty label name), the others written: %+v", res)
		}
		if msg := res[1].Err.Error(); !strings.Contains(msg, "samples[1]") {
			t.Errorf("the refused pick is named %q, want samples[1]", msg)
		}
		if res[0].SampleID != dataset.SampleID(second[0].Source) || res[2].SampleID != dataset.SampleID(first[0].Source) {
			t.Errorf("results not in the picks' order: %+v", res)
		}
		_, labels, err := svc.ListLabels(ctx, project, id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) != 2 || labels[0].Name != "zebra" || labels[1].Name != "ant" {
			t.Errorf("labels %+v, want zebra then ant (the preparations' order)", labels)
		}
		detection := dataset.Gather([]dataset.Pick{{Part: dataset.PrepareSamples(dataset.TypeObjectDetection, second, dataset.WriteOptions{}), Index: 0}}, nil)
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := svc.WritePreparedTx(ctx, tx, project, id, detection, nil, dataset.WriteOptions{})
			return err
		})
		if err == nil {
			t.Error("a preparation for another dataset type was written without its inputs")
		}
		checkStats(t, svc, id, map[string]int64{"total": 2, "manual_annotation": 2}, map[string][2]int64{"zebra": {1, 1}, "ant": {1, 1}})
	})
}
