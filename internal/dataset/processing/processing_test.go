package processing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// procEnv is the dataset core with the versions and processing rooms over
// a real database and object store.
type procEnv struct {
	*datasettest.Env
	svc *Service
}

// meanColour is a feature function for tests: the mean colour of each
// quadrant, so that images of one colour are alike and others not.
func meanColour(img image.Image) []float32 {
	b := img.Bounds()
	out := make([]float32, 12)
	n := make([]float32, 4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			q := 0
			if x-b.Min.X >= b.Dx()/2 {
				q++
			}
			if y-b.Min.Y >= b.Dy()/2 {
				q += 2
			}
			r, g, bl, _ := img.At(x, y).RGBA()
			out[3*q], out[3*q+1], out[3*q+2] = out[3*q]+float32(r>>8), out[3*q+1]+float32(g>>8), out[3*q+2]+float32(bl>>8)
			n[q]++
		}
	}
	for i := range out {
		out[i] /= n[i/3]
	}
	return out
}

func newProcEnv(t *testing.T, engine store.Engine, features bool) *procEnv {
	t.Helper()
	env := datasettest.NewEnv(t, engine, dataset.TypeImageClassification)
	vs, err := versions.New(versions.Options{Datasets: env.Core, DB: env.DB, Objects: env.Objects, Tasks: env.Tasks})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Datasets: env.Core, Versions: vs, DB: env.DB, Objects: env.Objects, Tasks: env.Tasks, BatchSize: 3, Workers: 2}
	if features {
		opts.Features = meanColour
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &procEnv{Env: env, svc: svc}
}

// pngOf is a w×h PNG: left half c1, right half c2.
func pngOf(t *testing.T, w, h int, c1, c2 color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := c1
			if x >= w/2 {
				c = c2
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func request(name, template string, op OperatorParam, source string) *TaskRequest {
	return &TaskRequest{Name: name, CreateVersion: new(true),
		Inputs:   []DataSource{{Type: SourceOBS, Source: source}},
		WorkPath: &WorkPath{Type: SourceOBS, Path: "obs://out/" + name + "/"},
		Template: &TemplateParam{ID: template, OperatorParams: []OperatorParam{op}}}
}

// start plans and commits a task with its first version, and returns the
// version's queued run.
func (e *procEnv) start(req *TaskRequest) (*versionRow, *Plan) {
	e.T.Helper()
	ctx := context.Background()
	plan, err := e.svc.PlanTask(ctx, datasettest.Project, "0", req)
	if err != nil {
		e.T.Fatalf("plan %s: %v", req.Name, err)
	}
	if _, err := e.svc.CommitTask(ctx, plan); err != nil {
		e.T.Fatalf("commit %s: %v", req.Name, err)
	}
	return plan.version, plan
}

// runToEnd runs a version's task in the test's goroutine.
func (e *procEnv) runToEnd(v *versionRow, cursor string) (*versionRow, *datasettest.ProgressRecorder) {
	e.T.Helper()
	ctx := context.Background()
	task, err := e.Tasks.Get(ctx, v.JobID)
	if err != nil {
		e.T.Fatal(err)
	}
	task.Cursor = cursor
	rec := &datasettest.ProgressRecorder{}
	if err := e.svc.runVersion(ctx, task, rec); err != nil {
		e.T.Fatalf("run: %v", err)
	}
	got, err := e.svc.repo.versionByID(ctx, datasettest.Project, v.ID)
	if err != nil {
		e.T.Fatal(err)
	}
	return got, rec
}

// A run interrupted after a batch committed resumes from the last
// checkpoint that committed: the batch whose commit died with the run is
// redone, and every sample is counted and has one result once.
func TestRunResumesFromItsCheckpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newProcEnv(t, db.Engine, false)
		for i := range 10 {
			e.PutFile(fmt.Sprintf("proc/%02d.png", i), pngOf(t, 32, 24, color.RGBA{uint8(20 * i), 80, 40, 255}, color.RGBA{10, uint8(25 * i), 200, 255}))
		}
		v, _ := e.start(request("resume", "sys_data_augmentation", OperatorParam{Name: "Flip", Params: map[string]any{"copies": 1}}, "obs://data/proc/"))
		ctx, cancel := context.WithCancel(context.Background())
		task, err := e.Tasks.Get(ctx, v.JobID)
		if err != nil {
			t.Fatal(err)
		}
		first := &datasettest.ProgressRecorder{StopAt: 2, Stop: cancel}
		if err := e.svc.runVersion(ctx, task, first); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v, want context.Canceled", err)
		}
		cancel()
		mid, err := e.svc.repo.versionByID(context.Background(), datasettest.Project, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if mid.Status != StatusRunning || mid.Counts.Origin != 3 {
			t.Fatalf("after the interruption: status %d, %+v; want running with the first batch of 3", mid.Status, mid.Counts)
		}
		done, _ := e.runToEnd(v, first.Checkpoints[0])
		want := counts{Origin: 10, Unmodified: 10, Added: 10}
		if done.Status != StatusCompleted || done.Counts != want {
			t.Fatalf("after the resumed run: status %d, %+v; want completed with %+v", done.Status, done.Counts, want)
		}
		total, rows, err := e.svc.repo.results(context.Background(), v.ID, -1, 0, 100)
		if err != nil || total != 20 {
			t.Fatalf("results: %d, %v", total, err)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r.NewSource] {
				t.Errorf("%s has two results", r.NewSource)
			}
			seen[r.NewSource] = true
		}
		lines := datasettest.ParseLines(t, e.Read(done.Doc.Output+outputManifest))
		if len(lines) != 20 {
			t.Errorf("output manifest: %d lines, want 20", len(lines))
		}
	})
}

