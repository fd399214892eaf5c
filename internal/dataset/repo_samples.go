package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/store"
)

// repo_samples.go holds the SQL of the dataset_samples,
// dataset_sample_labels and dataset_sample_props tables: the batch writers of sample and label rows
// (multi-row statements, chunked, every placeholder from db.Param), the
// loads a write or delete needs of stored samples, and the walks rooms make
// over a dataset. The sample list's filter and page queries are in
// repo_query.go.

// labelers lists up to 1000 labelers of the dataset's samples, by name.
func (rp *repo) labelers(ctx context.Context, datasetID string) ([]string, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT DISTINCT labeler FROM dataset_samples WHERE dataset_id=$1 AND labeler<>'' ORDER BY labeler LIMIT 1000`, datasetID)
	if err != nil {
		return nil, fmt.Errorf("list labelers: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("list labelers: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

const insertBatch = 256

// writeRows updates replaced samples and rewrites their label rows, and
// their attribute rows unless their metadata is kept.
func (rp *repo) writeRows(ctx context.Context, tx *sql.Tx, datasetID string, rows []pendingRow, now int64) error {
	touched := make([]int64, 0, len(rows))
	var cleared []int64
	for i := range rows {
		p := &rows[i]
		touched = append(touched, p.seq)
		if p.hadProps && !p.keepProps {
			cleared = append(cleared, p.seq)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dataset_samples SET state=$3, usage=$4, update_time=$5, labeler=$6, hard=$7,
			score=$8, doc=$9 WHERE dataset_id=$1 AND seq=$2`, datasetID, p.seq, p.state, p.in.Usage, now, p.in.Labeler,
			p.hard, p.score, p.doc); err != nil {
			return fmt.Errorf("update sample %s: %w", p.id, err)
		}
	}
	if err := rp.deleteLabelRows(ctx, tx, datasetID, touched); err != nil {
		return err
	}
	if err := rp.insertLabelRows(ctx, tx, datasetID, rows); err != nil {
		return err
	}
	if err := rp.deletePropRows(ctx, tx, datasetID, cleared); err != nil {
		return err
	}
	return rp.insertPropRows(ctx, tx, datasetID, rows)
}

// sampleCopyColumns are dataset_samples' columns in the order insertRows
// writes them.
var sampleCopyColumns = []string{"dataset_id", "seq", "id", "source", "name", "sample_type", "state", "usage", "size",
	"sample_time", "create_time", "update_time", "labeler", "hard", "score", "doc"}

// sampleValues are one pending row's values in sampleCopyColumns' order.
func sampleValues(datasetID string, p *pendingRow, now int64) []any {
	name := p.in.Name
	if name == "" {
		name = SampleName(p.in.Source)
	}
	return []any{datasetID, p.seq, p.id, p.in.Source, name, p.in.SampleType, p.state, p.in.Usage, p.in.Size,
		p.in.SampleTime, now, now, p.in.Labeler, p.hard, p.score, p.doc}
}

