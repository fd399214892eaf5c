package teamtask

import (
	"context"

	"github.com/atelier-dev/atelier/internal/workforce"
)

// TaskStats is …/data-annotations/stats: the caller's part of the task by
// state, and, for its owner and team administrators, the labels the
// task's allocations carry.
type TaskStats struct {
	SampleStats map[string]int64 `json:"sample_stats"`
	LabelStats  []*LabelStats    `json:"label_stats"`
}

// Stats answers …/data-annotations/stats from the counters.
func (s *Service) Stats(ctx context.Context, c Caller, datasetID, id string) (*TaskStats, error) {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, err
	}
	if err := s.syncNew(ctx, t, tws); err != nil {
		return nil, err
	}
	cs, err := s.repo.counts(ctx, s.db, t.TaskID)
	if err != nil {
		return nil, err
	}
	out := &TaskStats{SampleStats: stateMap(statsOf(cs, a.scope), true), LabelStats: []*LabelStats{}}
	if a.owner || len(a.admins) > 0 {
		if out.LabelStats, err = s.labelStats(ctx, t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// labelStats joins the dataset's labels to the task's label counters.
func (s *Service) labelStats(ctx context.Context, t *Task) ([]*LabelStats, error) {
	labels, err := s.datasets.LabelsOf(ctx, t.DatasetID)
	if err != nil {
		return nil, err
	}
	counts, err := s.repo.labelCounts(ctx, t.TaskID)
	if err != nil {
		return nil, err
	}
	out := make([]*LabelStats, 0, len(labels))
	for _, l := range labels {
		v := counts[l.Name]
		out = append(out, &LabelStats{Name: l.Name, Type: l.Type, Property: l.Property, Count: v.N, SampleCount: v.Samples})
	}
	return out, nil
}

// stateMap is the reference's map form of sample statistics.
func stateMap(st *SampleStats, total bool) map[string]int64 {
	m := map[string]int64{"un_annotation": st.Unannotated, "rejected": st.Rejected, "unreviewed": st.Unreviewed,
		"accepted": st.Accepted, "auto_annotation": st.AutoAnnotation, "uncheck": st.Uncheck}
	if total {
		m["total"] = st.Total
	}
	return m
}

// Metrics answers …/metrics: each labeler's progress by e-mail address
// (the labelers the caller sees).
func (s *Service) Metrics(ctx context.Context, c Caller, datasetID, id string) (map[string]map[string]int64, error) {
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, err
	}
	cs, err := s.repo.counts(ctx, s.db, t.TaskID)
	if err != nil {
		return nil, err
	}
	roles, err := s.roles(ctx, c.ProjectID, tws)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int64{}
	for _, w := range tws {
		if role, member := roles[w.WorkerID]; !member || role != workforce.RoleLabeler || !a.sees(w.WorkerID) {
			continue
		}
		st := statsOf(cs, []string{w.WorkerID})
		if prev, ok := out[w.Email]; ok { // one address in two teams
			for k, v := range stateMap(st, false) {
				prev[k] += v
			}
			continue
		}
		out[w.Email] = stateMap(st, false)
	}
	return out, nil
}
