package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/store"
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
	r, err := s.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return 0, nil, err
	}
	if q.TeamState {
		return 0, []*Sample{}, nil
	}
	ix, err := s.repo.loadLabelIndex(ctx, s.db, r)
	if err != nil {
		return 0, nil, err
	}
	w, err := buildSampleFilter(r, ix, q)
	if err != nil {
		return 0, nil, err
	}
	if w.none {
		return 0, []*Sample{}, nil
	}
	count, err := s.countSamples(ctx, r, ix, q, w)
	if err != nil {
		return 0, nil, err
	}
	dir := "DESC"
	cmp := "<"
	if q.Asc {
		dir, cmp = "ASC", ">"
	}
	where, args := w.where, w.args
	if q.Marker != "" {
		var mseq int64
		err := s.db.QueryRowContext(ctx, `SELECT seq FROM dataset_samples WHERE dataset_id=$1 AND id=$2`, r.ID, q.Marker).Scan(&mseq)
		if err == sql.ErrNoRows {
			return 0, nil, badRequest("marker %q is not a sample of the dataset", q.Marker)
		}
		if err != nil {
			return 0, nil, fmt.Errorf("find marker: %w", err)
		}
		args = append(args, mseq)
		where += fmt.Sprintf(" AND %s %s $%d", w.key, cmp, len(args))
	}
	args = append(args, q.Limit, q.Offset)
	// The seq page is chosen from the indexes alone, then the rows are
	// fetched: an offset walks index entries, never whole rows.
	query := fmt.Sprintf(`SELECT %s FROM dataset_samples x WHERE x.dataset_id=$1 AND x.seq IN (
		SELECT %s FROM %s WHERE %s ORDER BY %s %s LIMIT $%d OFFSET $%d) ORDER BY x.seq %s`,
		sampleColumns, w.key, w.from, where, w.key, dir, len(args)-1, len(args), dir)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list samples: %w", err)
	}
	defer rows.Close()
	out := []*Sample{}
	for rows.Next() {
		sm, err := scanSample(rows)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, sm)
	}
	return count, out, rows.Err()
}

const sampleColumns = `x.seq, x.id, x.source, x.name, x.sample_type, x.state, x.usage, x.size, x.sample_time, x.labeler, x.doc`

func scanSample(sc scanner) (*Sample, error) {
	var sm Sample
	var data string
	if err := sc.Scan(&sm.seq, &sm.SampleID, &sm.Stored, &sm.SampleName, &sm.SampleType, &sm.state, &sm.SampleUsage,
		&sm.SampleSize, &sm.SampleTime, &sm.WorkerID, &data); err != nil {
		return nil, fmt.Errorf("read sample: %w", err)
	}
	var d sampleDoc
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("decode sample %s: %w", sm.SampleID, err)
	}
	sm.Labels, sm.Metadata = d.Labels, d.Metadata
	if sm.Labels == nil {
		sm.Labels = []annotation.Label{}
	}
	if sm.Metadata == nil {
		sm.Metadata = map[string]any{}
	}
	sm.SampleStatus = stateNames[sm.state]
	sm.Source = sm.Stored
	if text, ok := strings.CutPrefix(sm.Stored, ContentScheme); ok {
		sm.SampleData = []string{text}
		sm.SampleSize = int64(len(text))
	} else if i := strings.LastIndexByte(sm.Stored, '/'); i >= 0 {
		sm.SampleDir = sm.Stored[:i+1]
	}
	return &sm, nil
}

// sampleFilter is a FROM and WHERE over dataset_samples s, or, when one
// label is asked for, driven by that label's rows of dataset_sample_labels
// l (joined to s only when other conditions need the sample): key is the
// sample seq column the page is ordered and cut on.
type sampleFilter struct {
	from string
	key  string
	// join is the same filter as a join onto "dataset_samples s", for
	// callers that scan samples by s.seq (exports' keyset scans).
	join   string
	where  string
	args   []any
	none   bool // a condition no sample can meet (an unknown label)
	simple bool // only dataset, state and one label: counters answer the count
	label  int64
}

