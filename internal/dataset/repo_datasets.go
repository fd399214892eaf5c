package dataset

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/atelier-dev/atelier/internal/store"
)

// repo_datasets.go holds the SQL of the datasets table: the dataset rows
// (create, load, list, rename, delete), the versions room's columns on
// them, and the daily metrics snapshots of their counters. The repository's
// other files hold the labels' (repo_labels.go) and the samples' SQL
// (repo_samples.go, repo_query.go).

// repo is the dataset core's repository: the SQL of the datasets,
// dataset_labels, dataset_samples, dataset_sample_labels,
// dataset_sample_props and dataset_metrics tables. The service files hold the rules (validation,
// the label set, the counters' arithmetic, views) and call these methods,
// passing their transaction where a rule and its writes belong together;
// lookups of one dataset or sample return the domain's not-found errors,
// writes that break a unique name return its already-exists errors.
// Nothing here branches on the engine: statements with many arguments take
// every placeholder from db.Param, row locks come from db.ForUpdate.
type repo struct {
	db *store.DB
}

// rowQuerier reads one row through the database or a transaction.
type rowQuerier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

const rowColumns = `id, project_id, workspace_id, name, description, dataset_type, status, create_time, update_time,
	data_update_time, total_sample_count, annotated_sample_count, unconfirmed_sample_count, deleted_sample_count,
	loading_sample_count, total_sub_sample_count, annotated_sub_sample_count, dataset_version_count, label_seq, sample_seq, hard_sample_count, doc,
	next_version_num, current_version_id, current_version_name, labels_rev`

type scanner = store.Scanner

func scanRow(sc scanner) (*Row, error) {
	var r Row
	var data string
	if err := sc.Scan(&r.ID, &r.ProjectID, &r.WorkspaceID, &r.Name, &r.Description, &r.Type, &r.Status, &r.CreateTime,
		&r.UpdateTime, &r.DataUpdateTime, &r.Total, &r.Annotated, &r.Unconfirmed, &r.Deleted, &r.Loading, &r.TotalSub,
		&r.AnnotatedSub, &r.Versions, &r.LabelSeq, &r.SampleSeq, &r.Hard, &data, &r.NextVersion, &r.CurrentVersionID,
		&r.CurrentVersionName, &r.LabelsRev); err != nil {
		return nil, err
	}
	if err := r.decodeDoc(data); err != nil {
		return nil, err
	}
	return &r, nil
}

// rowRecordSQLite is rowColumns as one record (store.RecordSQL), for
// SQLite's loadRow: a dataset's detail reads little else.
var rowRecordSQLite = store.RecordSQL(
	[]string{"dataset_type", "status", "create_time", "update_time", "data_update_time", "total_sample_count",
		"annotated_sample_count", "unconfirmed_sample_count", "deleted_sample_count", "loading_sample_count",
		"total_sub_sample_count", "annotated_sub_sample_count", "dataset_version_count", "label_seq", "sample_seq",
		"hard_sample_count", "next_version_num", "labels_rev"},
	[]string{"id", "project_id", "workspace_id", "name", "description", "current_version_id", "current_version_name", "doc"})

// scanRowRecord reads a row of rowRecordSQLite, as scanRow reads
// rowColumns.
func scanRowRecord(sc scanner) (*Row, error) {
	var rec string
	if err := sc.Scan(&rec); err != nil {
		return nil, err
	}
	var r Row
	var typ, status, versions, next int64
	var data string
	err := store.ParseRecord(rec, []*int64{&typ, &status, &r.CreateTime, &r.UpdateTime, &r.DataUpdateTime, &r.Total,
		&r.Annotated, &r.Unconfirmed, &r.Deleted, &r.Loading, &r.TotalSub, &r.AnnotatedSub, &versions, &r.LabelSeq,
		&r.SampleSeq, &r.Hard, &next, &r.LabelsRev},
		[]*string{&r.ID, &r.ProjectID, &r.WorkspaceID, &r.Name, &r.Description, &r.CurrentVersionID, &r.CurrentVersionName, &data})
	if err != nil {
		return nil, err // loadRow says what was being read
	}
	r.Type, r.Status, r.Versions, r.NextVersion = int(typ), int(status), int(versions), int(next)
	if err := r.decodeDoc(data); err != nil {
		return nil, err
	}
	return &r, nil
}

