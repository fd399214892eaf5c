package dataset

import (
	"context"
	"encoding/json"
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
	rows, err := s.db.QueryContext(ctx, `SELECT dl.name, COUNT(*), COALESCE(SUM(l.n), 0)
		FROM dataset_sample_labels l
		JOIN dataset_samples x ON x.dataset_id = l.dataset_id AND x.seq = l.sample_seq
		JOIN dataset_labels dl ON dl.dataset_id = l.dataset_id AND dl.seq = l.label_seq
		WHERE l.dataset_id = $1 AND x.state = $2
		GROUP BY dl.name`, datasetID, state)
	if err != nil {
		return fmt.Errorf("label statistics in state %d: %w", state, err)
	}
	defer rows.Close()
	counts := map[string][2]int64{}
	for rows.Next() {
		var name string
		var samples, annotations int64
		if err := rows.Scan(&name, &samples, &annotations); err != nil {
			return fmt.Errorf("label statistics in state %d: %w", state, err)
		}
		counts[name] = [2]int64{samples, annotations}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("label statistics in state %d: %w", state, err)
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
	rows, err := s.db.QueryContext(ctx, `SELECT name, type, properties, attributes, annotation_count, sample_count
		FROM dataset_labels WHERE dataset_id=$1 ORDER BY seq`, r.ID)
	if err != nil {
		return nil, fmt.Errorf("label statistics: %w", err)
	}
	defer rows.Close()
	st := &Stats{GroupedLabelStats: map[string][]LabelStats{}, HardDetailStats: map[string]any{}, MetadataStats: map[string]any{},
		LabelStats: []LabelStats{}}
	for rows.Next() {
		var ls LabelStats
		var props, attrs string
		if err := rows.Scan(&ls.Name, &ls.Type, &props, &attrs, &ls.Count, &ls.SampleCount); err != nil {
			return nil, fmt.Errorf("label statistics: %w", err)
		}
		if err := json.Unmarshal([]byte(props), &ls.Property); err != nil {
			return nil, fmt.Errorf("decode label %s: %w", ls.Name, err)
		}
		if err := json.Unmarshal([]byte(attrs), &ls.Attributes); err != nil {
			return nil, fmt.Errorf("decode label %s: %w", ls.Name, err)
		}
		st.LabelStats = append(st.LabelStats, ls)
		key := fmt.Sprint(ls.Type)
		st.GroupedLabelStats[key] = append(st.GroupedLabelStats[key], ls)
	}
	if err := rows.Err(); err != nil {
		return nil, err
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
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT labeler FROM dataset_samples WHERE dataset_id=$1 AND labeler<>'' ORDER BY labeler LIMIT 1000`, datasetID)
	if err != nil {
		return nil, fmt.Errorf("list labelers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("list labelers: %w", err)
		}
		out.Labelers = append(out.Labelers, l)
	}
	return out, rows.Err()
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
	rows, err := s.db.QueryContext(ctx, `SELECT at, total, annotated, unconfirmed FROM dataset_metrics
		WHERE dataset_id=$1 AND at>=$2 AND at<=$3 ORDER BY day`, datasetID, start, end)
	if err != nil {
		return nil, fmt.Errorf("dataset metrics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at, total, annotated, unconfirmed int64
		if err := rows.Scan(&at, &total, &annotated, &unconfirmed); err != nil {
			return nil, fmt.Errorf("dataset metrics: %w", err)
		}
		k := fmt.Sprint(at)
		out["total"][k] = total
		out["manual_annotation"][k] = annotated
		out["auto_annotation"][k] = unconfirmed
		out["un_annotation"][k] = total - annotated - unconfirmed
	}
	return out, rows.Err()
}
