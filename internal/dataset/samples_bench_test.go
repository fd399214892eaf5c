package dataset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// The sample benchmarks share one dataset of ATELIER_BENCH_SAMPLES samples
// (default 1,000,000) in 20 labels, built once per run: building it is
// itself measured by BenchmarkWriteSamples.
var bench struct {
	once sync.Once
	svc  *dataset.Service
	id   string
	n    int
	err  error
}

func benchDataset(b *testing.B) (*dataset.Service, string) {
	bench.once.Do(func() {
		// Its own database, not the first benchmark's: that one is closed
		// when the benchmark ends, and the others share this one.
		dir, err := os.MkdirTemp("", "atelier-bench-")
		if err != nil {
			bench.err = err
			return
		}
		db, err := store.Open(context.Background(), "", dir)
		if err != nil {
			bench.err = err
			return
		}
		bench.svc, bench.id = newDataset(b, db, dataset.TypeImageClassification)
		bench.n = datasettest.BenchSize()
		start := time.Now()
		const batch = 2000
		for i := 0; i < bench.n; i += batch {
			if _, bench.err = bench.svc.WriteSamples(context.Background(), project, bench.id, datasettest.BenchInputs(i, min(batch, bench.n-i)), dataset.WriteOptions{}); bench.err != nil {
				return
			}
		}
		b.Logf("built a %d-sample dataset in %s (%.0f samples/s)", bench.n, time.Since(start).Round(time.Millisecond),
			float64(bench.n)/time.Since(start).Seconds())
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.svc, bench.id
}

// BenchmarkWriteSamples measures the write path of imports: batches of
// labeled samples (ATELIER_BENCH_BATCH, default 5,000, what an import
// commits at once) with their counters, into a fresh dataset.
func BenchmarkWriteSamples(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	svc, id := newDataset(b, db, dataset.TypeImageClassification)
	batch := 5000
	if v, err := strconv.Atoi(os.Getenv("ATELIER_BENCH_BATCH")); err == nil && v > 0 {
		batch = v
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.WriteSamples(context.Background(), project, id, datasettest.BenchInputs(i*batch, batch), dataset.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkListSamples lists 100 samples of one label on the first page,
// on the last page by offset, and deep by marker.
func BenchmarkListSamples(b *testing.B) {
	svc, id := benchDataset(b)
	ctx := context.Background()
	perLabel := bench.n / datasettest.BenchLabels
	_, last, err := svc.ListSamples(ctx, project, id, dataset.SampleQuery{LabelName: "label-07", Limit: 100, Offset: perLabel - 200})
	if err != nil || len(last) == 0 {
		b.Fatal(err)
	}
	marker := last[len(last)-1].SampleID
	for _, c := range []struct {
		name string
		q    dataset.SampleQuery
	}{
		{"label/first-page", dataset.SampleQuery{LabelName: "label-07", Limit: 100}},
		{"label/last-page-offset", dataset.SampleQuery{LabelName: "label-07", Limit: 100, Offset: perLabel - 100}},
		{"label/deep-marker", dataset.SampleQuery{LabelName: "label-07", Limit: 100, Marker: marker}},
		{"all/first-page", dataset.SampleQuery{Limit: 100}},
		{"all/last-page-offset", dataset.SampleQuery{Limit: 100, Offset: bench.n - 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				n, page, err := svc.ListSamples(ctx, project, id, c.q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(page) == 0 || n == 0 {
					b.Fatalf("n=%d page=%d err=%v", n, len(page), err)
				}
			}
			reportP99(b, lat)
		})
	}
}

// BenchmarkSamplePageResponse is a label's first page of 100 read and
// written as JSON: decoded and encoded by encoding/json (ListSamples), and
// written as its rows are read with their stored documents copied
// (AppendSamplePage), as the API writes pages.
func BenchmarkSamplePageResponse(b *testing.B) {
	svc, id := benchDataset(b)
	ctx := context.Background()
	q := dataset.SampleQuery{LabelName: "label-07", Limit: 100}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, page, err := svc.ListSamples(ctx, project, id, q)
			if err != nil || len(page) == 0 {
				b.Fatalf("page of %d: %v", len(page), err)
			}
			if _, err := json.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-page", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, _, err = svc.AppendSamplePage(ctx, project, id, q, buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func reportP99(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSampleStats answers statistics on the large dataset.
func BenchmarkSampleStats(b *testing.B) {
	svc, id := benchDataset(b)
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := svc.SampleStats(context.Background(), project, id, nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportP99(b, lat)
}

// BenchmarkUpdateLabels relabels 1,000 samples of the large dataset in one
// batch (PUT data-annotations/samples).
func BenchmarkUpdateLabels(b *testing.B) {
	svc, id := benchDataset(b)
	ctx := context.Background()
	var ids []string
	for off := 5000; len(ids) < 1000; off += 100 {
		_, page, err := svc.ListSamples(ctx, project, id, dataset.SampleQuery{Limit: 100, Offset: off})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range page {
			ids = append(ids, s.SampleID)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		items := make([]dataset.LabelUpdate, len(ids))
		for j, sid := range ids {
			items[j] = dataset.LabelUpdate{SampleID: sid, Labels: []annotation.Label{{Name: fmt.Sprintf("label-%02d", (i+j)%datasettest.BenchLabels)}}}
		}
		t0 := time.Now()
		errs, err := svc.UpdateSampleLabels(ctx, project, id, items)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
	}
	reportP99(b, lat)
}

// BenchmarkMetadataFilter lists 100 samples by attribute (the sample
// list's metadata filter) on a dataset of ATELIER_BENCH_SAMPLES samples of
// its own, each in one of 10 groups as auto grouping leaves them, every
// 10,000th also marked rare; building it measures an import of samples
// with attributes.
func BenchmarkMetadataFilter(b *testing.B) {
	svc, id := newDataset(b, storetest.Open(b, store.SQLite), dataset.TypeImageClassification)
	ctx := context.Background()
	n := datasettest.BenchSize()
	start := time.Now()
	for i := 0; i < n; i += 5000 {
		in := datasettest.BenchInputs(i, min(5000, n-i))
		for j := range in {
			k := i + j
			in[j].Metadata = map[string]any{"group": strconv.Itoa(k % 10)}
			if k%10_000 == 0 {
				in[j].Metadata["mark"] = "rare"
			}
		}
		if _, err := svc.WriteSamples(ctx, project, id, in, dataset.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a %d-sample dataset with attributes in %s (%.0f samples/s)", n, time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds())
	labeled := dataset.StateLabeled
	cond := func(s string) []dataset.SearchCondition {
		return []dataset.SearchCondition{{Metadata: []byte(s)}}
	}
	for _, c := range []struct {
		name string
		q    dataset.SampleQuery
	}{
		{"group/first-page", dataset.SampleQuery{Limit: 100, Conditions: cond(`{"props":{"group":["3"]}}`)}},
		{"group/deep-offset", dataset.SampleQuery{Limit: 100, Offset: n/10 - 100, Conditions: cond(`{"props":{"group":["3"]}}`)}},
		{"two-groups/first-page", dataset.SampleQuery{Limit: 100, Conditions: cond(`{"props":{"group":["3","7"]}}`)}},
		{"rare/first-page", dataset.SampleQuery{Limit: 100, Conditions: cond(`{"props":{"mark":["rare"]}}`)}},
		{"rare-and-group/first-page", dataset.SampleQuery{Limit: 100, Conditions: cond(`{"props":{"mark":["rare"],"group":["0"]}}`)}},
		{"group-and-label/first-page", dataset.SampleQuery{Limit: 100, LabelName: "label-03", Conditions: cond(`{"props":{"group":["3"]}}`)}},
		{"group-and-state/first-page", dataset.SampleQuery{Limit: 100, State: &labeled, Conditions: cond(`{"props":{"group":["3"]}}`)}},
		{"group-or-rare/first-page", dataset.SampleQuery{Limit: 100, Conditions: cond(`{"op":"OR","props":{"group":["3"],"mark":["rare"]}}`)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				total, page, err := svc.ListSamples(ctx, project, id, c.q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(page) == 0 || total == 0 {
					b.Fatalf("n=%d page=%d err=%v", total, len(page), err)
				}
			}
			reportP99(b, lat)
		})
	}
}