// decodeDoc sets the row's document and inner work path from the stored
// JSON.
func (r *Row) decodeDoc(data string) error {
	var d storedDoc
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return fmt.Errorf("decode dataset %s: %w", r.ID, err)
	}
	r.Doc, r.InnerWorkPath = d.doc, d.InnerWorkPath
	return nil
}

// filePreview lists the first files of a dataset for the list's
// file_preview: their stored sources (URL holds obs://bucket/key or
// content://…), which the API authorizes and presigns for the caller.
func (rp *repo) filePreview(ctx context.Context, datasetID string) (*[]SamplePreview, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT source, create_time FROM dataset_samples WHERE dataset_id = $1 ORDER BY seq LIMIT $2`,
		datasetID, FilePreviewSize)
	if err != nil {
		return nil, fmt.Errorf("preview the files of dataset %s: %w", datasetID, err)
	}
	defer rows.Close()
	out := []SamplePreview{}
	for rows.Next() {
		var p SamplePreview
		if err := rows.Scan(&p.URL, &p.CreateTime); err != nil {
			return nil, fmt.Errorf("preview the files of dataset %s: %w", datasetID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("preview the files of dataset %s: %w", datasetID, err)
	}
	return &out, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// recordMetrics rewrites today's snapshot of the dataset's counters.
func (rp *repo) recordMetrics(ctx context.Context, tx *sql.Tx, datasetID string, now int64) error {
	const day = 24 * 3600 * 1000
	if _, err := tx.ExecContext(ctx, `INSERT INTO dataset_metrics (dataset_id, day, at, total, annotated, unconfirmed)
		SELECT id, $2, $3, total_sample_count, annotated_sample_count, unconfirmed_sample_count FROM datasets WHERE id=$1
		ON CONFLICT (dataset_id, day) DO UPDATE SET at=excluded.at, total=excluded.total,
		annotated=excluded.annotated, unconfirmed=excluded.unconfirmed`, datasetID, now/day*day, now); err != nil {
		return fmt.Errorf("record dataset metrics: %w", err)
	}
	return nil
}

// versionDeleting is the stored status of a version being deleted
// (versions.VersionDeleting), which the list's version filters skip.
const versionDeleting = 2

// insertDataset stores a new dataset row (its labels follow in the same
// transaction); a name the workspace already has is CodeDatasetExists.
func (rp *repo) insertDataset(ctx context.Context, tx *sql.Tx, r *Row, doc string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO datasets (id, project_id, workspace_id, name, name_lower, dataset_type, status,
		description, create_time, update_time, data_update_time, label_seq, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.ID, r.ProjectID, r.WorkspaceID, r.Name, strings.ToLower(r.Name), r.Type, r.Status, r.Description,
		r.CreateTime, r.UpdateTime, r.DataUpdateTime, r.LabelSeq, doc)
	if store.IsConflict(err) {
		return Invalid(CodeDatasetExists, "Dataset already exists: %s.", r.Name)
	}
	if err != nil {
		return fmt.Errorf("store dataset: %w", err)
	}
	return nil
}

// loadRow loads a dataset of the project through q, locked for update
// when lock is set; another project's dataset is not found.
func (rp *repo) loadRow(ctx context.Context, q rowQuerier, projectID, id string, lock bool) (*Row, error) {
	columns, scan := rowColumns, scanRow
	if rp.db.Engine == store.SQLite {
		columns, scan = rowRecordSQLite, scanRowRecord
	}
	query := `SELECT ` + columns + ` FROM datasets WHERE project_id=$1 AND id=$2`
	if lock {
		query += rp.db.ForUpdate()
	}
	r, err := scan(q.QueryRowContext(ctx, query, projectID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errDatasetNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load dataset: %w", err)
	}
	return r, nil
}

// listRow reads what a sample list uses of a dataset's row (ID, Type,
// LabelSeq, LabelsRev and the sample counters; its other fields are left
// zero) and the sample counter of the label named label (-1 when the
// dataset has none of that name), in one statement and so one snapshot.
// The whole row, its document decoded, and the label's counter read
// apart were a tenth of the CPU of a label page. Two primary-key lookups
// are not worth cancelling: they run without ctx's cancellation (see
// eachSample).
func (rp *repo) listRow(ctx context.Context, projectID, id, label string) (*Row, int64, error) {
	r := Row{ID: id, ProjectID: projectID}
	var labelCount int64
	err := rp.db.QueryRowContext(context.WithoutCancel(ctx), `SELECT dataset_type, label_seq, labels_rev, total_sample_count, annotated_sample_count,
		unconfirmed_sample_count, COALESCE((SELECT sample_count FROM dataset_labels WHERE dataset_id=datasets.id AND name=$3), -1)
		FROM datasets WHERE project_id=$1 AND id=$2`, projectID, id, label).Scan(&r.Type, &r.LabelSeq, &r.LabelsRev,
		&r.Total, &r.Annotated, &r.Unconfirmed, &labelCount)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, errDatasetNotFound(id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load dataset: %w", err)
	}
	return &r, labelCount, nil
}

// workspace is the workspace of a dataset of the project (not found
// otherwise).
func (rp *repo) workspace(ctx context.Context, projectID, id string) (string, error) {
	var ws string
	err := rp.db.QueryRowContext(ctx, `SELECT workspace_id FROM datasets WHERE project_id=$1 AND id=$2`, projectID, id).Scan(&ws)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errDatasetNotFound(id)
	}
	if err != nil {
		return "", fmt.Errorf("load dataset: %w", err)
	}
	return ws, nil
}

// listDatasets returns the page of a workspace's datasets that q selects
// (offset and limit count rows) and how many match in all.
func (rp *repo) listDatasets(ctx context.Context, sc Scope, q Query) (int, []*Row, error) {
	where := `project_id=$1 AND workspace_id=$2`
	args := []any{sc.ProjectID, sc.WorkspaceID}
	if q.Search != "" {
		args = append(args, "%"+escapeLike(strings.ToLower(q.Search))+"%")
		where += fmt.Sprintf(` AND name_lower LIKE $%d ESCAPE '\'`, len(args))
	}
	if q.Type != nil {
		args = append(args, *q.Type)
		where += fmt.Sprintf(` AND dataset_type=$%d`, len(args))
	}
	if q.SupportExport {
		where += fmt.Sprintf(` AND dataset_type IN (%d, %d, %d)`, TypeImageClassification, TypeObjectDetection, TypeCustom)
	}
	if q.ContainVersions {
		where += ` AND dataset_version_count > 0`
	}
	if q.TrainRatio != nil || q.VersionFormat != nil {
		// A dataset matches through one of its versions (any but one being
		// deleted) that has both properties asked for.
		cond := ""
		if q.TrainRatio != nil {
			args = append(args, q.TrainRatio[0], q.TrainRatio[1])
			cond += fmt.Sprintf(` AND v.train_ratio >= $%d AND v.train_ratio <= $%d`, len(args)-1, len(args))
		}
		if q.VersionFormat != nil {
			args = append(args, *q.VersionFormat)
			cond += fmt.Sprintf(` AND v.version_format = $%d`, len(args))
		}
		where += fmt.Sprintf(` AND EXISTS (SELECT 1 FROM dataset_versions v WHERE v.dataset_id = datasets.id AND v.status <> %d%s)`, versionDeleting, cond)
	}
	var total int
	if err := rp.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM datasets WHERE `+where, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count datasets: %w", err)
	}
	col := "create_time"
	if q.SortBy == "dataset_name" {
		col = "name"
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	args = append(args, q.Limit, q.Offset)
	rows, err := rp.db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM datasets WHERE %s ORDER BY %s %s, id %s LIMIT $%d OFFSET $%d`,
		rowColumns, where, col, dir, dir, len(args)-1, len(args)), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("list datasets: %w", err)
	}
	defer rows.Close()
	var out []*Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("list datasets: %w", err)
	}
	return total, out, nil
}