// De-redundancy keeps sample_ratio of the images, the most different;
// cleansing keeps the images like its positive examples. Both compare the
// injected features.
func TestSelectionByFeatures(t *testing.T) {
	e := newProcEnv(t, store.SQLite, true)
	red, blue := color.RGBA{220, 20, 20, 255}, color.RGBA{20, 20, 220, 255}
	for i := range 4 {
		d := uint8(4 * i)
		e.PutFile(fmt.Sprintf("mix/red%d.png", i), pngOf(t, 16, 16, color.RGBA{220 - d, 20 + d, 20, 255}, red))
		e.PutFile(fmt.Sprintf("mix/blue%d.png", i), pngOf(t, 16, 16, color.RGBA{20, 20 + d, 220 - d, 255}, blue))
	}
	e.PutFile("positive/red.png", pngOf(t, 16, 16, red, red))

	v, _ := e.start(request("rrd", "sys_data_selection", OperatorParam{Name: "RRD", Params: map[string]any{"sample_ratio": "0.5"}}, "obs://data/mix/"))
	done, _ := e.runToEnd(v, "")
	if want := (counts{Origin: 8, Unmodified: 4, Deleted: 4}); done.Status != StatusCompleted || done.Counts != want {
		t.Errorf("RRD: status %d, %+v; want %+v", done.Status, done.Counts, want)
	}
	_, kept, _ := e.svc.repo.results(context.Background(), v.ID, PropReserved, 0, 100)
	colours := map[bool]int{}
	for _, r := range kept {
		colours[strings.Contains(r.OriginSource, "red")]++
	}
	if colours[true] == 0 || colours[false] == 0 {
		t.Errorf("RRD kept one colour only: %v", colours)
	}

	v, _ = e.start(request("pcc", "sys_data_cleaning", OperatorParam{Name: "PCC", Params: map[string]any{
		"prototype_sample_path": "obs://data/positive/", "simlarity_threshold": "0.95"}}, "obs://data/mix/"))
	done, _ = e.runToEnd(v, "")
	if want := (counts{Origin: 8, Unmodified: 4, Deleted: 4}); done.Status != StatusCompleted || done.Counts != want {
		t.Errorf("PCC: status %d, %+v; want %+v", done.Status, done.Counts, want)
	}
	_, kept, _ = e.svc.repo.results(context.Background(), v.ID, PropReserved, 0, 100)
	for _, r := range kept {
		if !strings.Contains(r.OriginSource, "red") {
			t.Errorf("PCC kept %s, unlike the positive example", r.OriginSource)
		}
	}
}
