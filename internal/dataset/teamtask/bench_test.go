package teamtask_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// The benchmarks share one SQLite database: a dataset of benchSize()
// unlabeled samples, one team of 99 labelers and 1 administrator (the
// team limit is 100 members) and one started task over all of it.

// benchSize is the dataset's size: ATELIER_BENCH_SAMPLES (the variable of
// datasettest.BenchSize, so CI sizes every benchmark with one setting),
// 100,000 by default, the figure for a team task.
func benchSize() int {
	if v, err := strconv.Atoi(os.Getenv("ATELIER_BENCH_SAMPLES")); err == nil && v > 0 {
		return v
	}
	return 100_000
}

const benchLabelers = workforce.MaxWorkersPerWorkforce - 1

var bench struct {
	once     sync.Once
	dir      string // the shared database's, removed by TestMain
	e        *env
	team     string
	task     string
	labelers []member
	mine     map[string][]string // labeler worker ID → its sample IDs in task
	err      error
}

func benchEnv(b *testing.B) *env {
	bench.once.Do(func() {
		dir, err := os.MkdirTemp("", "atelier-teamtask-bench-")
		if err != nil {
			bench.err = err
			return
		}
		bench.dir = dir
		db, err := store.Open(context.Background(), "", dir)
		if err != nil {
			bench.err = err
			return
		}
		if err := os.MkdirAll(dir+"/objects", 0o755); err != nil {
			bench.err = err
			return
		}
		e, _ := buildEnv(b, db, dir+"/objects", dataset.TypeImageClassification)
		t0 := time.Now()
		bench.team = e.team("bench-team")
		for i := 0; i < benchLabelers; i++ {
			bench.labelers = append(bench.labelers, e.member(bench.team, fmt.Sprintf("l%03d@example.com", i), workforce.RoleLabeler))
		}
		e.member(bench.team, "admin@example.com", workforce.RoleTeamAdmin)
		names := make([]string, datasettest.BenchLabels)
		for i := range names {
			names[i] = fmt.Sprintf("label-%02d", i)
		}
		e.labels(names...)
		b.Logf("team of %d members in %s", benchLabelers+1, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		n := benchSize()
		const batch = 5000
		for i := 0; i < n; i += batch {
			in := datasettest.BenchInputs(i, min(batch, n-i))
			for j := range in {
				in[j].Labels = nil // the task takes the unlabeled samples
			}
			res, err := e.core.WriteSamples(context.Background(), e.acct.ProjectID, e.ds, in, dataset.WriteOptions{})
			if err != nil {
				bench.err = err
				return
			}
			for _, r := range res {
				if r.Err != nil {
					bench.err = r.Err
					return
				}
			}
		}
		b.Logf("dataset of %d samples in %s", n, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		bench.task = e.create("bench-task", &teamtask.CreateRequest{WorkforcesConfig: teamsOf(bench.team)}, true)
		b.Logf("the shared task in %s", time.Since(t0).Round(time.Millisecond))
		bench.mine = map[string][]string{}
		for _, a := range e.allocs(bench.task) {
			bench.mine[a.worker] = append(bench.mine[a.worker], a.sampleID)
		}
		bench.e = e
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	bench.e.tb = b
	return bench.e
}

// TestMain removes the benchmarks' shared database, which outlives every
// single benchmark's cleanups.
// TestMain gives every test database a copy of a migrated template
// (storetest.Main) and removes the benchmarks' dataset afterwards.
func TestMain(m *testing.M) {
	code := storetest.Main(m)
	if bench.dir != "" {
		if bench.e != nil {
			bench.e.db.Close()
		}
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkCreateTask creates a task over the whole dataset for the 100
// members (target ≤ 5 s per op); each op's task is deleted untimed.
func BenchmarkCreateTask(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		id, err := e.svc.Create(ctx, e.owner, e.ds, &teamtask.CreateRequest{TaskName: fmt.Sprintf("create-%d", i), WorkforcesConfig: teamsOf(bench.team)})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := e.svc.Delete(ctx, e.owner, e.ds, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(benchSize()), "samples")
}

// BenchmarkLabelerPage reads a labeler's sample pages of 50, at offsets
// spread across its allocations (target p99 ≤ 30 ms).
func BenchmarkLabelerPage(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	l := bench.labelers[0]
	n := len(bench.mine[l.worker])
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		off := (i * 50 * 7) % max(n, 1) // stride 7 pages: spread, not sequential
		t0 := time.Now()
		total, page, err := e.svc.Samples(ctx, l.c, e.ds, bench.task, teamtask.SampleQuery{Offset: off, Limit: 50})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if total != int64(n) || len(page) == 0 {
			b.Fatalf("page at %d: %d items of %d, want some of %d", off, len(page), total, n)
		}
	}
	reportLatency(b, lat)
}

// BenchmarkUpdateLabels50 saves labels on 50 of a labeler's samples per
// op (target ≤ 100 ms). Labeled samples pass to acceptance (the team has
// no reviewer) and cannot be relabeled, so ops walk through the labelers'
// allocations and stop when they are used up.
func BenchmarkUpdateLabels50(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	var lat []time.Duration
	li, off := 0, 0
	// 50, or what a labeler has in a small CI-sized run
	per := min(50, len(bench.mine[bench.labelers[0].worker]))
	for i := 0; b.Loop(); i++ {
		l := bench.labelers[li]
		ids := bench.mine[l.worker]
		for off+per > len(ids) {
			li, off = li+1, 0
			if li == len(bench.labelers) {
				b.Fatalf("after %d ops every labeler's samples are labeled: rebuild with a larger dataset or use a smaller -benchtime", i)
			}
			l = bench.labelers[li]
			ids = bench.mine[l.worker]
		}
		items := make([]teamtask.SampleLabels, per)
		for j := range items {
			items[j] = teamtask.SampleLabels{SampleID: ids[off+j], Labels: cls(fmt.Sprintf("label-%02d", (off+j)%datasettest.BenchLabels))}
		}
		off += per
		t0 := time.Now()
		if err := e.svc.UpdateLabels(ctx, l.c, e.ds, bench.task, items); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	bench.mine[bench.labelers[li].worker] = bench.mine[bench.labelers[li].worker][off:]
	for _, l := range bench.labelers[:li] {
		delete(bench.mine, l.worker)
	}
	bench.labelers = bench.labelers[li:]
	reportLatency(b, lat)
}

// BenchmarkReport reads the acceptance report of the task during a round
// (target ≤ 50 ms); the round is cancelled afterwards.
func BenchmarkReport(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	// Something must wait for acceptance: label 50 samples if nothing does.
	l := bench.labelers[len(bench.labelers)-1]
	ids := bench.mine[l.worker]
	if len(ids) > 0 {
		items := make([]teamtask.SampleLabels, min(50, len(ids)))
		for j := range items {
			items[j] = teamtask.SampleLabels{SampleID: ids[j], Labels: cls("label-00")}
		}
		if err := e.svc.UpdateLabels(ctx, l.c, e.ds, bench.task, items); err != nil {
			b.Fatal(err)
		}
		bench.mine[l.worker] = ids[len(items):]
	}
	rate := 0.5
	check, err := e.svc.StartAcceptance(ctx, e.owner, e.ds, bench.task, nil, &rate)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if _, _, err := e.svc.Close(ctx, e.owner, e.ds, bench.task, teamtask.ActionCancel, false); err != nil {
			b.Errorf("cancel the round: %v", err)
		}
	}()
	_, picked := e.all(e.owner, bench.task, teamtask.SampleQuery{State: "__WORKFORCE_SAMPLED__"})
	var comments []teamtask.Comment
	for i, p := range picked {
		comments = append(comments, teamtask.Comment{SampleID: p.SampleID, WorkerID: p.WorkerID, Accept: boolp(i%4 != 0), Score: "B"})
		if len(comments) == teamtask.MaxBatch {
			break
		}
	}
	for i := range comments {
		if !*comments[i].Accept {
			comments[i].Score = ""
		}
	}
	if err := e.svc.Comment(ctx, e.owner, e.ds, bench.task, comments); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		rep, err := e.svc.Report(ctx, e.owner, e.ds, bench.task, check)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if rep.CheckingStats.Checked != int64(len(comments)) {
			b.Fatalf("report checked %d, want %d", rep.CheckingStats.Checked, len(comments))
		}
	}
	reportLatency(b, lat)
}