// renameDataset writes a dataset's name and description; a name the
// workspace already has is CodeDatasetExists.
func (rp *repo) renameDataset(ctx context.Context, tx *sql.Tx, projectID, id, name, desc string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE datasets SET name=$3, name_lower=$4, description=$5, update_time=$6 WHERE project_id=$1 AND id=$2`,
		projectID, id, name, strings.ToLower(name), desc, now)
	if store.IsConflict(err) {
		return Invalid(CodeDatasetExists, "Dataset already exists: %s.", name)
	}
	if err != nil {
		return fmt.Errorf("update dataset: %w", err)
	}
	return nil
}

// deleteDataset deletes a dataset of the project; its labels, samples and
// metrics go with it (the schema's cascades).
func (rp *repo) deleteDataset(ctx context.Context, projectID, id string) error {
	res, err := rp.db.ExecContext(ctx, `DELETE FROM datasets WHERE project_id=$1 AND id=$2`, projectID, id)
	if err != nil {
		return fmt.Errorf("delete dataset: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errDatasetNotFound(id)
	}
	return nil
}

// countVersion counts a version added (moving next_version_num past next)
// or removed.
func (rp *repo) countVersion(ctx context.Context, tx *sql.Tx, datasetID string, added bool, next int, now int64) error {
	var err error
	if added {
		_, err = tx.ExecContext(ctx, `UPDATE datasets SET dataset_version_count=dataset_version_count+1,
			next_version_num=CASE WHEN next_version_num+1 > $2 THEN next_version_num+1 ELSE $2 END, update_time=$3 WHERE id=$1`,
			datasetID, next, now)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE datasets SET dataset_version_count=dataset_version_count-1, update_time=$2 WHERE id=$1`,
			datasetID, now)
	}
	if err != nil {
		return fmt.Errorf("count versions: %w", err)
	}
	return nil
}

