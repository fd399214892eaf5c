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

// repo_query.go holds the SQL of the sample list: the filter a sample
// query becomes (a FROM and WHERE over dataset_samples, driven by one
// label's index rows when it names one), the page chosen from the indexes
// alone (offset as rows, or after a marker), counts, one sample by ID,
// and the selections rooms read in seq order.

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
	sm.derive()
	return &sm, nil
}

// scanSampleKeepDoc reads a sample into sm for a response: its document
// is kept as stored, for AppendJSON to copy, rather than decoded.
func scanSampleKeepDoc(sc scanner, sm *Sample) error {
	*sm = Sample{}
	if err := sc.Scan(&sm.seq, &sm.SampleID, &sm.Stored, &sm.SampleName, &sm.SampleType, &sm.state, &sm.SampleUsage,
		&sm.SampleSize, &sm.SampleTime, &sm.WorkerID, &sm.doc); err != nil {
		return fmt.Errorf("read sample: %w", err)
	}
	sm.docKept = true
	sm.derive()
	return nil
}

// sampleRecordSQLite is sampleColumns as one record (store.RecordSQL),
// for SQLite's pages: a label page read and written in process took
// 350-361 µs instead of 410-469, with 568 allocations instead of 1,388
// (BenchmarkSamplePageResponse/append-page, 200k samples).
var sampleRecordSQLite = store.RecordSQL(
	[]string{"x.seq", "x.sample_type", "x.state", "x.size", "x.sample_time"},
	[]string{"x.id", "x.source", "x.name", "x.usage", "x.labeler", "x.doc"})

// scanSampleRecord reads a row of sampleRecordSQLite into sm, as
// scanSampleKeepDoc reads sampleColumns.
func scanSampleRecord(sc scanner, sm *Sample) error {
	var rec string
	if err := sc.Scan(&rec); err != nil {
		return fmt.Errorf("read sample: %w", err)
	}
	if err := parseSampleRecord(rec, sm); err != nil {
		return fmt.Errorf("read sample: %w", err)
	}
	return nil
}

// parseSampleRecord reads a record of sampleRecordSQLite into sm, its
// strings slices of rec.
func parseSampleRecord(rec string, sm *Sample) error {
	*sm = Sample{}
	var typ, state int64
	err := store.ParseRecord(rec, []*int64{&sm.seq, &typ, &state, &sm.SampleSize, &sm.SampleTime},
		[]*string{&sm.SampleID, &sm.Stored, &sm.SampleName, &sm.SampleUsage, &sm.WorkerID, &sm.doc})
	if err != nil {
		return err // scanSampleRecord says what was being read
	}
	sm.SampleType, sm.state, sm.docKept = int(typ), int(state), true
	sm.derive()
	return nil
}

// derive sets the fields that follow from the stored columns.
func (sm *Sample) derive() {
	sm.SampleStatus = stateNames[sm.state]
	sm.Source = sm.Stored
	if text, ok := strings.CutPrefix(sm.Stored, ContentScheme); ok {
		sm.SampleData = []string{text}
		sm.SampleSize = int64(len(text))
	} else if i := strings.LastIndexByte(sm.Stored, '/'); i >= 0 {
		sm.SampleDir = sm.Stored[:i+1]
	}
}

// sampleFilter is a FROM and WHERE over dataset_samples s, or, when one
// label is asked for, driven by that label's rows of dataset_sample_labels
// l (joined to s only when other conditions need the sample), or, when the
// only search condition is one on attributes, by the attribute rows of
// dataset_sample_props p: key is the sample seq column the page is ordered
// and cut on.
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
	// bounded: one index alone selects the samples (the dataset's, its
	// state's or one label's), so a page reads offset+limit of its
	// entries and no row it does not return.
	bounded bool
	label   int64
	props   *propFilter // the attribute condition that drives the scan
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
	if f.label == 0 && len(q.Conditions) == 1 && q.Conditions[0].onlyMetadata() {
		pf, err := parsePropFilter("search_conditions[0]", q.Conditions[0].Metadata)
		if err != nil {
			return nil, err
		}
		if pf != nil && pf.drives() {
			f.props, f.simple = pf, false
			q.Conditions = nil
		}
	}
	// Attribute conditions need only the seq of the driving rows; the
	// others read the sample row, which a label-driven scan then joins.
	key, rowConds := "s.seq", len(conds) > 1
	if f.label != 0 {
		key = "l.sample_seq"
	}
	var alts []string
	for i, c := range q.Conditions {
		sub, none, err := conditionSQL(fmt.Sprintf("search_conditions[%d]", i), c, ix, key, arg)
		if err != nil {
			return nil, err
		}
		f.simple = false
		rowConds = rowConds || !c.onlyMetadata()
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
		if rowConds {
			f.from += " JOIN dataset_samples s ON s.dataset_id=l.dataset_id AND s.seq=l.sample_seq"
		}
		conds[0] = "l.dataset_id=$1 AND l.label_seq=" + arg(f.label)
		f.join = "JOIN dataset_sample_labels l ON l.dataset_id=s.dataset_id AND l.sample_seq=s.seq"
	} else if f.props != nil {
		// The same for attributes: a sample has one row per attribute, so
		// the rows of the first are the samples, in sample order for one
		// value, and a count never reads a sample row.
		f.key = "p.sample_seq"
		f.from = "dataset_sample_props p"
		if len(conds) > 1 {
			f.from += " JOIN dataset_samples s ON s.dataset_id=p.dataset_id AND s.seq=p.sample_seq"
		}
		conds[0] = "p.dataset_id=$1 AND " + f.props.driverSQL(arg)
		f.join = "JOIN dataset_sample_props p ON p.dataset_id=s.dataset_id AND p.sample_seq=s.seq"
	}
	f.where = strings.Join(conds, " AND ")
	f.bounded = f.simple && (f.label == 0 || q.State == nil)
	return f, nil
}

