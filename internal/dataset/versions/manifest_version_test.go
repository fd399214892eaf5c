package versions

import (
	"bytes"
	"context"
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

// A version made of a manifest (a processing task's output) holds the
// manifest's samples, the boxes of its VOC files included, with the counts
// the request gives; the dataset's own samples are not in it.
func TestManifestVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newVersionEnv(t, db.Engine, dataset.TypeObjectDetection, true)
		e.Write([]dataset.SampleInput{{Source: "obs://data/in/own.jpg"}}, dataset.WriteOptions{})
		e.PutFile("proc/Data/a.png", datasettest.PNGImage(t, 40, 30))
		e.PutFile("proc/Data/b.png", datasettest.PNGImage(t, 40, 30))
		voc, err := formats.VOCFromLabels("a.png", 40, 30, 3, []annotation.Label{datasettest.Box("car", 1, 2, 20, 25)})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := formats.WriteVOC(&buf, voc); err != nil {
			t.Fatal(err)
		}
		e.PutFile("proc/Data/a.xml", buf.Bytes())
		var m bytes.Buffer
		w := formats.NewWriter(&m)
		for _, rec := range []formats.Record{
			{Source: "obs://data/proc/Data/a.png", ID: "a", AnnotationLocs: []formats.AnnotationLoc{{Loc: "obs://data/proc/Data/a.xml", Type: annotation.TypeObjectDetection}}},
			{Source: "obs://data/proc/Data/b.png", ID: "b"},
		} {
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		e.PutFile("proc/output.manifest", m.Bytes())

		ctx := context.Background()
		plan, err := e.svc.PlanManifestVersion(ctx, datasettest.Project, e.ID, ManifestVersionRequest{Name: "processed",
			Manifest: obs.Path{Bucket: "data", Key: "proc/output.manifest"}, Lines: 2, Added: 1, Deleted: 3})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Name() != "processed" || len(plan.Reads) != 1 {
			t.Fatalf("plan: %s, reads %v", plan.Name(), plan.Reads)
		}
		if err := e.svc.CheckVersionName(ctx, datasettest.Project, e.ID, "processed"); err != nil {
			t.Fatalf("a free name: %v", err)
		}
		vid, err := e.svc.CommitVersion(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		e.WaitPublished(vid)
		if err := e.svc.CheckVersionName(ctx, datasettest.Project, e.ID, "processed"); !datasettest.HasCode(err, CodeVersionExists) {
			t.Errorf("a taken name: %v", err)
		}
		v, err := e.svc.GetVersion(ctx, datasettest.Project, e.ID, vid)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != VersionNormal || v.TotalSampleCount != 2 || v.AnnotatedSampleCount != 1 || v.AddSampleCount != 1 ||
			v.DeletedSampleCount != 3 || v.ModifiedSampleCount != 0 || len(v.LabelStats) != 1 || v.LabelStats[0].Count != 1 {
			t.Fatalf("version: %+v", v)
		}
		n, samples, err := e.svc.ListVersionSamples(ctx, datasettest.Project, e.ID, vid, dataset.SampleQuery{Limit: 10})
		if err != nil || n != 2 {
			t.Fatalf("samples: %d, %v", n, err)
		}
		for _, s := range samples {
			if strings.Contains(s.Stored, "own.jpg") {
				t.Errorf("the dataset's own sample is in the version: %v", s.Stored)
			}
			if strings.HasSuffix(s.Stored, "a.png") && (len(s.Labels) != 1 || s.Labels[0].Name != "car") {
				t.Errorf("a.png lost its box: %+v", s.Labels)
			}
		}
	})
}
