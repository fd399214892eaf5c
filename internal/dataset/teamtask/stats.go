package teamtask

import (
	"context"

	"github.com/atelier-dev/atelier/internal/workforce"
)

// Stats answers …/data-annotations/stats: the caller's part of the task by
// state, from the counters.
func (s *Service) Stats(ctx context.Context, c Caller, datasetID, id string) (map[string]int64, error) {
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
	return stateMap(statsOf(cs, a.scope, false), true), nil
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
		st := statsOf(cs, []string{w.WorkerID}, false)
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
