package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
)

// repo_labels.go holds the SQL of the dataset_labels table: a dataset's
// labels in creation order, the writes of a changed label set, the label
// index sample writes resolve names with, and the labels' statistics.

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// labelEntries loads a dataset's labels in creation order; offset and
// limit page them (limit < 0: all).
func (rp *repo) labelEntries(ctx context.Context, q querier, datasetID string, offset, limit int) ([]*entry, error) {
	if limit < 0 {
		limit = math.MaxInt32 // PostgreSQL refuses a negative LIMIT
	}
	rows, err := q.QueryContext(ctx, `SELECT seq, name, type, properties, attributes FROM dataset_labels
		WHERE dataset_id=$1 ORDER BY seq LIMIT $2 OFFSET $3`, datasetID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("load labels: %w", err)
	}
	defer rows.Close()
	var out []*entry
	for rows.Next() {
		var e entry
		var typ int
		var props, attrs string
		if err := rows.Scan(&e.seq, &e.l.Name, &typ, &props, &attrs); err != nil {
			return nil, fmt.Errorf("load labels: %w", err)
		}
		e.l.Type = &typ
		e.orig = e.l.Name
		// Most labels have no attributes and many no properties: the
		// empty values are what decoding "{}" and "[]" gives, without the
		// decoder (every dataset detail and sample page loads the labels).
		if props == "{}" {
			e.l.Property = map[string]string{}
		} else if err := json.Unmarshal([]byte(props), &e.l.Property); err != nil {
			return nil, fmt.Errorf("decode label %s: %w", e.l.Name, err)
		}
		if attrs == "[]" {
			e.l.Attributes = []LabelAttribute{}
		} else if err := json.Unmarshal([]byte(attrs), &e.l.Attributes); err != nil {
			return nil, fmt.Errorf("decode label %s: %w", e.l.Name, err)
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}

func encodeLabel(l Label) (props, attrs string, err error) {
	p := l.Property
	if p == nil {
		p = map[string]string{}
	}
	a := l.Attributes
	if a == nil {
		a = []LabelAttribute{}
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return "", "", err
	}
	ab, err := json.Marshal(a)
	if err != nil {
		return "", "", err
	}
	return string(pb), string(ab), nil
}

func (rp *repo) insertLabel(ctx context.Context, tx *sql.Tx, datasetID string, seq int64, l Label) error {
	props, attrs, err := encodeLabel(l)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO dataset_labels (dataset_id, name, type, seq, properties, attributes)
		VALUES ($1, $2, $3, $4, $5, $6)`, datasetID, l.Name, *l.Type, seq, props, attrs)
	if err != nil {
		return fmt.Errorf("store label %s: %w", l.Name, err)
	}
	return nil
}

// saveLabelSet writes the set's changes: removed labels, renamed and changed
// ones (renames go through a name no label can have, so that two labels
// may swap names), new ones; and the dataset's label sequence and data
// update time.
func (rp *repo) saveLabelSet(ctx context.Context, tx *sql.Tx, r *Row, set *labelSet, now int64) error {
	for _, e := range set.removed {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_labels WHERE dataset_id=$1 AND seq=$2`, r.ID, e.seq); err != nil {
			return fmt.Errorf("delete label %s: %w", e.orig, err)
		}
	}
	for _, e := range set.order {
		if e.dirty && e.orig != "" && e.orig != e.l.Name {
			if _, err := tx.ExecContext(ctx, `UPDATE dataset_labels SET name=$3 WHERE dataset_id=$1 AND seq=$2`,
				r.ID, e.seq, fmt.Sprintf("\x01%d", e.seq)); err != nil {
				return fmt.Errorf("rename label %s: %w", e.orig, err)
			}
		}
	}
	for _, e := range set.order {
		if !e.dirty {
			continue
		}
		if e.orig == "" {
			if err := rp.insertLabel(ctx, tx, r.ID, e.seq, e.l); err != nil {
				return err
			}
			continue
		}
		props, attrs, err := encodeLabel(e.l)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dataset_labels SET name=$3, type=$4, properties=$5, attributes=$6
			WHERE dataset_id=$1 AND seq=$2`, r.ID, e.seq, e.l.Name, *e.l.Type, props, attrs); err != nil {
			return fmt.Errorf("update label %s: %w", e.l.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE datasets SET label_seq=$2, data_update_time=$3, update_time=$3,
		labels_rev=labels_rev+1 WHERE id=$1`,
		r.ID, set.nextSeq, now); err != nil {
		return fmt.Errorf("update dataset labels: %w", err)
	}
	return nil
}