func buildSampleFilter(r *Row, ix *labelIndex, q SampleQuery) (*sampleFilter, error) {
	f := &sampleFilter{args: []any{r.ID}, simple: true}
	conds := []string{"s.dataset_id=$1"}
	arg := func(v any) string {
		f.args = append(f.args, v)
		return fmt.Sprintf("$%d", len(f.args))
	}
	if q.State != nil {
		conds = append(conds, "s.state="+arg(*q.State))
	}
	if q.LabelName != "" {
		ref, ok := ix.byName[q.LabelName]
		if !ok || (q.LabelType != nil && *q.LabelType != ref.typ) {
			f.none = true
			return f, nil
		}
		f.label = ref.seq
	} else if q.LabelType != nil {
		conds = append(conds, "EXISTS (SELECT 1 FROM dataset_sample_labels t JOIN dataset_labels d ON d.dataset_id=t.dataset_id AND d.seq=t.label_seq WHERE t.dataset_id=s.dataset_id AND t.sample_seq=s.seq AND d.type="+arg(*q.LabelType)+")")
		f.simple = false
	}
	if q.SampleType != nil {
		conds = append(conds, "s.sample_type="+arg(*q.SampleType))
		f.simple = false
	}
	if q.LowScore != nil {
		conds = append(conds, "s.score>="+arg(*q.LowScore))
		f.simple = false
	}
	if q.HighScore != nil {
		conds = append(conds, "s.score<="+arg(*q.HighScore))
		f.simple = false
	}
	if len(q.IDs) > 0 {
		ph := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			ph[i] = arg(id)
		}
		conds = append(conds, "s.id IN ("+strings.Join(ph, ",")+")")
		f.simple = false
	}
	var alts []string
	for i, c := range q.Conditions {
		sub, none, err := conditionSQL(fmt.Sprintf("search_conditions[%d]", i), c, ix, arg)
		if err != nil {
			return nil, err
		}
		f.simple = false
		if none {
			if !q.Any {
				f.none = true
				return f, nil
			}
			continue
		}
		if sub == "" {
			sub = "1=1"
		}
		alts = append(alts, "("+sub+")")
	}
	if len(q.Conditions) > 0 {
		if len(alts) == 0 {
			f.none = true
			return f, nil
		}
		joiner := " AND "
		if q.Any {
			joiner = " OR "
		}
		conds = append(conds, "("+strings.Join(alts, joiner)+")")
	}
	f.from, f.key = "dataset_samples s", "s.seq"
	if f.label != 0 {
		// The label's rows drive the scan: they are in sample order and
		// narrow, so an offset skips index entries, not sample rows.
		f.key = "l.sample_seq"
		f.from = "dataset_sample_labels l"
		if len(conds) > 1 {
			f.from += " JOIN dataset_samples s ON s.dataset_id=l.dataset_id AND s.seq=l.sample_seq"
		}
		conds[0] = "l.dataset_id=$1 AND l.label_seq=" + arg(f.label)
		f.join = "JOIN dataset_sample_labels l ON l.dataset_id=s.dataset_id AND l.sample_seq=s.seq"
	}
	f.where = strings.Join(conds, " AND ")
	return f, nil
}

