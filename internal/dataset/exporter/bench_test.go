package exporter_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/exporter"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// BenchmarkExportManifest measures, on one SQLite dataset of
// ATELIER_BENCH_SAMPLES labeled samples (default 1,000,000; benchSize)
// written with WriteSamples in batches of 5,000 as an import commits them,
// an export of every sample as a manifest ("export") and the publication
// of a version of every sample ("publish"), each from the request to the
// task's end through a running task manager, as a client sees it.
func BenchmarkExportManifest(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b, store.SQLite)
	objects, err := obs.NewLocal(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { objects.Close() })
	if err := objects.CreateBucket(ctx, "data"); err != nil {
		b.Fatal(err)
	}
	m, err := tasks.New(ctx, db, tasks.Config{FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	core, err := dataset.New(dataset.Options{DB: db, Objects: objects, Authorize: allowAll})
	if err != nil {
		b.Fatal(err)
	}
	vs, err := versions.New(versions.Options{Datasets: core, DB: db, Objects: objects, Tasks: m})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := exporter.New(exporter.Options{Datasets: core, Versions: vs, DB: db, Objects: objects, Tasks: m})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			b.Errorf("stop task manager: %v", err)
		}
	})
	typ := dataset.TypeImageClassification
	plan, err := core.PlanCreate(dataset.Scope{ProjectID: datasettest.Project, WorkspaceID: "0"}, &dataset.CreateRequest{
		DatasetName: "bench", DatasetType: &typ, WorkPath: "/data/work/", WorkPathType: new(int),
		DataSources: []dataset.DataSource{{DataPath: "/data/in/"}}})
	if err != nil {
		b.Fatal(err)
	}
	id, err := core.CommitCreate(ctx, plan, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := datasettest.BenchSize()
	start := time.Now()
	const batch = 5000
	for i := 0; i < n; i += batch {
		if _, err := core.WriteSamples(ctx, datasettest.Project, id, datasettest.BenchInputs(i, min(batch, n-i)), dataset.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a %d-sample dataset in %s", n, time.Since(start).Round(time.Millisecond))

	b.Run("export", func(b *testing.B) {
		runtime.GC()
		report := peakHeap(b)
		defer report()
		for i := 0; i < b.N; i++ {
			plan, err := svc.PlanExport(ctx, datasettest.Project, id, &exporter.ExportRequest{Path: fmt.Sprintf("/data/export-%d/", i)})
			if err != nil {
				b.Fatal(err)
			}
			tid, err := svc.CommitExport(ctx, plan)
			if err != nil {
				b.Fatal(err)
			}
			for {
				e, err := svc.GetExport(ctx, datasettest.Project, id, tid)
				if err != nil {
					b.Fatal(err)
				}
				if e.Status == "FAILED" {
					b.Fatalf("export failed: %s", e.ErrorMsg)
				}
				if e.Status == "SUCCESSED" {
					if e.FinishedSampleCount != int64(n) {
						b.Fatalf("exported %d of %d samples", e.FinishedSampleCount, n)
					}
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		reportRate(b, n)
	})
	b.Run("publish", func(b *testing.B) {
		ratio := versions.Ratio("0.8")
		runtime.GC()
		report := peakHeap(b)
		defer report()
		for i := 0; i < b.N; i++ {
			plan, err := vs.PlanVersion(ctx, datasettest.Project, id, &versions.VersionRequest{TrainEvaluateSampleRatio: &ratio})
			if err != nil {
				b.Fatal(err)
			}
			vid, err := vs.CommitVersion(ctx, plan)
			if err != nil {
				b.Fatal(err)
			}
			for {
				v, err := vs.GetVersion(ctx, datasettest.Project, id, vid)
				if err != nil {
					b.Fatal(err)
				}
				if v.Status == versions.VersionError {
					b.Fatalf("publishing failed: %s", v.Message)
				}
				if v.Status == versions.VersionNormal {
					if v.TotalSampleCount != int64(n) {
						b.Fatalf("published %d of %d samples", v.TotalSampleCount, n)
					}
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		reportRate(b, n)
	})
}

// reportRate reports samples per second over the measured runs.
func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "samples/s")
}

// peakHeap samples the heap in use every 100 ms until the returned
// function is called, which reports the largest sample: the engine
// streams, so the peak must not grow with the dataset.
func peakHeap(b *testing.B) func() {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	}
}

// allowAll lets the export benchmarks' tasks touch every object: they
// measure the export engine (the import benchmark measures the decision).
func allowAll(ctx context.Context, who dataset.Requester) (dataset.ObjectAccess, error) {
	return allowAccess{}, nil
}

type allowAccess struct{}

func (allowAccess) Authorize(ctx context.Context, action, bucket, key string) error { return nil }
