package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/atelier-dev/atelier/internal/store"
)

// The sample and label rows a write stores, in multi-row statements.

const insertBatch = 256

// writeRows updates replaced samples and rewrites their label rows.
func writeRows(ctx context.Context, db *store.DB, tx *sql.Tx, datasetID string, rows []pendingRow, now int64) error {
	touched := make([]int64, 0, len(rows))
	for i := range rows {
		p := &rows[i]
		touched = append(touched, p.seq)
		if _, err := tx.ExecContext(ctx, `UPDATE dataset_samples SET state=$3, usage=$4, update_time=$5, labeler=$6, hard=$7,
			score=$8, doc=$9 WHERE dataset_id=$1 AND seq=$2`, datasetID, p.seq, p.state, p.in.Usage, now, p.in.Labeler,
			p.hard, p.score, p.doc); err != nil {
			return fmt.Errorf("update sample %s: %w", p.id, err)
		}
	}
	if err := deleteLabelRows(ctx, db, tx, datasetID, touched); err != nil {
		return err
	}
	return insertLabelRows(ctx, db, tx, datasetID, rows)
}

// insertRows inserts samples in multi-row statements, skipping those whose
// sample_id the dataset already has, and returns the seqs inserted.
func insertRows(ctx context.Context, db *store.DB, tx *sql.Tx, datasetID string, rows []pendingRow, now int64) (map[int64]bool, error) {
	const cols = 16
	inserted := make(map[int64]bool, len(rows))
	var b strings.Builder
	for start := 0; start < len(rows); start += insertBatch {
		chunk := rows[start:min(start+insertBatch, len(rows))]
		b.Reset()
		b.WriteString(`INSERT INTO dataset_samples (dataset_id, seq, id, source, name, sample_type, state, usage, size,
			sample_time, create_time, update_time, labeler, hard, score, doc) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i, p := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := 0; c < cols; c++ {
				if c > 0 {
					b.WriteByte(',')
				}
				b.WriteString(db.Param(i*cols + c + 1))
			}
			b.WriteByte(')')
			name := p.in.Name
			if name == "" {
				name = SampleName(p.in.Source)
			}
			args = append(args, datasetID, p.seq, p.id, p.in.Source, name, p.in.SampleType, p.state, p.in.Usage, p.in.Size,
				p.in.SampleTime, now, now, p.in.Labeler, p.hard, p.score, p.doc)
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

func deleteLabelRows(ctx context.Context, db *store.DB, tx *sql.Tx, datasetID string, seqs []int64) error {
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		in, args := seqList(db, []any{datasetID}, chunk)
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_sample_labels WHERE dataset_id=`+db.Param(1)+` AND sample_seq IN (`+
			in+`)`, args...); err != nil {
			return fmt.Errorf("clear sample labels: %w", err)
		}
	}
	return nil
}

func insertLabelRows(ctx context.Context, db *store.DB, tx *sql.Tx, datasetID string, rows []pendingRow) error {
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
			fmt.Fprintf(&b, "(%s,%s,%s,%s)", db.Param(i*4+1), db.Param(i*4+2), db.Param(i*4+3), db.Param(i*4+4))
			args = append(args, datasetID, x.label, x.sample, x.n)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("index sample labels: %w", err)
		}
	}
	return nil
}
