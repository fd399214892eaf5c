package dataset

import (
	"context"
	"fmt"
)

// Statistics, search conditions and metrics of a dataset's samples: what
// the counters answer.

// LabelStats is one label's statistics (LabelStats).
type LabelStats struct {
	Attributes  []LabelAttribute  `json:"attributes,omitempty"`
	Count       int64             `json:"count"`
	Name        string            `json:"name"`
	Property    map[string]string `json:"property"`
	SampleCount int64             `json:"sample_count"`
	Type        int               `json:"type"`
}

// Stats is the body of data-annotations/stats.
type Stats struct {
	DataPath           string                  `json:"data_path"`
	DataSplitingEnable bool                    `json:"data_spliting_enable"`
	GroupedLabelStats  map[string][]LabelStats `json:"grouped_label_stats"`
	HardDetailStats    map[string]any          `json:"hard_detail_stats"`
	KeySampleStats     map[string]int64        `json:"key_sample_stats"`
	LabelStats         []LabelStats            `json:"label_stats"`
	MetadataStats      map[string]any          `json:"metadata_stats"`
	SampleStats        map[string]int64        `json:"sample_stats"`
}

// labelStatsInState recounts each label's samples and annotations among the
// samples in one state.
func (s *Service) labelStatsInState(ctx context.Context, datasetID string, state int, st *Stats) error {
	counts, err := s.repo.labelCountsInState(ctx, datasetID, state)
	if err != nil {
		return err
	}
	for i := range st.LabelStats {
		c := counts[st.LabelStats[i].Name]
		st.LabelStats[i].SampleCount, st.LabelStats[i].Count = c[0], c[1]
	}
	for k, group := range st.GroupedLabelStats {
		for i := range group {
			c := counts[group[i].Name]
			st.GroupedLabelStats[k][i].SampleCount, st.GroupedLabelStats[k][i].Count = c[0], c[1]
		}
	}
	return nil
}

// SampleStats answers statistics from the counters alone: the dataset row
// and one row per label. A state (sample_state, see ParseSampleState)
// restricts the label statistics to the samples in that state, counted
// through the label index; the sample statistics stay the dataset's.
func (s *Service) SampleStats(ctx context.Context, projectID, datasetID string, state *int) (*Stats, error) {
	r, err := s.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	found, err := s.repo.labelStats(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	st := &Stats{GroupedLabelStats: map[string][]LabelStats{}, HardDetailStats: map[string]any{}, MetadataStats: map[string]any{},
		LabelStats: []LabelStats{}}
	for _, ls := range found {
		st.LabelStats = append(st.LabelStats, ls)
		key := fmt.Sprint(ls.Type)
		st.GroupedLabelStats[key] = append(st.GroupedLabelStats[key], ls)
	}
	if state != nil {
		if err := s.labelStatsInState(ctx, r.ID, *state, st); err != nil {
			return nil, err
		}
	}
	unlabeled := r.Total - r.Annotated - r.Unconfirmed
	st.SampleStats = map[string]int64{"total": r.Total, "all": r.Total, "lefted": r.Total, "deleted": r.Deleted,
		"un_annotation": unlabeled, "manual_annotation": r.Annotated, "auto_annotation": r.Unconfirmed}
	st.KeySampleStats = map[string]int64{"total": r.Total, "key_sample": r.Hard, "non_key_sample": r.Total - r.Hard}
	// Splitting into train and eval needs labeled samples of every label
	// to land on both sides; ModelArts asks for enough labeled samples.
	st.DataSplitingEnable = r.Annotated >= 2
	st.DataPath = r.Doc.WorkPath
	return st, nil
}

// SearchConditions is the body of data-annotations/search-condition.
type SearchConditions struct {
	Labelers []string            `json:"labelers"`
	Labels   []Label             `json:"labels"`
	Metadata map[string][]string `json:"metadata"`
}

// SampleSearchConditions lists what samples can be filtered by: the
// dataset's labels and the labelers who labeled its samples.
func (s *Service) SampleSearchConditions(ctx context.Context, projectID, datasetID string) (*SearchConditions, error) {
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	labels, err := s.labels(ctx, s.db, datasetID)
	if err != nil {
		return nil, err
	}
	out := &SearchConditions{Labels: labels, Labelers: []string{}, Metadata: map[string][]string{}}
	if out.Labels == nil {
		out.Labels = []Label{}
	}
	if out.Labelers, err = s.repo.labelers(ctx, datasetID); err != nil {
		return nil, err
	}
	return out, nil
}

// Metrics answers the metrics API from the daily counter snapshots within
// [start, end] (milliseconds).
func (s *Service) Metrics(ctx context.Context, projectID, datasetID string, start, end int64) (map[string]map[string]int64, error) {
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	out := map[string]map[string]int64{}
	for _, k := range []string{"total", "un_annotation", "manual_annotation", "auto_annotation", "queuing", "unfinished",
		"success", "failed", "failed_user", "failed_system"} {
		out[k] = map[string]int64{}
	}
	found, err := s.repo.metrics(ctx, datasetID, start, end)
	if err != nil {
		return nil, err
	}
	for _, m := range found {
		k := fmt.Sprint(m.at)
		out["total"][k] = m.total
		out["manual_annotation"][k] = m.annotated
		out["auto_annotation"][k] = m.unconfirmed
		out["un_annotation"][k] = m.total - m.annotated - m.unconfirmed
	}
	return out, nil
}
