package server

import (
	"context"
	"time"

	"github.com/atelier-dev/atelier/internal/metrics"
	"github.com/atelier-dev/atelier/internal/tasks"
	"github.com/atelier-dev/atelier/internal/training"
)

// newMetrics makes the server's metrics: the API's request and decision
// counters (fed by package api) and gauges read from the database at each
// scrape — the background-task queue of every replica sharing it, and the
// training jobs by phase.
func newMetrics(queue *tasks.Manager, jobs *training.Service) (*metrics.Metrics, error) {
	m := metrics.New()
	err := m.AddGauges(
		metrics.GaugeSet{Gauges: []metrics.Gauge{
			{Name: "atelier_tasks", Help: "Background tasks (imports, exports, syncs, auto labeling, processing, …) queued or running, by kind and status.",
				Labels: []string{"kind", "status"}},
			{Name: "atelier_task_oldest_age_seconds", Help: "Age of the oldest background task queued or running, by kind and status.",
				Labels: []string{"kind", "status"}},
		}, Read: func(ctx context.Context) ([][]metrics.Sample, error) {
			bs, err := queue.Backlogs(ctx)
			if err != nil {
				return nil, err
			}
			now := time.Now()
			count, age := make([]metrics.Sample, 0, len(bs)), make([]metrics.Sample, 0, len(bs))
			for _, b := range bs {
				labels := []string{b.Kind, string(b.Status)}
				count = append(count, metrics.Sample{Labels: labels, Value: float64(b.Count)})
				age = append(age, metrics.Sample{Labels: labels, Value: now.Sub(b.Oldest).Seconds()})
			}
			return [][]metrics.Sample{count, age}, nil
		}},
		metrics.GaugeSet{Gauges: []metrics.Gauge{{Name: "atelier_training_jobs", Help: "Training jobs that are not deleted, by phase.", Labels: []string{"phase"}}},
			Read: func(ctx context.Context) ([][]metrics.Sample, error) {
				byPhase, err := jobs.JobsByPhase(ctx)
				if err != nil {
					return nil, err
				}
				out := make([]metrics.Sample, 0, len(byPhase))
				for phase, n := range byPhase {
					out = append(out, metrics.Sample{Labels: []string{phase}, Value: float64(n)})
				}
				return [][]metrics.Sample{out}, nil
			}},
	)
	if err != nil {
		return nil, err
	}
	return m, nil
}