// insertRows inserts samples, skipping those whose sample_id the dataset
// already has, and returns the seqs inserted: with COPY into a staging
// table on PostgreSQL when the transaction is a bulk writer's, else in
// multi-row statements.
func (rp *repo) insertRows(ctx context.Context, tx *sql.Tx, datasetID string, rows []pendingRow, now int64) (map[int64]bool, error) {
	if inserted, ok, err := rp.copyRows(ctx, tx, datasetID, rows, now); ok || err != nil {
		return inserted, err
	}
	const cols = 16
	inserted := make(map[int64]bool, len(rows))
	var b strings.Builder
	for start := 0; start < len(rows); start += insertBatch {
		chunk := rows[start:min(start+insertBatch, len(rows))]
		b.Reset()
		b.WriteString(`INSERT INTO dataset_samples (dataset_id, seq, id, source, name, sample_type, state, usage, size,
			sample_time, create_time, update_time, labeler, hard, score, doc) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := 0; c < cols; c++ {
				if c > 0 {
					b.WriteByte(',')
				}
				b.WriteString(rp.db.Param(i*cols + c + 1))
			}
			b.WriteByte(')')
			args = append(args, sampleValues(datasetID, &chunk[i], now)...)
		}
		b.WriteString(` ON CONFLICT (dataset_id, id) DO NOTHING RETURNING seq`)
		res, err := tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("insert samples: %w", err)
		}
		for res.Next() {
			var seq int64
			if err := res.Scan(&seq); err != nil {
				res.Close()
				return nil, fmt.Errorf("insert samples: %w", err)
			}
			inserted[seq] = true
		}
		res.Close()
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("insert samples: %w", err)
		}
	}
	return inserted, nil
}

// copyRows is insertRows by COPY, on PostgreSQL in a bulk writer's
// transaction (ok false elsewhere): the rows go into a session-local staging
// table, and one INSERT … SELECT moves those whose sample_id is new, so that
// a sample already there is skipped as the multi-row INSERT skips it.
func (rp *repo) copyRows(ctx context.Context, tx *sql.Tx, datasetID string, rows []pendingRow, now int64) (map[int64]bool, bool, error) {
	if rp.db.Engine != store.Postgres || len(rows) == 0 {
		return nil, false, nil
	}
	values := make([][]any, len(rows))
	for i := range rows {
		values[i] = sampleValues(datasetID, &rows[i], now)
	}
	// The staging table lives as long as the connection and empties at
	// each commit; a batch that fails rolls its rows back with it.
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS dataset_samples_stage
		(LIKE dataset_samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
		return nil, true, fmt.Errorf("insert samples: staging table: %w", err)
	}
	if _, ok, err := rp.db.CopyFrom(ctx, tx, "dataset_samples_stage", sampleCopyColumns, values); !ok || err != nil {
		if err != nil {
			return nil, true, fmt.Errorf("insert samples: %w", err)
		}
		return nil, false, nil
	}
	cols := strings.Join(sampleCopyColumns, ", ")
	res, err := tx.QueryContext(ctx, `INSERT INTO dataset_samples (`+cols+`) SELECT `+cols+` FROM dataset_samples_stage
		ON CONFLICT (dataset_id, id) DO NOTHING RETURNING seq`)
	if err != nil {
		return nil, true, fmt.Errorf("insert samples: %w", err)
	}
	defer res.Close()
	inserted := make(map[int64]bool, len(rows))
	for res.Next() {
		var seq int64
		if err := res.Scan(&seq); err != nil {
			return nil, true, fmt.Errorf("insert samples: %w", err)
		}
		inserted[seq] = true
	}
	if err := res.Err(); err != nil {
		return nil, true, fmt.Errorf("insert samples: %w", err)
	}
	res.Close()
	if _, err := tx.ExecContext(ctx, `TRUNCATE dataset_samples_stage`); err != nil {
		return nil, true, fmt.Errorf("insert samples: empty the staging table: %w", err)
	}
	return inserted, true, nil
}

func (rp *repo) deleteLabelRows(ctx context.Context, tx *sql.Tx, datasetID string, seqs []int64) error {
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(rp.db, []any{datasetID}, chunk)
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_sample_labels WHERE dataset_id=`+rp.db.Param(1)+` AND sample_seq IN (`+
			in+`)`, args...); err != nil {
			return fmt.Errorf("clear sample labels: %w", err)
		}
	}
	return nil
}

func (rp *repo) insertLabelRows(ctx context.Context, tx *sql.Tx, datasetID string, rows []pendingRow) error {
	type lr struct {
		label, sample int64
		n             int
	}
	var all []lr
	for _, p := range rows {
		for l, n := range p.labels {
			all = append(all, lr{l, p.seq, n})
		}
	}
	if len(all) > 0 && rp.db.Engine == store.Postgres {
		values := make([][]any, len(all))
		for i, x := range all {
			values[i] = []any{datasetID, x.label, x.sample, x.n}
		}
		if _, ok, err := rp.db.CopyFrom(ctx, tx, "dataset_sample_labels", []string{"dataset_id", "label_seq", "sample_seq", "n"}, values); ok || err != nil {
			if err != nil {
				return fmt.Errorf("index sample labels: %w", err)
			}
			return nil
		}
	}
	const per = 1000
	for start := 0; start < len(all); start += per {
		chunk := all[start:min(start+per, len(all))]
		var b strings.Builder
		b.WriteString(`INSERT INTO dataset_sample_labels (dataset_id, label_seq, sample_seq, n) VALUES `)
		args := make([]any, 0, len(chunk)*4)
		for i, x := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%s,%s,%s,%s)", rp.db.Param(i*4+1), rp.db.Param(i*4+2), rp.db.Param(i*4+3), rp.db.Param(i*4+4))
			args = append(args, datasetID, x.label, x.sample, x.n)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("index sample labels: %w", err)
		}
	}
	return nil
}