// conditionSQL turns one search condition into SQL over s (attribute
// conditions over key, the seq of the scan's rows); none reports a
// condition nothing can meet (a label the dataset lacks under AND).
func conditionSQL(field string, c SearchCondition, ix *labelIndex, key string, arg func(any) string) (string, bool, error) {
	var parts []string
	unsupported := map[string]string{"coefficient": c.Coefficient, "import_origin": c.ImportOrigin, "kvp": c.Kvp,
		"parent_sample_id": c.ParentSampleID, "slice_thickness": c.SliceThickness, "study_date": c.StudyDate,
		"time_in_video": c.TimeInVideo}
	for k, v := range unsupported {
		if v != "" {
			return "", false, badRequest("%s.%s: filtering by %s is not supported by Atelier", field, k, k)
		}
	}
	if c.FrameInVideo != nil {
		return "", false, badRequest("%s.frame_in_video: filtering by frame_in_video is not supported by Atelier", field)
	}
	props, err := parsePropFilter(field, c.Metadata)
	if err != nil {
		return "", false, err
	}
	if props != nil {
		parts = append(parts, props.sql(key, arg))
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

// listSamples reads a page of the samples the filter selects, newest
// (highest seq) first unless asc: offset and limit count matching samples
// after the marker's seq when marker is set. The seq page is chosen from
// the indexes alone, then the rows are fetched: an offset walks index
// entries, never whole rows.
func (rp *repo) listSamples(ctx context.Context, w *sampleFilter, asc bool, marker *int64, limit, offset int) ([]*Sample, error) {
	query, args := pageQuery(sampleColumns, w, asc, marker, limit, offset)
	out, err := store.QueryAll(ctx, rp.db, scanSample, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", err)
	}
	return out, nil
}

// eachSample reads the same page as listSamples and calls fn with each
// sample as it is read, its document kept (scanSampleKeepDoc), in one
// Sample that the next row overwrites. On SQLite each row is read as one
// record (sampleRecordSQLite).
//
// A bounded page (w.bounded) is read without ctx's cancellation: it reads
// offset+limit index entries (a millisecond for the first pages, about a
// tenth of a second at the deepest offset of a million samples, at 10 µs
// per hundred entries walked), and watching a context
// costs two goroutines per statement (database/sql's and the driver's)
// and, on two cores, the wake-up of the other: an eighth of a label
// page's query (418 against 480 µs, the query alone on two cores). A
// filtered page may scan the whole dataset and stays cancellable.
func (rp *repo) eachSample(ctx context.Context, w *sampleFilter, asc bool, marker *int64, limit, offset int, fn func(*Sample) error) error {
	columns, scan := sampleColumns, scanSampleKeepDoc
	if rp.db.Engine == store.SQLite {
		columns, scan = sampleRecordSQLite, scanSampleRecord
	}
	if w.bounded {
		ctx = context.WithoutCancel(ctx)
	}
	query, args := pageQuery(columns, w, asc, marker, limit, offset)
	rows, err := rp.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("list samples: %w", err)
	}
	defer rows.Close()
	var sm Sample
	for rows.Next() {
		if err := scan(rows, &sm); err != nil {
			return err
		}
		if err := fn(&sm); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list samples: %w", err)
	}
	return nil
}

// pageQuery is the SQL of a page of the samples w selects, returning
// columns of each (sampleColumns, or sampleRecordSQLite).
func pageQuery(columns string, w *sampleFilter, asc bool, marker *int64, limit, offset int) (string, []any) {
	dir := "DESC"
	cmp := "<"
	if asc {
		dir, cmp = "ASC", ">"
	}
	where, args := w.where, w.args
	if marker != nil {
		args = append(args, *marker)
		where += fmt.Sprintf(" AND %s %s $%d", w.key, cmp, len(args))
	}
	args = append(args, limit, offset)
	query := fmt.Sprintf(`SELECT %s FROM dataset_samples x WHERE x.dataset_id=$1 AND x.seq IN (
		SELECT %s FROM %s WHERE %s ORDER BY %s %s LIMIT $%d OFFSET $%d) ORDER BY x.seq %s`,
		columns, w.key, w.from, where, w.key, dir, len(args)-1, len(args), dir)
	return query, args
}

// countMatching counts the samples the filter selects, by an index scan.
func (rp *repo) countMatching(ctx context.Context, w *sampleFilter) (int64, error) {
	var n int64
	err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+w.from+` WHERE `+w.where, w.args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count samples: %w", err)
	}
	return n, nil
}