func (rp *repo) loadLabelIndex(ctx context.Context, q querier, r *Row) (*labelIndex, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, name, type FROM dataset_labels WHERE dataset_id=$1`, r.ID)
	if err != nil {
		return nil, fmt.Errorf("load labels: %w", err)
	}
	defer rows.Close()
	ix := &labelIndex{datasetType: r.Type, bySeq: map[int64]string{}, byName: map[string]labelRef{}, next: r.LabelSeq}
	for rows.Next() {
		var ref labelRef
		var name string
		if err := rows.Scan(&ref.seq, &name, &ref.typ); err != nil {
			return nil, fmt.Errorf("load labels: %w", err)
		}
		ix.byName[name] = ref
		ix.bySeq[ref.seq] = name
		if ref.seq > ix.next {
			ix.next = ref.seq
		}
	}
	return ix, rows.Err()
}

// setLabelSeq moves the dataset's label sequence to next (labels a sample
// write created) and its label revision.
func (rp *repo) setLabelSeq(ctx context.Context, tx *sql.Tx, datasetID string, next int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE datasets SET label_seq=$2, labels_rev=labels_rev+1 WHERE id=$1`, datasetID, next); err != nil {
		return fmt.Errorf("update label sequence: %w", err)
	}
	return nil
}

// countLabels is how many labels the dataset has.
func (rp *repo) countLabels(ctx context.Context, datasetID string) (int, error) {
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dataset_labels WHERE dataset_id=$1`, datasetID).Scan(&total); err != nil {
		return 0, fmt.Errorf("count labels: %w", err)
	}
	return total, nil
}

// labelStats reads each label with its counters, in creation order.
func (rp *repo) labelStats(ctx context.Context, datasetID string) ([]LabelStats, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT name, type, properties, attributes, annotation_count, sample_count
		FROM dataset_labels WHERE dataset_id=$1 ORDER BY seq`, datasetID)
	if err != nil {
		return nil, fmt.Errorf("label statistics: %w", err)
	}
	defer rows.Close()
	var out []LabelStats
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
		out = append(out, ls)
	}
	return out, rows.Err()
}

// labelCountsInState counts, by label name, the samples in one state that
// carry the label and the label's occurrences on them, through the label
// index.
func (rp *repo) labelCountsInState(ctx context.Context, datasetID string, state int) (map[string][2]int64, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT dl.name, COUNT(*), COALESCE(SUM(l.n), 0)
		FROM dataset_sample_labels l
		JOIN dataset_samples x ON x.dataset_id = l.dataset_id AND x.seq = l.sample_seq
		JOIN dataset_labels dl ON dl.dataset_id = l.dataset_id AND dl.seq = l.label_seq
		WHERE l.dataset_id = $1 AND x.state = $2
		GROUP BY dl.name`, datasetID, state)
	if err != nil {
		return nil, fmt.Errorf("label statistics in state %d: %w", state, err)
	}
	defer rows.Close()
	counts := map[string][2]int64{}
	for rows.Next() {
		var name string
		var samples, annotations int64
		if err := rows.Scan(&name, &samples, &annotations); err != nil {
			return nil, fmt.Errorf("label statistics in state %d: %w", state, err)
		}
		counts[name] = [2]int64{samples, annotations}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("label statistics in state %d: %w", state, err)
	}
	return counts, nil
}

// labelSampleCount is a label's sample counter.
func (rp *repo) labelSampleCount(ctx context.Context, datasetID string, labelSeq int64) (int64, error) {
	var n int64
	err := rp.db.QueryRowContext(ctx, `SELECT sample_count FROM dataset_labels WHERE dataset_id=$1 AND seq=$2`, datasetID, labelSeq).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count samples: %w", err)
	}
	return n, nil
}