// deletePropRows removes the attribute rows of samples whose metadata is
// replaced.
func (rp *repo) deletePropRows(ctx context.Context, tx *sql.Tx, datasetID string, seqs []int64) error {
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(rp.db, []any{datasetID}, chunk)
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_sample_props WHERE dataset_id=`+rp.db.Param(1)+` AND sample_seq IN (`+
			in+`)`, args...); err != nil {
			return fmt.Errorf("clear sample attributes: %w", err)
		}
	}
	return nil
}

// insertPropRows indexes the attributes of rows whose metadata is written
// (not kept), in multi-row statements; rows without any cost nothing.
func (rp *repo) insertPropRows(ctx context.Context, tx *sql.Tx, datasetID string, rows []pendingRow) error {
	type pr struct {
		sample int64
		sampleProp
	}
	var all []pr
	for _, p := range rows {
		if p.keepProps {
			continue
		}
		for _, a := range p.props {
			all = append(all, pr{p.seq, a})
		}
	}
	const per = 1000
	for start := 0; start < len(all); start += per {
		chunk := all[start:min(start+per, len(all))]
		var b strings.Builder
		b.WriteString(`INSERT INTO dataset_sample_props (dataset_id, sample_seq, name, value) VALUES `)
		args := make([]any, 0, len(chunk)*4)
		for i, x := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%s,%s,%s,%s)", rp.db.Param(i*4+1), rp.db.Param(i*4+2), rp.db.Param(i*4+3), rp.db.Param(i*4+4))
			args = append(args, datasetID, x.sample, x.name, x.value)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("index sample attributes: %w", err)
		}
	}
	return nil
}

// seqList appends seqs to args and returns their placeholders for an IN
// list. Every other placeholder of the statement must come from db.Param
// too, in argument order: SQLite numbers bare placeholders by position, and
// a statement mixing them with $n relies on how it numbers the mix.
func seqList(db *store.DB, args []any, seqs []int64) (string, []any) {
	ph := make([]string, len(seqs))
	for i, s := range seqs {
		args = append(args, s)
		ph[i] = db.Param(len(args))
	}
	return strings.Join(ph, ","), args
}

// loadExisting finds which of ids are stored, with their label counts and
// whether they have attribute rows.
func (rp *repo) loadExisting(ctx context.Context, tx *sql.Tx, datasetID string, ids []string) (map[string]*existingSample, error) {
	out := map[string]*existingSample{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			ph[i] = rp.db.Param(i + 1)
		}
		args = append(args, datasetID)
		// The IDs drive the join (CROSS JOIN keeps them the outer loop on
		// SQLite) and each probes the (dataset_id, id) index: without
		// statistics SQLite answers "dataset_id=? AND id IN (…)" by
		// scanning the dataset's rows.
		rows, err := tx.QueryContext(ctx, `SELECT s.id, s.seq, s.state, s.hard, EXISTS (SELECT 1 FROM dataset_sample_props p
			WHERE p.dataset_id=s.dataset_id AND p.sample_seq=s.seq) FROM (VALUES (`+strings.Join(ph, "),(")+
			`)) AS v CROSS JOIN dataset_samples s WHERE s.dataset_id=`+rp.db.Param(len(chunk)+1)+` AND s.id=v.column1`, args...)
		if err != nil {
			return nil, fmt.Errorf("find existing samples: %w", err)
		}
		bySeq := map[int64]*existingSample{}
		for rows.Next() {
			var id string
			var e existingSample
			if err := rows.Scan(&id, &e.seq, &e.state, &e.hard, &e.props); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find existing samples: %w", err)
			}
			e.labels = map[int64]int{}
			out[id] = &e
			bySeq[e.seq] = &e
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if err := rp.loadSampleLabels(ctx, tx, datasetID, bySeq); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (rp *repo) loadSampleLabels(ctx context.Context, tx *sql.Tx, datasetID string, bySeq map[int64]*existingSample) error {
	if len(bySeq) == 0 {
		return nil
	}
	seqs := make([]int64, 0, len(bySeq))
	for seq := range bySeq {
		seqs = append(seqs, seq)
	}
	in, args := seqList(rp.db, []any{datasetID}, seqs)
	rows, err := tx.QueryContext(ctx, `SELECT sample_seq, label_seq, n FROM dataset_sample_labels
		WHERE dataset_id=`+rp.db.Param(1)+` AND sample_seq IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("load sample labels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, l int64
		var n int
		if err := rows.Scan(&s, &l, &n); err != nil {
			return fmt.Errorf("load sample labels: %w", err)
		}
		bySeq[s].labels[l] = n
	}
	return rows.Err()
}