// sample reads one sample of the dataset by ID.
func (rp *repo) sample(ctx context.Context, datasetID, sampleID string) (*Sample, error) {
	sm, err := scanSample(rp.db.QueryRowContext(ctx, `SELECT `+sampleColumns+` FROM dataset_samples x
		WHERE x.dataset_id=$1 AND x.id=$2`, datasetID, sampleID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSampleNotFound(sampleID)
	}
	return sm, err
}

// sampleSeq is the seq of a sample of the dataset (a list's marker).
func (rp *repo) sampleSeq(ctx context.Context, datasetID, sampleID string) (int64, error) {
	var seq int64
	err := rp.db.QueryRowContext(ctx, `SELECT seq FROM dataset_samples WHERE dataset_id=$1 AND id=$2`, datasetID, sampleID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errSampleNotFound(sampleID)
	}
	return seq, err
}

// sampleSource is the seq and stored source of a sample of the dataset.
func (rp *repo) sampleSource(ctx context.Context, datasetID, sampleID string) (int64, string, error) {
	var seq int64
	var src string
	err := rp.db.QueryRowContext(ctx, `SELECT seq, source FROM dataset_samples WHERE dataset_id=$1 AND id=$2`, datasetID, sampleID).Scan(&seq, &src)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", errSampleNotFound(sampleID)
	}
	if err != nil {
		return 0, "", fmt.Errorf("find sample %s: %w", sampleID, err)
	}
	return seq, src, nil
}

// samplePage reads up to limit samples of the dataset after seq afterSeq,
// in seq order.
func (rp *repo) samplePage(ctx context.Context, datasetID string, afterSeq int64, limit int) ([]SampleRef, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT seq, id, source FROM dataset_samples WHERE dataset_id=$1 AND seq>$2
		ORDER BY seq LIMIT $3`, datasetID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list the dataset's samples: %w", err)
	}
	defer rows.Close()
	var page []SampleRef
	for rows.Next() {
		var r SampleRef
		if err := rows.Scan(&r.Seq, &r.ID, &r.Source); err != nil {
			return nil, fmt.Errorf("list the dataset's samples: %w", err)
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the dataset's samples: %w", err)
	}
	return page, nil
}

// countSelection counts the samples the filter selects among the first
// maxSeq, by an index scan.
func (rp *repo) countSelection(ctx context.Context, f *sampleFilter, maxSeq int64) (int64, error) {
	args := append(append([]any(nil), f.args...), maxSeq)
	var n int64
	err := rp.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM dataset_samples s %s WHERE %s AND s.seq <= $%d`,
		f.join, f.where, len(args)), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the selected samples: %w", err)
	}
	return n, nil
}

// selectionPage reads up to limit samples the filter selects with a seq in
// (after, maxSeq], in seq order.
func (rp *repo) selectionPage(ctx context.Context, f *sampleFilter, after, maxSeq int64, limit int) ([]StoredSample, error) {
	args := append(append([]any(nil), f.args...), after, maxSeq, limit)
	n := len(f.args)
	rows, err := rp.db.QueryContext(ctx, fmt.Sprintf(`SELECT s.seq, s.id, s.source, s.sample_type, s.state, s.usage,
		s.update_time, s.doc FROM dataset_samples s %s WHERE %s AND s.seq > $%d AND s.seq <= $%d ORDER BY s.seq LIMIT $%d`,
		f.join, f.where, n+1, n+2, n+3), args...)
	if err != nil {
		return nil, fmt.Errorf("read samples after %d: %w", after, err)
	}
	defer rows.Close()
	items := make([]StoredSample, 0, limit)
	var doc []byte
	for rows.Next() {
		var it StoredSample
		if err := rows.Scan(&it.Seq, &it.ID, &it.Source, &it.SampleType, &it.State, &it.Usage, &it.UpdateTime, &doc); err != nil {
			return nil, fmt.Errorf("read samples after %d: %w", after, err)
		}
		var d sampleDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("decode sample %s: %w", it.ID, err)
		}
		it.Labels, it.Metadata = d.Labels, d.Metadata
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read samples after %d: %w", after, err)
	}
	return items, nil
}
