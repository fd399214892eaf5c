package versions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/store"
)

// repo holds the SQL of the dataset_versions table: a version's row (its
// status, counters and document), the lookups publishing and deleting
// decide on (the version being published, the newest normal one), the
// version list, and a published version's labels and manifest line index.
// The service files hold the rules (what may be published, deleted or
// made current) and call these methods, passing their transaction where a
// decision and its writes belong together; the dataset row's version
// columns are the core's, written through its seams (CountVersionTx,
// SetCurrentVersionTx). A version not found is CodeVersionNotFound, a name
// the dataset already has CodeVersionExists.
type repo struct {
	db *store.DB
}

// scanner is a row or rows being read; querier reads in or out of a
// transaction.
type (
	scanner interface{ Scan(...any) error }
	querier interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
)

const versionColumns = `id, dataset_id, name, task_id, status, create_time, update_time, total_sample_count, annotated_sample_count, doc`

func scanVersion(sc scanner) (*versionRow, error) {
	var v versionRow
	var doc string
	if err := sc.Scan(&v.ID, &v.DatasetID, &v.Name, &v.TaskID, &v.Status, &v.CreateTime, &v.UpdateTime, &v.Total, &v.Annotated, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &v.Doc); err != nil {
		return nil, fmt.Errorf("decode version %s: %w", v.ID, err)
	}
	return &v, nil
}

// loadVersion loads a version of the dataset through q.
func (rp *repo) loadVersion(ctx context.Context, q querier, datasetID, versionID string) (*versionRow, error) {
	v, err := scanVersion(q.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM dataset_versions WHERE dataset_id=$1 AND id=$2`,
		datasetID, versionID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errVersionNotFound(versionID)
	}
	if err != nil {
		return nil, fmt.Errorf("load version %s: %w", versionID, err)
	}
	return v, nil
}

// versionInStatus is the name of a version of the dataset in the status
// ("" for none).
func (rp *repo) versionInStatus(ctx context.Context, tx *sql.Tx, datasetID string, status int) (string, error) {
	var name string
	err := tx.QueryRowContext(ctx, `SELECT name FROM dataset_versions WHERE dataset_id=$1 AND status=$2 LIMIT 1`,
		datasetID, status).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find versions being published: %w", err)
	}
	return name, nil
}

// newestVersion is the dataset's newest normal version (nil for none).
func (rp *repo) newestVersion(ctx context.Context, tx *sql.Tx, datasetID string) (*versionRow, error) {
	v, err := scanVersion(tx.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM dataset_versions
		WHERE dataset_id=$1 AND status=$2 ORDER BY create_time DESC, id DESC LIMIT 1`, datasetID, VersionNormal))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find previous version: %w", err)
	}
	return v, nil
}

// newestNormal is the ID and name of the dataset's newest normal version
// ("" for none): newestVersion's choice, without reading the row.
func (rp *repo) newestNormal(ctx context.Context, tx *sql.Tx, datasetID string) (id, name string, err error) {
	err = tx.QueryRowContext(ctx, `SELECT id, name FROM dataset_versions WHERE dataset_id=$1 AND status=$2
		ORDER BY create_time DESC, id DESC LIMIT 1`, datasetID, VersionNormal).Scan(&id, &name)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("find newest version: %w", err)
	}
	return id, name, nil
}

