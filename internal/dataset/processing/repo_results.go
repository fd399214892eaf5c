package processing

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/atelier-dev/atelier/internal/store"
)

// The SQL of a version's results.

// resultRow is one input sample's outcome, or one sample the version
// added.
type resultRow struct {
	Seq          int64
	SampleID     string
	Property     int
	Failed       bool
	OriginSource string
	NewSource    string
	Description  [][]string
	// Line is the sample's output manifest line, without its newline;
	// "" when the sample is not in the output.
	Line string
	// Item is the sample's pending work (fingerprint, features,
	// inspection), kept until the version ends.
	Item *item
}

const resultCols = `seq, sample_id, property, failed, origin_source, new_source, description, line, item`

func scanResult(sc store.Scanner) (*resultRow, error) {
	var r resultRow
	var failed int
	var desc, it string
	if err := sc.Scan(&r.Seq, &r.SampleID, &r.Property, &failed, &r.OriginSource, &r.NewSource, &desc, &r.Line, &it); err != nil {
		return nil, err
	}
	r.Failed = failed == 1
	if err := json.Unmarshal([]byte(desc), &r.Description); err != nil {
		return nil, fmt.Errorf("decode the result of sample %s: %w", r.SampleID, err)
	}
	if it != "" {
		r.Item = &item{}
		if err := json.Unmarshal([]byte(it), r.Item); err != nil {
			return nil, fmt.Errorf("decode the work of sample %s: %w", r.SampleID, err)
		}
	}
	return &r, nil
}

func encodeResult(r *resultRow) (desc, it string, err error) {
	d := r.Description
	if d == nil {
		d = [][]string{}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", "", fmt.Errorf("encode the result of sample %s: %w", r.SampleID, err)
	}
	if r.Item != nil {
		ib, err := json.Marshal(r.Item)
		if err != nil {
			return "", "", fmt.Errorf("encode the work of sample %s: %w", r.SampleID, err)
		}
		it = string(ib)
	}
	return string(b), it, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// insertResults stores a batch's rows in tx.
func (rp *repo) insertResults(ctx context.Context, tx *sql.Tx, versionID string, rows []*resultRow) error {
	for _, r := range rows {
		desc, it, err := encodeResult(r)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO processor_results (version_id, `+resultCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
			versionID, r.Seq, r.SampleID, r.Property, b2i(r.Failed), r.OriginSource, r.NewSource, desc, r.Line, it)
		if err != nil {
			return fmt.Errorf("store the result of sample %s: %w", r.SampleID, err)
		}
	}
	return nil
}

// updateResults rewrites rows decided after the scan (their property,
// output and description; their work stays until the version ends).
func (rp *repo) updateResults(ctx context.Context, tx *sql.Tx, versionID string, rows []*resultRow) error {
	for _, r := range rows {
		desc, _, err := encodeResult(r)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE processor_results SET property = $1, failed = $2, new_source = $3, description = $4, line = $5
			WHERE version_id = $6 AND seq = $7`, r.Property, b2i(r.Failed), r.NewSource, desc, r.Line, versionID, r.Seq)
		if err != nil {
			return fmt.Errorf("store the result of sample %s: %w", r.SampleID, err)
		}
	}
	return nil
}

// results pages a version's results in processing order; property < 0
// takes every property.
func (rp *repo) results(ctx context.Context, versionID string, property, offset, limit int) (int, []*resultRow, error) {
	where := `version_id = $1 AND property >= 0`
	args := []any{versionID}
	if property >= 0 {
		where = `version_id = $1 AND property = $2`
		args = append(args, property)
	}
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM processor_results WHERE `+where, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count processing results: %w", err)
	}
	args = append(args, limit, offset)
	out, err := store.QueryAll(ctx, rp.db, scanResult, `SELECT `+resultCols+` FROM processor_results WHERE `+where+
		fmt.Sprintf(` ORDER BY seq LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list processing results: %w", err)
	}
	return total, out, nil
}

// rowsAfter returns up to limit rows after seq, in order; withWork keeps
// only those that have pending work (an item).
func (rp *repo) rowsAfter(ctx context.Context, versionID string, after int64, limit int, withWork bool) ([]*resultRow, error) {
	cond := ""
	if withWork {
		cond = ` AND item <> ''`
	}
	out, err := store.QueryAll(ctx, rp.db, scanResult, `SELECT `+resultCols+` FROM processor_results
		WHERE version_id = $1 AND seq > $2`+cond+` ORDER BY seq LIMIT $3`, versionID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read processing results: %w", err)
	}
	return out, nil
}

// outputLines calls fn with each output manifest line in order.
func (rp *repo) outputLines(ctx context.Context, versionID string, fn func(line string) error) error {
	const page = 2000
	after := int64(-1)
	for {
		rows, err := rp.db.QueryContext(ctx, `SELECT seq, line FROM processor_results WHERE version_id = $1 AND seq > $2 AND line <> ''
			ORDER BY seq LIMIT $3`, versionID, after, page)
		if err != nil {
			return fmt.Errorf("read the output of processing version %s: %w", versionID, err)
		}
		n := 0
		for rows.Next() {
			var line string
			if err := rows.Scan(&after, &line); err != nil {
				rows.Close()
				return fmt.Errorf("read the output of processing version %s: %w", versionID, err)
			}
			n++
			if err := fn(line); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("read the output of processing version %s: %w", versionID, err)
		}
		if n < page {
			return nil
		}
	}
}

// clearWork drops the pending work of every row of a version.
func (rp *repo) clearWork(ctx context.Context, tx *sql.Tx, versionID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE processor_results SET item = '' WHERE version_id = $1 AND item <> ''`, versionID); err != nil {
		return fmt.Errorf("finish processing version %s: %w", versionID, err)
	}
	return nil
}
