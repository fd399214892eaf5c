package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
)

// SearchCondition is one element of search_conditions (SearchCondition of
// the reference). Conditions within one element are ANDed.
type SearchCondition struct {
	Coefficient    string          `json:"coefficient,omitempty"`
	FrameInVideo   *int            `json:"frame_in_video,omitempty"`
	Hard           string          `json:"hard,omitempty"`
	ImportOrigin   string          `json:"import_origin,omitempty"`
	Kvp            string          `json:"kvp,omitempty"`
	LabelList      *SearchLabels   `json:"label_list,omitempty"`
	Labeler        string          `json:"labeler,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	ParentSampleID string          `json:"parent_sample_id,omitempty"`
	SampleDir      string          `json:"sample_dir,omitempty"`
	SampleName     string          `json:"sample_name,omitempty"`
	SampleTime     string          `json:"sample_time,omitempty"`
	Score          string          `json:"score,omitempty"`
	SliceThickness string          `json:"slice_thickness,omitempty"`
	StudyDate      string          `json:"study_date,omitempty"`
	TimeInVideo    string          `json:"time_in_video,omitempty"`
}

// onlyMetadata reports a condition on sample attributes and nothing else.
func (c SearchCondition) onlyMetadata() bool {
	c.Metadata = nil
	rest, err := json.Marshal(c) // every field is omitempty
	return err == nil && string(rest) == "{}"
}

// SearchLabels is a label condition: labels joined by op (OR by default).
type SearchLabels struct {
	Labels []SearchLabel `json:"labels,omitempty"`
	Op     string        `json:"op,omitempty"`
}

// SearchLabel names one label (property filters are not supported).
type SearchLabel struct {
	Name     string              `json:"name,omitempty"`
	Op       string              `json:"op,omitempty"`
	Property map[string][]string `json:"property,omitempty"`
	Type     *int                `json:"type,omitempty"`
}

// SampleQuery is a validated sample list request.
type SampleQuery struct {
	State      *int // nil: any state
	TeamState  bool // a team-labeling state: nothing matches yet
	LabelName  string
	LabelType  *int
	SampleType *int
	LowScore   *float64
	HighScore  *float64
	Conditions []SearchCondition // ANDed (list) or ORed (export: Any)
	Any        bool
	Offset     int
	Limit      int
	Asc        bool
	// Marker continues after the sample of that ID (an Atelier extension:
	// a cursor costs the same at any depth, an offset walks the index).
	Marker string
	// IDs restricts to these samples (export by sample list).
	IDs []string
}

// ListSamples answers a sample list: the page and the number of samples
// that match.
func (s *Service) ListSamples(ctx context.Context, projectID, datasetID string, q SampleQuery) (int64, []*Sample, error) {
	l, err := s.planList(ctx, projectID, datasetID, q)
	if err != nil {
		return 0, nil, err
	}
	if l.empty {
		return 0, []*Sample{}, nil
	}
	out, err := s.repo.listSamples(ctx, l.filter, q.Asc, l.marker, q.Limit, q.Offset)
	if err != nil {
		return 0, nil, err
	}
	return l.count, out, nil
}

// AppendSamplePage answers a sample list as the response's JSON
// ({"sample_count":…,"samples":[…]}, as AppendSampleList writes it)
// appended to b, with the samples' objects, which the caller authorizes
// before it sends the body. Each row is written as it is read, its labels
// and metadata copied from the stored document (AppendJSON): the page
// keeps no sample and decodes no document. With the JSON written by hand,
// that halved the server's CPU per label page of 100 (docs/performance.md).
func (s *Service) AppendSamplePage(ctx context.Context, projectID, datasetID string, q SampleQuery, b []byte) ([]byte, []obs.Path, error) {
	l, err := s.planList(ctx, projectID, datasetID, q)
	if err != nil {
		return b, nil, err
	}
	b = appendListHead(b, l.count)
	if l.empty {
		return append(b, "]}\n"...), nil, nil
	}
	objects := make([]obs.Path, 0, q.Limit)
	first := true
	err = s.repo.eachSample(ctx, l.filter, q.Asc, l.marker, q.Limit, q.Offset, func(sm *Sample) error {
		if !first {
			b = append(b, ',')
		}
		first = false
		var err error
		if b, err = sm.AppendJSON(b); err != nil {
			return err
		}
		if p, ok := ObjectOf(sm.Stored); ok {
			objects = append(objects, p)
		}
		return nil
	})
	if err != nil {
		return b, nil, err
	}
	return append(b, "]}\n"...), objects, nil
}

// listPlan is what a sample list reads its page with: the filter, the
// marker's seq, and the count of matches.
type listPlan struct {
	filter *sampleFilter
	marker *int64
	count  int64
	empty  bool // no sample can match
}

func (s *Service) planList(ctx context.Context, projectID, datasetID string, q SampleQuery) (listPlan, error) {
	r, labelCount, err := s.repo.listRow(ctx, projectID, datasetID, q.LabelName)
	if err != nil {
		return listPlan{}, err
	}
	if q.TeamState {
		return listPlan{empty: true}, nil
	}
	ix, err := s.readIndexAt(ctx, r)
	if err != nil {
		return listPlan{}, err
	}
	w, err := buildSampleFilter(r, ix, q)
	if err != nil {
		return listPlan{}, err
	}
	if w.none {
		return listPlan{empty: true}, nil
	}
	count, err := s.countSamples(ctx, r, labelCount, q, w)
	if err != nil {
		return listPlan{}, err
	}
	l := listPlan{filter: w, count: count}
	if q.Marker != "" {
		mseq, err := s.repo.sampleSeq(ctx, r.ID, q.Marker)
		if e, ok := AsError(err); ok && e.Code == CodeSampleNotFound {
			return listPlan{}, badRequest("marker %q is not a sample of the dataset", q.Marker)
		}
		if err != nil {
			return listPlan{}, fmt.Errorf("find marker: %w", err)
		}
		l.marker = &mseq
	}
	return l, nil
}

// parseSampleTime reads "month", "day" or "yyyyMMdd-yyyyMMdd" (at most 30
// days, both ends included) as a millisecond range.
func parseSampleTime(v string, now time.Time) (int64, int64, error) {
	day := 24 * time.Hour
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch v {
	case "month":
		return today.Add(-30 * day).UnixMilli(), today.Add(day).UnixMilli(), nil
	case "day":
		return today.Add(-day).UnixMilli(), today.Add(day).UnixMilli(), nil
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not month, day or yyyyMMdd-yyyyMMdd", v)
	}
	from, err1 := time.Parse("20060102", a)
	to, err2 := time.Parse("20060102", b)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not yyyyMMdd-yyyyMMdd", v)
	}
	if to.Before(from) || to.Sub(from) > 30*day {
		return 0, 0, fmt.Errorf("%q must span 0 to 30 days", v)
	}
	return from.UnixMilli(), to.Add(day).UnixMilli(), nil
}

// countSamples counts matches from counters when the filter allows (state
// and/or one label: labelCount is the counter of the label the filter
// names, read with r, or negative when not read), by an index scan
// otherwise.
func (s *Service) countSamples(ctx context.Context, r *Row, labelCount int64, q SampleQuery, w *sampleFilter) (int64, error) {
	if w.simple {
		if w.label == 0 {
			switch {
			case q.State == nil:
				return r.Total, nil
			case *q.State == StateLabeled:
				return r.Annotated, nil
			case *q.State == StateUnconfirmed:
				return r.Unconfirmed, nil
			}
			return r.Total - r.Annotated - r.Unconfirmed, nil
		}
		if q.State != nil && *q.State == StateUnlabeled {
			return 0, nil // an unlabeled sample carries no label
		}
		n := labelCount
		if n < 0 {
			var err error
			if n, err = s.repo.labelSampleCount(ctx, r.ID, w.label); err != nil {
				return 0, err
			}
		}
		// A sample with a label is labeled or to be confirmed: when the
		// dataset has samples in only one of those states, the label's
		// counter is the answer.
		switch {
		case q.State == nil:
			return n, nil
		case *q.State == StateLabeled && r.Annotated == 0, *q.State == StateUnconfirmed && r.Unconfirmed == 0:
			return 0, nil
		case *q.State == StateLabeled && r.Unconfirmed == 0, *q.State == StateUnconfirmed && r.Annotated == 0:
			return n, nil
		}
	}
	return s.repo.countMatching(ctx, w)
}

// GetSample returns one sample.
//
// A state (sample_state, see ParseSampleState) filters: a sample in another
// state is not found.
func (s *Service) GetSample(ctx context.Context, projectID, datasetID, sampleID string, state *int) (*Sample, error) {
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	sm, err := s.repo.sample(ctx, datasetID, sampleID)
	if err == nil && state != nil && sm.state != *state {
		return nil, errSampleNotFound(sampleID)
	}
	if err != nil {
		return nil, err
	}
	return sm, nil
}

// DeletePlan names the samples a delete removes and, with delete_source,
// the objects it deletes (which the caller authorizes first).
type SampleDeletePlan struct {
	projectID, datasetID string
	IDs                  []string
	// Sources are the stored object sources (obs://…) of the samples found.
	Sources []string
	found   []int64
}

// PlanDeleteSamples finds the samples of a delete; unknown IDs are errors
// of their item (results), not of the request.
func (s *Service) PlanDeleteSamples(ctx context.Context, projectID, datasetID string, ids []string) (*SampleDeletePlan, []error, error) {
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, nil, err
	}
	p := &SampleDeletePlan{projectID: projectID, datasetID: datasetID, IDs: ids}
	errs := make([]error, len(ids))
	for i, id := range ids {
		seq, src, err := s.repo.sampleSource(ctx, datasetID, id)
		if e, ok := AsError(err); ok && e.Code == CodeSampleNotFound {
			errs[i] = err
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		p.found = append(p.found, seq)
		if !strings.HasPrefix(src, ContentScheme) {
			p.Sources = append(p.Sources, src)
		}
	}
	return p, errs, nil
}

// CommitDeleteSamples removes the planned samples and their counters.
func (s *Service) CommitDeleteSamples(ctx context.Context, p *SampleDeletePlan) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		r, err := s.LoadRow(ctx, tx, p.projectID, p.datasetID, true)
		if err != nil {
			return err
		}
		return s.deleteSampleSeqs(ctx, tx, r, p.found, s.now().UnixMilli())
	})
}

// deleteSampleSeqs deletes samples by seq with their label rows and
// counters.
func (s *Service) deleteSampleSeqs(ctx context.Context, tx *sql.Tx, r *Row, seqs []int64, now int64) error {
	delta := newCounterDelta()
	err := s.repo.deleteSamples(ctx, tx, r.ID, seqs, func(e *existingSample) {
		delta.add(sampleChange{existed: true, deleted: true, oldState: e.state, oldHard: e.hard, oldLabels: e.labels})
	})
	if err != nil {
		return err
	}
	return s.repo.applyCounters(ctx, tx, r.ID, delta, r.SampleSeq, now)
}

// LabelUpdate is one item of PUT data-annotations/samples.
type LabelUpdate struct {
	SampleID string
	Labels   []annotation.Label
	Metadata map[string]any // nil: keep
	Usage    string
	Labeler  string
	// Unconfirmed writes the labels as a model's, awaiting a person's
	// confirmation (state AUTO_ANNOTATION) rather than as labeled.
	Unconfirmed bool
	// IfStates, when set, writes only a sample in one of these states: a
	// model's answer must not overwrite what a person labeled meanwhile.
	IfStates []int
}

// UpdateSampleLabels replaces the labels of samples (an empty list removes
// them); items that name no sample or carry invalid labels fail alone.
func (s *Service) UpdateSampleLabels(ctx context.Context, projectID, datasetID string, items []LabelUpdate) ([]error, error) {
	var errs []error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		errs, err = s.updateSampleLabelsTx(ctx, tx, projectID, datasetID, items)
		return err
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

func (s *Service) updateSampleLabelsTx(ctx context.Context, tx *sql.Tx, projectID, datasetID string, items []LabelUpdate) ([]error, error) {
	errs := make([]error, len(items))
	err := func() error {
		r, err := s.LoadRow(ctx, tx, projectID, datasetID, true)
		if err != nil {
			return err
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.SampleID
		}
		existing, err := s.repo.loadExisting(ctx, tx, r.ID, ids)
		if err != nil {
			return err
		}
		seqs := make([]int64, 0, len(existing))
		for _, e := range existing {
			seqs = append(seqs, e.seq)
		}
		docs, err := s.repo.loadDocs(ctx, tx, r.ID, seqs)
		if err != nil {
			return err
		}
		ix, err := s.repo.loadLabelIndex(ctx, tx, r)
		if err != nil {
			return err
		}
		now := s.now().UnixMilli()
		delta := newCounterDelta()
		var pending []pendingRow
		seen := map[string]int{}
		for i, it := range items {
			old := existing[it.SampleID]
			if old == nil {
				errs[i] = errSampleNotFound(it.SampleID)
				continue
			}
			if prev, dup := seen[it.SampleID]; dup {
				errs[i] = Invalid(CodeInvalid, "samples[%d] repeats samples[%d]", i, prev)
				continue
			}
			seen[it.SampleID] = i
			if it.IfStates != nil && !slices.Contains(it.IfStates, old.state) {
				errs[i] = Invalid(CodeInvalid, "sample %s is %s now; it was not overwritten", it.SampleID, StateName(old.state))
				continue
			}
			d := docs[old.seq]
			in := &SampleInput{Labels: it.Labels, Metadata: d.doc.Metadata, Usage: it.Usage, Labeler: it.Labeler}
			if d.content != "" {
				in.Source = ContentScheme + d.content // the text the entity offsets are checked against
			}
			if it.Metadata != nil {
				in.Metadata = it.Metadata
			}
			if in.Usage == "" {
				in.Usage = d.usage
			}
			p, err := s.prepareSample(r, ix, i, in, WriteOptions{Unconfirmed: it.Unconfirmed})
			if err != nil {
				errs[i] = err
				continue
			}
			p.id, p.seq, p.update = it.SampleID, old.seq, true
			p.hadProps, p.keepProps = old.props, it.Metadata == nil
			delta.add(sampleChange{existed: true, oldState: old.state, oldHard: old.hard, oldLabels: old.labels,
				newState: p.state, newHard: p.hard, newLabels: p.labels})
			pending = append(pending, p)
		}
		if err := ix.save(ctx, s.repo, tx, r.ID); err != nil {
			return err
		}
		if err := s.repo.writeRows(ctx, tx, r.ID, pending, now); err != nil {
			return err
		}
		return s.repo.applyCounters(ctx, tx, r.ID, delta, r.SampleSeq, now)
	}()
	if err != nil {
		return nil, err
	}
	return errs, nil
}