// setCurrentVersion writes the current version's columns; now > 0 also
// marks the dataset updated.
func (rp *repo) setCurrentVersion(ctx context.Context, tx *sql.Tx, datasetID, versionID, versionName string, now int64) error {
	query := `UPDATE datasets SET current_version_id=$2, current_version_name=$3 WHERE id=$1`
	args := []any{datasetID, versionID, versionName}
	if now > 0 {
		query = `UPDATE datasets SET current_version_id=$2, current_version_name=$3, update_time=$4 WHERE id=$1`
		args = append(args, now)
	}
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("set current version: %w", err)
	}
	return nil
}

// currentVersion reads the current version's ID through q.
func (rp *repo) currentVersion(ctx context.Context, q rowQuerier, datasetID string) (string, error) {
	var id string
	if err := q.QueryRowContext(ctx, `SELECT current_version_id FROM datasets WHERE id=$1`, datasetID).Scan(&id); err != nil {
		return "", fmt.Errorf("read current version: %w", err)
	}
	return id, nil
}

// metricRow is one daily snapshot of a dataset's counters.
type metricRow struct {
	at, total, annotated, unconfirmed int64
}

// metrics reads the daily snapshots taken within [start, end], by day.
func (rp *repo) metrics(ctx context.Context, datasetID string, start, end int64) ([]metricRow, error) {
	rows, err := rp.db.QueryContext(ctx, `SELECT at, total, annotated, unconfirmed FROM dataset_metrics
		WHERE dataset_id=$1 AND at>=$2 AND at<=$3 ORDER BY day`, datasetID, start, end)
	if err != nil {
		return nil, fmt.Errorf("dataset metrics: %w", err)
	}
	defer rows.Close()
	var out []metricRow
	for rows.Next() {
		var m metricRow
		if err := rows.Scan(&m.at, &m.total, &m.annotated, &m.unconfirmed); err != nil {
			return nil, fmt.Errorf("dataset metrics: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// applyCounters writes a counter delta: the dataset's counters, each
// touched label's counters (in seq order, skipping those left unchanged)
// and today's metrics row, in the caller's transaction.
func (rp *repo) applyCounters(ctx context.Context, tx *sql.Tx, datasetID string, d *counterDelta, sampleSeq, now int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE datasets SET total_sample_count=total_sample_count+$2,
		annotated_sample_count=annotated_sample_count+$3, unconfirmed_sample_count=unconfirmed_sample_count+$4,
		hard_sample_count=hard_sample_count+$5, sample_seq=$6, data_update_time=$7, update_time=$7 WHERE id=$1`,
		datasetID, d.total, d.annotated, d.unconfirmed, d.hard, sampleSeq, now); err != nil {
		return fmt.Errorf("update dataset counters: %w", err)
	}
	seqs := make([]int64, 0, len(d.labelAnn))
	for l := range d.labelAnn {
		seqs = append(seqs, l)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, l := range seqs {
		if d.labelAnn[l] == 0 && d.labelSamples[l] == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dataset_labels SET annotation_count=annotation_count+$3,
			sample_count=sample_count+$4 WHERE dataset_id=$1 AND seq=$2`, datasetID, l, d.labelAnn[l], d.labelSamples[l]); err != nil {
			return fmt.Errorf("update label counters: %w", err)
		}
	}
	return rp.recordMetrics(ctx, tx, datasetID, now)
}