// nameTaken reports whether the dataset has a version of that name.
func (rp *repo) nameTaken(ctx context.Context, datasetID, name string) (bool, error) {
	var n int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dataset_versions WHERE dataset_id=$1 AND name=$2`, datasetID, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look up version %s: %w", name, err)
	}
	return n > 0, nil
}

// insertVersion stores a version being published; a name the dataset
// already has is CodeVersionExists.
func (rp *repo) insertVersion(ctx context.Context, tx *sql.Tx, id, datasetID, name, taskID string, ratio float64, doc string, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO dataset_versions (id, dataset_id, name, status, create_time, update_time, task_id,
		train_ratio, version_format, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		id, datasetID, name, VersionCreating, now, now, taskID, ratio, 0, doc)
	if store.IsConflict(err) {
		return dataset.Invalid(CodeVersionExists, "Dataset version already exists: %s.", name)
	}
	if err != nil {
		return fmt.Errorf("store version: %w", err)
	}
	return nil
}

// listVersions returns the page of the dataset's versions q selects,
// newest first (offset and limit count rows), and how many match in all.
func (rp *repo) listVersions(ctx context.Context, datasetID string, q VersionQuery) (int, []*versionRow, error) {
	where := `dataset_id=$1`
	args := []any{datasetID}
	if q.Status != nil {
		args = append(args, *q.Status)
		where += fmt.Sprintf(` AND status=$%d`, len(args))
	}
	if q.RatioSet {
		args = append(args, q.RatioMin, q.RatioMax)
		where += fmt.Sprintf(` AND train_ratio>=$%d AND train_ratio<=$%d`, len(args)-1, len(args))
	}
	if q.Format != nil {
		args = append(args, *q.Format)
		where += fmt.Sprintf(` AND version_format=$%d`, len(args))
	}
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dataset_versions WHERE `+where, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count versions: %w", err)
	}
	args = append(args, q.Limit, q.Offset)
	rows, err := rp.db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM dataset_versions WHERE %s
		ORDER BY create_time DESC, id DESC LIMIT $%d OFFSET $%d`, versionColumns, where, len(args)-1, len(args)), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list versions: %w", err)
	}
	defer rows.Close()
	var vs []*versionRow
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return 0, nil, fmt.Errorf("list versions: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("list versions: %w", err)
	}
	return total, vs, nil
}

// failVersion records a version's failure (its document with the
// message) unless it is no longer being published.
func (rp *repo) failVersion(ctx context.Context, datasetID, versionID, doc string, now int64) error {
	if _, err := rp.db.ExecContext(ctx, `UPDATE dataset_versions SET status=$3, doc=$4, update_time=$5
		WHERE dataset_id=$1 AND id=$2 AND status=$6`, datasetID, versionID, VersionError, doc, now, VersionCreating); err != nil {
		return fmt.Errorf("record failed version %s: %w", versionID, err)
	}
	return nil
}

// recordPublished records a published version (normal, with its counters,
// labels and line index) if it is still being published; recorded is
// false when it is not (deleted or failed meanwhile).
func (rp *repo) recordPublished(ctx context.Context, tx *sql.Tx, datasetID, versionID string, total, annotated int64, doc, labels, index string, now int64) (recorded bool, err error) {
	res, err := tx.ExecContext(ctx, `UPDATE dataset_versions SET status=$3, update_time=$4, total_sample_count=$5,
		annotated_sample_count=$6, doc=$7, labels=$8, line_index=$9 WHERE dataset_id=$1 AND id=$2 AND status=$10`,
		datasetID, versionID, VersionNormal, now, total, annotated, doc, labels, index, VersionCreating)
	if err != nil {
		return false, fmt.Errorf("record version %s: %w", versionID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// markDeleting marks a version deleting unless it is being published;
// marked is false when it is, or is gone.
func (rp *repo) markDeleting(ctx context.Context, datasetID, versionID string, now int64) (marked bool, err error) {
	res, err := rp.db.ExecContext(ctx, `UPDATE dataset_versions SET status=$3, update_time=$4 WHERE dataset_id=$1 AND id=$2 AND status<>$5`,
		datasetID, versionID, VersionDeleting, now, VersionCreating)
	if err != nil {
		return false, fmt.Errorf("mark version deleting: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// deleteVersion deletes a version's row; deleted is false when it was
// already gone.
func (rp *repo) deleteVersion(ctx context.Context, tx *sql.Tx, datasetID, versionID string) (deleted bool, err error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM dataset_versions WHERE dataset_id=$1 AND id=$2`, datasetID, versionID)
	if err != nil {
		return false, fmt.Errorf("delete version: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// versionLabels reads a published version's label set.
func (rp *repo) versionLabels(ctx context.Context, versionID string) ([]dataset.Label, error) {
	var data string
	if err := rp.db.QueryRowContext(ctx, `SELECT labels FROM dataset_versions WHERE id=$1`, versionID).Scan(&data); err != nil {
		return nil, fmt.Errorf("load version labels: %w", err)
	}
	var labels []dataset.Label
	if err := json.Unmarshal([]byte(data), &labels); err != nil {
		return nil, fmt.Errorf("decode version labels: %w", err)
	}
	return labels, nil
}

// lineIndex reads a published version's manifest line index.
func (rp *repo) lineIndex(ctx context.Context, versionID string) ([]int64, error) {
	var index []int64
	var data string
	if err := rp.db.QueryRowContext(ctx, `SELECT line_index FROM dataset_versions WHERE id=$1`, versionID).Scan(&data); err != nil {
		return nil, fmt.Errorf("load version index: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &index); err != nil {
		return nil, fmt.Errorf("decode version index: %w", err)
	}
	return index, nil
}