// onlyLabelled finds the samples whose every label is one of seqs: the
// samples a label delete with samples removes.
func (rp *repo) onlyLabelled(ctx context.Context, q querier, datasetID string, seqs []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(seqs) == 0 {
		return out, nil
	}
	in, args := seqList(rp.db, []any{datasetID}, seqs)
	// The list is written twice; on SQLite bare placeholders are positional,
	// so the second copy takes its own arguments.
	notIn, args := seqList(rp.db, args, seqs)
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT s.seq, s.source FROM dataset_sample_labels l
		JOIN dataset_samples s ON s.dataset_id=l.dataset_id AND s.seq=l.sample_seq
		WHERE l.dataset_id=`+rp.db.Param(1)+` AND l.label_seq IN (`+in+`) AND NOT EXISTS (SELECT 1 FROM dataset_sample_labels o
			WHERE o.dataset_id=l.dataset_id AND o.sample_seq=l.sample_seq AND o.label_seq NOT IN (`+notIn+`))`, args...)
	if err != nil {
		return nil, fmt.Errorf("find samples with only the deleted labels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var src string
		if err := rows.Scan(&seq, &src); err != nil {
			return nil, fmt.Errorf("find samples with only the deleted labels: %w", err)
		}
		out[seq] = src
	}
	return out, rows.Err()
}

// samplesWithLabels loads the samples carrying any of the label seqs with
// their current label counts.
func (rp *repo) samplesWithLabels(ctx context.Context, tx *sql.Tx, datasetID string, seqs []int64) (map[int64]*existingSample, error) {
	out := map[int64]*existingSample{}
	if len(seqs) == 0 {
		return out, nil
	}
	in, args := seqList(rp.db, []any{datasetID}, seqs)
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT s.seq, s.state, s.hard FROM dataset_sample_labels l
		JOIN dataset_samples s ON s.dataset_id=l.dataset_id AND s.seq=l.sample_seq
		WHERE l.dataset_id=`+rp.db.Param(1)+` AND l.label_seq IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("find samples with the changed labels: %w", err)
	}
	for rows.Next() {
		var e existingSample
		if err := rows.Scan(&e.seq, &e.state, &e.hard); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find samples with the changed labels: %w", err)
		}
		e.labels = map[int64]int{}
		out[e.seq] = &e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Their label counts, in chunks (a label may be on many samples).
	all := make([]int64, 0, len(out))
	for seq := range out {
		all = append(all, seq)
	}
	for start := 0; start < len(all); start += 500 {
		chunk := map[int64]*existingSample{}
		for _, seq := range all[start:min(start+500, len(all))] {
			chunk[seq] = out[seq]
		}
		if err := rp.loadSampleLabels(ctx, tx, datasetID, chunk); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type storedSampleDoc struct {
	doc     sampleDoc
	content string
	usage   string
}

func (rp *repo) loadDocs(ctx context.Context, tx *sql.Tx, datasetID string, seqs []int64) (map[int64]storedSampleDoc, error) {
	out := map[int64]storedSampleDoc{}
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(rp.db, []any{datasetID}, chunk)
		rows, err := tx.QueryContext(ctx, `SELECT seq, source, usage, doc FROM dataset_samples WHERE dataset_id=`+rp.db.Param(1)+` AND seq IN (`+
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

// deleteSamples deletes samples of the dataset by seq with their label
// and attribute rows, in chunks; removed is given each one as it was, with its label
// counts, for the caller's counters.
func (rp *repo) deleteSamples(ctx context.Context, tx *sql.Tx, datasetID string, seqs []int64, removed func(*existingSample)) error {
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(rp.db, []any{datasetID}, chunk)
		rows, err := tx.QueryContext(ctx, `SELECT seq, state, hard, EXISTS (SELECT 1 FROM dataset_sample_props p
			WHERE p.dataset_id=s.dataset_id AND p.sample_seq=s.seq) FROM dataset_samples s WHERE dataset_id=`+rp.db.Param(1)+` AND seq IN (`+in+`)`, args...)
		if err != nil {
			return fmt.Errorf("load samples: %w", err)
		}
		bySeq := map[int64]*existingSample{}
		props := false
		for rows.Next() {
			var e existingSample
			if err := rows.Scan(&e.seq, &e.state, &e.hard, &e.props); err != nil {
				rows.Close()
				return fmt.Errorf("load samples: %w", err)
			}
			e.labels = map[int64]int{}
			bySeq[e.seq] = &e
			props = props || e.props
		}
		rows.Close()
		if err := rp.loadSampleLabels(ctx, tx, datasetID, bySeq); err != nil {
			return err
		}
		for _, e := range bySeq {
			removed(e)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_sample_labels WHERE dataset_id=`+rp.db.Param(1)+` AND sample_seq IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("delete sample labels: %w", err)
		}
		if props {
			if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_sample_props WHERE dataset_id=`+rp.db.Param(1)+` AND sample_seq IN (`+in+`)`, args...); err != nil {
				return fmt.Errorf("delete sample attributes: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_samples WHERE dataset_id=`+rp.db.Param(1)+` AND seq IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("delete samples: %w", err)
		}
	}
	return nil
}
