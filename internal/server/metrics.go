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
	backlog := func(ctx context.Context, value func(tasks.Backlog) float64) ([]metrics.Sample, error) {
		bs, err := queue.Backlogs(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.Sample, 0, len(bs))
		for _, b := range bs {
			out = append(out, metrics.Sample{Labels: []string{b.Kind, string(b.Status)}, Value: value(b)})
		}
		return out, nil
	}
	err := m.AddGauges(
		metrics.Gauge{Name: "atelier_tasks", Help: "Background tasks (imports, exports, syncs, auto labeling, processing, …) queued or running, by kind and status.",
			Labels: []string{"kind", "status"},
			Read: func(ctx context.Context) ([]metrics.Sample, error) {
				return backlog(ctx, func(b tasks.Backlog) float64 { return float64(b.Count) })
			}},
		metrics.Gauge{Name: "atelier_task_oldest_age_seconds", Help: "Age of the oldest background task queued or running, by kind and status.",
			Labels: []string{"kind", "status"},
			Read: func(ctx context.Context) ([]metrics.Sample, error) {
				now := time.Now()
				return backlog(ctx, func(b tasks.Backlog) float64 { return now.Sub(b.Oldest).Seconds() })
			}},
		metrics.Gauge{Name: "atelier_training_jobs", Help: "Training jobs that are not deleted, by phase.",
			Labels: []string{"phase"},
			Read: func(ctx context.Context) ([]metrics.Sample, error) {
				byPhase, err := jobs.JobsByPhase(ctx)
				if err != nil {
					return nil, err
				}
				out := make([]metrics.Sample, 0, len(byPhase))
				for phase, n := range byPhase {
					out = append(out, metrics.Sample{Labels: []string{phase}, Value: float64(n)})
				}
				return out, nil
			}},
	)
	if err != nil {
		return nil, err
	}
	return m, nil
}