// conditionSQL turns one search condition into SQL over s; none reports a
// condition nothing can meet (a label the dataset lacks under AND).
func conditionSQL(field string, c SearchCondition, ix *labelIndex, arg func(any) string) (string, bool, error) {
	var parts []string
	unsupported := map[string]string{"coefficient": c.Coefficient, "import_origin": c.ImportOrigin, "kvp": c.Kvp,
		"parent_sample_id": c.ParentSampleID, "slice_thickness": c.SliceThickness, "study_date": c.StudyDate,
		"time_in_video": c.TimeInVideo}
	for k, v := range unsupported {
		if v != "" {
			return "", false, badRequest("%s.%s: filtering by %s is not supported by Atelier", field, k, k)
		}
	}
	if c.FrameInVideo != nil || len(c.Metadata) > 0 && string(c.Metadata) != "null" && string(c.Metadata) != "{}" {
		return "", false, badRequest("%s: frame_in_video and metadata filters are not supported by Atelier", field)
	}
	if ll := c.LabelList; ll != nil && len(ll.Labels) > 0 {
		op := strings.ToUpper(ll.Op)
		if op == "" {
			op = "OR"
		}
		if op != "OR" && op != "AND" {
			return "", false, badRequest("%s.label_list.op must be OR or AND", field)
		}
		var seqs []string
		for j, l := range ll.Labels {
			if len(l.Property) > 0 {
				return "", false, badRequest("%s.label_list.labels[%d].property: filtering by label properties is not supported by Atelier", field, j)
			}
			ref, ok := ix.byName[l.Name]
			if !ok || (l.Type != nil && *l.Type != ref.typ) {
				if op == "AND" {
					return "", true, nil
				}
				continue
			}
			seqs = append(seqs, arg(ref.seq))
		}
		if len(seqs) == 0 {
			return "", true, nil
		}
		if op == "OR" {
			parts = append(parts, "s.seq IN (SELECT sample_seq FROM dataset_sample_labels WHERE dataset_id=s.dataset_id AND label_seq IN ("+strings.Join(seqs, ",")+"))")
		} else {
			for _, a := range seqs {
				parts = append(parts, "EXISTS (SELECT 1 FROM dataset_sample_labels WHERE dataset_id=s.dataset_id AND sample_seq=s.seq AND label_seq="+a+")")
			}
		}
	}
	if c.Labeler != "" {
		parts = append(parts, "s.labeler="+arg(c.Labeler))
	}
	if c.Hard != "" {
		switch c.Hard {
		case "0", "1":
			parts = append(parts, "s.hard="+arg(map[string]int{"0": 0, "1": 1}[c.Hard]))
		default:
			return "", false, badRequest("%s.hard must be 0 or 1", field)
		}
	}
	if c.SampleName != "" {
		parts = append(parts, `s.name LIKE `+arg("%"+escapeLike(c.SampleName)+"%")+` ESCAPE '\'`)
	}
	if c.SampleDir != "" {
		if !strings.HasSuffix(c.SampleDir, "/") {
			return "", false, badRequest("%s.sample_dir must end with /", field)
		}
		dir := c.SampleDir
		if p, err := ParseDir(field+".sample_dir", dir); err == nil {
			dir = "obs://" + p.Bucket + "/" + p.Key
		}
		parts = append(parts, `s.source LIKE `+arg(escapeLike(dir)+"%")+` ESCAPE '\' AND s.source NOT LIKE `+arg(escapeLike(dir)+"%/%")+` ESCAPE '\'`)
	}
	if c.SampleTime != "" {
		from, to, err := parseSampleTime(c.SampleTime, time.Now())
		if err != nil {
			return "", false, badRequest("%s.sample_time: %v", field, err)
		}
		parts = append(parts, "s.sample_time>="+arg(from)+" AND s.sample_time<"+arg(to))
	}
	if c.Score != "" {
		var lo, hi float64
		if _, err := fmt.Sscanf(c.Score, "%g-%g", &lo, &hi); err != nil || lo > hi {
			return "", false, badRequest("%s.score must be low-high, for example 0.5-1", field)
		}
		parts = append(parts, "s.score>="+arg(lo)+" AND s.score<="+arg(hi))
	}
	return strings.Join(parts, " AND "), false, nil
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
// and/or one label), by an index scan otherwise.
func (s *Service) countSamples(ctx context.Context, r *Row, ix *labelIndex, q SampleQuery, w *sampleFilter) (int64, error) {
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
		var n int64
		err := s.db.QueryRowContext(ctx, `SELECT sample_count FROM dataset_labels WHERE dataset_id=$1 AND seq=$2`, r.ID, w.label).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count samples: %w", err)
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
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+w.from+` WHERE `+w.where, w.args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count samples: %w", err)
	}
	return n, nil
}

// GetSample returns one sample.
//
// A state (sample_state, see ParseSampleState) filters: a sample in another
// state is not found.
func (s *Service) GetSample(ctx context.Context, projectID, datasetID, sampleID string, state *int) (*Sample, error) {
	if _, err := s.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	sm, err := scanSample(s.db.QueryRowContext(ctx, `SELECT `+sampleColumns+` FROM dataset_samples x
		WHERE x.dataset_id=$1 AND x.id=$2`, datasetID, sampleID))
	if errors.Is(err, sql.ErrNoRows) || err == nil && state != nil && sm.state != *state {
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
		var seq int64
		var src string
		err := s.db.QueryRowContext(ctx, `SELECT seq, source FROM dataset_samples WHERE dataset_id=$1 AND id=$2`, datasetID, id).Scan(&seq, &src)
		if err == sql.ErrNoRows {
			errs[i] = errSampleNotFound(id)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("find sample %s: %w", id, err)
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
		return deleteSampleSeqs(ctx, s.db, tx, r, p.found, s.now().UnixMilli())
	})
}

