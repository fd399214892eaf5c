package training

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// seedJobs stores n jobs cloned from one real job, spread over phases and
// creation times, in one transaction.
func seedJobs(tb testing.TB, fx *fixture, n int) {
	tb.Helper()
	ctx := context.Background()
	id := fx.create(tb, "seed", 1, 1)
	var doc string
	if err := fx.svc.repo.db.QueryRowContext(ctx, `SELECT doc FROM training_jobs WHERE id=$1`, id).Scan(&doc); err != nil {
		tb.Fatal(err)
	}
	phases := []string{PhaseCompleted, PhaseFailed, PhaseRunning, PhaseTerminated, PhasePending}
	start := time.Now().Add(-time.Duration(n) * time.Second).UnixMilli()
	err := fx.svc.repo.db.InTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO training_jobs (id, project_id, workspace_id, name, kind, user_id, user_name, algorithm_id,
			algorithm_name, description, phase, secondary_phase, priority, create_time, doc, run)
			VALUES ($1, 'p', '0', $2, 'job', 'u', 'user', '', '', '', $3, $3, 1, $4, $5, '{}')`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range n {
			ph := phases[i%len(phases)]
			if _, err := stmt.ExecContext(ctx, store.NewID(), "job-"+ph, ph, start+int64(i)*1000, doc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSearchJobs10k pages through 10,000 stored jobs with a phase
// filter, 50 per page, as POST /training-job-searches does; it reports the
// 99th percentile of one search.
func BenchmarkSearchJobs10k(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(string(engine), func(b *testing.B) {
			db := storetest.Open(b, engine)
			fx := newFixture(b, db, 2)
			seedJobs(b, fx, 10000)
			ctx := context.Background()
			q := JobQuery{Limit: 50, Desc: true, Filters: []Filter{{Key: "phase", Operator: "in", Value: []string{PhaseCompleted}}}}
			var times []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				q.Offset = (i * 50) % 2000
				t0 := time.Now()
				total, items, err := fx.svc.SearchJobs(ctx, fx.scope, q)
				times = append(times, time.Since(t0))
				if err != nil || total != 2000 || len(items) != 50 {
					b.Fatalf("search: total %d, %d items, %v", total, len(items), err)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkPreviewLog200MB previews the tail of a 200 MB log: the cost and
// the memory do not depend on the log's size.
func BenchmarkPreviewLog200MB(b *testing.B) {
	p := filepath.Join(b.TempDir(), "worker-0.log")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("last line\n"), 200<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.ReportAllocs()
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		got, err := tailFile(filepath.Dir(p), filepath.Base(p), MaxPreview)
		times = append(times, time.Since(t0))
		if err != nil || got.CurrentSize != MaxPreview || got.FullSize != 200<<20+10 {
			b.Fatalf("tail = %d of %d, %v", got.CurrentSize, got.FullSize, err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