// deleteSampleSeqs deletes samples by seq with their label rows and
// counters.
func deleteSampleSeqs(ctx context.Context, db *store.DB, tx *sql.Tx, r *Row, seqs []int64, now int64) error {
	delta := newCounterDelta()
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(db, []any{r.ID}, chunk)
		rows, err := tx.QueryContext(ctx, `SELECT seq, state, hard FROM dataset_samples WHERE dataset_id=`+db.Param(1)+` AND seq IN (`+in+`)`, args...)
		if err != nil {
			return fmt.Errorf("load samples: %w", err)
		}
		bySeq := map[int64]*existingSample{}
		for rows.Next() {
			var e existingSample
			if err := rows.Scan(&e.seq, &e.state, &e.hard); err != nil {
				rows.Close()
				return fmt.Errorf("load samples: %w", err)
			}
			e.labels = map[int64]int{}
			bySeq[e.seq] = &e
		}
		rows.Close()
		if err := loadSampleLabels(ctx, db, tx, r.ID, bySeq); err != nil {
			return err
		}
		for _, e := range bySeq {
			delta.add(sampleChange{existed: true, deleted: true, oldState: e.state, oldHard: e.hard, oldLabels: e.labels})
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_sample_labels WHERE dataset_id=$1 AND sample_seq IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("delete sample labels: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_samples WHERE dataset_id=`+db.Param(1)+` AND seq IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("delete samples: %w", err)
		}
	}
	return (&repo{db: db}).applyCounters(ctx, tx, r.ID, delta, r.SampleSeq, now)
}

// LabelUpdate is one item of PUT data-annotations/samples.
type LabelUpdate struct {
	SampleID string
	Labels   []annotation.Label
	Metadata map[string]any // nil: keep
	Usage    string
	Labeler  string
}

// UpdateSampleLabels replaces the labels of samples (an empty list removes
// them); items that name no sample or carry invalid labels fail alone.
func (s *Service) UpdateSampleLabels(ctx context.Context, projectID, datasetID string, items []LabelUpdate) ([]error, error) {
	errs := make([]error, len(items))
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for i := range errs {
			errs[i] = nil
		}
		r, err := s.LoadRow(ctx, tx, projectID, datasetID, true)
		if err != nil {
			return err
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.SampleID
		}
		existing, err := loadExisting(ctx, s.db, tx, r.ID, ids)
		if err != nil {
			return err
		}
		seqs := make([]int64, 0, len(existing))
		for _, e := range existing {
			seqs = append(seqs, e.seq)
		}
		docs, err := loadDocs(ctx, s.db, tx, r.ID, seqs)
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
			p, err := s.prepareSample(r, ix, i, in, WriteOptions{})
			if err != nil {
				errs[i] = err
				continue
			}
			p.id, p.seq, p.update = it.SampleID, old.seq, true
			delta.add(sampleChange{existed: true, oldState: old.state, oldHard: old.hard, oldLabels: old.labels,
				newState: p.state, newHard: p.hard, newLabels: p.labels})
			pending = append(pending, p)
		}
		if err := ix.save(ctx, s.repo, tx, r.ID); err != nil {
			return err
		}
		if err := writeRows(ctx, s.db, tx, r.ID, pending, now); err != nil {
			return err
		}
		return s.repo.applyCounters(ctx, tx, r.ID, delta, r.SampleSeq, now)
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

type storedSampleDoc struct {
	doc     sampleDoc
	content string
	usage   string
}

func loadDocs(ctx context.Context, db *store.DB, tx *sql.Tx, datasetID string, seqs []int64) (map[int64]storedSampleDoc, error) {
	out := map[int64]storedSampleDoc{}
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(db, []any{datasetID}, chunk)
		rows, err := tx.QueryContext(ctx, `SELECT seq, source, usage, doc FROM dataset_samples WHERE dataset_id=`+db.Param(1)+` AND seq IN (`+
			in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load samples: %w", err)
		}
		for rows.Next() {
			var seq int64
			var src, usage, data string
			if err := rows.Scan(&seq, &src, &usage, &data); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load samples: %w", err)
			}
			var d storedSampleDoc
			if err := json.Unmarshal([]byte(data), &d.doc); err != nil {
				rows.Close()
				return nil, fmt.Errorf("decode sample: %w", err)
			}
			d.content, _ = strings.CutPrefix(src, ContentScheme)
			if d.content == src {
				d.content = ""
			}
			d.usage = usage
			out[seq] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
